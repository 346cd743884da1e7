//! At `AWS_LAMBDA_LOG_LEVEL=TRACE`, or with a `RUST_LOG` that names the
//! runtime, SDK and HTTP crates, their modules and spans at trace, a
//! function prints no PAN: the `tokenize`
//! binary runs against a stub Lambda Runtime API on 127.0.0.1 and the local
//! AWS emulator, is handed events carrying a test PAN in its body (three
//! spellings), path and query string, and everything it prints on stdout and
//! stderr is searched for the PAN.
//!
//! Needs the emulator: `scripts/test` starts moto and exports
//! `AWS_ENDPOINT_URL` (see `scripts/lib.sh`).

use std::collections::VecDeque;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tessera_aws::AwsClients;
use tessera_aws::provision::{Names, provision};
use tessera_aws::sdk::{endpoint_is_loopback, load_sdk_config};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A Luhn-valid test card number (Visa debit test PAN).
const PAN: &str = "4000056655665556";
const ROLE: &str = "arn:aws:iam::111122223333:role/payments-tokenizer";
const CALLER: &str = "arn:aws:sts::111122223333:assumed-role/payments-tokenizer/trace-test";
const PREFIX: &str = "/2018-06-01/runtime";

/// The PAN as digits, with spaces and with dashes.
fn spellings() -> Vec<String> {
    let groups: Vec<&str> = PAN
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    vec![PAN.to_owned(), groups.join(" "), groups.join("-")]
}

/// An API Gateway REST event from the tokenizer role.
fn event(path: &str, query: Option<Value>, body: &str) -> Value {
    json!({
        "resource": "/v1/tokens",
        "path": path,
        "httpMethod": "POST",
        "headers": {"content-type": "application/json", "x-card": PAN},
        "multiValueHeaders": {"content-type": ["application/json"], "x-card": [PAN]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": "/v1/tokens",
            "httpMethod": "POST",
            "requestTime": "23/Nov/2026:12:00:00 +0000",
            "path": format!("/prod{path}"),
            "accountId": "111122223333",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "requestTimeEpoch": 1795435200000_i64,
            "requestId": "trace-test",
            "identity": {
                "accountId": "111122223333",
                "caller": "AROAEXAMPLEROLEID:trace-test",
                "sourceIp": "203.0.113.10",
                "userArn": CALLER,
                "userAgent": "trace-test"
            },
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123"
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// The events handed out, in order: the PAN in the body three ways, then in
/// the path, query string and body of a POST to a GET-only route.
fn events() -> Vec<Value> {
    let mut out: Vec<Value> = spellings()
        .iter()
        .map(|pan| {
            let body = json!({"pan": pan, "format": "opaque"}).to_string();
            event("/v1/tokens", None, &body)
        })
        .collect();
    out.push(event(
        &format!("/v1/tokens/{PAN}"),
        Some(json!({"pan": PAN})),
        &json!({"pan": PAN}).to_string(),
    ));
    out
}

/// What the function posted back: (path, body).
type Reply = (String, Value);

/// Serves the Runtime API: `next` hands out `events` one by one and then
/// never answers; replies and errors go to `replies`.
async fn runtime_api(
    req: Request<Incoming>,
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    replies: mpsc::UnboundedSender<Reply>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_owned();
    if req.method() == hyper::Method::GET && path == format!("{PREFIX}/invocation/next") {
        let next = events.lock().expect("lock").pop_front();
        let Some((id, event)) = next else {
            // No more work: hold the request open until the test ends.
            std::future::pending::<()>().await;
            unreachable!();
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis()
            + 30_000;
        let response = Response::builder()
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:111122223333:function:tessera-tokenize",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-6742a1b0-0123456789abcdef01234567;Sampled=0",
            )
            .body(Full::new(Bytes::from(event.to_string())))
            .expect("response");
        return Ok(response);
    }
    let body = req.into_body().collect().await?.to_bytes();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = replies.send((path, value));
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .body(Full::new(Bytes::from_static(b"{\"status\":\"OK\"}")))
        .expect("response"))
}

/// Starts the stub on a free loopback port; returns its `host:port`.
async fn start_runtime_api(events: Vec<Value>, replies: mpsc::UnboundedSender<Reply>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let queue: VecDeque<(String, Value)> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| (format!("trace-test-{i}"), e))
        .collect();
    let queue = Arc::new(Mutex::new(queue));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (queue, replies) = (Arc::clone(&queue), replies.clone());
            tokio::spawn(async move {
                let service =
                    service_fn(move |req| runtime_api(req, Arc::clone(&queue), replies.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr.to_string()
}

/// Reads a child's pipe to the end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        out
    })
}

/// Kills the function if the test fails before it does.
struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `tokenize` at TRACE in `format` over all events; returns what it
/// printed (stdout then stderr) and its replies.
async fn run_at_trace(format: &str, (level_var, level): (&str, &str)) -> (String, Vec<Reply>) {
    let sdk = load_sdk_config().await;
    assert!(
        endpoint_is_loopback(&sdk),
        "AWS_ENDPOINT_URL must point at the local emulator (127.0.0.1); run this test through scripts/test"
    );
    let unique = format!(
        "{}-{}-{format}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
        level_var.len()
    );
    let made = provision(
        &AwsClients::new(&sdk),
        &Names {
            table: format!("tessera-trace-{unique}"),
            secret: format!("tessera/trace-{unique}"),
        },
    )
    .await
    .expect("provision on the emulator");

    let expected = events().len();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let api = start_runtime_api(events(), tx).await;

    let mut command = Command::new(env!("CARGO_BIN_EXE_tokenize"));
    command.env_clear();
    // The emulator endpoint, region and dummy credentials scripts/test set.
    for (name, value) in std::env::vars() {
        if name.starts_with("AWS_") && !name.starts_with("AWS_LAMBDA_") {
            command.env(name, value);
        }
    }
    let child = command
        .env(level_var, level)
        .env("AWS_LAMBDA_LOG_FORMAT", format)
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "tessera-tokenize")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/tessera-tokenize")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "trace-test")
        .env("TESSERA_TABLE", &made.table)
        .env("TESSERA_KMS_KEY_ID", &made.key_arn)
        .env("TESSERA_FINGERPRINT_SECRET_ID", &made.secret_arn)
        .env("TESSERA_TOKENIZE_ROLES", ROLE)
        .env("TESSERA_DEDUP_ROLES", ROLE)
        .env("TESSERA_API_ID", "abc123")
        .env("TESSERA_API_STAGE", "prod")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the tokenize binary");
    let mut function = Function(child);
    let stdout = drain(function.0.stdout.take().expect("stdout"));
    let stderr = drain(function.0.stderr.take().expect("stderr"));

    let mut replies = Vec::new();
    while replies.len() < expected {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(reply)) => replies.push(reply),
            _ => break,
        }
    }
    drop(function);
    let mut printed = String::from_utf8_lossy(&stdout.join().expect("stdout")).into_owned();
    printed.push_str(&String::from_utf8_lossy(&stderr.join().expect("stderr")));
    assert_eq!(
        replies.len(),
        expected,
        "the function answered {} of {expected} events; it printed:\n{printed}",
        replies.len()
    );
    (printed, replies)
}

