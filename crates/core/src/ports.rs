//! The ports: how the core reaches storage, keys, time and randomness.
//!
//! Adapters (DynamoDB, KMS) live in `tessera-aws`; in-memory ones in
//! [`crate::memory`].

use async_trait::async_trait;

use crate::record::{IndexEntry, IndexKey, Link, TokenDescription, VaultRecord};
use crate::scope::DedupScope;
use crate::secret::{DataKey, WrappedKey};
use crate::token::{Token, TokenFormat};

/// A failure of the vault's storage. Carries no record contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// Throttled, 5xx or timed out after the SDK's own retries: try again later.
    #[error("the vault is unavailable (retryable): {0}")]
    Unavailable(String),
    /// The caller's role may not perform this operation.
    #[error("access to the vault was denied: {0}")]
    AccessDenied(String),
    /// The table does not exist.
    #[error("the vault table was not found: {0}")]
    TableNotFound(String),
    /// A stored item could not be read back into a record.
    #[error("a vault item is malformed: {0}")]
    Corrupt(String),
    /// Anything else the store reported.
    #[error("vault error: {0}")]
    Other(String),
}

impl VaultError {
    /// Whether the same call may succeed if retried later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, VaultError::Unavailable(_))
    }
}

/// Why an atomic create did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// A record with this token already exists: draw a new token.
    #[error("a record with this token already exists")]
    RecordExists,
    /// A live index item for this fingerprint exists: another writer won.
    #[error("the fingerprint is already indexed")]
    IndexExists,
    /// The store failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// What the tokenize function may do to the vault: read dedup index items,
/// create records (with or without an index item) and read a record's
/// non-sensitive facts. Its IAM role has exactly these rights.
#[async_trait]
pub trait IssuingVault: Send + Sync {
    /// Reads the dedup index item for a fingerprint.
    async fn find_index(&self, key: &IndexKey) -> Result<Option<IndexEntry>, VaultError>;

    /// Writes a record if its token is absent. With dedup the tokenizer
    /// writes the record first and its index item after it, so an index item
    /// never points at a missing record.
    async fn create(&self, record: &VaultRecord) -> Result<(), CreateError>;

    /// Writes a dedup index item if none is there, the one there expired at
    /// `now`, or it names `replacing` (a token whose record was found not to
    /// carry this fingerprint); [`CreateError::IndexExists`] if a live one is there.
    async fn create_index(
        &self,
        index: &IndexEntry,
        now: i64,
        replacing: Option<&Token>,
    ) -> Result<(), CreateError>;

    /// Whether the record of `token` carries `link`: the check a dedup hit
    /// makes before it answers, so an index item that outlived its record
    /// (or names another card's) is never answered. A conditional write that
    /// changes nothing. A re-index moves an index item to the current key's
    /// fingerprint with the same link, so a hit read from either key's item
    /// confirms. `false` for an absent record, a tombstone or a husk.
    async fn confirm(&self, token: &Token, link: &Link) -> Result<bool, VaultError>;

    /// Voids a record this writer may have created and never handed out (it
    /// lost the dedup race, or its write failed): its ciphertext and wrapped
    /// key are overwritten at once and the husk expires at `now`, so the
    /// vault keeps no PAN no caller holds a token for. Only where the stored
    /// ciphertext is this record's (a fresh nonce makes it unique); absent or
    /// already voided is success. A put, not a delete: the tokenize role has
    /// no `DeleteItem`. Only ever called on a record no index item names.
    async fn abandon(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError>;

    /// Reads only the non-sensitive facts of a record (never `ct`, `dk`, `fp`).
    async fn describe(&self, token: &Token) -> Result<Option<TokenDescription>, VaultError>;
}

/// What the detokenize function may do to the vault: read whole records.
#[async_trait]
pub trait ReadingVault: Send + Sync {
    /// Reads a whole record, strongly consistent.
    async fn get(&self, token: &Token) -> Result<Option<VaultRecord>, VaultError>;

