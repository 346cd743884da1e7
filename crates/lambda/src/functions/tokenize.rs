//! The `tokenize` function: issue tokens, one or a batch, look a card up,
//! and describe a token. Its role may encrypt but never decrypt. Its
//! request bodies ([`TokenizeBody`], [`TokenizeBatchBody`], [`LookupBody`])
//! and its cold start ([`Config`]) are modules of their own.

use http::{Method, StatusCode};
use lambda_http::Request;
use serde_json::Value;
use tessera_aws::config::EnvReader;
use tessera_core::{DedupScope, KeyStats, Tokenizer};

use super::{
    Facts, Function, Reply, batch_reply, check_batch_size, fail, item_error, run_batch, with_status,
};
use crate::audit::Operation;
use crate::auth::{AllowList, Principal};
use crate::extract;
use crate::fields::{parse_format, parse_pan, parse_token};
use crate::init::{ColdStart, InitError};
use crate::problem::Problem;
use crate::routing::{PathSpec, RouteSpec};
use crate::scopes::Scopes;
use crate::views::TokenView;

mod body;
mod settings;

pub use body::{DedupGrant, LookupBody, TokenizeBatchBody, TokenizeBody};
pub use settings::{
    Config, DEDUP_ROLES, DEDUP_SCOPES, DESCRIBE_ROLES, LEGACY_SCOPE, TOKENIZE_ROLES,
};

/// The tokenize function's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/tokens`
    Tokenize,
    /// `POST /v1/tokens/batch`
    Batch,
    /// `POST /v1/tokens/lookup`
    Lookup,
    /// `GET /v1/tokens/{token}`, with the raw segment.
    Describe(String),
}

/// The tokenize function: a [`Tokenizer`], which holds the fingerprint key and
/// an encryption-only key cache.
pub struct Tokenize {
    tokenizer: Tokenizer,
    scopes: Scopes,
    dedup_roles: AllowList,
}

impl Tokenize {
    /// The function around a tokenizer, deduplicating within `scopes` for
    /// no role until [`Tokenize::with_dedup_roles`] grants some.
    pub fn new(tokenizer: Tokenizer, scopes: Scopes) -> Tokenize {
        Tokenize {
            tokenizer,
            scopes,
            dedup_roles: AllowList::default(),
        }
    }

    /// Its tokenizer, scopes and dedup grant: what the capture function,
    /// which seals and deduplicates as tokenize does, is built from.
    pub fn into_parts(self) -> (Tokenizer, Scopes, AllowList) {
        (self.tokenizer, self.scopes, self.dedup_roles)
    }

    /// The roles granted dedup answers (see [`DEDUP_ROLES`]).
    pub fn with_dedup_roles(mut self, roles: AllowList) -> Tokenize {
        self.dedup_roles = roles;
        self
    }
}

impl Function for Tokenize {
    type Route = Route;
    type Config = Config;

    const NAME: &'static str = "tokenize";
    const ALLOW_LISTS: &'static [&'static str] = &[TOKENIZE_ROLES, DESCRIBE_ROLES];
    const ROUTES: &'static [RouteSpec<Route>] = &[
        RouteSpec {
            method: Method::POST,
            path: PathSpec::Exact("/v1/tokens", Route::Tokenize),
        },
        RouteSpec {
            method: Method::POST,
            path: PathSpec::Exact("/v1/tokens/batch", Route::Batch),
        },
        RouteSpec {
            method: Method::POST,
            path: PathSpec::Exact("/v1/tokens/lookup", Route::Lookup),
        },
        RouteSpec {
            method: Method::GET,
            path: PathSpec::Token("/v1/tokens/", Route::Describe),
        },
    ];

    fn allow_list(route: &Route) -> &'static str {
        match route {
            Route::Tokenize | Route::Batch | Route::Lookup => TOKENIZE_ROLES,
            Route::Describe(_) => DESCRIBE_ROLES,
        }
    }

    fn operation(route: &Route) -> Operation {
        match route {
            Route::Tokenize => Operation::Tokenize,
            Route::Batch => Operation::TokenizeBatch,
            Route::Lookup => Operation::Lookup,
            Route::Describe(_) => Operation::Describe,
        }
    }

    async fn run(
        &self,
        route: Route,
        request: &Request,
        caller: &Principal,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        let scope = self.scopes.scope_of(caller);
        let grant = if self.dedup_roles.allows(caller) {
            DedupGrant::Granted
        } else {
            DedupGrant::NotGranted
        };
        match route {
            Route::Tokenize => self.tokenize(request, &scope, grant, facts).await,
            Route::Batch => self.batch(request, &scope, grant, facts).await,
            Route::Lookup if grant == DedupGrant::NotGranted => Err(DedupGrant::refused()),
            Route::Lookup => self.lookup(request, &scope, facts).await,
            Route::Describe(segment) => self.describe(&segment, facts).await,
        }
    }

    fn note(&self, route: &Route, _request: &Request, facts: &mut Facts) {
        // Tokenize bodies name cards, not tokens: only describe names one.
        if let Route::Describe(segment) = route {
            let _ = facts.parsed_token(parse_token(segment));
        }
    }

    fn key_stats(&self) -> KeyStats {
        self.tokenizer.key_stats()
    }

    fn authz_settings(&self) -> Vec<(&'static str, String)> {
        vec![
            (DEDUP_ROLES, self.dedup_roles.canonical()),
            (DEDUP_SCOPES, self.scopes.canonical()),
        ]
    }

    fn config(env: &mut EnvReader<'_>) -> Config {
        Config::read(env)
    }

    async fn build(config: Config, cold: &ColdStart) -> Result<Tokenize, InitError> {
        config.build(cold).await
    }
}

