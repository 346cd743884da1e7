//! RFC 9457 problem details with stable `type` URIs.
//!
//! A problem's detail is written by us, never copied from input or from a
//! parser's message (serde_json quotes the offending value, which may be a PAN).

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// Prefix of every problem `type` URI.
pub const TYPE_PREFIX: &str = "urn:tessera:problem:";

macro_rules! kinds {
    ($($variant:ident => ($slug:literal, $status:expr, $title:literal)),* $(,)?) => {
        /// Every kind of problem the API can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $(#[doc = $title] $variant,)*
        }

        impl Kind {
            /// All kinds, for documentation and tests.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The stable slug after [`TYPE_PREFIX`].
            pub fn slug(self) -> &'static str {
                match self { $(Kind::$variant => $slug,)* }
            }

            /// The HTTP status.
            pub fn status(self) -> StatusCode {
                match self { $(Kind::$variant => $status,)* }
            }

            /// A short, fixed, human-readable summary.
            pub fn title(self) -> &'static str {
                match self { $(Kind::$variant => $title,)* }
            }
        }
    };
}

kinds! {
    InvalidJson => ("invalid-json", StatusCode::BAD_REQUEST, "The body is not valid JSON"),
    InvalidBody => ("invalid-body", StatusCode::BAD_REQUEST, "The body does not have the expected fields and types"),
    UnknownField => ("unknown-field", StatusCode::BAD_REQUEST, "The body has a field this operation does not accept"),
    ForbiddenField => ("forbidden-field", StatusCode::BAD_REQUEST, "Card security codes must never be sent or stored"),
    InvalidPan => ("invalid-pan", StatusCode::BAD_REQUEST, "The card number is not valid"),
    LuhnCheckFailed => ("luhn-check-failed", StatusCode::BAD_REQUEST, "The card number fails the Luhn check"),
    InvalidToken => ("invalid-token", StatusCode::BAD_REQUEST, "The token is not valid"),
    InvalidExpiry => ("invalid-expiry", StatusCode::BAD_REQUEST, "The expiry is not acceptable"),
    InvalidMetadata => ("invalid-metadata", StatusCode::BAD_REQUEST, "The metadata is not acceptable"),
    InvalidReason => ("invalid-reason", StatusCode::BAD_REQUEST, "A detokenize reason is required"),
    BatchTooLarge => ("batch-too-large", StatusCode::BAD_REQUEST, "The batch has too many items"),
    EmptyBatch => ("empty-batch", StatusCode::BAD_REQUEST, "The batch has no items"),
    InvalidBase64 => ("invalid-base64", StatusCode::BAD_REQUEST, "The body is marked base64 but does not decode"),
    Unauthenticated => ("unauthenticated", StatusCode::UNAUTHORIZED, "The request carries no IAM principal"),
    Forbidden => ("forbidden", StatusCode::FORBIDDEN, "The caller is not allowed to use this operation"),
    RouteNotFound => ("route-not-found", StatusCode::NOT_FOUND, "No such route"),
    TokenNotFound => ("token-not-found", StatusCode::NOT_FOUND, "No live token by that name"),
    MethodNotAllowed => ("method-not-allowed", StatusCode::METHOD_NOT_ALLOWED, "The route does not support this method"),
    PayloadTooLarge => ("payload-too-large", StatusCode::PAYLOAD_TOO_LARGE, "The body is larger than 64 KiB"),
    UnsupportedMediaType => ("unsupported-media-type", StatusCode::UNSUPPORTED_MEDIA_TYPE, "The content type must be application/json"),
    DedupNotGranted => ("dedup-not-granted", StatusCode::FORBIDDEN, "The caller is not granted dedup answers: it may tokenize, never learn whether a card is already tokenized"),
    DedupConflict => ("dedup-conflict", StatusCode::CONFLICT, "The card's existing token does not match this request's retention or metadata"),
    FpeTooShort => ("fpe-too-short", StatusCode::UNPROCESSABLE_ENTITY, "Format-preserving tokens need a PAN of at least 15 digits"),
    UntrustedOrigin => ("untrusted-origin", StatusCode::FORBIDDEN, "The request did not come through this deployment's API"),
    InvalidDestination => ("invalid-destination", StatusCode::BAD_REQUEST, "The forward URL is not an acceptable https URL"),
    DestinationNotAllowed => ("destination-not-allowed", StatusCode::FORBIDDEN, "No destination granted to the caller matches the URL and method"),
    ForwardBodyInvalid => ("forward-body-invalid", StatusCode::BAD_REQUEST, "The forward body does not parse strictly in the destination's body format"),
    ForwardPlaceholderMisplaced => ("forward-placeholder-misplaced", StatusCode::BAD_REQUEST, "A placeholder stands outside the destination's card fields"),
    ForwardContentTypeMismatch => ("forward-content-type-mismatch", StatusCode::BAD_REQUEST, "The content type differs from the destination's body format"),
    ForwardHeaderRefused => ("forward-header-refused", StatusCode::BAD_REQUEST, "A forward header is one Tessera does not send"),
    UpstreamAddressForbidden => ("upstream-address-forbidden", StatusCode::BAD_GATEWAY, "The destination's host resolves to an address that is not public"),
    UpstreamUnreachable => ("upstream-unreachable", StatusCode::BAD_GATEWAY, "The destination could not be reached over verified TLS"),
    UpstreamTooLarge => ("upstream-too-large", StatusCode::BAD_GATEWAY, "The destination's answer is larger than the limit"),
    UpstreamInvalid => ("upstream-invalid", StatusCode::BAD_GATEWAY, "The destination's answer could not be read as HTTP text"),
    UpstreamUnscrubbable => ("upstream-unscrubbable", StatusCode::BAD_GATEWAY, "The destination's answer echoes a card number it was sent in a form that cannot be masked"),
    UpstreamTimeout => ("upstream-timeout", StatusCode::GATEWAY_TIMEOUT, "The destination did not answer in time"),
    InvalidOrigin => ("invalid-origin", StatusCode::BAD_REQUEST, "An origin is not an exact https://host[:port] origin"),
    InvalidSessionPolicy => ("invalid-session-policy", StatusCode::BAD_REQUEST, "The capture session's settings are not acceptable"),
    InvalidCardholderName => ("invalid-cardholder-name", StatusCode::BAD_REQUEST, "The cardholder name is not acceptable"),
    CaptureSessionNotFound => ("capture-session-not-found", StatusCode::NOT_FOUND, "No capture session by that id for this caller"),
    CaptureUnauthorized => ("capture-unauthorized", StatusCode::UNAUTHORIZED, "Unknown capture session or wrong client secret"),
    CaptureSessionClosed => ("capture-session-closed", StatusCode::GONE, "The capture session no longer captures"),
    Unavailable => ("service-unavailable", StatusCode::SERVICE_UNAVAILABLE, "A dependency is temporarily unavailable; retry later"),
    Internal => ("internal-error", StatusCode::INTERNAL_SERVER_ERROR, "The request could not be completed"),
}

