//! The `capture-sessions` function (IAM API): a merchant backend opens a
//! capture session and reads what it captured. Its role creates and reads
//! `s#` items and nothing else; it holds no key and no secret.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::Request;
use serde::{Deserialize, Serialize};
use tessera_aws::config::EnvReader;
use tessera_core::capture::{
    CaptureOrigin, CaptureSession, ClientSecret, DEFAULT_LIFETIME_SECONDS, Lang, OriginMode,
    PolicyError, Retention, SessionId, SessionPolicy, SessionRegistry,
};
use tessera_core::{
    Clock, Expiry, KeyStats, Metadata, MetadataError, Random, SystemClock, ThreadRandom,
};

use super::{Facts, Function, Reply};
use crate::audit::Operation;
use crate::auth::Principal;
use crate::extract::{self, JsonBody};
use crate::fields::parse_format;
use crate::init::{ColdStart, InitError};
use crate::problem::{Kind, Problem};
use crate::routing::{PathSpec, RouteSpec};
use crate::views::{TokenView, rfc3339};

/// Roles allowed to open and read capture sessions (comma-separated ARNs).
pub const CAPTURE_ROLES: &str = "TESSERA_CAPTURE_ROLES";
/// DEV ONLY (`dev-principal` builds): `1` lets sessions name
/// `http://localhost[:port]` and `http://127.0.0.1[:port]` origins.
pub const CAPTURE_DEV_ORIGINS: &str = "TESSERA_CAPTURE_DEV_ORIGINS";

/// The capture-sessions function's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/capture-sessions`
    Create,
    /// `GET /v1/capture-sessions/{id}`, with the raw segment.
    Get(String),
}

/// A create-session body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionBody {
    /// The exact origins that may embed the frame and call the capture API.
    pub origins: Vec<String>,
    /// `opaque` (default) or `fpe`.
    #[serde(default)]
    pub format: Option<String>,
    /// `false` opts out of dedup; otherwise the creator's dedup grant decides.
    #[serde(default)]
    pub dedupe: Option<bool>,
    /// Seconds the captured tokens live.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// `card`: the tokens expire with the card's typed expiry.
    #[serde(default)]
    pub expires: Option<String>,
    /// Metadata stored with each token.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The session's life, 60 to 3600 seconds (default 900).
    #[serde(default)]
    pub expires_in_seconds: Option<u64>,
    /// Cards the session captures, 1 to 10 (default 1).
    #[serde(default)]
    pub max_cards: Option<u32>,
    /// The frame's language, `en` (default) or `de`.
    #[serde(default)]
    pub lang: Option<String>,
    /// Optional fields the session takes besides the card.
    #[serde(default)]
    pub fields: Option<SessionFields>,
}

/// The optional fields of a session, as the loader's `fields` option names
/// them: a capture that sends one the session does not take is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFields {
    /// `true`: the cardholder name (off by default).
    #[serde(default)]
    pub name: bool,
}

impl JsonBody for CreateSessionBody {
    const FIELDS: &'static [&'static str] = &[
        "origins",
        "format",
        "dedupe",
        "ttl_seconds",
        "expires",
        "metadata",
        "expires_in_seconds",
        "max_cards",
        "lang",
        "fields",
    ];
}