impl Tokenize {
    async fn tokenize(
        &self,
        request: &Request,
        scope: &DedupScope,
        grant: DedupGrant,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        let wanted = extract::json::<TokenizeBody>(request)?.into_request(scope, grant)?;
        let issued = self.tokenizer.tokenize(&wanted).await.map_err(fail)?;
        let status = if issued.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        facts.token(&issued.token);
        facts.issued(issued.created);
        Ok(Reply::json(status, &TokenView::issued(&issued)))
    }

    async fn batch(
        &self,
        request: &Request,
        scope: &DedupScope,
        grant: DedupGrant,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        let batch = extract::json::<TokenizeBatchBody>(request)?;
        facts.items = batch.items.len();
        check_batch_size(batch.items.len())?;
        let parsed: Vec<Result<_, Problem>> = batch
            .items
            .into_iter()
            .map(|item| item.into_request(scope, grant))
            .collect();
        let tokenizer = &self.tokenizer;
        let outcomes = run_batch(&parsed, |valid| async move {
            tokenizer.tokenize_batch(&valid).await
        })
        .await?;
        let results: Vec<Value> = outcomes
            .iter()
            .map(|outcome| match outcome {
                Ok(t) => {
                    facts.token(&t.token);
                    facts.issued(t.created);
                    let status = if t.created { 201 } else { 200 };
                    with_status(status, &TokenView::issued(t))
                }
                Err(problem) => item_error(problem),
            })
            .collect();
        Ok(batch_reply(results))
    }

    async fn lookup(
        &self,
        request: &Request,
        scope: &DedupScope,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        let body = extract::json::<LookupBody>(request)?;
        let pan = parse_pan(&body.pan)?;
        let format = parse_format(body.format.as_deref())?;
        let found = self
            .tokenizer
            .lookup_by_pan(&pan, format, scope)
            .await
            .map_err(fail)?;
        facts.token(&found.token);
        // A lookup hit is a dedup answer like tokenize's.
        facts.issued(false);
        Ok(Reply::json(StatusCode::OK, &TokenView::issued(&found)))
    }

    async fn describe(&self, segment: &str, facts: &mut Facts) -> Result<Reply, Problem> {
        let token = facts.parsed_token(parse_token(segment))?;
        let described = self.tokenizer.describe(&token).await.map_err(fail)?;
        Ok(Reply::json(
            StatusCode::OK,
            &TokenView::described(&token, &described),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{Routed, route};

    #[test]
    fn routing() {
        let r = |m: Method, p: &str| route(Tokenize::ROUTES, &m, p);
        assert_eq!(
            r(Method::POST, "/v1/tokens"),
            Routed::Found(Route::Tokenize)
        );
        assert_eq!(
            r(Method::POST, "/prod/v1/tokens/"),
            Routed::Found(Route::Tokenize)
        );
        assert_eq!(
            r(Method::POST, "/lambda-url/tokenize/v1/tokens/batch"),
            Routed::Found(Route::Batch)
        );
        assert_eq!(
            r(Method::GET, "/v1/tokens/tok_x"),
            Routed::Found(Route::Describe("tok_x".into()))
        );
        assert_eq!(
            r(Method::DELETE, "/v1/tokens/tok_x"),
            Routed::MethodNotAllowed(vec![Method::GET])
        );
        assert_eq!(
            r(Method::GET, "/v1/tokens"),
            Routed::MethodNotAllowed(vec![Method::POST])
        );
        assert_eq!(r(Method::POST, "/v1/detokenize"), Routed::NotFound);
        assert_eq!(r(Method::GET, "/v1/tokens/a/b"), Routed::NotFound);
    }
}
