//! Dedup scopes: which callers share deduplication.
//!
//! Dedup and lookup answer "is this card already tokenized?". Across callers
//! that is an oracle: a caller holding someone else's token and its BIN and
//! last 4 could try the ~10^5 candidate PANs and learn which one is indexed.
//! So the fingerprint is keyed by scope as well as by format and PAN: a caller
//! can only ever find tokens issued in its own scope.

use std::fmt;

/// Longest scope name (an IAM role ARN fits).
pub const MAX_SCOPE_CHARS: usize = 256;

/// A validated dedup scope name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupScope(String);

/// Why a scope name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a dedup scope name is 1 to {MAX_SCOPE_CHARS} characters of A-Z a-z 0-9 and : / . _ + = , @ -"
)]
pub struct ScopeError;

impl DedupScope {
    /// Parses a scope name: a role ARN or a short label.
    pub fn new(name: &str) -> Result<DedupScope, ScopeError> {
        let valid = !name.is_empty()
            && name.len() <= MAX_SCOPE_CHARS
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":/._+=,@-".contains(&b));
        valid.then(|| DedupScope(name.to_owned())).ok_or(ScopeError)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for DedupScope {
    /// The scope named `default`, for callers that configure none.
    fn default() -> DedupScope {
        DedupScope("default".to_owned())
    }
}

impl fmt::Debug for DedupScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DedupScope({})", self.0)
    }
}

impl fmt::Display for DedupScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(DedupScope::new("payments").is_ok());
        assert!(DedupScope::new("arn:aws:iam::111122223333:role/payments").is_ok());
        assert!(DedupScope::new("").is_err());
        assert!(DedupScope::new("a b").is_err());
        assert!(DedupScope::new(&"a".repeat(257)).is_err());
    }

    #[test]
    fn prints_its_name() {
        let scope = DedupScope::new("payments").expect("scope");
        assert_eq!(scope.to_string(), "payments");
        assert_eq!(format!("{scope:?}"), "DedupScope(payments)");
    }
}
