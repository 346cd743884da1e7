//! Caller authorization (layer 2 of 3): the IAM principal API Gateway
//! verified, mapped to its role and checked against the route's allow-list.
//!
//! Only the request context is read. Nothing in headers or the body can
//! name or change the principal. The context is only as trustworthy as
//! whoever invoked the function, so [`ApiOrigin`] first checks that the event
//! came through this deployment's API (API id, stage, and the function's own
//! account); a direct `lambda:InvokeFunction` with a forged context is refused.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use sha2::{Digest, Sha256};

/// An IAM identity in canonical form: a role (by account and name; role paths
/// are not part of an assumed-role ARN, so they are not compared) or a user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    partition: String,
    account: String,
    kind: PrincipalKind,
    name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum PrincipalKind {
    Role,
    User,
}

impl Principal {
    /// Parses an IAM role or user ARN, or an STS assumed-role session ARN
    /// (which maps to its role).
    ///
    /// ```
    /// use tessera_lambda::auth::Principal;
    /// let session = Principal::parse("arn:aws:sts::111122223333:assumed-role/payments/i-0abc").unwrap();
    /// let role = Principal::parse("arn:aws:iam::111122223333:role/service/payments").unwrap();
    /// assert_eq!(session, role);
    /// assert_eq!(role.to_string(), "arn:aws:iam::111122223333:role/payments");
    /// ```
    pub fn parse(arn: &str) -> Option<Principal> {
        let mut parts = arn.splitn(6, ':');
        let (prefix, partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let valid_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        if prefix != "arn" || !partition.starts_with("aws") || !region.is_empty() || !valid_account
        {
            return None;
        }
        let (kind, name) = match service {
            "iam" => {
                let (kind, path_and_name) = if let Some(rest) = resource.strip_prefix("role/") {
                    (PrincipalKind::Role, rest)
                } else if let Some(rest) = resource.strip_prefix("user/") {
                    (PrincipalKind::User, rest)
                } else {
                    return None;
                };
                (kind, path_and_name.rsplit('/').next()?)
            }
            "sts" => {
                let rest = resource.strip_prefix("assumed-role/")?;
                let (role, session) = rest.split_once('/')?;
                if session.is_empty() {
                    return None;
                }
                (PrincipalKind::Role, role)
            }
            _ => return None,
        };
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        valid_name.then(|| Principal {
            partition: partition.to_owned(),
            account: account.to_owned(),
            kind,
            name: name.to_owned(),
        })
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            PrincipalKind::Role => "role",
            PrincipalKind::User => "user",
        };
        write!(
            f,
            "arn:{}:iam::{}:{kind}/{}",
            self.partition, self.account, self.name
        )
    }
}

/// The principals allowed on a route, with a digest for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    principals: Vec<Principal>,
}

impl AllowList {
    /// Parses a comma-separated list of role or user ARNs; names the first
    /// bad entry (by position only if it holds a card number: the error is
    /// logged at cold start).
    pub fn parse(text: &str) -> Result<AllowList, String> {
        let mut principals = Vec::new();
        let entries = text.split(',').map(str::trim).filter(|e| !e.is_empty());
        for (i, entry) in entries.enumerate() {
            let p = Principal::parse(entry).ok_or_else(|| {
                if tessera_core::contains_card_number(entry) {
                    format!("entry {} is not an IAM role or user ARN", i + 1)
                } else {
                    format!("`{entry}` is not an IAM role or user ARN")
                }
            })?;
            principals.push(p);
        }
        principals.sort();
        principals.dedup();
        Ok(AllowList { principals })
    }

    /// Whether `principal` is listed.
    pub fn allows(&self, principal: &Principal) -> bool {
        self.principals.contains(principal)
    }

    /// The canonical entries, one per line, sorted: what the config digest covers.
    pub fn canonical(&self) -> String {
        self.principals.iter().map(|p| format!("{p}\n")).collect()
    }
}

