//! What README promises about the API, each through the whole handler over
//! memory ports: the body limit, batch sizes, every problem type, outages,
//! correlation ids, dedup, metrics, the dev principal, the key-cache bound,
//! and an audit event for every attempt, failed or not.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};
use support::*;
use tessera_core::memory::MemoryVault;
use tessera_core::*;
use tessera_lambda::problem::Kind;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");

fn problem_type(body: &Value) -> String {
    body["type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("urn:tessera:problem:")
        .to_owned()
}

fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    response["headers"][name].as_str()
}

/// A tokenize body of exactly `size` bytes: a valid request padded with
/// JSON whitespace.
fn padded_body(size: usize) -> String {
    let head = format!("{{\"pan\":\"{VISA}\",\"dedupe\":false");
    format!("{head}{}}}", " ".repeat(size - head.len() - 1))
}

#[tokio::test]
async fn the_body_limit_is_64_kib_exactly() {
    let s = stack();
    for (size, want) in [(65_536, 201), (65_537, 413)] {
        let body = padded_body(size);
        assert_eq!(body.len(), size);
        let response = send(
            &s.tokenize,
            raw_event(TOKENIZER, "POST", "/v1/tokens", Value::String(body)),
        )
        .await;
        let (status, out) = status_and_body(&response);
        assert_eq!(status, want, "{size} bytes: {out}");
        if want == 413 {
            assert_eq!(problem_type(&out), "payload-too-large");
        }
    }
}

