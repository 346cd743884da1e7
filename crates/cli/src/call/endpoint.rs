//! Where a call goes: one API stage for every function (API Gateway), or one
//! URL per function (the dev stack's function URLs), from one setting.

use tessera_aws::sdk::is_loopback_url;

use crate::CliError;

/// The placeholder that a per-function endpoint names its function with.
pub const FUNCTION_PLACEHOLDER: &str = "{function}";

/// A checked `--endpoint`: `https://` (plain `http://` only to a loopback
/// address, so a PAN never crosses a network unencrypted), no user info,
/// query or fragment, at most one `{function}`.
///
/// ```
/// use tessera_cli::call::Endpoint;
/// let api = Endpoint::parse("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/").unwrap();
/// assert_eq!(api.url("tokenize", "/v1/tokens"), "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1/tokens");
/// assert_eq!(api.region_from_host().as_deref(), Some("eu-west-1"));
/// let dev = Endpoint::parse("http://127.0.0.1:9000/lambda-url/{function}").unwrap();
/// assert_eq!(dev.url("admin", "/v1/tokens/tok_x"), "http://127.0.0.1:9000/lambda-url/admin/v1/tokens/tok_x");
/// assert!(Endpoint::parse("http://api.example.com/prod").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base: String,
}

impl Endpoint {
    /// Checks an endpoint URL.
    pub fn parse(text: &str) -> Result<Endpoint, CliError> {
        let refuse = |why: &str| Err(CliError::Refused(format!("--endpoint: {why}")));
        let text = text.trim();
        let rest = if let Some(rest) = text.strip_prefix("https://") {
            rest
        } else if let Some(rest) = text.strip_prefix("http://") {
            if !is_loopback_url(text) {
                return refuse(
                    "plain http is only for a loopback address (the dev stack); use https://",
                );
            }
            rest
        } else {
            return refuse("give an https:// URL");
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return refuse("the URL has no host");
        }
        if authority.contains('@') {
            return refuse("no user info in the URL; credentials come from the AWS chain");
        }
        if text.contains(['?', '#']) {
            return refuse("no query or fragment; give the stage's base URL");
        }
        if text.matches(FUNCTION_PLACEHOLDER).count() > 1 || authority.contains('{') {
            return refuse("{function} may appear once, in the path");
        }
        let base = text.trim_end_matches('/').to_owned();
        // The URL must also be one the HTTP stack accepts, whatever the function.
        if base
            .replace(FUNCTION_PLACEHOLDER, "tokenize")
            .parse::<http::Uri>()
            .is_err()
        {
            return refuse("not a valid URL");
        }
        Ok(Endpoint { base })
    }

    /// The URL of `path` (starting with `/`) on `function`.
    pub fn url(&self, function: &str, path: &str) -> String {
        format!(
            "{}{path}",
            self.base.replace(FUNCTION_PLACEHOLDER, function)
        )
    }

    /// The host the endpoint names, lower-case, without its port.
    pub fn host(&self) -> String {
        self.base
            .replace(FUNCTION_PLACEHOLDER, "tokenize")
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| uri.host().map(str::to_ascii_lowercase))
            .unwrap_or_default()
    }

    /// Checks that the endpoint is an API host `tessera call` may send a
    /// card number and signed credentials to: an API Gateway host
    /// (`{api}.execute-api.{region}.amazonaws.com`), a VPC endpoint's
    /// (`vpce-...execute-api.{region}.vpce.amazonaws.com`), a loopback
    /// address (the dev stack), or one of `listed` (`--allow-host`,
    /// `TESSERA_CALL_HOSTS`: a custom domain).
    pub fn check_host(&self, listed: &[String]) -> Result<(), CliError> {
        let host = self.host();
        let is_listed = listed
            .iter()
            .map(|h| h.trim())
            .any(|h| !h.is_empty() && h.eq_ignore_ascii_case(&host));
        if is_listed || is_loopback_url(&self.base) || is_api_gateway_host(&host) {
            return Ok(());
        }
        Err(CliError::Refused(format!(
            "--endpoint: {host} is not an API Gateway host ({{api}}.execute-api.{{region}}.amazonaws.com), a VPC endpoint of one, or loopback; name a custom domain with --allow-host or TESSERA_CALL_HOSTS"
        )))
    }

    /// The region in an API Gateway host name
    /// (`{api}.execute-api.{region}.amazonaws.com`, also a VPC endpoint's).
    pub fn region_from_host(&self) -> Option<String> {
        let rest = self
            .base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, r)| r);
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        let mut labels = host.split('.');
        labels.find(|l| l.ends_with("execute-api"))?;
        labels
            .next()
            .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .map(str::to_owned)
    }
}

