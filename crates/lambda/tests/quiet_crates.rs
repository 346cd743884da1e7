//! No `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL`) setting lifts the Lambda
//! runtime, the SDK or the HTTP crates above `warn`: at trace level they
//! print raw events and bodies (`lambda_runtime` logs every event it
//! receives, PAN included). Here each of them logs at every level, in and
//! out of a span, under user directives that name it, its modules and its
//! spans at `trace`, and nothing below `warn` is written.

mod support;

use support::Capture;
use tessera_lambda::telemetry::{LogFormat, dispatch};
use tracing::Level;

const PAN: &str = "4000056655665556";

/// What a developer might set to see everything.
const SETTINGS: &[&str] = &[
    "trace",
    "TRACE",
    "trace,lambda_runtime=trace,lambda_http=trace,aws_smithy_runtime=trace,aws_smithy_http=trace,hyper=trace,h2=trace,rustls=trace",
    "trace,lambda_runtime::layers=trace,aws_smithy_runtime::client::orchestrator=trace,hyper::proto=trace,h2::codec=trace,rustls::conn=trace",
    "lambda_runtime[{body}]=trace,lambda_runtime[invoke]=trace,[{body}]=trace,[invoke]=trace,aws_smithy_runtime[{}]=trace,hyper[{}]=trace",
    "lambda_runtime[invoke{body}]=trace,lambda_http[{body}]=trace,aws_sdk_kms=trace,aws_config=trace,hyper_util=trace,tower=trace",
];

/// Logs, from each `target`, one line per level below `warn` with the PAN
/// (inside a span of that target that carries it too) and one at `warn`.
macro_rules! log_from {
    ($($target:literal),* $(,)?) => {{
        $(
            let span = tracing::span!(target: $target, Level::INFO, "invoke", body = PAN);
            let _entered = span.enter();
            tracing::event!(target: $target, Level::TRACE, body = PAN, "raw JSON event received from Lambda {}", PAN);
            tracing::event!(target: $target, Level::DEBUG, body = PAN, "debug {}", PAN);
            tracing::event!(target: $target, Level::INFO, body = PAN, "info {}", PAN);
            tracing::event!(target: $target, Level::WARN, "kept warning from {}", $target);
        )*
        [$($target),*]
    }};
}

fn log_everything() -> Vec<&'static str> {
    log_from!(
        "lambda_runtime",
        "lambda_runtime::layers::trace",
        "lambda_runtime_api_client",
        "lambda_http",
        "lambda_http::request",
        "aws_smithy_runtime",
        "aws_smithy_runtime::client::orchestrator",
        "aws_smithy_runtime_api",
        "aws_smithy_http",
        "aws_smithy_http_client::hyper",
        "aws_sdk_kms::operation",
        "aws_sdk_dynamodb",
        "aws_sdk_secretsmanager",
        "aws_sdk_sts",
        "aws_config::imds",
        "aws_sigv4",
        "hyper",
        "hyper::proto::h1::io",
        "hyper_util::client::legacy",
        "h2::codec",
        "rustls::conn",
        "tower::buffer",
    )
    .to_vec()
}

#[test]
fn no_directive_lifts_the_runtime_sdk_or_http_crates_above_warn() {
    for format in [LogFormat::Json, LogFormat::Text] {
        for setting in SETTINGS {
            let capture = Capture::default();
            let logs = dispatch(capture.clone(), format, setting);
            let targets = tracing::dispatcher::with_default(&logs, || {
                // The user's own crates still log at the level asked for.
                tracing::trace!(target: "tessera_lambda::handler", "own trace line");
                log_everything()
            });
            let text = capture.text();
            assert!(
                !text.contains(PAN),
                "{format:?} {setting}: a quiet crate logged below warn:\n{text}"
            );
            // With a bare level (not only span directives), the quiet
            // crates' warnings and the user's own trace lines still show.
            if setting.to_ascii_lowercase().starts_with("trace") {
                for target in targets {
                    assert!(
                        text.contains(&format!("kept warning from {target}")),
                        "{format:?} {setting}: {target}'s warning is kept:\n{text}"
                    );
                }
                assert!(text.contains("own trace line"), "{setting}:\n{text}");
            }
        }
    }
}