#[tokio::test]
async fn batches_take_one_to_one_hundred_items() {
    let s = stack();
    let token = tokenize(&s, VISA).await;
    for (n, want) in [
        (0, Some("empty-batch")),
        (100, None),
        (101, Some("batch-too-large")),
    ] {
        let items: Vec<Value> = (0..n).map(|_| json!({ "pan": VISA })).collect();
        let (status, out) = call(
            &s.tokenize,
            TOKENIZER,
            "POST",
            "/v1/tokens/batch",
            json!({ "items": items }),
        )
        .await;
        let tokens: Vec<&str> = (0..n).map(|_| token.as_str()).collect();
        let (d_status, d_out) = call(
            &s.detokenize,
            DETOKENIZER,
            "POST",
            "/v1/detokenize/batch",
            json!({ "tokens": tokens, "reason": "batch bound" }),
        )
        .await;
        match want {
            Some(kind) => {
                assert_eq!((status, problem_type(&out).as_str()), (400, kind), "{n}");
                assert_eq!(
                    (d_status, problem_type(&d_out).as_str()),
                    (400, kind),
                    "{n}"
                );
            }
            None => {
                assert_eq!(status, 200, "{out}");
                assert_eq!(out["results"].as_array().map(Vec::len), Some(n));
                assert!(
                    out["results"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .all(|r| r["status"] == 200)
                );
                assert_eq!(d_status, 200, "{d_out}");
                let results = d_out["results"].as_array().expect("results");
                assert_eq!(results.len(), n);
                assert!(results.iter().all(|r| r["pan"] == VISA));
            }
        }
    }
}

#[tokio::test]
async fn the_same_card_twice_is_201_then_200_with_the_same_token() {
    let s = stack();
    let body = json!({ "pan": MASTERCARD, "format": "fpe" });
    let (first, a) = call(&s.tokenize, TOKENIZER, "POST", "/v1/tokens", body.clone()).await;
    let (second, b) = call(&s.tokenize, TOKENIZER, "POST", "/v1/tokens", body).await;
    assert_eq!((first, second), (201, 200));
    assert_eq!(a["token"], b["token"]);
}

/// A vault that fails every call with a chosen error, once told to.
#[derive(Default)]
struct FailingVault {
    inner: MemoryVault,
    failure: Mutex<Option<VaultError>>,
}

impl FailingVault {
    fn fail_with(&self, e: Option<VaultError>) {
        *self.failure.lock().expect("failure") = e;
    }
    fn check(&self) -> Result<(), VaultError> {
        self.failure
            .lock()
            .expect("failure")
            .clone()
            .map_or(Ok(()), Err)
    }
}

#[async_trait]
impl IssuingVault for FailingVault {
    async fn find_index(&self, key: &IndexKey) -> Result<Option<IndexEntry>, VaultError> {
        self.check()?;
        self.inner.find_index(key).await
    }
    async fn create_index(
        &self,
        i: &IndexEntry,
        now: i64,
        replacing: Option<&Token>,
    ) -> Result<(), CreateError> {
        self.check()?;
        self.inner.create_index(i, now, replacing).await
    }
    async fn confirm(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        self.check()?;
        self.inner.confirm(token, link).await
    }
    async fn abandon(&self, r: &VaultRecord, now: i64) -> Result<(), VaultError> {
        self.check()?;
        self.inner.abandon(r, now).await
    }
    async fn create(&self, r: &VaultRecord) -> Result<(), CreateError> {
        self.check()?;
        self.inner.create(r).await
    }
    async fn describe(&self, t: &Token) -> Result<Option<TokenDescription>, VaultError> {
        self.check()?;
        self.inner.describe(t).await
    }
}

#[async_trait]
impl ReadingVault for FailingVault {
    async fn get(&self, t: &Token) -> Result<Option<VaultRecord>, VaultError> {
        self.check()?;
        self.inner.get(t).await
    }
    async fn get_many(&self, t: &[Token]) -> Result<Vec<Option<VaultRecord>>, VaultError> {
        self.check()?;
        self.inner.get_many(t).await
    }
}

#[async_trait]
impl ErasingVault for FailingVault {
    async fn delete(&self, t: &Token) -> Result<bool, VaultError> {
        self.check()?;
        self.inner.delete(t).await
    }
}

#[tokio::test]
async fn an_outage_is_503_with_retry_after_and_a_fault_is_500() {
    let vault = Arc::new(FailingVault::default());
    let s = stack_over(vault.clone(), CacheLimits::default());
    let token = tokenize(&s, VISA).await;
    let detokenize = json!({ "token": token, "reason": "outage" });
    let cases = [
        (
            VaultError::Unavailable("ThrottlingException".into()),
            503,
            "service-unavailable",
        ),
        (
            VaultError::Corrupt("ct is not binary".into()),
            500,
            "internal-error",
        ),
        (
            VaultError::AccessDenied("AccessDeniedException".into()),
            500,
            "internal-error",
        ),
    ];
    for (failure, status, kind) in cases {
        vault.fail_with(Some(failure));
        for response in [
            send(
                &s.detokenize,
                event(DETOKENIZER, "POST", "/v1/detokenize", &detokenize),
            )
            .await,
            send(
                &s.tokenize,
                event(
                    TOKENIZER,
                    "POST",
                    "/v1/tokens",
                    &json!({ "pan": MASTERCARD }),
                ),
            )
            .await,
            send(
                &s.admin,
                event(
                    ADMIN,
                    "DELETE",
                    &format!("/v1/tokens/{token}"),
                    &Value::Null,
                ),
            )
            .await,
        ] {
            let (got, body) = status_and_body(&response);
            assert_eq!(
                (got, problem_type(&body).as_str()),
                (status, kind),
                "{response}"
            );
            assert_eq!(
                header(&response, "retry-after").is_some(),
                status == 503,
                "{response}"
            );
            // The store's words stay in the log: the caller gets ours.
            assert!(
                !body["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("Exception")
            );
        }
    }
    let errors: Vec<u64> = s
        .metric_lines()
        .iter()
        .map(|l| l["Errors"].as_u64().expect("n"))
        .collect();
    assert_eq!(
        errors,
        [0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        "a 5xx counts as an error"
    );
    vault.fail_with(None);
    let (status, _) = call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize",
        detokenize,
    )
    .await;
    assert_eq!(status, 200, "served again once the store is back");
}

/// The problem table in README: slug → status.
fn readme_problem_table() -> BTreeMap<String, u16> {
    let readme = std::fs::read_to_string(README).expect("README.md");
    readme
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("| `urn:tessera:problem:")?;
            let (slug, rest) = rest.split_once('`')?;
            let status = rest
                .trim_start_matches(" |")
                .split('|')
                .next()?
                .trim()
                .parse()
                .ok()?;
            Some((slug.to_owned(), status))
        })
        .collect()
}

