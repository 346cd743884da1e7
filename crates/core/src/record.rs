//! What the vault stores: records, dedup index items and the facts a caller may see.

use std::fmt;

use crate::brand::Brand;
use crate::metadata::Metadata;
use crate::random::Random;
use crate::scope::DedupScope;
use crate::secret::WrappedKey;
use crate::token::{Token, TokenFormat};

/// The record layout version written now, bound into the AAD of every
/// ciphertext. Version 2 also binds expiry and facts; version 1 records
/// (vault id, token and version only) still open.
pub const RECORD_VERSION: u32 = 2;

/// The non-sensitive facts of a token: safe to return to any tokenize caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    /// The token's format.
    pub format: TokenFormat,
    /// First six digits of the PAN.
    pub bin: String,
    /// Last four digits of the PAN.
    pub last4: String,
    /// The card brand.
    pub brand: Brand,
    /// Number of digits in the PAN.
    pub pan_length: u8,
    /// When the token was issued, Unix seconds.
    pub created_at: i64,
    /// When the token stops detokenizing, Unix seconds.
    pub expires_at: Option<i64>,
}

/// What `describe` returns: the facts and the caller's metadata, never the PAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDescription {
    /// The non-sensitive facts.
    pub facts: TokenFacts,
    /// Caller metadata.
    pub metadata: Metadata,
}

impl TokenFacts {
    /// Whether the token has expired at `now` (Unix seconds).
    pub fn is_expired(&self, now: i64) -> bool {
        is_expired(self.expires_at, now)
    }
}

pub(crate) fn is_expired(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_some_and(|exp| exp <= now)
}

/// A PAN fingerprint: HMAC-SHA256 under the fingerprint key. Never leaves the vault.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Wraps a computed MAC.
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Fingerprint {
        Fingerprint(bytes)
    }

    /// Lower-case hex, as stored in the vault.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the stored hex form.
    pub fn from_hex(text: &str) -> Option<Fingerprint> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Fingerprint(bytes))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprint([REDACTED])")
    }
}

/// A random value a record and its dedup index item share (`ln`): a dedup
/// hit checks that the record is the one its index item was written for by
/// comparing links, so records never carry their fingerprint. Every role that
/// writes records (tokenize, capture, import) holds the fingerprint key and
/// can read any attribute of a record it may write, through a condition
/// expression or `ReturnValuesOnConditionCheckFailure`; a stored fingerprint
/// with BIN and last 4 would reverse the card offline. A link says nothing of
/// the card.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link([u8; 16]);

impl Link {
    /// A fresh link.
    pub fn random(rng: &dyn Random) -> Link {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes);
        Link(bytes)
    }

    /// Lower-case hex, as stored in the vault.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the stored hex form.
    pub fn from_hex(text: &str) -> Option<Link> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Link(bytes))
    }
}

/// The key of a dedup index item: `f#<format>#<fingerprint>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexKey {
    /// Tokens are deduplicated per format.
    pub format: TokenFormat,
    /// The PAN's fingerprint.
    pub fingerprint: Fingerprint,
}

impl IndexKey {
    /// The partition key value of the index item.
    pub fn storage_key(&self) -> String {
        format!("f#{}#{}", self.format.as_str(), self.fingerprint.to_hex())
    }

    /// Parses a partition key written by [`IndexKey::storage_key`].
    pub fn from_storage_key(pk: &str) -> Option<IndexKey> {
        let (format, fp) = pk.strip_prefix("f#")?.split_once('#')?;
        Some(IndexKey {
            format: TokenFormat::from_name(format)?,
            fingerprint: Fingerprint::from_hex(fp)?,
        })
    }
}

/// A dedup index item: which token a fingerprint maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Where the item lives.
    pub key: IndexKey,
    /// The token issued for that PAN and format.
    pub token: Token,
    /// The fingerprint key version that computed the fingerprint.
    pub key_version: String,
    /// When the token was issued, Unix seconds.
    pub created_at: i64,
    /// When the token expires, Unix seconds.
    pub expires_at: Option<i64>,
    /// The dedup scope the fingerprint was computed in (`sc`); `None` on
    /// items written before scopes were stored.
    pub scope: Option<DedupScope>,
    /// The link its record carries (`ln`); `None` on items written before
    /// links, which no record confirms (the next tokenize replaces them).
    pub link: Option<Link>,
}

