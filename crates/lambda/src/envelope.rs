//! The shared envelope around every function: correlation id, caller
//! authorization, routing, body limits, problem mapping, and then exactly
//! one audit event and one metrics line. A request goes down once, through
//! [`App::handle`], and comes back once.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use http::{HeaderValue, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use tessera_core::{Clock, KeyStats, SystemClock};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit::{AuditEvent, Decision as AuditDecision, Outcome};
use crate::auth::{self, AllowList, ApiOrigin, Decision};
use crate::event::{self, BodyDefect, EventError};
use crate::functions::{Authentication, Facts, Function, Reply};
use crate::metrics::{MetricsSink, RequestMetrics};
use crate::problem::{Kind, Problem};
use crate::routing::{Routed, route};

/// Header carrying the caller's correlation id, echoed on every response.
pub const CORRELATION_HEADER: &str = "x-correlation-id";
/// Longest correlation id accepted from a caller; longer ones are replaced.
const MAX_CORRELATION_ID: usize = 128;
/// Largest body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the envelope checks before a function runs: where events may come
/// from, and who may call which route.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The API events must come through.
    pub origin: ApiOrigin,
    /// The function's allow-lists, by the variable that configures each.
    pub lists: Vec<(&'static str, AllowList)>,
    /// DEV ONLY: the principal of requests with no authorizer context.
    pub dev_principal: Option<String>,
}

impl Access {
    /// The list configured by `var` (empty if none).
    fn list(&self, var: &str) -> Option<&AllowList> {
        self.lists.iter().find(|(v, _)| *v == var).map(|(_, l)| l)
    }

    /// Whether `request` is a local dev request that the dev principal serves.
    fn is_dev_request(&self, request: &Request) -> bool {
        self.dev_principal.is_some() && auth::has_no_authorizer_context(request)
    }
}

/// A function, ready to serve: built once per cold start.
pub struct App<F> {
    function: F,
    access: Access,
    function_version: String,
    config_digest: String,
    metrics: MetricsSink,
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
                // It is logged and echoed: a card number in it is replaced too.
                // Colons read as separators here: `4111:1111:...` is no time.
                && !tessera_core::contains_card_number(&v.replace(':', " "))
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

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// KMS calls made between two readings of a function's key statistics.
fn kms_calls(before: KeyStats, after: KeyStats) -> u64 {
    (after.generate_calls + after.unwrap_calls)
        .saturating_sub(before.generate_calls + before.unwrap_calls)
}

impl<F: Function> App<F> {
    /// An app around `function`, guarded by `access`.
    pub fn new(function: F, access: Access, metrics: MetricsSink) -> App<F> {
        let function_version =
            std::env::var("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_else(|_| "$LATEST".into());
        let mut settings = vec![
            ("function", F::NAME.to_owned()),
            ("origin", access.origin.canonical()),
            (
                "dev_principal",
                access.dev_principal.clone().unwrap_or_default(),
            ),
        ];
        settings.extend(access.lists.iter().map(|(v, l)| (*v, l.canonical())));
        settings.extend(function.authz_settings());
        let config_digest = auth::config_digest(&settings);
        App {
            function,
            access,
            function_version,
            config_digest,
            metrics,
        }
    }

    /// The function this app serves.
    pub fn function(&self) -> &F {
        &self.function
    }

    /// Serves one raw Lambda event. Only a non-HTTP event is an error.
    pub async fn handle_event(
        &self,
        payload: Value,
        context: lambda_http::Context,
    ) -> Result<Value, EventError> {
        let incoming = event::decode(payload)?;
        let request = incoming.request.with_lambda_context(context);
        let response = self.handle(request, incoming.defect).await;
        Ok(event::encode(incoming.origin, response))
    }

    /// Serves one HTTP request: always a response, always one audit event.
    pub async fn handle(&self, request: Request, defect: Option<BodyDefect>) -> Response<Body> {
        let started = Instant::now();
        let keys_before = self.function.key_stats();
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
            function_version: self.function_version.clone(),
            authz_config_sha256: self.config_digest.clone(),
            ..AuditEvent::default()
        };

        let mut facts = Facts::default();
        let mut response = match self
            .pipeline(&request, defect, &mut audit, &mut facts)
            .await
        {
            Ok(reply) => {
                let mut r = Response::new(reply.body.map_or(Body::Empty, Body::Text));
                *r.status_mut() = reply.status;
                if r.body() != &Body::Empty {
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(reply.content_type.unwrap_or("application/json")),
                    );
                }
                r
            }
            Err(problem) => {
                audit.problem = problem.kind.slug().to_owned();
                problem.to_response(&correlation)
            }
        };
        audit.token_hint = facts.token_hints.join(",");
        audit.items = facts.items;
        audit.reason = facts.reason;
        audit.destination = facts.destination;
        audit.tokens = facts.tokens;
        audit.upstream_status = facts.upstream_status;
        audit.upstream_latency_ms = facts.upstream_latency_ms;
        audit.dedup_hits = facts.dedup_hits;
        audit.new_tokens = facts.new_tokens;
        audit.session = std::mem::take(&mut facts.session);
        if let Some(why) = facts.refused {
            audit.decision = Some(AuditDecision::Deny);
            audit.decision_reason = why.to_owned();
        }
        let headers = response.headers_mut();
        for (name, value) in std::mem::take(&mut facts.headers) {
            headers.insert(name, value);
        }
        if let Ok(v) = HeaderValue::from_str(&correlation) {
            headers.insert(CORRELATION_HEADER, v);
        }
        // Nothing this API returns may sit in a cache: PANs from detokenize
        // above all, but also token facts and errors.
        // (A function's own Cache-Control, for public static assets, stays.)
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );

