//! The Lambda functions, one module each: its routes, bodies, handlers and
//! how it is built. [`Function`] says what a function is; the shared
//! envelope ([`crate::envelope`]) runs any of them.

use std::future::Future;

use http::StatusCode;
use lambda_http::Request;
use serde::Serialize;
use serde_json::{Value, json};
use tessera_aws::config::EnvReader;
use tessera_core::{KeyStats, Token};
use tracing::error;

use crate::audit::Operation;
use crate::auth::Principal;
use crate::init::{ColdStart, InitError};
use crate::problem::{Kind, Problem};
use crate::routing::RouteSpec;

pub mod admin;
pub mod capture;
pub mod capture_sessions;
pub mod detokenize;
pub mod forward;
pub mod tokenize;

pub use admin::Admin;
pub use capture::Capture;
pub use capture_sessions::CaptureSessions;
pub use detokenize::Detokenize;
pub use forward::Forward;
pub use tokenize::Tokenize;

/// How the envelope authenticates a function's callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    /// API Gateway's IAM principal (SigV4), checked against the function's
    /// allow-lists before [`Function::run`] (layer 2).
    Iam,
    /// None in the envelope: a public API (the capture API) whose function
    /// authenticates each request itself, by a bearer secret, in
    /// [`Function::run_public`]. The API-origin check still applies.
    Bearer,
}

/// A Lambda function: one binary, one IAM role, one allow-list.
pub trait Function: Send + Sync + Sized + 'static {
    /// This function's routes, one variant per operation.
    type Route: Clone + Send + Sync;
    /// What it reads from the environment at cold start.
    type Config: Send;

    /// The function's name in metrics and logs.
    const NAME: &'static str;
    /// The environment variables holding the function's allow-lists.
    const ALLOW_LISTS: &'static [&'static str];
    /// The routes it serves.
    const ROUTES: &'static [RouteSpec<Self::Route>];
    /// How its callers are authenticated.
    const AUTHENTICATION: Authentication = Authentication::Iam;

    /// The audit and metrics name of a route.
    fn operation(route: &Self::Route) -> Operation;

    /// Which of [`Function::ALLOW_LISTS`] guards a route.
    fn allow_list(route: &Self::Route) -> &'static str;

    /// Runs a routed request by an authorized `caller` whose body passed the
    /// envelope's limits.
    fn run(
        &self,
        route: Self::Route,
        request: &Request,
        caller: &Principal,
        facts: &mut Facts,
    ) -> impl Future<Output = Result<Reply, Problem>> + Send;

    /// Runs a routed request of a [`Authentication::Bearer`] function, which
    /// authenticates the caller itself (and says so in `facts`). Never
    /// called for an IAM function.
    fn run_public(
        &self,
        route: Self::Route,
        request: &Request,
        facts: &mut Facts,
    ) -> impl Future<Output = Result<Reply, Problem>> + Send {
        let _ = (route, request, facts);
        async {
            Err(Problem::new(
                Kind::Internal,
                "this function has no public routes",
            ))
        }
    }

    /// Notes in `facts` what a request that will not run (it was refused
    /// before its handler) names: its token(s) and reason, as the handler
    /// would have noted them. An attempt is audited like a call (PCI DSS
    /// 10.2). Parses, never acts; a body that does not parse notes nothing.
    fn note(&self, route: &Self::Route, request: &Request, facts: &mut Facts) {
        let _ = (route, request, facts);
    }

    /// Data-key cache counters (KMS calls and cache hits).
    fn key_stats(&self) -> KeyStats;

    /// Authorization settings of the function's own (beyond its allow-lists),
    /// canonical, for the config digest in every audit event.
    fn authz_settings(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Reads its settings; a missing one is recorded in `env`, which reports
    /// every missing setting at once.
    fn config(env: &mut EnvReader<'_>) -> Self::Config;

    /// Builds the function at cold start from its settings and AWS clients.
    fn build(
        config: Self::Config,
        cold: &ColdStart,
    ) -> impl Future<Output = Result<Self, InitError>> + Send;
}

/// A handler's answer: status, body and its content type (JSON unless said).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body, if any.
    pub body: Option<String>,
    /// The body's content type; `application/json` when `None`.
    pub content_type: Option<&'static str>,
}

impl Reply {
    /// A JSON reply.
    pub fn json(status: StatusCode, body: &impl Serialize) -> Reply {
        Reply {
            status,
            body: Some(serde_json::to_string(body).unwrap_or_default()),
            content_type: None,
        }
    }

