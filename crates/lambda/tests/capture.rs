//! The capture-sessions and capture functions in process, over the memory
//! vault and a manual clock: session lifecycle, one answer for unknown and
//! wrong, CORS, the frame's headers, bad input as problem+json, and no PAN
//! or client secret in any log line at any level.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::Logs;
use support::capture::{CaptureWorld, capture_world, context, public};
use tessera_lambda::functions::capture::FRAME_HTML;
use tessera_lambda::problem::Kind;
use tessera_lambda::{Capture, CaptureSessions, Function};
use tessera_testkit::find_card_numbers;

const MERCHANT: &str = "checkout-backend";
const OTHER: &str = "other-merchant";
const SHOP: &str = "https://shop.example";

type World = CaptureWorld;

fn world() -> World {
    capture_world(&[MERCHANT, OTHER], MERCHANT, |vault| vault)
}

fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    response["headers"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn json_body(response: &Value) -> Value {
    response["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).expect("JSON body"))
        .unwrap_or(Value::Null)
}

impl World {
    async fn create_as(&self, who: &str, body: Value) -> (u64, Value) {
        let event = support::event(who, "POST", "/prod/v1/capture-sessions", &body);
        let mut event = event;
        event["requestContext"]["apiId"] = json!("api");
        let r = self
            .sessions
            .handle_event(event, context())
            .await
            .expect("http");
        (r["statusCode"].as_u64().expect("status"), json_body(&r))
    }

    /// Opens a session; its id and secret.
    async fn open(&self, body: Value) -> (String, String) {
        let (status, created) = self.create_as(MERCHANT, body).await;
        assert_eq!(status, 201, "{created}");
        (
            created["session_id"].as_str().expect("id").to_owned(),
            created["client_secret"]
                .as_str()
                .expect("secret")
                .to_owned(),
        )
    }

    async fn read_as(&self, who: &str, id: &str) -> (u64, Value) {
        let r = self
            .sessions
            .handle_event(
                support::event(
                    who,
                    "GET",
                    &format!("/v1/capture-sessions/{id}"),
                    &Value::Null,
                ),
                context(),
            )
            .await
            .expect("http");
        (r["statusCode"].as_u64().expect("status"), json_body(&r))
    }

    async fn send(&self, event: Value) -> Value {
        self.capture
            .handle_event(event, context())
            .await
            .expect("http")
    }

    async fn post(&self, id: &str, authorization: Option<&str>, body: &str) -> Value {
        let mut headers = json!({"content-type": "application/json", "origin": SHOP});
        if let Some(a) = authorization {
            headers["authorization"] = json!(a);
        }
        self.send(public(
            "POST",
            "/v1/capture",
            &[("session", id)],
            headers,
            Some(body),
        ))
        .await
    }

    async fn capture(&self, id: &str, secret: &str, pan: &str) -> Value {
        self.post(
            id,
            Some(&format!("Bearer {secret}")),
            &json!({"pan": pan}).to_string(),
        )
        .await
    }

    fn metric(&self, name: &str) -> u64 {
        self.metrics
            .lock()
            .expect("metrics")
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).expect("EMF"))
            .filter_map(|m| m[name].as_u64())
            .sum()
    }
}

fn status(response: &Value) -> u64 {
    response["statusCode"].as_u64().expect("status")
}

