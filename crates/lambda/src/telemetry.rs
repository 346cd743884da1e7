//! Logging: JSON or text per `AWS_LAMBDA_LOG_FORMAT`, level per
//! `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`), and audit events that no log
//! setting can drop.
//!
//! Two things can lose an audit event (PCI DSS 10.2), and each is closed here:
//! - In process, a level or a `RUST_LOG` directive filters events. So audit
//!   events go through their own layer, with its own fixed filter (the
//!   `audit` target and nothing else); the level filter governs only the
//!   other layer, which never prints them.
//! - In the Lambda platform, a function's `ApplicationLogLevel` (advanced
//!   logging controls) drops JSON lines whose `"level"` is below it, and
//!   treats a missing or unknown level as `INFO`. Lambda passes that setting
//!   in as `AWS_LAMBDA_LOG_LEVEL`, so an audit line is written at the
//!   configured level when it is above `INFO` (`WARN`, `ERROR`, `FATAL`):
//!   the lowest level the platform keeps.

use std::fmt;
use std::io::Write;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// The tracing target of audit events.
pub const AUDIT_TARGET: &str = "audit";

/// Crates that never log below `warn`, whatever the level or `RUST_LOG`
/// says: at trace level the SDK, Lambda runtime and HTTP stacks can print
/// request and response bodies: KMS `GenerateDataKey` responses include a
/// plaintext data key, and the Lambda runtime prints every raw event ("raw
/// JSON event received from Lambda"), PANs included. Each entry names a
/// crate (every module of it: `lambda_runtime::layers` too); every `aws_*`
/// and `lambda_*` crate is quiet as well. This is a filter of its own, not
/// a directive in the user's filter, which a more specific user directive
/// (a module, a span `[{...}]`) would override. `tests/trace_logging.rs`
/// and `tests/quiet_crates.rs` in this crate check it. (Audit events are
/// not filtered here at all: see [`AuditLayer`].)
const QUIET_CRATES: &[&str] = &[
    "tower",
    "tower_http",
    "hyper",
    "hyper_util",
    "h2",
    "http",
    "http_body",
    "rustls",
    "tokio_rustls",
    "reqwest",
];
/// Crate name prefixes that are quiet (the SDK's and the Lambda runtime's
/// families: `aws_smithy_runtime`, `aws_sdk_kms`, `lambda_runtime`, ...).
const QUIET_FAMILIES: &[&str] = &["aws_", "lambda_"];

/// Whether an event or span of `target` at `level` may be logged at all:
/// a quiet crate's only at `warn` and `error`.
fn loud_enough(target: &str, level: &Level) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    let quiet =
        QUIET_CRATES.contains(&krate) || QUIET_FAMILIES.iter().any(|f| krate.starts_with(f));
    !quiet || *level <= Level::WARN
}

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

/// The `"level"` an audit line carries: `INFO`, or the platform's
/// application log level when that is higher, so the platform keeps it.
pub fn audit_level(level: &str) -> &'static str {
    match level.trim().to_ascii_uppercase().as_str() {
        "WARN" | "WARNING" => "WARN",
        "ERROR" => "ERROR",
        "FATAL" => "FATAL",
        // TRACE, DEBUG, INFO, or a RUST_LOG directive list, which the
        // platform never sets: the platform keeps INFO.
        _ => "INFO",
    }
}

/// Writes each `audit` event as one JSON line, whatever the log level or
/// format: `timestamp`, `level` (see [`audit_level`]), `target` and the
/// event's fields, flat.
pub struct AuditLayer<W> {
    writer: W,
    level: &'static str,
}

impl<W> AuditLayer<W> {
    /// A layer writing to `writer` with `"level": level`.
    pub fn new(writer: W, level: &'static str) -> AuditLayer<W> {
        AuditLayer { writer, level }
    }
}

/// Collects an event's fields as JSON values.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` fields arrive here through their Display.
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

impl<S, W> Layer<S> for AuditLayer<W>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields(Map::new());
        fields.0.insert(
            "timestamp".into(),
            OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default()
                .into(),
        );
        fields.0.insert("level".into(), self.level.into());
        fields
            .0
            .insert("target".into(), event.metadata().target().into());
        event.record(&mut fields);
        let mut line = Value::Object(fields.0).to_string();
        line.push('\n');
        // Nowhere to report a failed write to stdout; the platform owns it.
        let _ = self.writer.make_writer().write_all(line.as_bytes());
    }
}

/// A dispatcher writing to `writer`: other logs at `level` (e.g. `info`,
/// `DEBUG`, or `RUST_LOG` directives) in `format`, audit events always.
pub fn dispatch<W>(writer: W, format: LogFormat, level: &str) -> Dispatch
where
    W: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    let audit = AuditLayer::new(writer.clone(), audit_level(level))
        .with_filter(filter_fn(|m| m.target() == AUDIT_TARGET));
    let level = match level.to_ascii_lowercase().as_str() {
        // Lambda's FATAL has no tracing equivalent; ERROR is the closest.
        "fatal" => "error".to_owned(),
        other => other.to_owned(),
    };
    let filter = EnvFilter::builder().parse_lossy(level);
    // The audit layer prints audit events; this one never does. The quiet
    // crates' cap is its own filter, so no user directive can lift it.
    let others = filter
        .and(filter_fn(|m| m.target() != AUDIT_TARGET))
        .and(filter_fn(|m| loud_enough(m.target(), m.level())));
    let registry = tracing_subscriber::registry().with(audit);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(true);
    match format {
        LogFormat::Json => Dispatch::new(
            registry.with(
                layer
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_filter(others),
            ),
        ),
        LogFormat::Text => Dispatch::new(registry.with(layer.with_filter(others))),
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
