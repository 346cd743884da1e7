//! [`Tokenizer`]: tokenize, look up, describe and import.

use std::sync::Arc;

use futures::StreamExt;

use crate::fingerprint::Fingerprinter;
use crate::keycache::{CacheLimits, EncryptionKeyCache, KeyStats};
use crate::pan::Pan;
use crate::ports::{CreateError, DataKeyIssuer, IssuingVault};
use crate::record::{IndexEntry, IndexKey, TokenDescription, TokenFacts, VaultRecord, is_expired};
use crate::scope::DedupScope;
use crate::token::{Token, TokenFormat};

use super::{
    BATCH_CONCURRENCY, Error, MAX_WRITE_ATTEMPTS, Ports, TokenizeRequest, Tokenized, check_batch,
    check_format, facts_for, hit_within,
};

/// What a dedup lookup found.
enum Found {
    /// A live item whose record carries its link.
    Hit(Tokenized),
    /// A live item naming a record that does not: its token.
    Stale(Token),
    /// No live item.
    Miss,
}

/// What a capture writes for one card (see [`crate::capture::Capturer`]):
/// an existing token (a dedup hit, which writes nothing of its own), or a
/// sealed record with its index item, for the capture's one transaction.
// Built once per capture attempt and matched at once: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Prepared {
    /// A live token for this card in the caller's scope, fit for the
    /// request, and the facts a fresh token would have had (what the
    /// shopper is told, so a hit answers exactly as a miss).
    Existing { hit: Tokenized, fresh: TokenFacts },
    /// A new record, its index item (with dedup) and a stale token the
    /// index item may replace.
    New {
        record: VaultRecord,
        index: Option<IndexEntry>,
        stale: Option<Token>,
    },
}

impl Found {
    fn stale(self) -> Option<Token> {
        match self {
            Found::Stale(token) => Some(token),
            _ => None,
        }
    }
}

/// Issues tokens. Holds the fingerprint key and an encryption-only key cache.
pub struct Tokenizer {
    ports: Ports,
    vault: Arc<dyn IssuingVault>,
    keys: EncryptionKeyCache,
    fingerprinter: Fingerprinter,
    /// The previous fingerprint key (`AWSPREVIOUS`) while a rotation runs:
    /// index items not yet re-indexed are still found under it.
    previous: Option<Fingerprinter>,
}

impl Tokenizer {
    /// A tokenizer writing to `vault`, encrypting with keys from `issuer`.
    pub fn new(
        ports: Ports,
        vault: Arc<dyn IssuingVault>,
        issuer: Arc<dyn DataKeyIssuer>,
        fingerprinter: Fingerprinter,
        limits: CacheLimits,
    ) -> Tokenizer {
        Tokenizer {
            ports,
            vault,
            keys: EncryptionKeyCache::new(issuer, limits),
            fingerprinter,
            previous: None,
        }
    }

    /// Also finds index items under the previous fingerprint key, during a
    /// key rotation (until `tessera rotate-fingerprint-key` has re-indexed
    /// every record). New index items are always written under the current key.
    pub fn with_previous_key(mut self, previous: Option<Fingerprinter>) -> Tokenizer {
        self.previous = previous;
        self
    }

    /// The current fingerprint key's version.
    pub fn key_version(&self) -> &str {
        self.fingerprinter.key_version()
    }

