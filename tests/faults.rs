//! Fault injection: DynamoDB, KMS and Secrets Manager failing the way AWS
//! fails (throttling, 5xx, timeouts, a disabled key, a reply lost after the
//! write), injected inside the SDK's own retry loop by
//! `tessera_aws::faults::FaultInjector`, with requests served by the real
//! handlers on the moto emulator.
//!
//! Every failure must reach the caller as a 503 `service-unavailable` with
//! `Retry-After` (or, at cold start, a start-up error naming the dependency):
//! never a 500, never a stack trace, never a card number. And the vault must
//! never be left half-written: no index item without its record, no
//! fingerprinted record without the index item that names it, no second
//! record for one request.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use tessera_aws::AwsClients;
use tessera_aws::faults::{Fault, FaultInjector};
use tessera_e2e::{
    ADMIN_ROLE, DETOKENIZER_ROLE, FUNCTION_ARN, Stack, TOKENIZER_ROLE, env_reader, stack,
};
use tessera_lambda::init::InitError;
use tessera_lambda::metrics::MetricsSink;
use tessera_lambda::{Admin, Detokenize, Function, Serve, Tokenize, build_app_on};
use tessera_testkit::find_card_numbers_except;

const VISA: &str = "4111111111111111";
const MASTERCARD: &str = "5555555555554444";
const AMEX: &str = "378282246310005";

/// The SDK's attempts per operation in these tests: one retry, as in
/// production (3 attempts) it is the same loop, only longer.
const ATTEMPTS: u32 = 2;
/// One attempt's budget here; production allows 1.5 s (see `tessera_aws::sdk`).
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(400);

/// The emulator's SDK configuration with few, quick retries and short
/// timeouts, so a failure that exhausts them costs milliseconds.
fn quick(sdk: &SdkConfig) -> SdkConfig {
    sdk.to_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(Duration::from_secs(3))
                .connect_timeout(Duration::from_millis(300))
                .build(),
        )
        .build()
}

fn no_metrics() -> MetricsSink {
    Arc::new(|_| {})
}

/// A stack whose functions' SDK clients carry one fault injector.
struct Faulty {
    stack: Stack,
    sdk: SdkConfig,
    faults: FaultInjector,
}

impl Faulty {
    async fn new() -> Faulty {
        let stack = stack().await;
        let sdk = quick(&stack.sdk);
        Faulty {
            stack,
            sdk,
            faults: FaultInjector::default(),
        }
    }

    fn clients(&self) -> AwsClients {
        AwsClients::with_interceptor(&self.sdk, self.faults.clone())
    }

    async fn start<F: Function>(&self) -> Result<Box<dyn Serve>, InitError> {
        let app = build_app_on::<F>(
            env_reader(self.stack.env()),
            &self.sdk,
            self.clients(),
            no_metrics(),
        )
        .await?;
        Ok(Box::new(app))
    }

    async fn app<F: Function>(&self) -> Box<dyn Serve> {
        self.start::<F>().await.expect("healthy start")
    }

    /// Every vault item, by key.
    async fn items(&self) -> BTreeMap<String, BTreeMap<String, AttributeValue>> {
        let mut all = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .stack
                .clients
                .dynamodb
                .scan()
                .table_name(&self.stack.made.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            for item in page.items() {
                let pk = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                all.insert(pk, item.clone().into_iter().collect());
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return all;
            }
        }
    }

