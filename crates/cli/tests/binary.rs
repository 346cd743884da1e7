//! The `tessera` binary itself (what `main` adds to the library: argv,
//! the process's streams, and the SDK's standard credential chain), against
//! a canned API on 127.0.0.1. The signatures and the real functions are
//! tested end to end in `tests/call.rs` (package tessera-e2e).

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tessera_testkit::find_card_numbers;
use tokio::net::TcpListener;

const PAN: &str = "4111111111111111";

/// What the canned API received: the headers that carry the identity, and the body.
#[derive(Debug, Clone, Default)]
struct Received {
    path: String,
    authorization: String,
    security_token: String,
    body: String,
}

async fn answer(
    request: Request<Incoming>,
    log: Arc<Mutex<Vec<Received>>>,
) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut received = Received {
        path: request.uri().path().to_owned(),
        authorization: header("authorization"),
        security_token: header("x-amz-security-token"),
        ..Received::default()
    };
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    received.body = String::from_utf8_lossy(&body).into_owned();
    let path = received.path.clone();
    log.lock().unwrap_or_else(|p| p.into_inner()).push(received);
    let (status, content_type, body) = match path.as_str() {
        "/prod/v1/detokenize" => (
            200,
            "application/json",
            format!(r#"{{"pan":"{PAN}","token":"tok_0000000000000000000000000a","last4":"1111"}}"#),
        ),
        "/prod/v1/tokens/tok_0000000000000000000000000b" => (
            404,
            "application/problem+json",
            r#"{"type":"urn:tessera:problem:token-not-found\u001b]0;owned\u0007","title":"Token not found\u202e","status":404,"detail":"\u001b[2J\u009b6n\n\rtessera: ok","correlation_id":"c-\u2066x"}"#.to_owned(),
        ),
        _ => (
            422,
            "application/problem+json",
            r#"{"type":"urn:tessera:problem:fpe-too-short","title":"Too short for fpe","status":422,"detail":"fpe needs at least 15 digits","correlation_id":"c-9"}"#.to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

/// Serves the canned API on 127.0.0.1; its base URL and what it received.
async fn canned_api() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let shared = log.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let log = shared.clone();
            tokio::spawn(async move {
                let service = service_fn(move |r| {
                    let log = log.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(r, log).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}/prod"), log)
}

/// Runs the binary with `args` and `stdin`, its credentials and region only
/// in the environment (the first link of the standard chain).
async fn tessera(args: &[&str], stdin: &str) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("AWS_ACCESS_KEY_ID", "AKIAENVCHAINEXAMPLE1")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "env/chain/secret/aaaaaaaaaaaaaaaaaaaaaaaaaa",
            )
            .env("AWS_SESSION_TOKEN", "session-from-the-environment")
            .env("AWS_REGION", "eu-central-1")
            .env("AWS_CONFIG_FILE", "/nonexistent/tessera-test/config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/tessera-test/credentials",
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tessera");
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("tessera ran")
    })
    .await
    .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_reads_the_pan_from_stdin_signs_with_the_environment_chain_and_prints_a_problem()
{
    let (endpoint, log) = canned_api().await;
    let out = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "tokenize",
            "--format",
            "fpe",
        ],
        &format!("{PAN}\n"),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    let host = endpoint
        .trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap_or_default();
    assert_eq!(
        stderr,
        format!("calling tokenize at {host}\n")
            + "tessera: 422 Too short for fpe\n  type: urn:tessera:problem:fpe-too-short\n  title: Too short for fpe\n  detail: fpe needs at least 15 digits\n  correlation id: c-9\n"
    );
    let received = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.path, "/prod/v1/tokens");
    assert_eq!(r.body, format!(r#"{{"pan":"{PAN}","format":"fpe"}}"#));
    // Signed with the environment's key, session token and region.
    assert!(
        r.authorization
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIAENVCHAINEXAMPLE1/")
            && r.authorization
                .contains("/eu-central-1/execute-api/aws4_request,"),
        "{r:?}"
    );
    assert_eq!(r.security_token, "session-from-the-environment");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_prints_only_the_pan_on_detokenize_and_never_echoes_one_from_argv() {
    let (endpoint, log) = canned_api().await;
    let out = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "detokenize",
            "tok_0000000000000000000000000a",
            "--reason",
            "test",
        ],
        "",
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), format!("{PAN}\n"));
    assert_eq!(text(&out.stderr), "calling detokenize at 127.0.0.1\n");

    let out = tessera(&["call", "--endpoint", &endpoint, "tokenize", PAN], "").await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unexpected argument '411111******1111'"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(PAN) && find_card_numbers(&stderr).is_empty(),
        "{stderr}"
    );
    // A card number where a token goes: refused, unquoted, and not sent.
    let out = tessera(&["call", "--endpoint", &endpoint, "delete", PAN], "").await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        text(&out.stderr),
        "tessera: TOKEN: this looks like a card number, not a token\n"
    );
    assert_eq!(log.lock().unwrap_or_else(|p| p.into_inner()).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_from_an_answer_or_argv_never_reach_the_terminal() {
    let (endpoint, _log) = canned_api().await;
    let out = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "describe",
            "tok_0000000000000000000000000b",
        ],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr,
        "calling tokenize at 127.0.0.1\n\
         tessera: 404 Token not found\\u{202e}\n  \
         type: urn:tessera:problem:token-not-found\\u{1b}]0;owned\\u{7}\n  \
         title: Token not found\\u{202e}\n  \
         detail: \\u{1b}[2J\\u{9b}6n\\u{a}\\u{d}tessera: ok\n  \
         correlation id: c-\\u{2066}x\n"
    );
    // An argument clap quotes back is escaped too, the layout kept (clap
    // itself strips C0 controls and ANSI sequences, not bidi characters).
    let out = tessera(&["call", "--endpoint", &endpoint, "x\u{202e}\u{2066}y"], "").await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("'x\\u{202e}\\u{2066}y'"), "{stderr}");
    assert!(stderr.contains('\n'), "{stderr}");
    assert!(
        !stderr.contains('\u{2066}') && !stderr.contains('\u{202e}'),
        "{stderr:?}"
    );
    // A host that is not an API's: refused before anything is read or sent.
    let out = tessera(
        &[
            "call",
            "--endpoint",
            "https://api.example.com/prod",
            "tokenize",
        ],
        &format!("{PAN}\n"),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr)
            .starts_with("tessera: --endpoint: api.example.com is not an API Gateway host"),
        "{out:?}"
    );
}
