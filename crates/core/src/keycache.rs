//! Data-key caching, so KMS is never called per request.
//!
//! Encryption reuses one data key for a bounded number of records and a
//! bounded time, the same idea as the AWS Encryption SDK's caching CMM.
//! Decryption keeps unwrapped keys in a bounded LRU keyed by a digest of the
//! wrapped blob, under the same age bound; every lookup first sweeps out all
//! entries past that bound, so an expired key does not wait in memory for
//! LRU eviction or for its own lookup.

use std::collections::HashMap;
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

/// Unwrapped keys and when each was unwrapped (epoch millis), by wrapped-blob digest.
struct UnwrappedKeys {
    lru: LruCache<[u8; 32], (Arc<CipherKey>, i64)>,
    /// No entry was added before this time (`i64::MAX` when empty), so a
    /// sweep only scans when some entry may have expired.
    oldest: i64,
}

impl UnwrappedKeys {
    /// Drops every entry at least `max_age` old at `now`.
    fn sweep(&mut self, now: i64, max_age: i64) {
        if now.saturating_sub(self.oldest) < max_age {
            return;
        }
        let expired: Vec<[u8; 32]> = self
            .lru
            .iter()
            .filter(|(_, (_, added))| now.saturating_sub(*added) >= max_age)
            .map(|(digest, _)| *digest)
            .collect();
        for digest in &expired {
            self.lru.pop(digest);
        }
        self.oldest = self
            .lru
            .iter()
            .map(|(_, (_, added))| *added)
            .min()
            .unwrap_or(i64::MAX);
    }

    fn put(&mut self, digest: [u8; 32], key: Arc<CipherKey>, added: i64) {
        self.oldest = self.oldest.min(added);
        self.lru.put(digest, (key, added));
    }
}

/// Unwrapped data keys by digest of their wrapped blob, bounded in size and age.
pub struct DecryptionKeyCache {
    keyring: Arc<dyn DataKeyUnwrapper>,
    limits: CacheLimits,
    entries: Mutex<UnwrappedKeys>,
    // One async lock per wrapped key being unwrapped: concurrent misses on
    // one key (a batch whose records share a data key) cost one KMS call,
    // while distinct keys still unwrap in parallel.
    unwrapping: Mutex<HashMap<[u8; 32], Arc<futures::lock::Mutex<()>>>>,
    counters: Counters,
}

impl DecryptionKeyCache {
    /// A cache over `keyring` with the given bounds.
    pub fn new(keyring: Arc<dyn DataKeyUnwrapper>, limits: CacheLimits) -> DecryptionKeyCache {
        let capacity = NonZeroUsize::new(limits.max_entries).unwrap_or(NonZeroUsize::MIN);
        DecryptionKeyCache {
            keyring,
            limits,
            entries: Mutex::new(UnwrappedKeys {
                lru: LruCache::new(capacity),
                oldest: i64::MAX,
            }),
            unwrapping: Mutex::new(HashMap::new()),
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
        if let Some(key) = self.cached(&digest, now_millis) {
            return Ok(key);
        }
        let gate = {
            let mut unwrapping = self.unwrapping.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(unwrapping.entry(digest).or_default())
        };
        let unwrapped = {
            let _turn = gate.lock().await;
            // Whoever held the lock before may have unwrapped this key.
            match self.cached(&digest, now_millis) {
                Some(key) => Ok(key),
                None => self.unwrap(wrapped, digest, now_millis).await,
            }
        };
        let mut unwrapping = self.unwrapping.lock().unwrap_or_else(|p| p.into_inner());
        // Clones are taken under this lock, so two holders (the map and
        // this call) mean no one else waits on the gate.
        if Arc::strong_count(&gate) <= 2 {
            unwrapping.remove(&digest);
        }
        unwrapped
    }

    fn cached(&self, digest: &[u8; 32], now_millis: i64) -> Option<Arc<CipherKey>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Expired keys leave memory now, not when evicted or looked up.
        entries.sweep(now_millis, self.limits.max_age_millis);
        // The sweep leaves no stale entry; the age is checked again anyway.
        let (key, added) = entries.lru.get(digest)?;
        if now_millis.saturating_sub(*added) >= self.limits.max_age_millis {
            return None;
        }
        self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        Some(Arc::clone(key))
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        digest: [u8; 32],
        now_millis: i64,
    ) -> Result<Arc<CipherKey>, KeyError> {
        self.counters.unwrap_calls.fetch_add(1, Ordering::Relaxed);
        let plain = self.keyring.unwrap(wrapped).await?;
        let key = Arc::new(CipherKey::new(&plain, wrapped.clone()));
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.sweep(now_millis, self.limits.max_age_millis);
        entries.put(digest, Arc::clone(&key), now_millis);
        Ok(key)
    }

