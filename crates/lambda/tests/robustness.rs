//! Any event, however malformed or forged, gets exactly the answer its first
//! failing check calls for, from every function (tokenize, detokenize,
//! admin), in every event shape (REST v1, HTTP API v2, function URL):
//!
//! 1. not through this deployment's API (API id, stage, account) -> 403 untrusted-origin;
//! 2. no principal -> 401; a principal on none of the function's lists -> 403;
//! 3. an unknown path -> 404; a known path, wrong method -> 405 with `Allow`;
//! 4. a principal not on the route's own list -> 403;
//! 5. a body marked base64 that is not -> 400; over 64 KiB -> 413;
//!    a POST whose content type is not JSON -> 415;
//! 6. otherwise 2xx, or a 4xx problem+json: never a 5xx over memory ports.
//!
//! The expectations are written out here, apart from the routing and
//! authorization code they check. And no answer ever holds a card number, in
//! any writing (the suite's own finder), beyond the values it may hold: the
//! PAN of a token an allowed caller detokenized, and fpe tokens.

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine;
use proptest::prelude::*;
use serde_json::{Value, json};
use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;
use tessera_lambda::auth::{AllowList, ApiOrigin};
use tessera_lambda::envelope::{Access, MAX_BODY_BYTES};
use tessera_lambda::scopes::Scopes;
use tessera_lambda::{Admin, App, Detokenize, Serve, Tokenize};
use tessera_testkit::{find_card_numbers_except, luhn_ok};

const ACCOUNT: &str = "111122223333";
const TOKENIZER: &str = "arn:aws:iam::111122223333:role/payments-tokenizer";
/// On the describe list only.
const DESCRIBER: &str = "arn:aws:iam::111122223333:role/support-describer";
const DETOKENIZER: &str = "arn:aws:iam::111122223333:role/settlement-detokenizer";
const ADMIN: &str = "arn:aws:iam::111122223333:role/tessera-admin";
/// The REST API and HTTP API this deployment trusts.
const REST_API: &str = "rest01";
const HTTP_API: &str = "http01";
const REST_STAGE: &str = "prod";
const HTTP_STAGE: &str = "$default";
/// Cards seeded in the vault; their tokens are `{T0}`..`{T2}` in paths and bodies.
const SEEDED: [&str; 3] = ["4111111111111111", "5555555555554444", "378282246310005"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Tokenize,
    Detokenize,
    Admin,
}

/// A function's routes as a caller sees them: the methods each path takes.
fn methods(func: Func, path: &str) -> &'static [&'static str] {
    let path = path.strip_suffix('/').unwrap_or(path);
    let segment = path
        .strip_prefix("/v1/tokens/")
        .filter(|s| !s.is_empty() && !s.contains('/'));
    match (func, path, segment) {
        (Func::Tokenize, "/v1/tokens", _) => &["POST"],
        // Exact routes only: they hide the `{token}` describe (OpenAPI
        // matches concrete paths first).
        (Func::Tokenize, "/v1/tokens/batch" | "/v1/tokens/lookup", _) => &["POST"],
        (Func::Tokenize, _, Some(_)) => &["GET"],
        (Func::Detokenize, "/v1/detokenize" | "/v1/detokenize/batch", _) => &["POST"],
        (Func::Admin, _, Some(_)) => &["DELETE"],
        _ => &[],
    }
}

/// Which allow-list guards a found route.
fn route_allows(func: Func, method: &str, role: &str) -> bool {
    match (func, method) {
        (Func::Tokenize, "GET") => role == TOKENIZER || role == DESCRIBER,
        (Func::Tokenize, _) => role == TOKENIZER,
        (Func::Detokenize, _) => role == DETOKENIZER,
        (Func::Admin, _) => role == ADMIN,
    }
}

/// Whether a role is on any of a function's lists.
fn on_any_list(func: Func, role: &str) -> bool {
    match func {
        Func::Tokenize => role == TOKENIZER || role == DESCRIBER,
        Func::Detokenize => role == DETOKENIZER,
        Func::Admin => role == ADMIN,
    }
}