#[test]
fn the_readme_problem_table_is_the_codes_list_of_problem_kinds() {
    let code: BTreeMap<String, u16> = Kind::ALL
        .iter()
        .map(|k| (k.slug().to_owned(), k.status().as_u16()))
        .collect();
    assert_eq!(readme_problem_table(), code);
}

#[tokio::test]
async fn every_problem_kind_is_produced_by_some_request() {
    let vault = Arc::new(FailingVault::default());
    let s = stack_over(vault.clone(), CacheLimits::default());
    let token = tokenize(&s, VISA).await;
    let tok = |body: Value| event(TOKENIZER, "POST", "/v1/tokens", &body);
    let with = |mut e: Value, pointer: &str, v: Value| {
        *e.pointer_mut(pointer).expect("field") = v;
        e
    };
    let unsigned = {
        let mut e = tok(json!({ "pan": VISA }));
        e["requestContext"]
            .as_object_mut()
            .expect("context")
            .remove("authorizer");
        e
    };
    let mut produced = BTreeSet::new();
    let mut expect = |response: Value, kind: &str| {
        let (status, body) = status_and_body(&response);
        assert_eq!(problem_type(&body), kind, "{response}");
        assert_eq!(body["status"], status, "{response}");
        assert_eq!(
            header(&response, "content-type"),
            Some("application/problem+json")
        );
        produced.insert(kind.to_owned());
    };
    let t = &s.tokenize;
    expect(
        send(
            t,
            raw_event(TOKENIZER, "POST", "/v1/tokens", json!("{\"pan\":")),
        )
        .await,
        "invalid-json",
    );
    expect(
        send(t, tok(json!({ "pan": 4_111_111_111_111_111_u64 }))).await,
        "invalid-body",
    );
    expect(
        send(t, tok(json!({ "pan": VISA, "colour": "red" }))).await,
        "unknown-field",
    );
    expect(
        send(t, tok(json!({ "pan": VISA, "cvv": "123" }))).await,
        "forbidden-field",
    );
    expect(send(t, tok(json!({ "pan": "4111" }))).await, "invalid-pan");
    expect(
        send(t, tok(json!({ "pan": "4111111111111112" }))).await,
        "luhn-check-failed",
    );
    expect(
        send(
            t,
            event(DESCRIBER, "GET", "/v1/tokens/not-a-token", &Value::Null),
        )
        .await,
        "invalid-token",
    );
    expect(
        send(t, tok(json!({ "pan": MASTERCARD, "ttl_seconds": 0 }))).await,
        "invalid-expiry",
    );
    expect(
        send(
            t,
            tok(json!({ "pan": MASTERCARD, "metadata": { "n": "123456789012" } })),
        )
        .await,
        "invalid-metadata",
    );
    expect(
        send(
            &s.detokenize,
            event(
                DETOKENIZER,
                "POST",
                "/v1/detokenize",
                &json!({ "token": token }),
            ),
        )
        .await,
        "invalid-reason",
    );
    let items: Vec<Value> = (0..101).map(|_| json!({ "pan": VISA })).collect();
    expect(
        send(
            t,
            event(
                TOKENIZER,
                "POST",
                "/v1/tokens/batch",
                &json!({ "items": items }),
            ),
        )
        .await,
        "batch-too-large",
    );
    expect(
        send(
            t,
            event(
                TOKENIZER,
                "POST",
                "/v1/tokens/batch",
                &json!({ "items": [] }),
            ),
        )
        .await,
        "empty-batch",
    );
    expect(
        send(t, with(tok(json!({})), "/isBase64Encoded", json!(true))).await,
        "invalid-base64",
    );
    expect(send(t, unsigned).await, "unauthenticated");
    expect(
        send(
            t,
            event(DETOKENIZER, "POST", "/v1/tokens", &json!({ "pan": VISA })),
        )
        .await,
        "forbidden",
    );
    expect(
        send(
            t,
            event(TOKENIZER, "POST", "/v2/tokens", &json!({ "pan": VISA })),
        )
        .await,
        "route-not-found",
    );
    expect(
        send(
            &s.detokenize,
            event(
                DETOKENIZER,
                "POST",
                "/v1/detokenize",
                &json!({ "token": "tok_00000000000000000000000000", "reason": "r" }),
            ),
        )
        .await,
        "token-not-found",
    );
    let response = send(t, event(TOKENIZER, "GET", "/v1/tokens", &Value::Null)).await;
    assert_eq!(header(&response, "allow"), Some("POST"));
    expect(response, "method-not-allowed");
    expect(
        send(
            t,
            raw_event(
                TOKENIZER,
                "POST",
                "/v1/tokens",
                Value::String(padded_body(65_537)),
            ),
        )
        .await,
        "payload-too-large",
    );
    expect(
        send(
            t,
            with(
                tok(json!({ "pan": VISA })),
                "/headers/content-type",
                json!("text/plain"),
            ),
        )
        .await,
        "unsupported-media-type",
    );
    expect(
        send(t, tok(json!({ "pan": VISA, "ttl_seconds": 60 }))).await,
        "dedup-conflict",
    );
    expect(
        send(
            t,
            event(
                UNGRANTED,
                "POST",
                "/v1/tokens/lookup",
                &json!({ "pan": VISA }),
            ),
        )
        .await,
        "dedup-not-granted",
    );
    expect(
        send(t, tok(json!({ "pan": "4222222222222", "format": "fpe" }))).await,
        "fpe-too-short",
    );
    expect(
        send(
            t,
            with(
                tok(json!({ "pan": VISA })),
                "/requestContext/apiId",
                json!("other"),
            ),
        )
        .await,
        "untrusted-origin",
    );
    vault.fail_with(Some(VaultError::Unavailable("ThrottlingException".into())));
    expect(
        send(t, tok(json!({ "pan": VISA }))).await,
        "service-unavailable",
    );
    vault.fail_with(Some(VaultError::Corrupt("bad item".into())));
    expect(send(t, tok(json!({ "pan": VISA }))).await, "internal-error");

    // Forward's own kinds (destinations, bodies, headers and upstream
    // failures) are produced in `forward.rs`, against its stub processor, by
    // the same rule.
    let forward_only = |slug: &str| {
        slug.starts_with("upstream-")
            || slug.starts_with("forward-")
            || slug.ends_with("destination")
            || slug.starts_with("destination-")
    };
    let all: BTreeSet<String> = Kind::ALL
        .iter()
        .map(|k| k.slug().to_owned())
        .filter(|s| !forward_only(s))
        // The capture functions' kinds: produced in `capture.rs`.
        .filter(|s| {
            !Kind::ALL
                .iter()
                .any(|k| k.slug() == s && tessera_lambda::problem::is_capture_kind(*k))
        })
        .collect();
    assert_eq!(produced, all, "a problem kind no request produces");
}

