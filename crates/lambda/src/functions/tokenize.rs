//! The `tokenize` function: issue tokens, one or a batch, look a card up,
//! and describe a token. Its role may encrypt but never decrypt.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::Request;
use serde::Deserialize;
use serde_json::Value;
use tessera_aws::config::{EnvReader, FINGERPRINT_SECRET_ID, KMS_KEY_ID};
use tessera_aws::secrets::load_fingerprint_keys;
use tessera_core::{
    CacheLimits, DedupScope, Expiry, Fingerprinter, KeyStats, Metadata, MetadataError,
    TokenizeRequest, Tokenizer,
};
use tracing::info;

use super::{
    Facts, Function, Reply, batch_reply, check_batch_size, fail, item_error, run_batch, with_status,
};
use crate::audit::Operation;
use crate::auth::{AllowList, Principal};
use crate::extract::{self, JsonBody, check_object};
use crate::fields::{SecretString, parse_format, parse_pan, parse_token};
use crate::init::{ColdStart, InitError};
use crate::problem::{Kind, Problem};
use crate::routing::{PathSpec, RouteSpec};
use crate::scopes::Scopes;
use crate::views::TokenView;

/// Roles allowed to tokenize and look up (comma-separated ARNs).
pub const TOKENIZE_ROLES: &str = "TESSERA_TOKENIZE_ROLES";
/// Roles allowed to describe a token (BIN, last 4, length): its own list,
/// so systems that only hold tokens never get those facts.
pub const DESCRIBE_ROLES: &str = "TESSERA_DESCRIBE_ROLES";
/// Shared dedup scopes, `name=arn,arn;name2=arn` (see [`crate::scopes`]).
pub const DEDUP_SCOPES: &str = "TESSERA_DEDUP_SCOPES";
/// The scope that keeps pre-scope fingerprints (see [`crate::scopes`]).
pub const LEGACY_SCOPE: &str = "TESSERA_LEGACY_SCOPE";
/// Roles granted dedup answers (comma-separated ARNs): an existing token for
/// a card already tokenized in their scope, and lookup. Any other tokenize
/// role gets a new token for every call, so tokenize tells it nothing about
/// which cards the vault holds (a dedup answer is a membership oracle: with
/// a token's BIN and last 4, about 10^5 calls recover a 16-digit PAN).
pub const DEDUP_ROLES: &str = "TESSERA_DEDUP_ROLES";

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

/// Whether a caller may be told that a card is already tokenized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedupGrant {
    /// On [`DEDUP_ROLES`]: dedup by default, lookup allowed.
    Granted,
    /// Not on it: every tokenize issues a new token; lookup is refused.
    NotGranted,
}

impl DedupGrant {
    fn refused() -> Problem {
        Problem::new(
            Kind::DedupNotGranted,
            "this principal is not granted dedup answers (TESSERA_DEDUP_ROLES); omit `dedupe` to get a new token",
        )
    }
}

/// One tokenize request body (also one batch item).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeBody {
    /// The card number.
    pub pan: SecretString,
    /// `opaque` (default) or `fpe`.
    #[serde(default)]
    pub format: Option<String>,
    /// Seconds until the token expires.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// The card's expiry, `MM/YY`; the token expires with the card.
    #[serde(default)]
    pub expires: Option<String>,
    /// Caller metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Return the existing token for this card (default `true` for roles
    /// granted dedup, `false` otherwise; `true` is refused without the grant).
    #[serde(default)]
    pub dedupe: Option<bool>,
}

impl JsonBody for TokenizeBody {
    const FIELDS: &'static [&'static str] = &[
        "pan",
        "format",
        "ttl_seconds",
        "expires",
        "metadata",
        "dedupe",
    ];
}

/// A batch of tokenize items.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeBatchBody {
    /// The items, at most 100.
    pub items: Vec<TokenizeBody>,
}

impl JsonBody for TokenizeBatchBody {
    const FIELDS: &'static [&'static str] = &["items"];

    fn check_fields(value: &Value) -> Result<(), Problem> {
        check_object(value, Self::FIELDS)?;
        if let Some(Value::Array(items)) = value.get("items") {
            items.iter().try_for_each(TokenizeBody::check_fields)?;
        }
        Ok(())
    }
}

/// A lookup body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    /// The card number.
    pub pan: SecretString,
    /// The token format to look for (default `opaque`).
    #[serde(default)]
    pub format: Option<String>,
}

impl JsonBody for LookupBody {
    const FIELDS: &'static [&'static str] = &["pan", "format"];
}

