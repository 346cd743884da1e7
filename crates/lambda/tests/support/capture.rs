//! The capture-sessions and capture functions in process over the memory
//! vault and a manual clock, and events of the public capture API.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tessera_core::capture::{Capturer, OriginMode};
use tessera_core::memory::{ManualClock, MemoryKeyRing, MemoryVault};
use tessera_core::*;
use tessera_lambda::auth::{AllowList, ApiOrigin};
use tessera_lambda::envelope::Access;
use tessera_lambda::scopes::Scopes;
use tessera_lambda::{App, Capture, CaptureSessions};

use super::{ACCOUNT, FUNCTION_ARN, access, role};

/// 2026-11-18, the worlds' clock.
pub const NOW_MS: i64 = 1_795_000_000_000;

/// Both capture functions over one memory vault.
pub struct CaptureWorld {
    /// The IAM API's session function.
    pub sessions: App<CaptureSessions>,
    /// The public API's capture function.
    pub capture: App<Capture>,
    /// The clock both read.
    pub clock: Arc<ManualClock>,
    /// The vault behind everything.
    pub vault: Arc<MemoryVault>,
    /// Every metric line either function wrote.
    pub metrics: Arc<Mutex<Vec<String>>>,
}

/// A world where `session_roles` may manage sessions and `dedup_role` is
/// granted dedup answers; `issuing` gives the vault the capture's tokenizer
/// writes through (the memory vault itself, or a view of it as the capture
/// role's IAM policy allows it).
pub fn capture_world(
    session_roles: &[&str],
    dedup_role: &str,
    issuing: impl FnOnce(Arc<MemoryVault>) -> Arc<dyn IssuingVault>,
) -> CaptureWorld {
    let clock = Arc::new(ManualClock::at_millis(NOW_MS));
    let vault = Arc::new(MemoryVault::new());
    let ports = Ports {
        clock: clock.clone(),
        rng: Arc::new(ThreadRandom),
        vault_id: "capture".into(),
    };
    let key = FingerprintKey::new(&[5; 32], "v1").expect("key");
    let tokenizer = Tokenizer::new(
        ports,
        issuing(vault.clone()),
        Arc::new(MemoryKeyRing::new("capture")),
        Fingerprinter::new(&key),
        CacheLimits::default(),
    );
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let metrics = metrics.clone();
        Arc::new(move |line: String| metrics.lock().expect("metrics").push(line))
    };
    let mut lists = access(vec![]);
    let roles: Vec<String> = session_roles.iter().map(|r| role(r)).collect();
    lists.lists.push((
        "TESSERA_CAPTURE_ROLES",
        AllowList::parse(&roles.join(",")).expect("list"),
    ));
    let sessions = App::new(
        CaptureSessions::new(
            vault.clone(),
            clock.clone(),
            Arc::new(ThreadRandom),
            OriginMode::Https,
        ),
        lists,
        sink.clone(),
    );
    let capture = App::new(
        Capture::new(
            Capturer::new(clock.clone(), tokenizer, vault.clone()),
            Scopes::default(),
            AllowList::parse(&role(dedup_role)).expect("dedup roles"),
        ),
        Access {
            origin: ApiOrigin::parse("pub", "prod").expect("origin"),
            lists: Vec::new(),
            dev_principal: None,
        },
        sink,
    );
    CaptureWorld {
        sessions,
        capture,
        clock,
        vault,
        metrics,
    }
}

/// The Lambda context of a function in the test account.
pub fn context() -> lambda_http::Context {
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn = FUNCTION_ARN.into();
    context
}

/// An event of the public capture API (REST, stage `prod`), no principal.
pub fn public(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: Value,
    body: Option<&str>,
) -> Value {
    let qs: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let mqs: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!([v])))
        .collect();
    let multi: serde_json::Map<String, Value> = headers
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    json!({
        "resource": path, "path": path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": multi,
        "queryStringParameters": if qs.is_empty() { Value::Null } else { Value::Object(qs) },
        "multiValueQueryStringParameters": if mqs.is_empty() { Value::Null } else { Value::Object(mqs) },
        "pathParameters": null, "stageVariables": null,
        "requestContext": {
            "resourcePath": path, "httpMethod": method, "path": format!("/prod{path}"),
            "accountId": ACCOUNT, "stage": "prod", "requestId": "r", "apiId": "pub",
            "identity": { "sourceIp": "203.0.113.10", "userArn": null },
        },
        "body": body, "isBase64Encoded": false,
    })
}
