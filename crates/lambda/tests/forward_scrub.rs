//! The forward function end to end with a processor that echoes the card in
//! a form masking cannot reach (base64): the caller gets a 502 with none of
//! the processor's body or headers, and the audit event says why.

mod support;

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use support::forward::{Setup, TableResolver, Trust};
use support::{VISA, role};
use tessera_core::Expiry;
use tessera_lambda::forward::egress::AddressPolicy;
use tessera_lambda::forward::scrub::base64_needles;
use tessera_testkit::find_card_numbers;

const FORWARDER: &str = "payments-forwarder";

#[tokio::test]
async fn a_base64_echo_of_the_card_is_refused_with_no_processor_body_or_headers() {
    let h = support::forward::harness(Setup {
        stub_hosts: &["processor.example"],
        resolver: |stub| TableResolver {
            table: HashMap::from([("processor.example".to_owned(), vec![stub])]),
            rebind: HashMap::new(),
            calls: AtomicUsize::new(0),
        },
        destinations: |port| {
            format!(
                r#"[{{"name":"stub","host":"processor.example","port":{port},"methods":["POST"],"body_format":"json","paths":[{{"prefix":"/v1/charges","card_fields":["/card"]}}],"query":true}}]"#
            )
        },
        grants: format!("{}=stub", role(FORWARDER)),
        forwarders: &[FORWARDER],
        policy: AddressPolicy::with_loopback_for_tests(),
        trust: Trust::StubCa,
    })
    .await;
    let token = h.token(VISA, Expiry::Never).await;
    let call = |query: &'static str| {
        json!({
            "url": h.url("processor.example", &format!("/v1/charges{query}")),
            "method": "POST",
            "headers": {"content-type": "application/json"},
            "body": format!(r#"{{"amount":1000,"card":"{{{{{token}}}}}"}}"#),
            "reason": "charge order 42",
        })
    };

    // The plain echo is masked and returned, as before.
    let (status, answer, _) = h.call(FORWARDER, call("")).await;
    assert_eq!(status, 200, "{answer}");

    let (status, answer, raw) = h.call(FORWARDER, call("?echo=base64")).await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["type"], "urn:tessera:problem:upstream-unscrubbable");
    // The processor did answer (with the card in base64), and got the card.
    let received = h.stub.received();
    assert_eq!(received.len(), 2);
    assert!(received[1].body.contains(VISA));
    // None of the processor's answer reaches the caller.
    for absent in [
        "receipt",
        "ch_stub_2",
        "approved",
        "x-stub-receipt",
        "attached",
    ] {
        assert!(!raw.contains(absent), "{absent} returned: {raw}");
    }
    assert!(answer.get("body").is_none() && answer.get("headers").is_none());
    let echoed = STANDARD.encode(format!(r#"{{"amount":1000,"card":"{VISA}"}}"#));
    let needles = base64_needles(VISA.as_bytes());
    assert!(needles.iter().any(|n| echoed.contains(n.as_str())));
    // The audit event says why, and nothing anywhere holds the card.
    let audit = h.audit_lines();
    let refused = audit.last().expect("an audit event");
    assert_eq!(refused["fields"]["problem"], "upstream-unscrubbable");
    assert_eq!(refused["fields"]["upstream_status"], "201");
    let log = h.log_text();
    assert!(log.contains("forward refused the destination's answer"));
    assert!(log.contains("base64"));
    for text in [&raw, &log] {
        assert_eq!(find_card_numbers(text), vec![]);
        assert!(!needles.iter().any(|n| text.contains(n.as_str())));
    }
}

/// An attacker review's cases: a processor that truncates or groups its
/// echo, or writes it in another script, returned hidden digits, which with
/// the BIN, last 4 and the check digit give exactly one card.
#[test]
fn grouped_truncated_and_other_script_fragments_lose_their_hidden_digits() {
    const PAN: &str = "4111112233445569";
    let cases = [
        (r#"{"d":"4111 1122 334"}"#, r#"{"d":"4111 11** ***"}"#),
        (r#"{"d":"4111-1122-334"}"#, r#"{"d":"4111-11**-***"}"#),
        (r#"{"d":"22 3344 5569"}"#, r#"{"d":"** **** 5569"}"#),
        (r#"{"m":"223344"}"#, r#"{"m":"******"}"#),
        (
            "{\"d\":\"\u{664}\u{661}\u{661}\u{661}\u{661}\u{661}\u{662}\u{662}\u{663}\u{663}\u{664}\"}",
            "{\"d\":\"\u{664}\u{661}\u{661}\u{661}\u{661}\u{661}*****\"}",
        ),
        (
            "{\"d\":\"\u{ff12}\u{ff12}\u{ff13}\u{ff13}\u{ff14}\u{ff14}\u{ff15}\u{ff15}\u{ff16}\u{ff19}\"}",
            "{\"d\":\"******\u{ff15}\u{ff15}\u{ff16}\u{ff19}\"}",
        ),
    ];
    for (answer, expected) in cases {
        let out = tessera_lambda::forward::scrub::body(answer.as_bytes(), &[PAN]).expect(answer);
        assert_eq!(out, expected, "{answer}");
    }
    // Ordinary numbers beside a sent card stay: an amount, a date, the BIN.
    let plain = r#"{"amount":"1000","date":"2026-12-07","bin":"411111","last4":"5569"}"#;
    assert_eq!(
        tessera_lambda::forward::scrub::body(plain.as_bytes(), &[PAN]).expect("scrubbed"),
        plain
    );
}