/// The three functions over one in-memory vault holding the seeded cards.
struct Apps {
    tokenize: App<Tokenize>,
    detokenize: App<Detokenize>,
    admin: App<Admin>,
    tokens: Vec<String>,
}

fn access(lists: &[(&'static str, &[&str])]) -> Access {
    Access {
        origin: ApiOrigin::parse(
            &format!("{REST_API},{HTTP_API}"),
            &format!("{REST_STAGE},{HTTP_STAGE}"),
        )
        .expect("origin"),
        lists: lists
            .iter()
            .map(|(var, roles)| (*var, AllowList::parse(&roles.join(",")).expect("list")))
            .collect(),
        dev_principal: None,
    }
}

async fn apps() -> Apps {
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "robustness".into(),
    };
    let vault = Arc::new(MemoryVault::new());
    let keys = Arc::new(MemoryKeyRing::new("robustness"));
    let key = FingerprintKey::new(&[1; 32], "v1").expect("key");
    let tokenizer = Tokenizer::new(
        ports.clone(),
        vault.clone(),
        keys.clone(),
        Fingerprinter::new(&key),
        CacheLimits::default(),
    );
    let mut tokens = Vec::new();
    for (i, pan) in SEEDED.iter().enumerate() {
        let format = if i == 1 {
            TokenFormat::Fpe
        } else {
            TokenFormat::Opaque
        };
        let request = TokenizeRequest {
            format,
            ..TokenizeRequest::new(Pan::parse(pan).expect("pan"))
        };
        let issued = tokenizer.tokenize(&request).await.expect("seed");
        tokens.push(issued.token.as_str().to_owned());
    }
    let detokenizer = Detokenizer::new(ports, vault.clone(), keys, CacheLimits::default());
    let metrics: tessera_lambda::metrics::MetricsSink = Arc::new(|_| {});
    Apps {
        tokenize: App::new(
            Tokenize::new(tokenizer, Scopes::default())
                .with_dedup_roles(AllowList::parse(TOKENIZER).expect("dedup roles")),
            access(&[
                ("TESSERA_TOKENIZE_ROLES", &[TOKENIZER]),
                ("TESSERA_DESCRIBE_ROLES", &[TOKENIZER, DESCRIBER]),
            ]),
            metrics.clone(),
        ),
        detokenize: App::new(
            Detokenize::new(detokenizer),
            access(&[("TESSERA_DETOKENIZE_ROLES", &[DETOKENIZER])]),
            metrics.clone(),
        ),
        admin: App::new(
            Admin::new(Eraser::new(vault)),
            access(&[("TESSERA_ADMIN_ROLES", &[ADMIN])]),
            metrics,
        ),
        tokens,
    }
}

/// The context Lambda gives an invocation in the deployment's account.
fn context() -> lambda_http::Context {
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:t");
    context
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    RestV1,
    HttpV2,
    FunctionUrl,
}

/// Who the request context says is calling.
#[derive(Debug, Clone)]
enum Caller {
    Missing,
    Arn(String),
}

/// Where the request context says the event came from.
#[derive(Debug, Clone)]
struct Origin {
    api_id: String,
    stage: String,
    account: String,
}

impl Origin {
    fn trusted(&self) -> bool {
        [REST_API, HTTP_API].contains(&self.api_id.as_str())
            && [REST_STAGE, HTTP_STAGE].contains(&self.stage.as_str())
            && self.account == ACCOUNT
    }
}

fn session_arn(role: &str) -> String {
    role.replace(":iam::", ":sts::")
        .replace(":role/", ":assumed-role/")
        + "/session-1"
}

#[allow(clippy::too_many_arguments)]
fn event(
    shape: Shape,
    origin: &Origin,
    caller: &Caller,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
    base64: bool,
) -> Value {
    let arn = match caller {
        Caller::Missing => Value::Null,
        Caller::Arn(a) => Value::String(a.clone()),
    };
    match shape {
        Shape::RestV1 => json!({
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": { "content-type": content_type },
            "multiValueHeaders": { "content-type": [content_type] },
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "resourcePath": "/{proxy+}",
                "httpMethod": method,
                "path": format!("/{}{path}", origin.stage),
                "accountId": origin.account,
                "protocol": "HTTP/1.1",
                "stage": origin.stage,
                "requestId": "r",
                "identity": { "sourceIp": "203.0.113.10", "userArn": arn },
                "domainName": "example.com",
                "apiId": origin.api_id
            },
            "body": body,
            "isBase64Encoded": base64
        }),
        Shape::HttpV2 | Shape::FunctionUrl => {
            let authorizer = match caller {
                Caller::Missing if shape == Shape::FunctionUrl => Value::Null,
                Caller::Missing => json!({ "iam": { "accountId": ACCOUNT } }),
                Caller::Arn(_) => json!({ "iam": { "accountId": ACCOUNT, "userArn": arn } }),
            };
            let domain = if shape == Shape::FunctionUrl {
                format!("{}.lambda-url.us-east-1.on.aws", origin.api_id)
            } else {
                format!("{}.execute-api.us-east-1.amazonaws.com", origin.api_id)
            };
            let mut e = json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": path,
                "rawQueryString": "",
                "headers": { "content-type": content_type },
                "requestContext": {
                    "accountId": origin.account,
                    "apiId": origin.api_id,
                    "domainName": domain,
                    "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t" },
                    "requestId": "r",
                    "routeKey": "$default",
                    "stage": origin.stage,
                    "time": "23/Nov/2026:12:00:00 +0000",
                    "timeEpoch": 0
                },
                "body": body,
                "isBase64Encoded": base64
            });
            if !authorizer.is_null() {
                e["requestContext"]["authorizer"] = authorizer;
            }
            e
        }
    }
}

