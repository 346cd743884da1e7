//! Card capture (hosted fields): a merchant backend opens a [`CaptureSession`]
//! for exact origins and gets a one-time [`ClientSecret`]; the shopper's
//! browser posts a card with that secret, and the [`Capturer`] seals it as
//! tokenize does and records the token on the session, in one atomic write.
//!
//! The secret is stored only as its SHA-256 ([`SecretHash`]) and compared in
//! constant time. A session's state ([`SessionState`]) is computed from the
//! clock on every read: DynamoDB's TTL deletes lazily, so it is never relied on.

mod capturer;
mod ids;
mod origin;
mod session;
mod store;
#[cfg(test)]
mod tests;

pub use capturer::{CaptureError, CaptureRequest, Captured, Capturer};
pub use ids::{
    CLIENT_SECRET_PREFIX, ClientSecret, SESSION_ID_PREFIX, SecretHash, SessionId, SessionIdError,
};
pub use origin::{CaptureOrigin, OriginError, OriginMode};
pub use session::{
    CaptureSession, CapturedCard, CardholderName, CardholderNameError, DEFAULT_LIFETIME_SECONDS,
    DEFAULT_MAX_CARDS, Lang, MAX_CARDHOLDER_NAME_CHARS, MAX_FAILED_ATTEMPTS, MAX_LIFETIME_SECONDS,
    MAX_MAX_CARDS, MAX_ORIGINS, MIN_LIFETIME_SECONDS, PolicyError, Retention, SessionPolicy,
    SessionState,
};
pub use store::{
    CaptureConflict, CaptureVault, CaptureWrite, NewRecord, SessionReader, SessionRegistry,
};
