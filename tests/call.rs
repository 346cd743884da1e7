//! `tessera call` end to end: the CLI (parsed from a command line, reading a
//! card number from stdin or a file, as `main` runs it) signs with SigV4 and
//! sends over HTTP to a local gateway on 127.0.0.1 that plays API Gateway
//! with `AWS_IAM` auth. The gateway checks each signature independently: it
//! checks every SigV4 component (scheme, credential scope, signed headers,
//! date, session token, payload hash), then recomputes the signature from
//! the request *as received*, with its own copy of the credentials, and
//! compares. Only then does it map the access key to an assumed-role ARN,
//! as IAM does, and pass a REST API event into the real functions (the
//! `tessera_lambda` apps, built from their environment on the moto stack),
//! so tokenize → describe → lookup → detokenize → delete round-trip for real,
//! and capture sessions are created and read back.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tessera_cli::call::{self, Console};
use tessera_cli::cli::{self, Command};
use tessera_e2e::{ADMIN_ROLE, DETOKENIZER_ROLE, FUNCTION_ARN, TOKENIZER_ROLE, env_reader, stack};
use tessera_lambda::{Admin, CaptureSessions, Detokenize, Serve, Tokenize, build_app};
use tessera_testkit::find_card_numbers;
use tokio::net::TcpListener;

/// The region the gateway is in.
const REGION: &str = "us-east-1";
/// The REST API's id and stage, as the stack's functions are configured.
const API_ID: &str = "abc123";
const STAGE: &str = "prod";
const ACCOUNT: &str = "111122223333";
/// How far a request's x-amz-date may be from the gateway's clock (SigV4's rule).
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// A caller: static test credentials and the role IAM maps them to.
#[derive(Clone)]
struct Caller {
    key: &'static str,
    secret: &'static str,
    session: Option<&'static str>,
    role: &'static str,
}

const TOKENIZER: Caller = Caller {
    key: "ASIATESTTOKENIZER001",
    secret: "tokenizer/secret/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    session: Some("session-token-of-the-tokenizer"),
    role: TOKENIZER_ROLE,
};
const DETOKENIZER: Caller = Caller {
    key: "ASIATESTDETOKENIZER1",
    secret: "detokenizer/secret/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    session: Some("session-token-of-the-detokenizer"),
    role: DETOKENIZER_ROLE,
};
const ADMIN: Caller = Caller {
    key: "AKIATESTADMIN0000001",
    secret: "admin/secret/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    session: None,
    role: ADMIN_ROLE,
};

/// What the gateway saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Vec<u8>,
    /// `Ok` with the signed header names, or why the signature was refused.
    verdict: Result<Vec<String>, String>,
}

/// A local stand-in for API Gateway with IAM auth, in front of the real functions.
struct Gateway {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Gateway {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The stage's base URL (one API for every function).
    fn stage_url(&self) -> String {
        format!("http://{}/{STAGE}", self.addr)
    }

