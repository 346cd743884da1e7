//! A capture session: what it allows, what it has captured, and its state.

use std::fmt;

use crate::cardtext::contains_card_number;
use crate::metadata::Metadata;
use crate::record::TokenFacts;
use crate::token::{Token, TokenFormat};

use super::ids::{SecretHash, SessionId};
use super::origin::CaptureOrigin;

/// Failed attempts (wrong secret, invalid card number) that burn a session:
/// a card-testing script gets five guesses per session, not a stream.
pub const MAX_FAILED_ATTEMPTS: u32 = 5;
/// Most origins one session names.
pub const MAX_ORIGINS: usize = 10;
/// Most cards one session captures.
pub const MAX_MAX_CARDS: u32 = 10;
/// Cards a session captures unless told otherwise.
pub const DEFAULT_MAX_CARDS: u32 = 1;
/// Shortest session life: time enough to load a checkout page.
pub const MIN_LIFETIME_SECONDS: u64 = 60;
/// Longest session life: a secret in a browser should not outlive a checkout.
pub const MAX_LIFETIME_SECONDS: u64 = 3600;
/// Session life unless told otherwise.
pub const DEFAULT_LIFETIME_SECONDS: u64 = 900;
/// Longest cardholder name kept.
pub const MAX_CARDHOLDER_NAME_CHARS: usize = 100;

/// How long a session's tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retention {
    /// Never expire.
    #[default]
    Never,
    /// Expire this many seconds after capture (checked as tokenize's `ttl_seconds`).
    Ttl(u64),
    /// Expire with the card: the frame's expiry field becomes required.
    CardExpiry,
}

/// The frame's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// German.
    De,
}

impl Lang {
    /// The BCP 47 tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// Parses a tag written by [`Lang::as_str`].
    pub fn from_name(name: &str) -> Option<Lang> {
        match name {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            _ => None,
        }
    }
}

/// Why a session policy was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// No origin, or more than [`MAX_ORIGINS`], or one twice.
    #[error("name 1 to {MAX_ORIGINS} distinct origins")]
    Origins,
    /// `max_cards` outside 1 to [`MAX_MAX_CARDS`].
    #[error("max_cards must be 1 to {MAX_MAX_CARDS}")]
    MaxCards,
    /// The lifetime outside [`MIN_LIFETIME_SECONDS`] to [`MAX_LIFETIME_SECONDS`].
    #[error("expires_in_seconds must be {MIN_LIFETIME_SECONDS} to {MAX_LIFETIME_SECONDS}")]
    Lifetime,
}

/// What a session allows: where it may be embedded and how its tokens are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    origins: Vec<CaptureOrigin>,
    /// The tokens' format.
    pub format: TokenFormat,
    /// `Some(false)` opts out of dedup; otherwise the creator's dedup grant decides.
    pub dedupe: Option<bool>,
    /// How long the tokens live.
    pub retention: Retention,
    /// Metadata stored with each token.
    pub metadata: Metadata,
    /// Whether the session takes a cardholder name with each card (the
    /// merchant's `fields: {name: true}`). A name sent to a session that did
    /// not ask for one is refused: the name is personal data the merchant
    /// chose not to collect, and text its back office would show as the
    /// vault's.
    pub cardholder_name: bool,
    max_cards: u32,
    lifetime_seconds: u64,
    /// The frame's default language.
    pub lang: Lang,
}

impl SessionPolicy {
    /// A policy for `origins`, with the defaults: opaque, dedup by grant, no
    /// expiry, no metadata, no cardholder name, one card, 15 minutes, English.
    pub fn new(origins: Vec<CaptureOrigin>) -> Result<SessionPolicy, PolicyError> {
        let mut sorted = origins.clone();
        sorted.sort();
        sorted.dedup();
        if origins.is_empty() || origins.len() > MAX_ORIGINS || sorted.len() != origins.len() {
            return Err(PolicyError::Origins);
        }
        Ok(SessionPolicy {
            origins,
            format: TokenFormat::Opaque,
            dedupe: None,
            retention: Retention::Never,
            metadata: Metadata::default(),
            cardholder_name: false,
            max_cards: DEFAULT_MAX_CARDS,
            lifetime_seconds: DEFAULT_LIFETIME_SECONDS,
            lang: Lang::En,
        })
    }

    /// Sets how many cards the session captures.
    pub fn with_max_cards(mut self, max_cards: u32) -> Result<SessionPolicy, PolicyError> {
        if !(1..=MAX_MAX_CARDS).contains(&max_cards) {
            return Err(PolicyError::MaxCards);
        }
        self.max_cards = max_cards;
        Ok(self)
    }

