//! Request and response bodies, and their parsing into core types.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use tessera_core::{
    Detokenized, Expiry, Metadata, Pan, PanError, Token, TokenDescription, TokenError, TokenFacts,
    TokenFormat, TokenizeRequest, Tokenized,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::problem::{Kind, Problem};

/// Largest body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest detokenize `reason`; it is a purpose, not a narrative.
pub const MAX_REASON_CHARS: usize = 256;
/// Field names that carry a card security code. PCI DSS 3.3.1 forbids
/// storing it after authorization, so a request holding one is refused whole.
const FORBIDDEN_FIELDS: &[&str] = &[
    "cvv",
    "cvc",
    "cvv2",
    "cvc2",
    "csc",
    "cid2",
    "security_code",
    "card_security_code",
];

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

/// One tokenize request body (also one batch item).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeBody {
    /// The card number.
    pub pan: SecretString,
    /// `opaque` (default) or `fpe`.
    #[serde(default)]
    pub format: Option<String>,
    /// Seconds until the token expires.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// The card's expiry, `MM/YY`; the token expires with the card.
    #[serde(default)]
    pub expires: Option<String>,
    /// Caller metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Return the existing token for this card (default `true`).
    #[serde(default)]
    pub dedupe: Option<bool>,
}
const TOKENIZE_FIELDS: &[&str] = &[
    "pan",
    "format",
    "ttl_seconds",
    "expires",
    "metadata",
    "dedupe",
];

/// A batch of tokenize items.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeBatchBody {
    /// The items, at most 100.
    pub items: Vec<TokenizeBody>,
}

/// A lookup body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    /// The card number.
    pub pan: SecretString,
    /// The token format to look for (default `opaque`).
    #[serde(default)]
    pub format: Option<String>,
}
const LOOKUP_FIELDS: &[&str] = &["pan", "format"];

/// A detokenize body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetokenizeBody {
    /// The token.
    pub token: String,
    /// Why the PAN is needed; recorded in the audit event.
    #[serde(default)]
    pub reason: Option<String>,
}
const DETOKENIZE_FIELDS: &[&str] = &["token", "reason"];

/// A batch detokenize body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetokenizeBatchBody {
    /// The tokens, at most 100.
    pub tokens: Vec<String>,
    /// Why the PANs are needed; recorded in the audit event.
    #[serde(default)]
    pub reason: Option<String>,
}
const DETOKENIZE_BATCH_FIELDS: &[&str] = &["tokens", "reason"];

/// The fields each body may carry, checked before typed parsing so the
/// problem can name the field safely.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `POST /v1/tokens`.
    Tokenize,
    /// `POST /v1/tokens/batch`.
    TokenizeBatch,
    /// `POST /v1/tokens/lookup`.
    Lookup,
    /// `POST /v1/detokenize`.
    Detokenize,
    /// `POST /v1/detokenize/batch`.
    DetokenizeBatch,
}

fn safe_name(name: &str) -> String {
    let plain = name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-');
    if plain {
        format!("`{name}`")
    } else {
        "a field".to_owned()
    }
}

fn forbidden_field(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| {
            FORBIDDEN_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(k)) || forbidden_field(v)
        }),
        Value::Array(items) => items.iter().any(forbidden_field),
        _ => false,
    }
}

fn check_fields(value: &Value, allowed: &[&str]) -> Result<(), Problem> {
    let Value::Object(map) = value else {
        return Err(Problem::new(
            Kind::InvalidBody,
            "the body must be a JSON object",
        ));
    };
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Problem::new(
            Kind::UnknownField,
            format!(
                "{} is not accepted here; accepted: {}",
                safe_name(k),
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// Parses a JSON body of `shape` into `T`: forbidden fields first (anywhere),
/// then unknown fields, then types. No message quotes the input.
pub fn parse_body<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    shape: Shape,
) -> Result<T, Problem> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(
            Kind::InvalidJson,
            format!(
                "JSON syntax error at line {}, column {}",
                e.line(),
                e.column()
            ),
        )
    })?;
    if forbidden_field(&value) {
        return Err(Problem::new(
            Kind::ForbiddenField,
            "remove the card security code (cvv, cvc, cvv2): it must never be sent or stored",
        ));
    }
    match shape {
        Shape::Tokenize => check_fields(&value, TOKENIZE_FIELDS)?,
        Shape::Lookup => check_fields(&value, LOOKUP_FIELDS)?,
        Shape::Detokenize => check_fields(&value, DETOKENIZE_FIELDS)?,
        Shape::DetokenizeBatch => check_fields(&value, DETOKENIZE_BATCH_FIELDS)?,
        Shape::TokenizeBatch => {
            check_fields(&value, &["items"])?;
            if let Some(Value::Array(items)) = value.get("items") {
                for item in items {
                    check_fields(item, TOKENIZE_FIELDS)?;
                }
            }
        }
    }
    serde_json::from_value(value).map_err(|e| {
        // serde's message may quote a value (a PAN sent as a number): use only its category.
        let what = if e.to_string().starts_with("missing field") {
            "a required field is missing"
        } else {
            "a field has the wrong type"
        };
        Problem::new(
            Kind::InvalidBody,
            format!("{what}; see the API documentation"),
        )
    })
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
    let digits_in_a_row = reason
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if digits_in_a_row >= tessera_core::MIN_PAN_DIGITS {
        return Err(Problem::new(
            Kind::InvalidReason,
            "`reason` must not contain long digit runs",
        ));
    }
    Ok(reason.to_owned())
}