    /// One URL per function, as the dev stack's function URLs.
    fn function_urls(&self) -> String {
        format!("http://{}/lambda-url/{{function}}", self.addr)
    }
}

struct Functions {
    tokenize: Box<dyn Serve>,
    detokenize: Box<dyn Serve>,
    admin: Box<dyn Serve>,
    capture_sessions: Box<dyn Serve>,
}

async fn start_gateway() -> Gateway {
    let s = stack().await;
    let env = s.env();
    let silent = || Arc::new(|_: String| {}) as tessera_lambda::metrics::MetricsSink;
    // The tokenizer's role opens capture sessions too, as a merchant backend's would.
    let mut capture_env = env.clone();
    capture_env.insert("TESSERA_CAPTURE_ROLES".into(), TOKENIZER_ROLE.into());
    let functions = Arc::new(Functions {
        tokenize: Box::new(
            build_app::<Tokenize>(env_reader(env.clone()), &s.sdk, silent())
                .await
                .expect("tokenize starts"),
        ),
        detokenize: Box::new(
            build_app::<Detokenize>(env_reader(env.clone()), &s.sdk, silent())
                .await
                .expect("detokenize starts"),
        ),
        admin: Box::new(
            build_app::<Admin>(env_reader(env), &s.sdk, silent())
                .await
                .expect("admin starts"),
        ),
        capture_sessions: Box::new(
            build_app::<CaptureSessions>(env_reader(capture_env), &s.sdk, silent())
                .await
                .expect("capture-sessions starts"),
        ),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let gateway = Gateway {
        addr,
        seen: seen.clone(),
    };
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let functions = functions.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let functions = functions.clone();
                    let seen = seen.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(serve(request, &functions, &seen).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    gateway
}

fn callers() -> HashMap<&'static str, Caller> {
    [TOKENIZER, DETOKENIZER, ADMIN]
        .into_iter()
        .map(|c| (c.key, c))
        .collect()
}

fn reply(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    if let Ok(v) = content_type.parse() {
        response.headers_mut().insert("content-type", v);
    }
    response
}

async fn serve(
    request: Request<Incoming>,
    functions: &Functions,
    seen: &Mutex<Vec<Seen>>,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let verdict = verify(&parts, &body);
    seen.lock().unwrap_or_else(|p| p.into_inner()).push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        body: body.clone(),
        verdict: verdict.clone().map(|(_, signed)| signed),
    });
    let caller = match verdict {
        Ok((caller, _)) => caller,
        // API Gateway's answer to a bad signature: not problem+json.
        Err(why) => {
            return reply(
                403,
                "application/json",
                json!({ "message": format!("The request signature we calculated does not match the signature you provided: {why}") }).to_string(),
            );
        }
    };
    // Which function: the path names it (function URLs), or the route
    // table does (the REST API's integrations, as in infra/template.yaml).
    let path = parts.uri.path();
    let (function, resource_path) = if let Some(rest) = path.strip_prefix("/lambda-url/") {
        let (name, rest) = rest.split_once('/').unwrap_or((rest, ""));
        (name.to_owned(), format!("/{rest}"))
    } else if let Some(rest) = path.strip_prefix(&format!("/{STAGE}")) {
        let name = if rest.starts_with("/v1/detokenize") {
            "detokenize"
        } else if rest.starts_with("/v1/capture-sessions") {
            "capture-sessions"
        } else if parts.method == hyper::Method::DELETE {
            "admin"
        } else {
            "tokenize"
        };
        (name.to_owned(), rest.to_owned())
    } else {
        return reply(
            403,
            "application/json",
            r#"{"message":"Missing Authentication Token"}"#.into(),
        );
    };
    let app = match function.as_str() {
        "tokenize" => &functions.tokenize,
        "detokenize" => &functions.detokenize,
        "admin" => &functions.admin,
        "capture-sessions" => &functions.capture_sessions,
        _ => {
            return reply(
                404,
                "application/json",
                r#"{"message":"no such function"}"#.into(),
            );
        }
    };
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_owned(),
                Value::String(v.to_str().ok()?.to_owned()),
            ))
        })
        .collect();
    let multi: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let role_name = caller.role.rsplit('/').next().unwrap_or_default();
    let event = json!({
        "resource": resource_path,
        "path": resource_path,
        "httpMethod": parts.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourcePath": resource_path,
            "httpMethod": parts.method.as_str(),
            "path": format!("/{STAGE}{resource_path}"),
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "requestId": "gw-request",
            "identity": {
                "accountId": ACCOUNT,
                "accessKey": caller.key,
                "caller": format!("AROATEST:{role_name}-cli"),
                "sourceIp": "127.0.0.1",
                "userArn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/cli-session"),
                "user": format!("AROATEST:{role_name}-cli"),
            },
            "domainName": "127.0.0.1",
            "apiId": API_ID,
        },
        "body": if body.is_empty() { Value::Null } else { Value::String(String::from_utf8_lossy(&body).into_owned()) },
        "isBase64Encoded": false,
    });
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn = FUNCTION_ARN.into();
    let Ok(answer) = app.serve(event, context).await else {
        return reply(
            502,
            "application/json",
            r#"{"message":"Internal server error"}"#.into(),
        );
    };
    let status = answer["statusCode"].as_u64().unwrap_or(502) as u16;
    let content_type = answer["headers"]
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        })
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("application/json")
        .to_owned();
    let body = answer["body"].as_str().unwrap_or_default().to_owned();
    reply(status, &content_type, body)
}

