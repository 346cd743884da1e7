//! The functions' audit events, as they reach CloudWatch Logs: one JSON
//! line per request (`crates/lambda/src/audit.rs` writes them, through
//! `telemetry::AuditLayer`), `"target":"audit"`, `"event":"audit"`, the
//! fields flat. Only what reconciliation needs is kept: never the reason
//! text, and tokens only as the hints the events already hold.

use serde_json::Value;

use crate::time::{Millis, parse_rfc3339};

/// The operations whose requests read records with their ciphertext (and
/// may unwrap a data key): the only ones that can explain such a read.
pub const REVEALING_OPERATIONS: &[&str] = &["detokenize", "detokenize_batch", "forward"];

/// One audit event, as far as reconciliation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The function whose log group it was read from.
    pub function: String,
    /// `time`: when the request arrived.
    pub time: Millis,
    /// `request_id`.
    pub request_id: String,
    /// `operation`.
    pub operation: String,
    /// `decision` was `allow`.
    pub allowed: bool,
    /// `status`.
    pub status: u16,
    /// `token_hint`, split at commas.
    pub hints: Vec<String>,
    /// `tokens` (forward: distinct tokens expanded).
    pub tokens: u64,
}

impl AuditRecord {
    /// Whether the request could have read a record with its ciphertext.
    pub fn can_explain(&self) -> bool {
        self.allowed && REVEALING_OPERATIONS.contains(&self.operation.as_str())
    }

    /// Whether a read of each hinted record must be in the trail: a
    /// detokenize answered 200 read every token it names; a forward that
    /// expanded tokens read them.
    pub fn must_read(&self) -> bool {
        if !self.can_explain() || self.hints.is_empty() {
            return false;
        }
        match self.operation.as_str() {
            "forward" => self.tokens > 0,
            _ => self.status == 200,
        }
    }
}

/// Parses one log line of `function`'s log group; `None` for anything that
/// is not an audit event (other logs, metrics lines, platform lines).
/// Lambda's JSON log format may wrap the line as `{"message": "..."}`.
pub fn parse_line(function: &str, line: &str) -> Option<AuditRecord> {
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    let v = match v.get("message").and_then(Value::as_str) {
        Some(inner) if v.get("event").is_none() => serde_json::from_str(inner).ok()?,
        _ => v,
    };
    if v["target"] != "audit" || v["event"] != "audit" {
        return None;
    }
    let time = parse_rfc3339(v["time"].as_str()?)?;
    let number = |name: &str| {
        v[name]
            .as_u64()
            .or_else(|| v[name].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0)
    };
    let hints = v["token_hint"]
        .as_str()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    Some(AuditRecord {
        function: function.to_owned(),
        time,
        request_id: v["request_id"].as_str().unwrap_or("").to_owned(),
        operation: v["operation"].as_str().unwrap_or("").to_owned(),
        allowed: v["decision"] == "allow",
        status: u16::try_from(number("status")).unwrap_or(0),
        hints,
        tokens: number("tokens"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_line_parses_and_others_do_not() {
        let line = r#"{"timestamp":"2026-12-08T10:00:00.1Z","level":"INFO","target":"audit","event":"audit","time":"2026-12-08T10:00:00.010Z","request_id":"r1","operation":"detokenize_batch","decision":"allow","status":200,"token_hint":"000a,000b","tokens":0,"reason":"settlement"}"#;
        let a = parse_line("tessera-detokenize", line).expect("audit");
        assert_eq!(a.hints, vec!["000a".to_owned(), "000b".to_owned()]);
        assert!(a.must_read() && a.can_explain());
        assert_eq!(a.function, "tessera-detokenize");
        let wrapped = serde_json::json!({"message": line}).to_string();
        assert_eq!(parse_line("tessera-detokenize", &wrapped), Some(a));
        assert_eq!(parse_line("f", r#"{"target":"tessera","event":"x"}"#), None);
        assert_eq!(parse_line("f", "START RequestId: 1"), None);
    }

    #[test]
    fn only_allowed_reads_of_revealing_operations_must_read() {
        let base = AuditRecord {
            function: "f".into(),
            time: 0,
            request_id: String::new(),
            operation: "detokenize".into(),
            allowed: true,
            status: 404,
            hints: vec!["000a".into()],
            tokens: 0,
        };
        assert!(base.can_explain() && !base.must_read());
        let denied = AuditRecord {
            allowed: false,
            status: 403,
            ..base.clone()
        };
        assert!(!denied.can_explain());
        let tokenize = AuditRecord {
            operation: "tokenize".into(),
            status: 200,
            ..base.clone()
        };
        assert!(!tokenize.can_explain() && !tokenize.must_read());
        let forward = AuditRecord {
            operation: "forward".into(),
            status: 502,
            tokens: 1,
            ..base
        };
        assert!(forward.must_read());
    }
}