        let status = response.status();
        audit.status = status.as_u16();
        audit.outcome = Some(Outcome::of(status));
        let elapsed = started.elapsed();
        audit.latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        audit.emit();
        let keys_after = self.function.key_stats();
        let metrics = RequestMetrics {
            requests: 1,
            denials: u64::from(audit.decision == Some(AuditDecision::Deny)),
            errors: u64::from(status.is_server_error()),
            kms_calls: kms_calls(keys_before, keys_after),
            data_key_cache_hits: keys_after.cache_hits.saturating_sub(keys_before.cache_hits),
            dedup_hits: u64::try_from(audit.dedup_hits).unwrap_or(u64::MAX),
            captures: u64::try_from(facts.captures).unwrap_or(u64::MAX),
            capture_failures: u64::try_from(facts.capture_failures).unwrap_or(u64::MAX),
            sessions_burned: u64::try_from(facts.sessions_burned).unwrap_or(u64::MAX),
            new_tokens: u64::try_from(audit.new_tokens).unwrap_or(u64::MAX),
            latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        };
        (self.metrics)(metrics.to_emf(SystemClock.now_millis(), F::NAME, audit.operation_name()));
        response
    }

    async fn pipeline(
        &self,
        request: &Request,
        defect: Option<BodyDefect>,
        audit: &mut AuditEvent,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        // The request context names the caller, so it is believed only when
        // the event came through this deployment's API.
        // Only the dev stack (a dev principal, which release builds cannot
        // have) skips the account check: its emulator invents function ARNs.
        let check_account = self.access.dev_principal.is_none();
        if !self.access.is_dev_request(request)
            && !self.access.origin.accepts(request, check_account)
        {
            audit.decision = Some(AuditDecision::Deny);
            audit.decision_reason = "event did not come through this deployment's API".into();
            self.note_refused(request, audit, facts);
            return Err(Problem::new(
                Kind::UntrustedOrigin,
                "call this API through its API Gateway endpoint",
            ));
        }
        if F::AUTHENTICATION == Authentication::Bearer {
            return self.public(request, defect, audit, facts).await;
        }
        // Authorization comes next: a caller on none of the function's lists
        // learns nothing, not even which routes exist.
        let lists: Vec<&AllowList> = self.access.lists.iter().map(|(_, l)| l).collect();
        let decision = auth::authorize(request, &lists, self.access.dev_principal.as_deref());
        audit.decision_reason = decision.reason().to_owned();
        let principal = match decision {
            Decision::Allow { principal, source } => {
                audit.decision = Some(AuditDecision::Allow);
                audit.principal = principal.to_string();
                audit.principal_source = Some(source);
                principal
            }
            Decision::Unauthenticated => {
                audit.decision = Some(AuditDecision::Deny);
                self.note_refused(request, audit, facts);
                return Err(Problem::new(
                    Kind::Unauthenticated,
                    "sign the request with SigV4 (AWS_IAM)",
                ));
            }
            Decision::Deny { caller, .. } => {
                audit.decision = Some(AuditDecision::Deny);
                audit.principal = auth::audit_caller(&caller);
                self.note_refused(request, audit, facts);
                return Err(Problem::new(
                    Kind::Forbidden,
                    "this principal may not call this operation",
                ));
            }
        };
        let route = match route(F::ROUTES, request.method(), request.raw_http_path()) {
            Routed::Found(route) => route,
            Routed::NotFound => return Err(Problem::new(Kind::RouteNotFound, "no such route")),
            Routed::MethodNotAllowed(methods) => return Err(Problem::method_not_allowed(methods)),
        };
        audit.operation = Some(F::operation(&route));
        let guard = F::allow_list(&route);
        if !self
            .access
            .list(guard)
            .is_some_and(|l| l.allows(&principal))
        {
            audit.decision = Some(AuditDecision::Deny);
            audit.decision_reason = "principal not on this route's allow-list".into();
            self.note(&route, request, facts);
            return Err(Problem::new(
                Kind::Forbidden,
                "this principal may not call this operation",
            ));
        }
        check_body(request, defect)?;
        self.function.run(route, request, &principal, facts).await
    }

    /// A bearer function's request: routed, its body checked, then the
    /// function authenticates the caller itself.
    async fn public(
        &self,
        request: &Request,
        defect: Option<BodyDefect>,
        audit: &mut AuditEvent,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        audit.decision = Some(AuditDecision::Allow);
        audit.decision_reason = "public route: the function authenticates the caller".into();
        let route = match route(F::ROUTES, request.method(), request.raw_http_path()) {
            Routed::Found(route) => route,
            Routed::NotFound => return Err(Problem::new(Kind::RouteNotFound, "no such route")),
            Routed::MethodNotAllowed(methods) => return Err(Problem::method_not_allowed(methods)),
        };
        audit.operation = Some(F::operation(&route));
        check_body(request, defect)?;
        self.function.run_public(route, request, facts).await
    }
}

