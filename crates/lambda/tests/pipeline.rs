//! The whole envelope in process, for every function, over the memory ports:
//! routing, authorization, bodies, batches (order kept, per-item errors),
//! denial, audit-relevant status codes and metrics lines.

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use support::*;
use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;
use tessera_lambda::auth::{AllowList, ApiOrigin};
use tessera_lambda::envelope::Access;
use tessera_lambda::scopes::Scopes;
use tessera_lambda::{App, Tokenize};

#[tokio::test]
async fn detokenize_returns_the_pan_to_a_listed_role_only() {
    let s = stack();
    let token = tokenize(&s, VISA).await;
    let body = json!({ "token": token, "reason": "settlement" });
    let (status, out) = call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize",
        body.clone(),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["pan"], VISA);
    assert_eq!(out["token"], token.as_str());

    // The tokenizer holds the token but may not turn it back.
    let (status, out) = call(&s.detokenize, TOKENIZER, "POST", "/v1/detokenize", body).await;
    assert_eq!(status, 403);
    assert_eq!(out["type"], "urn:tessera:problem:forbidden");
    assert!(!out.to_string().contains(VISA));

    // A reason is required.
    let (status, out) = call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize",
        json!({ "token": token }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(out["type"], "urn:tessera:problem:invalid-reason");
}

