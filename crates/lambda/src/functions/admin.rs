//! The `admin` function: erase a token (and its dedup index item). Its role
//! may delete and nothing else; it holds no key.

use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::Request;
use tessera_aws::config::EnvReader;
use tessera_core::{Eraser, KeyStats};

use super::{Facts, Function, Reply, fail};
use crate::audit::Operation;
use crate::auth::Principal;
use crate::fields::parse_token;
use crate::init::{ColdStart, InitError};
use crate::problem::Problem;
use crate::routing::{PathSpec, RouteSpec};

/// Roles allowed on the admin route (comma-separated ARNs).
pub const ADMIN_ROLES: &str = "TESSERA_ADMIN_ROLES";

/// The admin function's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `DELETE /v1/tokens/{token}`, with the raw segment.
    Delete(String),
}

/// The admin function: an [`Eraser`].
pub struct Admin {
    eraser: Eraser,
}

impl Admin {
    /// The function around an eraser.
    pub fn new(eraser: Eraser) -> Admin {
        Admin { eraser }
    }
}

impl Function for Admin {
    type Route = Route;
    type Config = ();

    const NAME: &'static str = "admin";
    const ALLOW_LISTS: &'static [&'static str] = &[ADMIN_ROLES];
    const ROUTES: &'static [RouteSpec<Route>] = &[RouteSpec {
        method: Method::DELETE,
        path: PathSpec::Token("/v1/tokens/", Route::Delete),
    }];

    fn allow_list(_: &Route) -> &'static str {
        ADMIN_ROLES
    }

    fn operation(route: &Route) -> Operation {
        match route {
            Route::Delete(_) => Operation::Delete,
        }
    }

    async fn run(
        &self,
        route: Route,
        _request: &Request,
        _caller: &Principal,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        match route {
            Route::Delete(segment) => {
                let token = facts.parsed_token(parse_token(&segment))?;
                self.eraser.delete(&token).await.map_err(fail)?;
                Ok(Reply::empty(StatusCode::NO_CONTENT))
            }
        }
    }

    fn note(&self, route: &Route, _request: &Request, facts: &mut Facts) {
        match route {
            Route::Delete(segment) => {
                let _ = facts.parsed_token(parse_token(segment));
            }
        }
    }

    fn key_stats(&self) -> KeyStats {
        KeyStats::default()
    }

    fn config(_env: &mut EnvReader<'_>) {}

    async fn build((): (), cold: &ColdStart) -> Result<Admin, InitError> {
        Ok(Admin::new(Eraser::new(Arc::new(cold.vault()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{Routed, route};

    #[test]
    fn routing() {
        let r = |m: Method, p: &str| route(Admin::ROUTES, &m, p);
        assert_eq!(
            r(Method::DELETE, "/v1/tokens/tok_x"),
            Routed::Found(Route::Delete("tok_x".into()))
        );
        assert_eq!(
            r(Method::GET, "/v1/tokens/tok_x"),
            Routed::MethodNotAllowed(vec![Method::DELETE])
        );
        assert_eq!(r(Method::DELETE, "/v1/tokens"), Routed::NotFound);
    }
}
