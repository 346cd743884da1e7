//! The API's operations as `tessera call` subcommands, and each one's
//! request: its function, method, path and body, built and checked before
//! anything is sent.

use std::io::Read;
use std::path::PathBuf;

use http::Method;
use tessera_core::contains_card_number;
use zeroize::Zeroizing;

use super::body::{
    CreateCaptureSessionBody, DetokenizeBody, LookupBody, TokenizeBody, json, metadata_arg,
    origins_arg, session_arg, token_arg,
};
use super::{Expect, read_pan};
use crate::CliError;

/// A token format.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `tok_` and 26 random base32 characters.
    Opaque,
    /// The PAN's length, its first 6 and last 4 digits, failing Luhn.
    Fpe,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Opaque => "opaque",
            Format::Fpe => "fpe",
        }
    }
}

/// The hosted frame's language.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameLang {
    /// English.
    En,
    /// German.
    De,
}

impl FrameLang {
    fn name(self) -> &'static str {
        match self {
            FrameLang::En => "en",
            FrameLang::De => "de",
        }
    }
}

/// The API's operations.
#[derive(clap::Subcommand, Debug)]
pub enum Operation {
    /// Tokenizes the card number read from stdin (or --file): POST /v1/tokens.
    Tokenize {
        /// The token format (the API's default: opaque).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Read the card number from this file instead of stdin.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Caller metadata: a JSON object of strings, e.g. '{"order":"A-17"}'.
        #[arg(long)]
        metadata: Option<String>,
        /// Issue a new token even if the card has one (`dedupe: false`).
        #[arg(long)]
        no_dedupe: bool,
        /// The token expires after this many seconds.
        #[arg(long, conflicts_with = "expires")]
        ttl_seconds: Option<u64>,
        /// The token expires with the card, `MM/YY`.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Prints the card number of TOKEN, alone, on stdout: POST /v1/detokenize.
    Detokenize {
        /// The token.
        token: String,
        /// Why the card number is needed; recorded in the audit event.
        #[arg(long)]
        reason: String,
    },
    /// Prints a token's facts (never the card number): GET /v1/tokens/{token}.
    Describe {
        /// The token.
        token: String,
    },
    /// Finds the token of the card number read from stdin (or --file),
    /// creating nothing: POST /v1/tokens/lookup.
    Lookup {
        /// The token format to look for (the API's default: opaque).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Read the card number from this file instead of stdin.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Erases a token from the vault: DELETE /v1/tokens/{token}.
    Delete {
        /// The token.
        token: String,
    },
    /// Opens a capture session for the hosted card frame and prints it with
    /// its client secret, which no later call shows: POST /v1/capture-sessions.
    CreateCaptureSession {
        /// An origin that may embed the frame and post the card, exactly
        /// `https://host[:port]`; repeat for more.
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
        /// The captured tokens' format (the API's default: opaque).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Issue new tokens even for cards that have one (`dedupe: false`).
        #[arg(long)]
        no_dedupe: bool,
        /// The captured tokens expire after this many seconds.
        #[arg(long, conflicts_with = "expires_with_card")]
        ttl_seconds: Option<u64>,
        /// The captured tokens expire with the expiry typed in the frame
        /// (`expires: card`).
        #[arg(long)]
        expires_with_card: bool,
        /// Metadata stored with each captured token: a JSON object of strings.
        #[arg(long)]
        metadata: Option<String>,
        /// The session's life, 60 to 3600 seconds (the API's default: 900).
        #[arg(long)]
        expires_in_seconds: Option<u64>,
        /// Cards the session captures, 1 to 10 (the API's default: 1).
        #[arg(long)]
        max_cards: Option<u32>,
        /// The frame's language (the API's default: en).
        #[arg(long, value_enum)]
        lang: Option<FrameLang>,
    },
    /// Prints a capture session's state and the token facts of the cards it
    /// captured (never a card number): GET /v1/capture-sessions/{id}.
    GetCaptureSession {
        /// The session id (`cs_` and 26 base32 characters).
        id: String,
    },
}

/// One request, ready to sign: which function serves it, and what it expects back.
pub struct Planned {
    /// The function whose URL serves it (for a per-function endpoint).
    pub function: &'static str,
    /// The method.
    pub method: Method,
    /// The path, from `/v1`.
    pub path: String,
    /// The JSON body. Zeroed on drop: it may hold a card number.
    pub body: Option<Zeroizing<Vec<u8>>>,
    /// What a success looks like.
    pub expect: Expect,
}

impl Operation {
    /// Checks the arguments, reads the card number if the operation takes
    /// one, and builds the request. Nothing is sent.
    pub fn plan(&self, stdin: &mut dyn Read) -> Result<Planned, CliError> {
        let planned = |function, method, path: &str, body, expect| Planned {
            function,
            method,
            path: path.to_owned(),
            body,
            expect,
        };
        match self {
            Operation::Tokenize {
                format,
                file,
                metadata,
                no_dedupe,
                ttl_seconds,
                expires,
            } => {
                let metadata = metadata.as_deref().map(metadata_arg).transpose()?;
                let pan = read_pan(file.as_deref(), stdin)?;
                let body = json(&TokenizeBody {
                    pan: pan.expose_digits(),
                    format: format.map(Format::name),
                    ttl_seconds: *ttl_seconds,
                    expires: expires.as_deref(),
                    metadata: metadata.as_ref(),
                    dedupe: no_dedupe.then_some(false),
                })?;
                Ok(planned(
                    "tokenize",
                    Method::POST,
                    "/v1/tokens",
                    Some(body),
                    Expect::Facts,
                ))
            }
            Operation::Lookup { format, file } => {
                let pan = read_pan(file.as_deref(), stdin)?;
                let body = json(&LookupBody {
                    pan: pan.expose_digits(),
                    format: format.map(Format::name),
                })?;
                Ok(planned(
                    "tokenize",
                    Method::POST,
                    "/v1/tokens/lookup",
                    Some(body),
                    Expect::Facts,
                ))
            }
            Operation::Detokenize { token, reason } => {
                let token = token_arg(token)?;
                if contains_card_number(reason) {
                    return Err(CliError::Refused(
                        "--reason: a reason must not hold a card number".into(),
                    ));
                }
                let body = json(&DetokenizeBody {
                    token: token.as_str(),
                    reason,
                })?;
                Ok(planned(
                    "detokenize",
                    Method::POST,
                    "/v1/detokenize",
                    Some(body),
                    Expect::Pan,
                ))
            }
            Operation::Describe { token } => {
                let token = token_arg(token)?;
                Ok(planned(
                    "tokenize",
                    Method::GET,
                    &format!("/v1/tokens/{}", token.as_str()),
                    None,
                    Expect::Facts,
                ))
            }
            Operation::Delete { token } => {
                let token = token_arg(token)?;
                Ok(planned(
                    "admin",
                    Method::DELETE,
                    &format!("/v1/tokens/{}", token.as_str()),
                    None,
                    Expect::Nothing(token),
                ))
            }
            Operation::CreateCaptureSession {
                origins,
                format,
                no_dedupe,
                ttl_seconds,
                expires_with_card,
                metadata,
                expires_in_seconds,
                max_cards,
                lang,
            } => {
                origins_arg(origins)?;
                let metadata = metadata.as_deref().map(metadata_arg).transpose()?;
                let body = json(&CreateCaptureSessionBody {
                    origins,
                    format: format.map(Format::name),
                    dedupe: no_dedupe.then_some(false),
                    ttl_seconds: *ttl_seconds,
                    expires: expires_with_card.then_some("card"),
                    metadata: metadata.as_ref(),
                    expires_in_seconds: *expires_in_seconds,
                    max_cards: *max_cards,
                    lang: lang.map(FrameLang::name),
                })?;
                Ok(planned(
                    "capture-sessions",
                    Method::POST,
                    "/v1/capture-sessions",
                    Some(body),
                    Expect::Facts,
                ))
            }
            Operation::GetCaptureSession { id } => {
                let id = session_arg(id)?;
                Ok(planned(
                    "capture-sessions",
                    Method::GET,
                    &format!("/v1/capture-sessions/{}", id.as_str()),
                    None,
                    Expect::Facts,
                ))
            }
        }
    }
}
