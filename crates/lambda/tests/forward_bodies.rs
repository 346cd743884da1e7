//! Forward bodies are parsed, not guessed: against the stub processor, every
//! body the destination's declared parser refuses, a placeholder outside the
//! card fields, a content type other than the format and a header named
//! twice are refused with nothing sent and an audit event that says why
//! (never the PAN); what is sent is the parsed tree serialized again. Also
//! the audit name of a refused destination (host and configured prefix,
//! never the caller's path).

mod support;

use serde_json::{Value, json};
use support::forward::{Harness, Setup, TableResolver, Trust};
use support::{VISA, role};
use tessera_core::*;
use tessera_lambda::forward::destinations::Destinations;
use tessera_lambda::forward::egress::AddressPolicy;
use tessera_testkit::find_card_numbers;

const FORWARDER: &str = "payments-forwarder";

/// `processor.example` takes JSON (card fields `/card/number` and `/pan`
/// under `/v1/charges`, none under `/v1/charges/capture`); `forms.example`
/// takes forms (card field `card[number]`).
async fn harness() -> Harness {
    support::forward::harness(Setup {
        stub_hosts: &["processor.example", "forms.example"],
        resolver: |stub| TableResolver::all_at(&["processor.example", "forms.example"], stub),
        destinations: |port| {
            format!(
                r#"[{{"name":"json","host":"processor.example","port":{port},"methods":["POST","GET"],"body_format":"json",
                    "paths":[{{"prefix":"/v1/charges","card_fields":["/card/number","/pan"]}},{{"prefix":"/v1/charges/capture","card_fields":[]}}]}},
                   {{"name":"form","host":"forms.example","port":{port},"methods":["POST"],"body_format":"form",
                    "paths":[{{"prefix":"/v1/charges","card_fields":["card[number]"]}}]}}]"#
            )
        },
        grants: format!("{}=json,form", role(FORWARDER)),
        forwarders: &[FORWARDER],
        policy: AddressPolicy::with_loopback_for_tests(),
        trust: Trust::StubCa,
    })
    .await
}

impl Harness {
    async fn send(&self, host: &str, headers: Value, body: &str) -> (u64, Value, String) {
        self.call(
            FORWARDER,
            json!({
                "url": self.url(host, "/v1/charges"),
                "method": "POST",
                "headers": headers,
                "body": body,
                "reason": "charge order 42",
            }),
        )
        .await
    }

    /// Asserts the last request was refused with `slug`, nothing reached the
    /// stub, and the audit event names the problem and the token asked for
    /// but holds no card number.
    fn refused(
        &self,
        (status, answer, raw): (u64, Value, String),
        slug: &str,
        token: &str,
        case: &str,
    ) {
        assert_eq!(status, 400, "{case}: {answer}");
        assert_eq!(
            answer["type"],
            format!("urn:tessera:problem:{slug}"),
            "{case}: {answer}"
        );
        assert_eq!(self.stub.received().len(), 0, "{case}: something was sent");
        let audit = self.audit_lines().pop().expect("an audit event");
        let f = &audit["fields"];
        assert_eq!(f["problem"], slug, "{case}: the audit says why");
        assert_eq!(f["outcome"], "client_error", "{case}: {f}");
        if !token.is_empty() {
            assert_eq!(f["token_hint"], token[token.len() - 4..], "{case}: {f}");
        }
        assert_eq!(find_card_numbers(&self.log_text()), vec![], "{case}");
        assert_eq!(find_card_numbers(&raw), vec![], "{case}");
        assert!(
            !self.log_text().contains(&VISA[6..]),
            "{case}: PAN digits in the log"
        );
    }
}

const JSON: &str = "application/json";