impl CreateSessionBody {
    /// The policy this body asks for.
    pub fn into_policy(self, mode: OriginMode) -> Result<SessionPolicy, Problem> {
        let origins = self
            .origins
            .iter()
            .enumerate()
            .map(|(i, text)| {
                // The detail names the position, never the text.
                CaptureOrigin::parse(text, mode)
                    .map_err(|e| Problem::new(Kind::InvalidOrigin, format!("origins[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let policy_problem =
            |e: PolicyError| Problem::new(Kind::InvalidSessionPolicy, e.to_string());
        let mut policy = SessionPolicy::new(origins)
            .map_err(policy_problem)?
            .with_max_cards(self.max_cards.unwrap_or(1))
            .map_err(policy_problem)?
            .with_lifetime(self.expires_in_seconds.unwrap_or(DEFAULT_LIFETIME_SECONDS))
            .map_err(policy_problem)?;
        policy.format = parse_format(self.format.as_deref())?;
        policy.dedupe = self.dedupe;
        policy.retention = match (self.ttl_seconds, self.expires.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(Problem::new(
                    Kind::InvalidExpiry,
                    "give ttl_seconds or expires, not both",
                ));
            }
            (Some(seconds), None) => {
                Expiry::ttl(seconds)
                    .map_err(|e| Problem::new(Kind::InvalidExpiry, e.to_string()))?;
                Retention::Ttl(seconds)
            }
            (None, Some("card")) => Retention::CardExpiry,
            (None, Some(_)) => {
                return Err(Problem::new(
                    Kind::InvalidExpiry,
                    "expires must be `card`: the tokens expire with the card typed in the frame",
                ));
            }
            (None, None) => Retention::Never,
        };
        policy.metadata = Metadata::new(self.metadata).map_err(|e| match e {
            MetadataError::SecurityCode => Problem::new(Kind::ForbiddenField, e.to_string()),
            _ => Problem::new(Kind::InvalidMetadata, e.to_string()),
        })?;
        policy.cardholder_name = self.fields.unwrap_or_default().name;
        policy.lang = match self.lang.as_deref() {
            None => Lang::En,
            Some(tag) => Lang::from_name(tag).ok_or_else(|| {
                Problem::new(Kind::InvalidSessionPolicy, "lang must be `en` or `de`")
            })?,
        };
        Ok(policy)
    }
}

/// What a create answers: the secret, once.
#[derive(Debug, Serialize)]
pub struct CreatedSessionView {
    /// The session id.
    pub session_id: String,
    /// The client secret: returned once, never stored or logged.
    pub client_secret: String,
    /// When the session stops capturing, RFC 3339.
    pub expires_at: String,
}

/// One captured card, as the session shows it.
#[derive(Debug, Serialize)]
pub struct CapturedCardView {
    /// The token's facts.
    #[serde(flatten)]
    pub token: TokenView,
    /// The name typed with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cardholder_name: Option<String>,
}

/// A session as its creator reads it: state and token facts, never a PAN.
#[derive(Debug, Serialize)]
pub struct SessionView {
    /// The session id.
    pub session_id: String,
    /// `open`, `used`, `expired` or `burned`.
    pub state: &'static str,
    /// When it stops capturing, RFC 3339.
    pub expires_at: String,
    /// Cards it captures.
    pub max_cards: u32,
    /// Failed attempts so far (burned at 5).
    pub failed_attempts: u32,
    /// What it captured.
    pub cards: Vec<CapturedCardView>,
}

impl SessionView {
    /// The view of `session` at `now`.
    pub fn new(session: &CaptureSession, now: i64) -> SessionView {
        SessionView {
            session_id: session.id.as_str().to_owned(),
            state: session.state(now).as_str(),
            expires_at: rfc3339(session.expires_at),
            max_cards: session.policy.max_cards(),
            failed_attempts: session.failed_attempts,
            cards: session
                .cards
                .iter()
                .map(|c| CapturedCardView {
                    token: TokenView::new(&c.token, &c.facts),
                    cardholder_name: c.cardholder_name.as_ref().map(|n| n.as_str().to_owned()),
                })
                .collect(),
        }
    }
}

/// The capture-sessions function.
pub struct CaptureSessions {
    registry: Arc<dyn SessionRegistry>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Random>,
    mode: OriginMode,
}

impl CaptureSessions {
    /// The function on `registry`, accepting origins in `mode`.
    pub fn new(
        registry: Arc<dyn SessionRegistry>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
        mode: OriginMode,
    ) -> CaptureSessions {
        CaptureSessions {
            registry,
            clock,
            rng,
            mode,
        }
    }
}

/// What the capture-sessions function reads at cold start.
pub struct Config {
    mode: OriginMode,
}

/// Reads [`CAPTURE_DEV_ORIGINS`]: allowed only in dev builds.
pub fn origin_mode(env: &mut EnvReader<'_>) -> OriginMode {
    match env.optional(CAPTURE_DEV_ORIGINS).as_deref() {
        None | Some("" | "0") => OriginMode::Https,
        Some("1") if cfg!(feature = "dev-principal") => OriginMode::AllowLoopbackHttp,
        Some("1") => {
            env.invalid(
                CAPTURE_DEV_ORIGINS,
                "this build has no dev origins (a dev-principal build only)",
            );
            OriginMode::Https
        }
        Some(_) => {
            env.invalid(CAPTURE_DEV_ORIGINS, "set 1 or leave it unset");
            OriginMode::Https
        }
    }
}

fn not_found() -> Problem {
    Problem::new(
        Kind::CaptureSessionNotFound,
        "no capture session by that id was created by this caller",
    )
}

impl Function for CaptureSessions {
    type Route = Route;
    type Config = Config;

    const NAME: &'static str = "capture-sessions";
    const ALLOW_LISTS: &'static [&'static str] = &[CAPTURE_ROLES];
    const ROUTES: &'static [RouteSpec<Route>] = &[
        RouteSpec {
            method: Method::POST,
            path: PathSpec::Exact("/v1/capture-sessions", Route::Create),
        },
        RouteSpec {
            method: Method::GET,
            path: PathSpec::Segment("/v1/capture-sessions/", "id", Route::Get),
        },
    ];

    fn operation(route: &Route) -> Operation {
        match route {
            Route::Create => Operation::CreateCaptureSession,
            Route::Get(_) => Operation::GetCaptureSession,
        }
    }

    fn allow_list(_route: &Route) -> &'static str {
        CAPTURE_ROLES
    }

    async fn run(
        &self,
        route: Route,
        request: &Request,
        caller: &Principal,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        match route {
            Route::Create => self.create(request, caller, facts).await,
            Route::Get(segment) => self.get(&segment, caller, facts).await,
        }
    }

    fn note(&self, route: &Route, _request: &Request, facts: &mut Facts) {
        if let Route::Get(segment) = route
            && let Ok(id) = SessionId::parse(segment)
        {
            facts.session = id.as_str().to_owned();
        }
    }

    fn key_stats(&self) -> KeyStats {
        KeyStats::default()
    }

    fn authz_settings(&self) -> Vec<(&'static str, String)> {
        vec![(CAPTURE_DEV_ORIGINS, format!("{:?}", self.mode))]
    }

    fn config(env: &mut EnvReader<'_>) -> Config {
        Config {
            mode: origin_mode(env),
        }
    }

    async fn build(config: Config, cold: &ColdStart) -> Result<CaptureSessions, InitError> {
        Ok(CaptureSessions::new(
            Arc::new(cold.vault()),
            Arc::new(SystemClock),
            Arc::new(ThreadRandom),
            config.mode,
        ))
    }
}

impl CaptureSessions {
    async fn create(
        &self,
        request: &Request,
        caller: &Principal,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        let policy = extract::json::<CreateSessionBody>(request)?.into_policy(self.mode)?;
        let secret = ClientSecret::generate(self.rng.as_ref());
        let session = CaptureSession::new(
            SessionId::generate(self.rng.as_ref()),
            secret.hash(),
            caller.to_string(),
            policy,
            self.clock.now_secs(),
        );
        facts.session = session.id.as_str().to_owned();
        self.registry
            .create_session(&session)
            .await
            .map_err(|e| super::fail(e.into()))?;
        Ok(Reply::json(
            StatusCode::CREATED,
            &CreatedSessionView {
                session_id: session.id.as_str().to_owned(),
                client_secret: secret.expose_secret().to_owned(),
                expires_at: rfc3339(session.expires_at),
            },
        ))
    }

