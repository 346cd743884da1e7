//! The headers forward sends: the caller's, checked (each name once, in any
//! case; only names the destination accepts; no placeholder or card number,
//! since processors log headers), and a `Content-Type` Tessera sets from the
//! destination's body format, which a caller's may only repeat.

use std::collections::{BTreeMap, BTreeSet};

use http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::forward::body::BodyFormat;
use crate::forward::destinations::BASE_HEADERS;
use crate::problem::{Kind, Problem};

/// Most headers a caller may send on.
const MAX_HEADERS: usize = 32;
/// Headers a caller may not set: hop-by-hop and framing headers (the egress
/// sets its own), and AWS or proxy credentials and routing hints that have
/// no business leaving the VPC.
const REFUSED_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "expect",
    "forwarded",
];
/// Header name prefixes a caller may not set.
const REFUSED_HEADER_PREFIXES: &[&str] = &["x-amz-", "x-forwarded-", "x-tessera-"];

fn refused(detail: &str) -> Problem {
    Problem::new(Kind::ForwardHeaderRefused, detail.to_owned())
}

/// The headers to send: the caller's `given` ones, checked against the
/// destination's extra `allowed` names, with the `Content-Type` of `format`
/// when a body is sent.
pub fn outbound(
    given: &BTreeMap<String, String>,
    allowed: &[String],
    format: BodyFormat,
    with_body: bool,
) -> Result<HeaderMap, Problem> {
    if given.len() > MAX_HEADERS {
        return Err(refused("send at most 32 headers"));
    }
    let mut map = HeaderMap::new();
    let mut seen = BTreeSet::new();
    for (name, value) in given {
        // Lower-cased: `Authorization` and `authorization` are one header,
        // and sending both lets the processor pick either.
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| refused("a header name is not valid"))?;
        if !seen.insert(name.as_str().to_owned()) {
            return Err(refused(
                "a header is named twice (header names are case-insensitive)",
            ));
        }
        let lower = name.as_str();
        if REFUSED_HEADERS.contains(&lower)
            || REFUSED_HEADER_PREFIXES.iter().any(|p| lower.starts_with(p))
        {
            return Err(refused(
                "hop-by-hop, Host, length, proxy, forwarding and X-Amz headers are set by Tessera or never sent",
            ));
        }
        if !BASE_HEADERS.contains(&lower) && !allowed.iter().any(|a| a == lower) {
            return Err(refused(
                "this header is not one the destination accepts (accept, authorization, content-type, idempotency-key, user-agent, and its configured headers)",
            ));
        }
        if value.contains("{{") {
            return Err(refused(
                "placeholders are expanded in the body only, never in headers, which processors log",
            ));
        }
        if tessera_core::contains_card_number(value) {
            return Err(refused(
                "a header must not hold a card number; processors log headers",
            ));
        }
        if name == header::CONTENT_TYPE {
            if !format.accepts_content_type(value) {
                return Err(Problem::new(
                    Kind::ForwardContentTypeMismatch,
                    format!(
                        "this destination takes {} bodies; Tessera sets the content type, and a caller's must be the same",
                        format.media_type()
                    ),
                ));
            }
            continue;
        }
        let value =
            HeaderValue::from_str(value).map_err(|_| refused("a header value is not valid"))?;
        map.append(name, value);
    }
    if with_body {
        map.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.media_type()),
        );
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tessera_sets_the_content_type_of_the_format() {
        let sent = outbound(
            &given(&[
                ("Content-Type", "application/json; charset=utf-8"),
                ("Accept", "*/*"),
            ]),
            &[],
            BodyFormat::Json,
            true,
        )
        .expect("accepted");
        assert_eq!(sent.get_all(header::CONTENT_TYPE).iter().count(), 1);
        assert_eq!(sent[header::CONTENT_TYPE], "application/json");
        assert_eq!(sent[header::ACCEPT], "*/*");
        let form = outbound(&given(&[]), &[], BodyFormat::Form, true).expect("accepted");
        assert_eq!(
            form[header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        let none = outbound(&given(&[]), &[], BodyFormat::Json, false).expect("accepted");
        assert!(none.get(header::CONTENT_TYPE).is_none(), "no body, no type");
    }

    #[test]
    fn a_content_type_other_than_the_format_is_refused() {
        for (format, value) in [
            (BodyFormat::Json, "application/x-www-form-urlencoded"),
            (BodyFormat::Json, "text/xml"),
            (BodyFormat::Form, "application/json"),
            (BodyFormat::Form, "multipart/form-data; boundary=x"),
        ] {
            let p =
                outbound(&given(&[("content-type", value)]), &[], format, true).expect_err(value);
            assert_eq!(p.kind, Kind::ForwardContentTypeMismatch, "{value}");
        }
    }

    #[test]
    fn names_that_differ_only_by_case_are_refused() {
        for pair in [
            [("Authorization", "Bearer a"), ("authorization", "Bearer b")],
            [("X-Extra", "1"), ("x-extra", "1")],
            [
                ("CONTENT-TYPE", "application/json"),
                ("content-type", "application/json"),
            ],
        ] {
            let p = outbound(
                &given(&pair),
                &["x-extra".to_owned()],
                BodyFormat::Json,
                true,
            )
            .expect_err("twice");
            assert_eq!(p.kind, Kind::ForwardHeaderRefused, "{pair:?}");
        }
    }

    #[test]
    fn other_refusals() {
        for pair in [
            ("host", "evil.example"),
            ("x-amz-security-token", "t"),
            ("x-http-method-override", "DELETE"),
            ("x-card", "x"),
            ("accept", "{{tok_0000000000000000000000000a}}"),
            ("accept", "4111 1111 1111 1111"),
            ("bad name", "x"),
            ("accept", "line\nbreak"),
        ] {
            let p = outbound(&given(&[pair]), &[], BodyFormat::Json, true).expect_err(pair.0);
            assert_eq!(p.kind, Kind::ForwardHeaderRefused, "{pair:?}");
            assert!(!p.detail.contains("4111"));
        }
    }

    #[test]
    fn tessera_set_headers_are_refused_even_where_a_destination_names_them() {
        // An exact name (host) and a prefix (x-amz-): each refused on its own,
        // before the destination's list is consulted.
        let allowed = ["host".to_owned(), "x-amz-date".to_owned()];
        for name in ["host", "x-amz-date"] {
            let p =
                outbound(&given(&[(name, "x")]), &allowed, BodyFormat::Json, true).expect_err(name);
            assert!(
                p.detail.starts_with("hop-by-hop, Host"),
                "{name}: {}",
                p.detail
            );
        }
    }

    #[test]
    fn only_the_destinations_own_extra_names_are_accepted() {
        let allowed = ["x-merchant-id".to_owned()];
        let ok = outbound(
            &given(&[("x-merchant-id", "m1")]),
            &allowed,
            BodyFormat::Json,
            false,
        );
        assert!(ok.is_ok());
        let p = outbound(
            &given(&[("x-card", "x")]),
            &allowed,
            BodyFormat::Json,
            false,
        )
        .expect_err("not listed");
        assert!(
            p.detail.starts_with("this header is not one"),
            "{}",
            p.detail
        );
    }

    #[test]
    fn at_most_32_headers_are_sent() {
        let names: Vec<String> = (0..33).map(|i| format!("x-extra-{i}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        let sent = outbound(&given(&pairs[..32]), &names, BodyFormat::Json, false).expect("32");
        assert_eq!(sent.len(), 32);
        let p = outbound(&given(&pairs), &names, BodyFormat::Json, false).expect_err("33");
        assert_eq!(p.detail, "send at most 32 headers");
    }
}