/// Whether a kind is the capture functions' own (produced by
/// crates/lambda/tests/capture.rs, as forward's by forward.rs).
pub fn is_capture_kind(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::InvalidOrigin
            | Kind::InvalidSessionPolicy
            | Kind::InvalidCardholderName
            | Kind::CaptureSessionNotFound
            | Kind::CaptureUnauthorized
            | Kind::CaptureSessionClosed
    )
}

impl Kind {
    /// The full `type` URI.
    pub fn type_uri(self) -> String {
        format!("{TYPE_PREFIX}{}", self.slug())
    }
}

/// A problem: its kind and a detail written by us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What went wrong.
    pub kind: Kind,
    /// A sentence for the caller; never holds request data.
    pub detail: String,
    /// For [`Kind::MethodNotAllowed`]: the methods the path does support.
    pub allow: Vec<Method>,
}

/// The problem+json body.
#[derive(Debug, Serialize)]
pub struct ProblemBody {
    /// The `type` URI.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// The fixed title.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The detail.
    pub detail: String,
    /// The request's correlation id, for support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl Problem {
    /// A problem of `kind` with a detail.
    pub fn new(kind: Kind, detail: impl Into<String>) -> Problem {
        Problem {
            kind,
            detail: detail.into(),
            allow: Vec::new(),
        }
    }

    /// A 405 naming the methods the path supports (the `Allow` header).
    pub fn method_not_allowed(allow: Vec<Method>) -> Problem {
        Problem {
            allow,
            ..Problem::new(Kind::MethodNotAllowed, "see the Allow header")
        }
    }

    /// The body, as used standalone or inside a batch result.
    pub fn body(&self, correlation_id: Option<&str>) -> ProblemBody {
        ProblemBody {
            type_uri: self.kind.type_uri(),
            title: self.kind.title(),
            status: self.kind.status().as_u16(),
            detail: self.detail.clone(),
            correlation_id: correlation_id.map(str::to_owned),
        }
    }