    async fn get(
        &self,
        segment: &str,
        caller: &Principal,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        let id = SessionId::parse(segment).map_err(|_| not_found())?;
        facts.session = id.as_str().to_owned();
        let session = self
            .registry
            .get_session(&id)
            .await
            .map_err(|e| super::fail(e.into()))?
            // Another role's session is answered as an unknown one.
            .filter(|s| s.owner == caller.to_string())
            .ok_or_else(not_found)?;
        Ok(Reply::json(
            StatusCode::OK,
            &SessionView::new(&session, self.clock.now_secs()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{Routed, route};

    #[test]
    fn routing() {
        let r = |m: Method, p: &str| route(CaptureSessions::ROUTES, &m, p);
        assert_eq!(
            r(Method::POST, "/prod/v1/capture-sessions"),
            Routed::Found(Route::Create)
        );
        assert_eq!(
            r(Method::GET, "/v1/capture-sessions/cs_x"),
            Routed::Found(Route::Get("cs_x".into()))
        );
        assert_eq!(r(Method::POST, "/v1/capture"), Routed::NotFound);
        assert_eq!(
            CaptureSessions::ROUTES[1].template(),
            "/v1/capture-sessions/{id}"
        );
    }

    #[test]
    fn a_policy_error_never_quotes_an_origin() {
        let body: CreateSessionBody = extract::parse(
            br#"{"origins":["https://ok.example","https://4111111111111111.example/x"]}"#,
        )
        .expect("parses");
        let e = body.into_policy(OriginMode::Https).expect_err("refused");
        assert_eq!(e.kind, Kind::InvalidOrigin);
        assert_eq!(
            e.detail,
            "origins[1]: an origin is scheme, host and port only: no path, query, fragment, trailing slash or userinfo"
        );
    }
}
