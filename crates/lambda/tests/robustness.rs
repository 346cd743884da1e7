//! Any request, however malformed, gets a well-formed answer: never a panic,
//! always a known status, problem+json for errors, and never a PAN echoed.

use std::sync::Arc;

use base64::Engine;
use proptest::prelude::*;
use serde_json::{Value, json};
use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;
use tessera_lambda::auth::{AllowList, ApiOrigin};
use tessera_lambda::envelope::Access;
use tessera_lambda::scopes::Scopes;
use tessera_lambda::{App, Tokenize};

const ROLE: &str = "arn:aws:iam::111122223333:role/payments-tokenizer";

fn app() -> App<Tokenize> {
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "robustness".into(),
    };
    let key = FingerprintKey::new(&[1; 32], "v1").expect("key");
    let tokenizer = Tokenizer::new(
        ports,
        Arc::new(MemoryVault::new()),
        Arc::new(MemoryKeyRing::new("robustness")),
        Fingerprinter::new(&key),
        CacheLimits::default(),
    );
    App::new(
        Tokenize::new(tokenizer, Scopes::default()),
        Access {
            origin: ApiOrigin::parse("api", "$default").expect("origin"),
            lists: vec![
                (
                    "TESSERA_TOKENIZE_ROLES",
                    AllowList::parse(ROLE).expect("allow-list"),
                ),
                (
                    "TESSERA_DESCRIBE_ROLES",
                    AllowList::parse(ROLE).expect("allow-list"),
                ),
            ],
            dev_principal: None,
        },
        Arc::new(|_| {}),
    )
}

/// The context Lambda gives an invocation in the events' account.
fn context() -> lambda_http::Context {
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn = "arn:aws:lambda:us-east-1:111122223333:function:t".into();
    context
}

fn event(method: &str, path: &str, content_type: &str, body: &str, base64: bool) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "content-type": content_type },
        "requestContext": {
            "accountId": "111122223333",
            "apiId": "api",
            "authorizer": { "iam": { "userArn": "arn:aws:sts::111122223333:assumed-role/payments-tokenizer/s" } },
            "domainName": "example.com",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t" },
            "requestId": "r",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:12:00:00 +0000",
            "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": base64
    })
}

fn has_pan(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| (12..=19).contains(&run.len()) && luhn_valid(run.as_bytes()))
}

/// Bodies near the real shapes, and plain noise.
fn body() -> impl Strategy<Value = String> {
    let pan = prop_oneof![
        Just("4111111111111111".to_owned()),
        Just("4111 1111 1111 1112".to_owned()),
        "[0-9 -]{0,25}",
        any::<String>(),
    ];
    prop_oneof![
        pan.clone().prop_map(|p| json!({ "pan": p }).to_string()),
        (pan.clone(), "[a-z_]{1,12}", any::<String>())
            .prop_map(|(p, k, v)| json!({ "pan": p, k: v }).to_string()),
        (pan.clone(), any::<i64>())
            .prop_map(|(p, t)| json!({ "pan": p, "ttl_seconds": t }).to_string()),
        (pan.clone(), "[0-9/]{0,7}")
            .prop_map(|(p, e)| json!({ "pan": p, "expires": e }).to_string()),
        proptest::collection::vec(pan, 0..4).prop_map(|ps| {
            json!({ "items": ps.iter().map(|p| json!({"pan": p})).collect::<Vec<_>>() }).to_string()
        }),
        Just(r#"{"pan": 4111111111111111}"#.to_owned()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_request_gets_a_well_formed_answer(
        method in prop_oneof![Just("POST"), Just("GET"), Just("DELETE"), Just("PUT")],
        path in prop_oneof![
            Just("/v1/tokens".to_owned()),
            Just("/v1/tokens/batch".to_owned()),
            Just("/v1/tokens/lookup".to_owned()),
            "/v1/tokens/[a-z0-9_]{0,30}",
            "/[a-z0-9/]{0,20}",
        ],
        content_type in prop_oneof![Just("application/json"), Just("application/json; charset=utf-8"), Just("text/plain"), Just("")],
        body in body(),
        encode in any::<bool>(),
        corrupt in any::<bool>(),
    ) {
        let wire = match (encode, corrupt) {
            (true, false) => base64::engine::general_purpose::STANDARD.encode(&body),
            (true, true) => format!("{body}!*"),
            _ => body.clone(),
        };
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let response = rt
            .block_on(app().handle_event(event(method, &path, content_type, &wire, encode), context()))
            .expect("an HTTP event always gets a response");
        let status = response["statusCode"].as_u64().expect("status");
        prop_assert!([200, 201, 400, 401, 403, 404, 405, 413, 415].contains(&status), "status {}", status);
        let text = response["body"].as_str().unwrap_or_default();
        if status >= 400 {
            prop_assert_eq!(response["headers"]["content-type"].as_str(), Some("application/problem+json"));
            let problem: Value = serde_json::from_str(text).expect("problem JSON");
            prop_assert!(problem["type"].as_str().is_some_and(|t| t.starts_with("urn:tessera:problem:")));
        }
        // The tokenize function never returns a PAN, in any answer.
        prop_assert!(!has_pan(text), "PAN in response: {}", status);
    }
}
