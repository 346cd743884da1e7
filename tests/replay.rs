//! Replays every event in `events/` through the handlers in process, against
//! the moto emulator, checks each response against `events/manifest.json`,
//! and fails if any captured log or metrics line holds a card number, as
//! found by the suite's independent finder, `tessera_testkit`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tessera_aws::provision::{Fixture, import_fixtures};
use tessera_core::capture::{
    CaptureOrigin, CaptureSession, ClientSecret, OriginMode, SessionId, SessionPolicy,
    SessionRegistry,
};
use tessera_core::{Clock, SystemClock, Token};
use tessera_e2e::{env_reader, stack};
use tessera_lambda::telemetry::{LogFormat, dispatch};
use tessera_lambda::{
    Admin, Capture as CaptureFn, CaptureSessions, Detokenize, Forward, Function, Serve, Tokenize,
    build_app,
};
use tessera_testkit::find_card_numbers;
use tessera_testkit::stub::StubProcessor;
use tracing_subscriber::fmt::MakeWriter;

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");

/// Everything written to logs and metrics during the test.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

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
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

#[test]
fn the_leak_detector_finds_a_pan() {
    // The finder's rules and exemptions (EMF's 13-digit `"Timestamp"`, one
    // digit repeated) are in tessera-testkit, with its self-tests.
    assert!(!find_card_numbers("x 4111111111111111 y").is_empty());
    assert!(!find_card_numbers("pan=\"4000 0566 5566 5556\"").is_empty());
    assert!(find_card_numbers("{\"_aws\":{\"Timestamp\":1795000000017}}").is_empty());
    assert!(find_card_numbers("account 111122223333, token tok_01h2").is_empty());
}

fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    response["headers"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn check_body(name: &str, body: &Value, expect: &Value) {
    if let Some(problem) = expect["problem"].as_str() {
        let want = format!("urn:tessera:problem:{problem}");
        let got = body
            .get("type")
            .or_else(|| body.get("error").and_then(|e| e.get("type")));
        assert_eq!(
            got.and_then(Value::as_str),
            Some(want.as_str()),
            "{name}: problem type in {body}"
        );
    }
    for field in expect["fields"].as_array().into_iter().flatten() {
        let field = field.as_str().unwrap_or_default();
        assert!(
            body.get(field).is_some(),
            "{name}: field `{field}` missing from {body}"
        );
    }
    for (k, v) in expect["equals"].as_object().into_iter().flatten() {
        assert_eq!(&body[k], v, "{name}: `{k}`");
    }
}

/// Problems raised before a body is read: nothing in it reaches the audit event.
const BODY_UNREAD: &[&str] = &[
    "invalid-json",
    "invalid-base64",
    "unsupported-media-type",
    "payload-too-large",
    "route-not-found",
    "method-not-allowed",
];

/// The last four characters of each string that parses as a token.
fn hints<'a>(candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    candidates
        .into_iter()
        .filter_map(|t| Token::parse(t).ok())
        .map(|t| t.hint().to_owned())
        .collect()
}

/// The caller ARN an event carries (REST, HTTP API or function URL).
fn caller_arn(event: &Value) -> Option<String> {
    let c = &event["requestContext"];
    c["identity"]["userArn"]
        .as_str()
        .or_else(|| c["authorizer"]["iam"]["userArn"].as_str())
        .map(str::to_owned)
}

/// An assumed-role session ARN as its role ARN.
fn canonical(arn: &str) -> String {
    match arn.split_once(":assumed-role/") {
        Some((head, rest)) => {
            let role = rest.split('/').next().unwrap_or_default();
            format!("{}:role/{role}", head.replace(":sts::", ":iam::"))
        }
        None => arn.to_owned(),
    }
}

