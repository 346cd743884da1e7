//! The forward function in process, over the memory vault and a stub
//! processor on 127.0.0.1 with a test CA: round trip, placeholders, unknown
//! and expired tokens, destinations outside the caller's grant, every SSRF
//! case, TLS verification, redirects, timeout, size limit, scrubbing of the
//! processor's answer, and the audit event's content.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use support::forward::{Harness, Setup, TableResolver, Trust};
use support::{MASTERCARD, VISA, role};
use tessera_core::*;
use tessera_lambda::forward::egress::{AddressPolicy, Egress, Roots};
use tessera_testkit::find_card_numbers;

const FORWARDER: &str = "payments-forwarder";

/// Eight destinations on the stub's port, seven granted to the forwarder:
/// the stub itself, one whose certificate does not match, and hosts that
/// resolve to metadata, private, mapped or rebinding addresses.
async fn harness_with(policy: AddressPolicy, trust: Trust) -> Harness {
    support::forward::harness(Setup {
        stub_hosts: &[
            "processor.example",
            "mixed.example",
            "rebind.example",
            "metadata.example",
        ],
        resolver: |stub| {
            let at = |ip: &str| SocketAddr::new(ip.parse().expect("ip"), stub.port());
            TableResolver {
                table: HashMap::from([
                    ("processor.example".to_owned(), vec![stub]),
                    ("wrong.example".to_owned(), vec![stub]),
                    ("metadata.example".to_owned(), vec![at("169.254.169.254")]),
                    ("v6metadata.example".to_owned(), vec![at("fd00:ec2::254")]),
                    ("mixed.example".to_owned(), vec![stub, at("10.0.0.7")]),
                    ("mapped.example".to_owned(), vec![at("::ffff:127.0.0.1")]),
                ]),
                rebind: HashMap::from([(
                    "rebind.example".to_owned(),
                    (stub, at("169.254.169.254")),
                )]),
                calls: AtomicUsize::new(0),
            }
        },
        destinations: |port| {
            let fields = r#"["/a","/b","/card","/backup","/again","/card/number"]"#;
            let paths = ["/v1/charges", "/v1/slow", "/v1/big", "/v1/binary", "/v1/redirect"]
                .map(|p| format!(r#"{{"prefix":"{p}","card_fields":{fields}}}"#))
                .join(",");
            let dest = |name: &str, host: &str| {
                format!(
                    r#"{{"name":"{name}","host":"{host}","port":{port},"methods":["POST","GET"],"body_format":"json","paths":[{paths}],"query":true}}"#
                )
            };
            format!(
                "[{}]",
                [
                    dest("stub", "processor.example"),
                    dest("wrong", "wrong.example"),
                    dest("metadata", "metadata.example"),
                    dest("v6metadata", "v6metadata.example"),
                    dest("mixed", "mixed.example"),
                    dest("mapped", "mapped.example"),
                    dest("rebind", "rebind.example"),
                    dest("other", "other.example"),
                ]
                .join(",")
            )
        },
        grants: format!(
            "{}=stub,wrong,metadata,v6metadata,mixed,mapped,rebind",
            role(FORWARDER)
        ),
        forwarders: &[FORWARDER, "other-forwarder"],
        policy,
        trust,
    })
    .await
}

async fn harness() -> Harness {
    harness_with(AddressPolicy::with_loopback_for_tests(), Trust::StubCa).await
}

impl Harness {
    async fn forward(&self, url: String, body: &str) -> (u64, Value, String) {
        self.call(
            FORWARDER,
            json!({
                "url": url,
                "method": "POST",
                "headers": {"content-type": "application/json", "authorization": "Bearer sk_test_processor"},
                "body": body,
                "reason": "charge order 42",
            }),
        )
        .await
    }
}

fn problem(body: &Value) -> &str {
    body["type"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn round_trip_with_several_placeholders_sends_pans_and_returns_a_scrubbed_answer() {
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let mc = h.token(MASTERCARD, Expiry::Never).await;
    let body = format!(
        r#"{{"amount":1000,"card":"{{{{{visa}}}}}","backup":"{{{{ {mc} }}}}","again":"{{{{{visa}}}}}"}}"#
    );
    let reads_before = h.vault.stats().reads;
    let (status, answer, raw) = h
        .forward(
            h.url("processor.example", "/v1/charges?idempotency=abc"),
            &body,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    // The processor received the PANs, in the body only.
    let received = h.stub.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/v1/charges?idempotency=abc");
    assert_eq!(
        got.body,
        format!(r#"{{"amount":1000,"card":"{VISA}","backup":"{MASTERCARD}","again":"{VISA}"}}"#)
    );
    // One batch read for the distinct tokens.
    assert_eq!(h.vault.stats().reads - reads_before, 1);
    // Only the body's headers went out: never the caller's SigV4 or session token.
    let sent: HashMap<_, _> = got.headers.iter().cloned().collect();
    assert_eq!(
        sent.get("authorization").map(String::as_str),
        Some("Bearer sk_test_processor")
    );
    assert!(!sent.contains_key("x-amz-security-token"));
    assert!(
        got.headers
            .iter()
            .all(|(_, v)| !v.contains("caller-signature"))
    );
    assert_eq!(
        sent.get("host").map(String::as_str),
        Some(format!("processor.example:{}", h.stub.addr.port()).as_str())
    );
    // The caller got the processor's status, headers and body, card numbers
    // masked: plain, in a header, and hidden in JSON escapes.
    assert_eq!(answer["status"], 201);
    let stub_body: Value =
        serde_json::from_str(answer["body"].as_str().expect("body")).expect("json");
    assert_eq!(stub_body["card"]["number"], "411111******1111");
    assert_eq!(stub_body["escaped"], "411111******1111");
    let card_header = answer["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .find(|h| h[0] == "x-stub-card")
        .expect("x-stub-card");
    assert_eq!(card_header[1], "411111******1111");
    assert_eq!(
        find_card_numbers(&raw),
        vec![],
        "a card number reached the caller"
    );
}

#[tokio::test]
async fn audit_names_destination_tokens_reason_and_upstream_but_no_pan_body_or_query() {
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let mc = h.token(MASTERCARD, Expiry::Never).await;
    let body =
        format!(r#"{{"note":"secret-body-marker","a":"{{{{{visa}}}}}","b":"{{{{{mc}}}}}"}}"#);
    let (status, _, _) = h
        .forward(
            h.url("processor.example", "/v1/charges/ch_1?query-marker=1"),
            &body,
        )
        .await;
    assert_eq!(status, 200);
    let audit = h.audit_lines();
    assert_eq!(audit.len(), 1, "one audit event");
    let f = &audit[0]["fields"];
    assert_eq!(f["operation"], "forward");
    assert_eq!(f["principal"], role(FORWARDER));
    assert_eq!(
        f["destination"],
        format!("processor.example:{}/v1/charges", h.stub.addr.port())
    );
    assert_eq!(f["tokens"], 2);
    assert_eq!(f["reason"], "charge order 42");
    assert_eq!(f["upstream_status"], "201");
    assert!(
        f["upstream_latency_ms"]
            .as_str()
            .is_some_and(|s| s.parse::<u64>().is_ok())
    );
    let hints = f["token_hint"].as_str().expect("hints");
    assert_eq!(
        hints,
        format!("{},{}", &visa[visa.len() - 4..], &mc[mc.len() - 4..])
    );
    let log = h.log_text();
    assert_eq!(find_card_numbers(&log), vec![], "a card number in the log");
    for marker in [
        "secret-body-marker",
        "query-marker",
        "ch_1",
        "approved",
        "sk_test_processor",
    ] {
        assert!(!log.contains(marker), "{marker} in the log");
    }
}

#[tokio::test]
async fn unknown_and_expired_tokens_send_nothing() {
    let h = harness().await;
    let live = h.token(VISA, Expiry::Never).await;
    let expiring = h.token(MASTERCARD, Expiry::After { seconds: 60 }).await;
    h.clock.advance_millis(120_000);
    for token in ["tok_0000000000000000000000000z".to_owned(), expiring] {
        let body = format!(r#"{{"a":"{{{{{live}}}}}","b":"{{{{{token}}}}}"}}"#);
        let (status, answer, _) = h
            .forward(h.url("processor.example", "/v1/charges"), &body)
            .await;
        assert_eq!(status, 404, "{answer}");
        assert_eq!(problem(&answer), "urn:tessera:problem:token-not-found");
    }
    let (status, answer, _) = h
        .forward(
            h.url("processor.example", "/v1/charges"),
            r#"{"a":"{{not-a-token}}"}"#,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(h.stub.received().len(), 0, "nothing may be sent");
}

#[tokio::test]
async fn a_destination_outside_the_callers_grant_is_refused_before_any_token_is_read() {
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let body = format!(r#"{{"a":"{{{{{visa}}}}}"}}"#);
    let reads = h.vault.stats().reads;
    for url in [
        h.url("other.example", "/v1/charges"),
        h.url("processor.example", "/v2/charges"),
        h.url("processor.example", "/v1/chargesx"),
        format!(
            "https://processor.example:{}/v1/charges",
            h.stub.addr.port() + 1
        ),
    ] {
        let (status, answer, _) = h.forward(url.clone(), &body).await;
        assert_eq!(status, 403, "{url}: {answer}");
        assert_eq!(
            problem(&answer),
            "urn:tessera:problem:destination-not-allowed"
        );
    }
    // A role on the allow-list but with no grant at all.
    let (status, answer, _) = h
        .call(
            "other-forwarder",
            json!({"url": h.url("processor.example", "/v1/charges"), "method": "POST", "body": body, "reason": "r"}),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(
        problem(&answer),
        "urn:tessera:problem:destination-not-allowed"
    );
    // A method the destination does not allow.
    let (status, _, _) = h
        .call(
            FORWARDER,
            json!({"url": h.url("processor.example", "/v1/charges"), "method": "DELETE", "body": body, "reason": "r"}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(h.vault.stats().reads, reads, "no token was read");
    assert_eq!(h.stub.received().len(), 0);
}

#[tokio::test]
async fn internal_addresses_are_refused_even_when_dns_for_an_allowed_host_returns_them() {
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let body = format!(r#"{{"a":"{{{{{visa}}}}}"}}"#);
    for host in [
        "metadata.example",
        "v6metadata.example",
        "mixed.example",
        "mapped.example",
    ] {
        let (status, answer, _) = h.forward(h.url(host, "/v1/charges"), &body).await;
        assert_eq!(status, 502, "{host}: {answer}");
        assert_eq!(
            problem(&answer),
            "urn:tessera:problem:upstream-address-forbidden",
            "{host}"
        );
    }
    assert_eq!(h.stub.received().len(), 0);
    // IP literals and localhost are refused as URLs, before any lookup.
    for url in [
        format!("https://127.0.0.1:{}/v1/charges", h.stub.addr.port()),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[fd00:ec2::254]/latest/meta-data/".to_owned(),
        format!("https://localhost:{}/v1/charges", h.stub.addr.port()),
        format!("http://processor.example:{}/v1/charges", h.stub.addr.port()),
    ] {
        let (status, answer, _) = h.forward(url.clone(), &body).await;
        assert_eq!(status, 400, "{url}: {answer}");
        assert_eq!(
            problem(&answer),
            "urn:tessera:problem:invalid-destination",
            "{url}"
        );
    }
}

#[tokio::test]
async fn loopback_is_refused_by_the_production_policy() {
    let h = harness_with(AddressPolicy::public_only(), Trust::StubCa).await;
    let (status, answer, _) = h
        .forward(h.url("processor.example", "/v1/charges"), "{}")
        .await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(
        problem(&answer),
        "urn:tessera:problem:upstream-address-forbidden"
    );
    assert_eq!(h.stub.received().len(), 0);
}

#[tokio::test]
async fn the_connection_goes_to_the_address_that_was_checked() {
    let h = harness().await;
    // rebind.example answers the stub once, then the metadata service: a
    // second lookup at connect time would reach 169.254.169.254.
    let (status, answer, _) = h
        .forward(h.url("rebind.example", "/v1/charges"), "{}")
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        h.resolver.calls.load(Ordering::SeqCst),
        1,
        "resolved exactly once"
    );
    assert_eq!(h.stub.received().len(), 1);
}

#[tokio::test]
async fn tls_certificate_and_host_name_are_verified() {
    let h = harness_with(AddressPolicy::with_loopback_for_tests(), Trust::OtherCa).await;
    let (status, answer, _) = h
        .forward(h.url("processor.example", "/v1/charges"), "{}")
        .await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(problem(&answer), "urn:tessera:problem:upstream-unreachable");
    let h = harness().await;
    // wrong.example resolves to the stub, whose certificate does not name it.
    let (status, answer, _) = h.forward(h.url("wrong.example", "/v1/charges"), "{}").await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(problem(&answer), "urn:tessera:problem:upstream-unreachable");
    assert_eq!(h.stub.received().len(), 0);
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let h = harness().await;
    let (status, answer, _) = h
        .forward(h.url("processor.example", "/v1/redirect"), "{}")
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], 302);
    assert_eq!(h.stub.received().len(), 1, "the redirect was not followed");
}

#[tokio::test]
async fn a_slow_processor_is_a_504_and_a_huge_answer_a_502() {
    let h = harness().await;
    let (status, answer, _) = h
        .forward(h.url("processor.example", "/v1/slow"), "{}")
        .await;
    assert_eq!(status, 504, "{answer}");
    assert_eq!(problem(&answer), "urn:tessera:problem:upstream-timeout");
    let audit = h.audit_lines();
    assert_eq!(audit[0]["fields"]["upstream_status"], "");
    let (status, answer, _) = h.forward(h.url("processor.example", "/v1/big"), "{}").await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(problem(&answer), "urn:tessera:problem:upstream-too-large");
}

#[tokio::test]
async fn placeholders_and_card_numbers_are_refused_outside_the_body() {
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let reads = h.vault.stats().reads;
    let url = |q: &str| h.url("processor.example", &format!("/v1/charges?{q}"));
    for (url, headers) in [
        (url(&format!("card={{{{{visa}}}}}")), json!({})),
        (url(&format!("card=%7B%7B{visa}%7D%7D")), json!({})),
        (url(&format!("card={VISA}")), json!({})),
        (url("x=1"), json!({"x-card": format!("{{{{{visa}}}}}")})),
        (url("x=1"), json!({"x-card": "4111 1111 1111 1111"})),
        (url("x=1"), json!({"host": "evil.example"})),
        (url("x=1"), json!({"x-amz-security-token": "t"})),
        (url("x=1"), json!({"transfer-encoding": "chunked"})),
    ] {
        let (status, answer, _) = h
            .call(
                FORWARDER,
                json!({"url": url, "method": "POST", "headers": headers, "body": "{}", "reason": "r"}),
            )
            .await;
        assert_eq!(status, 400, "{url} {headers}: {answer}");
    }
    assert_eq!(h.vault.stats().reads, reads);
    assert_eq!(h.stub.received().len(), 0);
}

/// Problem kinds only forward produces; `promises.rs` produces every other
/// kind through the other three functions.
fn forward_only(slug: &str) -> bool {
    slug.starts_with("upstream-")
        || slug.starts_with("forward-")
        || slug.ends_with("destination")
        || slug.starts_with("destination-")
}

#[tokio::test]
async fn every_forward_problem_kind_is_produced_by_some_request() {
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let body = format!(r#"{{"a":"{{{{{visa}}}}}"}}"#);
    let mut produced = std::collections::BTreeSet::new();
    let mut expect = |(status, answer, _): (u64, Value, String), slug: &str| {
        assert_eq!(
            problem(&answer),
            format!("urn:tessera:problem:{slug}"),
            "{status}: {answer}"
        );
        produced.insert(slug.to_owned());
    };
    expect(
        h.forward("https://127.0.0.1/v1/charges".into(), &body)
            .await,
        "invalid-destination",
    );
    expect(
        h.forward(h.url("other.example", "/v1/charges"), &body)
            .await,
        "destination-not-allowed",
    );
    expect(
        h.forward(h.url("metadata.example", "/v1/charges"), &body)
            .await,
        "upstream-address-forbidden",
    );
    expect(
        h.forward(h.url("wrong.example", "/v1/charges"), &body)
            .await,
        "upstream-unreachable",
    );
    expect(
        h.forward(h.url("processor.example", "/v1/big"), "{}").await,
        "upstream-too-large",
    );
    expect(
        h.forward(h.url("processor.example", "/v1/binary"), "{}")
            .await,
        "upstream-invalid",
    );
    expect(
        h.forward(h.url("processor.example", "/v1/slow"), "{}")
            .await,
        "upstream-timeout",
    );
    let url = h.url("processor.example", "/v1/charges");
    expect(
        h.forward(url.clone(), &format!("{body} trailing")).await,
        "forward-body-invalid",
    );
    expect(
        h.forward(url.clone(), &body.replace("\"a\"", "\"note\""))
            .await,
        "forward-placeholder-misplaced",
    );
    let with = |headers: Value| json!({"url": url, "method": "POST", "headers": headers, "body": body, "reason": "r"});
    expect(
        h.call(FORWARDER, with(json!({"content-type": "text/xml"})))
            .await,
        "forward-content-type-mismatch",
    );
    expect(
        h.call(FORWARDER, with(json!({"Accept": "a", "accept": "b"})))
            .await,
        "forward-header-refused",
    );
    expect(
        h.forward(h.url("processor.example", "/v1/charges?echo=base64"), &body)
            .await,
        "upstream-unscrubbable",
    );
    let all: std::collections::BTreeSet<String> = tessera_lambda::problem::Kind::ALL
        .iter()
        .map(|k| k.slug().to_owned())
        .filter(|s| forward_only(s))
        .collect();
    assert_eq!(produced, all, "a forward problem kind no request produces");
}

/// p50 of a sample, in microseconds.
fn p(sample: &mut [u128], q: f64) -> u128 {
    sample.sort_unstable();
    let i = ((sample.len() as f64 - 1.0) * q).round() as usize;
    sample[i.min(sample.len() - 1)]
}

#[tokio::test]
#[ignore = "measurement: cargo test --release -p tessera-lambda --test forward -- --ignored --nocapture forward_overhead"]
async fn forward_overhead_over_a_direct_call() {
    use http::{HeaderMap, Method};
    use tessera_lambda::forward::egress::Outbound;
    use zeroize::Zeroizing;

    const ROUNDS: usize = 300;
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let direct = Egress::new(
        h.resolver.clone(),
        AddressPolicy::with_loopback_for_tests(),
        Roots::TestCa(h.stub.ca_pem.clone()),
    )
    .expect("egress");
    let template = format!(r#"{{"amount":1000,"card":{{"number":"{{{{{visa}}}}}"}}}}"#);
    let plain = format!(r#"{{"amount":1000,"card":{{"number":"{VISA}"}}}}"#);
    let url = h.url("processor.example", "/v1/charges");
    let (mut d, mut f) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    for i in 0..ROUNDS + 20 {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().expect("header"));
        let started = std::time::Instant::now();
        let answer = direct
            .send(Outbound {
                method: Method::POST,
                host: "processor.example".into(),
                port: h.stub.addr.port(),
                path_and_query: "/v1/charges".into(),
                headers,
                body: Zeroizing::new(plain.clone().into_bytes()),
            })
            .await
            .expect("direct");
        let direct_us = started.elapsed().as_micros();
        assert_eq!(answer.status, 201);
        let started = std::time::Instant::now();
        let (status, _, _) = h.forward(url.clone(), &template).await;
        let forward_us = started.elapsed().as_micros();
        assert_eq!(status, 200);
        if i >= 20 {
            d.push(direct_us);
            f.push(forward_us);
        }
        h.audit.clear();
    }
    let (d50, f50) = (p(&mut d, 0.5), p(&mut f, 0.5));
    println!(
        "direct TLS call p50 {d50} us p90 {} us; forward p50 {f50} us p90 {} us; overhead p50 {} us ({ROUNDS} rounds, memory vault)",
        p(&mut d, 0.9),
        p(&mut f, 0.9),
        f50.saturating_sub(d50)
    );
}