/// `{api}.execute-api.{region}.amazonaws.com` (or `.amazonaws.com.cn`), or
/// a VPC endpoint's `vpce-{...}.execute-api.{region}.vpce.amazonaws.com`.
fn is_api_gateway_host(host: &str) -> bool {
    let label = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let labels: Vec<&str> = host.split('.').collect();
    let (first, region, rest) = match labels.as_slice() {
        [first, "execute-api", region, rest @ ..] => (*first, *region, rest),
        _ => return false,
    };
    if !label(first) || !label(region) {
        return false;
    }
    match rest {
        ["amazonaws", "com"] | ["amazonaws", "com", "cn"] => true,
        ["vpce", "amazonaws", "com"] | ["vpce", "amazonaws", "com", "cn"] => {
            first.starts_with("vpce-")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_that_would_leak_or_mislead_are_refused() {
        for bad in [
            "http://example.com/prod",
            "http://10.0.0.8:9000/lambda-url/{function}",
            "ftp://127.0.0.1/x",
            "https://user:pw@api.example.com/prod",
            "https://api.example.com/prod?x=1",
            "https://{function}.example.com/",
            "https:///prod",
            "https://api.example.com/{function}/{function}",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "https://api.example.com",
            "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
            "http://localhost:9000/lambda-url/{function}/",
            "http://[::1]:9000/lambda-url/{function}",
        ] {
            assert!(Endpoint::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn only_api_gateway_vpc_endpoint_loopback_or_listed_hosts_are_called() {
        let check = |u: &str, listed: &[&str]| {
            let listed: Vec<String> = listed.iter().map(|h| (*h).to_owned()).collect();
            Endpoint::parse(u).expect("valid").check_host(&listed)
        };
        for good in [
            "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
            "https://ABC123.Execute-Api.eu-west-1.amazonaws.com",
            "https://abc123-vpce-0a1b2c.execute-api.us-east-1.amazonaws.com/prod",
            "https://vpce-0a1b2c3d-x1y2.execute-api.ap-south-1.vpce.amazonaws.com/prod",
            "https://abc.execute-api.cn-north-1.amazonaws.com.cn/prod",
            "http://127.0.0.1:9000/lambda-url/{function}",
            "http://[::1]:9000/lambda-url/{function}",
            "https://localhost:8443/prod",
        ] {
            assert!(check(good, &[]).is_ok(), "{good}");
        }
        for bad in [
            "https://api.example.com/prod",
            "https://abc.execute-api.us-east-1.amazonaws.com.evil.example/prod",
            "https://execute-api.us-east-1.amazonaws.com/prod",
            "https://abc.execute-api.us-east-1.amazonaws.co/prod",
            "https://x.abc.execute-api.us-east-1.amazonaws.com/prod",
            "https://abc.execute-api.us-east-1.vpce.amazonaws.com/prod",
            "https://abc.execute-api..amazonaws.com/prod",
            "https://abc.s3.us-east-1.amazonaws.com/prod",
        ] {
            let e = check(bad, &[]).expect_err(bad).to_string();
            assert!(e.contains("--allow-host"), "{e}");
        }
        assert!(check("https://API.example.com/prod", &["api.example.com"]).is_ok());
        assert!(check("https://api.example.com/prod", &["other.example.com", " "]).is_err());
        assert!(check("https://api.example.com.evil/prod", &["api.example.com"]).is_err());
    }

    #[test]
    fn the_region_comes_from_an_execute_api_host_only() {
        let region = |u: &str| Endpoint::parse(u).expect("valid").region_from_host();
        assert_eq!(
            region("https://abc-vpce-1.execute-api.ap-south-1.vpce.amazonaws.com/prod").as_deref(),
            Some("ap-south-1")
        );
        assert_eq!(region("https://api.example.com/prod"), None);
        assert_eq!(region("http://127.0.0.1:9000/lambda-url/{function}"), None);
    }
}
