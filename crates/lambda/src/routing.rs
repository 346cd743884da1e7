//! Routing: a function's table of routes, matched by method and path.
//!
//! Each function declares its routes as a table of [`RouteSpec`]s that build
//! its own route enum, so a matched route is already the variant its handler
//! expects, path segment included.

use http::Method;

/// How a route's path is matched, and how the matched route is built.
#[derive(Debug, Clone)]
pub enum PathSpec<R> {
    /// An exact path, such as `/v1/tokens`.
    Exact(&'static str, R),
    /// An exact path served only as written: with a trailing slash it is no
    /// route. For a path that a rule outside the function also matches by
    /// its text (the capture API's WAF rate rule, `ENDS_WITH /v1/capture`),
    /// so the two never disagree on which requests are that route.
    Strict(&'static str, R),
    /// A prefix followed by one `{token}` segment, such as `/v1/tokens/`.
    Token(&'static str, fn(String) -> R),
    /// A prefix followed by one segment named in the template, such as
    /// `/v1/capture-sessions/` and `id`.
    Segment(&'static str, &'static str, fn(String) -> R),
}

/// One route: a method and a path.
#[derive(Debug, Clone)]
pub struct RouteSpec<R> {
    /// The HTTP method.
    pub method: Method,
    /// The path and how to build the route from it.
    pub path: PathSpec<R>,
}

impl<R> RouteSpec<R> {
    /// The path as an OpenAPI path template, such as `/v1/tokens/{token}`.
    pub fn template(&self) -> String {
        match &self.path {
            PathSpec::Exact(path, _) | PathSpec::Strict(path, _) => (*path).to_owned(),
            PathSpec::Token(prefix, _) => format!("{prefix}{{token}}"),
            PathSpec::Segment(prefix, name, _) => format!("{prefix}{{{name}}}"),
        }
    }
}

/// The result of routing a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed<R> {
    /// A route, with its path segment if it has one.
    Found(R),
    /// The path exists but not with this method; the allowed methods.
    MethodNotAllowed(Vec<Method>),
    /// No such path.
    NotFound,
}

/// Where the capture frame's routes live (`/capture/v1/frame`): apart from
/// `/v1/`, so the frame's relative `../../v1/capture` reaches the capture
/// route under a stage and under `cargo lambda watch` alike.
const CAPTURE_ROOT: &str = "/capture/v1/";

/// The API path of a request path: a stage prefix (`/prod/v1/...`) or a
/// function-URL prefix from `cargo lambda watch` (`/lambda-url/<name>`) is
/// dropped, as is a trailing slash (which a [`PathSpec::Strict`] refuses).
pub fn api_path(raw: &str) -> &str {
    let rooted = |p: &str| p.starts_with("/v1/") || p.starts_with(CAPTURE_ROOT);
    // The path itself, without watch's function-URL prefix, or without one
    // leading segment (a stage): the first that starts at an API root.
    let without_function_url = raw
        .strip_prefix("/lambda-url/")
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]));
    let without_stage = raw
        .get(1..)
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]));
    let path = [Some(raw), without_function_url, without_stage]
        .into_iter()
        .flatten()
        .find(|p| rooted(p))
        .unwrap_or_else(|| raw.find("/v1/").map_or(raw, |i| &raw[i..]));
    path.strip_suffix('/').unwrap_or(path)
}

impl<R: Clone> PathSpec<R> {
    /// The route if `path` (an [`api_path`], which had a trailing slash
    /// if `slashed`) matches, and whether it matched a `{token}` segment.
    fn matches(&self, path: &str, slashed: bool) -> Option<(R, bool)> {
        match self {
            PathSpec::Exact(p, route) => (*p == path).then(|| (route.clone(), false)),
            PathSpec::Strict(p, route) => (*p == path && !slashed).then(|| (route.clone(), false)),
            PathSpec::Token(prefix, build) | PathSpec::Segment(prefix, _, build) => {
                let param = path.strip_prefix(prefix)?;
                (!param.is_empty() && !param.contains('/')).then(|| (build(param.to_owned()), true))
            }
        }
    }
}

