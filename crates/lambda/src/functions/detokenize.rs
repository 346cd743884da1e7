//! The `detokenize` function: turn tokens back into PANs, one or a batch,
//! for the roles on its allow-list, each call with a stated reason.

use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::Request;
use serde::Deserialize;
use serde_json::Value;
use tessera_aws::config::{EnvReader, KMS_KEY_ID};
use tessera_core::{CacheLimits, Detokenizer, KeyStats, Token};

use super::{
    Facts, Function, Reply, batch_reply, check_batch_size, fail, item_error, run_batch, with_status,
};
use crate::audit::Operation;
use crate::auth::Principal;
use crate::extract::{self, JsonBody};
use crate::fields::{parse_reason, parse_token};
use crate::init::{ColdStart, InitError};
use crate::problem::Problem;
use crate::routing::{PathSpec, RouteSpec};
use crate::views::DetokenizedView;

/// Roles allowed on the detokenize routes (comma-separated ARNs).
pub const DETOKENIZE_ROLES: &str = "TESSERA_DETOKENIZE_ROLES";

/// The detokenize function's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/detokenize`
    Detokenize,
    /// `POST /v1/detokenize/batch`
    Batch,
}

/// The detokenize function: a [`Detokenizer`], which may only decrypt.
pub struct Detokenize {
    detokenizer: Detokenizer,
}

impl Detokenize {
    /// The function around a detokenizer.
    pub fn new(detokenizer: Detokenizer) -> Detokenize {
        Detokenize { detokenizer }
    }
}

/// A detokenize body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetokenizeBody {
    /// The token.
    pub token: String,
    /// Why the PAN is needed; recorded in the audit event.
    #[serde(default)]
    pub reason: Option<String>,
}

impl JsonBody for DetokenizeBody {
    const FIELDS: &'static [&'static str] = &["token", "reason"];
}

/// A batch detokenize body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetokenizeBatchBody {
    /// The tokens, at most 100.
    pub tokens: Vec<String>,
    /// Why the PANs are needed; recorded in the audit event.
    #[serde(default)]
    pub reason: Option<String>,
}

impl JsonBody for DetokenizeBatchBody {
    const FIELDS: &'static [&'static str] = &["tokens", "reason"];
}

/// What the detokenize function reads at cold start.
pub struct Config {
    key_id: String,
}

impl Function for Detokenize {
    type Route = Route;
    type Config = Config;

    const NAME: &'static str = "detokenize";
    const ALLOW_LISTS: &'static [&'static str] = &[DETOKENIZE_ROLES];
    const ROUTES: &'static [RouteSpec<Route>] = &[
        RouteSpec {
            method: Method::POST,
            path: PathSpec::Exact("/v1/detokenize", Route::Detokenize),
        },
        RouteSpec {
            method: Method::POST,
            path: PathSpec::Exact("/v1/detokenize/batch", Route::Batch),
        },
    ];

    fn allow_list(_: &Route) -> &'static str {
        DETOKENIZE_ROLES
    }

    fn operation(route: &Route) -> Operation {
        match route {
            Route::Detokenize => Operation::Detokenize,
            Route::Batch => Operation::DetokenizeBatch,
        }
    }

    async fn run(
        &self,
        route: Route,
        request: &Request,
        _caller: &Principal,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        match route {
            Route::Detokenize => self.detokenize(request, facts).await,
            Route::Batch => self.batch(request, facts).await,
        }
    }

    fn note(&self, route: &Route, request: &Request, facts: &mut Facts) {
        let _ = match route {
            Route::Detokenize => Detokenize::parse_one(request, facts).map(drop),
            Route::Batch => Detokenize::parse_batch(request, facts).map(drop),
        };
    }

    fn key_stats(&self) -> KeyStats {
        self.detokenizer.key_stats()
    }

    fn config(env: &mut EnvReader<'_>) -> Config {
        Config {
            key_id: env.required(KMS_KEY_ID),
        }
    }

    async fn build(config: Config, cold: &ColdStart) -> Result<Detokenize, InitError> {
        let keyring = cold.keyring(&config.key_id).await?;
        Ok(Detokenize::new(Detokenizer::new(
            cold.ports(),
            Arc::new(cold.vault()),
            keyring,
            CacheLimits::default(),
        )))
    }
}

impl Detokenize {
    /// Parses a detokenize body, noting its token and reason as each parses.
    /// A bad reason is reported before a bad token.
    fn parse_one(request: &Request, facts: &mut Facts) -> Result<(String, Token), Problem> {
        let body = extract::json::<DetokenizeBody>(request)?;
        let reason = facts.parsed_reason(parse_reason(body.reason.as_deref()));
        let token = facts.parsed_token(parse_token(&body.token));
        Ok((reason?, token?))
    }

    /// Parses a batch body, noting its size, reason and each token that parses.
    fn parse_batch(
        request: &Request,
        facts: &mut Facts,
    ) -> Result<(String, Vec<Result<Token, Problem>>), Problem> {
        let body = extract::json::<DetokenizeBatchBody>(request)?;
        facts.items = body.tokens.len();
        let reason = facts.parsed_reason(parse_reason(body.reason.as_deref()))?;
        check_batch_size(body.tokens.len())?;
        let parsed = body
            .tokens
            .iter()
            .map(|t| facts.parsed_token(parse_token(t)))
            .collect();
        Ok((reason, parsed))
    }

    async fn detokenize(&self, request: &Request, facts: &mut Facts) -> Result<Reply, Problem> {
        let (_, token) = Detokenize::parse_one(request, facts)?;
        let out = self.detokenizer.detokenize(&token).await.map_err(fail)?;
        Ok(Reply::json(StatusCode::OK, &DetokenizedView::new(&out)))
    }

    async fn batch(&self, request: &Request, facts: &mut Facts) -> Result<Reply, Problem> {
        let (_, parsed) = Detokenize::parse_batch(request, facts)?;
        let detokenizer = &self.detokenizer;
        let outcomes = run_batch(&parsed, |valid| async move {
            detokenizer.detokenize_batch(&valid).await
        })
        .await?;
        let results: Vec<Value> = parsed
            .iter()
            .zip(&outcomes)
            .map(|(token, outcome)| match (token, outcome) {
                (_, Ok(out)) => with_status(200, &DetokenizedView::new(out)),
                // A token that parsed is echoed; one that did not may be a PAN.
                (Ok(token), Err(problem)) => {
                    let mut v = item_error(problem);
                    v["token"] = Value::String(token.as_str().to_owned());
                    v
                }
                (Err(_), Err(problem)) => item_error(problem),
            })
            .collect();
        Ok(batch_reply(results))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{Routed, route};

    #[test]
    fn routing() {
        let r = |m: Method, p: &str| route(Detokenize::ROUTES, &m, p);
        assert_eq!(
            r(Method::POST, "/v1/detokenize"),
            Routed::Found(Route::Detokenize)
        );
        assert_eq!(
            r(Method::POST, "/v1/detokenize/batch"),
            Routed::Found(Route::Batch)
        );
        assert_eq!(
            r(Method::GET, "/v1/detokenize"),
            Routed::MethodNotAllowed(vec![Method::POST])
        );
        assert_eq!(r(Method::POST, "/v1/tokens"), Routed::NotFound);
    }
}