impl TokenizeBody {
    /// The core request this body asks for.
    pub fn into_request(self) -> Result<TokenizeRequest, Problem> {
        let pan = parse_pan(&self.pan)?;
        let format = parse_format(self.format.as_deref())?;
        let expiry = match (self.ttl_seconds, self.expires.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(Problem::new(
                    Kind::InvalidExpiry,
                    "give ttl_seconds or expires, not both",
                ));
            }
            (Some(s), None) => Expiry::ttl(s),
            (None, Some(mm_yy)) => Expiry::card(mm_yy),
            (None, None) => Ok(Expiry::Never),
        }
        .map_err(|e| Problem::new(Kind::InvalidExpiry, e.to_string()))?;
        let metadata = Metadata::new(self.metadata)
            .map_err(|e| Problem::new(Kind::InvalidMetadata, e.to_string()))?;
        Ok(TokenizeRequest {
            pan,
            format,
            expiry,
            metadata,
            dedupe: self.dedupe.unwrap_or(true),
        })
    }
}

fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A token and its facts, as every tokenize-side response shows them.
#[derive(Debug, Serialize)]
pub struct TokenView {
    /// The token.
    pub token: String,
    /// `opaque` or `fpe`.
    pub format: &'static str,
    /// First six digits.
    pub bin: String,
    /// Last four digits.
    pub last4: String,
    /// The brand.
    pub brand: &'static str,
    /// Digits in the PAN.
    pub pan_length: u8,
    /// When issued, RFC 3339.
    pub created_at: String,
    /// When it stops detokenizing, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Caller metadata (describe only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl TokenView {
    /// The view of `facts` for `token`.
    pub fn new(token: &Token, facts: &TokenFacts) -> TokenView {
        TokenView {
            token: token.as_str().to_owned(),
            format: facts.format.as_str(),
            bin: facts.bin.clone(),
            last4: facts.last4.clone(),
            brand: facts.brand.as_str(),
            pan_length: facts.pan_length,
            created_at: rfc3339(facts.created_at),
            expires_at: facts.expires_at.map(rfc3339),
            metadata: None,
        }
    }

    /// The view of a tokenize result.
    pub fn issued(t: &Tokenized) -> TokenView {
        TokenView::new(&t.token, &t.facts)
    }

    /// The view of a describe result, metadata included.
    pub fn described(token: &Token, d: &TokenDescription) -> TokenView {
        TokenView {
            metadata: Some(d.metadata.as_map().clone()),
            ..TokenView::new(token, &d.facts)
        }
    }
}

/// A detokenize result: the PAN and the token's facts.
#[derive(Serialize)]
pub struct DetokenizedView {
    /// The card number.
    pub pan: String,
    /// The facts.
    #[serde(flatten)]
    pub facts: TokenView,
}

impl DetokenizedView {
    /// The view of a detokenize result.
    pub fn new(d: &Detokenized) -> DetokenizedView {
        DetokenizedView {
            pan: d.pan.expose_digits().to_owned(),
            facts: TokenView::new(&d.token, &d.facts),
        }
    }
}

impl fmt::Debug for DetokenizedView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetokenizedView")
            .field("pan", &"[REDACTED]")
            .field("facts", &self.facts)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvv_anywhere_is_forbidden() {
        for body in [
            r#"{"pan":"4111111111111111","cvv":"123"}"#,
            r#"{"pan":"4111111111111111","CVC":"123"}"#,
            r#"{"pan":"4111111111111111","metadata":{"cvv2":"123"}}"#,
            r#"{"items":[{"pan":"4111111111111111","cvv":"1"}]}"#,
        ] {
            let shape = if body.contains("items") {
                Shape::TokenizeBatch
            } else {
                Shape::Tokenize
            };
            let e = parse_body::<Value>(body.as_bytes(), shape).expect_err("refused");
            assert_eq!(e.kind, Kind::ForbiddenField, "{body}");
        }
    }

    #[test]
    fn errors_never_quote_input() {
        for body in [
            r#"{"pan":4111111111111111}"#,
            r#"{"pan":"4111111111111111","4111111111111111":1}"#,
            r#"{"pan":"4111111111111111",}"#,
            r#"[4111111111111111]"#,
        ] {
            let e =
                parse_body::<TokenizeBody>(body.as_bytes(), Shape::Tokenize).expect_err("refused");
            assert!(!e.detail.contains("4111"), "{}", e.detail);
        }
        let e = parse_body::<TokenizeBody>(br#"{"pan":"1","colour":1}"#, Shape::Tokenize)
            .expect_err("unknown");
        assert_eq!(e.kind, Kind::UnknownField);
        assert!(e.detail.contains("`colour`"));
    }

    #[test]
    fn request_bodies_never_print_the_pan() {
        let body: TokenizeBody = parse_body(
            br#"{"pan":"4111 1111 1111 1111","format":"fpe"}"#,
            Shape::Tokenize,
        )
        .expect("valid");
        let printed = format!("{body:?} {:?}", body.pan);
        assert!(!printed.contains("4111"), "{printed}");
        let request = body.into_request().expect("valid");
        assert!(!format!("{request:?}").contains("4111"));
    }

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
    }
}