#[tokio::test]
async fn correlation_ids_are_echoed_only_when_valid() {
    let s = stack();
    let valid_max = "a".repeat(128);
    let cases: [(Option<&str>, &str); 9] = [
        (Some("order-42_retry.1:a"), "order-42_retry.1:a"),
        (Some(valid_max.as_str()), valid_max.as_str()),
        (Some(&"a".repeat(129)), "r"),
        (Some(""), "r"),
        (Some("has space"), "r"),
        (Some("slash/ed"), "r"),
        (Some("<script>"), "r"),
        (Some("caf\u{e9}"), "r"),
        // Absent: the API Gateway request id.
        (None, "r"),
    ];
    for (sent, want) in cases {
        let logs = Logs::capture("info");
        let mut e = event(
            TOKENIZER,
            "POST",
            "/v1/tokens/lookup",
            &json!({ "pan": VISA }),
        );
        if let Some(id) = sent {
            e["headers"]["x-correlation-id"] = json!(id);
        }
        let response = send(&s.tokenize, e).await;
        let (status, body) = status_and_body(&response);
        assert_eq!(status, 404, "{body}");
        assert_eq!(
            header(&response, "x-correlation-id"),
            Some(want),
            "{sent:?}"
        );
        assert_eq!(body["correlation_id"], want, "{sent:?}");
        assert_eq!(logs.last_audit()["correlation_id"], want, "{sent:?}");
    }
}

