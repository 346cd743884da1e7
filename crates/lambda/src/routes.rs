//! Routing: which operations each function serves, by method and path.

use http::Method;

/// Every API operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /v1/tokens`
    Tokenize,
    /// `POST /v1/tokens/batch`
    TokenizeBatch,
    /// `POST /v1/tokens/lookup`
    Lookup,
    /// `GET /v1/tokens/{token}`
    Describe,
    /// `POST /v1/detokenize`
    Detokenize,
    /// `POST /v1/detokenize/batch`
    DetokenizeBatch,
    /// `DELETE /v1/tokens/{token}`
    Delete,
}

impl Operation {
    /// The name used in audit events and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Tokenize => "tokenize",
            Operation::TokenizeBatch => "tokenize_batch",
            Operation::Lookup => "lookup",
            Operation::Describe => "describe",
            Operation::Detokenize => "detokenize",
            Operation::DetokenizeBatch => "detokenize_batch",
            Operation::Delete => "delete",
        }
    }

    /// The method and path template.
    pub fn route(self) -> (Method, &'static str) {
        match self {
            Operation::Tokenize => (Method::POST, "/v1/tokens"),
            Operation::TokenizeBatch => (Method::POST, "/v1/tokens/batch"),
            Operation::Lookup => (Method::POST, "/v1/tokens/lookup"),
            Operation::Describe => (Method::GET, "/v1/tokens/{token}"),
            Operation::Detokenize => (Method::POST, "/v1/detokenize"),
            Operation::DetokenizeBatch => (Method::POST, "/v1/detokenize/batch"),
            Operation::Delete => (Method::DELETE, "/v1/tokens/{token}"),
        }
    }
}

/// The Lambda functions, one binary and one IAM role each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    /// Issues and describes tokens.
    Tokenize,
    /// Turns tokens back into PANs.
    Detokenize,
    /// Erases tokens.
    Admin,
}

impl FunctionKind {
    /// The function's name in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            FunctionKind::Tokenize => "tokenize",
            FunctionKind::Detokenize => "detokenize",
            FunctionKind::Admin => "admin",
        }
    }

    /// The operations this function serves.
    pub fn operations(self) -> &'static [Operation] {
        match self {
            FunctionKind::Tokenize => &[
                Operation::Tokenize,
                Operation::TokenizeBatch,
                Operation::Lookup,
                Operation::Describe,
            ],
            FunctionKind::Detokenize => &[Operation::Detokenize, Operation::DetokenizeBatch],
            FunctionKind::Admin => &[Operation::Delete],
        }
    }
}

/// The result of routing a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// An operation, with the `{token}` path segment if the route has one.
    Found(Operation, Option<String>),
    /// The path exists but not with this method; the allowed methods.
    MethodNotAllowed(Vec<Method>),
    /// No such path.
    NotFound,
}

/// The API path of a request path: a stage prefix (`/prod/v1/...`) or a
/// function-URL prefix from `cargo lambda watch` is dropped, as is a trailing slash.
pub fn api_path(raw: &str) -> &str {
    let path = raw.find("/v1/").map_or(raw, |i| &raw[i..]);
    path.strip_suffix('/').unwrap_or(path)
}

fn matches(template: &str, path: &str) -> Option<Option<String>> {
    match template.strip_suffix("{token}") {
        None => (template == path).then_some(None),
        Some(prefix) => {
            let param = path.strip_prefix(prefix)?;
            (!param.is_empty() && !param.contains('/')).then(|| Some(param.to_owned()))
        }
    }
}

/// Routes `method path` among `function`'s operations; exact paths win over `{token}`.
pub fn route(function: FunctionKind, method: &Method, raw_path: &str) -> Routed {
    let path = api_path(raw_path);
    let mut candidates: Vec<(Operation, Option<String>)> = function
        .operations()
        .iter()
        .filter_map(|op| matches(op.route().1, path).map(|param| (*op, param)))
        .collect();
    candidates.sort_by_key(|(_, param)| param.is_some());
    if let Some((op, param)) = candidates.iter().find(|(op, _)| op.route().0 == *method) {
        return Routed::Found(*op, param.clone());
    }
    if candidates.is_empty() {
        Routed::NotFound
    } else {
        let mut allowed: Vec<Method> = candidates.iter().map(|(op, _)| op.route().0).collect();
        allowed.dedup();
        Routed::MethodNotAllowed(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing() {
        use FunctionKind::*;
        assert_eq!(
            route(Tokenize, &Method::POST, "/v1/tokens"),
            Routed::Found(Operation::Tokenize, None)
        );
        assert_eq!(
            route(Tokenize, &Method::POST, "/prod/v1/tokens/"),
            Routed::Found(Operation::Tokenize, None)
        );
        assert_eq!(
            route(
                Tokenize,
                &Method::POST,
                "/lambda-url/tokenize/v1/tokens/batch"
            ),
            Routed::Found(Operation::TokenizeBatch, None)
        );
        assert_eq!(
            route(Tokenize, &Method::GET, "/v1/tokens/tok_x"),
            Routed::Found(Operation::Describe, Some("tok_x".into()))
        );
        assert_eq!(
            route(Tokenize, &Method::DELETE, "/v1/tokens/tok_x"),
            Routed::MethodNotAllowed(vec![Method::GET])
        );
        assert_eq!(
            route(Tokenize, &Method::GET, "/v1/tokens"),
            Routed::MethodNotAllowed(vec![Method::POST])
        );
        assert_eq!(
            route(Tokenize, &Method::POST, "/v1/detokenize"),
            Routed::NotFound
        );
        assert_eq!(
            route(Tokenize, &Method::GET, "/v1/tokens/a/b"),
            Routed::NotFound
        );
        assert_eq!(
            route(Admin, &Method::DELETE, "/v1/tokens/tok_x"),
            Routed::Found(Operation::Delete, Some("tok_x".into()))
        );
        assert_eq!(
            route(Detokenize, &Method::GET, "/v1/detokenize"),
            Routed::MethodNotAllowed(vec![Method::POST])
        );
    }
}