    /// The tokens with a record, after checking that the vault is whole:
    /// every index item names a record that points back at it, every
    /// fingerprinted record is named by its index item, and the husks of
    /// voided records hold no ciphertext or key and expire.
    async fn whole_vault(&self) -> BTreeSet<String> {
        let items = self.items().await;
        let s = |item: &BTreeMap<String, AttributeValue>, name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let mut records = BTreeSet::new();
        for (pk, item) in &items {
            if let Some(token) = pk.strip_prefix("t#") {
                if s(item, "fmt") == "void" {
                    assert!(
                        !item.contains_key("ct")
                            && !item.contains_key("dk")
                            && item.contains_key("exp"),
                        "husk {token} keeps nothing and expires"
                    );
                    continue;
                }
                if item.contains_key("erased") {
                    // An erased token's tombstone: no secret, no fact, no
                    // TTL (the token is never issued again).
                    for gone in ["ct", "dk", "fp", "bin", "last4", "len", "meta", "exp"] {
                        assert!(!item.contains_key(gone), "tombstone {token} keeps {gone}");
                    }
                    continue;
                }
                records.insert(token.to_owned());
                if item.contains_key("fp") {
                    let index = format!("f#{}#{}", s(item, "fmt"), s(item, "fp"));
                    let named = items.get(&index).map(|i| s(i, "tok"));
                    assert_eq!(
                        named.as_deref(),
                        Some(token),
                        "record {token} has no index item naming it: a record no dedup finds"
                    );
                }
            } else if let Some(index) = pk.strip_prefix("f#") {
                let token = s(item, "tok");
                let record = items
                    .get(&format!("t#{token}"))
                    .filter(|r| s(r, "fmt") != "void");
                assert!(
                    record.is_some(),
                    "index item {index} names {token}, which has no record"
                );
            } else {
                panic!("unexpected item {pk}");
            }
        }
        records
    }
}

/// An HTTP API (v2) event from `role` through the configured API.
fn event(method: &str, path: &str, role: &str, body: Option<Value>) -> Value {
    let session = role
        .replace(":iam::", ":sts::")
        .replace(":role/", ":assumed-role/");
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "111122223333",
            "apiId": "def456",
            "authorizer": {"iam": {
                "accessKey": "ASIAEXAMPLEKEY",
                "accountId": "111122223333",
                "callerId": "AROAEXAMPLEROLEID:session",
                "userArn": format!("{session}/faults"),
                "userId": "AROAEXAMPLEROLEID:session"
            }},
            "domainName": "def456.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "def456",
            "http": {
                "method": method, "path": path, "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7", "userAgent": "faults"
            },
            "requestId": "faults",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "23/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795435200000u64
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
}

/// A response: status, headers (lower-cased names) and parsed body.
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    text: String,
    body: Value,
}