#[tokio::test]
async fn every_request_counts_in_the_metrics() {
    let s = stack();
    let token = tokenize(&s, VISA).await;
    call(
        &s.detokenize,
        TOKENIZER,
        "POST",
        "/v1/detokenize",
        json!({ "token": token, "reason": "r" }),
    )
    .await;
    call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize",
        json!({ "token": token, "reason": "r" }),
    )
    .await;
    let lines = s.metric_lines();
    let values = |name: &str| -> Vec<u64> {
        lines
            .iter()
            .map(|l| l[name].as_u64().expect("count"))
            .collect()
    };
    assert_eq!(values("Requests"), [1, 1, 1]);
    assert_eq!(values("Denials"), [0, 1, 0]);
    assert_eq!(values("Errors"), [0, 0, 0]);
    assert_eq!(
        values("KmsCalls"),
        [1, 0, 1],
        "GenerateDataKey, nothing for a denial, Decrypt"
    );
    assert_eq!(values("DataKeyCacheHits"), [0, 0, 0]);
    assert_eq!(
        lines[1]["Operation"], "detokenize",
        "a denial is counted against its route"
    );
    assert!(lines.iter().all(|l| l["Latency"].as_u64().is_some()));
}

#[tokio::test]
async fn the_dev_principal_serves_only_requests_without_any_authorizer() {
    let vault = Arc::new(MemoryVault::new());
    let keyring = Arc::new(tessera_core::memory::MemoryKeyRing::new("dev"));
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "dev".into(),
    };
    let key = FingerprintKey::new(&[5; 32], "v1").expect("key");
    let mut access = access(vec![("TESSERA_TOKENIZE_ROLES", TOKENIZER)]);
    access.dev_principal = Some(role(TOKENIZER));
    let app = tessera_lambda::App::new(
        tessera_lambda::Tokenize::new(
            Tokenizer::new(
                ports,
                vault,
                keyring,
                Fingerprinter::new(&key),
                CacheLimits::default(),
            ),
            tessera_lambda::scopes::Scopes::default(),
        ),
        access,
        Arc::new(|_| {}),
    );
    let logs = Logs::capture("info");
    let mut curl = event(TOKENIZER, "POST", "/v1/tokens", &json!({ "pan": VISA }));
    curl["requestContext"]
        .as_object_mut()
        .expect("context")
        .remove("authorizer");
    let (status, out) = status_and_body(&send(&app, curl).await);
    assert_eq!(status, 201, "{out}");
    let audit = logs.last_audit();
    assert_eq!(audit["principal"], role(TOKENIZER).as_str());
    assert_eq!(audit["principal_source"], "dev-setting");
    // A signed caller is never replaced by the dev principal.
    let (status, _) = call(
        &app,
        DETOKENIZER,
        "POST",
        "/v1/tokens",
        json!({ "pan": VISA }),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(logs.last_audit()["principal_source"], "");
}