/// What one event's audit event must say, from the event, its manifest
/// entry and the response.
fn expected_audit(event: &Value, expect: &Value, body: &Value) -> Value {
    let status = expect["status"].as_u64().unwrap_or_default();
    let problem = expect["problem"].as_str().unwrap_or_default();
    let denied = [
        "unauthenticated",
        "forbidden",
        "untrusted-origin",
        "capture-unauthorized",
    ]
    .contains(&problem);
    let request: Value = event["body"]
        .as_str()
        .filter(|_| event["isBase64Encoded"] != true && !BODY_UNREAD.contains(&problem))
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let path = event["path"]
        .as_str()
        .or_else(|| event["rawPath"].as_str())
        .unwrap_or_default();
    let segment = path.rsplit_once("/v1/tokens/").map(|(_, t)| t);
    // Forward names its tokens as `{{tok_...}}` placeholders in its body.
    let placeholders: Vec<&str> = request["body"]
        .as_str()
        .map(|b| {
            b.split("{{")
                .skip(1)
                .filter_map(|rest| rest.split_once("}}").map(|(t, _)| t.trim()))
                .collect()
        })
        .unwrap_or_default();
    let from_request = hints(
        segment
            .into_iter()
            .chain(request["token"].as_str())
            .chain(
                request["tokens"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str),
            )
            .chain(placeholders),
    );
    let token_hint = if from_request.is_empty() {
        // Tokenize names no token: the issued ones are recorded.
        hints(
            body["token"].as_str().into_iter().chain(
                body["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["status"] == 200 || r["status"] == 201)
                    .filter_map(|r| r["token"].as_str()),
            ),
        )
    } else {
        from_request
    };
    let reason = match problem {
        "invalid-reason" => "",
        _ => request["reason"].as_str().unwrap_or_default(),
    };
    let caller = caller_arn(event).unwrap_or_default();
    serde_json::json!({
        "status": status,
        "outcome": match status { 500.. => "server_error", 400.. => "client_error", _ => "success" },
        "problem": problem,
        "decision": if denied { "deny" } else { "allow" },
        // Every caller is recorded as its role (a session name is caller text).
        "principal": canonical(&caller),
        "token_hint": token_hint.join(","),
        "reason": reason,
    })
}

/// The origin the forward events name (`STUB` in events/generate.py), where
/// scripts/dev runs its stub; the replay's stub listens on a free port and
/// each event's body is pointed at it when the event is loaded.
const EVENTS_STUB_ORIGIN: &str = "https://processor.localhost:18443";
/// The forwarding role of the sample events.
const FORWARDER_ROLE: &str = "arn:aws:iam::111122223333:role/payments-forwarder";

/// The forward function's settings: the stub as its one destination, and
/// the stub's test CA through the dev-only setting.
fn forward_env(s: &tessera_e2e::Stack, ca_path: &str, port: u16) -> HashMap<String, String> {
    let mut env = s.env();
    env.insert("TESSERA_FORWARD_ROLES".into(), FORWARDER_ROLE.into());
    env.insert(
        "TESSERA_FORWARD_DESTINATIONS".into(),
        format!(r#"[{{"name":"stub","host":"processor.localhost","port":{port},"methods":["POST"],"body_format":"json","paths":[{{"prefix":"/v1/charges","card_fields":["/card/number","/card"]}}]}}]"#),
    );
    env.insert(
        "TESSERA_FORWARD_GRANTS".into(),
        format!("{FORWARDER_ROLE}=stub"),
    );
    env.insert("TESSERA_FORWARD_DEV_CA".into(), ca_path.into());
    env
}

/// The roles the capture-sessions events call as.
const CAPTURE_ROLES: &str = "arn:aws:iam::111122223333:role/checkout-backend,arn:aws:iam::111122223333:role/payments-tokenizer";
/// The public capture API of the sample events.
const CAPTURE_API: (&str, &str) = ("pub789", "prod");

/// The capture-sessions function's settings.
fn capture_sessions_env(s: &tessera_e2e::Stack) -> HashMap<String, String> {
    let mut env = s.env();
    env.insert("TESSERA_CAPTURE_ROLES".into(), CAPTURE_ROLES.into());
    env
}

/// The capture function's settings: the public API's id and stage only.
fn capture_env(s: &tessera_e2e::Stack) -> HashMap<String, String> {
    let mut env = s.env();
    env.insert("TESSERA_API_ID".into(), CAPTURE_API.0.into());
    env.insert("TESSERA_API_STAGE".into(), CAPTURE_API.1.into());
    env
}

/// One capture session of events/capture-fixtures.json.
#[derive(serde::Deserialize)]
struct SessionFixture {
    session_id: String,
    client_secret: String,
    owner: String,
    origins: Vec<String>,
    max_cards: u32,
    /// Whether the session takes a cardholder name (`fields.name`).
    #[serde(default)]
    cardholder_name: bool,
}

/// Seeds the capture sessions the capture events authenticate against.
async fn seed_sessions(s: &tessera_e2e::Stack) -> Vec<String> {
    let fixtures: Vec<SessionFixture> = serde_json::from_str(
        &std::fs::read_to_string(format!("{EVENTS}/capture-fixtures.json")).expect("fixtures"),
    )
    .expect("capture fixtures parse");
    let mut secrets = Vec::new();
    for f in fixtures {
        let origins = f
            .origins
            .iter()
            .map(|o| CaptureOrigin::parse(o, OriginMode::Https).expect("origin"))
            .collect();
        let mut policy = SessionPolicy::new(origins)
            .and_then(|p| p.with_max_cards(f.max_cards))
            .expect("policy");
        policy.cardholder_name = f.cardholder_name;
        let secret = ClientSecret::presented(&f.client_secret);
        let session = CaptureSession::new(
            SessionId::parse(&f.session_id).expect("session id"),
            secret.hash(),
            f.owner,
            policy,
            SystemClock.now_secs(),
        );
        s.vault()
            .create_session(&session)
            .await
            .expect("seed session");
        secrets.push(f.client_secret);
    }
    secrets
}

async fn app<F: Function>(s: &tessera_e2e::Stack, capture: &Capture) -> Box<dyn Serve> {
    app_with::<F>(s, capture, s.env()).await
}

async fn app_with<F: Function>(
    s: &tessera_e2e::Stack,
    capture: &Capture,
    env: HashMap<String, String>,
) -> Box<dyn Serve> {
    let sink = capture.clone();
    let metrics: tessera_lambda::metrics::MetricsSink = Arc::new(move |line: String| {
        let mut sink = sink.clone();
        let _ = writeln!(sink, "{line}");
    });
    Box::new(
        build_app::<F>(env_reader(env), &s.sdk, metrics)
            .await
            .expect("start"),
    )
}

async fn apps(
    s: &tessera_e2e::Stack,
    capture: &Capture,
    stub_ca: &str,
    stub_port: u16,
) -> HashMap<&'static str, Box<dyn Serve>> {
    let mut apps = HashMap::new();
    for app in [
        app::<Tokenize>(s, capture).await,
        app::<Detokenize>(s, capture).await,
        app::<Admin>(s, capture).await,
        app_with::<Forward>(s, capture, forward_env(s, stub_ca, stub_port)).await,
        app_with::<CaptureSessions>(s, capture, capture_sessions_env(s)).await,
        app_with::<CaptureFn>(s, capture, capture_env(s)).await,
    ] {
        apps.insert(app.name(), app);
    }
    apps
}

/// An event from events/, its body's forward URL (if any) pointed at the
/// stub on `stub_port` instead of the dev stack's.
fn load_event(name: &str, stub_port: u16) -> Value {
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{EVENTS}/{name}")).expect("event file"),
    )
    .expect("event parses");
    if let Some(body) = event["body"].as_str() {
        let origin = format!("https://processor.localhost:{stub_port}");
        event["body"] = body.replace(EVENTS_STUB_ORIGIN, &origin).into();
    }
    event
}