impl TokenizeBody {
    /// The core request this body asks for.
    pub fn into_request(
        self,
        scope: &DedupScope,
        grant: DedupGrant,
    ) -> Result<TokenizeRequest, Problem> {
        let dedupe = match (self.dedupe, grant) {
            (Some(true), DedupGrant::NotGranted) => return Err(DedupGrant::refused()),
            (Some(asked), _) => asked,
            (None, grant) => grant == DedupGrant::Granted,
        };
        let pan = parse_pan(&self.pan)?;
        let format = parse_format(self.format.as_deref())?;
        let expiry = match (self.ttl_seconds, self.expires.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(Problem::new(
                    Kind::InvalidExpiry,
                    "give ttl_seconds or expires, not both",
                ));
            }
            (Some(s), None) => Expiry::ttl(s),
            (None, Some(mm_yy)) => Expiry::card(mm_yy),
            (None, None) => Ok(Expiry::Never),
        }
        .map_err(|e| Problem::new(Kind::InvalidExpiry, e.to_string()))?;
        let metadata = Metadata::new(self.metadata).map_err(|e| match e {
            MetadataError::SecurityCode => Problem::new(Kind::ForbiddenField, e.to_string()),
            _ => Problem::new(Kind::InvalidMetadata, e.to_string()),
        })?;
        Ok(TokenizeRequest {
            pan,
            format,
            expiry,
            metadata,
            dedupe,
            scope: scope.clone(),
        })
    }
}

/// What the tokenize function reads at cold start.
pub struct Config {
    key_id: String,
    secret_id: String,
    scopes: Scopes,
    legacy_scope: Option<DedupScope>,
    dedup_roles: AllowList,
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
        let scopes =
            Scopes::parse(&env.optional(DEDUP_SCOPES).unwrap_or_default()).unwrap_or_else(|why| {
                env.invalid(DEDUP_SCOPES, why);
                Scopes::default()
            });
        let legacy_scope = env.optional(LEGACY_SCOPE).and_then(|name| {
            DedupScope::new(&name)
                .map_err(|e| env.invalid(LEGACY_SCOPE, e.to_string()))
                .ok()
        });
        let dedup_roles = AllowList::parse(&env.optional(DEDUP_ROLES).unwrap_or_default())
            .unwrap_or_else(|why| {
                env.invalid(DEDUP_ROLES, why);
                AllowList::default()
            });
        Config {
            key_id: env.required(KMS_KEY_ID),
            secret_id: env.required(FINGERPRINT_SECRET_ID),
            scopes,
            legacy_scope,
            dedup_roles,
        }
    }

    async fn build(config: Config, cold: &ColdStart) -> Result<Tokenize, InitError> {
        // The key check and the secrets fetch at once (see `init::build_app`).
        // AWSCURRENT and, during a rotation, AWSPREVIOUS: index items not yet
        // re-indexed are still found under the previous key.
        let secrets = async {
            load_fingerprint_keys(&cold.clients.secrets, &config.secret_id)
                .await
                .map_err(InitError::from)
        };
        let (keyring, keys) = tokio::try_join!(cold.keyring(&config.key_id), secrets)?;
        info!(
            key_version = keys.current.version(),
            previous_key_version = keys.previous.as_ref().map(|k| k.version()),
            "fingerprint keys loaded"
        );
        let fingerprinter =
            |key| Fingerprinter::new(key).with_legacy_scope(config.legacy_scope.clone());
        let tokenizer = Tokenizer::new(
            cold.ports(),
            Arc::new(cold.vault()),
            keyring,
            fingerprinter(&keys.current),
            CacheLimits::default(),
        )
        .with_previous_key(keys.previous.as_ref().map(fingerprinter));
        Ok(Tokenize::new(tokenizer, config.scopes).with_dedup_roles(config.dedup_roles))
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

    #[test]
    fn a_pan_sent_as_a_number_is_not_quoted() {
        let e =
            extract::parse::<TokenizeBody>(br#"{"pan":4111111111111111}"#).expect_err("wrong type");
        assert_eq!(e.kind, Kind::InvalidBody);
        assert!(!e.detail.contains("4111"), "{}", e.detail);
    }

    #[test]
    fn batch_items_are_checked_against_the_item_fields() {
        let e = extract::parse::<TokenizeBatchBody>(br#"{"items":[{"pan":"1","colour":1}]}"#)
            .expect_err("unknown");
        assert_eq!(e.kind, Kind::UnknownField);
        let e =
            extract::parse::<TokenizeBatchBody>(br#"{"items":[],"pan":"1"}"#).expect_err("unknown");
        assert_eq!(e.kind, Kind::UnknownField);
    }

    #[test]
    fn request_bodies_never_print_the_pan() {
        let body: TokenizeBody =
            extract::parse(br#"{"pan":"4111 1111 1111 1111","format":"fpe"}"#).expect("valid");
        let printed = format!("{body:?} {:?}", body.pan);
        assert!(!printed.contains("4111"), "{printed}");
        let request = body
            .into_request(&DedupScope::default(), DedupGrant::Granted)
            .expect("valid");
        assert!(!format!("{request:?}").contains("4111"));
    }
}
