//! The `forward` function: detokenize into an outbound call to a payment
//! processor, so no caller ever sees the PAN. `POST /v1/forward` with
//! `{url, method, headers, body, reason}`: the URL must match a destination
//! granted to the caller (checked before any token is read); `{{tok_...}}`
//! placeholders in the body become PANs (one batch read, cached data keys);
//! the request goes out over verified TLS to a checked public address
//! ([`crate::forward::egress`]); the processor's status, headers and body
//! come back with every card number masked ([`crate::forward::scrub`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use lambda_http::Request;
use serde::{Deserialize, Serialize};
use tessera_aws::config::{EnvReader, KMS_KEY_ID};
use tessera_core::{CacheLimits, Detokenizer, KeyStats};
use tracing::warn;

use super::{Facts, Function, Reply, fail};
use crate::audit::Operation;
use crate::auth::Principal;
use crate::extract::{self, JsonBody};
use crate::fields::{SecretString, parse_reason};
use crate::forward::destinations::{BASE_HEADERS, Destinations, parse_target};
use crate::forward::egress::{AddressPolicy, Egress, EgressError, Outbound, Roots, SystemResolver};
use crate::forward::placeholders::Template;
use crate::forward::scrub;
use crate::init::{ColdStart, InitError};
use crate::problem::{Kind, Problem};
use crate::routing::{PathSpec, RouteSpec};

/// Roles allowed on the forward route (comma-separated ARNs).
pub const FORWARD_ROLES: &str = "TESSERA_FORWARD_ROLES";
/// The destinations, a JSON list (see [`crate::forward::destinations`]).
pub const FORWARD_DESTINATIONS: &str = "TESSERA_FORWARD_DESTINATIONS";
/// Which role may use which destinations: `arn=name,name;arn=name`.
pub const FORWARD_GRANTS: &str = "TESSERA_FORWARD_GRANTS";
/// DEV ONLY: a PEM file of an extra CA to trust, with `.localhost` names
/// resolved to 127.0.0.1 and that address allowed: the dev stack's stub
/// processor. Builds without the `dev-principal` feature refuse to start
/// when it is set; nothing else can widen what forward trusts or reaches.
pub const FORWARD_DEV_CA: &str = "TESSERA_FORWARD_DEV_CA";

/// Most headers a caller may send on.
const MAX_HEADERS: usize = 32;
/// Headers a caller may not set: hop-by-hop and framing headers (the egress
/// sets its own), and AWS or proxy credentials and routing hints that have
/// no business leaving the VPC.
const REFUSED_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "expect",
    "forwarded",
];
/// Header name prefixes a caller may not set.
const REFUSED_HEADER_PREFIXES: &[&str] = &["x-amz-", "x-forwarded-", "x-tessera-"];

/// The forward function's one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/forward`
    Forward,
}

/// A forward body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardBody {
    /// The processor URL: `https://host[:port]/path[?query]`.
    pub url: String,
    /// The HTTP method.
    pub method: String,
    /// Headers to send (no placeholders: they are not expanded there).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body to send, with `{{token}}` placeholders.
    #[serde(default)]
    pub body: Option<SecretString>,
    /// Why the PANs are needed; recorded in the audit event.
    #[serde(default)]
    pub reason: Option<String>,
}

impl JsonBody for ForwardBody {
    const FIELDS: &'static [&'static str] = &["url", "method", "headers", "body", "reason"];
}

/// The processor's answer as forward returns it, card numbers masked.
#[derive(Debug, Serialize)]
pub struct ForwardedView {
    /// The processor's status.
    pub status: u16,
    /// Its headers, as name and value pairs.
    pub headers: Vec<(String, String)>,
    /// Its body, as text.
    pub body: String,
}

/// What the forward function reads at cold start.
pub struct Config {
    key_id: String,
    destinations: Destinations,
    dev_ca: Option<String>,
}

/// The forward function: a [`Detokenizer`] (which may only decrypt), the
/// destinations, and the egress.
pub struct Forward {
    detokenizer: Detokenizer,
    destinations: Destinations,
    egress: Egress,
}

impl Forward {
    /// The function around a detokenizer, its destinations and an egress.
    pub fn new(detokenizer: Detokenizer, destinations: Destinations, egress: Egress) -> Forward {
        Forward {
            detokenizer,
            destinations,
            egress,
        }
    }
}

impl Function for Forward {
    type Route = Route;
    type Config = Config;

