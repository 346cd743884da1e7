//! The operator's side of [`MemoryVault`]: import's conditional writes,
//! scans, re-indexing and repairs, with DynamoDB's conditions.

use std::sync::atomic::Ordering;

use async_trait::async_trait;

use super::{Item, MemoryVault, record_key};
use crate::ports::{
    CreateError, IndexHolder, IndexWrite, IssuingVault, OperatorVault, RecordFacts, RecordHead,
    ScanPage, ScanView, ScannedItem, VaultError,
};
use crate::record::{IndexEntry, IndexKey, Link, VaultRecord, is_expired};
use crate::scope::DedupScope;
use crate::secret::WrappedKey;
use crate::token::Token;

#[async_trait]
impl OperatorVault for MemoryVault {
    async fn index_holder(&self, key: &IndexKey) -> Result<Option<IndexHolder>, VaultError> {
        self.read();
        Ok(match self.lock().get(&key.storage_key()) {
            Some(Item::Index(e)) => Some(IndexHolder {
                token: e.token.clone(),
                link: e.link.clone(),
                expires_at: e.expires_at,
            }),
            _ => None,
        })
    }

    async fn record_head(&self, token: &Token) -> Result<Option<RecordHead>, VaultError> {
        self.read();
        Ok(match self.lock().get(&record_key(token)) {
            Some(Item::Record(r)) => Some(RecordHead {
                expires_at: r.facts.expires_at,
            }),
            Some(Item::Tombstone) => Some(RecordHead { expires_at: None }),
            _ => None,
        })
    }

    async fn carries(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        IssuingVault::confirm(self, token, link).await
    }

    async fn put_record(&self, record: &VaultRecord) -> Result<(), CreateError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.lock();
        let key = record_key(&record.token);
        let allowed = match items.get(&key) {
            None => true,
            // The store's condition: the same ciphertext (a fresh nonce makes
            // it this record's own) or the link only its writer drew.
            Some(Item::Record(r)) => {
                r.ciphertext == record.ciphertext
                    || (record.link.is_some() && r.link == record.link)
            }
            Some(_) => false,
        };
        if !allowed {
            return Err(CreateError::RecordExists);
        }
        items.insert(key, Item::Record(record.clone()));
        Ok(())
    }

    async fn void(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError> {
        IssuingVault::abandon(self, record, now).await
    }

    async fn remove_orphan(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.lock();
        let key = record_key(token);
        if matches!(items.get(&key), Some(Item::Record(r)) if r.link.as_ref() == Some(link)) {
            items.remove(&key);
            return Ok(true);
        }
        Ok(false)
    }

    async fn scan(
        &self,
        after: Option<&str>,
        limit: u32,
        view: ScanView,
    ) -> Result<ScanPage, VaultError> {
        self.read();
        let items = self.lock();
        let mut keys: Vec<&String> = items
            .keys()
            .filter(|k| after.is_none_or(|a| k.as_str() > a))
            .collect();
        keys.sort();
        let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        let more = keys.len() > limit;
        keys.truncate(limit);
        let next = more.then(|| keys.last().map(|k| (*k).clone())).flatten();
        let page = keys
            .into_iter()
            .filter_map(|k| items.get(k))
            .map(|i| match (i, view) {
                (Item::Record(r), ScanView::Whole) => ScannedItem::Record(r.clone()),
                (Item::Record(r), ScanView::WrappedKeys) => ScannedItem::WrappedKey {
                    token: r.token.clone(),
                    wrapped_key: r.wrapped_key.clone(),
                },
                (Item::Record(r), ScanView::Facts) => ScannedItem::Facts(RecordFacts {
                    token: r.token.clone(),
                    format: r.facts.format,
                    link: r.link.clone(),
                    scope: r.scope.clone(),
                    created_at: r.facts.created_at,
                    expires_at: r.facts.expires_at,
                }),
                (Item::Index(_), ScanView::WrappedKeys) => ScannedItem::NotRead,
                (Item::Index(e), _) => ScannedItem::Index(e.clone()),
                (Item::Tombstone, _) => ScannedItem::Erased,
            })
            .collect();
        Ok(ScanPage { items: page, next })
    }

    async fn put_index(
        &self,
        entry: &IndexEntry,
        now: i64,
        replacing: Option<&Token>,
    ) -> Result<IndexWrite, VaultError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.lock();
        let key = entry.key.storage_key();
        if let Some(Item::Index(existing)) = items.get(&key)
            && existing.token != entry.token
            && Some(&existing.token) != replacing
            && !is_expired(existing.expires_at, now)
        {
            return Ok(IndexWrite::Taken);
        }
        items.insert(key, Item::Index(entry.clone()));
        Ok(IndexWrite::Written)
    }

    async fn remove_index(&self, key: &IndexKey, token: &Token) -> Result<bool, VaultError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.lock();
        let key = key.storage_key();
        if matches!(items.get(&key), Some(Item::Index(e)) if &e.token == token) {
            items.remove(&key);
            return Ok(true);
        }
        Ok(false)
    }

    async fn index_keys_naming(&self, token: &Token) -> Result<Vec<IndexKey>, VaultError> {
        self.read();
        Ok(self
            .lock()
            .values()
            .filter_map(|item| match item {
                Item::Index(e) if &e.token == token => Some(e.key.clone()),
                _ => None,
            })
            .collect())
    }

    async fn relink(
        &self,
        token: &Token,
        link: &Link,
        scope: &DedupScope,
    ) -> Result<bool, VaultError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.lock();
        match items.get_mut(&record_key(token)) {
            Some(Item::Record(r)) if r.link.as_ref() == Some(link) => {
                r.scope = Some(scope.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn replace_wrapped_key(
        &self,
        token: &Token,
        old: &WrappedKey,
        new: &WrappedKey,
    ) -> Result<bool, VaultError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut items = self.lock();
        match items.get_mut(&record_key(token)) {
            Some(Item::Record(r)) if &r.wrapped_key == old => {
                r.wrapped_key = new.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