/// Card numbers and near-misses, as callers send them.
fn pan() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("4111111111111111".to_owned()),
        Just("4000 0566 5566 5556".to_owned()),
        Just("4111 1111 1111 1112".to_owned()),
        Just("6011-1111-1111-1117".to_owned()),
        "[0-9 -]{0,25}",
        any::<String>(),
    ]
}

/// A token as callers send them: a seeded one (`{T0}`..), or anything.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..3usize).prop_map(|i| format!("{{T{i}}}")),
        "tok_[0-9a-z]{26}",
        "[0-9]{15,19}",
        any::<String>(),
    ]
}

/// Bodies near the real shapes of every function, and plain noise; mostly
/// the shapes of `func`'s own routes.
fn body(func: Func) -> impl Strategy<Value = String> {
    let reason = prop_oneof![
        Just(Some("chargeback 123".to_owned())),
        Just(None),
        any::<Option<String>>()
    ];
    let tokenize = prop_oneof![
        pan().prop_map(|p| json!({ "pan": p }).to_string()),
        (pan(), prop_oneof![Just("opaque"), Just("fpe"), Just("x")])
            .prop_map(|(p, f)| json!({ "pan": p, "format": f, "dedupe": false }).to_string()),
        (pan(), "[a-z_]{1,12}", any::<String>())
            .prop_map(|(p, k, v)| json!({ "pan": p, k: v }).to_string()),
        (pan(), any::<i64>()).prop_map(|(p, t)| json!({ "pan": p, "ttl_seconds": t }).to_string()),
        (pan(), "[0-9/]{0,7}").prop_map(|(p, e)| json!({ "pan": p, "expires": e }).to_string()),
        (pan(), any::<String>())
            .prop_map(|(p, m)| json!({ "pan": p, "metadata": { "note": m } }).to_string()),
        proptest::collection::vec(pan(), 0..4).prop_map(|ps| {
            json!({ "items": ps.iter().map(|p| json!({"pan": p})).collect::<Vec<_>>() }).to_string()
        }),
        Just(r#"{"pan": 4111111111111111}"#.to_owned()),
    ];
    let detokenize = prop_oneof![
        3 => (0..3usize).prop_map(|i| json!({ "token": format!("{{T{i}}}"), "reason": "refund 42" }).to_string()),
        1 => proptest::collection::vec(0..3usize, 1..4).prop_map(|ts| {
            let tokens: Vec<String> = ts.iter().map(|i| format!("{{T{i}}}")).collect();
            json!({ "tokens": tokens, "reason": "settlement" }).to_string()
        }),
        1 => (token(), reason.clone()).prop_map(|(t, r)| json!({ "token": t, "reason": r }).to_string()),
        1 => (proptest::collection::vec(token(), 0..4), reason)
            .prop_map(|(ts, r)| json!({ "tokens": ts, "reason": r }).to_string()),
        1 => (token(), pan())
            .prop_map(|(t, p)| json!({ "token": t, "pan": p, "cvv": "123" }).to_string()),
    ];
    let (own, other) = match func {
        Func::Detokenize => (detokenize.boxed(), tokenize.boxed()),
        Func::Tokenize | Func::Admin => (tokenize.boxed(), detokenize.boxed()),
    };
    prop_oneof![6 => own, 1 => other, 1 => any::<String>(), 1 => Just(String::new())]
}

/// A path any function might be sent.
fn path() -> impl Strategy<Value = String> {
    let known = prop_oneof![
        Just("/v1/tokens".to_owned()),
        Just("/v1/tokens/batch".to_owned()),
        Just("/v1/tokens/lookup".to_owned()),
        Just("/v1/detokenize".to_owned()),
        Just("/v1/detokenize/batch".to_owned()),
        (0..3usize).prop_map(|i| format!("/v1/tokens/{{T{i}}}")),
        "/v1/tokens/[a-zA-Z0-9_]{1,30}",
    ];
    prop_oneof![
        4 => (known, any::<bool>()).prop_map(|(p, slash)| if slash { format!("{p}/") } else { p }),
        1 => "/[a-z0-9/]{0,20}",
        1 => "/v1/tokens/[a-z0-9]{1,8}/[a-z0-9]{1,8}",
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop_oneof![Just("POST"), Just("GET"), Just("DELETE")].prop_map(str::to_owned),
        1 => prop_oneof![Just("PUT"), Just("PATCH"), Just("HEAD"), Just("OPTIONS")].prop_map(str::to_owned),
        1 => "[A-Z]{1,7}",
    ]
}

/// (method, path): mostly one of `func`'s own routes, else anything.
fn route(func: Func) -> impl Strategy<Value = (String, String)> {
    let token_path = prop_oneof![
        3 => (0..3usize).prop_map(|i| format!("/v1/tokens/{{T{i}}}")),
        1 => "/v1/tokens/tok_[0-9a-z]{26}",
    ];
    let own: BoxedStrategy<(String, String)> = match func {
        Func::Tokenize => prop_oneof![
            Just(("POST".to_owned(), "/v1/tokens".to_owned())),
            Just(("POST".to_owned(), "/v1/tokens/batch".to_owned())),
            Just(("POST".to_owned(), "/v1/tokens/lookup".to_owned())),
            token_path.prop_map(|p| ("GET".to_owned(), p)),
        ]
        .boxed(),
        Func::Detokenize => prop_oneof![
            Just(("POST".to_owned(), "/v1/detokenize".to_owned())),
            Just(("POST".to_owned(), "/v1/detokenize/batch".to_owned())),
        ]
        .boxed(),
        Func::Admin => token_path.prop_map(|p| ("DELETE".to_owned(), p)).boxed(),
    };
    prop_oneof![3 => own, 2 => (method(), path())]
}

/// Mostly a role on one of `func`'s lists; also no principal, unlisted,
/// malformed, a listed name in another account, and other functions' roles.
fn caller(func: Func) -> impl Strategy<Value = Caller> {
    let own: &'static [&'static str] = match func {
        Func::Tokenize => &[TOKENIZER, DESCRIBER],
        Func::Detokenize => &[DETOKENIZER],
        Func::Admin => &[ADMIN],
    };
    prop_oneof![
        1 => Just(Caller::Missing),
        1 => Just(Caller::Arn(session_arn("arn:aws:iam::111122223333:role/marketing"))),
        1 => Just(Caller::Arn("not-an-arn".to_owned())),
        1 => Just(Caller::Arn(session_arn("arn:aws:iam::999988887777:role/payments-tokenizer"))),
        2 => prop_oneof![Just(TOKENIZER), Just(DESCRIBER), Just(DETOKENIZER), Just(ADMIN)]
            .prop_map(|r| Caller::Arn(session_arn(r))),
        30 => proptest::sample::select(own).prop_map(|r| Caller::Arn(session_arn(r))),
    ]
}

