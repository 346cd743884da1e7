//! Caller metadata stored beside a token: small, and never a hiding place for a PAN.

use std::collections::BTreeMap;

use crate::cardtext::contains_card_number;
use crate::securitycode::names_a_security_code;

/// Most keys a token's metadata may hold.
pub const MAX_METADATA_KEYS: usize = 10;
/// Most bytes in one metadata key or value; keeps a vault item under 1 KiB.
pub const MAX_METADATA_BYTES: usize = 256;

/// Why metadata was refused. Never carries the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// More than ten keys.
    #[error("metadata may hold at most {MAX_METADATA_KEYS} keys")]
    TooManyKeys,
    /// An empty key.
    #[error("metadata keys must not be empty")]
    EmptyKey,
    /// A key or value over 256 bytes.
    #[error("metadata keys and values may be at most {MAX_METADATA_BYTES} bytes")]
    TooLong,
    /// A key or value holding a card number, however written, or a run of
    /// 12 or more digits (see [`crate::contains_card_number`]).
    #[error(
        "metadata must not contain a card number, in any writing, or a run of 12 or more digits"
    )]
    LooksLikePan,
    /// A value that names a card security code and gives one (`CVV2: 123`).
    #[error("metadata must not hold a card security code (PCI DSS 3.3.1)")]
    SecurityCode,
}

/// Validated caller metadata: at most 10 short string pairs, no card numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Validates a map of caller strings.
    pub fn new(map: BTreeMap<String, String>) -> Result<Metadata, MetadataError> {
        if map.len() > MAX_METADATA_KEYS {
            return Err(MetadataError::TooManyKeys);
        }
        for (key, value) in &map {
            if key.is_empty() {
                return Err(MetadataError::EmptyKey);
            }
            if key.len() > MAX_METADATA_BYTES || value.len() > MAX_METADATA_BYTES {
                return Err(MetadataError::TooLong);
            }
            if contains_card_number(key) || contains_card_number(value) {
                return Err(MetadataError::LooksLikePan);
            }
            if names_a_security_code(value) {
                return Err(MetadataError::SecurityCode);
            }
        }
        Ok(Metadata(map))
    }

    /// The pairs, in key order.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: &str, value: &str) -> Result<Metadata, MetadataError> {
        Metadata::new(BTreeMap::from([(key.to_owned(), value.to_owned())]))
    }

    #[test]
    fn limits() {
        assert!(one("order", "A-123").is_ok());
        assert!(one("order", "12345678901").is_ok());
        assert_eq!(
            one("order", "x123456789012"),
            Err(MetadataError::LooksLikePan)
        );
        assert_eq!(one("411111111111", "x"), Err(MetadataError::LooksLikePan));
        for written in [
            "4111 1111 1111 1111",
            "card:4111-1111-1111-1111!",
            "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
            "４１１１ １１１１ １１１１ １１１１",
            "٤١١١-١١١١-١١١١-١١١١",
            "4111\u{200B}1111\u{200B}1111\u{200B}1111",
        ] {
            assert_eq!(one("note", written), Err(MetadataError::LooksLikePan));
            assert_eq!(one(written, "x"), Err(MetadataError::LooksLikePan));
        }
        for ordinary in [
            "2026-11-26T10:15:30Z",
            "+44 20 7946 0958",
            "ORD-2024-000123",
        ] {
            assert!(one("note", ordinary).is_ok(), "{ordinary}");
        }
        assert_eq!(one("", "x"), Err(MetadataError::EmptyKey));
        assert_eq!(one("k", &"x".repeat(257)), Err(MetadataError::TooLong));
        assert!(one("k", &"x".repeat(256)).is_ok());
        let many = (0..11).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert_eq!(Metadata::new(many), Err(MetadataError::TooManyKeys));
    }

    #[test]
    fn the_pairs_read_back_as_given() {
        let pairs = BTreeMap::from([
            ("order".to_owned(), "A-123".to_owned()),
            ("region".to_owned(), "eu".to_owned()),
        ]);
        let metadata = Metadata::new(pairs.clone()).expect("ok");
        assert_eq!(metadata.as_map(), &pairs);
        assert!(!metadata.is_empty());
    }
}
