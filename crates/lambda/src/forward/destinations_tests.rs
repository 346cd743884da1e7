use super::*;
use crate::forward::target::parse_target;

const DESTS: &str = r#"[{"name":"acme","host":"api.acme-pay.example","methods":["POST"],"body_format":"json",
        "paths":[{"prefix":"/v1/charges","card_fields":["/card/number"]},{"prefix":"/v1/charges/capture","card_fields":[]}]},
    {"name":"other","host":"other.example","port":8443,"methods":["GET","POST"],"body_format":"form",
        "paths":[{"prefix":"/","card_fields":["card[number]"]}]}]"#;
const ROLE: &str = "arn:aws:iam::111122223333:role/payments";

fn dests() -> Destinations {
    Destinations::parse(DESTS, &format!("{ROLE}=acme")).expect("parses")
}

fn caller() -> Principal {
    Principal::parse(ROLE).expect("role")
}

fn target(url: &str) -> Target {
    parse_target(url).expect(url)
}

#[test]
fn grants_match_host_port_prefix_and_method() {
    let d = dests();
    let g = d
        .authorize(
            &caller(),
            &Method::POST,
            &target("https://api.acme-pay.example/v1/charges"),
        )
        .expect("granted");
    assert_eq!(g.audit, "api.acme-pay.example/v1/charges");
    assert_eq!(g.body_format, BodyFormat::Json);
    assert_eq!(g.card_fields, ["/card/number"]);
    // A query string only where the destination allows one.
    let q = target("https://api.acme-pay.example/v1/charges?_method=DELETE");
    assert!(d.authorize(&caller(), &Method::POST, &q).is_err());
    let with_query = Destinations::parse(
        &DESTS.replace(
            r#""body_format":"json","#,
            r#""body_format":"json","query":true,"#,
        ),
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
        let p = d
            .authorize(&caller(), &method, &target(url))
            .expect_err(url);
        assert_eq!(p.kind, Kind::DestinationNotAllowed, "{url}");
    }
    let stranger = Principal::parse("arn:aws:iam::111122223333:role/other").expect("role");
    let t = target("https://api.acme-pay.example/v1/charges");
    assert!(d.authorize(&stranger, &Method::POST, &t).is_err());
}

#[test]
fn the_longest_matching_prefix_names_the_card_fields() {
    let d = dests();
    let g = d
        .authorize(
            &caller(),
            &Method::POST,
            &target("https://api.acme-pay.example/v1/charges/capture/ch_1"),
        )
        .expect("granted");
    assert_eq!(g.audit, "api.acme-pay.example/v1/charges/capture");
    assert!(g.card_fields.is_empty(), "the capture prefix takes no PAN");
    let g = d
        .authorize(
            &caller(),
            &Method::POST,
            &target("https://api.acme-pay.example/v1/charges/ch_1"),
        )
        .expect("granted");
    assert_eq!(g.card_fields, ["/card/number"]);
}

#[test]
fn the_audit_name_of_a_target_is_its_host_and_a_configured_prefix_only() {
    let d = dests();
    // Built by hand: whether `parse_target` sees a card number with `:`
    // separators is not this test's concern; the audit never says the path.
    let at = |host: &str, port: u16, path: &str| Target {
        host: host.to_owned(),
        port,
        path: path.to_owned(),
        path_and_query: path.to_owned(),
    };
    for (t, named) in [
        (
            at(
                "api.acme-pay.example",
                443,
                "/v1/charges/4111:1111:1111:1111",
            ),
            "api.acme-pay.example/v1/charges",
        ),
        (
            at("api.acme-pay.example", 443, "/v1/charges/capture/x"),
            "api.acme-pay.example/v1/charges/capture",
        ),
        (
            at("api.acme-pay.example", 443, "/v2/4111:1111:1111:1111"),
            "api.acme-pay.example",
        ),
        (
            at("api.acme-pay.example", 444, "/v1/charges"),
            "api.acme-pay.example:444",
        ),
        (
            at("other.example", 8443, "/any/path"),
            "other.example:8443/",
        ),
        (at("exfil.example", 443, "/collect/x"), "exfil.example"),
    ] {
        assert_eq!(d.audit_name(&t), named, "{t:?}");
    }
}

#[test]
fn configuration_errors_are_named() {
    let one = |extra: &str| {
        format!(
            r#"[{{"name":"a","host":"a.example","methods":["POST"],"body_format":"json","paths":[{{"prefix":"/v1","card_fields":["/pan"]}}]{extra}}}]"#
        )
    };
    assert!(Destinations::parse(&one(""), "").is_ok());
    for (dests, grants, want) in [
        ("{".to_owned(), "", "not a JSON list"),
        (one("").replace("a.example", "10.0.0.1"), "", "IP address"),
        (one("").replace(r#""/v1""#, r#""v1""#), "", "start with /"),
        (one("").replace("POST", "TRACE"), "", "TRACE"),
        (one(r#","scheme":"http""#), "", "unknown field"),
        // No body format: no way to know where a placeholder stands.
        (
            one("").replace(r#""body_format":"json","#, ""),
            "",
            "missing field `body_format`",
        ),
        (one("").replace("json", "xml"), "", "unknown variant `xml`"),
        // No card fields named: no generic defaults.
        (
            one("").replace(r#","card_fields":["/pan"]"#, ""),
            "",
            "missing field `card_fields`",
        ),
        // Card fields for the whole destination are not a setting.
        (one(r#","card_fields":["/pan"]"#), "", "unknown field"),
        (
            one("").replace(
                r#""paths":[{"prefix":"/v1","card_fields":["/pan"]}]"#,
                r#""paths":[]"#,
            ),
            "",
            "at least one path prefix",
        ),
        (
            one("").replace(r#""/pan""#, r#""pan""#),
            "",
            "must be a JSON pointer",
        ),
        (
            one("")
                .replace("json", "form")
                .replace(r#""/pan""#, r#""/card/number""#),
            "",
            "must be a form field name",
        ),
        (
            one("").replace(
                r#"{"prefix":"/v1","card_fields":["/pan"]}"#,
                r#"{"prefix":"/v1","card_fields":["/pan"]},{"prefix":"/v1","card_fields":[]}"#,
            ),
            "",
            "listed twice",
        ),
        (
            DESTS.to_owned(),
            "arn:aws:iam::111122223333:role/p=nope",
            "nope",
        ),
        (DESTS.to_owned(), "nonsense", "not `arn="),
    ] {
        let e = Destinations::parse(&dests, grants).expect_err(want);
        assert!(e.contains(want), "{e} lacks {want}");
    }
}
