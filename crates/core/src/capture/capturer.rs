//! [`Capturer`]: authenticate a session's client secret and capture a card
//! into it, sealing and deduplicating exactly as tokenize does.

use std::sync::Arc;

use crate::expiry::Expiry;
use crate::keycache::KeyStats;
use crate::pan::Pan;
use crate::ports::Clock;
use crate::record::TokenFacts;
use crate::scope::DedupScope;
use crate::service::{Error, MAX_WRITE_ATTEMPTS, Prepared, TokenizeRequest, Tokenizer};
use crate::token::Token;

use super::ids::{ClientSecret, SessionId};
use super::session::{
    CaptureSession, CapturedCard, CardholderName, MAX_FAILED_ATTEMPTS, Retention, SessionState,
};
use super::store::{CaptureConflict, CaptureVault, CaptureWrite, NewRecord};

/// Why a capture was refused. Never carries a PAN or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// No such session, or the wrong secret: one answer for both, so a
    /// caller never learns whether a session exists.
    #[error("unknown capture session or wrong client secret")]
    Unauthorized {
        /// This attempt was the one that burned the session (for the metric).
        burned_now: bool,
    },
    /// The session no longer captures.
    #[error("the capture session is {}", .0.as_str())]
    Closed(SessionState),
    /// The session's tokens expire with the card, and no expiry was typed.
    #[error("this session's tokens expire with the card: send the card's expiry")]
    ExpiryRequired,
    /// A cardholder name was sent to a session that does not take one.
    #[error(
        "this capture session does not take a cardholder name: send the card without it (the merchant enables the name with fields.name when opening the session)"
    )]
    NameNotRequested,
    /// Tokenize's own refusals and failures.
    #[error(transparent)]
    Core(#[from] Error),
}

/// One card to capture, as the frame sent it.
#[derive(Debug, Clone)]
pub struct CaptureRequest {
    /// The card number.
    pub pan: Pan,
    /// The card's expiry, if typed (`MM/YY`).
    pub card_expiry: Option<Expiry>,
    /// The cardholder name, if typed.
    pub cardholder_name: Option<CardholderName>,
    /// The session creator's dedup scope.
    pub scope: DedupScope,
    /// Whether the session creator is granted dedup answers.
    pub dedup_granted: bool,
}

/// A captured card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The token.
    pub token: Token,
    /// Its facts, as stored on the session for its creator (for a dedup
    /// hit, the existing token's).
    pub facts: TokenFacts,
    /// What the shopper's browser is told: the facts a fresh token for what
    /// was typed has, under the session's retention, on a dedup hit too. A
    /// hit is only ever the token a fresh capture would have made (same
    /// expiry, see the tokenizer), so this is true of the token, and it
    /// says nothing of the stored record: not that the card is vaulted,
    /// nor its stored expiry, nor when it was first issued.
    pub answer: TokenFacts,
    /// `true` if issued now, `false` for the card's existing token.
    pub created: bool,
}

/// Captures cards into sessions. Holds a [`Tokenizer`] (its fingerprint key
/// and encryption-only key cache) and the capture capability of the vault.
pub struct Capturer {
    clock: Arc<dyn Clock>,
    tokenizer: Tokenizer,
    vault: Arc<dyn CaptureVault>,
}

impl Capturer {
    /// A capturer sealing with `tokenizer` and writing through `vault`.
    pub fn new(
        clock: Arc<dyn Clock>,
        tokenizer: Tokenizer,
        vault: Arc<dyn CaptureVault>,
    ) -> Capturer {
        Capturer {
            clock,
            tokenizer,
            vault,
        }
    }