/// Where `text` shows the PAN: verbatim in any spelling, or as the digits of
/// a run of digits, spaces, dashes and dots.
fn pan_sightings(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let verbatim = spellings().iter().any(|s| line.contains(s.as_str()));
        let run_digits = line
            .split(|c: char| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '.')))
            .map(|run| run.chars().filter(char::is_ascii_digit).collect::<String>())
            .any(|digits| digits.contains(PAN));
        if verbatim || run_digits {
            found.push(line.to_owned());
        }
    }
    found
}

#[test]
fn the_pan_search_finds_every_spelling() {
    for s in spellings() {
        assert_eq!(pan_sightings(&format!("x {s} y")).len(), 1, "{s}");
        assert_eq!(
            pan_sightings(&format!("{{\"body\":\"{{\\\"pan\\\":\\\"{s}\\\"}}\"}}")).len(),
            1
        );
    }
    assert!(pan_sightings("4000 0566 5566 5557 and 5556").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_pan_in_trace_output() {
    // The platform's level, and a developer's RUST_LOG naming the runtime,
    // SDK and HTTP crates, their modules and spans at trace.
    let settings = [
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        (
            "RUST_LOG",
            "trace,lambda_runtime=trace,lambda_http=trace,aws_smithy_runtime=trace,\
             aws_smithy_http=trace,hyper=trace,h2=trace,rustls=trace,\
             lambda_runtime::layers=trace,lambda_runtime::layers::trace=trace,\
             lambda_runtime[{}]=trace,lambda_runtime[Lambda runtime invoke]=trace,\
             aws_smithy_runtime::client::orchestrator=trace,[{requestId}]=trace",
        ),
    ];
    for (format, setting) in ["JSON", "Text"]
        .into_iter()
        .flat_map(|f| settings.map(|s| (f, s)))
    {
        let (printed, replies) = run_at_trace(format, setting).await;
        let format = format!("{format} {}", setting.0);
        // The function really ran and was really logging.
        assert!(
            printed.contains("cold start complete"),
            "{format}: no cold start line in:\n{printed}"
        );
        for (i, (path, reply)) in replies.iter().enumerate() {
            assert!(
                path.ends_with("/response"),
                "{format}: event {i} -> {path}: {reply}"
            );
            let status = reply["statusCode"].as_u64().unwrap_or_default();
            // A new token, the same one twice more (same PAN), then a POST to
            // /v1/tokens/{token}, which answers GET only.
            let want = [201, 200, 200, 405][i];
            assert_eq!(status, want, "{format}: event {i}: {reply}");
        }
        let sightings = pan_sightings(&printed);
        assert!(
            sightings.is_empty(),
            "{format}: the PAN was printed at TRACE:\n{}",
            sightings.join("\n")
        );
    }
}
