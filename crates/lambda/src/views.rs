//! Response views: a token's facts as every route shows them, and a
//! detokenized PAN.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use tessera_core::{Detokenized, Token, TokenDescription, TokenFacts, Tokenized};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix seconds as RFC 3339.
pub(crate) fn rfc3339(secs: i64) -> String {
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
    /// Leading digits: the six of the BIN, fewer for a PAN under 15 digits
    /// (see [`tessera_core::shown_leading_digits`]).
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
            bin: facts
                .bin
                .chars()
                .take(tessera_core::shown_leading_digits(usize::from(
                    facts.pan_length,
                )))
                .collect(),
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
