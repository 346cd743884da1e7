//! The audit trail: one event per request on the `audit` tracing target.
//!
//! Holds who, what, when, the decision and the outcome; never a PAN, a key,
//! a fingerprint or a request body. Tokens appear only as their last four.

use tracing::info;

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
    /// `iam` or `dev-setting`.
    pub principal_source: String,
    /// The caller's IP as API Gateway saw it.
    pub source_ip: String,
    /// The operation (`tokenize`, `detokenize`, ...), or `unrouted`.
    pub operation: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// Why.
    pub decision_reason: String,
    /// `success`, `client_error` or `server_error`.
    pub outcome: String,
    /// The HTTP status.
    pub status: u16,
    /// The problem slug, when there was one.
    pub problem: String,
    /// Last four characters of the token(s) involved.
    pub token_hint: String,
    /// Items in a batch.
    pub items: usize,
    /// The stated purpose of a detokenize.
    pub reason: String,
    /// Milliseconds spent in the handler.
    pub latency_ms: u64,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: String,
    /// SHA-256 of the authorization settings in force.
    pub authz_config_sha256: String,
}

impl AuditEvent {
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
            principal_source = %self.principal_source,
            source_ip = %self.source_ip,
            operation = %self.operation,
            decision = %self.decision,
            decision_reason = %self.decision_reason,
            outcome = %self.outcome,
            status = self.status,
            problem = %self.problem,
            token_hint = %self.token_hint,
            items = self.items,
            reason = %self.reason,
            latency_ms = self.latency_ms,
            function_version = %self.function_version,
            authz_config_sha256 = %self.authz_config_sha256,
        );
    }
}
