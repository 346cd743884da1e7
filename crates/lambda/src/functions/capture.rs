//! The `capture` function (the public capture API, no IAM auth): the
//! shopper's browser posts a card with a session's client secret, and the
//! hosted frame, its script, style and the merchant's loader are served
//! from this binary. Its role creates records and index items inside the
//! capture's transaction and updates sessions; it never decrypts.

use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use lambda_http::{Request, RequestExt};
use serde::{Deserialize, Serialize};
use tessera_aws::config::EnvReader;
use tessera_core::capture::{
    CaptureError, CaptureRequest, CaptureSession, Capturer, CardholderName, CardholderNameError,
    ClientSecret, Lang, SessionId, SessionState,
};
use tessera_core::{Expiry, KeyStats, SystemClock};

use super::tokenize::{self, Tokenize};
use super::{Authentication, Facts, Function, Reply, fail};
use crate::audit::Operation;
use crate::auth::{AllowList, Principal};
use crate::extract::{self, JsonBody};
use crate::fields::{SecretString, parse_pan};
use crate::init::{ColdStart, InitError};
use crate::problem::{Kind, Problem};
use crate::routing::{PathSpec, RouteSpec};
use crate::scopes::Scopes;
use crate::views::TokenView;

/// The frame's HTML template (capfront's); its only placeholders are the
/// root element's attributes.
pub const FRAME_HTML: &str = include_str!("../../assets/capture/frame.html");
/// The frame's script.
pub const FRAME_JS: &str = include_str!("../../assets/capture/frame.js");
/// The frame's style sheet.
pub const FRAME_CSS: &str = include_str!("../../assets/capture/frame.css");
/// The merchant-side loader.
pub const LOADER_JS: &str = include_str!("../../assets/capture/tessera-capture.js");

/// The frame's CSP before `frame-ancestors`: its own script and style only
/// (no inline), posts only to its own origin, no forms, no base.
const FRAME_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors";
/// What answers that are not the frame say about framing and content.
const NO_FRAMING_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// How long browsers may keep the static assets: short, so a fix reaches
/// shoppers within minutes (and a merchant's SRI pin names one version).
const ASSET_CACHE: &str = "public, max-age=300";
/// How long a browser may keep a preflight answer.
const PREFLIGHT_MAX_AGE: &str = "600";

/// A static asset the capture function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    /// `frame.js`
    FrameJs,
    /// `frame.css`
    FrameCss,
    /// `tessera-capture.js`, the merchant's loader.
    Loader,
}

impl Asset {
    fn body(self) -> &'static str {
        match self {
            Asset::FrameJs => FRAME_JS,
            Asset::FrameCss => FRAME_CSS,
            Asset::Loader => LOADER_JS,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Asset::FrameJs | Asset::Loader => "text/javascript; charset=utf-8",
            Asset::FrameCss => "text/css; charset=utf-8",
        }
    }
}

/// The capture function's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/capture?session=<id>`
    Capture,
    /// `OPTIONS /v1/capture?session=<id>`
    Preflight,
    /// `GET /capture/v1/frame?session=<id>[&lang=de]`
    Frame,
    /// `GET /capture/v1/<asset>`
    Asset(Asset),
}

/// A capture body: the card as the frame sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureBody {
    /// The card number.
    pub pan: SecretString,
    /// The card's expiry, `MM/YY`.
    #[serde(default)]
    pub expiry: Option<String>,
    /// The cardholder name.
    #[serde(default)]
    pub cardholder_name: Option<SecretString>,
}

impl JsonBody for CaptureBody {
    const FIELDS: &'static [&'static str] = &["pan", "expiry", "cardholder_name"];
}

