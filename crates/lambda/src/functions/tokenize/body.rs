//! Tokenize's request bodies and what each asks of the core: a body names
//! its fields, and [`TokenizeBody::into_request`] turns one into a
//! [`TokenizeRequest`] under the caller's scope and dedup grant.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use tessera_core::{DedupScope, Expiry, Metadata, MetadataError, TokenizeRequest};

use crate::extract::{JsonBody, check_object};
use crate::fields::{SecretString, parse_format, parse_pan};
use crate::problem::{Kind, Problem};

/// Whether a caller may be told that a card is already tokenized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedupGrant {
    /// On [`DEDUP_ROLES`](super::DEDUP_ROLES): dedup by default, lookup allowed.
    Granted,
    /// Not on it: every tokenize issues a new token; lookup is refused.
    NotGranted,
}

impl DedupGrant {
    /// Tokenize's refusal of `dedupe: true` and of lookup without the grant.
    pub(super) fn refused() -> Problem {
        Problem::new(
            Kind::DedupNotGranted,
            "this principal is not granted dedup answers (TESSERA_DEDUP_ROLES); omit `dedupe` to get a new token",
        )
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
    /// Return the existing token for this card (default `true` for roles
    /// granted dedup, `false` otherwise; `true` is refused without the grant).
    #[serde(default)]
    pub dedupe: Option<bool>,
}

impl JsonBody for TokenizeBody {
    const FIELDS: &'static [&'static str] = &[
        "pan",
        "format",
        "ttl_seconds",
        "expires",
        "metadata",
        "dedupe",
    ];
}

/// A batch of tokenize items.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeBatchBody {
    /// The items, at most 100.
    pub items: Vec<TokenizeBody>,
}

impl JsonBody for TokenizeBatchBody {
    const FIELDS: &'static [&'static str] = &["items"];

    fn check_fields(value: &Value) -> Result<(), Problem> {
        check_object(value, Self::FIELDS)?;
        if let Some(Value::Array(items)) = value.get("items") {
            items.iter().try_for_each(TokenizeBody::check_fields)?;
        }
        Ok(())
    }
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

impl JsonBody for LookupBody {
    const FIELDS: &'static [&'static str] = &["pan", "format"];
}

impl TokenizeBody {
    /// The core request this body asks for.
    pub fn into_request(
        self,
        scope: &DedupScope,
        grant: DedupGrant,
    ) -> Result<TokenizeRequest, Problem> {
        let dedupe = match (self.dedupe, grant) {
            (Some(true), DedupGrant::NotGranted) => return Err(DedupGrant::refused()),
            (Some(asked), _) => asked,
            (None, grant) => grant == DedupGrant::Granted,
        };
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
        let metadata = Metadata::new(self.metadata).map_err(|e| match e {
            MetadataError::SecurityCode => Problem::new(Kind::ForbiddenField, e.to_string()),
            _ => Problem::new(Kind::InvalidMetadata, e.to_string()),
        })?;
        Ok(TokenizeRequest {
            pan,
            format,
            expiry,
            metadata,
            dedupe,
            scope: scope.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract;

    #[test]
    fn a_pan_sent_as_a_number_is_not_quoted() {
        let e =
            extract::parse::<TokenizeBody>(br#"{"pan":4111111111111111}"#).expect_err("wrong type");
        assert_eq!(e.kind, Kind::InvalidBody);
        assert!(!e.detail.contains("4111"), "{}", e.detail);
    }

    #[test]
    fn batch_items_are_checked_against_the_item_fields() {
        let e = extract::parse::<TokenizeBatchBody>(br#"{"items":[{"pan":"1","colour":1}]}"#)
            .expect_err("unknown");
        assert_eq!(e.kind, Kind::UnknownField);
        let e =
            extract::parse::<TokenizeBatchBody>(br#"{"items":[],"pan":"1"}"#).expect_err("unknown");
        assert_eq!(e.kind, Kind::UnknownField);
    }

    #[test]
    fn request_bodies_never_print_the_pan() {
        let body: TokenizeBody =
            extract::parse(br#"{"pan":"4111 1111 1111 1111","format":"fpe"}"#).expect("valid");
        let printed = format!("{body:?} {:?}", body.pan);
        assert!(!printed.contains("4111"), "{printed}");
        let request = body
            .into_request(&DedupScope::default(), DedupGrant::Granted)
            .expect("valid");
        assert!(!format!("{request:?}").contains("4111"));
    }
}
