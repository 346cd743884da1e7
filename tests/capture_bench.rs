//! Capture latency against tokenize's, same run: both functions' apps in
//! process over moto (the SDK adapters the local stack runs), request by
//! request through the envelope. Not a test: `cargo bench -p tessera-e2e
//! --bench capture` under moto (/tmp/withmoto.sh or scripts/bench's setup).
//! moto's TransactWriteItems copies the table, so its capture figure is an
//! upper bound of the transaction's cost, not DynamoDB's.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_e2e::{FUNCTION_ARN, TOKENIZER_ROLE, env_reader, stack};
use tessera_lambda::{Capture, CaptureSessions, Tokenize, build_app};

/// Calls per scenario: tens, moto is slow.
const OPS: usize = 30;

fn cards(n: usize) -> Vec<String> {
    (0..n as u64)
        .map(|i| {
            let body = format!("411111{:09}", i * 7919 + 13);
            (0..10)
                .map(|d| format!("{body}{d}"))
                .find(|c| tessera_core::Pan::parse(c).is_ok())
                .expect("a check digit fits")
        })
        .collect()
}

fn context() -> lambda_http::Context {
    let mut c = lambda_http::Context::default();
    c.invoked_function_arn = FUNCTION_ARN.into();
    c
}

fn v2(path: &str, query: &str, headers: Value, body: &str, principal: Option<&str>) -> Value {
    let authorizer = principal.map_or(Value::Null, |p| {
        json!({"iam": {"userArn": p.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/s"}})
    });
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers,
        "requestContext": {"accountId": "111122223333", "apiId": if principal.is_some() { "def456" } else { "pub789" },
            "authorizer": authorizer, "domainName": "x", "http": {"method": "POST", "path": path,
            "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "", "timeEpoch": 0},
        "body": body, "isBase64Encoded": false,
    })
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let p =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} |",
        samples.len(),
        p(0.5).as_secs_f64() * 1e3,
        p(0.9).as_secs_f64() * 1e3,
        p(1.0).as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    let s = stack().await;
    let sink: tessera_lambda::metrics::MetricsSink = Arc::new(|_| {});
    let mut env = s.env();
    env.insert("TESSERA_CAPTURE_ROLES".into(), TOKENIZER_ROLE.into());
    let tokenize = build_app::<Tokenize>(env_reader(env.clone()), &s.sdk, sink.clone())
        .await
        .expect("tokenize");
    let sessions = build_app::<CaptureSessions>(env_reader(env.clone()), &s.sdk, sink.clone())
        .await
        .expect("sessions");
    let mut public = env.clone();
    public.insert("TESSERA_API_ID".into(), "pub789".into());
    let capture = build_app::<Capture>(env_reader(public), &s.sdk, sink)
        .await
        .expect("capture");
    let json_headers = json!({"content-type": "application/json"});

    let mut tok = Vec::new();
    for pan in cards(OPS) {
        let e = v2(
            "/v1/tokens",
            "",
            json_headers.clone(),
            &json!({"pan": pan, "dedupe": false}).to_string(),
            Some(TOKENIZER_ROLE),
        );
        let started = Instant::now();
        let r = tokenize.handle_event(e, context()).await.expect("http");
        tok.push(started.elapsed());
        assert_eq!(r["statusCode"], 201, "{r}");
    }
    // Sessions of 10 cards each (opening them is not timed); dedupe off, as
    // the tokenize calls above, so both issue a new token every time.
    let mut cap = Vec::new();
    for chunk in cards(OPS * 2)[OPS..].chunks(10) {
        let e = v2(
            "/v1/capture-sessions",
            "",
            json_headers.clone(),
            &json!({"origins": ["https://shop.example"], "max_cards": 10, "dedupe": false})
                .to_string(),
            Some(TOKENIZER_ROLE),
        );
        let r = sessions.handle_event(e, context()).await.expect("http");
        let created: Value = serde_json::from_str(r["body"].as_str().expect("body")).expect("json");
        let (id, secret) = (
            created["session_id"].as_str().expect("id"),
            created["client_secret"].as_str().expect("secret"),
        );
        for pan in chunk {
            let headers = json!({"content-type": "application/json", "authorization": format!("Bearer {secret}"), "origin": "https://shop.example"});
            let e = v2(
                "/v1/capture",
                &format!("session={id}"),
                headers,
                &json!({"pan": pan}).to_string(),
                None,
            );
            let started = Instant::now();
            let r = capture.handle_event(e, context()).await.expect("http");
            cap.push(started.elapsed());
            assert_eq!(r["statusCode"], 201, "{r}");
        }
    }
    println!(
        "| operation (moto, in process) | n | p50 ms | p90 ms | max ms |\n|---|---|---|---|---|"
    );
    summary("tokenize (POST /v1/tokens, dedupe off)", tok);
    summary("capture (POST /v1/capture, dedupe off)", cap);
}
