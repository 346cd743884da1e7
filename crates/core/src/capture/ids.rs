//! Session ids and client secrets: random, and the secret never printed.

use std::fmt;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::random::Random;

/// Prefix of every session id.
pub const SESSION_ID_PREFIX: &str = "cs_";
/// Prefix of every client secret.
pub const CLIENT_SECRET_PREFIX: &str = "cscs_";
/// Base32 characters after the prefix: 26 × 5 bits hold the 128 random bits.
const SESSION_ID_CHARS: usize = 26;
/// RFC 4648 base32, lower case.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Random bytes in a client secret: 256 bits, far past guessing even
/// without the per-session attempt cap.
const SECRET_BYTES: usize = 32;
/// Base64url characters of 32 bytes, unpadded.
const SECRET_CHARS: usize = 43;

/// Why a string is not a session id. Never carries the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a capture session id: expected cs_ and 26 lower-case base32 characters")]
pub struct SessionIdError;

/// A capture session's id: `cs_` + 26 lower-case base32 characters (128
/// random bits). Not a secret (it sits in URLs and logs); the secret is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// A new random id.
    pub fn generate(rng: &dyn Random) -> SessionId {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes);
        // 128 bits in 26 five-bit groups: the first group holds the top 3 bits.
        let mut value = u128::from_be_bytes(bytes);
        let mut out = [0u8; SESSION_ID_CHARS];
        for slot in out.iter_mut().rev() {
            *slot = BASE32[(value & 0x1f) as usize];
            value >>= 5;
        }
        let mut id = String::with_capacity(SESSION_ID_PREFIX.len() + SESSION_ID_CHARS);
        id.push_str(SESSION_ID_PREFIX);
        id.extend(out.iter().map(|b| char::from(*b)));
        SessionId(id)
    }

    /// Parses an id in its canonical form.
    ///
    /// ```
    /// use tessera_core::capture::SessionId;
    /// assert!(SessionId::parse("cs_abcdefghijklmnopqrstuvwxyz").is_ok());
    /// assert!(SessionId::parse("cs_ABCDEFGHIJKLMNOPQRSTUVWXYZ").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<SessionId, SessionIdError> {
        let body = input
            .strip_prefix(SESSION_ID_PREFIX)
            .ok_or(SessionIdError)?;
        let canonical = body.len() == SESSION_ID_CHARS && body.bytes().all(|b| BASE32.contains(&b));
        canonical
            .then(|| SessionId(input.to_owned()))
            .ok_or(SessionIdError)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A session's client secret: `cscs_` + 43 base64url characters (256 random
/// bits). Returned once at creation, held by the shopper's browser; the vault
/// keeps only its [`SecretHash`]. Wiped on drop, never printed.
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// A new random secret.
    pub fn generate(rng: &dyn Random) -> ClientSecret {
        let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
        rng.fill(bytes.as_mut());
        let mut text = Zeroizing::new(String::with_capacity(
            CLIENT_SECRET_PREFIX.len() + SECRET_CHARS,
        ));
        text.push_str(CLIENT_SECRET_PREFIX);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(bytes.as_ref(), &mut text);
        ClientSecret(text)
    }

    /// Takes a secret as presented by a caller (a bearer credential). Any
    /// text is accepted: a malformed one simply never matches a hash, so a
    /// caller learns nothing from how it was refused.
    pub fn presented(text: &str) -> ClientSecret {
        ClientSecret(Zeroizing::new(text.to_owned()))
    }

    /// The secret's text, to return once to the session's creator. Named so
    /// every use is easy to audit.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Its SHA-256, the only form the vault stores.
    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([REDACTED])")
    }
}

/// The SHA-256 of a client secret. A plain hash suffices: the secret has 256
/// random bits, so no dictionary reaches it and no salt or stretching helps.
#[derive(Clone, Copy)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// From stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> SecretHash {
        SecretHash(bytes)
    }

    /// The digest bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `secret` hashes to this, compared in constant time.
    pub fn verifies(&self, secret: &ClientSecret) -> bool {
        self.0.ct_eq(&secret.hash().0).into()
    }
}

impl PartialEq for SecretHash {
    fn eq(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretHash {}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash of 256 random bits reveals nothing, but it is a credential's
        // verifier: keep it out of logs all the same.
        f.write_str("SecretHash([REDACTED])")
    }
}