/// `x-amz-date` (`YYYYMMDDTHHMMSSZ`) as a time.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
    let date = time::Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?,
        u8::try_from(num(6..8)?).ok()?,
    )
    .ok()?;
    let at = time::Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, at).assume_utc().into())
}

/// Checks a request's SigV4 signature as IAM would; the caller and the
/// signed header names, or why not.
fn verify(parts: &http::request::Parts, body: &[u8]) -> Result<(Caller, Vec<String>), String> {
    let header = |name: &str| -> Result<&str, String> {
        parts
            .headers
            .get(name)
            .ok_or(format!("no {name} header"))?
            .to_str()
            .map_err(|_| format!("{name} is not text"))
    };
    let authorization = header("authorization")?;
    let rest = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("the scheme is not AWS4-HMAC-SHA256")?;
    let mut fields = HashMap::new();
    for field in rest.split(", ") {
        let (k, v) = field.split_once('=').ok_or("malformed Authorization")?;
        fields.insert(k, v);
    }
    let credential = fields.get("Credential").ok_or("no Credential")?;
    let signed_headers: Vec<String> = fields
        .get("SignedHeaders")
        .ok_or("no SignedHeaders")?
        .split(';')
        .map(str::to_owned)
        .collect();
    let signature = fields.get("Signature").ok_or("no Signature")?;
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the signature is not 64 hex digits".into());
    }
    // Credential = AKID/YYYYMMDD/region/service/aws4_request
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, day, region, service, terminator] = scope[..] else {
        return Err(format!("malformed credential scope {credential}"));
    };
    let caller = callers()
        .get(key)
        .cloned()
        .ok_or(format!("unknown access key {key}"))?;
    if region != REGION {
        return Err(format!(
            "credential scope region {region}, expected {REGION}"
        ));
    }
    if service != "execute-api" {
        return Err(format!(
            "credential scope service {service}, expected execute-api"
        ));
    }
    if terminator != "aws4_request" {
        return Err("credential scope does not end in aws4_request".into());
    }
    let amz_date = header("x-amz-date")?;
    let at = parse_amz_date(amz_date).ok_or("malformed x-amz-date")?;
    if !amz_date.starts_with(day) {
        return Err("the credential scope's date is not x-amz-date's".into());
    }
    let now = SystemTime::now();
    let skew = now.duration_since(at).unwrap_or_else(|e| e.duration());
    if skew > CLOCK_SKEW {
        return Err("x-amz-date is more than 5 minutes off".into());
    }
    for must in ["host", "x-amz-date", "x-amz-content-sha256"] {
        if !signed_headers.iter().any(|h| h == must) {
            return Err(format!("{must} is not signed"));
        }
    }
    if !body.is_empty() && !signed_headers.iter().any(|h| h == "content-type") {
        return Err("content-type is not signed".into());
    }
    match (caller.session, parts.headers.get("x-amz-security-token")) {
        (Some(token), Some(sent)) if sent.as_bytes() == token.as_bytes() => {
            if !signed_headers.iter().any(|h| h == "x-amz-security-token") {
                return Err("x-amz-security-token is not signed".into());
            }
        }
        (None, None) => {}
        _ => return Err("wrong or missing x-amz-security-token".into()),
    }
    let payload_hash = header("x-amz-content-sha256")?;
    if payload_hash != hex::encode(Sha256::digest(body)) {
        return Err("x-amz-content-sha256 is not the body's SHA-256".into());
    }
    // Every signed header must be there; recompute from what arrived.
    let derived = ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];
    let mut signable_headers = Vec::new();
    for name in &signed_headers {
        let value = header(name)?;
        if !derived.contains(&name.as_str()) {
            signable_headers.push((name.as_str(), value));
        }
    }
    let host = header("host")?;
    let uri = format!(
        "http://{host}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let identity: Identity = Credentials::new(
        caller.key,
        caller.secret,
        caller.session.map(str::to_owned),
        None,
        "gateway",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("execute-api")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        parts.method.as_str(),
        uri,
        signable_headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let expected = instructions
        .headers()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.to_owned())
        .ok_or("no signature computed")?;
    if expected != authorization {
        return Err("the signature does not match".into());
    }
    Ok((caller, signed_headers))
}

