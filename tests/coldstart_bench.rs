//! Cold start of each function's release binary beside a hello-world
//! `lambda_http` binary built the same way, on a minimal Lambda Runtime API
//! served here on 127.0.0.1: exec to the first `next` poll (init), and exec
//! to the first response (init plus one real invocation against moto).
//! Run by `scripts/bench` with `TESSERA_BENCH_BINS` naming the directory of
//! the release binaries; prints a Markdown table. Not a test.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tessera_e2e::stack;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Starts per binary: each is a fresh process, as a cold start is.
const RUNS: usize = 15;
/// A start that takes longer than this is reported as failed.
const LIMIT: Duration = Duration::from_secs(20);
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:bench";

/// What the Runtime API saw of one process.
#[derive(Default)]
struct Seen {
    first_poll: Option<Instant>,
    first_response: Option<Instant>,
    status: Option<u64>,
    init_error: Option<String>,
}

/// A Runtime API that hands out one event, then holds every later poll.
struct RuntimeApi {
    event: Vec<u8>,
    seen: Mutex<Seen>,
    done: Notify,
}

impl RuntimeApi {
    async fn serve(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let path = request.uri().path().to_owned();
        let now = Instant::now();
        if path.ends_with("/invocation/next") {
            let first = {
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                let first = seen.first_poll.is_none();
                seen.first_poll.get_or_insert(now);
                first
            };
            if !first {
                // A real Runtime API blocks until the next event: so do we.
                std::future::pending::<()>().await;
            }
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() + 30_000);
            let response = Response::builder()
                .header("lambda-runtime-aws-request-id", "bench-1")
                .header("lambda-runtime-deadline-ms", deadline.to_string())
                .header("lambda-runtime-invoked-function-arn", FUNCTION_ARN)
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000",
                )
                .body(Full::new(Bytes::from(self.event.clone())));
            return Ok(response.unwrap_or_default());
        }
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if path.ends_with("/response") {
                seen.first_response.get_or_insert(now);
                seen.status = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["statusCode"].as_u64());
            } else {
                seen.init_error = Some(format!("{path}: {}", String::from_utf8_lossy(&body)));
            }
        }
        self.done.notify_one();
        Ok(Response::builder()
            .status(202)
            .body(Full::new(Bytes::new()))
            .unwrap_or_default())
    }
}

/// One start of `binary`: (exec to first poll, exec to first response, status).
async fn start_once(
    binary: &Path,
    env: &HashMap<String, String>,
    event: &[u8],
) -> Result<(Duration, Duration, u64), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let api = Arc::new(RuntimeApi {
        event: event.to_vec(),
        seen: Mutex::new(Seen::default()),
        done: Notify::new(),
    });
    let server_api = api.clone();
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let api = server_api.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| api.clone().serve(r));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    let started = Instant::now();
    let mut child = std::process::Command::new(binary)
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let finished = tokio::time::timeout(LIMIT, api.done.notified()).await;
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    finished.map_err(|_| "no response within the limit".to_owned())?;
    let seen = api.seen.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(error) = &seen.init_error {
        return Err(error.clone());
    }
    match (seen.first_poll, seen.first_response, seen.status) {
        (Some(poll), Some(response), Some(status)) => {
            Ok((poll - started, response - started, status))
        }
        _ => Err("no poll or response".into()),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(bins) = std::env::var_os("TESSERA_BENCH_BINS").map(PathBuf::from) else {
        eprintln!("TESSERA_BENCH_BINS (the directory of the release binaries) is not set");
        std::process::exit(2);
    };
    let s = stack().await;
    let mut env = s.env();
    // The binaries read the emulator's endpoint and credentials like the SDK.
    for name in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ] {
        if let Ok(value) = std::env::var(name) {
            env.insert(name.into(), value);
        }
    }
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let read =
        |name: &str| std::fs::read(events.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    // The hello-world binary answers any event; the functions get a real
    // request each: a new card for tokenize, an unknown token elsewhere.
    let cases = [
        (
            "hello-world (lambda_http, same profile)",
            "examples/hello_runtime",
            read("http-tokenize-opaque.json"),
        ),
        (
            "tokenize (one card: new, then a hit)",
            "tokenize",
            read("http-tokenize-opaque.json"),
        ),
        (
            "detokenize (unknown token)",
            "detokenize",
            read("http-detokenize-unknown-token.json"),
        ),
        (
            "admin (delete, unknown token)",
            "admin",
            read("http-delete.json"),
        ),
    ];
    // What the emulator alone costs tokenize's init: a fresh SDK config and
    // clients, then DescribeTable, DescribeKey and GetSecretValue at once,
    // timed in this process (no exec, no runtime).
    let mut emulator = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let sdk = tessera_aws::sdk::load_sdk_config().await;
        let clients = tessera_aws::AwsClients::new(&sdk);
        let table = clients
            .dynamodb
            .describe_table()
            .table_name(&s.made.table)
            .send();
        let key = clients.kms.describe_key().key_id(&s.made.key_arn).send();
        let secret = clients
            .secrets
            .get_secret_value()
            .secret_id(&s.made.secret_arn)
            .send();
        let (t, k, x) = tokio::join!(table, key, secret);
        assert!(t.is_ok() && k.is_ok() && x.is_ok(), "the emulator answers");
        emulator.push(started.elapsed());
    }
    emulator.sort();
    println!("| binary | init p50 | init p99 | first response p50 | first response p99 | status |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| (tokenize's init calls alone, in process: SDK config, clients, 3 concurrent calls) | {} | {} | | | |",
        ms(percentile(&emulator, 0.5)),
        ms(percentile(&emulator, 0.99))
    );
    for (label, binary, event) in cases {
        let path = bins.join(binary);
        let mut inits = Vec::new();
        let mut firsts = Vec::new();
        let mut statuses = std::collections::BTreeSet::new();
        let mut failure = None;
        for _ in 0..RUNS {
            match start_once(&path, &env, &event).await {
                Ok((init, first, status)) => {
                    inits.push(init);
                    firsts.push(first);
                    statuses.insert(status);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure {
            let e: String = e.chars().take(200).collect();
            println!("| {label} | failed: {e} | | | | |");
            continue;
        }
        inits.sort();
        firsts.sort();
        let statuses: Vec<String> = statuses.iter().map(u64::to_string).collect();
        println!(
            "| {label} | {} | {} | {} | {} | {} |",
            ms(percentile(&inits, 0.5)),
            ms(percentile(&inits, 0.99)),
            ms(percentile(&firsts, 0.5)),
            ms(percentile(&firsts, 0.99)),
            statuses.join(", ")
        );
    }
    println!();
    println!(
        "{RUNS} starts each; init = exec to the first `next` poll (tokenize's includes DescribeTable, DescribeKey and GetSecretValue against moto, concurrently); first response = exec to the first invocation's response."
    );
}