/// What a capture answers: the token's facts the merchant page may see.
#[derive(Debug, Serialize)]
pub struct CapturedView {
    /// The token.
    pub token: String,
    /// Leading digits shown (as tokenize shows them).
    pub bin: String,
    /// Last four digits.
    pub last4: String,
    /// The brand.
    pub brand: &'static str,
    /// When the token stops detokenizing, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// The capture function: a [`Capturer`] with tokenize's dedup scopes and grant.
pub struct Capture {
    capturer: Capturer,
    scopes: Scopes,
    dedup_roles: AllowList,
}

impl Capture {
    /// The function around a capturer, deduplicating within `scopes` for
    /// session creators on `dedup_roles`.
    pub fn new(capturer: Capturer, scopes: Scopes, dedup_roles: AllowList) -> Capture {
        Capture {
            capturer,
            scopes,
            dedup_roles,
        }
    }
}

fn unauthorized() -> Problem {
    // One answer for an unknown session, a wrong secret and a missing or
    // malformed bearer: nothing says whether the session exists.
    Problem::new(
        Kind::CaptureUnauthorized,
        "send the session's client secret as Authorization: Bearer, with ?session=<id>",
    )
}

fn closed(state: SessionState) -> Problem {
    let why = match state {
        SessionState::Used => "used: it has captured all its cards",
        SessionState::Expired => "expired",
        SessionState::Burned => "burned after too many failed attempts",
        SessionState::Open => "open",
    };
    Problem::new(
        Kind::CaptureSessionClosed,
        format!("the capture session is {why}; ask the merchant for a new one"),
    )
}

/// The `session` query parameter, parsed.
fn session_param(request: &Request) -> Option<SessionId> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first("session"))
        .and_then(|id| SessionId::parse(id).ok())
}

/// The bearer credential, if the header is exactly `Bearer <token>`.
fn bearer(request: &Request) -> Option<ClientSecret> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then(|| ClientSecret::presented(token))
}

/// The request's `Origin`, if it is one of the session's.
fn allowed_origin<'a>(request: &'a Request, session: &CaptureSession) -> Option<&'a str> {
    request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| session.policy.allows_origin(o))
}

fn push(facts: &mut Facts, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        facts.headers.push((name, v));
    }
}