#[tokio::test]
async fn tokenize_batch_keeps_order_and_reports_each_item() {
    let s = stack();
    let existing = tokenize(&s, MASTERCARD).await;
    let items = json!({ "items": [
        { "pan": VISA },
        { "pan": "4111111111111112" },
        { "pan": MASTERCARD },
        { "pan": VISA, "format": "nope" },
    ]});
    let (status, out) = call(&s.tokenize, TOKENIZER, "POST", "/v1/tokens/batch", items).await;
    assert_eq!(status, 200, "{out}");
    let results = out["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["status"], 201);
    assert_eq!(results[0]["last4"], "1111");
    assert_eq!(results[1]["status"], 400);
    assert_eq!(
        results[1]["error"]["type"],
        "urn:tessera:problem:luhn-check-failed"
    );
    assert_eq!(results[2]["status"], 200, "dedup hit");
    assert_eq!(results[2]["token"], existing.as_str());
    assert_eq!(results[3]["status"], 400);
    assert!(!out.to_string().contains("41111111111111"));
}

#[tokio::test]
async fn detokenize_batch_keeps_order_and_reports_each_item() {
    let s = stack();
    let visa = tokenize(&s, VISA).await;
    let mc = tokenize(&s, MASTERCARD).await;
    let body = json!({
        "tokens": [mc, "tok_00000000000000000000000000", VISA, visa],
        "reason": "settlement batch"
    });
    let (status, out) = call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize/batch",
        body,
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let results = out["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["pan"], MASTERCARD);
    assert_eq!(results[1]["status"], 404);
    assert_eq!(results[1]["token"], "tok_00000000000000000000000000");
    // A card number sent as a token is refused and never echoed.
    assert_eq!(results[2]["status"], 400);
    assert_eq!(
        results[2]["error"]["type"],
        "urn:tessera:problem:invalid-token"
    );
    assert!(results[2].get("token").is_none());
    assert_eq!(results[3]["pan"], VISA);

    let too_many: Vec<String> = (0..101).map(|_| visa.clone()).collect();
    let (status, out) = call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize/batch",
        json!({ "tokens": too_many, "reason": "r" }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(out["type"], "urn:tessera:problem:batch-too-large");
}

#[tokio::test]
async fn admin_erases_and_a_second_delete_is_not_found() {
    let s = stack();
    let token = tokenize(&s, VISA).await;
    let path = format!("/v1/tokens/{token}");
    let (status, _) = call(&s.admin, TOKENIZER, "DELETE", &path, Value::Null).await;
    assert_eq!(status, 403, "only the admin role erases");
    let (status, _) = call(&s.admin, ADMIN, "DELETE", &path, Value::Null).await;
    assert_eq!(status, 204);
    let (status, out) = call(&s.admin, ADMIN, "DELETE", &path, Value::Null).await;
    assert_eq!(status, 404);
    assert_eq!(out["type"], "urn:tessera:problem:token-not-found");
    let (status, _) = call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize",
        json!({ "token": token, "reason": "after erasure" }),
    )
    .await;
    assert_eq!(status, 404);
    // Tokenizing the card again issues a new token: the index item went too.
    assert_ne!(tokenize(&s, VISA).await, token);
    let (status, _) = call(&s.admin, ADMIN, "GET", &path, Value::Null).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn every_request_writes_one_metrics_line_with_kms_counts_from_the_key_caches() {
    let s = stack();
    let token = tokenize(&s, VISA).await;
    tokenize(&s, MASTERCARD).await;
    let body = json!({ "token": token, "reason": "r" });
    call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize",
        body.clone(),
    )
    .await;
    call(&s.detokenize, DETOKENIZER, "POST", "/v1/detokenize", body).await;
    let lines: Vec<Value> = s
        .metrics
        .lock()
        .expect("metrics")
        .iter()
        .map(|l| serde_json::from_str(l).expect("EMF JSON"))
        .collect();
    assert_eq!(lines.len(), 4);
    let kms: Vec<u64> = lines
        .iter()
        .map(|l| l["KmsCalls"].as_u64().expect("n"))
        .collect();
    let hits: Vec<u64> = lines
        .iter()
        .map(|l| l["DataKeyCacheHits"].as_u64().expect("n"))
        .collect();
    // One GenerateDataKey for the first card, a cached key for the second;
    // one Decrypt for the first detokenize, a cached key for the second.
    assert_eq!(kms, [1, 0, 1, 0]);
    assert_eq!(hits, [0, 1, 0, 1]);
    assert_eq!(lines[2]["Function"], "detokenize");
    assert_eq!(lines[2]["Operation"], "detokenize");
}

#[tokio::test]
async fn a_direct_invocation_with_a_forged_context_is_refused() {
    let s = stack();
    let token = tokenize(&s, VISA).await;
    let body = json!({ "token": token, "reason": "forged" });
    let forged = |api: &str, stage: &str, account: &str| {
        let mut e = event(DETOKENIZER, "POST", "/v1/detokenize", &body);
        e["requestContext"]["apiId"] = json!(api);
        e["requestContext"]["stage"] = json!(stage);
        e["requestContext"]["accountId"] = json!(account);
        e
    };
    let cases = [
        (forged("other-api", "$default", ACCOUNT), FUNCTION_ARN),
        (forged("api", "test", ACCOUNT), FUNCTION_ARN),
        (forged("api", "$default", "999988887777"), FUNCTION_ARN),
        // No invocation ARN to compare the account with: refused, not trusted.
        (forged("api", "$default", ACCOUNT), ""),
    ];
    for (event, arn) in cases {
        let mut context = lambda_http::Context::default();
        context.invoked_function_arn = arn.into();
        let response = s
            .detokenize
            .handle_event(event, context)
            .await
            .expect("an HTTP event");
        assert_eq!(response["statusCode"], 403, "{response}");
        let body = response["body"].as_str().expect("body");
        assert!(
            body.contains("urn:tessera:problem:untrusted-origin"),
            "{body}"
        );
        assert!(!body.contains(VISA));
    }
}

#[tokio::test]
async fn describe_has_its_own_allow_list() {
    let s = stack();
    let token = tokenize(&s, VISA).await;
    let path = format!("/v1/tokens/{token}");
    let (status, out) = call(&s.tokenize, TOKENIZER, "GET", &path, Value::Null).await;
    assert_eq!(
        status, 403,
        "a tokenizer holding a token gets no facts: {out}"
    );
    let (status, out) = call(&s.tokenize, DESCRIBER, "GET", &path, Value::Null).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["last4"], "1111");
    let (status, _) = call(
        &s.tokenize,
        DESCRIBER,
        "POST",
        "/v1/tokens/lookup",
        json!({ "pan": VISA }),
    )
    .await;
    assert_eq!(status, 403, "describing does not grant lookup");
}

#[tokio::test]
async fn a_tokenizer_learns_nothing_about_another_roles_tokens() {
    let vault = Arc::new(MemoryVault::new());
    let keyring = Arc::new(MemoryKeyRing::new("scopes"));
    let key = FingerprintKey::new(&[5; 32], "v1").expect("key");
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "scopes".into(),
    };
    let both = format!("{},{}", role(TOKENIZER), role("other-tokenizer"));
    let app = App::new(
        Tokenize::new(
            Tokenizer::new(
                ports,
                vault,
                keyring,
                Fingerprinter::new(&key),
                CacheLimits::default(),
            ),
            Scopes::default(),
        )
        .with_dedup_roles(AllowList::parse(&both).expect("dedup roles")),
        Access {
            origin: ApiOrigin::parse("api", "$default").expect("origin"),
            lists: vec![(
                "TESSERA_TOKENIZE_ROLES",
                AllowList::parse(&both).expect("list"),
            )],
            dev_principal: None,
        },
        Arc::new(|_| {}),
    );
    let (status, mine) = call(
        &app,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({ "pan": VISA }),
    )
    .await;
    assert_eq!(status, 201);
    // The other role's lookup misses, and its tokenize is a new token (201,
    // not a 200 that would confirm the card): the oracle is closed.
    let lookup = json!({ "pan": VISA });
    let (status, _) = call(&app, "other-tokenizer", "POST", "/v1/tokens/lookup", lookup).await;
    assert_eq!(status, 404);
    let (status, theirs) = call(
        &app,
        "other-tokenizer",
        "POST",
        "/v1/tokens",
        json!({ "pan": VISA }),
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(mine["token"], theirs["token"]);
    // Within its own scope dedup still answers.
    let (status, again) = call(
        &app,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({ "pan": VISA }),
    )
    .await;
    assert_eq!((status, &again["token"]), (200, &mine["token"]));
}

#[tokio::test]
async fn retention_conflicts_and_short_fpe_have_their_own_problem_types() {
    let s = stack();
    tokenize(&s, VISA).await;
    let (status, out) = call(
        &s.tokenize,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({ "pan": VISA, "expires": "12/27" }),
    )
    .await;
    assert_eq!(status, 409, "{out}");
    assert_eq!(out["type"], "urn:tessera:problem:dedup-conflict");
    let (status, out) = call(
        &s.tokenize,
        TOKENIZER,
        "POST",
        "/v1/tokens",
        json!({ "pan": "4222222222222", "format": "fpe" }),
    )
    .await;
    assert_eq!(status, 422, "{out}");
    assert_eq!(out["type"], "urn:tessera:problem:fpe-too-short");
}

#[tokio::test]
async fn free_text_fields_refuse_card_numbers_however_written() {
    let s = stack();
    for written in [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111.1111.1111.1111",
    ] {
        // Metadata values and keys.
        for metadata in [json!({ "note": written }), json!({ written: "x" })] {
            let (status, out) = call(
                &s.tokenize,
                TOKENIZER,
                "POST",
                "/v1/tokens",
                json!({ "pan": MASTERCARD, "metadata": metadata, "dedupe": false }),
            )
            .await;
            assert_eq!(status, 400, "{out}");
            assert_eq!(out["type"], "urn:tessera:problem:invalid-metadata");
            assert!(!out.to_string().contains("1111"));
        }
        // A correlation id is logged and echoed: one holding a card number is replaced.
        let mut e = event(
            TOKENIZER,
            "POST",
            "/v1/tokens/lookup",
            &json!({ "pan": VISA }),
        );
        e["headers"]["x-correlation-id"] = json!(written.replace(' ', "-"));
        let mut context = lambda_http::Context::default();
        context.invoked_function_arn = FUNCTION_ARN.into();
        let response = s.tokenize.handle_event(e, context).await.expect("event");
        assert_eq!(response["headers"]["x-correlation-id"], "r", "{response}");
    }
    let token = tokenize(&s, VISA).await;
    let (status, out) = call(
        &s.detokenize,
        DETOKENIZER,
        "POST",
        "/v1/detokenize",
        json!({ "token": token, "reason": "customer read 4111 1111 1111 1111 aloud" }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(out["type"], "urn:tessera:problem:invalid-reason");
}