/// Routes `method raw_path` in `table`. An exact path wins over `{token}`
/// ones whatever the method, as OpenAPI matches concrete paths first:
/// `GET /v1/tokens/batch` is a 405 (`Allow: POST`), not a describe of a
/// token named `batch`.
pub fn route<R: Clone>(table: &[RouteSpec<R>], method: &Method, raw_path: &str) -> Routed<R> {
    let path = api_path(raw_path);
    let slashed = raw_path.len() > 1 && raw_path.ends_with('/');
    let mut candidates: Vec<(&Method, R, bool)> = table
        .iter()
        .filter_map(|spec| {
            spec.path
                .matches(path, slashed)
                .map(|(route, param)| (&spec.method, route, param))
        })
        .collect();
    if candidates.iter().any(|(_, _, param)| !param) {
        candidates.retain(|(_, _, param)| !param);
    }
    if let Some(at) = candidates.iter().position(|(m, _, _)| *m == method) {
        return Routed::Found(candidates.swap_remove(at).1);
    }
    if candidates.is_empty() {
        Routed::NotFound
    } else {
        let mut allowed: Vec<Method> = candidates.iter().map(|(m, _, _)| (*m).clone()).collect();
        allowed.dedup();
        Routed::MethodNotAllowed(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum R {
        List,
        Batch,
        Item(String),
        Remove(String),
    }

    /// A table where an exact path and a `{token}` path overlap under the
    /// same method, and one path has two methods.
    const TABLE: &[RouteSpec<R>] = &[
        RouteSpec {
            method: Method::GET,
            path: PathSpec::Token("/v1/items/", R::Item),
        },
        RouteSpec {
            method: Method::GET,
            path: PathSpec::Exact("/v1/items/batch", R::Batch),
        },
        RouteSpec {
            method: Method::POST,
            path: PathSpec::Exact("/v1/items", R::List),
        },
        RouteSpec {
            method: Method::DELETE,
            path: PathSpec::Token("/v1/items/", R::Remove),
        },
    ];

    #[test]
    fn an_exact_path_hides_token_routes_of_other_methods() {
        assert_eq!(
            route(TABLE, &Method::DELETE, "/v1/items/batch"),
            Routed::MethodNotAllowed(vec![Method::GET])
        );
        assert_eq!(
            route(TABLE, &Method::POST, "/v1/items/tok_1"),
            Routed::MethodNotAllowed(vec![Method::GET, Method::DELETE])
        );
    }

    #[test]
    fn stage_prefixes_and_trailing_slashes_are_dropped() {
        assert_eq!(api_path("/v1/items"), "/v1/items");
        assert_eq!(api_path("/prod/v1/items/"), "/v1/items");
        assert_eq!(api_path("/lambda-url/tokenize/v1/items/x"), "/v1/items/x");
        assert_eq!(api_path("/items/"), "/items");
        assert_eq!(api_path("/"), "");
        // The capture function's two roots, under a stage and under watch.
        assert_eq!(api_path("/prod/capture/v1/frame"), "/capture/v1/frame");
        assert_eq!(
            api_path("/lambda-url/capture/capture/v1/frame"),
            "/capture/v1/frame"
        );
        assert_eq!(api_path("/lambda-url/capture/v1/capture"), "/v1/capture");
        assert_eq!(api_path("/prod/v1/capture"), "/v1/capture");
        assert_eq!(api_path("/capture/v1/frame.js"), "/capture/v1/frame.js");
        assert_eq!(api_path("/base/prod/v1/tokens"), "/v1/tokens");
    }

    #[test]
    fn a_strict_path_is_no_route_with_a_trailing_slash() {
        const STRICT: &[RouteSpec<R>] = &[RouteSpec {
            method: Method::POST,
            path: PathSpec::Strict("/v1/items", R::List),
        }];
        let post = |path| route(STRICT, &Method::POST, path);
        assert_eq!(post("/prod/v1/items"), Routed::Found(R::List));
        assert_eq!(post("/v1/items"), Routed::Found(R::List));
        assert_eq!(post("/prod/v1/items/"), Routed::NotFound);
        assert_eq!(post("/v1/items/"), Routed::NotFound);
    }

    #[test]
    fn an_exact_path_wins_over_a_token_segment_of_the_same_method() {
        let get = |path| route(TABLE, &Method::GET, path);
        assert_eq!(get("/v1/items/batch"), Routed::Found(R::Batch));
        assert_eq!(
            get("/v1/items/tok_1"),
            Routed::Found(R::Item("tok_1".into()))
        );
        assert_eq!(
            get("/prod/v1/items/tok_1/"),
            Routed::Found(R::Item("tok_1".into()))
        );
        assert_eq!(
            route(TABLE, &Method::DELETE, "/v1/items/tok_1"),
            Routed::Found(R::Remove("tok_1".into()))
        );
    }

    #[test]
    fn a_token_segment_is_one_non_empty_segment() {
        assert_eq!(
            route(TABLE, &Method::GET, "/v1/items/a/b"),
            Routed::NotFound
        );
        assert_eq!(route(TABLE, &Method::GET, "/v1/itemsx"), Routed::NotFound);
        assert_eq!(route(TABLE, &Method::GET, "/v1/other"), Routed::NotFound);
    }

    #[test]
    fn a_known_path_with_another_method_lists_each_allowed_method_once() {
        assert_eq!(
            route(TABLE, &Method::PUT, "/v1/items/tok_1"),
            Routed::MethodNotAllowed(vec![Method::GET, Method::DELETE])
        );
        // The exact path's methods only: its `{token}` twin's DELETE is not
        // a method of `/v1/items/batch` (the OpenAPI document lists none).
        assert_eq!(
            route(TABLE, &Method::PATCH, "/v1/items/batch"),
            Routed::MethodNotAllowed(vec![Method::GET])
        );
        assert_eq!(
            route(TABLE, &Method::GET, "/v1/items"),
            Routed::MethodNotAllowed(vec![Method::POST])
        );
    }

    #[test]
    fn templates_name_the_token_segment() {
        let templates: Vec<String> = TABLE.iter().map(RouteSpec::template).collect();
        assert_eq!(
            templates,
            [
                "/v1/items/{token}",
                "/v1/items/batch",
                "/v1/items",
                "/v1/items/{token}"
            ]
        );
    }
}
