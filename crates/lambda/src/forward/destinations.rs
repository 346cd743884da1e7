//! Where forward may send: destinations are configuration, never caller
//! input alone. A deployment lists its destinations
//! (`TESSERA_FORWARD_DESTINATIONS`, JSON) and which roles may use which
//! (`TESSERA_FORWARD_GRANTS`, `arn=name,name;arn=name`); a request's URL
//! must match a destination granted to its caller, by scheme (https only),
//! exact host, port, a path prefix on a segment boundary, and method.

use std::collections::{BTreeMap, BTreeSet};

use http::{Method, Uri};
use serde::Deserialize;

use crate::auth::Principal;
use crate::problem::{Kind, Problem};

/// Methods a destination may allow.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Longest URL accepted.
const MAX_URL_BYTES: usize = 2048;

/// One allowed destination, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Its name, used by grants.
    pub name: String,
    /// The exact DNS host name (lower case; never an IP literal).
    pub host: String,
    /// The TCP port (default 443).
    #[serde(default = "https_port")]
    pub port: u16,
    /// Path prefixes requests may use, each starting with `/`.
    pub path_prefixes: Vec<String>,
    /// Methods requests may use.
    pub methods: Vec<String>,
    /// Where a placeholder may stand: JSON pointers (`/card/number`) for a
    /// JSON body, field names (`card[number]`) for a form body. A card number
    /// elsewhere (a description, metadata) would land where the caller's own
    /// processor account could read it whole.
    #[serde(default = "default_card_fields")]
    pub card_fields: Vec<String>,
    /// Extra headers a caller may send (lower case), beyond [`BASE_HEADERS`].
    #[serde(default)]
    pub headers: Vec<String>,
    /// Whether a request may carry a query string (processors read method
    /// and action overrides there).
    #[serde(default)]
    pub query: bool,
}

fn https_port() -> u16 {
    443
}

/// The usual card-number fields of processor APIs.
fn default_card_fields() -> Vec<String> {
    [
        "/card/number",
        "/card",
        "/number",
        "/pan",
        "/card_number",
        "card[number]",
        "card",
        "number",
        "pan",
        "card_number",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Headers every destination accepts from a caller. Others must be listed
/// by the destination: a method or URL override header (`X-HTTP-Method-
/// Override`, `X-Original-URL`) would turn a granted request into another.
pub const BASE_HEADERS: &[&str] = &[
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "user-agent",
];

/// The configured destinations and which principals may use each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destinations {
    list: Vec<Destination>,
    grants: BTreeMap<Principal, BTreeSet<String>>,
}

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

/// A granted destination: what the audit event may say of it (its host and
/// the matched path prefix, never the full path or the query string), and
/// what a request to it may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The destination's name.
    pub name: String,
    /// `host` or `host:port` and the matched prefix.
    pub audit: String,
    /// Where placeholders may stand.
    pub card_fields: Vec<String>,
    /// Headers beyond [`BASE_HEADERS`] a caller may send.
    pub headers: Vec<String>,
}

impl Destinations {
    /// Parses the destinations (JSON list) and grants; names the first bad entry.
    pub fn parse(destinations: &str, grants: &str) -> Result<Destinations, String> {
        let list: Vec<Destination> = serde_json::from_str(destinations).map_err(|e| {
            format!(
                "not a JSON list of destinations (line {}, column {}): {}",
                e.line(),
                e.column(),
                e
            )
        })?;
        let mut names = BTreeSet::new();
        for d in &list {
            check_destination(d)?;
            if !names.insert(d.name.clone()) {
                return Err(format!("destination `{}` is listed twice", d.name));
            }
        }
        let mut granted: BTreeMap<Principal, BTreeSet<String>> = BTreeMap::new();
        for entry in grants.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (arn, dests) = entry
                .split_once('=')
                .ok_or_else(|| format!("grant `{entry}` is not `arn=destination,destination`"))?;
            let principal = Principal::parse(arn.trim())
                .ok_or_else(|| format!("`{}` is not an IAM role or user ARN", arn.trim()))?;
            let set = granted.entry(principal).or_default();
            for name in dests.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if !names.contains(name) {
                    return Err(format!("grant names `{name}`, which is not a destination"));
                }
                set.insert(name.to_owned());
            }
        }
        Ok(Destinations {
            list,
            grants: granted,
        })
    }

    /// The configured destinations.
    pub fn list(&self) -> &[Destination] {
        &self.list
    }

    /// The canonical settings, for the config digest.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        for d in &self.list {
            out.push_str(&format!(
                "{}=https://{}:{}{:?}{:?}{:?}{:?}{}\n",
                d.name,
                d.host,
                d.port,
                d.path_prefixes,
                d.methods,
                d.card_fields,
                d.headers,
                d.query
            ));
        }
        for (p, names) in &self.grants {
            out.push_str(&format!("{p}={names:?}\n"));
        }
        out
    }

    /// The destination `caller` may use for `method` on `target`, or a 403.
    pub fn authorize(
        &self,
        caller: &Principal,
        method: &Method,
        target: &Target,
    ) -> Result<Granted, Problem> {
        let denied = || {
            Problem::new(
                Kind::DestinationNotAllowed,
                "no destination granted to this principal matches this URL and method",
            )
        };
        let names = self.grants.get(caller).ok_or_else(denied)?;
        self.list
            .iter()
            .filter(|d| names.contains(&d.name))
            .filter(|d| d.host == target.host && d.port == target.port)
            .filter(|d| d.methods.iter().any(|m| m == method.as_str()))
            .filter(|d| d.query || target.path_and_query == target.path)
            .find_map(|d| {
                let prefix = d
                    .path_prefixes
                    .iter()
                    .find(|p| prefix_matches(p, &target.path))?;
                let host = if d.port == 443 {
                    d.host.clone()
                } else {
                    format!("{}:{}", d.host, d.port)
                };
                Some(Granted {
                    name: d.name.clone(),
                    audit: format!("{host}{prefix}"),
                    card_fields: d.card_fields.clone(),
                    headers: d.headers.clone(),
                })
            })
            .ok_or_else(denied)
    }
}

