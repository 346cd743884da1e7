//! The ports: how the core reaches storage, keys, time and randomness.
//!
//! Adapters (DynamoDB, KMS) live in `tessera-aws`; in-memory ones in
//! [`crate::memory`].

use async_trait::async_trait;

use crate::record::{IndexEntry, IndexKey, TokenDescription, VaultRecord};
use crate::secret::{DataKey, WrappedKey};
use crate::token::Token;

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

/// Where tokens and their encrypted PANs are kept.
#[async_trait]
pub trait Vault: Send + Sync {
    /// Reads the dedup index item for a fingerprint.
    async fn find_index(&self, key: &IndexKey) -> Result<Option<IndexEntry>, VaultError>;

    /// Writes a record and its index item atomically: the record only if its
    /// token is absent, the index only if absent or expired at `now`.
    async fn create_with_index(
        &self,
        record: &VaultRecord,
        index: &IndexEntry,
        now: i64,
    ) -> Result<(), CreateError>;

    /// Writes a record if its token is absent (no index item: `dedupe: false`).
    async fn create(&self, record: &VaultRecord) -> Result<(), CreateError>;

    /// Reads a whole record, strongly consistent.
    async fn get(&self, token: &Token) -> Result<Option<VaultRecord>, VaultError>;

    /// Reads many records, in the order asked; `None` where absent.
    async fn get_many(&self, tokens: &[Token]) -> Result<Vec<Option<VaultRecord>>, VaultError>;

    /// Reads only the non-sensitive facts of a record (never `ct`, `dk`, `fp`).
    async fn describe(&self, token: &Token) -> Result<Option<TokenDescription>, VaultError>;

    /// Deletes a record and the index item that points at it; `false` if absent.
    async fn delete(&self, token: &Token) -> Result<bool, VaultError>;
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

/// Issues and unwraps data keys (envelope encryption).
#[async_trait]
pub trait KeyRing: Send + Sync {
    /// A fresh data key: the plaintext for encryption and the wrapped blob to store.
    async fn generate(&self) -> Result<(DataKey, WrappedKey), KeyError>;

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

/// A source of random bytes, replaceable in tests.
pub trait Random: Send + Sync {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) {
        // Without OS randomness no token or nonce is safe to issue: stop.
        #[allow(clippy::expect_used)]
        getrandom::getrandom(dest).expect("the operating system's random source failed");
    }
}

/// A per-thread CSPRNG (rand's `ThreadRng`: ChaCha12, seeded from the
/// operating system and reseeded as it is used). Issues tokens and nonces
/// without a system call each, which is most of a tokenize's cost otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRandom;

impl Random for ThreadRandom {
    fn fill(&self, dest: &mut [u8]) {
        use rand::RngCore;
        rand::thread_rng().fill_bytes(dest);
    }
}