/// Refuses a body that did not decode or is over the size limit.
fn check_body(request: &Request, defect: Option<BodyDefect>) -> Result<(), Problem> {
    match defect {
        Some(BodyDefect::InvalidBase64) => {
            return Err(Problem::new(
                Kind::InvalidBase64,
                "the body is not valid base64",
            ));
        }
        Some(BodyDefect::NotUtf8) => {
            return Err(Problem::new(Kind::InvalidJson, "the body is not UTF-8"));
        }
        None => {}
    }
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(Problem::new(
            Kind::PayloadTooLarge,
            "send at most 65536 bytes",
        ));
    }
    Ok(())
}

impl<F: Function> App<F> {
    /// Audits a refused request as fully as an allowed one: its operation
    /// and what it names (PCI DSS 10.2, every access attempt). The caller
    /// still learns nothing: the response is the same whatever the route.
    fn note_refused(&self, request: &Request, audit: &mut AuditEvent, facts: &mut Facts) {
        if let Routed::Found(route) = route(F::ROUTES, request.method(), request.raw_http_path()) {
            audit.operation = Some(F::operation(&route));
            self.note(&route, request, facts);
        }
    }

    /// What a refused request names, read only from a body within the size
    /// limit: a refused caller must not make the function parse more than an
    /// allowed one could (a 6 MiB body of placeholders, parsed for the audit).
    fn note(&self, route: &F::Route, request: &Request, facts: &mut Facts) {
        if request.body().len() <= MAX_BODY_BYTES {
            self.function.note(route, request, facts);
        }
    }
}

/// Any function's app, behind one object type: what tests and tools that
/// serve several functions side by side hold.
pub trait Serve: Send + Sync {
    /// The function's name.
    fn name(&self) -> &'static str;

    /// Serves one raw Lambda event, as [`App::handle_event`].
    fn serve<'a>(
        &'a self,
        payload: Value,
        context: lambda_http::Context,
    ) -> Pin<Box<dyn Future<Output = Result<Value, EventError>> + Send + 'a>>;
}

impl<F: Function> Serve for App<F> {
    fn name(&self) -> &'static str {
        F::NAME
    }

    fn serve<'a>(
        &'a self,
        payload: Value,
        context: lambda_http::Context,
    ) -> Pin<Box<dyn Future<Output = Result<Value, EventError>> + Send + 'a>> {
        Box::pin(self.handle_event(payload, context))
    }
}