fn origin(shape: Shape) -> impl Strategy<Value = Origin> {
    let (own_api, own_stage) = match shape {
        Shape::RestV1 => (REST_API, REST_STAGE),
        Shape::HttpV2 | Shape::FunctionUrl => (HTTP_API, HTTP_STAGE),
    };
    let api = prop_oneof![
        60 => Just(own_api.to_owned()),
        1 => Just("evil99".to_owned()),
        // A function URL's own id, which no deployment lists.
        1 => Just("abcdefghijklmnopqrstuvwxyz012345".to_owned()),
        1 => "[a-z0-9]{0,10}",
    ];
    let stage = prop_oneof![60 => Just(own_stage.to_owned()), 1 => Just("beta".to_owned())];
    let account = prop_oneof![
        60 => Just(ACCOUNT.to_owned()),
        1 => Just("999988887777".to_owned()),
        1 => Just(String::new()),
    ];
    (api, stage, account).prop_map(|(api_id, stage, account)| Origin {
        api_id,
        stage,
        account,
    })
}

/// (content type, whether it is JSON).
fn content_type() -> impl Strategy<Value = (&'static str, bool)> {
    prop_oneof![
        4 => Just(("application/json", true)),
        1 => Just(("application/json; charset=utf-8", true)),
        1 => Just(("Application/JSON", true)),
        1 => Just(("text/plain", false)),
        1 => Just(("application/jsonx", false)),
        1 => Just(("", false)),
    ]
}

