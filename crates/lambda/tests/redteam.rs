//! Red-team attacks on the whole envelope, in process, over the memory ports.
//!
//! Each `refused_*` test (and the F7 test) is an attack the red team first
//! demonstrated, kept as a regression test after its fix. Each `holds_*` test
//! is an attack that was tried and refused. `attack_fpe_token_space_...`
//! still demonstrates an accepted residual risk (README, Known limits).

mod support;

use serde_json::{Value, json};
use support::{
    ACCOUNT, Capture, DESCRIBER, DETOKENIZER, FUNCTION_ARN, Logs, TOKENIZER, VISA, stack,
};
use tessera_core::Pan;
use tessera_lambda::{App, Function};

/// An HTTP API (v2) event signed by the IAM `user_arn`, with extra headers.
fn v2_event(user_arn: &str, method: &str, path: &str, headers: Value, body: &Value) -> Value {
    let mut h = json!({ "content-type": "application/json" });
    if let (Some(h), Some(extra)) = (h.as_object_mut(), headers.as_object()) {
        for (k, v) in extra {
            h.insert(k.clone(), v.clone());
        }
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": h,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "api",
            "authorizer": { "iam": { "userArn": user_arn } },
            "domainName": "example.com",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t" },
            "requestId": "r",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:12:00:00 +0000",
            "timeEpoch": 0
        },
        "body": if body.is_null() { Value::Null } else { Value::String(body.to_string()) },
        "isBase64Encoded": false
    })
}

/// A REST API (v1) proxy event, as API Gateway sends it for an AWS_IAM method.
fn v1_event(user_arn: &str, method: &str, path: &str, headers: Value, body: &Value) -> Value {
    let mut h = json!({ "content-type": "application/json", "Host": "abc.execute-api.us-east-1.amazonaws.com" });
    if let (Some(h), Some(extra)) = (h.as_object_mut(), headers.as_object()) {
        for (k, v) in extra {
            h.insert(k.clone(), v.clone());
        }
    }
    json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": h,
        "multiValueHeaders": {},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "api",
            "resourcePath": path,
            "httpMethod": method,
            "path": format!("/prod{path}"),
            "stage": "prod",
            "requestId": "r1",
            "identity": { "userArn": user_arn, "sourceIp": "10.0.0.1" },
            "protocol": "HTTP/1.1"
        },
        "body": if body.is_null() { Value::Null } else { Value::String(body.to_string()) },
        "isBase64Encoded": false
    })
}

fn session(caller: &str, session: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT}:assumed-role/{caller}/{session}")
}