/// What one run of `tessera` printed, and how it exited.
#[derive(Debug)]
struct Run {
    stdout: String,
    /// What followed the `calling FUNCTION at HOST` line, if there was one.
    stderr: String,
    /// That line: every call names the host it goes to before sending.
    calling: Option<String>,
    code: ExitCode,
}

impl Run {
    fn ok(&self) -> bool {
        self.code == ExitCode::SUCCESS
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// Runs `tessera ARGS` as `main` does, with `stdin`, signing as `caller`
/// (credentials from the SDK configuration, as the standard chain gives them).
async fn tessera(args: &[&str], stdin: &str, caller: &Caller) -> Run {
    let argv = std::iter::once("tessera").chain(args.iter().copied());
    let parsed = match cli::parse(argv) {
        Ok(parsed) => parsed,
        Err(usage) => {
            let (stdout, stderr) = if usage.to_stderr {
                (String::new(), usage.text)
            } else {
                (usage.text, String::new())
            };
            return Run {
                stdout,
                stderr,
                calling: None,
                code: ExitCode::from(u8::try_from(usage.code).unwrap_or(2)),
            };
        }
    };
    let Command::Call(call_args) = parsed.command else {
        panic!("not a call: {args:?}");
    };
    let credentials = Credentials::new(
        caller.key,
        caller.secret,
        caller.session.map(str::to_owned),
        None,
        "test",
    );
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = stdin.as_bytes();
    let mut console = Console {
        stdin: &mut input,
        stdout: &mut out,
        stderr: &mut err,
    };
    let code = call::execute(&call_args, &sdk, &mut console).await;
    let stderr = String::from_utf8_lossy(&err).into_owned();
    let (calling, stderr) = match stderr.split_once('\n') {
        Some((first, rest)) if first.starts_with("calling ") => {
            (Some(first.to_owned()), rest.to_owned())
        }
        _ => (None, stderr),
    };
    Run {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr,
        calling,
        code,
    }
}

/// Neither stream holds a card number (nor `pan`'s digits, however found).
fn assert_no_pan(run: &Run, pan_digits: &str) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert_eq!(find_card_numbers(text), vec![], "{name} leaks: {run:?}");
        assert!(!text.contains(pan_digits), "{name} holds the PAN: {run:?}");
    }
}

/// A problem on stderr with this type, a title and a detail; nothing on stdout.
/// `tessera call detokenize TOKEN --reason REASON` as `caller`.
async fn detokenize(endpoint: &str, token: &str, reason: &str, caller: &Caller) -> Run {
    tessera(
        &[
            "call",
            "--endpoint",
            endpoint,
            "detokenize",
            token,
            "--reason",
            reason,
        ],
        "",
        caller,
    )
    .await
}

fn assert_problem(run: &Run, status: u16, kind: &str) {
    assert!(!run.ok(), "expected a failure: {run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert!(
        run.stderr.starts_with(&format!("tessera: {status} ")),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains(&format!("\n  type: urn:tessera:problem:{kind}\n")),
        "{run:?}"
    );
    assert!(run.stderr.contains("\n  title: "), "{run:?}");
    assert!(run.stderr.contains("\n  detail: "), "{run:?}");
}

