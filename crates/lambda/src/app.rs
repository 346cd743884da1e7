//! The request pipeline shared by every function: correlation id, caller
//! authorization, routing, body limits, the operation, and then exactly one
//! audit event and one metrics line.

use std::time::Instant;

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Value, json};
use tessera_aws::CallCounter;
use tessera_core::{Clock, Detokenizer, Eraser, KeyStats, SystemClock, Token, Tokenizer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::error;

use crate::api::{
    self, DetokenizeBatchBody, DetokenizeBody, DetokenizedView, LookupBody, MAX_BODY_BYTES, Shape,
    TokenView, TokenizeBatchBody, TokenizeBody,
};
use crate::audit::AuditEvent;
use crate::auth::{self, AllowList, Decision, Source};
use crate::event::{self, BodyDefect};
use crate::metrics::{MetricsSink, RequestMetrics};
use crate::problem::{Kind, Problem};
use crate::routes::{FunctionKind, Operation, Routed, route};

/// Header carrying the caller's correlation id, echoed on every response.
pub const CORRELATION_HEADER: &str = "x-correlation-id";
/// Longest correlation id accepted from a caller; longer ones are replaced.
const MAX_CORRELATION_ID: usize = 128;

/// The core service a function runs: exactly one, matching its IAM role.
pub enum Service {
    /// The tokenize function.
    Tokenize(Tokenizer),
    /// The detokenize function.
    Detokenize(Detokenizer),
    /// The admin function.
    Admin(Eraser),
}

impl Service {
    fn kind(&self) -> FunctionKind {
        match self {
            Service::Tokenize(_) => FunctionKind::Tokenize,
            Service::Detokenize(_) => FunctionKind::Detokenize,
            Service::Admin(_) => FunctionKind::Admin,
        }
    }

    fn key_stats(&self) -> KeyStats {
        match self {
            Service::Tokenize(t) => t.key_stats(),
            Service::Detokenize(d) => d.key_stats(),
            Service::Admin(_) => KeyStats::default(),
        }
    }
}

/// A function, ready to serve: built once per cold start.
pub struct App {
    service: Service,
    allow: AllowList,
    dev_principal: Option<String>,
    calls: Option<CallCounter>,
    function_version: String,
    config_digest: String,
    metrics: MetricsSink,
}

/// What an operation produced, and what the audit event should say of it.
struct Reply {
    status: StatusCode,
    body: Option<String>,
    token_hint: String,
    items: usize,
    reason: String,
}

impl Reply {
    fn json(status: StatusCode, body: &impl Serialize) -> Reply {
        Reply {
            status,
            body: Some(serde_json::to_string(body).unwrap_or_default()),
            token_hint: String::new(),
            items: 0,
            reason: String::new(),
        }
    }

    fn hint(mut self, token: &Token) -> Reply {
        self.token_hint = token.hint().to_owned();
        self
    }
}

fn correlation_id(request: &Request) -> String {
    let from_caller = request
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_CORRELATION_ID
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        });
    if let Some(id) = from_caller {
        return id.to_owned();
    }
    let gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(c)) => c.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(c)) => c.request_id.clone(),
        _ => None,
    };
    gateway
        .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
        .unwrap_or_else(|| "unknown".into())
}

