//! Data-key caching, so KMS is never called per request.
//!
//! Encryption reuses one data key for a bounded number of records and a
//! bounded time, the same idea as the AWS Encryption SDK's caching CMM.
//! Decryption keeps unwrapped keys in a bounded LRU keyed by a digest of the
//! wrapped blob, under the same age bound.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use sha2::{Digest, Sha256};

use crate::envelope::CipherKey;
use crate::ports::{DataKeyIssuer, DataKeyUnwrapper, KeyError};
use crate::secret::WrappedKey;

/// Records one data key may encrypt before a new one is issued. Bounds how
/// much data one leaked data key exposes and keeps GCM's random-nonce
/// collision chance negligible (far below NIST's 2^32 message limit).
pub const MAX_RECORDS_PER_DATA_KEY: u64 = 10_000;
/// Longest a data key is kept in memory, in milliseconds (5 minutes).
pub const MAX_DATA_KEY_AGE_MILLIS: i64 = 5 * 60 * 1000;
/// Unwrapped keys the decryption cache holds; at 10,000 records per key this
/// covers ten million records with a few hundred KiB of memory.
pub const DECRYPTION_CACHE_ENTRIES: usize = 1024;

/// The bounds of a key cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most records per data key (encryption only).
    pub max_uses: u64,
    /// Longest age of a cached key, milliseconds.
    pub max_age_millis: i64,
    /// Most unwrapped keys held (decryption only).
    pub max_entries: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            max_uses: MAX_RECORDS_PER_DATA_KEY,
            max_age_millis: MAX_DATA_KEY_AGE_MILLIS,
            max_entries: DECRYPTION_CACHE_ENTRIES,
        }
    }
}

/// How often the key ring was called and the cache was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyStats {
    /// `DataKeyIssuer::generate` calls (KMS `GenerateDataKey`).
    pub generate_calls: u64,
    /// `DataKeyUnwrapper::unwrap` calls (KMS `Decrypt`).
    pub unwrap_calls: u64,
    /// Requests served from the cache.
    pub cache_hits: u64,
}

#[derive(Debug, Default)]
struct Counters {
    generate_calls: AtomicU64,
    unwrap_calls: AtomicU64,
    cache_hits: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> KeyStats {
        KeyStats {
            generate_calls: self.generate_calls.load(Ordering::Relaxed),
            unwrap_calls: self.unwrap_calls.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
        }
    }
}

struct Lease {
    key: Arc<CipherKey>,
    issued_at: i64,
    uses: u64,
}

/// Hands out the current encryption data key, renewing it when a bound is hit.
pub struct EncryptionKeyCache {
    keyring: Arc<dyn DataKeyIssuer>,
    limits: CacheLimits,
    // An async lock held across `generate`, so a burst of concurrent misses
    // costs one KMS call, not one per waiting request.
    lease: futures::lock::Mutex<Option<Lease>>,
    counters: Counters,
}

impl EncryptionKeyCache {
    /// A cache over `keyring` with the given bounds.
    pub fn new(keyring: Arc<dyn DataKeyIssuer>, limits: CacheLimits) -> EncryptionKeyCache {
        EncryptionKeyCache {
            keyring,
            limits,
            lease: futures::lock::Mutex::new(None),
            counters: Counters::default(),
        }
    }

    /// The key to encrypt one record with, at time `now_millis`.
    pub async fn key(&self, now_millis: i64) -> Result<Arc<CipherKey>, KeyError> {
        let mut lease = self.lease.lock().await;
        if let Some(current) = lease.as_mut() {
            let fresh = now_millis.saturating_sub(current.issued_at) < self.limits.max_age_millis;
            if fresh && current.uses < self.limits.max_uses {
                current.uses += 1;
                self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Arc::clone(&current.key));
            }
        }
        // Drop the old key before asking for a new one: it must not outlive its bounds.
        *lease = None;
        self.counters.generate_calls.fetch_add(1, Ordering::Relaxed);
        let (plain, wrapped) = self.keyring.generate().await?;
        let key = Arc::new(CipherKey::new(&plain, wrapped));
        *lease = Some(Lease {
            key: Arc::clone(&key),
            issued_at: now_millis,
            uses: 1,
        });
        Ok(key)
    }

    /// Counters so far.
    pub fn stats(&self) -> KeyStats {
        self.counters.snapshot()
    }
}

/// An unwrapped key and when it was unwrapped (epoch millis), by wrapped-blob digest.
type UnwrappedKeys = LruCache<[u8; 32], (Arc<CipherKey>, i64)>;

/// Unwrapped data keys by digest of their wrapped blob, bounded in size and age.
pub struct DecryptionKeyCache {
    keyring: Arc<dyn DataKeyUnwrapper>,
    limits: CacheLimits,
    entries: Mutex<UnwrappedKeys>,
    counters: Counters,
}

impl DecryptionKeyCache {
    /// A cache over `keyring` with the given bounds.
    pub fn new(keyring: Arc<dyn DataKeyUnwrapper>, limits: CacheLimits) -> DecryptionKeyCache {
        let capacity = NonZeroUsize::new(limits.max_entries).unwrap_or(NonZeroUsize::MIN);
        DecryptionKeyCache {
            keyring,
            limits,
            entries: Mutex::new(LruCache::new(capacity)),
            counters: Counters::default(),
        }
    }

    /// The key that opens records wrapped as `wrapped`, at time `now_millis`.
    pub async fn key(
        &self,
        wrapped: &WrappedKey,
        now_millis: i64,
    ) -> Result<Arc<CipherKey>, KeyError> {
        let digest: [u8; 32] = Sha256::digest(wrapped.as_bytes()).into();
        {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((key, added)) = entries.get(&digest) {
                if now_millis.saturating_sub(*added) < self.limits.max_age_millis {
                    self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Arc::clone(key));
                }
                entries.pop(&digest);
            }
        }
        // Not holding the lock across the call: a batch can unwrap several
        // distinct keys at once. Two racing misses on one key cost one extra call.
        self.counters.unwrap_calls.fetch_add(1, Ordering::Relaxed);
        let plain = self.keyring.unwrap(wrapped).await?;
        let key = Arc::new(CipherKey::new(&plain, wrapped.clone()));
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(digest, (Arc::clone(&key), now_millis));
        Ok(key)
    }

    /// Counters so far.
    pub fn stats(&self) -> KeyStats {
        self.counters.snapshot()
    }
}
