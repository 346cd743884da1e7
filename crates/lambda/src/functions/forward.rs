//! The `forward` function: detokenize into an outbound call to a payment
//! processor, so no caller ever sees the PAN. `POST /v1/forward` with
//! `{url, method, headers, body, reason}`: the URL must match a destination
//! granted to the caller (checked before any token is read); the body is
//! parsed strictly in the destination's format and its `{{tok_...}}`
//! placeholders, only at the destination's card fields, become PANs (one
//! batch read, cached data keys) in the body serialized from the parsed
//! tree ([`crate::forward::body`]); the request goes out over verified TLS
//! to a checked public address
//! ([`crate::forward::egress`]); the processor's status, headers and body
//! come back with every card number masked ([`crate::forward::scrub`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use http::{Method, StatusCode};
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
use crate::forward::body::CheckedBody;
use crate::forward::destinations::Destinations;
use crate::forward::egress::{AddressPolicy, Egress, EgressError, Outbound, Roots, SystemResolver};
use crate::forward::scrub;
use crate::forward::target::parse_target;
use crate::forward::{headers, placeholders};
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
    /// The body to send, in the destination's format, with `{{token}}`
    /// placeholders at its card fields; absent or empty for none.
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
        note_tokens(&placeholders::mentioned(text_of(&body)), facts);
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

/// The body to send, as the caller wrote it; empty for none.
fn text_of(body: &ForwardBody) -> &str {
    body.body.as_ref().map_or("", SecretString::expose)
}

/// Notes the tokens for the audit event: before the body is parsed, those
/// it mentions anywhere ([`placeholders::mentioned`]); once parsed, those
/// it sends.
fn note_tokens(tokens: &[tessera_core::Token], facts: &mut Facts) {
    facts.token_hints.clear();
    facts.tokens = tokens.len();
    for token in tokens {
        facts.token(token);
    }
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
        // The tokens are noted first (reading no vault), so a refused
        // destination, URL or body is audited with the tokens it asked for.
        note_tokens(&placeholders::mentioned(text_of(&body)), facts);
        let method = parse_method(&body.method)?;
        let target = parse_target(&body.url).inspect_err(|_| {
            // A refused URL is audited by its host (and port, as an accepted
            // one is), when it has one that holds no card number (an IP
            // literal, localhost...); never its path.
            let uri = body.url.parse::<http::Uri>().ok();
            if let Some(host) = uri
                .as_ref()
                .and_then(|u| u.host())
                .filter(|h| !tessera_core::contains_card_number(h))
            {
                facts.destination = match uri.as_ref().and_then(|u| u.port_u16()) {
                    Some(port) if port != 443 => format!("{host}:{port}"),
                    _ => host.to_owned(),
                };
            }
        })?;
        // A refused destination is audited by its host (and port) and the
        // configured prefix its path is under: never the path itself, which
        // may hold a card number no detector sees, nor the query.
        facts.destination = self.destinations.audit_name(&target);
        // Destination before any token is read: a caller learns nothing
        // about tokens for a destination it may not use.
        let granted = self.destinations.authorize(caller, &method, &target)?;
        facts.destination = granted.audit.clone();
        let text = text_of(&body);
        let headers = headers::outbound(
            &body.headers,
            &granted.headers,
            granted.body_format,
            !text.is_empty(),
        )?;
        let checked = if text.is_empty() {
            None
        } else {
            let checked = CheckedBody::parse(granted.body_format, text, &granted.card_fields)?;
            note_tokens(checked.tokens(), facts);
            Some(checked)
        };
        let tokens = checked.as_ref().map_or(&[][..], CheckedBody::tokens);
        let mut pans = Vec::with_capacity(tokens.len());
        if !tokens.is_empty() {
            // Any token that does not open stops the forward: nothing is sent.
            for outcome in self
                .detokenizer
                .detokenize_batch(tokens)
                .await
                .map_err(fail)?
            {
                pans.push(outcome.map_err(fail)?);
            }
        }
        let digits: Vec<&str> = pans.iter().map(|d| d.pan.expose_digits()).collect();
        let sent_body = match &checked {
            Some(checked) => checked.serialize(&digits)?,
            None => zeroize::Zeroizing::new(Vec::new()),
        };
        drop(digits);
        let outbound = Outbound {
            method,
            host: target.host,
            port: target.port,
            path_and_query: target.path_and_query,
            headers,
            body: sent_body,
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
        let scrubbed = scrub::answer(&answer.headers, &answer.body, &sent_digits)
            .map_err(scrub::Unscrubbable::into_problem)?;
        Ok(Reply::json(
            StatusCode::OK,
            &ForwardedView {
                status: answer.status.as_u16(),
                headers: scrubbed.headers,
                body: scrubbed.body,
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
