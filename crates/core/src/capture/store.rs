//! The ports capture sessions are stored through, split by capability as
//! the IAM roles are: the capture-sessions function creates and reads
//! ([`SessionRegistry`]); the capture function reads, counts failures and
//! captures ([`CaptureVault`]).

use async_trait::async_trait;

use crate::ports::VaultError;
use crate::record::{IndexEntry, VaultRecord};
use crate::token::Token;

use super::ids::SessionId;
use super::session::{CaptureSession, CapturedCard};

/// Reads a session (strongly consistent: its state is judged on it).
#[async_trait]
pub trait SessionReader: Send + Sync {
    /// The session, if stored (expired ones included: the state says so).
    async fn get_session(&self, id: &SessionId) -> Result<Option<CaptureSession>, VaultError>;
}

/// What the capture-sessions function may do: create and read sessions.
#[async_trait]
pub trait SessionRegistry: SessionReader {
    /// Stores a new session where its id is free (a taken id, 128 random
    /// bits, is a store error, never an overwrite).
    async fn create_session(&self, session: &CaptureSession) -> Result<(), VaultError>;
}

/// A record a capture creates, with its dedup index item.
#[derive(Debug, Clone, Copy)]
pub struct NewRecord<'a> {
    /// The sealed record, written where its token is absent.
    pub record: &'a VaultRecord,
    /// Its index item, written on tokenize's condition (free, expired, or
    /// naming `replacing`).
    pub index: Option<&'a IndexEntry>,
    /// A stale token the index item may replace (see tokenize).
    pub replacing: Option<&'a Token>,
}

/// One capture's write: the session's card entry and, unless a dedup hit
/// answered, the new record and index item. All of it or nothing.
#[derive(Debug, Clone, Copy)]
pub struct CaptureWrite<'a> {
    /// The session.
    pub session: &'a SessionId,
    /// The card entry appended to it.
    pub card: &'a CapturedCard,
    /// `None` for a dedup hit: only the entry is written.
    pub new: Option<NewRecord<'a>>,
    /// The time the session must still be open at (Unix seconds).
    pub now: i64,
}

/// Why a capture's write did not happen. Nothing of it was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureConflict {
    /// The session is gone, used up, expired or burned.
    #[error("the capture session is not open")]
    SessionClosed,
    /// The record's token is taken: draw another.
    #[error("a record with this token already exists")]
    RecordExists,
    /// A live index item for this fingerprint exists: another writer won.
    #[error("the fingerprint is already indexed")]
    IndexExists,
    /// The store failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// What the capture function may do: read sessions, count failed attempts,
/// and capture. Its role writes records and index items only inside the
/// capture's transaction, and never reads a record.
#[async_trait]
pub trait CaptureVault: SessionReader {
    /// Counts a failed attempt on a stored session and returns the count
    /// after it; the one that reaches the cap also marks the session burned.
    /// `None` if no such session.
    async fn record_failure(&self, id: &SessionId) -> Result<Option<u32>, VaultError>;

    /// Writes a capture atomically, on the conditions: the session exists,
    /// has captured fewer than its `max_cards`, has not expired at `now`, is
    /// not burned and has fewer than the cap of failures; the record's token
    /// is absent; the index item's key is free, expired or names `replacing`.
    async fn capture(&self, write: &CaptureWrite<'_>) -> Result<(), CaptureConflict>;
}