/// One generated request.
#[derive(Debug, Clone)]
struct Case {
    shape: Shape,
    origin: Origin,
    caller: Caller,
    method: String,
    path: String,
    content_type: (&'static str, bool),
    body: String,
    /// 0: plain; 1: valid base64; 2: marked base64 but not.
    encoding: u8,
    oversize: bool,
}

fn case(func: Func) -> impl Strategy<Value = Case> {
    prop_oneof![
        Just(Shape::RestV1),
        Just(Shape::HttpV2),
        Just(Shape::FunctionUrl)
    ]
    .prop_flat_map(move |shape| {
        (
            origin(shape),
            caller(func),
            route(func),
            content_type(),
            body(func),
            prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
            proptest::bool::weighted(0.05),
        )
            .prop_map(
                move |(origin, caller, (method, path), content_type, body, encoding, oversize)| {
                    Case {
                        shape,
                        origin,
                        caller,
                        method,
                        path,
                        content_type,
                        body,
                        encoding,
                        oversize,
                    }
                },
            )
    })
}

/// What the case must get: an exact status and problem type, or "handled"
/// (2xx, or a 4xx problem).
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Problem(u16, &'static str),
    MethodNotAllowed(&'static [&'static str]),
    Handled,
}

fn expect(func: Func, case: &Case, body_len: usize) -> Expect {
    if !case.origin.trusted() {
        return Expect::Problem(403, "untrusted-origin");
    }
    let role = match &case.caller {
        Caller::Missing => return Expect::Problem(401, "unauthenticated"),
        Caller::Arn(arn) => [TOKENIZER, DESCRIBER, DETOKENIZER, ADMIN]
            .into_iter()
            .find(|r| session_arn(r) == *arn),
    };
    let Some(role) = role.filter(|r| on_any_list(func, r)) else {
        return Expect::Problem(403, "forbidden");
    };
    // Stage prefixes never appear here: `path` is what the gateway passes.
    let allowed = methods(func, &case.path);
    if allowed.is_empty() {
        return Expect::Problem(404, "route-not-found");
    }
    if !allowed.contains(&case.method.as_str()) {
        return Expect::MethodNotAllowed(allowed);
    }
    if !route_allows(func, &case.method, role) {
        return Expect::Problem(403, "forbidden");
    }
    if case.encoding == 2 {
        return Expect::Problem(400, "invalid-base64");
    }
    if body_len > MAX_BODY_BYTES {
        return Expect::Problem(413, "payload-too-large");
    }
    if case.method == "POST" && !case.content_type.1 {
        return Expect::Problem(415, "unsupported-media-type");
    }
    Expect::Handled
}