    /// Reads many records, in the order asked; `None` where absent.
    async fn get_many(&self, tokens: &[Token]) -> Result<Vec<Option<VaultRecord>>, VaultError>;
}

/// What the admin function may do to the vault: erase a token.
#[async_trait]
pub trait ErasingVault: Send + Sync {
    /// Erases a record, leaving a tombstone (its key and `erased` time, no
    /// TTL, so the token is never issued again), and deletes the index items
    /// that name it (found by token, as the record keeps no fingerprint);
    /// `false` if absent or already erased.
    async fn delete(&self, token: &Token) -> Result<bool, VaultError>;
}

/// One item read by a scan of the whole vault.
#[derive(Debug, Clone)]
pub enum ScannedItem {
    /// A record (`t#…`).
    Record(VaultRecord),
    /// A dedup index item (`f#…`).
    Index(IndexEntry),
    /// A live record's token and wrapped data key ([`ScanView::WrappedKeys`]).
    WrappedKey {
        /// The record's token.
        token: Token,
        /// Its wrapped data key.
        wrapped_key: WrappedKey,
    },
    /// A live record's facts ([`ScanView::Facts`]).
    Facts(RecordFacts),
    /// An item the view does not read (an index item in a wrapped-key scan).
    NotRead,
    /// The husk of a record its writer voided after losing a dedup race: no
    /// ciphertext, no key, expired; TTL removes it and nothing names it.
    Void,
    /// The tombstone of an erased token: no PAN, no facts, no TTL; it keeps
    /// the token from being issued again.
    Erased,
    /// An item that does not parse; `why` names the attribute, never a value.
    Malformed {
        /// The item's partition key.
        pk: String,
        /// What is wrong with it.
        why: String,
    },
}

/// How much of each item a scan reads: each operator command only what it
/// uses, so its role's `Scan` grant can be limited to those attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanView {
    /// Whole records and index items (re-indexing under a new fingerprint
    /// key unwraps and re-fingerprints every record).
    Whole,
    /// Each live record's wrapped data key, nothing else (rewrap): records
    /// come back as [`ScannedItem::WrappedKey`], index items as
    /// [`ScannedItem::NotRead`].
    WrappedKeys,
    /// Each record's facts an index item must agree with, and index items
    /// (verify): records come back as [`ScannedItem::Facts`]; no ciphertext,
    /// data key, BIN or last 4.
    Facts,
}

/// The facts of a record an index item must agree with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFacts {
    /// Its token.
    pub token: Token,
    /// Its format.
    pub format: TokenFormat,
    /// Its link, if it has an index item.
    pub link: Option<Link>,
    /// Its dedup scope, if stored.
    pub scope: Option<DedupScope>,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it expires (Unix seconds), if ever.
    pub expires_at: Option<i64>,
}

/// One page of a scan, and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct ScanPage {
    /// The items of this page.
    pub items: Vec<ScannedItem>,
    /// The partition key to resume after; `None` at the end of the vault.
    pub next: Option<String>,
}

/// Who an index item names, as the bulk import reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHolder {
    /// The token it names.
    pub token: Token,
    /// The link its record must carry; `None` on items written before links.
    pub link: Option<Link>,
    /// When it expires (Unix seconds), if ever.
    pub expires_at: Option<i64>,
}

/// What the bulk import reads of a record: whether it is there and when it
/// expires ([`OperatorVault::carries`] asks whether it is the card's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHead {
    /// When it expires (Unix seconds), if ever.
    pub expires_at: Option<i64>,
}

/// What a conditional index write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexWrite {
    /// Written (the key was free, expired, or already named this token).
    Written,
    /// A live item for another token holds the key.
    Taken,
}

/// What the operator CLI may do to the vault: bulk import, whole-vault scans,
/// re-indexing under a new fingerprint key, re-wrapping and repairs. Its role
/// (the operator's, not any function's) has these rights in addition to
/// reading records.
#[async_trait]
pub trait OperatorVault: ReadingVault + Send + Sync {
    /// The token an index item names, its link and its expiry.
    async fn index_holder(&self, key: &IndexKey) -> Result<Option<IndexHolder>, VaultError>;

    /// A record's expiry (nothing else of it); `None` if absent.
    async fn record_head(&self, token: &Token) -> Result<Option<RecordHead>, VaultError>;

    /// Whether the record of `token` carries `link`, as [`IssuingVault::confirm`];
    /// `false` for an absent record, a tombstone or a husk.
    async fn carries(&self, token: &Token, link: &Link) -> Result<bool, VaultError>;