#[tokio::test]
async fn tokenize_describe_lookup_detokenize_delete_round_trip_through_the_functions() {
    let gateway = start_gateway().await;
    let endpoint = gateway.stage_url();
    let pan = "4000056655665556";
    let mut printed = Vec::new();

    // Tokenize: the card number from stdin, metadata from a flag.
    let issued = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "tokenize",
            "--metadata",
            r#"{"order":"A-17"}"#,
        ],
        "4000 0566 5566 5556\n",
        &TOKENIZER,
    )
    .await;
    assert!(issued.ok(), "{issued:?}");
    assert_eq!(issued.stderr, "");
    let facts = issued.json();
    let token = facts["token"].as_str().expect("a token").to_owned();
    assert!(token.starts_with("tok_"), "{facts}");
    assert_eq!(
        (facts["bin"].as_str(), facts["last4"].as_str()),
        (Some("400005"), Some("5556"))
    );
    printed.push(issued);

    // The same card with metadata again: the API's 409, shown on stderr.
    let conflict = tessera(
        &[
            "call",
            "tokenize",
            "--metadata",
            r#"{"order":"A-18"}"#,
            "--endpoint",
            &endpoint,
        ],
        pan,
        &TOKENIZER,
    )
    .await;
    assert_problem(&conflict, 409, "dedup-conflict");
    printed.push(conflict);

    // Without metadata: the same token (dedup).
    let again = tessera(
        &["call", "--endpoint", &endpoint, "tokenize"],
        pan,
        &TOKENIZER,
    )
    .await;
    assert!(again.ok(), "{again:?}");
    assert_eq!(again.json()["token"].as_str(), Some(token.as_str()));
    printed.push(again);

    // --no-dedupe: a new token.
    let fresh = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "tokenize",
            "--no-dedupe",
            "--ttl-seconds",
            "3600",
        ],
        pan,
        &TOKENIZER,
    )
    .await;
    assert!(fresh.ok(), "{fresh:?}");
    assert_ne!(fresh.json()["token"].as_str(), Some(token.as_str()));
    assert!(fresh.json()["expires_at"].is_string(), "{fresh:?}");
    printed.push(fresh);

    // Describe: the facts and metadata, never the PAN.
    let described = tessera(
        &["call", "--endpoint", &endpoint, "describe", &token],
        "",
        &TOKENIZER,
    )
    .await;
    assert!(described.ok(), "{described:?}");
    assert_eq!(described.json()["metadata"]["order"], "A-17");
    assert_eq!(described.json()["last4"], "5556");
    printed.push(described);

    // Lookup: the card number from stdin; finds the token, creates nothing.
    let found = tessera(
        &["call", "--endpoint", &endpoint, "lookup"],
        "4000-0566-5566-5556\n",
        &TOKENIZER,
    )
    .await;
    assert!(found.ok(), "{found:?}");
    assert_eq!(found.json()["token"].as_str(), Some(token.as_str()));
    printed.push(found);

    // A tokenize caller may not detokenize: the function's 403 problem.
    let refused = detokenize(&endpoint, &token, "e2e", &TOKENIZER).await;
    assert_problem(&refused, 403, "forbidden");
    printed.push(refused);

    // Detokenize: the PAN alone on stdout, nothing on stderr.
    let opened = detokenize(&endpoint, &token, "chargeback 7731", &DETOKENIZER).await;
    assert!(opened.ok(), "{opened:?}");
    assert_eq!(opened.stdout, format!("{pan}\n"));
    assert_eq!(opened.stderr, "");

    // Delete (admin): nothing on stdout; then detokenize is a 404 problem.
    let deleted = tessera(
        &["call", "--endpoint", &endpoint, "delete", &token],
        "",
        &ADMIN,
    )
    .await;
    assert!(deleted.ok(), "{deleted:?}");
    assert_eq!(deleted.stdout, "");
    assert_eq!(deleted.stderr, format!("deleted {token}\n"));
    printed.push(deleted);
    let gone = detokenize(&endpoint, &token, "after erasure", &DETOKENIZER).await;
    assert_problem(&gone, 404, "token-not-found");
    printed.push(gone);

    // An invalid card number: refused before anything is sent, unquoted.
    let before = gateway.seen().len();
    let bad = tessera(
        &["call", "--endpoint", &endpoint, "tokenize"],
        "4000056655665557\n",
        &TOKENIZER,
    )
    .await;
    assert!(!bad.ok() && bad.stderr.contains("Luhn"), "{bad:?}");
    assert!(!bad.stderr.contains("4000056655665557"), "{bad:?}");
    // A card number given where a token goes is refused, and not sent.
    let as_token = tessera(
        &["call", "--endpoint", &endpoint, "describe", pan],
        "",
        &TOKENIZER,
    )
    .await;
    assert!(!as_token.ok(), "{as_token:?}");
    printed.push(as_token);
    let in_metadata = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "tokenize",
            "--metadata",
            r#"{"note":"4000 0566 5566 5556"}"#,
        ],
        pan,
        &TOKENIZER,
    )
    .await;
    assert!(!in_metadata.ok(), "{in_metadata:?}");
    printed.push(in_metadata);
    assert_eq!(gateway.seen().len(), before, "nothing was sent");

    for run in &printed {
        assert_no_pan(run, pan);
    }
    // Every request was signed right, with the session token, and carried
    // the card number only in a tokenize or lookup body.
    let seen = gateway.seen();
    assert_eq!(seen.len(), 10);
    for request in &seen {
        let signed = request
            .verdict
            .as_ref()
            .unwrap_or_else(|why| panic!("{request:?}: {why}"));
        let key_has_session = !request.path.contains("/v1/tokens/") || request.method != "DELETE";
        assert_eq!(
            signed.contains(&"x-amz-security-token".to_owned()),
            key_has_session,
            "{request:?}"
        );
        let carries = String::from_utf8_lossy(&request.body).contains(pan);
        let may_carry = request.method == "POST" && request.path.starts_with("/prod/v1/tokens");
        assert!(!carries || may_carry, "{request:?}");
        assert!(!request.path.contains(pan));
    }
}