    /// The HTTP response.
    pub fn to_response(&self, correlation_id: &str) -> Response<Body> {
        let json = serde_json::to_string(&self.body(Some(correlation_id))).unwrap_or_default();
        let mut response = Response::new(Body::Text(json));
        *response.status_mut() = self.kind.status();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if !self.allow.is_empty() {
            let list = self
                .allow
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            if let Ok(v) = HeaderValue::from_str(&list) {
                response.headers_mut().insert(header::ALLOW, v);
            }
        }
        if self.kind == Kind::Unavailable {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<tessera_core::Error> for Problem {
    fn from(e: tessera_core::Error) -> Problem {
        use tessera_core::{Error as E, KeyError};
        match e {
            E::NotFound => Problem::new(Kind::TokenNotFound, "no live token by that name"),
            E::Expiry(e) => Problem::new(Kind::InvalidExpiry, e.to_string()),
            E::BatchTooLarge => Problem::new(Kind::BatchTooLarge, e.to_string()),
            E::DedupConflict => Problem::new(Kind::DedupConflict, e.to_string()),
            E::FpeTooShort => Problem::new(Kind::FpeTooShort, e.to_string()),
            E::TokenMismatch => Problem::new(Kind::InvalidToken, e.to_string()),
            // `Error::Conflict` comes only from import, which no route
            // serves (tessera-bootstrap seeds fixtures through the SDK): if
            // one ever reached a handler it would be our bug, hence Internal.
            ref e if e.is_retryable() => Problem::new(Kind::Unavailable, "retry with backoff"),
            // A disabled, pending-deletion or missing KMS key is an outage of
            // ours, not the caller's fault, and ends when an operator restores
            // the key: 503 (still counted as an error, so the alarm fires).
            E::Keys(KeyError::KeyUnusable(_)) => {
                Problem::new(Kind::Unavailable, "retry with backoff")
            }
            // Integrity, access-denied and unexpected store or key errors: the
            // detail stays generic; the cause is in the log and the audit event.
            _ => Problem::new(Kind::Internal, "see the correlation id in the service logs"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::{Error, ExpiryError, IntegrityError, KeyError, VaultError};

    fn header(response: &Response<Body>, name: header::HeaderName) -> Option<&str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn a_response_carries_the_kinds_status_type_and_title() {
        let response = Problem::new(Kind::TokenNotFound, "gone").to_response("corr-1");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            Some("application/problem+json")
        );
        assert_eq!(header(&response, header::ALLOW), None);
        assert_eq!(header(&response, header::RETRY_AFTER), None);
        let Body::Text(text) = response.body() else {
            panic!("a text body")
        };
        let body: serde_json::Value = serde_json::from_str(text).expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "type": "urn:tessera:problem:token-not-found",
                "title": "No live token by that name",
                "status": 404,
                "detail": "gone",
                "correlation_id": "corr-1",
            })
        );
    }

    #[test]
    fn a_batch_items_problem_has_no_correlation_id_of_its_own() {
        let body =
            serde_json::to_value(Problem::new(Kind::InvalidPan, "x").body(None)).expect("json");
        assert!(body.get("correlation_id").is_none(), "{body}");
        assert_eq!(body["status"], 400);
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let response =
            Problem::method_not_allowed(vec![Method::GET, Method::DELETE]).to_response("c");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header(&response, header::ALLOW), Some("GET, DELETE"));
    }

    #[test]
    fn only_an_outage_asks_for_a_retry() {
        for kind in Kind::ALL {
            let response = Problem::new(*kind, "d").to_response("c");
            assert_eq!(response.status(), kind.status(), "{kind:?}");
            assert_eq!(
                header(&response, header::RETRY_AFTER).is_some(),
                *kind == Kind::Unavailable,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn core_errors_map_to_their_problem_kinds() {
        const S: &str = "table tessera-vault in 111122223333";
        let cases = [
            (Error::NotFound, Kind::TokenNotFound),
            (Error::Expiry(ExpiryError::Malformed), Kind::InvalidExpiry),
            (Error::BatchTooLarge, Kind::BatchTooLarge),
            (Error::DedupConflict, Kind::DedupConflict),
            (Error::FpeTooShort, Kind::FpeTooShort),
            (Error::TokenMismatch, Kind::InvalidToken),
            (Error::Contention, Kind::Unavailable),
            (
                Error::Vault(VaultError::Unavailable(S.into())),
                Kind::Unavailable,
            ),
            (
                Error::Keys(KeyError::Unavailable(S.into())),
                Kind::Unavailable,
            ),
            (
                Error::Keys(KeyError::KeyUnusable(S.into())),
                Kind::Unavailable,
            ),
            (
                Error::Keys(KeyError::AccessDenied(S.into())),
                Kind::Internal,
            ),
            (Error::Keys(KeyError::InvalidCiphertext), Kind::Internal),
            (
                Error::Vault(VaultError::AccessDenied(S.into())),
                Kind::Internal,
            ),
            (Error::Vault(VaultError::Corrupt(S.into())), Kind::Internal),
            (Error::Integrity(IntegrityError), Kind::Internal),
            (Error::Conflict, Kind::Internal),
        ];
        for (error, kind) in cases {
            let what = format!("{error:?}");
            let problem = Problem::from(error);
            assert_eq!(problem.kind, kind, "{what}");
            // Store and key messages never reach the caller.
            assert!(!problem.detail.contains(S), "{what}: {}", problem.detail);
        }
    }
}