    /// A reply with no body.
    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            body: None,
            content_type: None,
        }
    }

    /// A text reply of another content type (the capture frame's HTML, JS, CSS).
    pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Reply {
        Reply {
            status,
            body: Some(body),
            content_type: Some(content_type),
        }
    }
}

/// What a handler tells the audit event about the request it served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Last four characters of each token involved.
    pub token_hints: Vec<String>,
    /// Items in a batch.
    pub items: usize,
    /// The stated purpose of a detokenize or forward.
    pub reason: String,
    /// Forward: the destination's host and matched path prefix.
    pub destination: String,
    /// Forward: distinct tokens expanded.
    pub tokens: usize,
    /// Forward: the destination's status.
    pub upstream_status: Option<u16>,
    /// Forward: milliseconds spent on the outbound call.
    pub upstream_latency_ms: Option<u64>,
    /// Tokenize: items answered with a card's existing token (a dedup or
    /// lookup hit), counted per principal to alarm on a membership oracle.
    pub dedup_hits: usize,
    /// Tokenize: items answered with a newly issued token.
    pub new_tokens: usize,
    /// Response headers the function adds, on success and problem alike
    /// (the capture API's CORS and CSP). A `Cache-Control` here replaces
    /// the envelope's `no-store`.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// A bearer function's refusal of its caller, for the audit decision.
    pub refused: Option<&'static str>,
    /// Capture: the capture function's session (its id is not secret).
    pub session: String,
    /// Capture: cards captured.
    pub captures: usize,
    /// Capture: failed attempts counted (wrong secret, invalid card number).
    pub capture_failures: usize,
    /// Capture: sessions this request burned.
    pub sessions_burned: usize,
}

impl Facts {
    /// Notes one tokenize answer: a new token, or an existing one.
    pub fn issued(&mut self, created: bool) {
        if created {
            self.new_tokens += 1;
        } else {
            self.dedup_hits += 1;
        }
    }

    /// Notes a token involved in the request.
    pub fn token(&mut self, token: &Token) {
        self.token_hints.push(token.hint().to_owned());
    }

    /// Notes a token as soon as it parses, whatever happens next; passes the
    /// parse result on.
    pub fn parsed_token(&mut self, parsed: Result<Token, Problem>) -> Result<Token, Problem> {
        if let Ok(token) = &parsed {
            self.token(token);
        }
        parsed
    }

    /// Notes a detokenize reason as soon as it passes its checks; passes the
    /// result on.
    pub fn parsed_reason(&mut self, parsed: Result<String, Problem>) -> Result<String, Problem> {
        if let Ok(reason) = &parsed {
            self.reason.clone_from(reason);
        }
        parsed
    }
}

/// Maps a core error to a problem, logging the ones that are ours to fix.
pub fn fail(e: tessera_core::Error) -> Problem {
    let problem = Problem::from(e.clone());
    if problem.kind.status().is_server_error() {
        // Core errors never hold a PAN, key or fingerprint, so the cause is safe to log.
        error!(error = %e, retryable = e.is_retryable(), "operation failed");
    }
    problem
}

/// Refuses an empty batch or one over the core's limit.
pub fn check_batch_size(n: usize) -> Result<(), Problem> {
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

/// Runs a batch operation on the items that parsed and merges its results
/// with the parse failures, keeping the input order.
pub async fn run_batch<I, O, Fut>(
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
    let mut outcomes = run(valid).await.map_err(fail)?.into_iter();
    Ok(parsed
        .iter()
        .map(|p| match p {
            Err(problem) => Err(problem.clone()),
            Ok(_) => match outcomes.next() {
                Some(outcome) => outcome.map_err(fail),
                None => Err(Problem::new(Kind::Internal, "missing result")),
            },
        })
        .collect())
}

/// A batch response: `{"results": [...]}`, each item with its own status.
pub fn batch_reply(results: Vec<Value>) -> Reply {
    Reply::json(StatusCode::OK, &json!({ "results": results }))
}

/// A batch item: the view with its status.
pub fn with_status(status: u16, body: &impl Serialize) -> Value {
    let mut v = serde_json::to_value(body).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("status".into(), Value::from(status));
    }
    v
}

/// A batch item that failed: its status and problem.
pub fn item_error(problem: &Problem) -> Value {
    json!({ "status": problem.kind.status().as_u16(), "error": problem.body(None) })
}
