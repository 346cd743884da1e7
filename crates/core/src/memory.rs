//! In-memory ports for tests, examples and benchmarks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ports::{
    Clock, CreateError, DataKeyIssuer, DataKeyUnwrapper, ErasingVault, IssuingVault, KeyError,
    ReadingVault, VaultError,
};
use crate::random::{OsRandom, Random};
use crate::record::{IndexEntry, IndexKey, Link, TokenDescription, VaultRecord, is_expired};
use crate::secret::{DataKey, KEY_BYTES, WrappedKey};
use crate::token::Token;

mod capture;
mod operator;

/// Calls made to a [`MemoryVault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VaultStats {
    /// Reads (index reads, gets, describes; a batch counts once).
    pub reads: u64,
    /// Writes (each conditional put or delete counts once).
    pub writes: u64,
}

#[derive(Debug, Clone)]
enum Item {
    Record(VaultRecord),
    Index(IndexEntry),
    /// An erased token's tombstone: it keeps the token from being issued again.
    Tombstone,
}

/// A vault in a `HashMap`, with the same conditional-write rules as DynamoDB's.
#[derive(Debug, Default)]
pub struct MemoryVault {
    items: Mutex<HashMap<String, Item>>,
    /// Capture sessions; a capture locks `items` first, then these.
    sessions: Mutex<HashMap<String, crate::capture::CaptureSession>>,
    reads: AtomicU64,
    writes: AtomicU64,
}

fn record_key(token: &Token) -> String {
    format!("t#{}", token.as_str())
}

impl MemoryVault {
    /// An empty vault.
    pub fn new() -> MemoryVault {
        MemoryVault::default()
    }

    /// Calls so far.
    pub fn stats(&self) -> VaultStats {
        VaultStats {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }

    /// How many records (not index items) are stored.
    pub fn record_count(&self) -> usize {
        self.lock()
            .values()
            .filter(|i| matches!(i, Item::Record(_)))
            .count()
    }

    /// How many index items name a token with no record: always 0, since a
    /// record is written before the index item that names it.
    pub fn dangling_index_count(&self) -> usize {
        let items = self.lock();
        items
            .values()
            .filter(|i| {
                matches!(i, Item::Index(e)
                    if !matches!(items.get(&record_key(&e.token)), Some(Item::Record(_))))
            })
            .count()
    }

    /// Replaces a stored record as-is, for tamper tests.
    pub fn overwrite_record(&self, record: VaultRecord) {
        self.lock()
            .insert(record_key(&record.token), Item::Record(record));
    }

    /// Every index item, for tests.
    pub fn index_entries(&self) -> Vec<IndexEntry> {
        self.lock()
            .values()
            .filter_map(|i| match i {
                Item::Index(e) => Some(e.clone()),
                Item::Record(_) | Item::Tombstone => None,
            })
            .collect()
    }

    /// Stores an index item as-is, for tests of verify and repair.
    pub fn overwrite_index(&self, entry: IndexEntry) {
        self.lock()
            .insert(entry.key.storage_key(), Item::Index(entry));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Item>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    fn record(&self, token: &Token) -> Option<VaultRecord> {
        match self.lock().get(&record_key(token)) {
            Some(Item::Record(r)) => Some(r.clone()),
            _ => None,
        }
    }
}

#[async_trait]
impl IssuingVault for MemoryVault {
    async fn find_index(&self, key: &IndexKey) -> Result<Option<IndexEntry>, VaultError> {
        self.read();
        Ok(match self.lock().get(&key.storage_key()) {
            Some(Item::Index(entry)) => Some(entry.clone()),
            _ => None,
        })
    }

    async fn create(&self, record: &VaultRecord) -> Result<(), CreateError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.lock();
        let rk = record_key(&record.token);
        if items.contains_key(&rk) {
            return Err(CreateError::RecordExists);
        }
        items.insert(rk, Item::Record(record.clone()));
        Ok(())
    }

    async fn create_index(
        &self,
        index: &IndexEntry,
        now: i64,
        replacing: Option<&Token>,
    ) -> Result<(), CreateError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.lock();
        let ik = index.key.storage_key();
        if let Some(Item::Index(existing)) = items.get(&ik)
            && !is_expired(existing.expires_at, now)
            && Some(&existing.token) != replacing
        {
            return Err(CreateError::IndexExists);
        }
        items.insert(ik, Item::Index(index.clone()));
        Ok(())
    }

