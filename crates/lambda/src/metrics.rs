//! CloudWatch Embedded Metric Format: one metrics line per request.

use std::sync::Arc;

use serde_json::json;

/// Namespace of every Tessera metric.
pub const NAMESPACE: &str = "Tessera";

/// Where EMF lines go: stdout in Lambda (CloudWatch extracts them), a buffer in tests.
pub type MetricsSink = Arc<dyn Fn(String) + Send + Sync>;

/// A sink that prints to stdout.
pub fn stdout_sink() -> MetricsSink {
    Arc::new(|line| println!("{line}"))
}

/// One request's measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestMetrics {
    /// 1 for the request.
    pub requests: u64,
    /// 1 if authorization denied it.
    pub denials: u64,
    /// 1 if it ended in a 5xx.
    pub errors: u64,
    /// KMS operations made while serving it.
    pub kms_calls: u64,
    /// Data-key cache hits while serving it.
    pub data_key_cache_hits: u64,
    /// Tokenize items answered with an existing token.
    pub dedup_hits: u64,
    /// Tokenize items answered with a new token.
    pub new_tokens: u64,
    /// Capture: cards captured.
    pub captures: u64,
    /// Capture: failed attempts counted.
    pub capture_failures: u64,
    /// Capture: sessions burned.
    pub sessions_burned: u64,
    /// Handler latency in microseconds. An integer on purpose: a float such
    /// as 8.255128000000001 prints a long digit run that log scanners
    /// (ours included) would flag as a possible PAN.
    pub latency_us: u64,
}

impl RequestMetrics {
    /// The EMF JSON line, dimensioned by function and operation.
    pub fn to_emf(&self, timestamp_millis: i64, function: &str, operation: &str) -> String {
        let mut line = json!({
            "_aws": {
                "Timestamp": timestamp_millis,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function", "Operation"], ["Function"]],
                    "Metrics": [
                        {"Name": "Requests", "Unit": "Count"},
                        {"Name": "Denials", "Unit": "Count"},
                        {"Name": "Errors", "Unit": "Count"},
                        {"Name": "KmsCalls", "Unit": "Count"},
                        {"Name": "DataKeyCacheHits", "Unit": "Count"},
                        {"Name": "DedupHits", "Unit": "Count"},
                        {"Name": "NewTokens", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Microseconds"}
                    ]
                }]
            },
            "Function": function,
            "Operation": operation,
            "Requests": self.requests,
            "Denials": self.denials,
            "Errors": self.errors,
            "KmsCalls": self.kms_calls,
            "DataKeyCacheHits": self.data_key_cache_hits,
            "DedupHits": self.dedup_hits,
            "NewTokens": self.new_tokens,
            "Latency": self.latency_us,
        });
        // The capture function's own metrics, on its lines only (the other
        // functions' EMF stays as it was).
        if function == "capture" {
            let defs = &mut line["_aws"]["CloudWatchMetrics"][0]["Metrics"];
            if let Some(defs) = defs.as_array_mut() {
                for name in ["Captures", "CaptureFailures", "SessionsBurned"] {
                    defs.push(json!({"Name": name, "Unit": "Count"}));
                }
            }
            line["Captures"] = self.captures.into();
            line["CaptureFailures"] = self.capture_failures.into();
            line["SessionsBurned"] = self.sessions_burned.into();
        }
        line.to_string()
    }
}