    const NAME: &'static str = "forward";
    const ALLOW_LISTS: &'static [&'static str] = &[FORWARD_ROLES];
    const ROUTES: &'static [RouteSpec<Route>] = &[RouteSpec {
        method: Method::POST,
        path: PathSpec::Exact("/v1/forward", Route::Forward),
    }];

    fn allow_list(_: &Route) -> &'static str {
        FORWARD_ROLES
    }

    fn operation(_: &Route) -> Operation {
        Operation::Forward
    }

    async fn run(
        &self,
        _route: Route,
        request: &Request,
        caller: &Principal,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        self.forward(request, caller, facts).await
    }

    fn note(&self, _route: &Route, request: &Request, facts: &mut Facts) {
        let Ok(body) = extract::json::<ForwardBody>(request) else {
            return;
        };
        if let Ok(reason) = parse_reason(body.reason.as_deref()) {
            facts.reason = reason;
        }
        let _ = note_tokens(&body, facts);
    }

    fn key_stats(&self) -> KeyStats {
        self.detokenizer.key_stats()
    }

    fn authz_settings(&self) -> Vec<(&'static str, String)> {
        vec![(FORWARD_DESTINATIONS, self.destinations.canonical())]
    }

    fn config(env: &mut EnvReader<'_>) -> Config {
        let key_id = env.required(KMS_KEY_ID);
        let list = env.required(FORWARD_DESTINATIONS);
        let grants = env.required(FORWARD_GRANTS);
        let destinations = Destinations::parse(&list, &grants).unwrap_or_else(|why| {
            env.invalid(FORWARD_DESTINATIONS, why);
            Destinations::default()
        });
        let dev_ca = env.optional(FORWARD_DEV_CA);
        Config {
            key_id,
            destinations,
            dev_ca,
        }
    }

    async fn build(config: Config, cold: &ColdStart) -> Result<Forward, InitError> {
        let egress = egress(config.dev_ca)?;
        let keyring = cold.keyring(&config.key_id).await?;
        Ok(Forward::new(
            Detokenizer::new(
                cold.ports(),
                Arc::new(cold.vault()),
                keyring,
                CacheLimits::default(),
            ),
            config.destinations,
            egress,
        ))
    }
}

/// Production egress: the platform's roots, the system resolver, public
/// addresses only. A dev CA is refused in a build without the dev feature.
#[cfg(not(feature = "dev-principal"))]
fn egress(dev_ca: Option<String>) -> Result<Egress, InitError> {
    if dev_ca.is_some() {
        return Err(InitError::Forward(format!(
            "{FORWARD_DEV_CA} is set but this build has no dev settings: refusing to start"
        )));
    }
    Egress::new(
        Arc::new(SystemResolver),
        AddressPolicy::public_only(),
        Roots::Platform,
    )
    .map_err(|e| InitError::Forward(e.to_string()))
}

/// Dev builds: as production, unless a dev CA is named, which also lets
/// `.localhost` names reach 127.0.0.1 (the stub processor).
#[cfg(feature = "dev-principal")]
fn egress(dev_ca: Option<String>) -> Result<Egress, InitError> {
    use crate::forward::egress::LocalhostResolver;
    let built = match dev_ca {
        None => Egress::new(
            Arc::new(SystemResolver),
            AddressPolicy::public_only(),
            Roots::Platform,
        ),
        Some(path) => {
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| InitError::Forward(format!("{FORWARD_DEV_CA}: {path}: {e}")))?;
            warn!(
                "{FORWARD_DEV_CA} is active: forward trusts a dev CA and reaches 127.0.0.1 (local development only)"
            );
            Egress::new(
                Arc::new(LocalhostResolver),
                AddressPolicy::with_loopback_for_tests(),
                Roots::PlatformAnd(pem),
            )
        }
    };
    built.map_err(|e| InitError::Forward(e.to_string()))
}

/// The body to send, as the caller wrote it.
fn text_of(body: &ForwardBody) -> &str {
    body.body.as_ref().map_or("", SecretString::expose)
}

/// Parses the body's placeholders and notes their tokens for the audit event.
fn note_tokens<'a>(body: &'a ForwardBody, facts: &mut Facts) -> Result<Template<'a>, Problem> {
    let template = Template::parse(text_of(body))?;
    facts.tokens = template.tokens.len();
    for token in &template.tokens {
        facts.token(token);
    }
    Ok(template)
}

