//! The flows: tokenize, look up, describe, detokenize and erase.
//!
//! Each flow lives on the service whose Lambda function (and IAM role) runs
//! it: [`Tokenizer`] holds the fingerprint key and may only encrypt,
//! [`Detokenizer`] may only decrypt, [`Eraser`] may only delete. A process
//! can therefore hold no capability its role lacks.

use std::sync::Arc;

use futures::StreamExt;

use crate::envelope::{Aad, IntegrityError};
use crate::expiry::{Expiry, ExpiryError};
use crate::fingerprint::Fingerprinter;
use crate::keycache::{CacheLimits, DecryptionKeyCache, EncryptionKeyCache, KeyStats};
use crate::metadata::Metadata;
use crate::pan::Pan;
use crate::ports::{
    Clock, CreateError, DataKeyIssuer, DataKeyUnwrapper, ErasingVault, IssuingVault, KeyError,
    ReadingVault, VaultError,
};
use crate::random::Random;
use crate::record::{
    IndexEntry, IndexKey, RECORD_VERSION, TokenDescription, TokenFacts, VaultRecord, is_expired,
};
use crate::scope::DedupScope;
use crate::token::{Token, TokenFormat};

/// Shortest PAN an fpe token may stand for. An fpe token keeps the first six
/// and last four digits, so a 12- to 14-digit PAN leaves 2 to 4 random
/// digits: a space that a few `dedupe: false` calls exhaust, and that hides
/// the PAN behind at most 10^4 guesses. From 15 digits it is 10^5 and up.
pub const MIN_FPE_PAN_DIGITS: usize = 15;
/// Most items in one batch call.
pub const MAX_BATCH_ITEMS: usize = 100;
/// Items of a batch in flight at once: enough to hide store latency, few
/// enough not to trip DynamoDB's per-partition burst limits.
const BATCH_CONCURRENCY: usize = 16;
/// Attempts at a conditional write before giving up. A retry is needed only
/// when a random fpe token collides or a dedup race is lost; eight misses in
/// a row mean the token space for this BIN and last 4 is nearly full.
const MAX_WRITE_ATTEMPTS: usize = 8;