/// Serves a raw event; `None` when the function returned an invocation error
/// (API Gateway then answers 502 on its own, and the handler wrote no audit event).
async fn raw<F: Function>(app: &App<F>, event: Value) -> Option<(u64, Value, Value)> {
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn = FUNCTION_ARN.into();
    let response = app.handle_event(event, context).await.ok()?;
    let status = response["statusCode"].as_u64().expect("status");
    let body = response["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).unwrap_or(Value::String(b.to_owned())))
        .unwrap_or(Value::Null);
    Some((status, body, response["headers"].clone()))
}

async fn call<F: Function>(
    app: &App<F>,
    caller: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u64, Value) {
    let (s, b, _) = raw(
        app,
        v2_event(&session(caller, "s"), method, path, json!({}), &body),
    )
    .await
    .expect("an HTTP event");
    (s, b)
}

/// This thread's log lines (audit events included) from now on.
fn capture() -> (Capture, Logs) {
    let logs = Logs::capture("info");
    (logs.capture.clone(), logs)
}

fn digits_only(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

// ---------------------------------------------------------------- findings

/// F1 (fixed): a correlation id of colon-separated digit groups, or one with
/// its check digit dropped, is replaced by the request id: never echoed or logged.
#[tokio::test]
async fn refused_pan_in_correlation_id_with_colons() {
    let s = stack();
    let (cap, _g) = capture();
    for cid in ["4111:1111:1111:1111", "4111.1111.1111.111"] {
        let (status, body, headers) = raw(
            &s.detokenize,
            v2_event(
                &session("some-other-role", "s"),
                "POST",
                "/v1/detokenize",
                json!({ "x-correlation-id": cid }),
                &json!({}),
            ),
        )
        .await
        .expect("served");
        assert_eq!(status, 403);
        assert_ne!(body["correlation_id"], cid);
        assert_ne!(headers["x-correlation-id"], cid);
    }
    let logs = cap.text();
    assert!(!digits_only(&logs).contains("411111111111111"), "{logs}");
}

/// F2 (fixed): a grouped PAN with its check digit dropped or changed is
/// refused in metadata and in a detokenize reason.
#[tokio::test]
async fn refused_pan_without_check_digit_in_metadata_and_reason() {
    let s = stack();
    for note in ["4111 1111 1111 111", "4111 1111 1111 1112"] {
        let (status, out) = call(
            &s.tokenize,
            TOKENIZER,
            "POST",
            "/v1/tokens",
            json!({ "pan": "5555555555554444", "metadata": { "note": note } }),
        )
        .await;
        assert_eq!(status, 400, "{out}");
        assert_eq!(out["type"], "urn:tessera:problem:invalid-metadata");
    }
    let (_, out) = call(
        &s.tokenize,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({ "pan": VISA }),
    )
    .await;
    let token = out["token"].as_str().expect("token").to_owned();
    let (status, out) = call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize",
        json!({ "token": token, "reason": "card 4111 1111 1111 111" }),
    )
    .await;
    assert_eq!(status, 400, "{out}");
    assert_eq!(out["type"], "urn:tessera:problem:invalid-reason");
}

/// F3 (fixed): any punctuation or symbol between digit groups separates them,
/// and dotted octets are an exempt address only one address at a time.
/// (`:` and `,` between groups: tests/separators.rs; `+` still starts a
/// phone number, by design.)
#[tokio::test]
async fn refused_pan_in_metadata_with_unusual_separators() {
    let s = stack();
    let writings = [
        "4111\u{2022}1111\u{2022}1111\u{2022}1111",
        "4111\u{2026}1111\u{2026}1111\u{2026}1111",
        "4111|1111|1111|1111",
        "4111*1111*1111*1111",
        "4111#1111#1111#1111",
        "4111~1111~1111~1111",
        "4111\u{2800}1111\u{2800}1111\u{2800}1111",
        "4111\u{30FC}1111\u{30FC}1111\u{30FC}1111",
        "4111\u{2796}1111\u{2796}1111\u{2796}1111",
        "4.111.111.11.1.111.1.11",
        "55.55.55.55.55.55.44.44",
        "四一一一 一一一一 一一一一 一一一一",
    ];
    for w in writings {
        let (status, out) = call(
            &s.tokenize,
            TOKENIZER,
            "POST",
            "/v1/tokens",
            json!({ "pan": VISA, "dedupe": false, "metadata": { "note": w } }),
        )
        .await;
        assert_eq!(status, 400, "{w:?} was stored: {out}");
    }
}

/// F5 (fixed): security-code names in ordinary words, look-alike letters and
/// a value that gives a code away are refused.
#[tokio::test]
async fn refused_security_code_names_and_values() {
    let s = stack();
    for n in [
        "sec_code",
        "secCode",
        "securityNumber",
        "security_no",
        "verification_number",
        "cv_code",
        "cvcode",
        "cav",
        "\u{0441}vv",
        "\u{1D41C}\u{1D42F}\u{1D42F}",
        "\u{24D2}\u{24E5}\u{24E5}",
        "c\u{0335}vv",
        "kod_cvv_pl",
    ] {
        let (status, out) = call(
            &s.tokenize,
            TOKENIZER,
            "POST",
            "/v1/tokens",
            json!({ "pan": VISA, "dedupe": false, "metadata": { n: "123" } }),
        )
        .await;
        assert_eq!(status, 400, "{n:?} stored: {out}");
        assert_eq!(out["type"], "urn:tessera:problem:forbidden-field", "{n}");
    }
    let (status, out) = call(
        &s.tokenize,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({ "pan": VISA, "dedupe": false, "metadata": { "note": "CVV2: 123" } }),
    )
    .await;
    assert_eq!(status, 400, "{out}");
    assert_eq!(out["type"], "urn:tessera:problem:forbidden-field");
}

/// F6 (fixed): a refused caller is audited as its role, never its session
/// name, which whoever assumes the role chooses.
#[tokio::test]
async fn refused_callers_session_name_never_reaches_the_audit_log() {
    let s = stack();
    let (cap, _g) = capture();
    let arn = session("unlisted-role", VISA);
    let (status, _, _) = raw(
        &s.detokenize,
        v2_event(&arn, "POST", "/v1/detokenize", json!({}), &json!({})),
    )
    .await
    .expect("served");
    assert_eq!(status, 403);
    let logs = cap.text();
    assert!(!logs.contains(VISA), "{logs}");
    assert!(logs.contains("role/unlisted-role"), "{logs}");
}

/// F7 (fixed): header values lambda_http cannot build a URL from no longer
/// fail the invocation: the request is served without them (and so audited).
#[tokio::test]
async fn a_header_the_url_parser_rejects_is_still_served_and_audited() {
    let s = stack();
    let (cap, _g) = capture();
    for (name, value) in [
        ("x-forwarded-proto", "1nvalid scheme"),
        ("host", "exa mple.com"),
        ("host", "a@b@c"),
        ("x-forwarded-proto", "http:"),
    ] {
        let event = v1_event(
            &session(TOKENIZER, "s"),
            "POST",
            "/v1/tokens",
            json!({ name: value }),
            &json!({ "pan": VISA }),
        );
        let (status, _, _) = raw(&s.tokenize, event).await.expect("served");
        assert!(status == 201 || status == 200, "{name}: {status}");
    }
    // Each request went the whole way through the envelope and was audited.
    let audits = cap.text().matches("\"event\":\"audit\"").count();
    assert_eq!(audits, 4, "{}", cap.text());
}

// ---------------------------------------------------------------- attacks that held

#[tokio::test]
async fn holds_path_tricks_cannot_reach_describe_or_detokenize() {
    let s = stack();
    let token = {
        let (_, out) = call(
            &s.tokenize,
            TOKENIZER,
            "POST",
            "/v1/tokens",
            json!({ "pan": VISA }),
        )
        .await;
        out["token"].as_str().expect("token").to_owned()
    };
    for path in [
        format!("/v1/tokens/{token}"),
        format!("/prod/v1/tokens/{token}"),
        format!("/v1/tokens/{token}/"),
        format!("//v1/tokens/{token}"),
        format!("/x/v1/tokens/{token}"),
        format!("/v1/v1/tokens/{token}"),
        format!("/v1/tokens/batch/../{token}"),
        format!("/v1/tokens%2F{token}"),
    ] {
        let (status, _) = call(&s.tokenize, TOKENIZER, "GET", &path, Value::Null).await;
        assert!(
            status == 403 || status == 404 || status == 405 || status == 400,
            "{path}: {status}"
        );
        assert_ne!(status, 200, "{path}");
    }
    for path in [
        "/v1/tokens/v1/detokenize",
        "/v1/detokenize/../tokens",
        "/V1/DETOKENIZE",
    ] {
        let (status, out) = call(
            &s.detokenize,
            TOKENIZER,
            "POST",
            path,
            json!({ "token": token, "reason": "x" }),
        )
        .await;
        assert_eq!(status, 403, "{path}: {out}");
    }
}

#[tokio::test]
async fn holds_identity_confusion() {
    let s = stack();
    let body = json!({ "token": "tok_00000000000000000000000000", "reason": "x" });
    for arn in [
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/SETTLEMENT-DETOKENIZER/s"),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/settlement-detokenizer\u{200B}/s"),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/x/settlement-detokenizer"),
        format!("arn:aws:sts::999999999999:assumed-role/{DETOKENIZER}/s"),
        format!("arn:awsx:sts::{ACCOUNT}:assumed-role/{DETOKENIZER}/s"),
        format!("arn:aws:iam::{ACCOUNT}:user/{DETOKENIZER}"),
        format!("arn:aws:sts::{ACCOUNT}:federated-user/{DETOKENIZER}"),
        format!("arn:aws:iam::{ACCOUNT}:role/{DETOKENIZER}/"),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{DETOKENIZER}"),
        format!(" arn:aws:sts::{ACCOUNT}:assumed-role/{DETOKENIZER}/s"),
    ] {
        let (status, b, _) = raw(
            &s.detokenize,
            v2_event(&arn, "POST", "/v1/detokenize", json!({}), &body),
        )
        .await
        .expect("served");
        assert!(status == 401 || status == 403, "{arn}: {status} {b}");
    }
    // Origin: another API id, stage or account.
    for (field, value) in [
        ("apiId", "other"),
        ("stage", "dev"),
        ("accountId", "999999999999"),
    ] {
        let mut e = v2_event(
            &session(DETOKENIZER, "s"),
            "POST",
            "/v1/detokenize",
            json!({}),
            &body,
        );
        e["requestContext"][field] = json!(value);
        let (status, b, _) = raw(&s.detokenize, e).await.expect("served");
        assert_eq!(status, 403, "{field}: {b}");
    }
    // A principal smuggled in headers or an extra authorizer shape is ignored.
    let mut e = v2_event(
        "",
        "POST",
        "/v1/detokenize",
        json!({ "x-amzn-iam-userarn": session(DETOKENIZER, "s") }),
        &body,
    );
    e["requestContext"]["authorizer"] =
        json!({ "lambda": { "userArn": session(DETOKENIZER, "s") } });
    let (status, _, _) = raw(&s.detokenize, e).await.expect("served");
    assert_eq!(status, 401);
}