    /// The capturer's clock, in Unix seconds (a session's state is judged on it).
    pub fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }

    /// Data-key cache counters.
    pub fn key_stats(&self) -> KeyStats {
        self.tokenizer.key_stats()
    }

    /// The session `id` if `secret` is its client secret (compared in
    /// constant time) and it is open. A wrong secret counts as a failed
    /// attempt while the session is open; unknown and wrong give the same
    /// error.
    pub async fn open(
        &self,
        id: &SessionId,
        secret: &ClientSecret,
    ) -> Result<CaptureSession, CaptureError> {
        let session = self.session(id).await?;
        self.authenticate(session.as_ref(), secret).await?;
        session.ok_or(CaptureError::Unauthorized { burned_now: false })
    }

    /// The stored session `id`, whatever its state (the frame shows it, and
    /// CORS answers its origins).
    pub async fn session(&self, id: &SessionId) -> Result<Option<CaptureSession>, Error> {
        Ok(self.vault.get_session(id).await?)
    }

    /// Whether `secret` opens `session` (as read by [`Capturer::session`];
    /// `None` when unknown) and it is open: [`Capturer::open`] in two steps,
    /// for a caller that needs the session even when it is refused.
    pub async fn authenticate(
        &self,
        session: Option<&CaptureSession>,
        secret: &ClientSecret,
    ) -> Result<(), CaptureError> {
        let Some(session) = session else {
            return Err(CaptureError::Unauthorized { burned_now: false });
        };
        let state = session.state(self.clock.now_secs());
        if !session.secret_hash.verifies(secret) {
            // The count guards an open session against guessing. A closed
            // one has nothing left to guess for, and counting there would
            // let anyone who knows the id (it is no secret) rewrite it.
            let burned_now = match state {
                SessionState::Open => self.fail(session).await?,
                _ => false,
            };
            return Err(CaptureError::Unauthorized { burned_now });
        }
        match state {
            SessionState::Open => Ok(()),
            closed => Err(CaptureError::Closed(closed)),
        }
    }

    /// Counts a failed attempt (a wrong secret, an invalid card number);
    /// `true` if it was the one that burned the session.
    pub async fn fail(&self, session: &CaptureSession) -> Result<bool, Error> {
        let count = self.vault.record_failure(&session.id).await?;
        Ok(count == Some(MAX_FAILED_ATTEMPTS))
    }

    /// Captures one card into an open `session`: a new token (record, index
    /// item and card entry in one write) or, with dedup, the card's existing
    /// token (the card entry alone). Nothing is written unless all is.
    pub async fn capture(
        &self,
        session: &CaptureSession,
        request: CaptureRequest,
    ) -> Result<Captured, CaptureError> {
        let policy = &session.policy;
        if request.cardholder_name.is_some() && !policy.cardholder_name {
            return Err(CaptureError::NameNotRequested);
        }
        let now = self.clock.now_secs();
        if let Some(expiry) = request.card_expiry {
            // A card past its expiry is refused whatever the retention.
            expiry.resolve(now).map_err(Error::from)?;
        }
        let expiry = match policy.retention {
            Retention::Never => Expiry::Never,
            Retention::Ttl(seconds) => Expiry::ttl(seconds).map_err(Error::from)?,
            Retention::CardExpiry => request.card_expiry.ok_or(CaptureError::ExpiryRequired)?,
        };
        let wanted = TokenizeRequest {
            pan: request.pan,
            format: policy.format,
            expiry,
            metadata: policy.metadata.clone(),
            dedupe: request.dedup_granted && policy.dedupe != Some(false),
            scope: request.scope,
        };
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let prepared = self.tokenizer.prepare_capture(&wanted).await?;
            let (token, facts, answer, created) = match &prepared {
                Prepared::Existing { hit, fresh } => {
                    (hit.token.clone(), hit.facts.clone(), fresh.clone(), false)
                }
                Prepared::New { record, .. } => {
                    let facts = record.facts.clone();
                    (record.token.clone(), facts.clone(), facts, true)
                }
            };
            let card = CapturedCard {
                token: token.clone(),
                facts: facts.clone(),
                cardholder_name: request.cardholder_name.clone(),
            };
            let new = match &prepared {
                Prepared::Existing { .. } => None,
                Prepared::New {
                    record,
                    index,
                    stale,
                } => Some(NewRecord {
                    record,
                    index: index.as_ref(),
                    replacing: stale.as_ref(),
                }),
            };
            let write = CaptureWrite {
                session: &session.id,
                card: &card,
                new,
                now: self.clock.now_secs(),
            };
            match self.vault.capture(&write).await {
                Ok(()) => {
                    return Ok(Captured {
                        token,
                        facts,
                        answer,
                        created,
                    });
                }
                // A token collision: draw another. A lost dedup race: the
                // next pass finds the winner's index item and uses its token.
                Err(CaptureConflict::RecordExists | CaptureConflict::IndexExists) => {}
                Err(CaptureConflict::SessionClosed) => return Err(self.closed(&session.id).await),
                Err(CaptureConflict::Vault(e)) => return Err(Error::from(e).into()),
            }
        }
        Err(Error::Contention.into())
    }

    /// Why a capture found its session closed: read again, for the state.
    async fn closed(&self, id: &SessionId) -> CaptureError {
        match self.vault.get_session(id).await {
            Ok(Some(session)) => match session.state(self.clock.now_secs()) {
                // Open again on a re-read: the write met a conflicting one.
                SessionState::Open => Error::Contention.into(),
                closed => CaptureError::Closed(closed),
            },
            Ok(None) => CaptureError::Closed(SessionState::Expired),
            Err(e) => Error::from(e).into(),
        }
    }
}
