//! IAM principals in canonical form, and the allow-lists that name them.

/// An IAM identity in canonical form: a role (by account and name; role paths
/// are not part of an assumed-role ARN, so they are not compared) or a user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    partition: String,
    account: String,
    kind: PrincipalKind,
    name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum PrincipalKind {
    Role,
    User,
}

impl Principal {
    /// Parses an IAM role or user ARN, or an STS assumed-role session ARN
    /// (which maps to its role).
    ///
    /// ```
    /// use tessera_lambda::auth::Principal;
    /// let session = Principal::parse("arn:aws:sts::111122223333:assumed-role/payments/i-0abc").unwrap();
    /// let role = Principal::parse("arn:aws:iam::111122223333:role/service/payments").unwrap();
    /// assert_eq!(session, role);
    /// assert_eq!(role.to_string(), "arn:aws:iam::111122223333:role/payments");
    /// ```
    pub fn parse(arn: &str) -> Option<Principal> {
        let mut parts = arn.splitn(6, ':');
        let (prefix, partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let valid_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        if prefix != "arn" || !partition.starts_with("aws") || !region.is_empty() || !valid_account
        {
            return None;
        }
        let (kind, name) = match service {
            "iam" => {
                let (kind, path_and_name) = if let Some(rest) = resource.strip_prefix("role/") {
                    (PrincipalKind::Role, rest)
                } else if let Some(rest) = resource.strip_prefix("user/") {
                    (PrincipalKind::User, rest)
                } else {
                    return None;
                };
                (kind, path_and_name.rsplit('/').next()?)
            }
            "sts" => {
                let rest = resource.strip_prefix("assumed-role/")?;
                let (role, session) = rest.split_once('/')?;
                if session.is_empty() {
                    return None;
                }
                (PrincipalKind::Role, role)
            }
            _ => return None,
        };
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        valid_name.then(|| Principal {
            partition: partition.to_owned(),
            account: account.to_owned(),
            kind,
            name: name.to_owned(),
        })
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            PrincipalKind::Role => "role",
            PrincipalKind::User => "user",
        };
        write!(
            f,
            "arn:{}:iam::{}:{kind}/{}",
            self.partition, self.account, self.name
        )
    }
}

/// The principals allowed on a route, with a digest for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    principals: Vec<Principal>,
}

impl AllowList {
    /// Parses a comma-separated list of role or user ARNs; names the first
    /// bad entry (by position only if it holds a card number: the error is
    /// logged at cold start).
    pub fn parse(text: &str) -> Result<AllowList, String> {
        let mut principals = Vec::new();
        let entries = text.split(',').map(str::trim).filter(|e| !e.is_empty());
        for (i, entry) in entries.enumerate() {
            let p = Principal::parse(entry).ok_or_else(|| {
                if tessera_core::contains_card_number(entry) {
                    format!("entry {} is not an IAM role or user ARN", i + 1)
                } else {
                    format!("`{entry}` is not an IAM role or user ARN")
                }
            })?;
            principals.push(p);
        }
        principals.sort();
        principals.dedup();
        Ok(AllowList { principals })
    }

    /// Whether `principal` is listed.
    pub fn allows(&self, principal: &Principal) -> bool {
        self.principals.contains(principal)
    }

    /// The canonical entries, one per line, sorted: what the config digest covers.
    pub fn canonical(&self) -> String {
        self.principals.iter().map(|p| format!("{p}\n")).collect()
    }
}

