//! Dedup scopes by caller: which roles share deduplication.
//!
//! `TESSERA_DEDUP_SCOPES` names shared scopes: `name=arn,arn;name2=arn`. A
//! role not named there is a scope of its own (its canonical role ARN), so by
//! default no two roles can learn anything about each other's tokens through
//! tokenize or lookup. `TESSERA_LEGACY_SCOPE` names the scope whose
//! fingerprints keep the pre-scope derivation, for index items written
//! before scopes existed (see `tessera_core::Fingerprinter`).

use std::collections::BTreeMap;

use tessera_core::DedupScope;

use crate::auth::Principal;

/// Shared dedup scopes, by member principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    members: BTreeMap<Principal, DedupScope>,
}

impl Scopes {
    /// Parses `name=arn,arn;name2=arn`; names the first bad entry.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        let mut members = BTreeMap::new();
        for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, arns) = entry
                .split_once('=')
                .ok_or_else(|| format!("`{entry}` is not `name=arn,arn`"))?;
            let scope = DedupScope::new(name.trim()).map_err(|e| format!("`{name}`: {e}"))?;
            for arn in arns.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                let principal = Principal::parse(arn)
                    .ok_or_else(|| format!("`{arn}` is not an IAM role or user ARN"))?;
                if let Some(other) = members.insert(principal, scope.clone())
                    && other != scope
                {
                    return Err(format!("`{arn}` is in two scopes"));
                }
            }
        }
        Ok(Scopes { members })
    }

    /// The scope `caller` tokenizes and looks up in.
    pub fn scope_of(&self, caller: &Principal) -> DedupScope {
        self.members.get(caller).cloned().unwrap_or_else(|| {
            // A canonical ARN always makes a valid scope name; the fallback
            // only keeps this total.
            DedupScope::new(&caller.to_string()).unwrap_or_default()
        })
    }

    /// The canonical settings, for the config digest.
    pub fn canonical(&self) -> String {
        self.members
            .iter()
            .map(|(p, s)| format!("{p}={s}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(arn: &str) -> Principal {
        Principal::parse(arn).expect("principal")
    }

    #[test]
    fn each_role_is_its_own_scope_unless_shared() {
        let scopes = Scopes::parse(
            "payments=arn:aws:iam::111122223333:role/a, arn:aws:iam::111122223333:role/b",
        )
        .expect("scopes");
        let a = scopes.scope_of(&p("arn:aws:sts::111122223333:assumed-role/a/s"));
        let b = scopes.scope_of(&p("arn:aws:iam::111122223333:role/b"));
        let c = scopes.scope_of(&p("arn:aws:iam::111122223333:role/c"));
        assert_eq!(a.as_str(), "payments");
        assert_eq!(a, b);
        assert_eq!(c.as_str(), "arn:aws:iam::111122223333:role/c");
        let d = Scopes::default().scope_of(&p("arn:aws:iam::111122223333:role/a"));
        assert_ne!(a, d);
    }

    #[test]
    fn bad_settings_are_named() {
        assert!(Scopes::parse("payments").is_err());
        assert!(Scopes::parse("pay ments=arn:aws:iam::111122223333:role/a").is_err());
        assert!(Scopes::parse("p=role/a").is_err());
        assert!(
            Scopes::parse("p=arn:aws:iam::111122223333:role/a;q=arn:aws:iam::111122223333:role/a")
                .is_err()
        );
        assert_eq!(Scopes::parse("").expect("empty"), Scopes::default());
    }
}
