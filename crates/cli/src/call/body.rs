//! The JSON bodies of `tessera call`, and the checks of the arguments that
//! go into them.

use std::collections::BTreeMap;

use serde::Serialize;
use tessera_core::capture::SessionId;
use tessera_core::{Metadata, Token, contains_card_number};
use zeroize::Zeroizing;

use crate::CliError;

#[derive(Serialize)]
pub(super) struct TokenizeBody<'a> {
    pub(super) pan: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) format: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ttl_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) expires: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) metadata: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) dedupe: Option<bool>,
}

#[derive(Serialize)]
pub(super) struct LookupBody<'a> {
    pub(super) pan: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) format: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct DetokenizeBody<'a> {
    pub(super) token: &'a str,
    pub(super) reason: &'a str,
}

#[derive(Serialize)]
pub(super) struct CreateCaptureSessionBody<'a> {
    pub(super) origins: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) format: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) dedupe: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ttl_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) expires: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) metadata: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) expires_in_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_cards: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) lang: Option<&'a str>,
}

/// Serializes into a buffer sized up front, so no reallocation leaves a
/// copy of a card number behind in freed memory.
pub(super) fn json(value: &impl Serialize) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut out = Zeroizing::new(Vec::with_capacity(4096));
    serde_json::to_writer(&mut *out, value)
        .map_err(|_| CliError::Refused("cannot encode the request".into()))?;
    Ok(out)
}

/// A token argument, refused (unquoted) if it is not a token, above all if
/// it is a card number.
pub(super) fn token_arg(text: &str) -> Result<Token, CliError> {
    Token::parse(text.trim()).map_err(|e| CliError::Refused(format!("TOKEN: {e}")))
}

/// A capture session id argument, refused (unquoted) if it is not one.
pub(super) fn session_arg(text: &str) -> Result<SessionId, CliError> {
    SessionId::parse(text.trim()).map_err(|e| CliError::Refused(format!("ID: {e}")))
}

/// `--origin`: the API checks each origin's form; a card number typed in
/// one is refused here, unquoted, so it is not sent.
pub(super) fn origins_arg(origins: &[String]) -> Result<(), CliError> {
    match origins.iter().position(|o| contains_card_number(o)) {
        Some(i) => Err(CliError::Refused(format!(
            "--origin {}: an origin must not hold a card number",
            i + 1
        ))),
        None => Ok(()),
    }
}

/// `--metadata`: a JSON object of strings, checked as the API checks it
/// (at most 10 pairs, 256 bytes each, no card number), so a card number put
/// there is not sent. serde's own messages quote input, so none is shown.
pub(super) fn metadata_arg(text: &str) -> Result<BTreeMap<String, String>, CliError> {
    let map: BTreeMap<String, String> = serde_json::from_str(text)
        .map_err(|_| CliError::Refused("--metadata: give a JSON object of string values".into()))?;
    Metadata::new(map.clone()).map_err(|e| CliError::Refused(format!("--metadata: {e}")))?;
    Ok(map)
}