/// Whether `path` is under `prefix`: equal, or continuing after a `/`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

fn check_destination(d: &Destination) -> Result<(), String> {
    let name = &d.name;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return Err(format!(
            "destination name `{name}` must be letters, digits, - or _"
        ));
    }
    check_host(&d.host).map_err(|why| format!("destination `{name}`: host {why}"))?;
    if d.port == 0 {
        return Err(format!("destination `{name}`: port 0"));
    }
    if d.path_prefixes.is_empty() {
        return Err(format!(
            "destination `{name}`: list at least one path prefix"
        ));
    }
    for p in &d.path_prefixes {
        check_path(p).map_err(|why| format!("destination `{name}`: path prefix `{p}` {why}"))?;
    }
    if d.card_fields.is_empty() {
        return Err(format!(
            "destination `{name}`: card_fields is empty; no placeholder could be sent"
        ));
    }
    for h in &d.headers {
        if h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "destination `{name}`: header `{h}` must be a lower-case header name"
            ));
        }
    }
    if d.methods.is_empty() {
        return Err(format!("destination `{name}`: list at least one method"));
    }
    for m in &d.methods {
        if !METHODS.contains(&m.as_str()) {
            return Err(format!(
                "destination `{name}`: method `{m}` is not one of {METHODS:?}"
            ));
        }
    }
    Ok(())
}

/// A host is a lower-case DNS name of two or more labels: never an IP
/// literal, never `localhost`.
fn check_host(host: &str) -> Result<(), &'static str> {
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
fn check_path(path: &str) -> Result<(), &'static str> {
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

    const DESTS: &str = r#"[{"name":"acme","host":"api.acme-pay.example","path_prefixes":["/v1/charges"],"methods":["POST"]},
        {"name":"other","host":"other.example","port":8443,"path_prefixes":["/"],"methods":["GET","POST"]}]"#;
    const ROLE: &str = "arn:aws:iam::111122223333:role/payments";

    fn dests() -> Destinations {
        Destinations::parse(DESTS, &format!("{ROLE}=acme")).expect("parses")
    }

    fn caller() -> Principal {
        Principal::parse(ROLE).expect("role")
    }

    #[test]
    fn grants_match_host_port_prefix_and_method() {
        let d = dests();
        let t = parse_target("https://api.acme-pay.example/v1/charges").expect("url");
        let g = d.authorize(&caller(), &Method::POST, &t).expect("granted");
        assert_eq!(g.audit, "api.acme-pay.example/v1/charges");
        assert!(
            g.card_fields.contains(&"/card/number".to_owned()),
            "the default card fields"
        );
        // A query string only where the destination allows one.
        let q =
            parse_target("https://api.acme-pay.example/v1/charges?_method=DELETE").expect("url");
        assert!(d.authorize(&caller(), &Method::POST, &q).is_err());
        let with_query = Destinations::parse(
            r#"[{"name":"acme","host":"api.acme-pay.example","path_prefixes":["/v1/charges"],"methods":["POST"],"query":true}]"#,
            &format!("{ROLE}=acme"),
        )
        .expect("parses");
        assert!(with_query.authorize(&caller(), &Method::POST, &q).is_ok());
        for (method, url) in [
            (Method::GET, "https://api.acme-pay.example/v1/charges"),
            (Method::POST, "https://api.acme-pay.example/v1/chargesx"),
            (Method::POST, "https://api.acme-pay.example:444/v1/charges"),
            (Method::POST, "https://other.example:8443/v1/charges"),
            (Method::POST, "https://evil.api.acme-pay.example/v1/charges"),
        ] {
            let t = parse_target(url).expect("url");
            let p = d.authorize(&caller(), &method, &t).expect_err(url);
            assert_eq!(p.kind, Kind::DestinationNotAllowed, "{url}");
        }
        let stranger = Principal::parse("arn:aws:iam::111122223333:role/other").expect("role");
        let t = parse_target("https://api.acme-pay.example/v1/charges").expect("url");
        assert!(d.authorize(&stranger, &Method::POST, &t).is_err());
    }

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

    #[test]
    fn configuration_errors_are_named() {
        for (dests, grants, want) in [
            ("{", "", "not a JSON list"),
            (
                r#"[{"name":"a","host":"10.0.0.1","path_prefixes":["/"],"methods":["POST"]}]"#,
                "",
                "IP address",
            ),
            (
                r#"[{"name":"a","host":"a.example","path_prefixes":["v1"],"methods":["POST"]}]"#,
                "",
                "start with /",
            ),
            (
                r#"[{"name":"a","host":"a.example","path_prefixes":["/"],"methods":["TRACE"]}]"#,
                "",
                "TRACE",
            ),
            (
                r#"[{"name":"a","host":"a.example","path_prefixes":["/"],"methods":["POST"],"scheme":"http"}]"#,
                "",
                "not a JSON list",
            ),
            (DESTS, "arn:aws:iam::111122223333:role/p=nope", "nope"),
            (DESTS, "nonsense", "not `arn="),
        ] {
            let e = Destinations::parse(dests, grants).expect_err(want);
            assert!(e.contains(want), "{e} lacks {want}");
        }
    }
}