    /// Writes a record where its token is free or holds this very record (a
    /// resumed import rewriting its own); never over another card's record or
    /// a tombstone ([`CreateError::RecordExists`]).
    async fn put_record(&self, record: &VaultRecord) -> Result<(), CreateError>;

    /// Voids a record this writer just wrote and will not index, as
    /// [`IssuingVault::abandon`] does (only where its ciphertext is this one).
    async fn void(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError>;

    /// Deletes an orphaned record (one no index item or checkpoint reaches)
    /// if it still holds `link` and is not a tombstone; `false` if not.
    async fn remove_orphan(&self, token: &Token, link: &Link) -> Result<bool, VaultError>;

    /// The keys of the index items that name `token` (by the table's
    /// token index, eventually consistent): how a re-index finds the item to
    /// move, as the record keeps no fingerprint.
    async fn index_keys_naming(&self, token: &Token) -> Result<Vec<IndexKey>, VaultError>;

    /// Up to `limit` items after the key `after` (from the start if `None`),
    /// each read only as far as `view` needs.
    async fn scan(
        &self,
        after: Option<&str>,
        limit: u32,
        view: ScanView,
    ) -> Result<ScanPage, VaultError>;

    /// Writes an index item if its key is free, expired at `now`, or already
    /// names the same token or `replacing` (the condition tokenize uses).
    async fn put_index(
        &self,
        entry: &IndexEntry,
        now: i64,
        replacing: Option<&Token>,
    ) -> Result<IndexWrite, VaultError>;

    /// Removes an index item if it still names `token`; `false` if it did not.
    async fn remove_index(&self, key: &IndexKey, token: &Token) -> Result<bool, VaultError>;

    /// Stores a record's scope if it still carries `link` (a tombstone or a
    /// husk carries none); `false` if it changed meanwhile or is gone.
    async fn relink(
        &self,
        token: &Token,
        link: &Link,
        scope: &DedupScope,
    ) -> Result<bool, VaultError>;

    /// Replaces a record's wrapped data key if it still holds `old`; `false`
    /// if it changed meanwhile or is gone.
    async fn replace_wrapped_key(
        &self,
        token: &Token,
        old: &WrappedKey,
        new: &WrappedKey,
    ) -> Result<bool, VaultError>;
}

/// A failure of the key ring (KMS).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Throttled, 5xx or timed out after the SDK's own retries.
    #[error("the key service is unavailable (retryable): {0}")]
    Unavailable(String),
    /// The caller's role may not use the key.
    #[error("access to the key was denied: {0}")]
    AccessDenied(String),
    /// The wrapped key or its encryption context is not valid for this key.
    #[error("the wrapped data key is invalid for this key and context")]
    InvalidCiphertext,
    /// The key does not exist or is disabled.
    #[error("the key is not usable: {0}")]
    KeyUnusable(String),
    /// Anything else the key service reported.
    #[error("key service error: {0}")]
    Other(String),
}

impl KeyError {
    /// Whether the same call may succeed if retried later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, KeyError::Unavailable(_))
    }
}

/// Issues fresh data keys (KMS `GenerateDataKey`): the tokenize side of
/// envelope encryption, which can encrypt but never unwrap.
#[async_trait]
pub trait DataKeyIssuer: Send + Sync {
    /// A fresh data key: the plaintext for encryption and the wrapped blob to store.
    async fn generate(&self) -> Result<(DataKey, WrappedKey), KeyError>;
}

/// Unwraps stored data keys (KMS `Decrypt`): the detokenize side.
#[async_trait]
pub trait DataKeyUnwrapper: Send + Sync {
    /// Recovers the plaintext of a wrapped data key.
    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError>;
}

/// Wall-clock time, replaceable in tests.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    /// Whole seconds since the Unix epoch.
    fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_the_time_of_day() {
        // 2026-01-01T00:00:00Z and 2100-01-01T00:00:00Z, in milliseconds.
        let now = SystemClock.now_millis();
        assert!(
            (1_767_225_600_000..4_102_444_800_000).contains(&now),
            "{now}"
        );
        assert_eq!(SystemClock.now_secs(), now.div_euclid(1000));
    }
}
