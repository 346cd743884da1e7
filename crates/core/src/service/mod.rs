//! The flows: tokenize, look up, describe, detokenize and erase.
//!
//! Each flow lives on the service whose Lambda function (and IAM role) runs
//! it: [`Tokenizer`] holds the fingerprint key and may only encrypt,
//! [`Detokenizer`] may only decrypt, [`Eraser`] may only delete. A process
//! can therefore hold no capability its role lacks.

mod detokenizer;
mod eraser;
mod tokenizer;

pub use detokenizer::Detokenizer;
pub use eraser::Eraser;
pub(crate) use tokenizer::Prepared;
pub use tokenizer::Tokenizer;

use std::sync::Arc;

use crate::envelope::IntegrityError;
use crate::expiry::{Expiry, ExpiryError};
use crate::metadata::Metadata;
use crate::pan::Pan;
use crate::ports::{Clock, KeyError, VaultError};
use crate::random::Random;
use crate::record::TokenFacts;
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
pub(crate) const MAX_WRITE_ATTEMPTS: usize = 8;

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
