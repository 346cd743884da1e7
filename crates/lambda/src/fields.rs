//! Parsing single request fields into core types, with problems that never
//! quote the input.

use std::fmt;

use serde::{Deserialize, Deserializer};
use tessera_core::{Pan, PanError, Token, TokenError, TokenFormat};
use zeroize::Zeroizing;

use crate::problem::{Kind, Problem};

/// Longest detokenize `reason`; it is a purpose, not a narrative.
pub const MAX_REASON_CHARS: usize = 256;

/// A string that is wiped on drop and never printed: the PAN as sent.
#[derive(Default)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// The text. Named so every use is easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| SecretString(Zeroizing::new(s)))
    }
}

/// Parses a PAN, with a problem that never holds it.
pub fn parse_pan(text: &SecretString) -> Result<Pan, Problem> {
    Pan::parse(text.expose()).map_err(|e| match e {
        PanError::LuhnFailed => Problem::new(Kind::LuhnCheckFailed, e.to_string()),
        _ => Problem::new(Kind::InvalidPan, e.to_string()),
    })
}

/// Parses a token, with a problem that never holds it.
pub fn parse_token(text: &str) -> Result<Token, Problem> {
    Token::parse(text).map_err(|e| match e {
        TokenError::LooksLikePan => Problem::new(
            Kind::InvalidToken,
            "that is a card number, not a token; never send card numbers to this route",
        ),
        TokenError::Malformed => Problem::new(Kind::InvalidToken, e.to_string()),
    })
}

/// Parses a format name; `None` means the default, opaque.
pub fn parse_format(name: Option<&str>) -> Result<TokenFormat, Problem> {
    match name {
        None => Ok(TokenFormat::Opaque),
        Some(n) => TokenFormat::from_name(n)
            .ok_or_else(|| Problem::new(Kind::InvalidBody, "format must be `opaque` or `fpe`")),
    }
}

/// Checks a detokenize reason: present, short, and not a hiding place for a PAN.
pub fn parse_reason(reason: Option<&str>) -> Result<String, Problem> {
    let reason = reason.map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        return Err(Problem::new(
            Kind::InvalidReason,
            "`reason` is required: state why the card number is needed",
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(Problem::new(
            Kind::InvalidReason,
            format!("`reason` must be one line of at most {MAX_REASON_CHARS} characters"),
        ));
    }
    if tessera_core::contains_card_number(reason) {
        return Err(Problem::new(
            Kind::InvalidReason,
            "`reason` must not contain a card number, however written, or a run of 12 or more digits",
        ));
    }
    Ok(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        assert!(parse_reason(Some("chargeback CB-1234")).is_ok());
        assert_eq!(
            parse_reason(None).expect_err("missing").kind,
            Kind::InvalidReason
        );
        assert_eq!(
            parse_reason(Some("  ")).expect_err("blank").kind,
            Kind::InvalidReason
        );
        assert_eq!(
            parse_reason(Some("card 4111111111111111"))
                .expect_err("pan")
                .kind,
            Kind::InvalidReason
        );
        assert_eq!(
            parse_reason(Some("a\nb")).expect_err("multi-line").kind,
            Kind::InvalidReason
        );
        for written in [
            "card 4111 1111 1111 1111",
            "card 4111-1111-1111-1111",
            "card 4111.1111.1111.1111",
            "card 4111/1111/1111/1111",
            "card \u{ff14}\u{ff11}\u{ff11}\u{ff11}111111111111",
        ] {
            assert_eq!(
                parse_reason(Some(written)).expect_err("pan").kind,
                Kind::InvalidReason,
                "{written:?}"
            );
        }
        assert!(
            parse_reason(Some(
                "chargeback on 2026-11-26 at 10:15, call +1 555-123-4567"
            ))
            .is_ok()
        );
    }

    #[test]
    fn a_reason_may_be_exactly_the_longest_allowed() {
        let longest = "r".repeat(MAX_REASON_CHARS);
        assert_eq!(
            parse_reason(Some(&longest)).as_deref(),
            Ok(longest.as_str())
        );
        assert_eq!(
            parse_reason(Some(&format!("{longest}r")))
                .expect_err("long")
                .kind,
            Kind::InvalidReason
        );
        assert_eq!(
            parse_reason(Some("  chargeback  ")).as_deref(),
            Ok("chargeback")
        );
    }

    #[test]
    fn card_numbers_tokens_and_formats_parse_with_their_own_problems() {
        let secret = |s: &str| SecretString(Zeroizing::new(s.to_owned()));
        let pan = parse_pan(&secret("4111 1111 1111 1111")).expect("valid");
        assert_eq!(pan.last4(), "1111");
        assert_eq!(
            parse_pan(&secret("4111111111111112"))
                .expect_err("luhn")
                .kind,
            Kind::LuhnCheckFailed
        );
        assert_eq!(
            parse_pan(&secret("41111")).expect_err("short").kind,
            Kind::InvalidPan
        );
        assert_eq!(format!("{:?}", secret("4111111111111111")), "[REDACTED]");
        let sent: SecretString = serde_json::from_str(r#""4111111111111111""#).expect("json");
        assert_eq!(sent.expose(), "4111111111111111");

        assert_eq!(parse_format(None), Ok(TokenFormat::Opaque));
        assert_eq!(parse_format(Some("fpe")), Ok(TokenFormat::Fpe));
        assert_eq!(
            parse_format(Some("FPE")).expect_err("unknown").kind,
            Kind::InvalidBody
        );
        let card = parse_token("4111111111111111").expect_err("a card");
        assert!(card.detail.contains("card number"), "{}", card.detail);
        assert_eq!(
            parse_token("tok_").expect_err("malformed").kind,
            Kind::InvalidToken
        );
    }
}
