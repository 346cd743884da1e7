//! The API a deployment's functions accept events from.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_needs_an_api_id_and_a_stage() {
        assert!(ApiOrigin::parse("", "prod").is_err());
        assert!(ApiOrigin::parse("api", " , ").is_err());
        let origin = ApiOrigin::parse(" api1, api2 ", "prod").expect("ok");
        assert_eq!(origin.canonical(), "api1,api2|prod");
    }
}