/// How a refused caller is written to the audit trail. Its session name (and,
/// for a caller that is not on any list, its role name) is chosen by whoever
/// assumed the role, so it can hold anything: the canonical role or user ARN
/// is kept (the session dropped) unless it holds a card number, and an ARN
/// that does not parse is not copied at all.
pub fn audit_caller(presented: &str) -> String {
    match Principal::parse(presented) {
        // The account is 12 digits by design; only the name is caller text.
        Some(p) if !tessera_core::contains_card_number(&p.name) => p.to_string(),
        Some(_) => "[caller ARN withheld: its name holds a card number]".to_owned(),
        None => "[caller is not an IAM role or user ARN]".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            (
                "arn:aws:sts::111122223333:assumed-role/tok/sess",
                Some("arn:aws:iam::111122223333:role/tok"),
            ),
            (
                "arn:aws:iam::111122223333:role/a/b/tok",
                Some("arn:aws:iam::111122223333:role/tok"),
            ),
            (
                "arn:aws:iam::111122223333:user/alice",
                Some("arn:aws:iam::111122223333:user/alice"),
            ),
            (
                "arn:aws-us-gov:iam::111122223333:role/tok",
                Some("arn:aws-us-gov:iam::111122223333:role/tok"),
            ),
            ("arn:aws:sts::111122223333:assumed-role/tok/", None),
            ("arn:aws:sts::111122223333:federated-user/bob", None),
            ("arn:aws:iam::1111:role/tok", None),
            ("arn:aws:iam:us-east-1:111122223333:role/tok", None),
            ("arn:aws:s3:::bucket", None),
            ("role/tok", None),
            ("", None),
        ];
        for (arn, want) in cases {
            assert_eq!(
                Principal::parse(arn).map(|p| p.to_string()).as_deref(),
                want,
                "{arn}"
            );
        }
    }

    #[test]
    fn allow_list_parsing() {
        let list = AllowList::parse(
            " arn:aws:iam::111122223333:role/a ,arn:aws:iam::111122223333:role/b,",
        )
        .expect("ok");
        assert!(
            list.allows(
                &Principal::parse("arn:aws:sts::111122223333:assumed-role/b/x").expect("p")
            )
        );
        assert!(
            !list.allows(
                &Principal::parse("arn:aws:sts::999922223333:assumed-role/b/x").expect("p")
            )
        );
        assert!(AllowList::parse("arn:aws:iam::111122223333:role/a,*").is_err());
        assert_eq!(AllowList::parse("").expect("empty").canonical(), "");
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/tok";

    #[test]
    fn every_part_of_an_arn_is_checked() {
        let refused = [
            "arm:aws:iam::111122223333:role/tok",
            "arn:azure:iam::111122223333:role/tok",
            "arn:aws:iam::11112222333x:role/tok",
            "arn:aws:iam::1111222233334:role/tok",
            "arn:aws:iam::111122223333:group/tok",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/a*b",
            "arn:aws:sts::111122223333:assumed-role/tok",
            "arn:aws:sts::111122223333:role/tok/sess",
        ];
        for arn in refused {
            assert_eq!(Principal::parse(arn), None, "{arn}");
        }
        let longest = "n".repeat(64);
        let role = |name: &str| format!("arn:aws:iam::111122223333:role/{name}");
        assert!(Principal::parse(&role(&longest)).is_some());
        assert!(Principal::parse(&role(&format!("{longest}n"))).is_none());
        assert!(Principal::parse(&role("a+=,.@_-9")).is_some());
        // A user and a role of the same name are different principals.
        assert_ne!(
            Principal::parse("arn:aws:iam::111122223333:user/tok"),
            Principal::parse(ROLE)
        );
    }

    #[test]
    fn a_bad_allow_list_entry_is_named_unless_it_holds_a_card_number() {
        let named = AllowList::parse(&format!("{ROLE},role/x")).expect_err("bad");
        assert!(named.contains("`role/x`"), "{named}");
        let hidden = AllowList::parse(&format!("{ROLE}, 4111 1111 1111 1111")).expect_err("bad");
        assert_eq!(hidden, "entry 2 is not an IAM role or user ARN");
        let list = AllowList::parse(&format!(
            "arn:aws:iam::111122223333:role/b,{ROLE},arn:aws:sts::111122223333:assumed-role/b/s"
        ))
        .expect("ok");
        assert_eq!(
            list.canonical(),
            format!("arn:aws:iam::111122223333:role/b\n{ROLE}\n")
        );
    }

    #[test]
    fn a_refused_callers_name_is_kept_only_when_it_is_safe() {
        assert_eq!(
            audit_caller("arn:aws:sts::111122223333:assumed-role/tok/4111111111111111"),
            ROLE
        );
        assert_eq!(
            audit_caller("arn:aws:sts::111122223333:assumed-role/r4111111111111111/s"),
            "[caller ARN withheld: its name holds a card number]"
        );
        assert_eq!(
            audit_caller("4111111111111111"),
            "[caller is not an IAM role or user ARN]"
        );
    }
}
