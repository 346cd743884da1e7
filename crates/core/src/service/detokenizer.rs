//! [`Detokenizer`]: tokens back into PANs.

use std::sync::Arc;

use futures::StreamExt;

use crate::envelope::Aad;
use crate::keycache::{CacheLimits, DecryptionKeyCache, KeyStats};
use crate::ports::{DataKeyUnwrapper, ReadingVault};
use crate::record::VaultRecord;
use crate::token::Token;

use super::{BATCH_CONCURRENCY, Detokenized, Error, Ports, check_batch};

/// Turns tokens back into PANs. Holds a decryption-only key cache.
pub struct Detokenizer {
    ports: Ports,
    vault: Arc<dyn ReadingVault>,
    keys: DecryptionKeyCache,
}

impl Detokenizer {
    /// A detokenizer reading `vault`, unwrapping keys with `unwrapper`.
    pub fn new(
        ports: Ports,
        vault: Arc<dyn ReadingVault>,
        unwrapper: Arc<dyn DataKeyUnwrapper>,
        limits: CacheLimits,
    ) -> Detokenizer {
        Detokenizer {
            ports,
            vault,
            keys: DecryptionKeyCache::new(unwrapper, limits),
        }
    }

    /// The PAN behind a live token.
    pub async fn detokenize(&self, token: &Token) -> Result<Detokenized, Error> {
        let record = self.vault.get(token).await?;
        self.open(token, record).await
    }

    /// Up to [`MAX_BATCH_ITEMS`] tokens, read in one batch; results keep the input order.
    pub async fn detokenize_batch(
        &self,
        tokens: &[Token],
    ) -> Result<Vec<Result<Detokenized, Error>>, Error> {
        check_batch(tokens.len())?;
        let records = self.vault.get_many(tokens).await?;
        // Collected first, as in `tokenize_batch`.
        let opening: Vec<_> = tokens
            .iter()
            .zip(records)
            .map(|(token, record)| self.open(token, record))
            .collect();
        Ok(futures::stream::iter(opening)
            .buffered(BATCH_CONCURRENCY)
            .collect()
            .await)
    }

    /// Data-key cache counters.
    pub fn key_stats(&self) -> KeyStats {
        self.keys.stats()
    }

    /// The PAN of a record the caller has already read (the operator's scans
    /// read records page by page), with the same checks as a detokenize:
    /// an expired record is [`Error::NotFound`], a tampered one an integrity error.
    pub async fn open_record(&self, record: VaultRecord) -> Result<Detokenized, Error> {
        let token = record.token.clone();
        self.open(&token, Some(record)).await
    }

    async fn open(&self, token: &Token, record: Option<VaultRecord>) -> Result<Detokenized, Error> {
        let now_millis = self.ports.clock.now_millis();
        let record = match record {
            // DynamoDB deletes expired items lazily, so expiry is checked on read too.
            Some(r) if !r.facts.is_expired(now_millis.div_euclid(1000)) && &r.token == token => r,
            _ => return Err(Error::NotFound),
        };
        let key = self.keys.key(&record.wrapped_key, now_millis).await?;
        let aad = Aad {
            vault_id: &self.ports.vault_id,
            token,
            version: record.version,
            facts: &record.facts,
        };
        let pan = key.open(aad, &record.ciphertext)?;
        Ok(Detokenized {
            token: record.token,
            pan,
            facts: record.facts,
        })
    }
}
