//! The audit trail: one event per request on the `audit` tracing target.
//!
//! Holds who, what, when, the decision and the outcome; never a PAN, a key,
//! a fingerprint or a request body. Tokens appear only as their last four.

use std::fmt;

use tracing::info;

/// Writes an enum as the fixed strings the audit trail has always used.
macro_rules! audit_names {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// The name written to audit events and metrics.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

audit_names! {
    /// Every API operation, as audit events and metrics name it.
    Operation {
        /// `POST /v1/tokens`
        Tokenize => "tokenize",
        /// `POST /v1/tokens/batch`
        TokenizeBatch => "tokenize_batch",
        /// `POST /v1/tokens/lookup`
        Lookup => "lookup",
        /// `GET /v1/tokens/{token}`
        Describe => "describe",
        /// `POST /v1/detokenize`
        Detokenize => "detokenize",
        /// `POST /v1/detokenize/batch`
        DetokenizeBatch => "detokenize_batch",
        /// `DELETE /v1/tokens/{token}`
        Delete => "delete",
        /// `POST /v1/forward`
        Forward => "forward",
        /// `POST /v1/capture-sessions`
        CreateCaptureSession => "create_capture_session",
        /// `GET /v1/capture-sessions/{id}`
        GetCaptureSession => "get_capture_session",
        /// `POST /v1/capture`
        Capture => "capture",
        /// `OPTIONS /v1/capture`
        CapturePreflight => "capture_preflight",
        /// `GET /capture/v1/frame`
        CaptureFrame => "capture_frame",
        /// `GET /capture/v1/frame.js`, `frame.css`, `tessera-capture.js`
        CaptureAsset => "capture_asset",
    }
}

audit_names! {
    /// The authorization decision.
    Decision {
        /// The caller is on the route's allow-list.
        Allow => "allow",
        /// It is not, or there is no caller.
        Deny => "deny",
    }
}

audit_names! {
    /// How the request ended, by status class.
    Outcome {
        /// 1xx to 3xx.
        Success => "success",
        /// 4xx.
        ClientError => "client_error",
        /// 5xx.
        ServerError => "server_error",
    }
}

impl Outcome {
    /// The outcome of a response status.
    pub fn of(status: http::StatusCode) -> Outcome {
        if status.is_server_error() {
            Outcome::ServerError
        } else if status.is_client_error() {
            Outcome::ClientError
        } else {
            Outcome::Success
        }
    }
}

/// An optional audit field: empty when absent, as the trail has always written it.
fn or_empty<T: fmt::Display>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// One request's audit record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEvent {
    /// RFC 3339 time the request arrived.
    pub time: String,
    /// The Lambda request id.
    pub request_id: String,
    /// `X-Correlation-Id`, or the API Gateway request id.
    pub correlation_id: String,
    /// The X-Ray trace id.
    pub trace_id: String,
    /// The canonical principal, or the raw caller ARN when denied.
    pub principal: String,
    /// Where the principal came from (`iam` or `dev-setting`).
    pub principal_source: Option<crate::auth::Source>,
    /// The caller's IP as API Gateway saw it.
    pub source_ip: String,
    /// The operation, or `None` (`unrouted`) when routing failed.
    pub operation: Option<Operation>,
    /// The authorization decision.
    pub decision: Option<Decision>,
    /// Why.
    pub decision_reason: String,
    /// How the request ended.
    pub outcome: Option<Outcome>,
    /// The HTTP status.
    pub status: u16,
    /// The problem slug, when there was one.
    pub problem: String,
    /// Last four characters of the token(s) involved.
    pub token_hint: String,
    /// Items in a batch.
    pub items: usize,
    /// The stated purpose of a detokenize or forward.
    pub reason: String,
    /// Forward: the destination's host and matched path prefix (never the
    /// full path or a query string).
    pub destination: String,
    /// Forward: distinct tokens expanded.
    pub tokens: usize,
    /// Forward: the destination's status, when it answered.
    pub upstream_status: Option<u16>,
    /// Forward: milliseconds spent on the outbound call.
    pub upstream_latency_ms: Option<u64>,
    /// Tokenize: items answered with an existing token (dedup or lookup hits).
    pub dedup_hits: usize,
    /// Tokenize: items answered with a new token.
    pub new_tokens: usize,
    /// Capture: the capture session's id (not secret; never its client secret).
    pub session: String,
    /// Milliseconds spent in the handler.
    pub latency_ms: u64,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: String,
    /// SHA-256 of the authorization settings in force.
    pub authz_config_sha256: String,
}

impl AuditEvent {
    /// The operation's name, `unrouted` when there was none.
    pub fn operation_name(&self) -> &'static str {
        self.operation.map_or("unrouted", Operation::as_str)
    }

    /// Writes the event to the `audit` target (always enabled, see telemetry).
    pub fn emit(&self) {
        info!(
            target: "audit",
            event = "audit",
            time = %self.time,
            request_id = %self.request_id,
            correlation_id = %self.correlation_id,
            trace_id = %self.trace_id,
            principal = %self.principal,
            principal_source = %or_empty(&self.principal_source),
            source_ip = %self.source_ip,
            operation = %self.operation_name(),
            decision = %or_empty(&self.decision),
            decision_reason = %self.decision_reason,
            outcome = %or_empty(&self.outcome),
            status = self.status,
            problem = %self.problem,
            token_hint = %self.token_hint,
            items = self.items,
            reason = %self.reason,
            destination = %self.destination,
            tokens = self.tokens,
            upstream_status = %or_empty(&self.upstream_status),
            upstream_latency_ms = %or_empty(&self.upstream_latency_ms),
            dedup_hits = self.dedup_hits,
            new_tokens = self.new_tokens,
            session = %self.session,
            latency_ms = self.latency_ms,
            function_version = %self.function_version,
            authz_config_sha256 = %self.authz_config_sha256,
        );
    }
}