#[tokio::test]
async fn json_bodies_that_do_not_parse_strictly_are_refused_and_nothing_is_sent() {
    let h = harness().await;
    let t = h.token(VISA, Expiry::Never).await;
    let p = format!("{{{{{t}}}}}");
    let good = format!(r#"{{"amount":1000,"card":{{"number":"{p}"}}}}"#);
    for (case, body) in [
        ("trailing garbage", format!("{good} x")),
        ("a second document", format!("{good}{{}}")),
        (
            "a duplicate key",
            format!(r#"{{"card":{{"number":"{p}"}},"card":{{"number":"x"}}}}"#),
        ),
        (
            "a nested duplicate",
            format!(r#"{{"card":{{"number":"{p}","number":"{p}"}}}}"#),
        ),
        ("truncated", good[..good.len() - 2].to_owned()),
        (
            "a comment",
            format!(r#"{{"amount":1000 /* c */,"card":{{"number":"{p}"}}}}"#),
        ),
        (
            "a line comment",
            format!("{{\"card\":{{\"number\":\"{p}\"}} // c\n}}"),
        ),
        (
            "NaN",
            format!(r#"{{"amount":NaN,"card":{{"number":"{p}"}}}}"#),
        ),
        (
            "Infinity",
            format!(r#"{{"amount":Infinity,"card":{{"number":"{p}"}}}}"#),
        ),
        (
            "a hex number",
            format!(r#"{{"amount":0x10,"card":{{"number":"{p}"}}}}"#),
        ),
        (
            "a leading zero",
            format!(r#"{{"amount":010,"card":{{"number":"{p}"}}}}"#),
        ),
        (
            "an out of range number",
            format!(r#"{{"amount":1e400,"card":{{"number":"{p}"}}}}"#),
        ),
        (
            "a lone surrogate",
            format!(r#"{{"x":"\ud800","card":{{"number":"{p}"}}}}"#),
        ),
        (
            "a lone low surrogate",
            format!(r#"{{"x":"\udc00","card":{{"number":"{p}"}}}}"#),
        ),
        ("a byte order mark", format!("\u{feff}{good}")),
        ("single quotes", format!("{{'card':{{'number':'{p}'}}}}")),
        (
            "a trailing comma",
            format!(r#"{{"card":{{"number":"{p}"}},}}"#),
        ),
        // What the old `&`/`=` fallback let through: a lenient JSON parser
        // at the processor reads the PAN into `description`.
        (
            "a form pair inside lenient JSON",
            format!(r#"{{"description":"x&pan={p}&y",}}"#),
        ),
        ("a top-level string", format!(r#""{p}""#)),
        (
            "XML",
            format!("<charge><card><number>{p}</number></card></charge>"),
        ),
        ("a form", format!("card%5Bnumber%5D={p}")),
        ("text", format!("card number {p}")),
    ] {
        h.refused(
            h.send("processor.example", json!({}), &body).await,
            "forward-body-invalid",
            &t,
            case,
        );
    }
}

#[tokio::test]
async fn form_bodies_that_do_not_parse_strictly_are_refused_and_nothing_is_sent() {
    let h = harness().await;
    let t = h.token(VISA, Expiry::Never).await;
    let p = format!("{{{{{t}}}}}");
    for (case, body) in [
        ("XML", format!("<charge><card>{p}</card></charge>")),
        ("JSON", format!(r#"{{"card":{{"number":"{p}"}}}}"#)),
        (
            "a duplicate card field",
            format!("card[number]={p}&card[number]=4000"),
        ),
        (
            "a duplicate card field, encoded",
            format!("card[number]={p}&card%5Bnumber%5D={p}"),
        ),
        ("a bad escape", format!("card[number]={p}&note=100%")),
        (
            "an escape that is not UTF-8",
            format!("card[number]={p}&note=%FF"),
        ),
        ("a raw space", format!("card[number]={p}&note=a b")),
        ("a name without =", format!("card[number]={p}&flag")),
        ("an empty pair", format!("card[number]={p}&&a=1")),
    ] {
        h.refused(
            h.send("forms.example", json!({}), &body).await,
            "forward-body-invalid",
            &t,
            case,
        );
    }
}

#[tokio::test]
async fn placeholders_outside_the_card_fields_are_refused_in_either_format() {
    let h = harness().await;
    let t = h.token(VISA, Expiry::Never).await;
    let p = format!("{{{{{t}}}}}");
    // An encoded placeholder is refused all the same; the audit names the
    // tokens a body mentions in plain `{{...}}` only.
    for (case, host, body, named) in [
        (
            "json: a free-text field",
            "processor.example",
            format!(r#"{{"description":"{p}"}}"#),
            &t,
        ),
        (
            "json: part of a card field",
            "processor.example",
            format!(r#"{{"pan":"ref {p}"}}"#),
            &t,
        ),
        (
            "json: a key",
            "processor.example",
            format!(r#"{{"{p}":"x"}}"#),
            &t,
        ),
        (
            "json: escaped braces",
            "processor.example",
            format!(r#"{{"note":"\u007b\u007b{t}}}}}"}}"#),
            &String::new(),
        ),
        (
            "form: a free-text field",
            "forms.example",
            format!("description={p}"),
            &t,
        ),
        (
            "form: metadata",
            "forms.example",
            format!("card[number]={p}&metadata[note]={p}"),
            &t,
        ),
        (
            "form: an encoded placeholder",
            "forms.example",
            format!("description=%7B%7B{t}%7D%7D"),
            &String::new(),
        ),
        ("form: a name", "forms.example", format!("{p}=1"), &t),
    ] {
        h.refused(
            h.send(host, json!({}), &body).await,
            "forward-placeholder-misplaced",
            named,
            case,
        );
    }
    // The capture prefix takes no placeholder at all.
    let (status, answer, _) = h
        .call(
            FORWARDER,
            json!({
                "url": h.url("processor.example", "/v1/charges/capture"),
                "method": "POST",
                "body": format!(r#"{{"card":{{"number":"{p}"}}}}"#),
                "reason": "capture",
            }),
        )
        .await;
    h.refused(
        (status, answer, String::new()),
        "forward-placeholder-misplaced",
        &t,
        "capture",
    );
}

#[tokio::test]
async fn a_content_type_other_than_the_format_and_a_header_named_twice_are_refused() {
    let h = harness().await;
    let t = h.token(VISA, Expiry::Never).await;
    let json_body = format!(r#"{{"card":{{"number":"{{{{{t}}}}}"}}}}"#);
    let form_body = format!("card[number]={{{{{t}}}}}");
    for (host, content_type, body) in [
        (
            "processor.example",
            "application/x-www-form-urlencoded",
            &json_body,
        ),
        ("processor.example", "text/xml", &json_body),
        (
            "processor.example",
            "application/json; charset=latin1",
            &json_body,
        ),
        ("forms.example", JSON, &form_body),
        ("forms.example", "text/plain", &form_body),
    ] {
        let sent = h
            .send(host, json!({ "content-type": content_type }), body)
            .await;
        h.refused(sent, "forward-content-type-mismatch", &t, content_type);
    }
    for headers in [
        json!({"Authorization": "Bearer sk_ours", "authorization": "Bearer sk_attacker"}),
        json!({"Content-Type": JSON, "content-type": JSON}),
        json!({"IDEMPOTENCY-KEY": "a", "Idempotency-Key": "b"}),
    ] {
        let sent = h
            .send("processor.example", headers.clone(), &json_body)
            .await;
        h.refused(sent, "forward-header-refused", &t, &headers.to_string());
    }
}

#[tokio::test]
async fn what_is_sent_is_the_checked_tree_serialized_with_the_formats_content_type() {
    let h = harness().await;
    let t = h.token(VISA, Expiry::Never).await;
    let body = format!(
        "{{ \"zeta\" : 1.50 ,\n \"card\" : {{ \"number\" : \"{{{{ {t} }}}}\" }}, \"pan\": \"{{{{{t}}}}}\", \"note\" : \"caf\\u00e9 \\/ }}}}\", \"alpha\": [true, null] }}"
    );
    let (status, answer, raw) = h
        .send(
            "processor.example",
            json!({"Content-Type": "application/json; charset=UTF-8"}),
            &body,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let received = h.stub.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].body,
        format!(
            r#"{{"zeta":1.5,"card":{{"number":"{VISA}"}},"pan":"{VISA}","note":"café / }}}}","alpha":[true,null]}}"#
        )
    );
    let types: Vec<&str> = received[0]
        .headers
        .iter()
        .filter(|(n, _)| n == "content-type")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(types, [JSON]);
    assert_eq!(find_card_numbers(&raw), vec![]);
    let audit = h.audit_lines().pop().expect("audit");
    assert_eq!(audit["fields"]["tokens"], 1);

    let form = format!(
        "amount=1000&card[number]={{{{+{t}+}}}}&description=order+42%21&expand[]=a&expand[]=b"
    );
    let (status, answer, _) = h.send("forms.example", json!({}), &form).await;
    assert_eq!(status, 200, "{answer}");
    let received = h.stub.received();
    assert_eq!(
        received[1].body,
        format!(
            "amount=1000&card%5Bnumber%5D={VISA}&description=order+42%21&expand%5B%5D=a&expand%5B%5D=b"
        )
    );
    assert!(
        received[1]
            .headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn a_request_without_a_body_is_sent_without_one() {
    let h = harness().await;
    let (status, answer, _) = h
        .call(
            FORWARDER,
            json!({
                "url": h.url("processor.example", "/v1/charges/ch_1"),
                "method": "GET",
                "reason": "status of order 42",
            }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let received = h.stub.received();
    assert_eq!(
        (received[0].method.as_str(), received[0].body.as_str()),
        ("GET", "")
    );
    assert!(received[0].headers.iter().all(|(n, _)| n != "content-type"));
}

#[tokio::test]
async fn a_refused_destination_is_audited_by_host_and_configured_prefix_only() {
    let h = harness().await;
    let t = h.token(VISA, Expiry::Never).await;
    let port = h.stub.addr.port();
    for (method, path, named) in [
        // Under a configured prefix, for a method it does not allow.
        (
            "DELETE",
            "/v1/charges/path-marker",
            format!("processor.example:{port}/v1/charges"),
        ),
        (
            "PUT",
            "/v1/charges/capture/path-marker",
            format!("processor.example:{port}/v1/charges/capture"),
        ),
        // Under no prefix: the host alone, never the path, even one whose
        // card number hides behind `:` separators.
        (
            "POST",
            "/v2/4111:1111:1111:1111",
            format!("processor.example:{port}"),
        ),
        (
            "POST",
            "/v2/path-marker",
            format!("processor.example:{port}"),
        ),
    ] {
        let (status, answer, _) = h
            .call(
                FORWARDER,
                json!({
                    "url": h.url("processor.example", path),
                    "method": method,
                    "body": format!(r#"{{"pan":"{{{{{t}}}}}"}}"#),
                    "reason": "r",
                }),
            )
            .await;
        assert!(status == 403 || status == 400, "{path}: {answer}");
        let audit = h.audit_lines().pop().expect("audit");
        assert_eq!(audit["fields"]["destination"], named.as_str(), "{path}");
        let log = h.log_text();
        assert!(
            !log.contains("path-marker") && !log.contains("4111:1111"),
            "{path}: {log}"
        );
    }
    assert_eq!(h.stub.received().len(), 0);
}

#[test]
fn configuration_that_would_allow_placeholders_without_card_fields_is_refused_at_start() {
    let dest = |fields: &str| {
        format!(
            r#"[{{"name":"a","host":"a.example","methods":["POST"],{fields}"paths":[{{"prefix":"/v1/charges"{{}}}}]}}]"#
        )
    };
    let cases = [
        // Card fields with no body format.
        (dest("").replace("{}", r#","card_fields":["/card/number"]"#), "body_format"),
        // A body format and no card fields.
        (dest(r#""body_format":"json","#).replace("{}", ""), "card_fields"),
        // Card fields for every path at once, as the old defaults were.
        (
            dest(r#""body_format":"json","card_fields":["/card/number"],"#).replace("{}", ""),
            "card_fields",
        ),
        // The old shape, which had default card fields.
        (
            r#"[{"name":"a","host":"a.example","path_prefixes":["/v1/charges"],"methods":["POST"]}]"#.to_owned(),
            "path_prefixes",
        ),
    ];
    for (config, named) in cases {
        let e = Destinations::parse(&config, "").expect_err(&config);
        assert!(e.contains(named), "{e} does not name {named}");
    }
}