/// CORS for an allowed origin: that origin, never `*`, no credentials.
fn cors(request: &Request, session: &CaptureSession, facts: &mut Facts) -> bool {
    // Caches must key on the Origin whether or not this one is allowed.
    push(facts, header::VARY, "Origin");
    match allowed_origin(request, session) {
        Some(origin) => {
            push(facts, header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            true
        }
        None => false,
    }
}

/// Escapes text for a double- or single-quoted HTML attribute.
pub fn attribute_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The frame's HTML for `session` at `now`, in `lang`: the template's four
/// placeholders replaced, in one pass, by attribute-escaped values.
pub fn render_frame(session: &CaptureSession, lang: Lang, now: i64) -> String {
    let origins = session
        .policy
        .origins()
        .iter()
        .map(|o| o.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let values = [
        ("{{lang}}", lang.as_str().to_owned()),
        ("{{session}}", session.id.as_str().to_owned()),
        ("{{origins}}", origins),
        ("{{state}}", session.state(now).as_str().to_owned()),
    ];
    let mut out = String::with_capacity(FRAME_HTML.len() + 256);
    let mut rest = FRAME_HTML;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match values.iter().find(|(name, _)| tail.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(&attribute_escape(value));
                rest = &tail[name.len()..];
            }
            None => {
                out.push_str("{{");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Function for Capture {
    type Route = Route;
    type Config = tokenize::Config;

    const NAME: &'static str = "capture";
    const ALLOW_LISTS: &'static [&'static str] = &[];
    const AUTHENTICATION: Authentication = Authentication::Bearer;
    const ROUTES: &'static [RouteSpec<Route>] = &[
        RouteSpec {
            method: Method::POST,
            path: PathSpec::Strict("/v1/capture", Route::Capture),
        },
        RouteSpec {
            method: Method::OPTIONS,
            path: PathSpec::Strict("/v1/capture", Route::Preflight),
        },
        RouteSpec {
            method: Method::GET,
            path: PathSpec::Exact("/capture/v1/frame", Route::Frame),
        },
        RouteSpec {
            method: Method::GET,
            path: PathSpec::Exact("/capture/v1/frame.js", Route::Asset(Asset::FrameJs)),
        },
        RouteSpec {
            method: Method::GET,
            path: PathSpec::Exact("/capture/v1/frame.css", Route::Asset(Asset::FrameCss)),
        },
        RouteSpec {
            method: Method::GET,
            path: PathSpec::Exact(
                "/capture/v1/tessera-capture.js",
                Route::Asset(Asset::Loader),
            ),
        },
    ];

    fn operation(route: &Route) -> Operation {
        match route {
            Route::Capture => Operation::Capture,
            Route::Preflight => Operation::CapturePreflight,
            Route::Frame => Operation::CaptureFrame,
            Route::Asset(_) => Operation::CaptureAsset,
        }
    }

    fn allow_list(_route: &Route) -> &'static str {
        // No allow-list: the caller is authenticated by the session's secret.
        ""
    }

    async fn run(
        &self,
        _route: Route,
        _request: &Request,
        _caller: &Principal,
        _facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        // A bearer function: the envelope calls `run_public` only.
        Err(Problem::new(
            Kind::Internal,
            "the capture function has no IAM routes",
        ))
    }

    async fn run_public(
        &self,
        route: Route,
        request: &Request,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        match route {
            Route::Capture => self.capture(request, facts).await,
            Route::Preflight => self.preflight(request, facts).await,
            Route::Frame => self.frame(request, facts).await,
            Route::Asset(asset) => {
                push(facts, header::CACHE_CONTROL, ASSET_CACHE);
                if asset == Asset::Loader {
                    // A public static script for any merchant page, loaded
                    // with SRI and crossorigin="anonymous".
                    push(facts, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
                    push(
                        facts,
                        HeaderName::from_static("cross-origin-resource-policy"),
                        "cross-origin",
                    );
                }
                Ok(Reply::text(
                    StatusCode::OK,
                    asset.content_type(),
                    asset.body().to_owned(),
                ))
            }
        }
    }

    fn key_stats(&self) -> KeyStats {
        self.capturer.key_stats()
    }

    fn authz_settings(&self) -> Vec<(&'static str, String)> {
        vec![
            (tokenize::DEDUP_ROLES, self.dedup_roles.canonical()),
            (tokenize::DEDUP_SCOPES, self.scopes.canonical()),
        ]
    }

    fn config(env: &mut EnvReader<'_>) -> tokenize::Config {
        Tokenize::config(env)
    }

    async fn build(config: tokenize::Config, cold: &ColdStart) -> Result<Capture, InitError> {
        let (tokenizer, scopes, dedup_roles) = Tokenize::build(config, cold).await?.into_parts();
        let capturer = Capturer::new(Arc::new(SystemClock), tokenizer, Arc::new(cold.vault()));
        Ok(Capture::new(capturer, scopes, dedup_roles))
    }
}

impl Capture {
    async fn capture(&self, request: &Request, facts: &mut Facts) -> Result<Reply, Problem> {
        let (Some(id), Some(secret)) = (session_param(request), bearer(request)) else {
            facts.refused = Some("no session or bearer client secret");
            facts.capture_failures += 1;
            return Err(unauthorized());
        };
        facts.session = id.as_str().to_owned();
        let session = self.capturer.session(&id).await.map_err(fail)?;
        match self.capturer.authenticate(session.as_ref(), &secret).await {
            Ok(()) => {}
            Err(CaptureError::Unauthorized { burned_now }) => {
                facts.refused = Some("unknown capture session or wrong client secret");
                facts.capture_failures += 1;
                facts.sessions_burned += usize::from(burned_now);
                return Err(unauthorized());
            }
            Err(e) => {
                if let Some(session) = &session {
                    cors(request, session, facts);
                }
                return Err(self.refusal(e));
            }
        }
        let Some(session) = session else {
            return Err(unauthorized());
        };
        cors(request, &session, facts);
        let body = extract::json::<CaptureBody>(request)?;
        let pan = match parse_pan(&body.pan) {
            Ok(pan) => pan,
            Err(problem) => {
                // An invalid number counts: card testing sends many.
                facts.capture_failures += 1;
                let burned = self.capturer.fail(&session).await.map_err(fail)?;
                facts.sessions_burned += usize::from(burned);
                return Err(problem);
            }
        };
        let card_expiry = body
            .expiry
            .as_deref()
            .map(Expiry::card)
            .transpose()
            .map_err(|e| Problem::new(Kind::InvalidExpiry, e.to_string()))?;
        let cardholder_name = body
            .cardholder_name
            .as_ref()
            .map(|n| CardholderName::parse(n.expose()))
            .transpose()
            .map_err(|e| match e {
                CardholderNameError::LooksLikePan | CardholderNameError::Shape => {
                    Problem::new(Kind::InvalidCardholderName, e.to_string())
                }
            })?;
        let owner = Principal::parse(&session.owner)
            .ok_or_else(|| Problem::new(Kind::Internal, "the session's creator is malformed"))?;
        let wanted = CaptureRequest {
            pan,
            card_expiry,
            cardholder_name,
            scope: self.scopes.scope_of(&owner),
            dedup_granted: self.dedup_roles.allows(&owner),
        };
        let captured = self
            .capturer
            .capture(&session, wanted)
            .await
            .map_err(|e| self.refusal(e))?;
        facts.token(&captured.token);
        facts.issued(captured.created);
        facts.captures += 1;
        let view = TokenView::new(&captured.token, &captured.answer);
        Ok(Reply::json(
            StatusCode::CREATED,
            &CapturedView {
                token: view.token,
                bin: view.bin,
                last4: view.last4,
                brand: view.brand,
                expires_at: view.expires_at,
            },
        ))
    }

    fn refusal(&self, e: CaptureError) -> Problem {
        match e {
            CaptureError::Unauthorized { .. } => unauthorized(),
            CaptureError::Closed(state) => closed(state),
            CaptureError::ExpiryRequired => Problem::new(Kind::InvalidExpiry, e.to_string()),
            CaptureError::NameNotRequested => {
                Problem::new(Kind::InvalidCardholderName, e.to_string())
            }
            CaptureError::Core(e) => fail(e),
        }
    }

    async fn preflight(&self, request: &Request, facts: &mut Facts) -> Result<Reply, Problem> {
        let session = match session_param(request) {
            Some(id) => {
                facts.session = id.as_str().to_owned();
                self.capturer.session(&id).await.map_err(fail)?
            }
            None => None,
        };
        // Answered 204 either way; only an allowed origin gets the headers
        // that let the browser send the POST.
        if let Some(session) = &session
            && cors(request, session, facts)
        {
            push(facts, header::ACCESS_CONTROL_ALLOW_METHODS, "POST");
            push(
                facts,
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization, content-type",
            );
            push(facts, header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE);
        }
        Ok(Reply::empty(StatusCode::NO_CONTENT))
    }

    async fn frame(&self, request: &Request, facts: &mut Facts) -> Result<Reply, Problem> {
        let session = match session_param(request) {
            Some(id) => {
                facts.session = id.as_str().to_owned();
                self.capturer.session(&id).await.map_err(fail)?
            }
            None => None,
        };
        let Some(session) = session else {
            push(facts, header::CONTENT_SECURITY_POLICY, NO_FRAMING_CSP);
            return Err(Problem::new(
                Kind::CaptureSessionNotFound,
                "no capture session by that id",
            ));
        };
        let lang = request
            .query_string_parameters_ref()
            .and_then(|q| q.first("lang"))
            .and_then(Lang::from_name)
            .unwrap_or(session.policy.lang);
        let ancestors = session
            .policy
            .origins()
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        push(
            facts,
            header::CONTENT_SECURITY_POLICY,
            &format!("{FRAME_CSP} {ancestors}"),
        );
        push(facts, header::REFERRER_POLICY, "no-referrer");
        let now = self.capturer.now_secs();
        Ok(Reply::text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            render_frame(&session, lang, now),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{Routed, route};

    #[test]
    fn routing_under_a_stage_and_under_watch() {
        let r = |m: Method, p: &str| route(Capture::ROUTES, &m, p);
        assert_eq!(
            r(Method::POST, "/prod/v1/capture"),
            Routed::Found(Route::Capture)
        );
        assert_eq!(
            r(Method::OPTIONS, "/lambda-url/capture/v1/capture"),
            Routed::Found(Route::Preflight)
        );
        assert_eq!(
            r(Method::GET, "/lambda-url/capture/capture/v1/frame"),
            Routed::Found(Route::Frame)
        );
        assert_eq!(
            r(Method::GET, "/prod/capture/v1/tessera-capture.js"),
            Routed::Found(Route::Asset(Asset::Loader))
        );
        assert_eq!(r(Method::GET, "/v1/frame"), Routed::NotFound);
        assert_eq!(r(Method::POST, "/v1/tokens"), Routed::NotFound);
    }

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(
            attribute_escape(r#"a"b'c<d>&e"#),
            "a&quot;b&#39;c&lt;d&gt;&amp;e"
        );
    }

    #[test]
    fn the_template_has_exactly_the_four_placeholders_in_its_root_element() {
        let root_end = FRAME_HTML.find('>').expect("a root");
        let html = FRAME_HTML.find("<html").expect("an html element");
        let root = &FRAME_HTML[html..FRAME_HTML[html..].find('>').map_or(root_end, |i| html + i)];
        for name in ["{{lang}}", "{{session}}", "{{origins}}", "{{state}}"] {
            assert!(root.contains(name), "{name} in {root}");
        }
        let after = &FRAME_HTML[html + root.len()..];
        assert!(
            !after.contains("{{"),
            "placeholders only in the root element"
        );
    }
}
