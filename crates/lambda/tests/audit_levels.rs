//! No log setting loses an audit event (PCI DSS 10.2): not a level or a
//! `RUST_LOG` directive list in process, and not the Lambda platform's
//! `ApplicationLogLevel`, which drops JSON lines whose `"level"` is below it
//! (a missing or unknown level counting as `INFO`) and reaches the function
//! as `AWS_LAMBDA_LOG_LEVEL`.

mod support;

use serde_json::Value;
use support::Capture;
use tessera_lambda::audit::{AuditEvent, Decision, Operation, Outcome};
use tessera_lambda::telemetry::{LogFormat, dispatch};

/// Lambda's application log levels, lowest first.
const PLATFORM_LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

fn rank(level: &str) -> usize {
    // A missing or unknown level is INFO to the platform.
    PLATFORM_LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level))
        .unwrap_or(2)
}

/// Whether Lambda, with `ApplicationLogLevel: setting`, keeps a JSON line.
fn platform_keeps(line: &Value, setting: Option<&str>) -> bool {
    let level = line["level"].as_str().unwrap_or("INFO");
    setting.is_none_or(|s| rank(level) >= rank(s))
}

fn event() -> AuditEvent {
    AuditEvent {
        request_id: "req-1".into(),
        principal: "arn:aws:iam::111122223333:role/settlement-detokenizer".into(),
        operation: Some(Operation::Detokenize),
        decision: Some(Decision::Allow),
        outcome: Some(Outcome::ClientError),
        status: 404,
        problem: "token-not-found".into(),
        token_hint: "000a".into(),
        reason: "settlement".into(),
        ..AuditEvent::default()
    }
}

/// Emits one audit event and one ordinary info line under `level`, as a
/// function does, and returns the lines written.
fn lines_under(format: LogFormat, level: &str) -> Vec<String> {
    let capture = Capture::default();
    let logs = dispatch(capture.clone(), format, level);
    tracing::dispatcher::with_default(&logs, || {
        tracing::info!("an ordinary line");
        event().emit();
    });
    let text = capture.text();
    text.lines().map(str::to_owned).collect()
}

#[test]
fn every_log_setting_keeps_exactly_one_audit_line_that_the_platform_keeps() {
    // (AWS_LAMBDA_LOG_LEVEL or RUST_LOG as the function sees it, the
    // platform's ApplicationLogLevel when that is what set it)
    let settings: Vec<(&str, Option<&str>)> = PLATFORM_LEVELS
        .iter()
        .map(|l| (*l, Some(*l)))
        .chain([
            ("off", None),
            ("tessera_lambda=debug", None),
            ("tessera_core=trace,warn", None),
            ("audit=off", None),
            ("info,audit=off", None),
            ("error,audit=error", None),
        ])
        .collect();
    for format in [LogFormat::Json, LogFormat::Text] {
        for (level, platform) in &settings {
            let lines = lines_under(format, level);
            let audits: Vec<Value> = lines
                .iter()
                .filter(|l| l.contains("\"target\":\"audit\""))
                .map(|l| serde_json::from_str(l).expect("an audit line is one JSON object"))
                .collect();
            assert_eq!(audits.len(), 1, "{level} ({format:?}): {lines:?}");
            let audit = &audits[0];
            assert!(
                platform_keeps(audit, *platform),
                "{level}: the platform drops {audit}"
            );
            assert_eq!(audit["event"], "audit");
            assert_eq!(audit["status"], 404, "numbers stay numbers");
            assert_eq!(audit["operation"], "detokenize");
            assert_eq!(audit["decision"], "allow");
            assert_eq!(audit["outcome"], "client_error");
            assert_eq!(audit["token_hint"], "000a");
            assert_eq!(audit["reason"], "settlement");
            assert!(audit["timestamp"].as_str().is_some_and(|t| t.len() >= 20));
        }
    }
}

#[test]
fn audit_lines_stay_info_where_the_platform_keeps_info() {
    for level in ["TRACE", "debug", "info", "INFO"] {
        let lines = lines_under(LogFormat::Json, level);
        let audit: Value = serde_json::from_str(
            lines
                .iter()
                .find(|l| l.contains("\"target\":\"audit\""))
                .expect("audit line"),
        )
        .expect("JSON");
        assert_eq!(audit["level"], "INFO", "{level}");
        // And the level setting still governs every other line.
        assert!(lines.iter().any(|l| l.contains("an ordinary line")));
    }
    let lines = lines_under(LogFormat::Json, "WARN");
    assert!(!lines.iter().any(|l| l.contains("an ordinary line")));
}