    /// Sets how long the session lives.
    pub fn with_lifetime(mut self, seconds: u64) -> Result<SessionPolicy, PolicyError> {
        if !(MIN_LIFETIME_SECONDS..=MAX_LIFETIME_SECONDS).contains(&seconds) {
            return Err(PolicyError::Lifetime);
        }
        self.lifetime_seconds = seconds;
        Ok(self)
    }

    /// The origins, in the order given.
    pub fn origins(&self) -> &[CaptureOrigin] {
        &self.origins
    }

    /// Whether `origin` (an `Origin` header's text) is one of the session's, exactly.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.as_str() == origin)
    }

    /// Most cards the session captures.
    pub fn max_cards(&self) -> u32 {
        self.max_cards
    }

    /// Seconds the session lives.
    pub fn lifetime_seconds(&self) -> u64 {
        self.lifetime_seconds
    }
}

/// Where a session stands, computed from the clock on every read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// It may capture.
    Open,
    /// It has captured `max_cards` cards.
    Used,
    /// Its lifetime is over.
    Expired,
    /// It met [`MAX_FAILED_ATTEMPTS`] failed attempts.
    Burned,
}

impl SessionState {
    /// The state's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Open => "open",
            SessionState::Used => "used",
            SessionState::Expired => "expired",
            SessionState::Burned => "burned",
        }
    }
}

/// Why a cardholder name was refused. Never carries the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardholderNameError {
    /// Empty, over-long, or holding control characters.
    #[error("the cardholder name must be 1 to {MAX_CARDHOLDER_NAME_CHARS} characters on one line")]
    Shape,
    /// It holds a card number (a PAN typed into the wrong field).
    #[error("the cardholder name must not contain a card number")]
    LooksLikePan,
}

/// A cardholder name as typed, checked to hold no card number.
#[derive(Clone, PartialEq, Eq)]
pub struct CardholderName(String);

impl CardholderName {
    /// Checks a name: one short line, and no card number however written.
    pub fn parse(text: &str) -> Result<CardholderName, CardholderNameError> {
        let name = text.trim();
        if name.is_empty()
            || name.chars().count() > MAX_CARDHOLDER_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(CardholderNameError::Shape);
        }
        if contains_card_number(name) {
            return Err(CardholderNameError::LooksLikePan);
        }
        Ok(CardholderName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardholderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data, not card data: still kept out of logs.
        f.write_str("CardholderName([REDACTED])")
    }
}

/// One card a session captured: its token's facts, never its PAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedCard {
    /// The token.
    pub token: Token,
    /// Its facts.
    pub facts: TokenFacts,
    /// The name typed with it, if any.
    pub cardholder_name: Option<CardholderName>,
}

/// A capture session, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSession {
    /// Its id.
    pub id: SessionId,
    /// The SHA-256 of its client secret.
    pub secret_hash: SecretHash,
    /// The role ARN that created it: only it may read the session, and its
    /// dedup scope and grant apply to the tokens.
    pub owner: String,
    /// What it allows.
    pub policy: SessionPolicy,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it stops capturing (Unix seconds).
    pub expires_at: i64,
    /// Failed attempts so far.
    pub failed_attempts: u32,
    /// Set once the failed attempts reached [`MAX_FAILED_ATTEMPTS`].
    pub burned: bool,
    /// What it captured, in order.
    pub cards: Vec<CapturedCard>,
}

impl CaptureSession {
    /// A new, empty session created at `now`.
    pub fn new(
        id: SessionId,
        secret_hash: SecretHash,
        owner: impl Into<String>,
        policy: SessionPolicy,
        now: i64,
    ) -> CaptureSession {
        let expires_at = now.saturating_add_unsigned(policy.lifetime_seconds());
        CaptureSession {
            id,
            secret_hash,
            owner: owner.into(),
            policy,
            created_at: now,
            expires_at,
            failed_attempts: 0,
            burned: false,
            cards: Vec::new(),
        }
    }

    /// The state at `now`. Burned wins over expired (it is the one a
    /// merchant must act on), then expired over used; but a session that
    /// captured all its cards is never burned. Its shopper paid, and its id
    /// is no secret: failures counted after that (which the capturer no
    /// longer counts, or a wrong secret racing the last capture) must not
    /// make a paid checkout read as an attack.
    pub fn state(&self, now: i64) -> SessionState {
        let used = self.captured() >= self.policy.max_cards();
        if !used && (self.burned || self.failed_attempts >= MAX_FAILED_ATTEMPTS) {
            SessionState::Burned
        } else if now >= self.expires_at {
            SessionState::Expired
        } else if used {
            SessionState::Used
        } else {
            SessionState::Open
        }
    }

    /// Cards captured so far.
    pub fn captured(&self) -> u32 {
        u32::try_from(self.cards.len()).unwrap_or(u32::MAX)
    }
}