/// A vault record: the token, its encrypted PAN and its facts.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultRecord {
    /// The token (partition key `t#<token>`).
    pub token: Token,
    /// Record layout version (`kv`), bound into the AAD.
    pub version: u32,
    /// Nonce, ciphertext and tag of the PAN (`ct`).
    pub ciphertext: Vec<u8>,
    /// The wrapped data key that encrypted `ciphertext` (`dk`).
    pub wrapped_key: WrappedKey,
    /// The non-sensitive facts.
    pub facts: TokenFacts,
    /// Caller metadata.
    pub metadata: Metadata,
    /// The link its dedup index item carries (`ln`); `None` on records
    /// without dedup. Never the fingerprint (see [`Link`]).
    pub link: Option<Link>,
    /// The dedup scope of its index item (`sc`), so a re-indexer can compute
    /// the fingerprint again under a new key. `None` on records without dedup
    /// and on records written before scopes were stored (see the re-indexer).
    /// Not bound into the AAD: it says where the index item is, not what the
    /// PAN is, and records of versions 1 and 2 must still open.
    pub scope: Option<DedupScope>,
}

impl fmt::Debug for VaultRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultRecord")
            .field("token", &self.token)
            .field("version", &self.version)
            .field(
                "ciphertext",
                &format_args!("{} bytes", self.ciphertext.len()),
            )
            .field("wrapped_key", &self.wrapped_key)
            .field("facts", &self.facts)
            .field("metadata", &self.metadata)
            .field("link", &self.link)
            .field("scope", &self.scope)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_round_trips_through_hex_and_never_prints() {
        let fp = Fingerprint::from_bytes([0xAB; 32]);
        assert_eq!(Fingerprint::from_hex(&fp.to_hex()), Some(fp.clone()));
        assert_eq!(Fingerprint::from_hex("ab"), None);
        assert_eq!(Fingerprint::from_hex(&"zz".repeat(32)), None);
        assert_eq!(format!("{fp:?}"), "Fingerprint([REDACTED])");
        let key = IndexKey {
            format: TokenFormat::Fpe,
            fingerprint: fp,
        };
        let pk = key.storage_key();
        assert_eq!(pk, format!("f#fpe#{}", "ab".repeat(32)));
        assert_eq!(IndexKey::from_storage_key(&pk), Some(key));
        for bad in ["t#fpe#ab", "f#fpe", "f#xml#ab", "f#fpe#xyz"] {
            assert_eq!(IndexKey::from_storage_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn links_are_random_and_round_trip_through_hex() {
        let rng = crate::random::ThreadRandom;
        let (a, b) = (Link::random(&rng), Link::random(&rng));
        assert_ne!(a, b);
        assert_eq!(a.to_hex().len(), 32);
        assert_eq!(Link::from_hex(&a.to_hex()), Some(a));
        for bad in ["", "ab", &"zz".repeat(16), &"ab".repeat(17)] {
            assert_eq!(Link::from_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_records_debug_names_its_parts_but_not_its_ciphertext() {
        let record = VaultRecord {
            token: Token::new_opaque(&crate::random::ThreadRandom),
            version: RECORD_VERSION,
            ciphertext: vec![0x41; 5],
            wrapped_key: WrappedKey::new(vec![0x42; 3]),
            facts: TokenFacts {
                format: TokenFormat::Opaque,
                bin: "411111".into(),
                last4: "1111".into(),
                brand: Brand::Visa,
                pan_length: 16,
                created_at: 0,
                expires_at: None,
            },
            metadata: Metadata::default(),
            link: None,
            scope: None,
        };
        let debug = format!("{record:?}");
        assert!(debug.starts_with("VaultRecord {"), "{debug}");
        assert!(debug.contains("ciphertext: 5 bytes"), "{debug}");
        assert!(debug.contains("WrappedKey(3 bytes)"), "{debug}");
        assert!(!debug.contains("65, 65"), "{debug}");
    }
}