fn source_ip(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(c)) => c.identity.source_ip.clone(),
        Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
        _ => None,
    }
    .unwrap_or_default()
}

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl App {
    /// An app around `service`, guarded by `allow`.
    pub fn new(
        service: Service,
        allow: AllowList,
        dev_principal: Option<String>,
        calls: Option<CallCounter>,
        metrics: MetricsSink,
    ) -> App {
        let function_version =
            std::env::var("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_else(|_| "$LATEST".into());
        let config_digest = auth::config_digest(&[
            ("function", service.kind().name().to_owned()),
            ("allow", allow.canonical()),
            ("dev_principal", dev_principal.clone().unwrap_or_default()),
        ]);
        App {
            service,
            allow,
            dev_principal,
            calls,
            function_version,
            config_digest,
            metrics,
        }
    }

    /// The function this app is.
    pub fn kind(&self) -> FunctionKind {
        self.service.kind()
    }

    /// Serves one raw Lambda event. Only a non-HTTP event is an error.
    pub async fn handle_event(
        &self,
        payload: Value,
        context: lambda_http::Context,
    ) -> Result<Value, event::EventError> {
        let incoming = event::decode(payload)?;
        let request = incoming.request.with_lambda_context(context);
        let response = self.handle(request, incoming.defect).await;
        Ok(event::encode(incoming.origin, response))
    }

    /// Serves one HTTP request: always a response, always one audit event.
    pub async fn handle(&self, request: Request, defect: Option<BodyDefect>) -> Response<Body> {
        let started = Instant::now();
        let kms_before = self.kms_calls();
        let keys_before = self.service.key_stats();
        let correlation = correlation_id(&request);
        let mut audit = AuditEvent {
            time: now_rfc3339(),
            request_id: request
                .lambda_context_ref()
                .map(|c| c.request_id.clone())
                .unwrap_or_default(),
            correlation_id: correlation.clone(),
            trace_id: request
                .lambda_context_ref()
                .and_then(|c| c.xray_trace_id.clone())
                .unwrap_or_default(),
            source_ip: source_ip(&request),
            operation: "unrouted".into(),
            function_version: self.function_version.clone(),
            authz_config_sha256: self.config_digest.clone(),
            ..AuditEvent::default()
        };

        let outcome = self.pipeline(&request, defect, &mut audit).await;
        let mut response = match outcome {
            Ok(reply) => {
                audit.token_hint = reply.token_hint;
                audit.items = reply.items;
                audit.reason = reply.reason;
                let mut r = Response::new(reply.body.map_or(Body::Empty, Body::Text));
                *r.status_mut() = reply.status;
                if r.body() != &Body::Empty {
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                }
                r
            }
            Err((problem, allow)) => {
                audit.problem = problem.kind.slug().to_owned();
                let mut r = problem.to_response(&correlation);
                if let Some(methods) = allow {
                    let list = methods
                        .iter()
                        .map(Method::as_str)
                        .collect::<Vec<_>>()
                        .join(", ");
                    if let Ok(v) = HeaderValue::from_str(&list) {
                        r.headers_mut().insert(header::ALLOW, v);
                    }
                }
                r
            }
        };
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&correlation) {
            headers.insert(CORRELATION_HEADER, v);
        }
        // Nothing this API returns may sit in a cache: PANs from detokenize
        // above all, but also token facts and errors.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );

        let status = response.status();
        audit.status = status.as_u16();
        audit.outcome = if status.is_server_error() {
            "server_error"
        } else if status.is_client_error() {
            "client_error"
        } else {
            "success"
        }
        .into();
        let elapsed = started.elapsed();
        audit.latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        audit.emit();
        let keys_after = self.service.key_stats();
        let metrics = RequestMetrics {
            requests: 1,
            denials: u64::from(audit.decision == "deny"),
            errors: u64::from(status.is_server_error()),
            kms_calls: self.kms_calls().saturating_sub(kms_before),
            data_key_cache_hits: keys_after.cache_hits.saturating_sub(keys_before.cache_hits),
            latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        };
        (self.metrics)(metrics.to_emf(
            SystemClock.now_millis(),
            self.kind().name(),
            &audit.operation,
        ));
        response
    }

    fn kms_calls(&self) -> u64 {
        self.calls.as_ref().map_or(0, |c| {
            let n = c.snapshot();
            n.get("GenerateDataKey") + n.get("Decrypt")
        })
    }

    async fn pipeline(
        &self,
        request: &Request,
        defect: Option<BodyDefect>,
        audit: &mut AuditEvent,
    ) -> Result<Reply, (Problem, Option<Vec<Method>>)> {
        // Authorization comes first: a caller without a place on the list learns
        // nothing, not even which routes exist.
        let decision = auth::authorize(request, &self.allow, self.dev_principal.as_deref());
        audit.decision_reason = decision.reason().to_owned();
        match &decision {
            Decision::Allow { principal, source } => {
                audit.decision = "allow".into();
                audit.principal = principal.to_string();
                audit.principal_source = match source {
                    Source::Iam => "iam",
                    Source::DevSetting => "dev-setting",
                }
                .into();
            }
            Decision::Unauthenticated => {
                audit.decision = "deny".into();
                return Err((
                    Problem::new(
                        Kind::Unauthenticated,
                        "sign the request with SigV4 (AWS_IAM)",
                    ),
                    None,
                ));
            }
            Decision::Deny { caller, .. } => {
                audit.decision = "deny".into();
                audit.principal = caller.clone();
                return Err((
                    Problem::new(
                        Kind::Forbidden,
                        "this principal may not call this operation",
                    ),
                    None,
                ));
            }
        }
        let (operation, param) = match route(self.kind(), request.method(), request.raw_http_path())
        {
            Routed::Found(op, param) => (op, param),
            Routed::NotFound => {
                return Err((Problem::new(Kind::RouteNotFound, "no such route"), None));
            }
            Routed::MethodNotAllowed(methods) => {
                return Err((
                    Problem::new(Kind::MethodNotAllowed, "see the Allow header"),
                    Some(methods),
                ));
            }
        };
        audit.operation = operation.name().into();
        let no_route = |p| (p, None);
        match defect {
            Some(BodyDefect::InvalidBase64) => {
                return Err(no_route(Problem::new(
                    Kind::InvalidBase64,
                    "the body is not valid base64",
                )));
            }
            Some(BodyDefect::NotUtf8) => {
                return Err(no_route(Problem::new(
                    Kind::InvalidJson,
                    "the body is not UTF-8",
                )));
            }
            None => {}
        }
        let body: &[u8] = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return Err(no_route(Problem::new(
                Kind::PayloadTooLarge,
                "send at most 65536 bytes",
            )));
        }
        if operation.route().0 == Method::POST && !is_json(request) {
            return Err(no_route(Problem::new(
                Kind::UnsupportedMediaType,
                "set Content-Type: application/json",
            )));
        }
        self.run(operation, param.as_deref(), body)
            .await
            .map_err(no_route)
    }

    async fn run(
        &self,
        operation: Operation,
        param: Option<&str>,
        body: &[u8],
    ) -> Result<Reply, Problem> {
        match (&self.service, operation) {
            (Service::Tokenize(t), Operation::Tokenize) => {
                let request =
                    api::parse_body::<TokenizeBody>(body, Shape::Tokenize)?.into_request()?;
                let issued = t.tokenize(&request).await.map_err(|e| self.fail(e))?;
                let status = if issued.created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Ok(Reply::json(status, &TokenView::issued(&issued)).hint(&issued.token))
            }
            (Service::Tokenize(t), Operation::TokenizeBatch) => {
                let batch = api::parse_body::<TokenizeBatchBody>(body, Shape::TokenizeBatch)?;
                check_batch_size(batch.items.len())?;
                let parsed: Vec<Result<_, Problem>> = batch
                    .items
                    .into_iter()
                    .map(TokenizeBody::into_request)
                    .collect();
                let outcomes = self
                    .run_batch(
                        &parsed,
                        |valid| async move { t.tokenize_batch(&valid).await },
                    )
                    .await?;
                let mut hints = Vec::new();
                let results: Vec<Value> = outcomes
                    .iter()
                    .map(|outcome| match outcome {
                        Ok(t) => {
                            hints.push(t.token.hint().to_owned());
                            let status = if t.created { 201 } else { 200 };
                            with_status(status, &TokenView::issued(t))
                        }
                        Err(problem) => item_error(problem),
                    })
                    .collect();
                Ok(batch_reply(results, hints))
            }
            (Service::Tokenize(t), Operation::Lookup) => {
                let body = api::parse_body::<LookupBody>(body, Shape::Lookup)?;
                let pan = api::parse_pan(&body.pan)?;
                let format = api::parse_format(body.format.as_deref())?;
                let found = t
                    .lookup_by_pan(&pan, format)
                    .await
                    .map_err(|e| self.fail(e))?;
                Ok(Reply::json(StatusCode::OK, &TokenView::issued(&found)).hint(&found.token))
            }
            (Service::Tokenize(t), Operation::Describe) => {
                let token = api::parse_token(param.unwrap_or_default())?;
                let described = t.describe(&token).await.map_err(|e| self.fail(e))?;
                Ok(
                    Reply::json(StatusCode::OK, &TokenView::described(&token, &described))
                        .hint(&token),
                )
            }
            (Service::Detokenize(d), Operation::Detokenize) => {
                let body = api::parse_body::<DetokenizeBody>(body, Shape::Detokenize)?;
                let reason = api::parse_reason(body.reason.as_deref())?;
                let token = api::parse_token(&body.token)?;
                let result = d.detokenize(&token).await;
                let out = result.map_err(|e| self.fail(e))?;
                let mut reply =
                    Reply::json(StatusCode::OK, &DetokenizedView::new(&out)).hint(&token);
                reply.reason = reason;
                Ok(reply)
            }
            (Service::Detokenize(d), Operation::DetokenizeBatch) => {
                let body = api::parse_body::<DetokenizeBatchBody>(body, Shape::DetokenizeBatch)?;
                let reason = api::parse_reason(body.reason.as_deref())?;
                check_batch_size(body.tokens.len())?;
                let parsed: Vec<Result<Token, Problem>> =
                    body.tokens.iter().map(|t| api::parse_token(t)).collect();
                let outcomes = self
                    .run_batch(
                        &parsed,
                        |valid| async move { d.detokenize_batch(&valid).await },
                    )
                    .await?;
                let mut hints = Vec::new();
                let results: Vec<Value> = parsed
                    .iter()
                    .zip(&outcomes)
                    .map(|(token, outcome)| {
                        if let Ok(token) = token {
                            hints.push(token.hint().to_owned());
                        }
                        match (token, outcome) {
                            (_, Ok(out)) => with_status(200, &DetokenizedView::new(out)),
                            // A token that parsed is echoed; one that did not may be a PAN.
                            (Ok(token), Err(problem)) => {
                                let mut v = item_error(problem);
                                v["token"] = Value::String(token.as_str().to_owned());
                                v
                            }
                            (Err(_), Err(problem)) => item_error(problem),
                        }
                    })
                    .collect();
                let mut reply = batch_reply(results, hints);
                reply.reason = reason;
                Ok(reply)
            }
            (Service::Admin(e), Operation::Delete) => {
                let token = api::parse_token(param.unwrap_or_default())?;
                e.delete(&token).await.map_err(|err| self.fail(err))?;
                Ok(Reply {
                    status: StatusCode::NO_CONTENT,
                    body: None,
                    token_hint: token.hint().to_owned(),
                    items: 0,
                    reason: String::new(),
                })
            }
            // Routing only yields this function's operations.
            _ => Err(Problem::new(Kind::RouteNotFound, "no such route")),
        }
    }

    /// Runs a batch operation on the items that parsed and merges its results
    /// with the parse failures, keeping the input order.
    async fn run_batch<I, O, Fut>(
        &self,
        parsed: &[Result<I, Problem>],
        run: impl FnOnce(Vec<I>) -> Fut,
    ) -> Result<Vec<Result<O, Problem>>, Problem>
    where
        I: Clone,
        Fut: Future<Output = Result<Vec<Result<O, tessera_core::Error>>, tessera_core::Error>>,
    {
        let valid: Vec<I> = parsed
            .iter()
            .filter_map(|r| r.as_ref().ok().cloned())
            .collect();
        let mut outcomes = run(valid).await.map_err(|e| self.fail(e))?.into_iter();
        Ok(parsed
            .iter()
            .map(|p| match p {
                Err(problem) => Err(problem.clone()),
                Ok(_) => match outcomes.next() {
                    Some(outcome) => outcome.map_err(|e| self.fail(e)),
                    None => Err(Problem::new(Kind::Internal, "missing result")),
                },
            })
            .collect())
    }

    /// Maps a core error to a problem, logging the ones that are ours to fix.
    fn fail(&self, e: tessera_core::Error) -> Problem {
        let problem = Problem::from(e.clone());
        if problem.kind.status().is_server_error() {
            // Core errors never hold a PAN, key or fingerprint, so the cause is safe to log.
            error!(error = %e, retryable = e.is_retryable(), "operation failed");
        }
        problem
    }
}

fn check_batch_size(n: usize) -> Result<(), Problem> {
    if n == 0 {
        Err(Problem::new(Kind::EmptyBatch, "send at least one item"))
    } else if n > tessera_core::MAX_BATCH_ITEMS {
        Err(Problem::new(
            Kind::BatchTooLarge,
            format!("send at most {} items", tessera_core::MAX_BATCH_ITEMS),
        ))
    } else {
        Ok(())
    }
}

fn batch_reply(results: Vec<Value>, hints: Vec<String>) -> Reply {
    let mut reply = Reply::json(StatusCode::OK, &json!({ "results": results }));
    reply.items = results.len();
    reply.token_hint = hints.join(",");
    reply
}

fn with_status(status: u16, body: &impl Serialize) -> Value {
    let mut v = serde_json::to_value(body).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("status".into(), Value::from(status));
    }
    v
}

fn item_error(problem: &Problem) -> Value {
    json!({ "status": problem.kind.status().as_u16(), "error": problem.body(None) })
}