#[tokio::test]
async fn per_function_urls_and_a_pan_from_a_file() {
    let gateway = start_gateway().await;
    let endpoint = gateway.function_urls();
    let pan = "5555555555554444";
    let file = std::env::temp_dir().join(format!("tessera-call-{}.pan", std::process::id()));
    std::fs::write(&file, format!("{pan}\n")).expect("write");
    let file_arg = file.display().to_string();

    let issued = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "tokenize",
            "--format",
            "fpe",
            "--file",
            &file_arg,
        ],
        "",
        &TOKENIZER,
    )
    .await;
    assert!(issued.ok(), "{issued:?}");
    let token = issued.json()["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 16);
    assert!(token.starts_with("555555") && token.ends_with("4444") && token != pan);
    let found = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "lookup",
            "--format",
            "fpe",
            "--file",
            &file_arg,
        ],
        "",
        &TOKENIZER,
    )
    .await;
    assert_eq!(
        found.json()["token"].as_str(),
        Some(token.as_str()),
        "{found:?}"
    );
    let opened = detokenize(&endpoint, &token, "e2e", &DETOKENIZER).await;
    assert_eq!(
        (opened.stdout.as_str(), opened.stderr.as_str()),
        (format!("{pan}\n").as_str(), "")
    );
    assert_eq!(
        opened.calling.as_deref(),
        Some("calling detokenize at 127.0.0.1"),
        "{opened:?}"
    );
    let deleted = tessera(
        &["call", "--endpoint", &endpoint, "delete", &token],
        "",
        &ADMIN,
    )
    .await;
    assert!(deleted.ok(), "{deleted:?}");
    for run in [&issued, &found, &deleted] {
        assert!(
            !run.stdout.contains(pan) && !run.stderr.contains(pan),
            "{run:?}"
        );
    }
    let seen = gateway.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/lambda-url/tokenize/v1/tokens".to_owned(),
            "/lambda-url/tokenize/v1/tokens/lookup".to_owned(),
            "/lambda-url/detokenize/v1/detokenize".to_owned(),
            format!("/lambda-url/admin/v1/tokens/{token}"),
        ]
    );
    assert!(seen.iter().all(|s| s.verdict.is_ok()), "{seen:?}");
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn capture_sessions_are_created_and_read_back_by_their_creator_only() {
    let gateway = start_gateway().await;
    let endpoint = gateway.stage_url();

    // Create: every policy flag into the body; the answer, with the client
    // secret, as JSON on stdout.
    let created = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "create-capture-session",
            "--origin",
            "https://shop.example",
            "--origin",
            "https://pay.shop.example:8443",
            "--format",
            "fpe",
            "--no-dedupe",
            "--expires-with-card",
            "--metadata",
            r#"{"order":"A-17"}"#,
            "--expires-in-seconds",
            "600",
            "--max-cards",
            "2",
            "--lang",
            "de",
        ],
        "",
        &TOKENIZER,
    )
    .await;
    assert!(created.ok(), "{created:?}");
    assert_eq!(created.stderr, "");
    assert_eq!(
        created.calling.as_deref(),
        Some("calling capture-sessions at 127.0.0.1")
    );
    let session = created.json();
    let id = session["session_id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("cs_"), "{session}");
    let secret = session["client_secret"].as_str().expect("a secret");
    assert!(secret.starts_with("cscs_"), "{session}");
    assert!(session["expires_at"].is_string(), "{session}");
    let sent: Value = serde_json::from_slice(&gateway.seen()[0].body).expect("a JSON body");
    assert_eq!(
        sent,
        json!({
            "origins": ["https://shop.example", "https://pay.shop.example:8443"],
            "format": "fpe",
            "dedupe": false,
            "expires": "card",
            "metadata": {"order": "A-17"},
            "expires_in_seconds": 600,
            "max_cards": 2,
            "lang": "de",
        })
    );

    // Get: its state and cards, never the secret; through the function's
    // own URL as well as the stage.
    for base in [endpoint.clone(), gateway.function_urls()] {
        let read = tessera(
            &["call", "--endpoint", &base, "get-capture-session", &id],
            "",
            &TOKENIZER,
        )
        .await;
        assert!(read.ok(), "{read:?}");
        let view = read.json();
        assert_eq!(view["session_id"], id.as_str());
        assert_eq!(view["state"], "open");
        assert_eq!(view["max_cards"], 2);
        assert_eq!(view["failed_attempts"], 0);
        assert_eq!(view["cards"], json!([]));
        assert!(!read.stdout.contains(secret), "{read:?}");
    }

    // A role not on TESSERA_CAPTURE_ROLES: the function's 403.
    let refused = tessera(
        &["call", "--endpoint", &endpoint, "get-capture-session", &id],
        "",
        &DETOKENIZER,
    )
    .await;
    assert_problem(&refused, 403, "forbidden");
    // The API's own checks, shown as problems.
    let plain_http = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "create-capture-session",
            "--origin",
            "http://shop.example",
        ],
        "",
        &TOKENIZER,
    )
    .await;
    assert_problem(&plain_http, 400, "invalid-origin");
    let unknown = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "get-capture-session",
            "cs_aaaaaaaaaaaaaaaaaaaaaaaaaa",
        ],
        "",
        &TOKENIZER,
    )
    .await;
    assert_problem(&unknown, 404, "capture-session-not-found");

    // Refused before anything is sent: an id that is not one (a card
    // number least of all) and a card number in an origin, unquoted.
    let before = gateway.seen().len();
    for args in [
        vec!["get-capture-session", "4000056655665556"],
        vec!["get-capture-session", "cs_x"],
        vec![
            "create-capture-session",
            "--origin",
            "https://4000056655665556.example",
        ],
    ] {
        let mut argv = vec!["call", "--endpoint", &endpoint];
        argv.extend(args);
        let run = tessera(&argv, "", &TOKENIZER).await;
        assert!(!run.ok() && run.calling.is_none(), "{run:?}");
        assert!(run.stderr.starts_with("tessera: "), "{run:?}");
        assert_no_pan(&run, "4000056655665556");
    }
    // Two expiries, or no origin: usage errors.
    for args in [
        vec![
            "create-capture-session",
            "--origin",
            "https://shop.example",
            "--ttl-seconds",
            "60",
            "--expires-with-card",
        ],
        vec!["create-capture-session"],
    ] {
        let mut argv = vec!["call", "--endpoint", &endpoint];
        argv.extend(args);
        let run = tessera(&argv, "", &TOKENIZER).await;
        assert_eq!(run.code, ExitCode::from(2), "{run:?}");
    }
    assert_eq!(gateway.seen().len(), before, "nothing was sent");

    let seen = gateway.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/prod/v1/capture-sessions".to_owned(),
            format!("/prod/v1/capture-sessions/{id}"),
            format!("/lambda-url/capture-sessions/v1/capture-sessions/{id}"),
            format!("/prod/v1/capture-sessions/{id}"),
            "/prod/v1/capture-sessions".to_owned(),
            "/prod/v1/capture-sessions/cs_aaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
        ]
    );
    assert!(seen.iter().all(|s| s.verdict.is_ok()), "{seen:?}");
}

