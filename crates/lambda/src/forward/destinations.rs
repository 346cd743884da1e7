//! Where forward may send, and what: destinations are configuration, never
//! caller input alone. A deployment lists its destinations
//! (`TESSERA_FORWARD_DESTINATIONS`, JSON) and which roles may use which
//! (`TESSERA_FORWARD_GRANTS`, `arn=name,name;arn=name`); a request's URL
//! ([`crate::forward::target`]) must match a destination granted to its
//! caller, by exact host, port, a path prefix on a segment boundary, and
//! method.
//!
//! One destination, every field but `port`, `headers` and `query` required:
//!
//! ```json
//! {"name": "acme", "host": "api.acme-pay.example", "port": 443,
//!  "methods": ["POST"], "body_format": "json",
//!  "paths": [{"prefix": "/v1/charges", "card_fields": ["/card/number"]},
//!            {"prefix": "/v1/refunds", "card_fields": []}],
//!  "headers": ["stripe-version"], "query": false}
//! ```
//!
//! `body_format` is `json` or `form`: the one way a body to this
//! destination is read and sent ([`crate::forward::body`]). Each path
//! prefix names its own card fields, the only places a placeholder may
//! stand on it (JSON pointers for `json`, decoded field names for `form`);
//! `[]` says the prefix takes no placeholder. There are no default card
//! fields: a card number anywhere else (a description, metadata) would land
//! where the caller's own processor account could read it whole. When
//! several prefixes match a URL, the longest one applies.

use std::collections::{BTreeMap, BTreeSet};

use http::Method;
use serde::Deserialize;

use crate::auth::Principal;
use crate::forward::body::BodyFormat;
use crate::forward::target::{Target, check_host, check_path};
use crate::problem::{Kind, Problem};

/// Methods a destination may allow.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

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
    /// Methods requests may use.
    pub methods: Vec<String>,
    /// How a body to this destination is parsed and sent.
    pub body_format: BodyFormat,
    /// The path prefixes requests may use, each with its card fields.
    pub paths: Vec<PathRule>,
    /// Extra headers a caller may send (lower case), beyond [`BASE_HEADERS`].
    #[serde(default)]
    pub headers: Vec<String>,
    /// Whether a request may carry a query string (processors read method
    /// and action overrides there).
    #[serde(default)]
    pub query: bool,
}

/// A path prefix of a destination and where a placeholder may stand on it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    /// The prefix, starting with `/`, matched on a segment boundary.
    pub prefix: String,
    /// JSON pointers (`/card/number`) for a json body, decoded field names
    /// (`card[number]`) for a form body; required, `[]` for none.
    pub card_fields: Vec<String>,
}

fn https_port() -> u16 {
    443
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

/// A granted destination: what the audit event may say of it (its host and
/// the matched path prefix, never the full path or the query string), and
/// what a request to it may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The destination's name.
    pub name: String,
    /// `host` or `host:port` and the matched prefix.
    pub audit: String,
    /// How the body is parsed and sent.
    pub body_format: BodyFormat,
    /// Where placeholders may stand on the matched prefix.
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
                d.name, d.host, d.port, d.methods, d.body_format, d.paths, d.headers, d.query
            ));
        }
        for (p, names) in &self.grants {
            out.push_str(&format!("{p}={names:?}\n"));
        }
        out
    }

    /// The destination `caller` may use for `method` on `target`, or a 403.
    /// Of several matching prefixes, the longest applies.
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
            .filter_map(|d| Some((d, longest_rule(d, &target.path)?)))
            // Reversed: of equally long prefixes, the first listed wins.
            .rev()
            .max_by_key(|(_, rule)| rule.prefix.len())
            .map(|(d, rule)| Granted {
                name: d.name.clone(),
                audit: format!("{}{}", authority(&d.host, d.port), rule.prefix),
                body_format: d.body_format,
                card_fields: rule.card_fields.clone(),
                headers: d.headers.clone(),
            })
            .ok_or_else(denied)
    }

    /// What the audit event says of a target that may be refused: its host
    /// (and port) and the longest configured prefix its path is under, of
    /// any destination on that host and port; the host alone when none
    /// matches. Never the caller's path, which may hold a card number.
    pub fn audit_name(&self, target: &Target) -> String {
        let prefix = self
            .list
            .iter()
            .filter(|d| d.host == target.host && d.port == target.port)
            .filter_map(|d| longest_rule(d, &target.path))
            .map(|rule| rule.prefix.as_str())
            .max_by_key(|p| p.len())
            .unwrap_or_default();
        format!("{}{prefix}", authority(&target.host, target.port))
    }
}

/// `host`, or `host:port` off 443.
fn authority(host: &str, port: u16) -> String {
    if port == 443 {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

/// The longest of `d`'s prefixes that `path` is under.
fn longest_rule<'d>(d: &'d Destination, path: &str) -> Option<&'d PathRule> {
    d.paths
        .iter()
        .filter(|rule| prefix_matches(&rule.prefix, path))
        .max_by_key(|rule| rule.prefix.len())
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
    if d.paths.is_empty() {
        return Err(format!(
            "destination `{name}`: list at least one path prefix"
        ));
    }
    let mut prefixes = BTreeSet::new();
    for rule in &d.paths {
        let p = &rule.prefix;
        check_path(p).map_err(|why| format!("destination `{name}`: path prefix `{p}` {why}"))?;
        if !prefixes.insert(p) {
            return Err(format!(
                "destination `{name}`: path prefix `{p}` is listed twice"
            ));
        }
        for field in &rule.card_fields {
            d.body_format.check_card_field(field).map_err(|why| {
                format!("destination `{name}`: card field `{field}` of `{p}` {why}")
            })?;
        }
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

#[cfg(test)]
#[path = "destinations_tests.rs"]
mod tests;
