//! What the in-process handler tests share: three functions over memory
//! ports, signed events, and a capture of the log and metrics lines.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;
use tessera_lambda::auth::{AllowList, ApiOrigin};
use tessera_lambda::envelope::Access;
use tessera_lambda::scopes::Scopes;
use tessera_lambda::telemetry::{LogFormat, dispatch};
use tessera_lambda::{Admin, App, Detokenize, Function, Tokenize};
use tracing_subscriber::fmt::MakeWriter;

pub mod capture;
pub mod forward;

pub const ACCOUNT: &str = "111122223333";
pub const TOKENIZER: &str = "payments-tokenizer";
pub const DETOKENIZER: &str = "settlement-detokenizer";
pub const ADMIN: &str = "tessera-admin";
pub const DESCRIBER: &str = "support-describer";
/// A tokenize role not granted dedup answers.
pub const UNGRANTED: &str = "ledger-tokenizer";
/// The function ARN Lambda would set for an invocation in `ACCOUNT`.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:tessera";
pub const VISA: &str = "4111111111111111";
pub const MASTERCARD: &str = "5555555555554444";

pub fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// A vault for every function: the three capabilities in one.
pub trait AnyVault: IssuingVault + ReadingVault + ErasingVault + 'static {}
impl<V: IssuingVault + ReadingVault + ErasingVault + 'static> AnyVault for V {}

/// Three functions over one vault and key ring, with a shared metrics capture.
pub struct Stack {
    pub tokenize: App<Tokenize>,
    pub detokenize: App<Detokenize>,
    pub admin: App<Admin>,
    pub metrics: Arc<Mutex<Vec<String>>>,
    pub keyring: Arc<MemoryKeyRing>,
}

/// The allow-lists the tests use, over the events' API (HTTP API stage
/// `$default`, REST stage `prod`).
pub fn access(lists: Vec<(&'static str, &str)>) -> Access {
    Access {
        origin: ApiOrigin::parse("api", "prod,$default").expect("origin"),
        lists: lists
            .into_iter()
            .map(|(var, name)| (var, AllowList::parse(&role(name)).expect("allow-list")))
            .collect(),
        dev_principal: None,
    }
}

pub fn stack() -> Stack {
    stack_over(Arc::new(MemoryVault::new()), CacheLimits::default())
}

/// The stack over `vault`, with `limits` on both key caches.
pub fn stack_over<V: AnyVault>(vault: Arc<V>, limits: CacheLimits) -> Stack {
    let keyring = Arc::new(MemoryKeyRing::new("pipeline"));
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "pipeline".into(),
    };
    let key = FingerprintKey::new(&[5; 32], "v1").expect("key");
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let metrics = metrics.clone();
        Arc::new(move |line: String| metrics.lock().expect("metrics").push(line))
    };
    Stack {
        tokenize: App::new(
            Tokenize::new(
                Tokenizer::new(
                    ports.clone(),
                    vault.clone(),
                    keyring.clone(),
                    Fingerprinter::new(&key),
                    limits,
                ),
                Scopes::default(),
            )
            .with_dedup_roles(AllowList::parse(&role(TOKENIZER)).expect("dedup roles")),
            {
                let mut lists = access(vec![("TESSERA_DESCRIBE_ROLES", DESCRIBER)]);
                let tokenizers = format!("{},{}", role(TOKENIZER), role(UNGRANTED));
                lists.lists.push((
                    "TESSERA_TOKENIZE_ROLES",
                    AllowList::parse(&tokenizers).expect("allow-list"),
                ));
                lists
            },
            sink.clone(),
        ),
        detokenize: App::new(
            Detokenize::new(Detokenizer::new(
                ports,
                vault.clone(),
                keyring.clone(),
                limits,
            )),
            access(vec![("TESSERA_DETOKENIZE_ROLES", DETOKENIZER)]),
            sink.clone(),
        ),
        admin: App::new(
            Admin::new(Eraser::new(vault)),
            access(vec![("TESSERA_ADMIN_ROLES", ADMIN)]),
            sink,
        ),
        metrics,
        keyring,
    }
}

impl Stack {
    /// The metrics lines so far, parsed.
    pub fn metric_lines(&self) -> Vec<Value> {
        self.metrics
            .lock()
            .expect("metrics")
            .iter()
            .map(|l| serde_json::from_str(l).expect("EMF JSON"))
            .collect()
    }
}

