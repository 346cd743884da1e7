//! Dedup answers are granted, not a default (issue 20, item 3): a tokenize
//! role off `TESSERA_DEDUP_ROLES` gets a new token for every call and no
//! lookup, so tokenize is no membership oracle for it; every answer is
//! counted per principal (audit `dedup_hits`/`new_tokens`, EMF `DedupHits`/
//! `NewTokens`), batch items included. Also: a refused request's body is
//! read for its audit facts only within the size limit.

mod support;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use support::*;
use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;
use tessera_lambda::auth::{AllowList, ApiOrigin};
use tessera_lambda::envelope::{Access, MAX_BODY_BYTES};
use tessera_lambda::scopes::Scopes;
use tessera_lambda::{App, Tokenize};

/// A tokenize role that is not granted dedup answers.
const LEDGER: &str = "ledger-tokenizer";

struct Fixture {
    app: App<Tokenize>,
    vault: Arc<MemoryVault>,
    metrics: Arc<Mutex<Vec<String>>>,
}

/// Tokenize for TOKENIZER (granted dedup) and LEDGER (not), both in the
/// default scope, so a card one tokenized is in the other's scope too.
fn fixture() -> Fixture {
    fixture_granting(&role(TOKENIZER))
}

/// The fixture with `granted` (comma-separated ARNs) on the dedup list.
fn fixture_granting(granted: &str) -> Fixture {
    let vault = Arc::new(MemoryVault::new());
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "grant".into(),
    };
    let key = FingerprintKey::new(&[5; 32], "v1").expect("key");
    let both = format!("{},{}", role(TOKENIZER), role(LEDGER));
    let scopes = Scopes::parse(&format!("default={both}")).expect("scopes");
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let metrics = metrics.clone();
        Arc::new(move |line: String| metrics.lock().expect("metrics").push(line))
    };
    let app = App::new(
        Tokenize::new(
            Tokenizer::new(
                ports,
                vault.clone(),
                Arc::new(MemoryKeyRing::new("grant")),
                Fingerprinter::new(&key),
                CacheLimits::default(),
            ),
            scopes,
        )
        .with_dedup_roles(AllowList::parse(granted).expect("dedup roles")),
        Access {
            origin: ApiOrigin::parse("api", "$default").expect("origin"),
            lists: vec![(
                "TESSERA_TOKENIZE_ROLES",
                AllowList::parse(&both).expect("list"),
            )],
            dev_principal: None,
        },
        sink,
    );
    Fixture {
        app,
        vault,
        metrics,
    }
}

impl Fixture {
    fn last_metrics(&self) -> Value {
        let lines = self.metrics.lock().expect("metrics");
        serde_json::from_str(lines.last().expect("a metrics line")).expect("EMF")
    }
}