#[test]
fn a_loaded_forward_event_names_the_replay_stub_port() {
    let event = load_event("rest-forward-stub.json", 1);
    let body = event["body"].as_str().expect("a text body");
    assert!(
        body.contains("\"url\":\"https://processor.localhost:1/v1/charges\""),
        "{body}"
    );
    assert!(!body.contains(EVENTS_STUB_ORIGIN), "{body}");
}

#[tokio::test]
async fn every_event_gives_its_expected_response_and_no_log_leaks_a_pan() {
    let s = stack().await;
    let tokenizer = s.tokenizer(Arc::new(SystemClock)).await;
    let fixtures: Vec<Fixture> = serde_json::from_str(
        &std::fs::read_to_string(format!("{EVENTS}/fixtures.json")).expect("fixtures"),
    )
    .expect("fixtures parse");
    import_fixtures(&tokenizer, &fixtures)
        .await
        .expect("seed fixtures");
    let session_secrets = seed_sessions(&s).await;

    let capture = Capture::default();
    // Debug level: the most verbose a deployment would plausibly run.
    let logs = dispatch(capture.clone(), LogFormat::Json, "debug");
    let _guard = tracing::dispatcher::set_default(&logs);
    let stub = StubProcessor::start(([127, 0, 0, 1], 0).into(), &["processor.localhost"])
        .await
        .expect("the stub processor starts on a free port");
    let stub_ca =
        std::env::temp_dir().join(format!("tessera-replay-ca-{}.pem", std::process::id()));
    std::fs::write(&stub_ca, &stub.ca_pem).expect("write the stub CA");
    let apps = apps(
        &s,
        &capture,
        &stub_ca.display().to_string(),
        stub.addr.port(),
    )
    .await;

    let manifest: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(format!("{EVENTS}/manifest.json")).expect("manifest"),
    )
    .expect("manifest parses");
    assert!(manifest.len() >= 16, "at least 16 events");
    let mut wanted_audits = HashMap::new();
    for (i, expect) in manifest.iter().enumerate() {
        let name = expect["event"].as_str().expect("event name");
        let event = load_event(name, stub.addr.port());
        let app = &apps[expect["function"].as_str().expect("function")];
        let mut context = lambda_http::Context::default();
        context.request_id = format!("replay-{i}");
        context.invoked_function_arn = tessera_e2e::FUNCTION_ARN.into();
        let response = app
            .serve(event.clone(), context)
            .await
            .expect("an HTTP event");

        assert_eq!(
            response["statusCode"], expect["status"],
            "{name}: status, body {}",
            response["body"]
        );
        let wanted_headers = expect["headers"].as_object();
        if !wanted_headers.is_some_and(|h| h.contains_key("cache-control")) {
            assert_eq!(
                header(&response, "cache-control"),
                Some("no-store"),
                "{name}"
            );
        }
        for (k, v) in wanted_headers.into_iter().flatten() {
            assert_eq!(
                header(&response, k),
                v.as_str(),
                "{name}: header {k} in {}",
                response["headers"]
            );
        }
        let correlation = header(&response, "x-correlation-id").unwrap_or_default();
        assert!(!correlation.is_empty(), "{name}: correlation id");
        if let Some(want) = expect["correlation_id"].as_str() {
            assert_eq!(correlation, want, "{name}: caller's correlation id echoed");
        }
        let json = header(&response, "content-type").is_none_or(|t| t.contains("json"));
        let body: Value = response["body"]
            .as_str()
            .filter(|_| json)
            .map_or(Value::Null, |b| serde_json::from_str(b).expect("JSON body"));
        if expect.get("problem").is_some() {
            assert_eq!(
                header(&response, "content-type"),
                Some("application/problem+json"),
                "{name}"
            );
            assert_eq!(body["status"], expect["status"], "{name}: problem status");
        }
        if expect["status"] == 405 {
            assert!(header(&response, "allow").is_some(), "{name}: Allow header");
        }
        check_body(name, &body, expect);
        wanted_audits.insert(
            format!("replay-{i}"),
            (name, expected_audit(&event, expect, &body)),
        );
        if let Some(items) = expect["items"].as_array() {
            let results = body["results"].as_array().expect("results");
            assert_eq!(
                results.len(),
                items.len(),
                "{name}: one result per item, in order"
            );
            for (result, want) in results.iter().zip(items) {
                assert_eq!(result["status"], want["status"], "{name}: item {result}");
                check_body(name, result, want);
            }
        }
    }

    // The forward events sent the fixture's PAN to the stub, and only those.
    let received = stub.received();
    assert_eq!(received.len(), 2, "one request per forward-stub event");
    for r in &received {
        assert!(
            r.body.contains("\"number\":\"4111111111111111\""),
            "the stub got the PAN"
        );
    }
    let _ = std::fs::remove_file(&stub_ca);

    let text = capture.text();
    let audits = text
        .lines()
        .filter(|l| l.contains("\"target\":\"audit\""))
        .count();
    assert_eq!(
        audits,
        manifest.len(),
        "exactly one audit event per request"
    );
    let metrics = text.lines().filter(|l| l.contains("\"_aws\":{")).count();
    assert_eq!(metrics, manifest.len(), "one EMF line per request");
    for line in text.lines().filter(|l| l.contains("\"target\":\"audit\"")) {
        let audit: Value = serde_json::from_str(line).expect("audit line is JSON");
        let (name, want) = wanted_audits
            .remove(audit["request_id"].as_str().unwrap_or_default())
            .unwrap_or_else(|| panic!("an audit event for no request: {line}"));
        for (field, value) in want.as_object().into_iter().flatten() {
            assert_eq!(&audit[field], value, "{name}: audit `{field}` in {line}");
        }
        // The rest of the record, by kind.
        for field in ["time", "correlation_id", "source_ip", "function_version"] {
            assert!(
                audit[field].as_str().is_some_and(|v| !v.is_empty()),
                "{name}: audit `{field}` in {line}"
            );
        }
        assert!(
            audit["authz_config_sha256"]
                .as_str()
                .is_some_and(|h| h.len() == 43
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')),
            "{name}: {line}"
        );
        assert!(audit["latency_ms"].is_u64(), "{name}: {line}");
    }
    assert!(
        wanted_audits.is_empty(),
        "requests with no audit event: {wanted_audits:?}"
    );

    // No client secret in any line, the seeded sessions' or one issued now.
    for secret in &session_secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a client secret in the logs"
        );
    }
    assert!(!text.contains("cscs_"), "a client secret in the logs");

    let leaks: Vec<String> = find_card_numbers(&text)
        .iter()
        .map(ToString::to_string)
        .collect();
    if !leaks.is_empty() {
        std::fs::write("/tmp/replay-leak.log", &text).ok();
    }
    assert!(
        leaks.is_empty(),
        "card numbers in logs (line, rule, last 4): {leaks:?}"
    );
}