/// Values an answer may legitimately hold that the finder would flag: fpe
/// tokens it issued or echoes (built to fail the Luhn check as a whole), and,
/// for a detokenize that the oracle lets through, the seeded cards whose
/// tokens the caller named.
fn legitimate(
    func: Func,
    handled: bool,
    answer: &Value,
    tokens: &[String],
    sent: &str,
) -> Vec<String> {
    let mut ok = BTreeSet::new();
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "token"
                        && let Some(t) = v.as_str()
                        && !luhn_ok(t)
                    {
                        out.insert(t.to_owned());
                    }
                    walk(v, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    // A `token` field that fails the Luhn check as a whole is a token (fpe
    // tokens are built to fail it), issued or echoed from the request; a
    // card number there still fails the check as a whole and is flagged.
    walk(answer, &mut ok);
    // Tokens the vault holds may be echoed (detokenize names them), and for
    // a detokenize the oracle allowed, so may their cards.
    for (token, pan) in tokens.iter().zip(SEEDED) {
        if sent.contains(token.as_str()) {
            if !luhn_ok(token) {
                ok.insert(token.clone());
            }
            if func == Func::Detokenize && handled {
                ok.insert(pan.to_owned());
            }
        }
    }
    ok.into_iter().collect()
}

fn run(func: Func, case: &Case) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let apps = apps().await;
        let fill = |s: &str| {
            let mut s = s.to_owned();
            for (i, t) in apps.tokens.iter().enumerate() {
                s = s.replace(&format!("{{T{i}}}"), t);
            }
            s
        };
        let path = fill(&case.path);
        let mut body = fill(&case.body);
        if case.oversize {
            body.push_str(&" ".repeat(MAX_BODY_BYTES + 1 - body.len().min(MAX_BODY_BYTES)));
        }
        let wire = match case.encoding {
            1 => base64::engine::general_purpose::STANDARD.encode(&body),
            2 => format!("{body}!*"),
            _ => body.clone(),
        };
        let case = Case {
            path: path.clone(),
            ..case.clone()
        };
        let e = event(
            case.shape,
            &case.origin,
            &case.caller,
            &case.method,
            &path,
            case.content_type.0,
            &wire,
            case.encoding != 0,
        );
        let app: &dyn Serve = match func {
            Func::Tokenize => &apps.tokenize,
            Func::Detokenize => &apps.detokenize,
            Func::Admin => &apps.admin,
        };
        let response = app
            .serve(e, context())
            .await
            .map_err(|e| TestCaseError::fail(format!("no response: {e}")))?;
        let status = response["statusCode"].as_u64().unwrap_or(0);
        let headers = &response["headers"];
        let text = response["body"].as_str().unwrap_or_default();
        let parsed: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let want = expect(func, &case, body.len());
        if status >= 400 {
            prop_assert_eq!(
                headers["content-type"].as_str(),
                Some("application/problem+json")
            );
            prop_assert!(
                parsed["type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("urn:tessera:problem:")),
                "not a problem: {}",
                text
            );
        }
        let slug = parsed["type"]
            .as_str()
            .and_then(|t| t.strip_prefix("urn:tessera:problem:"))
            .unwrap_or("");
        match want {
            Expect::Problem(code, kind) => {
                prop_assert_eq!((status, slug), (u64::from(code), kind), "{}", text);
            }
            Expect::MethodNotAllowed(allowed) => {
                prop_assert_eq!((status, slug), (405, "method-not-allowed"));
                let allow: BTreeSet<&str> = headers["allow"]
                    .as_str()
                    .unwrap_or("")
                    .split(", ")
                    .collect();
                prop_assert_eq!(allow, allowed.iter().copied().collect::<BTreeSet<_>>());
            }
            Expect::Handled => {
                prop_assert!(
                    (200..300).contains(&status) || (400..500).contains(&status),
                    "status {}: {}",
                    status,
                    text
                );
                prop_assert!(
                    ![401, 403, 405, 413, 415].contains(&status),
                    "{} after every check passed: {}",
                    status,
                    text
                );
            }
        }
        let ok = legitimate(func, want == Expect::Handled, &parsed, &apps.tokens, &body);
        let ok: Vec<&str> = ok.iter().map(String::as_str).collect();
        let leaks = find_card_numbers_except(&response.to_string(), &ok);
        prop_assert!(
            leaks.is_empty(),
            "card number in {} answer {}: {:?}",
            status,
            text,
            leaks
        );
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn tokenize_answers_every_event_as_its_checks_require(case in case(Func::Tokenize)) {
        run(Func::Tokenize, &case)?;
    }

    #[test]
    fn detokenize_answers_every_event_as_its_checks_require(case in case(Func::Detokenize)) {
        run(Func::Detokenize, &case)?;
    }

    #[test]
    fn admin_answers_every_event_as_its_checks_require(case in case(Func::Admin)) {
        run(Func::Admin, &case)?;
    }
}

/// The oracle's own corner cases, so a change to routing or authorization
/// order shows up here by name, not only as a shrunk proptest case.
#[test]
fn the_oracle_orders_checks_as_the_pipeline_does() {
    let base = Case {
        shape: Shape::HttpV2,
        origin: Origin {
            api_id: HTTP_API.into(),
            stage: HTTP_STAGE.into(),
            account: ACCOUNT.into(),
        },
        caller: Caller::Arn(session_arn(TOKENIZER)),
        method: "POST".into(),
        path: "/v1/tokens".into(),
        content_type: ("application/json", true),
        body: json!({"pan": "4111111111111111"}).to_string(),
        encoding: 0,
        oversize: false,
    };
    let cases = [
        (
            Case {
                origin: Origin {
                    account: "999988887777".into(),
                    ..base.origin.clone()
                },
                ..base.clone()
            },
            Func::Tokenize,
            Expect::Problem(403, "untrusted-origin"),
        ),
        (
            Case {
                caller: Caller::Missing,
                ..base.clone()
            },
            Func::Tokenize,
            Expect::Problem(401, "unauthenticated"),
        ),
        (
            base.clone(),
            Func::Detokenize,
            Expect::Problem(403, "forbidden"),
        ),
        (
            Case {
                path: "/v2/x".into(),
                ..base.clone()
            },
            Func::Tokenize,
            Expect::Problem(404, "route-not-found"),
        ),
        (
            Case {
                method: "PUT".into(),
                ..base.clone()
            },
            Func::Tokenize,
            Expect::MethodNotAllowed(&["POST"]),
        ),
        (
            Case {
                caller: Caller::Arn(session_arn(DESCRIBER)),
                ..base.clone()
            },
            Func::Tokenize,
            Expect::Problem(403, "forbidden"),
        ),
        (
            Case {
                content_type: ("text/plain", false),
                ..base.clone()
            },
            Func::Tokenize,
            Expect::Problem(415, "unsupported-media-type"),
        ),
        (
            Case {
                oversize: true,
                ..base.clone()
            },
            Func::Tokenize,
            Expect::Problem(413, "payload-too-large"),
        ),
        (
            Case {
                encoding: 2,
                ..base.clone()
            },
            Func::Tokenize,
            Expect::Problem(400, "invalid-base64"),
        ),
        (base.clone(), Func::Tokenize, Expect::Handled),
    ];
    for (case, func, want) in cases {
        run(func, &case).unwrap_or_else(|e| panic!("{case:?}: {e}"));
        let len = if case.oversize {
            MAX_BODY_BYTES + 1
        } else {
            case.body.len()
        };
        assert_eq!(expect(func, &case, len), want, "{case:?}");
    }
}