impl Forward {
    async fn forward(
        &self,
        request: &Request,
        caller: &Principal,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        let body = extract::json::<ForwardBody>(request)?;
        let reason = parse_reason(body.reason.as_deref())?;
        facts.reason = reason;
        // The tokens are noted first (parsing reads no vault), so a refused
        // destination or URL is audited with the tokens it asked for.
        let template = note_tokens(&body, facts);
        let method = parse_method(&body.method)?;
        let target = parse_target(&body.url).inspect_err(|_| {
            // A refused URL is audited by its host, when it has one that
            // holds no card number (an IP literal, localhost...).
            if let Some(host) = body
                .url
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| u.host().map(str::to_owned))
                .filter(|h| !tessera_core::contains_card_number(h))
            {
                facts.destination = host;
            }
        })?;
        // A refused destination is audited as asked for: host, port and
        // path (checked plain, with no card number), never the query.
        facts.destination = if target.port == 443 {
            format!("{}{}", target.host, target.path)
        } else {
            format!("{}:{}{}", target.host, target.port, target.path)
        };
        // Destination before any token is read: a caller learns nothing
        // about tokens for a destination it may not use.
        let granted = self.destinations.authorize(caller, &method, &target)?;
        facts.destination = granted.audit.clone();
        let headers = outbound_headers(&body.headers, &granted.headers)?;
        let template = template?;
        Template::check_positions(text_of(&body), &granted.card_fields)?;
        let mut pans = Vec::with_capacity(template.tokens.len());
        if !template.tokens.is_empty() {
            // Any token that does not open stops the forward: nothing is sent.
            for outcome in self
                .detokenizer
                .detokenize_batch(&template.tokens)
                .await
                .map_err(fail)?
            {
                pans.push(outcome.map_err(fail)?);
            }
        }
        let outbound = Outbound {
            method,
            host: target.host,
            port: target.port,
            path_and_query: target.path_and_query,
            headers,
            body: template.expand(|i| pans.get(i).map_or("", |d| d.pan.expose_digits())),
        };
        // The card numbers sent, kept (wiped on drop) only to mask any
        // fragment of them the answer echoes.
        let sent: Vec<zeroize::Zeroizing<String>> = pans
            .iter()
            .map(|d| zeroize::Zeroizing::new(d.pan.expose_digits().to_owned()))
            .collect();
        drop(pans);
        let sent_digits: Vec<&str> = sent.iter().map(|s| s.as_str()).collect();
        let started = Instant::now();
        let sent_call = self.egress.send(outbound).await;
        facts.upstream_latency_ms =
            Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        let answer = sent_call.map_err(egress_problem)?;
        facts.upstream_status = Some(answer.status.as_u16());
        let body = scrub::body(&answer.body, &sent_digits).ok_or_else(|| {
            Problem::new(
                Kind::UpstreamInvalid,
                "the destination's answer is not UTF-8 text, or holds too many digits to check",
            )
        })?;
        Ok(Reply::json(
            StatusCode::OK,
            &ForwardedView {
                status: answer.status.as_u16(),
                headers: scrub::headers(&answer.headers, &sent_digits),
                body,
            },
        ))
    }
}

fn parse_method(text: &str) -> Result<Method, Problem> {
    match text {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => Method::from_bytes(text.as_bytes())
            .map_err(|_| Problem::new(Kind::InvalidBody, "unknown method")),
        _ => Err(Problem::new(
            Kind::InvalidBody,
            "`method` must be GET, POST, PUT, PATCH or DELETE",
        )),
    }
}

/// The caller's headers, checked: valid, not refused, and with no
/// placeholder or card number (headers are logged upstream).
fn outbound_headers(
    given: &BTreeMap<String, String>,
    allowed: &[String],
) -> Result<HeaderMap, Problem> {
    let bad = |detail: &str| Problem::new(Kind::InvalidBody, detail.to_owned());
    if given.len() > MAX_HEADERS {
        return Err(bad("send at most 32 headers"));
    }
    let mut map = HeaderMap::new();
    for (name, value) in given {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad("a header name is not valid"))?;
        let lower = name.as_str();
        if REFUSED_HEADERS.contains(&lower)
            || REFUSED_HEADER_PREFIXES.iter().any(|p| lower.starts_with(p))
        {
            return Err(bad(
                "hop-by-hop, Host, length, proxy, forwarding and X-Amz headers are set by Tessera or never sent",
            ));
        }
        if !BASE_HEADERS.contains(&lower) && !allowed.iter().any(|a| a == lower) {
            return Err(bad(
                "this header is not one the destination accepts (accept, authorization, content-type, idempotency-key, user-agent, and its configured headers)",
            ));
        }
        if value.contains("{{") {
            return Err(bad(
                "placeholders are expanded in the body only, never in headers, which processors log",
            ));
        }
        if tessera_core::contains_card_number(value) {
            return Err(bad(
                "a header must not hold a card number; processors log headers",
            ));
        }
        let value = HeaderValue::from_str(value).map_err(|_| bad("a header value is not valid"))?;
        map.append(name, value);
    }
    Ok(map)
}

fn egress_problem(e: EgressError) -> Problem {
    // Egress errors hold no request data, so the cause is safe to log.
    warn!(error = %e, "forward egress failed");
    match e {
        EgressError::Resolve | EgressError::Connect(_) => Problem::new(
            Kind::UpstreamUnreachable,
            "the destination could not be reached over verified TLS",
        ),
        EgressError::ForbiddenAddress => Problem::new(
            Kind::UpstreamAddressForbidden,
            "the destination's host resolves to an address that is not public",
        ),
        EgressError::Timeout => Problem::new(
            Kind::UpstreamTimeout,
            "the destination did not answer in time",
        ),
        EgressError::TooLarge => Problem::new(
            Kind::UpstreamTooLarge,
            "the destination's answer is larger than 1 MiB",
        ),
        EgressError::Protocol(_) => Problem::new(
            Kind::UpstreamInvalid,
            "the destination's answer could not be read",
        ),
        EgressError::Config(_) => {
            Problem::new(Kind::Internal, "see the correlation id in the service logs")
        }
    }
}