    /// Counters so far.
    pub fn stats(&self) -> KeyStats {
        self.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryKeyRing;
    use futures::executor::block_on;

    const AGE: i64 = 1_000;

    fn cache() -> (Arc<MemoryKeyRing>, DecryptionKeyCache) {
        let ring = Arc::new(MemoryKeyRing::new("test"));
        let limits = CacheLimits {
            max_age_millis: AGE,
            ..CacheLimits::default()
        };
        (Arc::clone(&ring), DecryptionKeyCache::new(ring, limits))
    }

    fn wrapped(ring: &MemoryKeyRing) -> WrappedKey {
        block_on(ring.generate()).expect("generate").1
    }

    fn held(cache: &DecryptionKeyCache) -> usize {
        cache.entries.lock().expect("lock").lru.len()
    }

    #[test]
    fn expired_entries_are_swept_without_being_looked_up() {
        let (ring, cache) = cache();
        let (a, b, c) = (wrapped(&ring), wrapped(&ring), wrapped(&ring));
        let key_a = block_on(cache.key(&a, 0)).expect("a");
        block_on(cache.key(&b, 500)).expect("b");
        assert_eq!(held(&cache), 2);
        // `a` turns AGE old at 1_000; looking up only `b` sweeps it out.
        block_on(cache.key(&b, AGE)).expect("b again");
        assert_eq!(held(&cache), 1);
        // The cache no longer holds a reference to `a`'s key: only ours remains.
        assert_eq!(Arc::strong_count(&key_a), 1);
        // A miss on `c` after `b` has expired too leaves only `c`.
        block_on(cache.key(&c, 500 + AGE)).expect("c");
        assert_eq!(held(&cache), 1);
        assert_eq!(cache.stats().unwrap_calls, 3);
        assert_eq!(cache.stats().cache_hits, 1);
    }

    #[test]
    fn fresh_entries_stay_and_an_expired_one_is_unwrapped_again() {
        let (ring, cache) = cache();
        let a = wrapped(&ring);
        block_on(cache.key(&a, 0)).expect("a");
        block_on(cache.key(&a, AGE - 1)).expect("a cached");
        assert_eq!(
            (cache.stats().unwrap_calls, cache.stats().cache_hits),
            (1, 1)
        );
        block_on(cache.key(&a, AGE)).expect("a expired");
        assert_eq!(
            (cache.stats().unwrap_calls, cache.stats().cache_hits),
            (2, 1)
        );
        assert_eq!(held(&cache), 1);
    }

    #[test]
    fn a_sweep_long_after_the_oldest_entry_drops_it() {
        let (ring, cache) = cache();
        let (a, b) = (wrapped(&ring), wrapped(&ring));
        block_on(cache.key(&a, 0)).expect("a");
        // Far past `a`'s age, a miss on `b` sweeps `a` out.
        block_on(cache.key(&b, 3 * AGE)).expect("b");
        assert_eq!(held(&cache), 1);
    }

    #[test]
    fn no_unwrap_gate_outlives_its_unwrap() {
        let (ring, cache) = cache();
        let a = wrapped(&ring);
        block_on(cache.key(&a, 0)).expect("a");
        block_on(cache.key(&a, AGE)).expect("a expired");
        assert!(cache.unwrapping.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_data_key_by_default_serves_five_minutes_then_is_replaced() {
        let ring = Arc::new(MemoryKeyRing::new("test"));
        let cache = EncryptionKeyCache::new(ring, CacheLimits::default());
        let first = block_on(cache.key(0)).expect("first");
        let later = block_on(cache.key(5 * 60 * 1000 - 1)).expect("same");
        assert!(Arc::ptr_eq(&first, &later));
        assert_eq!(cache.stats().generate_calls, 1);
        block_on(cache.key(5 * 60 * 1000)).expect("renewed");
        assert_eq!(cache.stats().generate_calls, 2);
    }
}
