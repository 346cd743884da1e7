//! The `capture` function (the public capture API, no IAM auth): the
//! shopper's browser posts a card with a session's client secret, and the
//! hosted frame, its script, style and the merchant's loader are served
//! from this binary. Its role creates records and index items inside the
//! capture's transaction and updates sessions; it never decrypts. The
//! capture POST, its CORS, the frame and the static assets are modules of
//! their own.

use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method};
use lambda_http::{Request, RequestExt};
use tessera_aws::config::EnvReader;
use tessera_core::capture::{CaptureSession, Capturer, SessionId};
use tessera_core::{KeyStats, SystemClock};

use super::tokenize::{self, Tokenize};
use super::{Authentication, Facts, Function, Reply, fail};
use crate::audit::Operation;
use crate::auth::{AllowList, Principal};
use crate::init::{ColdStart, InitError};
use crate::problem::{Kind, Problem};
use crate::routing::{PathSpec, RouteSpec};
use crate::scopes::Scopes;

mod assets;
mod card;
mod cors;
mod frame;

pub use assets::{Asset, FRAME_CSS, FRAME_JS, LOADER_JS};
pub use card::{CaptureBody, CapturedView};
pub use frame::{FRAME_HTML, attribute_escape, render_frame};

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

/// The `session` query parameter, parsed.
fn session_param(request: &Request) -> Option<SessionId> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first("session"))
        .and_then(|id| SessionId::parse(id).ok())
}

/// Adds a response header; a value that is not a valid header is left out.
fn push(facts: &mut Facts, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        facts.headers.push((name, v));
    }
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
            Route::Asset(asset) => Ok(asset.reply(facts)),
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
    /// The session named by `?session=`, noted in `facts`; `None` when the
    /// parameter is missing or malformed or no such session exists.
    async fn named_session(
        &self,
        request: &Request,
        facts: &mut Facts,
    ) -> Result<Option<CaptureSession>, Problem> {
        Ok(match session_param(request) {
            Some(id) => {
                facts.session = id.as_str().to_owned();
                self.capturer.session(&id).await.map_err(fail)?
            }
            None => None,
        })
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
}