    async fn confirm(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        // DynamoDB makes this a conditional write: it counts as one.
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .record(token)
            .is_some_and(|r| r.link.as_ref() == Some(link)))
    }

    async fn abandon(&self, record: &VaultRecord, _now: i64) -> Result<(), VaultError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        // DynamoDB keeps a husk until TTL removes it; here it goes at once.
        // Only this writer's record: the same ciphertext.
        let mut items = self.lock();
        let key = record_key(&record.token);
        if matches!(items.get(&key), Some(Item::Record(r)) if r.ciphertext == record.ciphertext) {
            items.remove(&key);
        }
        Ok(())
    }

    async fn describe(&self, token: &Token) -> Result<Option<TokenDescription>, VaultError> {
        self.read();
        Ok(self.record(token).map(|r| TokenDescription {
            facts: r.facts,
            metadata: r.metadata,
        }))
    }
}

#[async_trait]
impl ReadingVault for MemoryVault {
    async fn get(&self, token: &Token) -> Result<Option<VaultRecord>, VaultError> {
        self.read();
        Ok(self.record(token))
    }

    async fn get_many(&self, tokens: &[Token]) -> Result<Vec<Option<VaultRecord>>, VaultError> {
        self.read();
        Ok(tokens.iter().map(|t| self.record(t)).collect())
    }
}

#[async_trait]
impl ErasingVault for MemoryVault {
    async fn delete(&self, token: &Token) -> Result<bool, VaultError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.lock();
        let key = record_key(token);
        if !matches!(items.get(&key), Some(Item::Record(_))) {
            return Ok(false);
        }
        items.insert(key, Item::Tombstone);
        // Found by the token they name, as DynamoDB's token index finds them.
        items.retain(|_, item| !matches!(item, Item::Index(e) if &e.token == token));
        Ok(true)
    }
}

/// A key ring that wraps data keys with AES-256-GCM under a master key held in memory.
pub struct MemoryKeyRing {
    master: Aes256Gcm,
    context: Vec<u8>,
    generate_calls: AtomicU64,
    unwrap_calls: AtomicU64,
}

impl MemoryKeyRing {
    /// A key ring with a random master key and the given encryption context.
    pub fn new(context: &str) -> MemoryKeyRing {
        let mut master = Zeroizing::new([0u8; KEY_BYTES]);
        OsRandom.fill(master.as_mut());
        MemoryKeyRing {
            master: Aes256Gcm::new((&*master).into()),
            context: context.as_bytes().to_vec(),
            generate_calls: AtomicU64::new(0),
            unwrap_calls: AtomicU64::new(0),
        }
    }

    /// (generate, unwrap) calls so far.
    pub fn calls(&self) -> (u64, u64) {
        (
            self.generate_calls.load(Ordering::Relaxed),
            self.unwrap_calls.load(Ordering::Relaxed),
        )
    }
}

impl std::fmt::Debug for MemoryKeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryKeyRing([REDACTED])")
    }
}

#[async_trait]
impl DataKeyIssuer for MemoryKeyRing {
    async fn generate(&self) -> Result<(DataKey, WrappedKey), KeyError> {
        self.generate_calls.fetch_add(1, Ordering::Relaxed);
        let mut plain = Zeroizing::new([0u8; KEY_BYTES]);
        OsRandom.fill(plain.as_mut());
        let mut nonce = [0u8; 12];
        OsRandom.fill(&mut nonce);
        let sealed = self
            .master
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_ref(),
                    aad: &self.context,
                },
            )
            .map_err(|_| KeyError::Other("wrap failed".into()))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        let key =
            DataKey::from_slice(plain.as_ref()).map_err(|e| KeyError::Other(e.to_string()))?;
        Ok((key, WrappedKey::new(blob)))
    }
}

#[async_trait]
impl DataKeyUnwrapper for MemoryKeyRing {
    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        self.unwrap_calls.fetch_add(1, Ordering::Relaxed);
        let (nonce, body) = wrapped
            .as_bytes()
            .split_at_checked(12)
            .ok_or(KeyError::InvalidCiphertext)?;
        let plain = Zeroizing::new(
            self.master
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: body,
                        aad: &self.context,
                    },
                )
                .map_err(|_| KeyError::InvalidCiphertext)?,
        );
        DataKey::from_slice(&plain).map_err(|_| KeyError::InvalidCiphertext)
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `millis` since the epoch.
    pub fn at_millis(millis: i64) -> ManualClock {
        ManualClock(AtomicI64::new(millis))
    }

    /// Moves the clock forward.
    pub fn advance_millis(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Reproducible randomness for tests: SHA-256 of a seed and a counter.
/// Not for production: anyone who knows the seed knows every token.
#[derive(Debug)]
pub struct SeededRandom {
    seed: u64,
    counter: AtomicU64,
}

impl SeededRandom {
    /// A stream determined by `seed`.
    pub fn new(seed: u64) -> SeededRandom {
        SeededRandom {
            seed,
            counter: AtomicU64::new(0),
        }
    }
}

impl Random for SeededRandom {
    fn fill(&self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(32) {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let block = Sha256::new()
                .chain_update(self.seed.to_be_bytes())
                .chain_update(n.to_be_bytes())
                .finalize();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}
