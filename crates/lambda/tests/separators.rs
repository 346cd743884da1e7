//! Card numbers grouped by colons or commas (`4111:1111:1111:1111`,
//! `4111,1111,1111,1111`) are card numbers in every caller string the
//! functions keep or log: a metadata value, a detokenize reason, and a
//! token path segment, whose refusal writes nothing of the card.

mod support;

use serde_json::json;
use support::{DESCRIBER, DETOKENIZER, Logs, TOKENIZER, VISA, call, stack, tokenize};

const WRITINGS: [&str; 4] = [
    "4111:1111:1111:1111",
    "4111,1111,1111,1111",
    "card 4111, 1111, 1111, 1111",
    "4111\u{FF1A}1111\u{FF1A}1111\u{FF1A}1111",
];

#[tokio::test]
async fn a_colon_or_comma_grouped_pan_is_refused_in_metadata_and_reason() {
    let s = stack();
    let token = tokenize(&s, VISA).await;
    for w in WRITINGS {
        let (status, out) = call(
            &s.tokenize,
            TOKENIZER,
            "POST",
            "/v1/tokens",
            json!({ "pan": VISA, "dedupe": false, "metadata": { "note": w } }),
        )
        .await;
        assert_eq!(status, 400, "{w:?} was stored: {out}");
        assert_eq!(out["type"], "urn:tessera:problem:invalid-metadata", "{w:?}");
        let (status, out) = call(
            &s.detokenize,
            DETOKENIZER,
            "POST",
            "/v1/detokenize",
            json!({ "token": token, "reason": w }),
        )
        .await;
        assert_eq!(status, 400, "{w:?} was accepted as a reason: {out}");
        assert_eq!(out["type"], "urn:tessera:problem:invalid-reason", "{w:?}");
    }
    // Times and lists still pass.
    let (status, out) = call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize",
        json!({ "token": token, "reason": "batch 2026-11-26 10:15:30, items 1,2,3" }),
    )
    .await;
    assert_eq!(status, 200, "{out}");
}

#[tokio::test]
async fn a_colon_grouped_pan_in_a_path_is_not_logged() {
    let s = stack();
    let logs = Logs::capture("info");
    let (status, out) = call(
        &s.tokenize,
        DESCRIBER,
        "GET",
        "/v1/tokens/4111:1111:1111:1111",
        serde_json::Value::Null,
    )
    .await;
    assert!((400..500).contains(&status), "{status} {out}");
    let text = format!("{out}\n{}", logs.capture.text());
    assert!(text.contains("\"target\":\"audit\""), "{text}");
    // (The core's detector would find the account id in the principal ARN.)
    // Not a bare "4111": a timestamp's fraction (".944111554") may hold it.
    for part in ["4111:", "1111:1111", "4111111111111111"] {
        assert!(!text.contains(part), "{part} in {text}");
    }
}
