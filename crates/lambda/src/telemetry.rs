//! Logging: JSON or text per `AWS_LAMBDA_LOG_FORMAT`, level per
//! `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`), with the audit target always on.

use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Directives that hold whatever the level: audit events are never filtered
/// out (PCI DSS 10.2), and the SDK, Lambda runtime and HTTP stacks never log
/// below `warn`, because at trace level they can print request and response
/// bodies: KMS `GenerateDataKey` responses include a plaintext data key, and
/// the Lambda runtime prints every raw event ("raw JSON event received from
/// Lambda"), PANs included. `tests/trace_logging.rs` in this crate runs a
/// function binary at TRACE and checks its output for a PAN.
const FIXED_DIRECTIVES: &[&str] = &[
    "audit=info",
    "lambda_runtime=warn",
    "lambda_runtime_api_client=warn",
    "lambda_http=warn",
    "tower=warn",
    "aws_smithy_runtime=warn",
    "aws_smithy_runtime_api=warn",
    "aws_smithy_http_client=warn",
    "aws_config=warn",
    "aws_sdk_dynamodb=warn",
    "aws_sdk_kms=warn",
    "aws_sdk_secretsmanager=warn",
    "hyper=warn",
    "hyper_util=warn",
    "h2=warn",
    "rustls=warn",
];

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (Lambda's JSON log format).
    Json,
    /// Human-readable text.
    Text,
}

impl LogFormat {
    /// From `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`); JSON unless told otherwise.
    pub fn from_env_value(value: Option<&str>) -> LogFormat {
        match value {
            Some(v) if v.eq_ignore_ascii_case("text") => LogFormat::Text,
            _ => LogFormat::Json,
        }
    }
}

/// A dispatcher writing to `writer` at `level` (e.g. `info`, `DEBUG`).
pub fn dispatch<W>(writer: W, format: LogFormat, level: &str) -> Dispatch
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = match level.to_ascii_lowercase().as_str() {
        // Lambda's FATAL has no tracing equivalent; ERROR is the closest.
        "fatal" => "error".to_owned(),
        other => other.to_owned(),
    };
    let mut filter = EnvFilter::builder().parse_lossy(level);
    for d in FIXED_DIRECTIVES {
        if let Ok(directive) = d.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .with_target(true);
    match format {
        LogFormat::Json => Dispatch::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .finish(),
        ),
        LogFormat::Text => Dispatch::new(builder.finish()),
    }
}

/// Installs the global subscriber on stdout from the Lambda environment.
pub fn init() {
    let format = LogFormat::from_env_value(std::env::var("AWS_LAMBDA_LOG_FORMAT").ok().as_deref());
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    // Fails only if a subscriber is already set, which then stays in charge.
    let _ = tracing::dispatcher::set_global_default(dispatch(std::io::stdout, format, &level));
}