/// An HTTP API (v2) event signed by `caller`.
pub fn event(caller: &str, method: &str, path: &str, body: &Value) -> Value {
    let raw = if body.is_null() {
        Value::Null
    } else {
        Value::String(body.to_string())
    };
    raw_event(caller, method, path, raw)
}

/// An HTTP API (v2) event signed by `caller` with a body as sent (`null`: none).
pub fn raw_event(caller: &str, method: &str, path: &str, body: Value) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "content-type": "application/json" },
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "api",
            "authorizer": { "iam": { "userArn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{caller}/session") } },
            "domainName": "example.com",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t" },
            "requestId": "r",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:12:00:00 +0000",
            "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// The context Lambda gives an invocation in `ACCOUNT`.
pub fn context() -> lambda_http::Context {
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn = FUNCTION_ARN.into();
    context
}

/// Serves a raw event; the whole API Gateway response.
pub async fn send<F: Function>(app: &App<F>, event: Value) -> Value {
    app.handle_event(event, context())
        .await
        .expect("an HTTP event")
}

/// Status and parsed body of a response.
pub fn status_and_body(response: &Value) -> (u64, Value) {
    let status = response["statusCode"].as_u64().expect("status");
    let body = response["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).expect("JSON body"))
        .unwrap_or(Value::Null);
    (status, body)
}

pub async fn call<F: Function>(
    app: &App<F>,
    caller: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u64, Value) {
    status_and_body(&send(app, event(caller, method, path, &body)).await)
}

pub async fn tokenize(s: &Stack, pan: &str) -> String {
    let (status, body) = call(
        &s.tokenize,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({ "pan": pan }),
    )
    .await;
    assert!(status == 201 || status == 200, "{status} {body}");
    body["token"].as_str().expect("token").to_owned()
}

/// Everything written to the logs while a [`Logs`] is alive on this thread.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    /// Forgets what was written so far.
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// The function's logs, as Lambda would write them, captured on this thread
/// (the tests' runtime is single-threaded).
pub struct Logs {
    pub capture: Capture,
    _guard: Option<tracing::dispatcher::DefaultGuard>,
}

thread_local! {
    /// Where this thread's log lines go under the shared INFO dispatcher.
    static ROUTE: std::cell::RefCell<Option<Capture>> = const { std::cell::RefCell::new(None) };
}

/// Sends each line to the capture of the thread that wrote it.
#[derive(Clone, Default)]
struct Router;

impl io::Write for Router {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        ROUTE.with(|r| match r.borrow_mut().as_mut() {
            Some(capture) => capture.write(buf),
            None => Ok(buf.len()),
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Router {
    type Writer = Router;
    fn make_writer(&'a self) -> Router {
        Router
    }
}

impl Logs {
    /// Captures this thread's logs at `level`. At `info`, the level the
    /// functions run at, one global dispatcher serves every test and routes
    /// lines by thread: thread-local dispatchers coming and going in parallel
    /// tests race on tracing's global callsite-interest cache and can lose an
    /// audit line.
    pub fn capture(level: &str) -> Logs {
        let capture = Capture::default();
        if level == "info" {
            static GLOBAL: std::sync::Once = std::sync::Once::new();
            GLOBAL.call_once(|| {
                let _ = tracing::dispatcher::set_global_default(dispatch(
                    Router,
                    LogFormat::Json,
                    "info",
                ));
            });
            ROUTE.with(|r| *r.borrow_mut() = Some(capture.clone()));
            return Logs {
                capture,
                _guard: None,
            };
        }
        let guard =
            tracing::dispatcher::set_default(&dispatch(capture.clone(), LogFormat::Json, level));
        Logs {
            capture,
            _guard: Some(guard),
        }
    }

    /// The audit events so far, parsed.
    pub fn audits(&self) -> Vec<Value> {
        self.capture
            .text()
            .lines()
            .filter(|l| l.contains("\"target\":\"audit\""))
            .map(|l| serde_json::from_str(l).expect("audit JSON"))
            .collect()
    }

    /// The last audit event.
    pub fn last_audit(&self) -> Value {
        self.audits().pop().expect("an audit event")
    }
}