/// The audit event's counts and the metrics line's, which must agree.
fn counts(logs: &Logs, f: &Fixture) -> (u64, u64) {
    let audit = logs.last_audit();
    let emf = f.last_metrics();
    assert_eq!(audit["dedup_hits"], emf["DedupHits"], "{audit} {emf}");
    assert_eq!(audit["new_tokens"], emf["NewTokens"], "{audit} {emf}");
    (
        audit["dedup_hits"].as_u64().expect("dedup_hits"),
        audit["new_tokens"].as_u64().expect("new_tokens"),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn a_role_without_the_grant_gets_a_new_token_every_time() {
    let f = fixture();
    let logs = Logs::capture("info");
    let (s1, first) = call(&f.app, LEDGER, "POST", "/v1/tokens", json!({"pan": VISA})).await;
    assert_eq!(s1, 201, "{first}");
    assert_eq!(counts(&logs, &f), (0, 1));
    let (s2, second) = call(&f.app, LEDGER, "POST", "/v1/tokens", json!({"pan": VISA})).await;
    assert_eq!(s2, 201, "a second call is no dedup answer: {second}");
    assert_ne!(first["token"], second["token"]);
    assert_eq!(counts(&logs, &f), (0, 1));

    // The granted role, in the same scope, is told its existing token.
    let (g1, mine) = call(
        &f.app,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({"pan": VISA}),
    )
    .await;
    assert_eq!(g1, 201, "no index item from the ungranted calls: {mine}");
    let (g2, again) = call(
        &f.app,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({"pan": VISA}),
    )
    .await;
    assert_eq!(g2, 200, "{again}");
    assert_eq!(mine["token"], again["token"]);
    assert_eq!(counts(&logs, &f), (1, 0));

    // Whatever the granted role stored, the ungranted one still learns nothing.
    let (s3, third) = call(&f.app, LEDGER, "POST", "/v1/tokens", json!({"pan": VISA})).await;
    assert_eq!(s3, 201, "{third}");
    assert_ne!(third["token"], mine["token"]);
}

#[tokio::test(flavor = "current_thread")]
async fn asking_for_dedup_or_lookup_without_the_grant_is_refused_and_stores_nothing() {
    let f = fixture();
    let logs = Logs::capture("info");
    let (status, mine) = call(
        &f.app,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({"pan": VISA}),
    )
    .await;
    assert_eq!(status, 201, "{mine}");
    let stored = (f.vault.record_count(), f.vault.index_entries().len());

    let (status, body) = call(
        &f.app,
        LEDGER,
        "POST",
        "/v1/tokens",
        json!({"pan": VISA, "dedupe": true}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["type"], "urn:tessera:problem:dedup-not-granted");
    assert!(!body.to_string().contains("4111"), "{body}");
    assert_eq!(logs.last_audit()["problem"], "dedup-not-granted");

    let (status, body) = call(
        &f.app,
        LEDGER,
        "POST",
        "/v1/tokens/lookup",
        json!({"pan": VISA}),
    )
    .await;
    assert_eq!(status, 403, "a hit must not be told: {body}");
    assert_eq!(body["type"], "urn:tessera:problem:dedup-not-granted");
    assert_eq!(logs.last_audit()["operation"], "lookup");
    assert_eq!(
        (f.vault.record_count(), f.vault.index_entries().len()),
        stored,
        "nothing written by refused calls"
    );

    // The granted role may look up; a hit counts as a dedup answer.
    let (status, found) = call(
        &f.app,
        TOKENIZER,
        "POST",
        "/v1/tokens/lookup",
        json!({"pan": VISA}),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["token"], mine["token"]);
    assert_eq!(counts(&logs, &f), (1, 0));
}

#[tokio::test(flavor = "current_thread")]
async fn batch_items_are_counted_one_by_one_and_refused_one_by_one() {
    let f = fixture();
    let logs = Logs::capture("info");
    let (status, seeded) = call(
        &f.app,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({"pan": VISA}),
    )
    .await;
    assert_eq!(status, 201, "{seeded}");

    let items = json!({"items": [
        {"pan": VISA},
        {"pan": MASTERCARD},
        {"pan": VISA, "dedupe": false},
    ]});
    let (status, body) = call(&f.app, TOKENIZER, "POST", "/v1/tokens/batch", items.clone()).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results[0]["status"], 200, "{body}");
    assert_eq!(results[0]["token"], seeded["token"]);
    assert_eq!(results[1]["status"], 201, "{body}");
    assert_eq!(results[2]["status"], 201, "{body}");
    assert_eq!(counts(&logs, &f), (1, 2));

    let (status, body) = call(&f.app, LEDGER, "POST", "/v1/tokens/batch", items).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    for r in results {
        assert_eq!(
            r["status"], 201,
            "no dedup answer in a batch either: {body}"
        );
        assert_ne!(r["token"], seeded["token"]);
    }
    assert_eq!(counts(&logs, &f), (0, 3));

    let asked = json!({"items": [{"pan": VISA, "dedupe": true}, {"pan": MASTERCARD}]});
    let (status, body) = call(&f.app, LEDGER, "POST", "/v1/tokens/batch", asked).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"][0]["error"]["type"], "urn:tessera:problem:dedup-not-granted",
        "{body}"
    );
    assert_eq!(body["results"][1]["status"], 201, "{body}");
    assert_eq!(counts(&logs, &f), (0, 1));
}

#[tokio::test(flavor = "current_thread")]
async fn the_grant_is_part_of_the_config_digest() {
    let logs = Logs::capture("info");
    let mut digests = Vec::new();
    for granted in [
        role(TOKENIZER),
        format!("{},{}", role(TOKENIZER), role(LEDGER)),
    ] {
        let f = fixture_granting(&granted);
        call(
            &f.app,
            TOKENIZER,
            "POST",
            "/v1/tokens",
            json!({"pan": VISA}),
        )
        .await;
        digests.push(logs.last_audit()["authz_config_sha256"].clone());
    }
    assert_ne!(digests[0], digests[1], "granting dedup changes the digest");
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_request_over_the_size_limit_is_not_parsed_for_its_audit() {
    let s = stack();
    let token = tokenize(&s, VISA).await;
    let logs = Logs::capture("info");
    // A principal on no list: refused before routing, audited with what the
    // body names only when the body is within the limit.
    let small = json!({"token": token, "reason": "x"});
    let (status, _) = call(&s.detokenize, "intruder", "POST", "/v1/detokenize", small).await;
    assert_eq!(status, 403);
    let hint = &token[token.len() - 4..];
    assert_eq!(logs.last_audit()["token_hint"], hint);

    let padding = "x".repeat(MAX_BODY_BYTES);
    // Fields it accepts (an over-long reason still lets the token be noted).
    let large = json!({"token": token, "reason": padding});
    let (status, _) = call(&s.detokenize, "intruder", "POST", "/v1/detokenize", large).await;
    assert_eq!(status, 403);
    assert_eq!(
        logs.last_audit()["token_hint"],
        "",
        "an oversized refused body must not be parsed"
    );
}