#[tokio::test]
async fn holds_pan_as_token_and_cross_scope_lookup() {
    let s = stack();
    // A PAN where a token belongs is refused and never echoed, singly or in a batch.
    let (status, out) = call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize/batch",
        json!({ "tokens": [VISA, "4111-1111-1111-1111", "tok_00000000000000000000000000"], "reason": "x" }),
    )
    .await;
    assert_eq!(status, 200);
    assert!(!out.to_string().contains("1111111111"), "{out}");
    // Lookup in another role's scope: miss.
    let (status, _) = call(
        &s.tokenize,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({ "pan": VISA }),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = call(
        &s.tokenize,
        TOKENIZER,
        "POST",
        "/v1/tokens/lookup",
        json!({ "pan": VISA }),
    )
    .await;
    assert_eq!(status, 200);
    // The describer is not a tokenizer: no lookup at all.
    let (status, _) = call(
        &s.tokenize,
        DESCRIBER,
        "POST",
        "/v1/tokens/lookup",
        json!({ "pan": VISA }),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn holds_cvv_in_nested_and_duplicate_keys() {
    let s = stack();
    for body in [
        r#"{"pan":"4111111111111111","metadata":{"x":"1"},"metadata":{"cvv":"123"}}"#,
        r#"{"pan":"4111111111111111","metadata":{"\u0063vv":"123"}}"#,
        r#"{"pan":"4111111111111111","metadata":{"C_V_V":"123"}}"#,
        r#"{"pan":"4111111111111111","metadata":{"ＣＶＶ":"123"}}"#,
    ] {
        let e = v2_event(
            &session(TOKENIZER, "s"),
            "POST",
            "/v1/tokens",
            json!({}),
            &Value::Null,
        );
        let mut e = e;
        e["body"] = json!(body);
        let (status, out, _) = raw(&s.tokenize, e).await.expect("served");
        assert_eq!(status, 400, "{body}: {out}");
    }
    // Duplicate key, cvv first: the later value wins and nothing of the cvv is kept.
    let mut e = v2_event(
        &session(TOKENIZER, "s"),
        "POST",
        "/v1/tokens",
        json!({}),
        &Value::Null,
    );
    e["body"] = json!(
        r#"{"pan":"4111111111111111","dedupe":false,"metadata":{"cvv":"123"},"metadata":{"a":"b"}}"#
    );
    let (status, out, _) = raw(&s.tokenize, e).await.expect("served");
    assert_eq!(status, 201, "{out}");
}

/// F9: an fpe token of a 15-digit PAN has 5 random digits, of which 90,000
/// values fail Luhn: the whole token space of one BIN + last 4 nearly fills in 1,200
/// batch calls with `dedupe: false`. Once it is full (or nearly: 8 collisions
/// in a row), every caller's fpe tokenization of ANY card with that BIN and
/// last 4 gets 503, which also counts in the Errors alarm that rolls back
/// deployments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_fpe_token_space_exhaustion_denies_a_bin_last4() {
    let s = stack();
    let amex = "378282246310005";
    let item = json!({ "pan": amex, "format": "fpe", "dedupe": false });
    let batch = json!({ "items": vec![item; 100] });
    let mut issued = 0;
    for _ in 0..1200 {
        let (status, out) = call(
            &s.tokenize,
            TOKENIZER,
            "POST",
            "/v1/tokens/batch",
            batch.clone(),
        )
        .await;
        assert_eq!(status, 200);
        issued += out["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter(|r| r["status"] == 201)
            .count();
    }
    // Another card with the same BIN and last 4 (a different, Luhn-valid middle),
    // tokenized by another role: refused.
    let victim = {
        let mut found = None;
        for m in 0..100_000u32 {
            let pan = format!("378282{m:05}0005");
            if pan != amex && Pan::parse(&pan).is_ok() {
                found = Some(pan);
                break;
            }
        }
        found.expect("a victim card")
    };
    let mut unavailable = 0;
    for _ in 0..20 {
        let (status, _) = call(
            &s.tokenize,
            TOKENIZER,
            "POST",
            "/v1/tokens",
            json!({ "pan": victim, "format": "fpe", "dedupe": false }),
        )
        .await;
        if status == 503 {
            unavailable += 1;
        }
    }
    eprintln!("issued {issued} fpe tokens; victim refused {unavailable}/20 times");
    assert!(issued >= 85_000, "{issued}");
    assert!(unavailable >= 12, "{unavailable}");
}