#[tokio::test]
async fn a_bad_signature_is_refused_by_the_gateway_and_shown() {
    let gateway = start_gateway().await;
    let endpoint = gateway.stage_url();
    // The gateway holds another secret for this key: the signature cannot match.
    let forged = Caller {
        secret: "not/the/secret/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ..TOKENIZER
    };
    let run = tessera(
        &["call", "--endpoint", &endpoint, "tokenize"],
        "4111111111111111",
        &forged,
    )
    .await;
    assert!(!run.ok());
    assert!(run.stderr.starts_with("tessera: 403 Forbidden"), "{run:?}");
    assert!(
        run.stderr.contains("the signature does not match"),
        "{run:?}"
    );
    assert_no_pan(&run, "4111111111111111");
    // Signed for another region: the credential scope is refused.
    let run = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "--region",
            "eu-west-1",
            "describe",
            "tok_0000000000000000000000000a",
        ],
        "",
        &TOKENIZER,
    )
    .await;
    assert!(
        run.stderr.contains("credential scope region eu-west-1"),
        "{run:?}"
    );
    // A session token that is not the caller's.
    let stolen = Caller {
        session: Some("someone-elses-session"),
        ..TOKENIZER
    };
    let run = tessera(
        &[
            "call",
            "--endpoint",
            &endpoint,
            "describe",
            "tok_0000000000000000000000000a",
        ],
        "",
        &stolen,
    )
    .await;
    assert!(run.stderr.contains("x-amz-security-token"), "{run:?}");
    let seen = gateway.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.verdict.is_err()), "{seen:?}");
}

#[tokio::test]
async fn a_pan_on_the_command_line_is_a_usage_error_and_never_shown() {
    for pan in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "378282246310005",
    ] {
        for args in [
            vec!["tessera", "call", "tokenize", pan],
            vec![
                "tessera",
                "call",
                "--endpoint",
                "http://127.0.0.1:9/prod",
                "lookup",
                pan,
            ],
            vec!["tessera", "call", "tokenize", "--pan", pan],
            vec!["tessera", "call", "tokenize", &format!("--pan={pan}")],
        ] {
            let usage = cli::parse(args.clone()).expect_err("a usage error");
            assert_eq!(usage.code, 2, "{args:?}");
            assert!(usage.to_stderr);
            assert!(!usage.text.contains(pan), "{}", usage.text);
            assert_eq!(find_card_numbers(&usage.text), vec![], "{}", usage.text);
            assert!(usage.text.contains("error:"), "{}", usage.text);
        }
    }
    // Help stays help.
    let help = cli::parse(["tessera", "call", "tokenize", "--help"]).expect_err("help");
    assert_eq!((help.code, help.to_stderr), (0, false));
    assert!(help.text.contains("--file"));
}