#[tokio::test]
async fn detokenize_holds_at_most_1024_unwrapped_keys() {
    assert_eq!(CacheLimits::default().max_entries, 1024);
    // One record per data key, so each record needs its own unwrap.
    let s = stack_over(
        Arc::new(MemoryVault::new()),
        CacheLimits {
            max_uses: 1,
            ..CacheLimits::default()
        },
    );
    let mut tokens = Vec::new();
    for chunk in 0..11 {
        let items: Vec<Value> = (0..100.min(1025 - chunk * 100))
            .map(|_| json!({ "pan": VISA, "dedupe": false }))
            .collect();
        let (status, out) = call(
            &s.tokenize,
            TOKENIZER,
            "POST",
            "/v1/tokens/batch",
            json!({ "items": items }),
        )
        .await;
        assert_eq!(status, 200);
        tokens.extend(
            out["results"]
                .as_array()
                .expect("results")
                .iter()
                .map(|r| r["token"].as_str().expect("token").to_owned()),
        );
    }
    assert_eq!(tokens.len(), 1025);
    let kms_calls = |s: &Stack| -> u64 {
        s.metric_lines()
            .iter()
            .filter(|l| l["Function"] == "detokenize")
            .map(|l| l["KmsCalls"].as_u64().expect("n"))
            .sum()
    };
    let detokenize = async |tokens: &[String]| {
        for chunk in tokens.chunks(100) {
            let (status, _) = call(
                &s.detokenize,
                DETOKENIZER,
                "POST",
                "/v1/detokenize/batch",
                json!({ "tokens": chunk, "reason": "cache bound" }),
            )
            .await;
            assert_eq!(status, 200);
        }
    };
    detokenize(&tokens).await;
    assert_eq!(kms_calls(&s), 1025, "every key unwrapped once");
    // The last 1,024 are all still held...
    detokenize(&tokens[1..]).await;
    assert_eq!(kms_calls(&s), 1025, "1,024 keys held");
    // ...and the first was evicted to make room for them.
    detokenize(&tokens[..1]).await;
    assert_eq!(kms_calls(&s), 1026, "the 1,025th key is not held");
}

/// Audit events of the requests made while `logs` was capturing, by field.
fn fields(audit: &Value, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| match &audit[*n] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        })
        .collect()
}