async fn call(app: &dyn Serve, event: Value) -> Answer {
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn = FUNCTION_ARN.into();
    let raw = app.serve(event, context).await.expect("an HTTP event");
    let text = raw["body"].as_str().unwrap_or_default().to_owned();
    Answer {
        status: u16::try_from(raw["statusCode"].as_u64().unwrap_or(0)).unwrap_or(0),
        headers: raw["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_owned()))
            .collect(),
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

async fn tokenize(app: &dyn Serve, body: Value) -> Answer {
    call(app, event("POST", "/v1/tokens", TOKENIZER_ROLE, Some(body))).await
}

async fn detokenize(app: &dyn Serve, token: &str) -> Answer {
    let body = json!({"token": token, "reason": "fault injection test"});
    call(
        app,
        event("POST", "/v1/detokenize", DETOKENIZER_ROLE, Some(body)),
    )
    .await
}

/// No card number and nothing that looks like a panic or a backtrace.
fn assert_clean(what: &str, answer: &Answer, allowed: &[&str]) {
    let leaks = find_card_numbers_except(&answer.text, allowed);
    assert!(leaks.is_empty(), "{what}: card number in {}", answer.text);
    for tell in ["panicked", "backtrace", "stack backtrace", "src/", ".rs:"] {
        assert!(
            !answer.text.contains(tell),
            "{what}: `{tell}` in {}",
            answer.text
        );
    }
}

/// A 503 `service-unavailable` problem with `Retry-After`, and nothing more.
fn assert_unavailable(what: &str, answer: &Answer) {
    assert_eq!(answer.status, 503, "{what}: {}", answer.text);
    let retry_after = answer.headers.get("retry-after").map(String::as_str);
    assert!(
        retry_after.is_some_and(|v| v.parse::<u32>().is_ok_and(|s| s >= 1)),
        "{what}: Retry-After {retry_after:?}"
    );
    assert_eq!(
        answer.headers.get("content-type").map(String::as_str),
        Some("application/problem+json"),
        "{what}"
    );
    assert_eq!(
        answer.body["type"], "urn:tessera:problem:service-unavailable",
        "{what}: {}",
        answer.text
    );
    assert_clean(what, answer, &[]);
}

fn token_of(answer: &Answer) -> String {
    answer.body["token"]
        .as_str()
        .unwrap_or_else(|| panic!("a token in {}", answer.text))
        .to_owned()
}

#[tokio::test]
async fn dynamodb_throttling_and_500s_on_a_tokenize_miss_are_503_and_write_nothing() {
    let f = Faulty::new().await;
    let app = f.app::<Tokenize>().await;
    // Keys: "" any item; "t#" the record put; "f#" the index put after it,
    // whose failure leaves a record the writer must void.
    for (operation, key, dedupe, fault) in [
        ("GetItem", "", true, Fault::dynamodb_throttled()),
        ("GetItem", "", true, Fault::internal_error()),
        ("PutItem", "t#", true, Fault::dynamodb_throttled()),
        ("PutItem", "f#", true, Fault::dynamodb_throttled()),
        ("PutItem", "f#", true, Fault::internal_error()),
        ("PutItem", "", false, Fault::dynamodb_throttled()),
    ] {
        f.faults
            .add_on_key(operation, key, 0, u32::MAX, fault.clone());
        let before = f.faults.injected();
        let body = json!({"pan": VISA, "dedupe": dedupe});
        let answer = tokenize(app.as_ref(), body).await;
        let operation = format!("{operation} {key}");
        assert_unavailable(&format!("{operation} {fault:?}"), &answer);
        // A failed record put is followed by the void of what it may have
        // written, which the same fault meets.
        let puts = if operation.starts_with("PutItem") && key != "f#" {
            2
        } else {
            1
        };
        assert_eq!(
            f.faults.injected() - before,
            puts * u64::from(ATTEMPTS),
            "{operation}: the SDK retried the fault, then gave up"
        );
        f.faults.clear();
        assert!(f.whole_vault().await.is_empty(), "{operation}: no write");
    }
    // Recovered: the same card tokenizes once and then dedups.
    let first = tokenize(app.as_ref(), json!({"pan": VISA})).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = tokenize(app.as_ref(), json!({"pan": VISA})).await;
    assert_eq!((again.status, token_of(&again)), (200, token_of(&first)));
    assert_eq!(f.whole_vault().await.len(), 1);
}

#[tokio::test]
async fn a_fault_the_sdk_retries_away_is_invisible() {
    let f = Faulty::new().await;
    let app = f.app::<Tokenize>().await;
    f.faults
        .add_on_key("PutItem", "f#", 0, 1, Fault::dynamodb_throttled());
    f.faults.add("GetItem", 0, 1, Fault::internal_error());
    let answer = tokenize(app.as_ref(), json!({"pan": MASTERCARD})).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(f.faults.injected(), 2);
    assert_eq!(f.whole_vault().await.len(), 1);
}

#[tokio::test]
async fn dynamodb_timeouts_are_503_within_the_budget() {
    let f = Faulty::new().await;
    // A listener that accepts and never answers: every attempt times out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("addr"));
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let tokenizer = f.app::<Tokenize>().await;
    let detokenizer = f.app::<Detokenize>().await;
    let issued = tokenize(tokenizer.as_ref(), json!({"pan": AMEX})).await;
    let token = token_of(&issued);

    let hang = Fault::Hang { endpoint };
    for (operation, app, body) in [
        ("GetItem", &detokenizer, None),
        ("PutItem", &tokenizer, Some(json!({"pan": VISA}))),
    ] {
        // The index put hangs: the record before it is written, then voided.
        let key = if operation == "PutItem" { "f#" } else { "" };
        f.faults
            .add_on_key(operation, key, 0, u32::MAX, hang.clone());
        let started = Instant::now();
        let answer = match body {
            None => detokenize(app.as_ref(), &token).await,
            Some(body) => tokenize(app.as_ref(), body).await,
        };
        let took = started.elapsed();
        f.faults.clear();
        assert_unavailable(operation, &answer);
        assert!(
            took >= ATTEMPT_TIMEOUT && took < Duration::from_secs(3),
            "{operation}: {took:?}"
        );
    }
    hold.abort();
    assert_eq!(f.whole_vault().await, BTreeSet::from([token]));
}

#[tokio::test]
async fn kms_throttling_and_a_disabled_key_are_503_and_write_nothing() {
    let f = Faulty::new().await;
    let tokenizer = f.app::<Tokenize>().await;
    let detokenizer = f.app::<Detokenize>().await;
    for fault in [Fault::throttled(), Fault::kms_key_disabled()] {
        // A fresh function, so its data-key cache is empty and must call KMS.
        let cold = f.app::<Tokenize>().await;
        f.faults.always("GenerateDataKey", fault.clone());
        let answer = tokenize(cold.as_ref(), json!({"pan": VISA})).await;
        f.faults.clear();
        assert_unavailable(&format!("GenerateDataKey {fault:?}"), &answer);
    }
    assert!(f.whole_vault().await.is_empty(), "no record without a key");

    let token = token_of(&tokenize(tokenizer.as_ref(), json!({"pan": VISA})).await);
    for fault in [Fault::throttled(), Fault::kms_key_disabled()] {
        let cold = f.app::<Detokenize>().await;
        f.faults.always("Decrypt", fault.clone());
        let answer = detokenize(cold.as_ref(), &token).await;
        f.faults.clear();
        assert_unavailable(&format!("Decrypt {fault:?}"), &answer);
    }
    let back = detokenize(detokenizer.as_ref(), &token).await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.body["pan"], VISA);
}

#[tokio::test]
async fn a_dependency_failing_at_cold_start_fails_the_start_naming_it() {
    let f = Faulty::new().await;
    let cases = [
        (
            "GetSecretValue",
            Fault::internal_error(),
            "fingerprint key secret",
        ),
        (
            "GetSecretValue",
            Fault::throttled(),
            "fingerprint key secret",
        ),
        (
            "DescribeKey",
            Fault::kms_key_disabled(),
            "KMS key arn:aws:kms:",
        ),
        (
            "DescribeTable",
            Fault::dynamodb_throttled(),
            "vault table tessera-test-",
        ),
    ];
    for (operation, fault, names) in cases {
        f.faults.always(operation, fault.clone());
        let err = f
            .start::<Tokenize>()
            .await
            .err()
            .unwrap_or_else(|| panic!("{operation} {fault:?} must fail the cold start"));
        f.faults.clear();
        let text = err.to_string();
        assert!(text.contains(names), "{operation}: {text}");
        // The resource names hold the test's millisecond clock: not cards.
        let names = [f.stack.made.secret_arn.as_str(), &f.stack.made.table];
        assert!(
            find_card_numbers_except(&text, &names).is_empty() && !text.contains("panicked"),
            "{text}"
        );
    }
    assert!(f.start::<Tokenize>().await.is_ok(), "and recovers");
}

#[tokio::test]
async fn a_reply_lost_after_the_write_gives_the_caller_its_token() {
    let f = Faulty::new().await;
    let app = f.app::<Tokenize>().await;
    // The write is applied, its reply lost, and the SDK retries it: the
    // caller must get the token that was written, as created, and the vault
    // must hold exactly it.
    let lost = Fault::LoseReply {
        status: 500,
        code: "InternalServerError",
    };
    // The record put ("t#") and the index put after it ("f#").
    let cases = [
        ("t#", json!({"pan": VISA})),
        (
            "f#",
            json!({"pan": MASTERCARD, "metadata": {"order": "A-1"}, "ttl_seconds": 3600}),
        ),
        ("t#", json!({"pan": AMEX, "dedupe": false})),
        ("t#", json!({"pan": VISA, "dedupe": false, "format": "fpe"})),
    ];
    let mut expected = BTreeSet::new();
    for (operation, body) in cases {
        f.faults
            .add_on_key("PutItem", operation, 0, 1, lost.clone());
        let answer = tokenize(app.as_ref(), body.clone()).await;
        assert_eq!(f.faults.injected(), expected.len() as u64 + 1);
        assert_eq!(answer.status, 201, "{operation} {body}: {}", answer.text);
        let token = token_of(&answer);
        assert_clean(operation, &answer, &[&token]);
        expected.insert(token);
        assert_eq!(
            f.whole_vault().await,
            expected,
            "{operation} {body}: one record, the one the caller holds"
        );
    }
}

#[tokio::test]
async fn a_reply_lost_on_every_attempt_is_503_and_the_retry_finds_the_token() {
    let f = Faulty::new().await;
    let app = f.app::<Tokenize>().await;
    let lost = Fault::LoseReply {
        status: 500,
        code: "InternalServerError",
    };
    // Every index put is applied and its reply lost: the writer cannot tell
    // from the put, but a consistent read of the index finds its own token,
    // so the caller gets it as created.
    f.faults
        .add_on_key("PutItem", "f#", 0, u32::MAX, lost.clone());
    let body = json!({"pan": VISA, "metadata": {"order": "A-2"}});
    let answer = tokenize(app.as_ref(), body.clone()).await;
    f.faults.clear();
    assert_eq!(answer.status, 201, "{}", answer.text);
    let token = token_of(&answer);
    assert_eq!(f.whole_vault().await, BTreeSet::from([token.clone()]));
    let again = tokenize(app.as_ref(), body).await;
    assert_eq!((again.status, token_of(&again)), (200, token));

    // Every record put applied and its reply lost: 503, and the writer
    // voids what it may have written, so no PAN stays that no caller holds
    // a token for; the caller's retry, which Retry-After asks for, creates it.
    f.faults.add_on_key("PutItem", "t#", 0, u32::MAX, lost);
    let body = json!({"pan": MASTERCARD});
    let answer = tokenize(app.as_ref(), body.clone()).await;
    f.faults.clear();
    assert_unavailable("lost replies", &answer);
    let before = f.whole_vault().await;
    let retried = tokenize(app.as_ref(), body).await;
    assert_eq!(
        retried.status, 201,
        "the retry creates it: {}",
        retried.text
    );
    let mut after = before.clone();
    after.insert(token_of(&retried));
    assert_eq!(f.whole_vault().await, after);
}

#[tokio::test]
async fn a_batch_whose_later_writes_fail_reports_each_item_and_stays_whole() {
    let f = Faulty::new().await;
    let app = f.app::<Tokenize>().await;
    // The first item's index put goes through; every later one is
    // throttled, after its record was written (each writer voids its own).
    f.faults
        .add_on_key("PutItem", "f#", 1, u32::MAX, Fault::dynamodb_throttled());
    let items: Vec<Value> = [VISA, MASTERCARD, AMEX]
        .iter()
        .map(|pan| json!({"pan": pan}))
        .collect();
    let answer = call(
        app.as_ref(),
        event(
            "POST",
            "/v1/tokens/batch",
            TOKENIZER_ROLE,
            Some(json!({"items": items})),
        ),
    )
    .await;
    f.faults.clear();
    assert_eq!(answer.status, 200, "{}", answer.text);
    let results = answer.body["results"].as_array().expect("results");
    let issued: BTreeSet<String> = results
        .iter()
        .filter(|r| r["status"] == 201)
        .filter_map(|r| r["token"].as_str().map(str::to_owned))
        .collect();
    let unavailable = results
        .iter()
        .filter(|r| {
            r["status"] == 503 && r["error"]["type"] == "urn:tessera:problem:service-unavailable"
        })
        .count();
    assert_eq!((issued.len(), unavailable), (1, 2), "{}", answer.text);
    let allowed: Vec<&str> = issued.iter().map(String::as_str).collect();
    assert_clean("batch", &answer, &allowed);
    assert_eq!(f.whole_vault().await, issued);
}

#[tokio::test]
async fn a_delete_that_fails_keeps_record_and_index_together() {
    let f = Faulty::new().await;
    let tokenizer = f.app::<Tokenize>().await;
    let admin = f.app::<Admin>().await;
    let token = token_of(&tokenize(tokenizer.as_ref(), json!({"pan": VISA})).await);
    let delete = || event("DELETE", &format!("/v1/tokens/{token}"), ADMIN_ROLE, None);
    for fault in [Fault::dynamodb_throttled(), Fault::internal_error()] {
        f.faults.always("TransactWriteItems", fault.clone());
        let answer = call(admin.as_ref(), delete()).await;
        f.faults.clear();
        assert_unavailable(&format!("delete {fault:?}"), &answer);
        assert_eq!(f.whole_vault().await, BTreeSet::from([token.clone()]));
    }
    let answer = call(admin.as_ref(), delete()).await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert!(f.whole_vault().await.is_empty());
}
