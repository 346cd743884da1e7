//! The whole handler pipeline in process: API Gateway event JSON in, response
//! JSON out, over the memory ports, with the audit event written as JSON (to
//! a sink) and the EMF metrics line built. What a warm Lambda spends besides
//! its DynamoDB round trip. `scripts/bench` runs it and reports the figures.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;
use tessera_lambda::auth::{AllowList, ApiOrigin};
use tessera_lambda::envelope::Access;
use tessera_lambda::metrics::MetricsSink;
use tessera_lambda::scopes::Scopes;
use tessera_lambda::telemetry::{LogFormat, dispatch};
use tessera_lambda::{App, Detokenize, Function, Tokenize};

const ACCOUNT: &str = "111122223333";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:tessera";
const CALLER: &str = "payments-tokenizer";
const READER: &str = "settlement-detokenizer";

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn access(lists: &[&'static str], name: &str) -> Access {
    Access {
        origin: ApiOrigin::parse("api", "$default").expect("origin"),
        lists: lists
            .iter()
            .map(|var| (*var, AllowList::parse(&role(name)).expect("allow-list")))
            .collect(),
        dev_principal: None,
    }
}

fn apps() -> (App<Tokenize>, App<Detokenize>) {
    let vault = Arc::new(MemoryVault::new());
    let keyring = Arc::new(MemoryKeyRing::new("bench"));
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "bench".into(),
    };
    let key = FingerprintKey::new(&[5; 32], "v1").expect("key");
    // The metrics line is built and handed over, as in Lambda; not printed.
    let metrics: MetricsSink = Arc::new(|line| {
        black_box(line);
    });
    let tokenize = App::new(
        Tokenize::new(
            Tokenizer::new(
                ports.clone(),
                vault.clone(),
                keyring.clone(),
                Fingerprinter::new(&key),
                CacheLimits::default(),
            ),
            Scopes::default(),
        )
        .with_dedup_roles(AllowList::parse(&role(CALLER)).expect("dedup roles")),
        access(
            &["TESSERA_TOKENIZE_ROLES", "TESSERA_DESCRIBE_ROLES"],
            CALLER,
        ),
        metrics.clone(),
    );
    let detokenize = App::new(
        Detokenize::new(Detokenizer::new(
            ports,
            vault,
            keyring,
            CacheLimits::default(),
        )),
        access(&["TESSERA_DETOKENIZE_ROLES"], READER),
        metrics,
    );
    (tokenize, detokenize)
}

/// An HTTP API (v2) event from `caller`, as API Gateway sends it.
fn event(caller: &str, method: &str, path: &str, body: &Value) -> String {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "content-type": "application/json", "x-correlation-id": "bench-1" },
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "api",
            "authorizer": { "iam": { "userArn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{caller}/session") } },
            "domainName": "example.com",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench" },
            "requestId": "r",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:12:00:00 +0000",
            "timeEpoch": 0
        },
        "body": if body.is_null() { Value::Null } else { Value::String(body.to_string()) },
        "isBase64Encoded": false
    })
    .to_string()
}

/// Event text in, response text out: the work between the runtime's `next`
/// poll and its response post.
async fn serve<F: Function>(app: &App<F>, raw: &str) -> String {
    let payload: Value = serde_json::from_str(raw).expect("event JSON");
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn = FUNCTION_ARN.into();
    let response = app
        .handle_event(payload, context)
        .await
        .expect("an HTTP event");
    serde_json::to_string(&response).expect("response JSON")
}

fn benches(c: &mut Criterion) {
    // Audit events go through the production JSON subscriber, into a sink.
    let _logs = tracing::dispatcher::set_default(&dispatch(std::io::sink, LogFormat::Json, "info"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (tokenize, detokenize) = apps();

    let hit = event(
        CALLER,
        "POST",
        "/v1/tokens",
        &json!({ "pan": "4111111111111111" }),
    );
    let first: Value = serde_json::from_str(&rt.block_on(serve(&tokenize, &hit))).expect("JSON");
    let token = first["body"]
        .as_str()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|b| b["token"].as_str().map(str::to_owned))
        .expect("a token");
    c.bench_function("pipeline_tokenize_hit", |b| {
        b.iter(|| rt.block_on(serve(&tokenize, black_box(&hit))))
    });
    // dedupe off: every call issues, encrypts and stores a new token.
    let issue = event(
        CALLER,
        "POST",
        "/v1/tokens",
        &json!({ "pan": "4111111111111111", "dedupe": false }),
    );
    c.bench_function("pipeline_tokenize_new", |b| {
        b.iter(|| rt.block_on(serve(&tokenize, black_box(&issue))))
    });
    let describe = event(CALLER, "GET", &format!("/v1/tokens/{token}"), &Value::Null);
    c.bench_function("pipeline_describe", |b| {
        b.iter(|| rt.block_on(serve(&tokenize, black_box(&describe))))
    });
    let reveal = json!({ "token": token, "reason": "settlement" });
    let detok = event(READER, "POST", "/v1/detokenize", &reveal);
    c.bench_function("pipeline_detokenize", |b| {
        b.iter(|| rt.block_on(serve(&detokenize, black_box(&detok))))
    });
    // A caller not on the list: authorization, problem+json and the deny audit.
    let denied = event(CALLER, "POST", "/v1/detokenize", &reveal);
    c.bench_function("pipeline_detokenize_denied", |b| {
        b.iter(|| rt.block_on(serve(&detokenize, black_box(&denied))))
    });
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