#[tokio::test]
async fn a_failed_detokenize_is_audited_like_a_successful_one() {
    let s = stack();
    let logs = Logs::capture("info");
    let token = tokenize(&s, VISA).await;
    let hint = &token[token.len() - 4..];
    let unknown = "tok_0000000000000000000000000a";
    let names = [
        "operation",
        "principal",
        "decision",
        "outcome",
        "status",
        "problem",
        "token_hint",
        "reason",
        "items",
    ];
    let detokenizer = role(DETOKENIZER);
    // A denied caller is recorded as its role: the session name is caller text.
    let tokenizer = role(TOKENIZER);
    let cases: Vec<(&str, Value, [&str; 9])> = vec![
        (
            DETOKENIZER,
            json!({ "token": token, "reason": "chargeback 1" }),
            [
                "detokenize",
                &detokenizer,
                "allow",
                "success",
                "200",
                "",
                hint,
                "chargeback 1",
                "0",
            ],
        ),
        (
            DETOKENIZER,
            json!({ "token": unknown, "reason": "chargeback 2" }),
            [
                "detokenize",
                &detokenizer,
                "allow",
                "client_error",
                "404",
                "token-not-found",
                "000a",
                "chargeback 2",
                "0",
            ],
        ),
        (
            TOKENIZER,
            json!({ "token": token, "reason": "curious" }),
            [
                "detokenize",
                &tokenizer,
                "deny",
                "client_error",
                "403",
                "forbidden",
                hint,
                "curious",
                "0",
            ],
        ),
        // A valid token with a bad reason: the token is recorded, the reason is not.
        (
            DETOKENIZER,
            json!({ "token": token, "reason": "" }),
            [
                "detokenize",
                &detokenizer,
                "allow",
                "client_error",
                "400",
                "invalid-reason",
                hint,
                "",
                "0",
            ],
        ),
        // A good reason with a bad token: the reason is recorded.
        (
            DETOKENIZER,
            json!({ "token": "tok_?", "reason": "chargeback 3" }),
            [
                "detokenize",
                &detokenizer,
                "allow",
                "client_error",
                "400",
                "invalid-token",
                "",
                "chargeback 3",
                "0",
            ],
        ),
    ];
    for (caller, body, want) in &cases {
        call(
            &s.detokenize,
            caller,
            "POST",
            "/v1/detokenize",
            body.clone(),
        )
        .await;
        assert_eq!(
            fields(&logs.last_audit(), &names),
            want.map(str::to_owned),
            "{body}"
        );
    }
    // Batches: every token that parsed, the reason and the size, whatever the outcome.
    let batch = json!({ "tokens": [token, unknown, "4111111111111111"], "reason": "batch 1" });
    call(
        &s.detokenize,
        TOKENIZER,
        "POST",
        "/v1/detokenize/batch",
        batch.clone(),
    )
    .await;
    assert_eq!(
        fields(&logs.last_audit(), &names),
        [
            "detokenize_batch",
            &tokenizer,
            "deny",
            "client_error",
            "403",
            "forbidden",
            &format!("{hint},000a"),
            "batch 1",
            "3"
        ]
        .map(str::to_owned)
    );
    call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize/batch",
        batch,
    )
    .await;
    assert_eq!(
        fields(&logs.last_audit(), &names),
        [
            "detokenize_batch",
            &detokenizer,
            "allow",
            "success",
            "200",
            "",
            &format!("{hint},000a"),
            "batch 1",
            "3"
        ]
        .map(str::to_owned)
    );
    // Erasure and describe: the token, found or not.
    let path = format!("/v1/tokens/{unknown}");
    call(&s.admin, ADMIN, "DELETE", &path, Value::Null).await;
    assert_eq!(
        fields(&logs.last_audit(), &["status", "token_hint"]),
        ["404", "000a"]
    );
    call(&s.admin, TOKENIZER, "DELETE", &path, Value::Null).await;
    assert_eq!(
        fields(&logs.last_audit(), &["status", "operation", "token_hint"]),
        ["403", "delete", "000a"]
    );
    call(&s.tokenize, DESCRIBER, "GET", &path, Value::Null).await;
    assert_eq!(
        fields(&logs.last_audit(), &["status", "token_hint"]),
        ["404", "000a"]
    );
    // An unsigned attempt is audited too.
    let mut unsigned = event(
        DETOKENIZER,
        "POST",
        "/v1/detokenize",
        &json!({ "token": token, "reason": "anon" }),
    );
    unsigned["requestContext"]
        .as_object_mut()
        .expect("context")
        .remove("authorizer");
    send(&s.detokenize, unsigned).await;
    assert_eq!(
        fields(
            &logs.last_audit(),
            &["status", "decision", "operation", "token_hint", "reason"]
        ),
        ["401", "deny", "detokenize", hint, "anon"]
    );
    // The tokenize batch records its size even when refused for it.
    let items: Vec<Value> = (0..101).map(|_| json!({ "pan": VISA })).collect();
    call(
        &s.tokenize,
        TOKENIZER,
        "POST",
        "/v1/tokens/batch",
        json!({ "items": items }),
    )
    .await;
    assert_eq!(
        fields(&logs.last_audit(), &["status", "items"]),
        ["400", "101"]
    );
    assert!(!logs.capture.text().contains(VISA));
}
