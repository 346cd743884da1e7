//! A forward request's URL, parsed and checked before it is matched to a
//! destination ([`crate::forward::destinations`]): https only, a DNS host
//! (never an IP literal or localhost), a plain path, no user info,
//! fragment, placeholder or card number.

use http::Uri;

use crate::problem::{Kind, Problem};

/// Longest URL accepted.
const MAX_URL_BYTES: usize = 2048;

/// A request's URL, parsed and checked: what the egress connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host, lower case.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The path.
    pub path: String,
    /// Path and query, as sent upstream.
    pub path_and_query: String,
}

/// A host is a lower-case DNS name of two or more labels: never an IP
/// literal, never `localhost`.
pub(crate) fn check_host(host: &str) -> Result<(), &'static str> {
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return Err("must be a DNS name, not an IP address");
    }
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if host.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err("must be a lower-case DNS name with at least two labels");
    }
    // All-numeric last label: an IPv4 address in another spelling.
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must be a DNS name, not an IP address");
    }
    if labels.last() == Some(&"localhost")
        && labels.len() == 2
        && cfg!(not(feature = "dev-principal"))
    {
        return Err("must not be a localhost name");
    }
    Ok(())
}

/// A path: starts with `/`, only letters, digits, `-._~:` and `/`, no
/// empty, `.` or `..` segment. No percent-encoding and no `;`: servers
/// decode (twice, or overlong UTF-8) and strip path parameters (`..;`) in
/// their own ways, so anything but plain text could walk out of a prefix on
/// the processor while matching it here.
pub(crate) fn check_path(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("must start with /");
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~:/".contains(&b))
    {
        return Err("must hold only letters, digits, - . _ ~ : and /");
    }
    let inner = path.trim_start_matches('/');
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if path.contains("//")
        || (!inner.is_empty()
            && inner
                .split('/')
                .any(|s| s == "." || s == ".." || s.is_empty()))
    {
        return Err("must not hold empty, . or .. segments");
    }
    Ok(())
}

/// Parses a request's URL: `https://host[:port]/path[?query]`, with no user
/// info, no fragment, no placeholder and no card number anywhere in it
/// (processors and proxies log URLs).
pub fn parse_target(url: &str) -> Result<Target, Problem> {
    let bad = |detail: &str| Problem::new(Kind::InvalidDestination, detail.to_owned());
    if url.len() > MAX_URL_BYTES {
        return Err(bad("the URL is too long"));
    }
    let lower = url.to_ascii_lowercase();
    if url.contains("{{") || url.contains("}}") || lower.contains("%7b") || lower.contains("%7d") {
        return Err(bad(
            "placeholders are expanded in the body only, never in the URL, which processors log",
        ));
    }
    if tessera_core::contains_card_number(url) {
        return Err(bad(
            "the URL must not hold a card number; processors log URLs",
        ));
    }
    if url.contains('#') || url.contains('@') {
        return Err(bad("the URL must have no user info or fragment"));
    }
    let uri: Uri = url.parse().map_err(|_| bad("the URL does not parse"))?;
    if uri.scheme_str() != Some("https") {
        return Err(bad("the URL must be https"));
    }
    let authority = uri.authority().ok_or_else(|| bad("the URL has no host"))?;
    let host = authority.host().to_ascii_lowercase();
    if check_host(&host).is_err() {
        return Err(bad("the URL's host must be a DNS name"));
    }
    let port = authority.port_u16().unwrap_or(443);
    let path = uri.path().to_owned();
    check_path(&path).map_err(|_| bad("the URL's path must be plain: letters, digits, - . _ ~ : and /, no percent-encoding, no empty, . or .. segments"))?;
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    Ok(Target {
        host,
        port,
        path,
        path_and_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_that_could_slip_past_a_prefix_or_leak_are_refused() {
        for url in [
            "http://api.acme-pay.example/v1/charges",
            "https://127.0.0.1/v1/charges",
            "https://[::1]/v1/charges",
            "https://169.254.169.254/latest/meta-data",
            "https://2130706433/v1/charges",
            "https://user@api.acme-pay.example/v1/charges",
            "https://api.acme-pay.example/v1/charges/../../admin",
            "https://api.acme-pay.example/v1/charges/%2e%2e/admin",
            "https://api.acme-pay.example/v1/charges%2F..%2Fadmin",
            "https://api.acme-pay.example/v1/charges//x",
            "https://api.acme-pay.example/v1/charges?card={{tok_0000000000000000000000000a}}",
            "https://api.acme-pay.example/v1/charges?card=%7B%7Btok_x%7D%7D",
            "https://api.acme-pay.example/v1/charges?card=4111111111111111",
            "https://api.acme-pay.example/v1/charges#frag",
        ] {
            assert_eq!(
                parse_target(url).expect_err(url).kind,
                Kind::InvalidDestination,
                "{url}"
            );
        }
    }
}
