//! Caller authorization (layer 2 of 3): the IAM principal API Gateway
//! verified, mapped to its role and checked against the route's allow-list.
//!
//! Only the request context is read. Nothing in headers or the body can
//! name or change the principal. The context is only as trustworthy as
//! whoever invoked the function. [`ApiOrigin`] checks that the event names
//! this deployment's API id and stage and the invoked function's own
//! account: that refuses a genuine API Gateway event from another API,
//! stage or account wired to the function. It does not refuse a forgery:
//! API id, stage and account are all fields of the event, so an identity
//! allowed `lambda:InvokeFunction` on a function can invoke it directly
//! with any of them (and any caller ARN) written in, and the function
//! cannot tell. Direct invoke is prevented outside the code, by the shipped
//! organization policy (SCP) and permission boundary (infra/org/), which
//! deny `lambda:InvokeFunction` on the vault's functions to every
//! principal but API Gateway, and by each function's resource policy, which
//! allows only its API; any invoke that did not come through API Gateway is
//! detected by `DirectInvokeAlarm`.

mod origin;
mod principal;

use base64::Engine as _;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use sha2::{Digest, Sha256};

pub use origin::ApiOrigin;
pub use principal::{AllowList, Principal, audit_caller};

/// SHA-256 of the authorization settings in force, logged in every audit event.
///
/// Written in unpadded base64url, not hex: 64 hex characters often hold a run
/// of a dozen or more decimal digits, which a PAN scanner reading the logs
/// (ours, `contains_card_number`, or a compliance team's) reports as a card.
pub fn config_digest(parts: &[(&str, String)]) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in parts {
        hasher.update(name.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
        hasher.update(b"\n");
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// Where a request's caller identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// API Gateway's SigV4 verification (REST `identity.userArn`, HTTP API and
    /// function URL `authorizer.iam.userArn`).
    Iam,
    /// The dev-only setting, for local requests through `cargo lambda watch`.
    DevSetting,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Iam => "iam",
            Source::DevSetting => "dev-setting",
        })
    }
}

/// The verified caller ARN from the request context, if any.
pub fn caller_arn(request: &Request) -> Option<String> {
    let arn = match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.user_arn.clone(),
        RequestContext::ApiGatewayV2(ctx) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .and_then(|iam| iam.user_arn.clone()),
        _ => None,
    };
    arn.filter(|a| !a.is_empty())
}

/// The outcome of authorization, with the reason recorded in the audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow {
        /// The canonical principal.
        principal: Principal,
        /// Where it came from.
        source: Source,
    },
    /// No principal: 401.
    Unauthenticated,
    /// A principal that is malformed or not listed: 403.
    Deny {
        /// The caller's ARN as given (ARNs are not secret).
        caller: String,
        /// Why.
        reason: &'static str,
    },
}

impl Decision {
    /// Why, for the audit event.
    pub fn reason(&self) -> &'static str {
        match self {
            Decision::Allow {
                source: Source::Iam,
                ..
            } => "principal on allow-list",
            Decision::Allow {
                source: Source::DevSetting,
                ..
            } => "dev principal on allow-list",
            Decision::Unauthenticated => "no IAM principal in request context",
            Decision::Deny { reason, .. } => reason,
        }
    }
}

/// Whether the request carries no authorizer context at all: an HTTP API
/// v2 payload without `requestContext.authorizer`, which is what a local
/// function-URL emulator sends. API Gateway with `AWS_IAM` always sends one
/// (REST: `identity`, v2: `authorizer.iam`), so a gateway request that merely
/// lacks a principal is still judged unauthenticated, dev setting or not.
pub fn has_no_authorizer_context(request: &Request) -> bool {
    matches!(request.request_context_ref(), Some(RequestContext::ApiGatewayV2(ctx)) if ctx.authorizer.is_none())
}

/// Decides whether the request's caller is on any of `lists`.
pub fn authorize(request: &Request, lists: &[&AllowList], dev_principal: Option<&str>) -> Decision {
    let (arn, source) = match (caller_arn(request), dev_principal) {
        (Some(arn), _) => (arn, Source::Iam),
        (None, Some(dev)) if has_no_authorizer_context(request) => {
            (dev.to_owned(), Source::DevSetting)
        }
        _ => return Decision::Unauthenticated,
    };
    match Principal::parse(&arn) {
        None => Decision::Deny {
            caller: arn,
            reason: "caller is not an IAM role or user",
        },
        Some(principal) if lists.iter().any(|l| l.allows(&principal)) => {
            Decision::Allow { principal, source }
        }
        Some(_) => Decision::Deny {
            caller: arn,
            reason: "principal not on this function's allow-lists",
        },
    }
}

#[cfg(test)]
mod tests;