fn problem(response: &Value) -> String {
    json_body(response)["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_session_captures_its_cards_then_is_used() {
    let w = world();
    let (id, secret) = w
        .open(json!({"origins": [SHOP], "max_cards": 2, "lang": "de"}))
        .await;
    let (code, session) = w.read_as(MERCHANT, &id).await;
    assert_eq!((code, session["state"].clone()), (200, json!("open")));
    assert_eq!(session["cards"], json!([]));

    let first = w.capture(&id, &secret, "4111 1111 1111 1111").await;
    assert_eq!(status(&first), 201, "{first}");
    let token = json_body(&first)["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(json_body(&first)["last4"], "1111");
    assert_eq!(json_body(&first)["brand"], "visa");
    let second = w.capture(&id, &secret, support::MASTERCARD).await;
    assert_eq!(status(&second), 201);
    let (_, session) = w.read_as(MERCHANT, &id).await;
    assert_eq!(session["state"], "used");
    assert_eq!(session["cards"][0]["token"], json!(token));
    assert_eq!(session["cards"].as_array().map(Vec::len), Some(2));
    assert!(!session.to_string().contains("4111111111111111"));

    let records = w.vault.record_count();
    let third = w.capture(&id, &secret, "378282246310005").await;
    assert_eq!(status(&third), 410);
    assert_eq!(problem(&third), Kind::CaptureSessionClosed.type_uri());
    assert!(
        json_body(&third)["detail"]
            .as_str()
            .expect("detail")
            .contains("used")
    );
    assert_eq!(
        w.vault.record_count(),
        records,
        "nothing written for a used session"
    );
    assert_eq!(w.metric("Captures"), 2);
}

#[tokio::test]
async fn a_cardholder_name_is_taken_only_where_the_session_asks_for_it() {
    let w = world();
    let named = json!({"pan": support::VISA, "cardholder_name": "Jane Doe"}).to_string();
    let (plain, plain_secret) = w.open(json!({"origins": [SHOP]})).await;
    let refused = w
        .post(&plain, Some(&format!("Bearer {plain_secret}")), &named)
        .await;
    assert_eq!(status(&refused), 400, "{refused}");
    assert_eq!(problem(&refused), Kind::InvalidCardholderName.type_uri());
    assert!(
        json_body(&refused)["detail"]
            .as_str()
            .is_some_and(|d| d.contains("fields.name") && !d.contains("Jane")),
        "{refused}"
    );
    let (_, session) = w.read_as(MERCHANT, &plain).await;
    assert_eq!(session["cards"], json!([]), "nothing stored");
    assert_eq!(session["failed_attempts"], 0);
    assert_eq!(w.vault.record_count(), 0);

    let (asked, asked_secret) = w
        .open(json!({"origins": [SHOP], "fields": {"name": true}}))
        .await;
    let taken = w
        .post(&asked, Some(&format!("Bearer {asked_secret}")), &named)
        .await;
    assert_eq!(status(&taken), 201, "{taken}");
    let (_, session) = w.read_as(MERCHANT, &asked).await;
    assert_eq!(session["cards"][0]["cardholder_name"], "Jane Doe");
    let (code, bad) = w
        .create_as(
            MERCHANT,
            json!({"origins": [SHOP], "fields": {"cvc": true}}),
        )
        .await;
    assert_eq!(code, 400, "{bad}");
}

#[tokio::test]
async fn five_failed_attempts_burn_the_session() {
    let w = world();
    let (id, secret) = w.open(json!({"origins": [SHOP]})).await;
    let wrong = format!("cscs_{}", "B".repeat(43));
    for _ in 0..3 {
        assert_eq!(status(&w.capture(&id, &wrong, support::VISA).await), 401);
    }
    // Invalid card numbers count too.
    let bad = w.capture(&id, &secret, "4111111111111112").await;
    assert_eq!(problem(&bad), Kind::LuhnCheckFailed.type_uri());
    assert_eq!(w.metric("SessionsBurned"), 0);
    assert_eq!(status(&w.capture(&id, &wrong, support::VISA).await), 401);
    assert_eq!(w.metric("SessionsBurned"), 1);
    assert_eq!(w.metric("CaptureFailures"), 5);
    let refused = w.capture(&id, &secret, support::VISA).await;
    assert_eq!(status(&refused), 410);
    assert!(
        json_body(&refused)["detail"]
            .as_str()
            .expect("d")
            .contains("burned")
    );
    let (_, session) = w.read_as(MERCHANT, &id).await;
    assert_eq!(session["state"], "burned");
    assert_eq!(session["failed_attempts"], 5);
    assert_eq!(w.vault.record_count(), 0);
}

#[tokio::test]
async fn expiry_is_checked_on_read() {
    let w = world();
    let (id, secret) = w
        .open(json!({"origins": [SHOP], "expires_in_seconds": 60}))
        .await;
    w.clock.advance_millis(60_000);
    let late = w.capture(&id, &secret, support::VISA).await;
    assert_eq!(status(&late), 410);
    assert!(
        json_body(&late)["detail"]
            .as_str()
            .expect("d")
            .contains("expired")
    );
    let (_, session) = w.read_as(MERCHANT, &id).await;
    assert_eq!(session["state"], "expired");
}

/// A response without what differs per request (the correlation id).
fn comparable(response: &Value) -> Value {
    let mut r = response.clone();
    if let Some(h) = r["headers"].as_object_mut() {
        h.remove("x-correlation-id");
    }
    let mut body = json_body(response);
    if let Some(b) = body.as_object_mut() {
        b.remove("correlation_id");
    }
    r["body"] = body;
    r.as_object_mut().map(|o| o.remove("multiValueHeaders"));
    r
}

#[tokio::test]
async fn unknown_wrong_missing_and_malformed_get_one_answer() {
    let w = world();
    let (id, secret) = w.open(json!({"origins": [SHOP]})).await;
    let pan = json!({"pan": support::VISA}).to_string();
    let reference = comparable(
        &w.post(&id, Some(&format!("Bearer cscs_{}", "C".repeat(43))), &pan)
            .await,
    );
    assert_eq!(reference["statusCode"], 401);
    assert_eq!(
        reference["body"]["type"],
        json!(Kind::CaptureUnauthorized.type_uri())
    );
    // No CORS on it: that would tell an allowed origin's page, or anyone
    // sending its Origin, that the session exists.
    assert_eq!(header(&reference, "access-control-allow-origin"), None);
    let unknown = "cs_zzzzzzzzzzzzzzzzzzzzzzzzzz";
    let others = [
        w.post(unknown, Some(&format!("Bearer {secret}")), &pan).await,
        w.post("not-a-session", Some(&format!("Bearer {secret}")), &pan).await,
        w.post(&id, None, &pan).await,
        w.post(&id, Some(&format!("Basic {secret}")), &pan).await,
        w.post(&id, Some("Bearer"), &pan).await,
        w.post(&id, Some(&format!("Bearer {secret} x")), &pan).await,
        w.send(public("POST", "/v1/capture", &[], json!({"content-type": "application/json", "authorization": format!("Bearer {secret}")}), Some(&pan))).await,
    ];
    for other in &others {
        assert_eq!(comparable(other), reference, "{other}");
    }
}

#[tokio::test]
async fn another_role_cannot_read_a_session() {
    let w = world();
    let (id, _) = w.open(json!({"origins": [SHOP]})).await;
    let (code, theirs) = w.read_as(OTHER, &id).await;
    let (unknown_code, unknown) = w.read_as(MERCHANT, "cs_zzzzzzzzzzzzzzzzzzzzzzzzzz").await;
    assert_eq!((code, unknown_code), (404, 404));
    assert_eq!(theirs["type"], unknown["type"]);
    assert_eq!(theirs["detail"], unknown["detail"]);
    assert_eq!(
        theirs["type"],
        json!(Kind::CaptureSessionNotFound.type_uri())
    );
}

#[tokio::test]
async fn cors_answers_only_the_sessions_origins_and_never_star() {
    let w = world();
    let (id, secret) = w
        .open(json!({"origins": [SHOP, "https://shop.example:8443"], "max_cards": 10}))
        .await;
    let with_origin = |origin: &str| json!({"content-type": "application/json", "origin": origin, "authorization": format!("Bearer {secret}")});
    let pan = json!({"pan": support::VISA}).to_string();
    for (origin, allowed) in [
        (SHOP, true),
        ("https://shop.example:8443", true),
        ("https://evil.example", false),
        ("https://shop.example.evil.example", false),
        ("http://shop.example", false),
        ("null", false),
    ] {
        let r = w
            .send(public(
                "POST",
                "/v1/capture",
                &[("session", &id)],
                with_origin(origin),
                Some(&pan),
            ))
            .await;
        assert_eq!(
            header(&r, "access-control-allow-origin"),
            allowed.then_some(origin),
            "{origin}: {r}"
        );
        assert_eq!(header(&r, "vary"), Some("Origin"), "{origin}");
        assert_eq!(header(&r, "access-control-allow-credentials"), None);
        let pre = w
            .send(public(
                "OPTIONS",
                "/v1/capture",
                &[("session", &id)],
                json!({"origin": origin, "access-control-request-method": "POST"}),
                None,
            ))
            .await;
        assert_eq!(status(&pre), 204);
        assert_eq!(
            header(&pre, "access-control-allow-origin"),
            allowed.then_some(origin)
        );
        assert_eq!(
            header(&pre, "access-control-allow-headers"),
            allowed.then_some("authorization, content-type")
        );
        assert_eq!(
            header(&pre, "access-control-allow-methods"),
            allowed.then_some("POST")
        );
    }
    // A problem from an allowed origin carries the CORS headers too.
    let bad = w
        .send(public(
            "POST",
            "/v1/capture",
            &[("session", &id)],
            with_origin(SHOP),
            Some("{"),
        ))
        .await;
    assert_eq!(status(&bad), 400);
    assert_eq!(header(&bad, "access-control-allow-origin"), Some(SHOP));
    let unknown = w
        .send(public(
            "OPTIONS",
            "/v1/capture",
            &[("session", "cs_zzzzzzzzzzzzzzzzzzzzzzzzzz")],
            json!({"origin": SHOP}),
            None,
        ))
        .await;
    assert_eq!(header(&unknown, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn the_frame_and_its_assets_carry_their_headers() {
    let w = world();
    let (id, _) = w
        .open(json!({"origins": [SHOP, "https://b.example"], "lang": "de"}))
        .await;
    let frame = w
        .send(public(
            "GET",
            "/capture/v1/frame",
            &[("session", &id)],
            json!({}),
            None,
        ))
        .await;
    assert_eq!(status(&frame), 200);
    assert_eq!(
        header(&frame, "content-security-policy"),
        Some(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors https://shop.example https://b.example"
        )
    );
    assert_eq!(header(&frame, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&frame, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(&frame, "cache-control"), Some("no-store"));
    assert_eq!(
        header(&frame, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&frame, "access-control-allow-origin"), None);
    let html = frame["body"].as_str().expect("html");
    assert!(html.contains(&format!("lang=\"de\" data-session=\"{id}\" data-origins=\"https://shop.example https://b.example\" data-state=\"open\"")), "{html}");
    assert!(!html.contains("{{"));
    let english = w
        .send(public(
            "GET",
            "/capture/v1/frame",
            &[("session", &id), ("lang", "en")],
            json!({}),
            None,
        ))
        .await;
    assert!(
        english["body"]
            .as_str()
            .expect("html")
            .contains("lang=\"en\"")
    );
    assert_eq!(FRAME_HTML.matches("{{").count(), 4);

    for query in [
        vec![("session", "cs_zzzzzzzzzzzzzzzzzzzzzzzzzz")],
        vec![("session", "<script>")],
        vec![],
    ] {
        let missing = w
            .send(public("GET", "/capture/v1/frame", &query, json!({}), None))
            .await;
        assert_eq!(status(&missing), 404);
        assert_eq!(
            header(&missing, "content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'")
        );
        assert_eq!(problem(&missing), Kind::CaptureSessionNotFound.type_uri());
    }

    for (path, content_type, loader) in [
        (
            "/capture/v1/frame.js",
            "text/javascript; charset=utf-8",
            false,
        ),
        ("/capture/v1/frame.css", "text/css; charset=utf-8", false),
        (
            "/capture/v1/tessera-capture.js",
            "text/javascript; charset=utf-8",
            true,
        ),
    ] {
        let r = w.send(public("GET", path, &[], json!({}), None)).await;
        assert_eq!(status(&r), 200, "{path}");
        assert_eq!(header(&r, "content-type"), Some(content_type), "{path}");
        assert_eq!(
            header(&r, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&r, "cache-control"),
            Some("public, max-age=300"),
            "{path}"
        );
        assert_eq!(
            header(&r, "access-control-allow-origin"),
            loader.then_some("*"),
            "{path}"
        );
        assert_eq!(
            header(&r, "cross-origin-resource-policy"),
            loader.then_some("cross-origin"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn bad_input_is_a_problem_never_a_5xx() {
    let w = world();
    let (id, secret) = w.open(json!({"origins": [SHOP], "max_cards": 10})).await;
    let bearer = format!("Bearer {secret}");
    let send = |headers: Value, body: String| {
        let id = id.clone();
        let w = &w;
        async move {
            w.send(public(
                "POST",
                "/v1/capture",
                &[("session", &id)],
                headers,
                Some(&body),
            ))
            .await
        }
    };
    let json_headers = json!({"content-type": "application/json", "authorization": bearer});
    let cases: Vec<(Value, String, Kind)> = vec![
        (json_headers.clone(), "{".into(), Kind::InvalidJson),
        (json_headers.clone(), "[]".into(), Kind::InvalidBody),
        (
            json_headers.clone(),
            "\"4111111111111111\"".into(),
            Kind::InvalidBody,
        ),
        (
            json_headers.clone(),
            r#"{"pan":4111111111111111}"#.into(),
            Kind::InvalidBody,
        ),
        (
            json_headers.clone(),
            r#"{"number":"4111111111111111"}"#.into(),
            Kind::UnknownField,
        ),
        (
            json_headers.clone(),
            r#"{"pan":"4111111111111111","colour":"x"}"#.into(),
            Kind::UnknownField,
        ),
        (
            json_headers.clone(),
            r#"{"pan":"4111111111111111","cvv":"123"}"#.into(),
            Kind::ForbiddenField,
        ),
        (
            json_headers.clone(),
            r#"{"pan":"4111111111111111","cvc2":"123"}"#.into(),
            Kind::ForbiddenField,
        ),
        (
            json_headers.clone(),
            r#"{"pan":"4111111111111111","cardholder_name":"4111 1111 1111 1111"}"#.into(),
            Kind::InvalidCardholderName,
        ),
        (
            json_headers.clone(),
            r#"{"pan":"4111111111111111","cardholder_name":"a\nb"}"#.into(),
            Kind::InvalidCardholderName,
        ),
        (
            json_headers.clone(),
            r#"{"pan":"4111111111111111","expiry":"13/30"}"#.into(),
            Kind::InvalidExpiry,
        ),
        (
            json_headers.clone(),
            r#"{"pan":"4111111111111111","expiry":"01/20"}"#.into(),
            Kind::InvalidExpiry,
        ),
        (
            json_headers.clone(),
            format!(r#"{{"pan":"{}"}}"#, "4".repeat(70)),
            Kind::InvalidPan,
        ),
        (
            json_headers.clone(),
            format!(
                r#"{{"pan":"4111111111111111","cardholder_name":"{}"}}"#,
                "x".repeat(70 * 1024)
            ),
            Kind::PayloadTooLarge,
        ),
        (
            json!({"content-type": "text/plain", "authorization": bearer}),
            r#"{"pan":"4111111111111111"}"#.into(),
            Kind::UnsupportedMediaType,
        ),
        (
            json!({"authorization": bearer}),
            "pan=4111111111111111".into(),
            Kind::UnsupportedMediaType,
        ),
    ];
    for (headers, body, kind) in cases {
        let shown = body.chars().take(60).collect::<String>();
        let r = send(headers, body).await;
        assert_eq!(problem(&r), kind.type_uri(), "{shown}: {r}");
        assert_eq!(status(&r), u64::from(kind.status().as_u16()), "{shown}");
        assert_eq!(header(&r, "content-type"), Some("application/problem+json"));
        assert!(
            !r["body"].as_str().unwrap_or_default().contains("4111"),
            "{shown}"
        );
    }
    // Sessions: a PAN in metadata, a bad origin, wildcard, out-of-range settings.
    for (body, kind) in [
        (
            json!({"origins": [SHOP], "metadata": {"n": "4111 1111 1111 1111"}}),
            Kind::InvalidMetadata,
        ),
        (
            json!({"origins": [SHOP], "metadata": {"n": "cvv2: 123"}}),
            Kind::ForbiddenField,
        ),
        (
            json!({"origins": [SHOP], "cvv": "123"}),
            Kind::ForbiddenField,
        ),
        (
            json!({"origins": ["https://*.shop.example"]}),
            Kind::InvalidOrigin,
        ),
        (
            json!({"origins": ["http://shop.example"]}),
            Kind::InvalidOrigin,
        ),
        (
            json!({"origins": ["http://localhost:8080"]}),
            Kind::InvalidOrigin,
        ),
        (json!({"origins": []}), Kind::InvalidSessionPolicy),
        (
            json!({"origins": [SHOP], "max_cards": 11}),
            Kind::InvalidSessionPolicy,
        ),
        (
            json!({"origins": [SHOP], "expires_in_seconds": 59}),
            Kind::InvalidSessionPolicy,
        ),
        (
            json!({"origins": [SHOP], "lang": "fr"}),
            Kind::InvalidSessionPolicy,
        ),
        (
            json!({"origins": [SHOP], "expires": "12/30"}),
            Kind::InvalidExpiry,
        ),
        (
            json!({"origins": [SHOP], "ttl_seconds": 60, "expires": "card"}),
            Kind::InvalidExpiry,
        ),
        (
            json!({"origins": [SHOP], "colour": "x"}),
            Kind::UnknownField,
        ),
        (
            json!({"origins": "https://shop.example"}),
            Kind::InvalidBody,
        ),
    ] {
        let (code, answer) = w.create_as(MERCHANT, body.clone()).await;
        assert_eq!(answer["type"], json!(kind.type_uri()), "{body}: {answer}");
        assert!(code < 500);
        assert!(!answer.to_string().contains("4111"), "{answer}");
    }
    // Card retention without the typed expiry.
    let (id, secret) = w.open(json!({"origins": [SHOP], "expires": "card"})).await;
    let r = w.capture(&id, &secret, support::VISA).await;
    assert_eq!(problem(&r), Kind::InvalidExpiry.type_uri());
}

#[tokio::test]
async fn no_pan_or_client_secret_reaches_any_log_line_at_any_level() {
    for level in ["trace", "debug", "info"] {
        let logs = Logs::capture(level);
        let w = world();
        let (id, secret) = w.open(json!({"origins": [SHOP], "max_cards": 2})).await;
        let (other, other_secret) = w.open(json!({"origins": [SHOP]})).await;
        assert_eq!(
            status(&w.capture(&id, &secret, "4000 0566 5566 5556").await),
            201
        );
        w.capture(&id, &format!("cscs_{}", "D".repeat(43)), support::VISA)
            .await;
        w.capture(&id, &secret, "4111111111111112").await;
        w.post(
            &id,
            Some(&format!("Bearer {secret}")),
            r#"{"pan":"5555555555554444","cardholder_name":"5555 5555 5555 4444"}"#,
        )
        .await;
        w.post(
            &other,
            Some(&format!("Bearer {other_secret}")),
            r#"{"pan":"378282246310005","cvv":"1234"}"#,
        )
        .await;
        w.post(
            &other,
            Some(&format!("Bearer {other_secret}")),
            r#"{"pan":6011000990139424}"#,
        )
        .await;
        w.read_as(MERCHANT, &id).await;
        let text = logs.capture.text();
        let leaks = find_card_numbers(&text);
        assert!(leaks.is_empty(), "{level}: {leaks:?}");
        for s in [&secret, &other_secret] {
            assert!(
                !text.contains(s.as_str()),
                "{level}: a client secret in the logs"
            );
            assert!(
                !text.contains(&s[5..]),
                "{level}: a client secret's body in the logs"
            );
        }
        let audits = logs.audits();
        // Counted at info only: a thread-local dispatcher (trace, debug)
        // races the other tests' threads on tracing's callsite-interest
        // cache and can lose a line (see support::Logs), which would fail
        // this count and never hide a leak. audit_levels.rs counts audit
        // lines at every level in a process of its own.
        if level != "info" {
            continue;
        }
        assert!(audits.len() >= 8, "{level}: one audit event per request");
        let captures: Vec<&Value> = audits
            .iter()
            .filter(|a| a["operation"] == "capture")
            .collect();
        assert!(
            captures
                .iter()
                .all(|a| a["session"] == id || a["session"] == other)
        );
        let refused = captures.iter().find(|a| a["status"] == 401).expect("a 401");
        assert_eq!(refused["decision"], "deny");
    }
}

#[tokio::test]
async fn every_capture_problem_kind_is_produced_here() {
    // promises.rs leaves these to this file (as forward's to forward.rs).
    let w = world();
    let mut produced = BTreeSet::new();
    let (id, secret) = w.open(json!({"origins": [SHOP]})).await;
    let mut note = |r: &Value| {
        produced.insert(problem(r));
    };
    note(&w.capture(&id, "nope", support::VISA).await);
    note(
        &w.post(
            &id,
            Some(&format!("Bearer {secret}")),
            r#"{"pan":"4111111111111111","cardholder_name":"4111111111111111"}"#,
        )
        .await,
    );
    note(
        &w.send(public("GET", "/capture/v1/frame", &[], json!({}), None))
            .await,
    );
    w.capture(&id, &secret, support::VISA).await;
    note(&w.capture(&id, &secret, support::VISA).await);
    let (_, a) = w.create_as(MERCHANT, json!({"origins": ["x"]})).await;
    let (_, b) = w.create_as(MERCHANT, json!({"origins": []})).await;
    produced.insert(a["type"].as_str().unwrap_or_default().to_owned());
    produced.insert(b["type"].as_str().unwrap_or_default().to_owned());
    let (_, c) = w.read_as(MERCHANT, "cs_zzzzzzzzzzzzzzzzzzzzzzzzzz").await;
    produced.insert(c["type"].as_str().unwrap_or_default().to_owned());
    let capture_kinds: BTreeSet<String> = [
        Kind::CaptureUnauthorized,
        Kind::InvalidCardholderName,
        Kind::CaptureSessionNotFound,
        Kind::CaptureSessionClosed,
        Kind::InvalidOrigin,
        Kind::InvalidSessionPolicy,
    ]
    .iter()
    .map(|k| k.type_uri())
    .collect();
    assert!(capture_kinds.is_subset(&produced), "{produced:?}");
    assert_eq!(
        capture_kinds.len(),
        Kind::ALL
            .iter()
            .filter(|k| tessera_lambda::problem::is_capture_kind(**k))
            .count()
    );
}

#[test]
fn the_capture_function_authenticates_by_bearer_and_has_no_allow_list() {
    assert_eq!(
        Capture::AUTHENTICATION,
        tessera_lambda::functions::Authentication::Bearer
    );
    assert!(Capture::ALLOW_LISTS.is_empty());
    assert_eq!(
        CaptureSessions::AUTHENTICATION,
        tessera_lambda::functions::Authentication::Iam
    );
}