/// Hex SHA-256 of the authorization settings in force, logged in every audit event.
pub fn config_digest(parts: &[(&str, String)]) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in parts {
        hasher.update(name.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
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

/// How a refused caller is written to the audit trail. Its session name (and,
/// for a caller that is not on any list, its role name) is chosen by whoever
/// assumed the role, so it can hold anything: the canonical role or user ARN
/// is kept (the session dropped) unless it holds a card number, and an ARN
/// that does not parse is not copied at all.
pub fn audit_caller(presented: &str) -> String {
    match Principal::parse(presented) {
        // The account is 12 digits by design; only the name is caller text.
        Some(p) if !tessera_core::contains_card_number(&p.name) => p.to_string(),
        Some(_) => "[caller ARN withheld: its name holds a card number]".to_owned(),
        None => "[caller is not an IAM role or user ARN]".to_owned(),
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

/// The API this deployment's functions accept events from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiOrigin {
    api_ids: Vec<String>,
    stages: Vec<String>,
}

impl ApiOrigin {
    /// From comma-separated API ids and stage names (one of each in a
    /// deployment; several only where tests replay events of several APIs).
    pub fn parse(api_ids: &str, stages: &str) -> Result<ApiOrigin, String> {
        let list = |text: &str| -> Vec<String> {
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let origin = ApiOrigin {
            api_ids: list(api_ids),
            stages: list(stages),
        };
        if origin.api_ids.is_empty() || origin.stages.is_empty() {
            return Err("name at least one API id and one stage".into());
        }
        Ok(origin)
    }

    /// The canonical settings, for the config digest.
    pub fn canonical(&self) -> String {
        format!("{}|{}", self.api_ids.join(","), self.stages.join(","))
    }

    /// Whether the event came through this deployment's API: its API id and
    /// stage are configured, and its account is the account of the function
    /// that was invoked (from the invocation's function ARN, which the
    /// Lambda service sets and no caller can). `check_account` is off only
    /// on the dev stack, whose emulator invents the function ARN.
    pub fn accepts(&self, request: &Request, check_account: bool) -> bool {
        let (api_id, stage, account) = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(c)) => (&c.apiid, &c.stage, &c.account_id),
            Some(RequestContext::ApiGatewayV2(c)) => (&c.apiid, &c.stage, &c.account_id),
            _ => return false,
        };
        let own_account = request
            .lambda_context_ref()
            .and_then(|c| c.invoked_function_arn.split(':').nth(4).map(str::to_owned))
            .filter(|a| !a.is_empty());
        let listed = |value: &Option<String>, list: &[String]| {
            value.as_ref().is_some_and(|v| list.iter().any(|l| l == v))
        };
        listed(api_id, &self.api_ids)
            && listed(stage, &self.stages)
            && (!check_account || (account.is_some() && *account == own_account))
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
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            (
                "arn:aws:sts::111122223333:assumed-role/tok/sess",
                Some("arn:aws:iam::111122223333:role/tok"),
            ),
            (
                "arn:aws:iam::111122223333:role/a/b/tok",
                Some("arn:aws:iam::111122223333:role/tok"),
            ),
            (
                "arn:aws:iam::111122223333:user/alice",
                Some("arn:aws:iam::111122223333:user/alice"),
            ),
            (
                "arn:aws-us-gov:iam::111122223333:role/tok",
                Some("arn:aws-us-gov:iam::111122223333:role/tok"),
            ),
            ("arn:aws:sts::111122223333:assumed-role/tok/", None),
            ("arn:aws:sts::111122223333:federated-user/bob", None),
            ("arn:aws:iam::1111:role/tok", None),
            ("arn:aws:iam:us-east-1:111122223333:role/tok", None),
            ("arn:aws:s3:::bucket", None),
            ("role/tok", None),
            ("", None),
        ];
        for (arn, want) in cases {
            assert_eq!(
                Principal::parse(arn).map(|p| p.to_string()).as_deref(),
                want,
                "{arn}"
            );
        }
    }

    #[test]
    fn allow_list_parsing() {
        let list = AllowList::parse(
            " arn:aws:iam::111122223333:role/a ,arn:aws:iam::111122223333:role/b,",
        )
        .expect("ok");
        assert!(
            list.allows(
                &Principal::parse("arn:aws:sts::111122223333:assumed-role/b/x").expect("p")
            )
        );
        assert!(
            !list.allows(
                &Principal::parse("arn:aws:sts::999922223333:assumed-role/b/x").expect("p")
            )
        );
        assert!(AllowList::parse("arn:aws:iam::111122223333:role/a,*").is_err());
        assert_eq!(AllowList::parse("").expect("empty").canonical(), "");
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/tok";

    #[test]
    fn every_part_of_an_arn_is_checked() {
        let refused = [
            "arm:aws:iam::111122223333:role/tok",
            "arn:azure:iam::111122223333:role/tok",
            "arn:aws:iam::11112222333x:role/tok",
            "arn:aws:iam::1111222233334:role/tok",
            "arn:aws:iam::111122223333:group/tok",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/a*b",
            "arn:aws:sts::111122223333:assumed-role/tok",
            "arn:aws:sts::111122223333:role/tok/sess",
        ];
        for arn in refused {
            assert_eq!(Principal::parse(arn), None, "{arn}");
        }
        let longest = "n".repeat(64);
        let role = |name: &str| format!("arn:aws:iam::111122223333:role/{name}");
        assert!(Principal::parse(&role(&longest)).is_some());
        assert!(Principal::parse(&role(&format!("{longest}n"))).is_none());
        assert!(Principal::parse(&role("a+=,.@_-9")).is_some());
        // A user and a role of the same name are different principals.
        assert_ne!(
            Principal::parse("arn:aws:iam::111122223333:user/tok"),
            Principal::parse(ROLE)
        );
    }

    #[test]
    fn a_bad_allow_list_entry_is_named_unless_it_holds_a_card_number() {
        let named = AllowList::parse(&format!("{ROLE},role/x")).expect_err("bad");
        assert!(named.contains("`role/x`"), "{named}");
        let hidden = AllowList::parse(&format!("{ROLE}, 4111 1111 1111 1111")).expect_err("bad");
        assert_eq!(hidden, "entry 2 is not an IAM role or user ARN");
        let list = AllowList::parse(&format!(
            "arn:aws:iam::111122223333:role/b,{ROLE},arn:aws:sts::111122223333:assumed-role/b/s"
        ))
        .expect("ok");
        assert_eq!(
            list.canonical(),
            format!("arn:aws:iam::111122223333:role/b\n{ROLE}\n")
        );
    }

    #[test]
    fn the_config_digest_covers_names_and_values() {
        // sha256 of "a=1\nb=2\n"
        assert_eq!(
            config_digest(&[("a", "1".into()), ("b", "2".into())]),
            "4a73850fde34aad40ff8649b93a66523a5fe744357a3931caea0f10609d0d930"
        );
    }

    #[test]
    fn a_refused_callers_name_is_kept_only_when_it_is_safe() {
        assert_eq!(
            audit_caller("arn:aws:sts::111122223333:assumed-role/tok/4111111111111111"),
            ROLE
        );
        assert_eq!(
            audit_caller("arn:aws:sts::111122223333:assumed-role/r4111111111111111/s"),
            "[caller ARN withheld: its name holds a card number]"
        );
        assert_eq!(
            audit_caller("4111111111111111"),
            "[caller is not an IAM role or user ARN]"
        );
    }

    #[test]
    fn an_origin_needs_an_api_id_and_a_stage() {
        assert!(ApiOrigin::parse("", "prod").is_err());
        assert!(ApiOrigin::parse("api", " , ").is_err());
        let origin = ApiOrigin::parse(" api1, api2 ", "prod").expect("ok");
        assert_eq!(origin.canonical(), "api1,api2|prod");
    }

    #[test]
    fn sources_and_decisions_read_as_the_audit_trail_records_them() {
        assert_eq!(Source::Iam.to_string(), "iam");
        assert_eq!(Source::DevSetting.to_string(), "dev-setting");
        let principal = Principal::parse(ROLE).expect("role");
        let allow = |source| Decision::Allow {
            principal: principal.clone(),
            source,
        };
        assert_eq!(allow(Source::Iam).reason(), "principal on allow-list");
        assert_eq!(
            allow(Source::DevSetting).reason(),
            "dev principal on allow-list"
        );
        assert_eq!(
            Decision::Unauthenticated.reason(),
            "no IAM principal in request context"
        );
    }

    /// An event of `version` ("1.0", "2.0") from API `api`, stage `prod`,
    /// account 111122223333, with `arn` as the SigV4 caller if given, invoking
    /// a function of `function_account`.
    fn request(version: &str, arn: Option<&str>, function_account: &str) -> Request {
        let mut event = if version == "1.0" {
            serde_json::json!({
                "resource": "/v1/tokens", "path": "/v1/tokens", "httpMethod": "POST",
                "headers": {}, "body": null, "isBase64Encoded": false,
                "requestContext": {
                    "accountId": "111122223333", "apiId": "api", "stage": "prod",
                    "resourcePath": "/v1/tokens", "httpMethod": "POST", "path": "/prod/v1/tokens",
                    "requestId": "r", "identity": {"userArn": arn, "sourceIp": "127.0.0.1"}
                }
            })
        } else {
            serde_json::json!({
                "version": "2.0", "routeKey": "$default", "rawPath": "/v1/tokens",
                "rawQueryString": "", "headers": {}, "isBase64Encoded": false,
                "requestContext": {
                    "accountId": "111122223333", "apiId": "api", "stage": "prod",
                    "domainName": "example.com", "requestId": "r", "routeKey": "$default",
                    "time": "23/Nov/2026:12:00:00 +0000", "timeEpoch": 0,
                    "http": {"method": "POST", "path": "/v1/tokens", "protocol": "HTTP/1.1",
                             "sourceIp": "127.0.0.1", "userAgent": "t"},
                    "authorizer": {"iam": {"userArn": arn}}
                }
            })
        };
        if version == "2.0-no-authorizer" {
            event["requestContext"]
                .as_object_mut()
                .expect("context")
                .remove("authorizer");
        }
        let request = crate::event::decode(event).expect("decodes").request;
        let mut context = lambda_http::Context::default();
        context.invoked_function_arn =
            format!("arn:aws:lambda:eu-west-1:{function_account}:function:tokenize");
        request.with_lambda_context(context)
    }

    #[test]
    fn the_caller_is_read_from_either_payload_format() {
        for version in ["1.0", "2.0"] {
            assert_eq!(
                caller_arn(&request(version, Some(ROLE), "111122223333")).as_deref(),
                Some(ROLE),
                "{version}"
            );
            assert_eq!(
                caller_arn(&request(version, Some(""), "111122223333")),
                None
            );
            assert_eq!(caller_arn(&request(version, None, "111122223333")), None);
        }
    }

    #[test]
    fn an_origin_is_its_api_its_stage_and_the_functions_own_account() {
        let origin = ApiOrigin::parse("api", "prod").expect("origin");
        for version in ["1.0", "2.0"] {
            assert!(origin.accepts(&request(version, Some(ROLE), "111122223333"), true));
            let foreign = request(version, Some(ROLE), "999922223333");
            assert!(!origin.accepts(&foreign, true), "{version}");
            assert!(origin.accepts(&foreign, false), "{version}");
            for other in [
                ApiOrigin::parse("other", "prod").expect("origin"),
                ApiOrigin::parse("api", "dev").expect("origin"),
            ] {
                let same = request(version, Some(ROLE), "111122223333");
                assert!(!other.accepts(&same, true), "{version} {other:?}");
                assert!(!other.accepts(&same, false), "{version} {other:?}");
            }
        }
        // No function ARN (no Lambda context) proves no account.
        let no_context = crate::event::decode(serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/v1/tokens",
            "rawQueryString": "", "headers": {}, "isBase64Encoded": false,
            "requestContext": {"accountId": "111122223333", "apiId": "api", "stage": "prod",
                "http": {"method": "POST", "path": "/v1/tokens", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "t"}}
        }))
        .expect("decodes")
        .request;
        assert!(!origin.accepts(&no_context, true));
    }

    #[test]
    fn authorization_decides_from_the_verified_caller_alone() {
        let list = AllowList::parse(ROLE).expect("list");
        let other = AllowList::parse("arn:aws:iam::111122223333:role/other").expect("list");
        let dev = Some("arn:aws:iam::111122223333:role/other");
        let session = "arn:aws:sts::111122223333:assumed-role/tok/s";
        for version in ["1.0", "2.0"] {
            let listed = request(version, Some(session), "111122223333");
            assert!(matches!(
                authorize(&listed, &[&other, &list], dev),
                Decision::Allow {
                    source: Source::Iam,
                    ..
                }
            ));
            assert_eq!(
                authorize(&listed, &[&other], None).reason(),
                "principal not on this function's allow-lists"
            );
            let malformed = request(version, Some("role/tok"), "111122223333");
            assert_eq!(
                authorize(&malformed, &[&list], None).reason(),
                "caller is not an IAM role or user"
            );
            // A gateway request without a principal is not the dev caller.
            let anonymous = request(version, None, "111122223333");
            assert_eq!(
                authorize(&anonymous, &[&other], dev),
                Decision::Unauthenticated
            );
        }
        let local = request("2.0-no-authorizer", None, "111122223333");
        assert!(has_no_authorizer_context(&local));
        assert!(!has_no_authorizer_context(&request(
            "2.0",
            None,
            "111122223333"
        )));
        assert!(matches!(
            authorize(&local, &[&other], dev),
            Decision::Allow {
                source: Source::DevSetting,
                ..
            }
        ));
        assert_eq!(
            authorize(&local, &[&other], None),
            Decision::Unauthenticated
        );
    }
}