/// Why a flow failed. Never carries a PAN, a key or a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No live token by that name (absent, deleted or expired).
    #[error("token not found")]
    NotFound,
    /// The requested expiry is not acceptable.
    #[error(transparent)]
    Expiry(#[from] ExpiryError),
    /// More than [`MAX_BATCH_ITEMS`] items.
    #[error("a batch may hold at most {MAX_BATCH_ITEMS} items")]
    BatchTooLarge,
    /// An imported token, or the PAN it names, is already in the vault.
    #[error("the token or its PAN is already in the vault")]
    Conflict,
    /// An imported token does not fit its PAN (format, length, BIN or last 4).
    #[error("the imported token does not fit its PAN")]
    TokenMismatch,
    /// Dedup found this card's token in the caller's scope, but it outlives the
    /// expiry asked for, or the request carries metadata the existing token
    /// would silently drop. The caller decides: same retention, or `dedupe: false`.
    #[error(
        "this card already has a token in your scope that does not match this request (it expires later, or metadata was sent); send the same retention without metadata, or dedupe: false for a separate token"
    )]
    DedupConflict,
    /// An fpe token was asked for a PAN too short to hide (see [`MIN_FPE_PAN_DIGITS`]).
    #[error(
        "fpe tokens need a PAN of at least {MIN_FPE_PAN_DIGITS} digits: a shorter one leaves too few random digits; use the opaque format"
    )]
    FpeTooShort,
    /// Conditional writes kept colliding; the request may be retried.
    #[error("could not issue a unique token after {MAX_WRITE_ATTEMPTS} attempts")]
    Contention,
    /// A stored ciphertext failed authentication.
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The key ring failed.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl Error {
    /// Whether the same call may succeed if retried later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Contention => true,
            Error::Vault(e) => e.is_retryable(),
            Error::Keys(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// A request to tokenize one PAN.
#[derive(Debug, Clone)]
pub struct TokenizeRequest {
    /// The card number.
    pub pan: Pan,
    /// The token format wanted.
    pub format: TokenFormat,
    /// When the token should stop detokenizing.
    pub expiry: Expiry,
    /// Caller metadata stored with the token.
    pub metadata: Metadata,
    /// Return the existing token for this PAN and format, if any (default on).
    pub dedupe: bool,
    /// The caller's dedup scope: dedup only ever finds tokens of this scope.
    pub scope: DedupScope,
}

impl TokenizeRequest {
    /// A request with the defaults: opaque, no expiry, no metadata, dedup on.
    pub fn new(pan: Pan) -> TokenizeRequest {
        TokenizeRequest {
            pan,
            format: TokenFormat::Opaque,
            expiry: Expiry::Never,
            metadata: Metadata::default(),
            dedupe: true,
            scope: DedupScope::default(),
        }
    }
}

/// The result of tokenizing: the token and its facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenized {
    /// The token.
    pub token: Token,
    /// Its non-sensitive facts.
    pub facts: TokenFacts,
    /// `true` if issued now, `false` if an existing token was returned.
    pub created: bool,
}

/// The result of detokenizing: the PAN, redacted in every print.
#[derive(Debug, Clone)]
pub struct Detokenized {
    /// The token asked for.
    pub token: Token,
    /// The card number.
    pub pan: Pan,
    /// The token's facts.
    pub facts: TokenFacts,
}

/// What every service needs besides its own vault and key capability.
#[derive(Clone)]
pub struct Ports {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness for tokens and nonces.
    pub rng: Arc<dyn Random>,
    /// The vault's stable identity, bound into every ciphertext
    /// (`TESSERA_VAULT_ID`; by default the table's name).
    pub vault_id: String,
}

/// Whether an existing token ends no later than the expiry asked for (an
/// earlier one is fine, and the response says when).
fn hit_within(hit: &Tokenized, wanted: Option<i64>) -> bool {
    match (hit.facts.expires_at, wanted) {
        (_, None) => true,
        (Some(existing), Some(wanted)) => existing <= wanted,
        (None, Some(_)) => false,
    }
}

fn check_format(request: &TokenizeRequest) -> Result<(), Error> {
    if request.format == TokenFormat::Fpe && request.pan.len() < MIN_FPE_PAN_DIGITS {
        Err(Error::FpeTooShort)
    } else {
        Ok(())
    }
}

fn check_batch(items: usize) -> Result<(), Error> {
    if items > MAX_BATCH_ITEMS {
        Err(Error::BatchTooLarge)
    } else {
        Ok(())
    }
}

/// Whether an imported token fits its PAN: same format, and an fpe token
/// keeps the PAN's length, BIN and last 4.
fn token_fits(token: &Token, request: &TokenizeRequest) -> bool {
    match token.format() {
        TokenFormat::Opaque => request.format == TokenFormat::Opaque,
        TokenFormat::Fpe => {
            let t = token.as_str();
            request.format == TokenFormat::Fpe
                && t.len() == request.pan.len()
                && t.starts_with(request.pan.bin())
                && t.ends_with(request.pan.last4())
        }
    }
}

fn facts_for(
    pan: &Pan,
    format: TokenFormat,
    created_at: i64,
    expires_at: Option<i64>,
) -> TokenFacts {
    TokenFacts {
        format,
        bin: pan.bin().to_owned(),
        last4: pan.last4().to_owned(),
        brand: pan.brand(),
        pan_length: u8::try_from(pan.len()).unwrap_or(u8::MAX),
        created_at,
        expires_at,
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
            if index_key.is_some()
                && let Some(hit) = self
                    .live_index_any(&request.scope, &request.pan, request.format, now)
                    .await?
            {
                return if self.hit_honours(&hit, request, expires_at).await? {
                    Ok(hit)
                } else {
                    Err(Error::DedupConflict)
                };
            }
            let record = self
                .seal(request, now, expires_at, index_key.as_ref())
                .await?;
            let outcome = self
                .store(&record, index_key.as_ref())
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

    /// Stores a PAN under a token the caller chose: for migrating tokens from
    /// another vault and for seeding fixtures. Same checks and index as
    /// [`Tokenizer::tokenize`], but an existing token or PAN is a [`Error::Conflict`].
    pub async fn import(
        &self,
        token: Token,
        request: &TokenizeRequest,
    ) -> Result<Tokenized, Error> {
        let (record, entry) = self.seal_for_import(Some(token), request).await?;
        let written = self.store(&record, entry.map(|e| e.key).as_ref()).await;
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
        self.live_index_any(scope, pan, format, now)
            .await?
            .ok_or(Error::NotFound)
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

    /// The live index hit under the current key, else under the previous one.
    async fn live_index_any(
        &self,
        scope: &DedupScope,
        pan: &Pan,
        format: TokenFormat,
        now: i64,
    ) -> Result<Option<Tokenized>, Error> {
        let current = self.index_key(scope, pan, format);
        if let Some(hit) = self.live_index(&current, pan, now).await? {
            return Ok(Some(hit));
        }
        let Some(previous) = &self.previous else {
            return Ok(None);
        };
        let key = IndexKey {
            format,
            fingerprint: previous.fingerprint(scope, format, pan),
        };
        self.live_index(&key, pan, now).await
    }

    /// Seals a record (and, with dedup, its index item under the current key)
    /// without writing anything: the operator's bulk import writes many at
    /// once with the store's batch API. `token` is an imported token, checked
    /// to fit the PAN as in [`Tokenizer::import`]; `None` draws a new one.
    pub async fn seal_for_import(
        &self,
        token: Option<Token>,
        request: &TokenizeRequest,
    ) -> Result<(VaultRecord, Option<IndexEntry>), Error> {
        if let Some(token) = &token
            && !token_fits(token, request)
        {
            return Err(Error::TokenMismatch);
        }
        check_format(request)?;
        let now = self.ports.clock.now_secs();
        let expires_at = request.expiry.resolve(now)?;
        let key = request
            .dedupe
            .then(|| self.index_key(&request.scope, &request.pan, request.format));
        let record = match token {
            Some(token) => {
                self.seal_as(token, request, now, expires_at, key.as_ref())
                    .await?
            }
            None => self.seal(request, now, expires_at, key.as_ref()).await?,
        };
        let entry = key.map(|key| self.index_entry(&record, key));
        Ok((record, entry))
    }

    fn index_entry(&self, record: &VaultRecord, key: IndexKey) -> IndexEntry {
        IndexEntry {
            key,
            token: record.token.clone(),
            key_version: self.fingerprinter.key_version().to_owned(),
            created_at: record.facts.created_at,
            expires_at: record.facts.expires_at,
            scope: record.scope.clone(),
        }
    }

    async fn live_index(
        &self,
        key: &IndexKey,
        pan: &Pan,
        now: i64,
    ) -> Result<Option<Tokenized>, Error> {
        Ok(match self.vault.find_index(key).await? {
            Some(entry) if !is_expired(entry.expires_at, now) => Some(Tokenized {
                facts: facts_for(pan, key.format, entry.created_at, entry.expires_at),
                token: entry.token,
                created: false,
            }),
            _ => None,
        })
    }

    /// Writes a record and, with dedup, its index item after it: two
    /// conditional puts rather than one transaction, which would cost twice
    /// the write units. Record first, so an index item never names a missing
    /// record. A writer that loses the race for the index voids its own
    /// record, which no one was given, and reports [`CreateError::IndexExists`]
    /// (the caller then reads the winner's token). A write that fails leaves
    /// no record behind where the vault can tell: a PAN no caller holds a
    /// token for is a copy PCI DSS 3.2.1 says not to keep.
    async fn store(
        &self,
        record: &VaultRecord,
        index: Option<&IndexKey>,
    ) -> Result<(), CreateError> {
        let now = record.facts.created_at;
        match self.vault.create(record).await {
            Ok(()) => {}
            Err(CreateError::Vault(e)) => {
                // The put may have been applied with its reply lost; voiding
                // is conditional on this very ciphertext, so it never touches
                // another writer's record. If the void fails too, `tessera
                // verify` reports the record as unindexed.
                let _ = self.vault.abandon(record, now).await;
                return Err(CreateError::Vault(e));
            }
            Err(refused) => return Err(refused),
        }
        let Some(key) = index else {
            return Ok(());
        };
        let entry = self.index_entry(record, key.clone());
        let failure = match self.vault.create_index(&entry, now).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        // Refused (taken by another writer), or failed with its outcome
        // unknown: a consistent read says which. Only an index item naming
        // this token keeps the record; otherwise no one can be given it.
        match self.vault.find_index(key).await {
            Ok(Some(found)) if found.token == record.token => Ok(()),
            Ok(found) => {
                self.vault.abandon(record, now).await?;
                match (found, failure) {
                    (Some(_), _) => Err(CreateError::IndexExists),
                    (None, failure) => Err(failure),
                }
            }
            // The vault is unreachable: the record stays, unindexed, for
            // `tessera verify` to report; the caller gets the failure.
            Err(_) => Err(failure),
        }
    }

    async fn seal(
        &self,
        request: &TokenizeRequest,
        now: i64,
        expires_at: Option<i64>,
        index: Option<&IndexKey>,
    ) -> Result<VaultRecord, Error> {
        let rng = self.ports.rng.as_ref();
        let token = match request.format {
            TokenFormat::Opaque => Token::new_opaque(rng),
            TokenFormat::Fpe => Token::new_fpe(&request.pan, rng),
        };
        self.seal_as(token, request, now, expires_at, index).await
    }

    async fn seal_as(
        &self,
        token: Token,
        request: &TokenizeRequest,
        now: i64,
        expires_at: Option<i64>,
        index: Option<&IndexKey>,
    ) -> Result<VaultRecord, Error> {
        let rng = self.ports.rng.as_ref();
        let key = self.keys.key(self.ports.clock.now_millis()).await?;
        let facts = facts_for(&request.pan, request.format, now, expires_at);
        let aad = Aad {
            vault_id: &self.ports.vault_id,
            token: &token,
            version: RECORD_VERSION,
            facts: &facts,
        };
        let ciphertext = key.seal(rng, aad, &request.pan);
        Ok(VaultRecord {
            facts,
            token,
            version: RECORD_VERSION,
            ciphertext,
            wrapped_key: key.wrapped().clone(),
            metadata: request.metadata.clone(),
            fingerprint: index.map(|k| k.fingerprint.clone()),
            scope: index.map(|_| request.scope.clone()),
        })
    }
}

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

/// Erases tokens (the admin function).
pub struct Eraser {
    vault: Arc<dyn ErasingVault>,
}

impl Eraser {
    /// An eraser over `vault`.
    pub fn new(vault: Arc<dyn ErasingVault>) -> Eraser {
        Eraser { vault }
    }

    /// Deletes a token's record and its index item; later detokenizes find nothing.
    pub async fn delete(&self, token: &Token) -> Result<(), Error> {
        if self.vault.delete(token).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}