    /// Tokenizes one PAN (see DESIGN: dedup, fpe collisions, lost races).
    pub async fn tokenize(&self, request: &TokenizeRequest) -> Result<Tokenized, Error> {
        check_format(request)?;
        let now = self.ports.clock.now_secs();
        let expires_at = request.expiry.resolve(now)?;
        let index_key = request
            .dedupe
            .then(|| self.index_key(&request.scope, &request.pan, request.format));
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let mut stale = None;
            if index_key.is_some() {
                let found = self
                    .find_any(&request.scope, &request.pan, request.format, now)
                    .await?;
                if let Found::Hit(hit) = found {
                    return if self.hit_honours(&hit, request, expires_at).await? {
                        Ok(hit)
                    } else {
                        Err(Error::DedupConflict)
                    };
                }
                stale = found.stale();
            }
            let record = self
                .seal(request, now, expires_at, index_key.as_ref())
                .await?;
            let outcome = self
                .store(&record, index_key.as_ref(), stale.as_ref())
                .await
                .map(|()| record);
            match outcome {
                Ok(record) => {
                    return Ok(Tokenized {
                        token: record.token,
                        facts: record.facts,
                        created: true,
                    });
                }
                // A random token collided: draw another. A lost dedup race: the
                // next pass reads the winner's index item and returns its token.
                Err(CreateError::RecordExists | CreateError::IndexExists) => {}
                Err(CreateError::Vault(e)) => return Err(e.into()),
            }
        }
        Err(Error::Contention)
    }

    /// Finds (with dedup) or seals the token a capture writes, writing
    /// nothing: the capture writes the record, its index item and the
    /// session's card entry in one transaction.
    ///
    /// A capture answers the public capture API, where a dedup answer must
    /// tell the shopper nothing the vault knows (whether the card is
    /// vaulted, its stored expiry, when it was issued). So a hit is
    /// honoured only when the existing token is what a fresh one would be:
    /// the very expiry asked for (not an earlier one, as tokenize allows)
    /// and no metadata. It is decided without reading the record, which
    /// the capture role may not do: a request with metadata does not look
    /// the card up at all, since only a record read says whether the
    /// existing token holds that metadata. A hit that does not fit is not
    /// a conflict here, as it is for tokenize: the shopper cannot choose
    /// `dedupe: false`, so the capture gets a token of its own, unindexed,
    /// as `dedupe: false` would give.
    pub(crate) async fn prepare_capture(
        &self,
        request: &TokenizeRequest,
    ) -> Result<Prepared, Error> {
        check_format(request)?;
        let now = self.ports.clock.now_secs();
        let expires_at = request.expiry.resolve(now)?;
        let mut key = (request.dedupe && request.metadata.is_empty())
            .then(|| self.index_key(&request.scope, &request.pan, request.format));
        let mut stale = None;
        if key.is_some() {
            match self
                .find_any(&request.scope, &request.pan, request.format, now)
                .await?
            {
                Found::Hit(hit) if hit.facts.expires_at == expires_at => {
                    // As `seal` would state them now: nothing of the record.
                    let fresh = facts_for(&request.pan, request.format, now, expires_at);
                    return Ok(Prepared::Existing { hit, fresh });
                }
                Found::Hit(_) => key = None,
                found => stale = found.stale(),
            }
        }
        let record = self.seal(request, now, expires_at, key.as_ref()).await?;
        let index = key.map(|k| self.index_entry(&record, k));
        Ok(Prepared::New {
            record,
            index,
            stale,
        })
    }

    /// Stores a PAN under a token the caller chose: for migrating tokens from
    /// another vault and for seeding fixtures. Same checks and index as
    /// [`Tokenizer::tokenize`], but an existing token or PAN is a [`Error::Conflict`].
    pub async fn import(
        &self,
        token: Token,
        request: &TokenizeRequest,
    ) -> Result<Tokenized, Error> {
        let (record, entry) = self.seal_for_import(Some(token), None, request).await?;
        let written = self
            .store(&record, entry.map(|e| e.key).as_ref(), None)
            .await;
        match written {
            Ok(()) => Ok(Tokenized {
                token: record.token,
                facts: record.facts,
                created: true,
            }),
            Err(CreateError::RecordExists | CreateError::IndexExists) => Err(Error::Conflict),
            Err(CreateError::Vault(e)) => Err(e.into()),
        }
    }

    /// Tokenizes up to [`MAX_BATCH_ITEMS`] PANs; results keep the input order.
    pub async fn tokenize_batch(
        &self,
        requests: &[TokenizeRequest],
    ) -> Result<Vec<Result<Tokenized, Error>>, Error> {
        check_batch(requests.len())?;
        // Collected first: a closure kept inside the stream's type makes the
        // batch future unprovably `Send` (rust-lang/rust#64552).
        let issuing: Vec<_> = requests.iter().map(|r| self.tokenize(r)).collect();
        Ok(futures::stream::iter(issuing)
            .buffered(BATCH_CONCURRENCY)
            .collect()
            .await)
    }

    /// The live token already issued for `pan` in `format` within `scope`,
    /// creating nothing.
    pub async fn lookup_by_pan(
        &self,
        pan: &Pan,
        format: TokenFormat,
        scope: &DedupScope,
    ) -> Result<Tokenized, Error> {
        let now = self.ports.clock.now_secs();
        match self.find_any(scope, pan, format, now).await? {
            Found::Hit(hit) => Ok(hit),
            _ => Err(Error::NotFound),
        }
    }

    /// A token's facts and metadata, never its PAN.
    pub async fn describe(&self, token: &Token) -> Result<TokenDescription, Error> {
        let now = self.ports.clock.now_secs();
        match self.vault.describe(token).await? {
            Some(d) if !d.facts.is_expired(now) => Ok(d),
            _ => Err(Error::NotFound),
        }
    }

    /// Data-key cache counters.
    pub fn key_stats(&self) -> KeyStats {
        self.keys.stats()
    }

    /// Whether an existing token may answer `request`: it must not outlive
    /// the expiry asked for, and must not drop metadata the request carries.
    /// A token that already holds exactly that metadata drops nothing: that
    /// is the caller's retry of a write whose reply was lost (a 503 after
    /// the write was applied), which must get the token, not a conflict.
    async fn hit_honours(
        &self,
        hit: &Tokenized,
        request: &TokenizeRequest,
        wanted: Option<i64>,
    ) -> Result<bool, Error> {
        if !hit_within(hit, wanted) {
            return Ok(false);
        }
        if request.metadata.is_empty() {
            return Ok(true);
        }
        Ok(self
            .vault
            .describe(&hit.token)
            .await?
            .is_some_and(|d| d.metadata == request.metadata))
    }

    /// Where the dedup index item of `pan` in `format` and `scope` lives under
    /// the current key. For the operator's bulk import; never sent anywhere.
    pub fn index_key(&self, scope: &DedupScope, pan: &Pan, format: TokenFormat) -> IndexKey {
        IndexKey {
            format,
            fingerprint: self.fingerprinter.fingerprint(scope, format, pan),
        }
    }

    /// The live index hit under the current key, else under the previous one
    /// (a card not yet re-indexed). A hit counts only once the record it
    /// names is confirmed to carry the item's link.
    async fn find_any(
        &self,
        scope: &DedupScope,
        pan: &Pan,
        format: TokenFormat,
        now: i64,
    ) -> Result<Found, Error> {
        let current = self.index_key(scope, pan, format);
        let older = self
            .previous
            .as_ref()
            .map(|p| p.fingerprint(scope, format, pan));
        let found = self.find(&current, pan, now).await?;
        if matches!(found, Found::Hit(_)) {
            return Ok(found);
        }
        let Some(fingerprint) = older else {
            return Ok(found);
        };
        let key = IndexKey {
            format,
            fingerprint,
        };
        match self.find(&key, pan, now).await? {
            // Only the current key's item is ever replaced.
            Found::Hit(hit) => Ok(Found::Hit(hit)),
            _ => Ok(found),
        }
    }

    /// The live item at `key`, judged by the record it names: a hit if that
    /// record carries the item's link, else stale (another card's record, a
    /// tombstone, none, or an item from before links): never answered, and
    /// replaced by the next token's index item.
    async fn find(&self, key: &IndexKey, pan: &Pan, now: i64) -> Result<Found, Error> {
        let entry = match self.vault.find_index(key).await? {
            Some(entry) if !is_expired(entry.expires_at, now) => entry,
            _ => return Ok(Found::Miss),
        };
        let confirmed = match &entry.link {
            Some(link) => self.vault.confirm(&entry.token, link).await?,
            None => false,
        };
        if !confirmed {
            return Ok(Found::Stale(entry.token));
        }
        Ok(Found::Hit(Tokenized {
            facts: facts_for(pan, key.format, entry.created_at, entry.expires_at),
            token: entry.token,
            created: false,
        }))
    }
}

mod sealing;
