//! Attacks on the browser-capture trust boundary (hosted fields), written
//! by an attacker review of it. Each test states the property the attack
//! broke and failed while the attack worked. The review's IAM findings are
//! not here: a capture role's reads of a record through conditions are made
//! harmless in the data model (records keep no fingerprint; see
//! tests/aws_adapters.rs, `a_whole_record_gives_...`), and what IAM cannot
//! stop (an unconditioned `PutItem`, an `UpdateItem` upsert of a session, a
//! capture role posting cards itself) is stated in docs/security.md and
//! docs/capture.md.
//!
//! The world is the one of `capture.rs` (memory vault, manual clock, the
//! two functions in process), with one addition: a vault wrapper that
//! behaves as the capture role's IAM policy does in AWS (`NeverReadRecords`:
//! an explicit Deny of `GetItem` on any `t#` key), which moto and the
//! memory vault do not enforce.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::{Value, json};
use support::capture::{CaptureWorld, capture_world, context, public};
use tessera_core::memory::MemoryVault;
use tessera_core::*;
use tessera_lambda::functions::capture::Route as CaptureRoute;
use tessera_lambda::routing::{Routed, route};
use tessera_lambda::{Capture, Function};

const MERCHANT: &str = "checkout-backend";
/// A role on `TESSERA_CAPTURE_ROLES` only: not on the tokenize, describe or
/// dedup lists.
const CAPTURE_ONLY: &str = "marketing-site-backend";
const SHOP: &str = "https://shop.example";
const VISA: &str = "4111111111111111";

/// The memory vault as the capture role sees it in AWS: every
/// `IssuingVault` call the role is granted passes through; `describe` (a
/// `GetItem` of a `t#` record projecting bin/last4/metadata) is refused as
/// `NeverReadRecords` refuses it, and counted.
struct CaptureRoleVault {
    inner: Arc<MemoryVault>,
    describes: AtomicUsize,
}

#[async_trait]
impl IssuingVault for CaptureRoleVault {
    async fn find_index(&self, key: &IndexKey) -> Result<Option<IndexEntry>, VaultError> {
        self.inner.find_index(key).await
    }
    async fn create(&self, record: &VaultRecord) -> Result<(), CreateError> {
        self.inner.create(record).await
    }
    async fn create_index(
        &self,
        index: &IndexEntry,
        now: i64,
        replacing: Option<&Token>,
    ) -> Result<(), CreateError> {
        self.inner.create_index(index, now, replacing).await
    }
    async fn confirm(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        self.inner.confirm(token, link).await
    }
    async fn abandon(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError> {
        self.inner.abandon(record, now).await
    }
    async fn describe(&self, _token: &Token) -> Result<Option<TokenDescription>, VaultError> {
        self.describes.fetch_add(1, Ordering::SeqCst);
        Err(VaultError::AccessDenied(
            "User: capture is not authorized to perform: dynamodb:GetItem with an explicit deny (NeverReadRecords)".into(),
        ))
    }
}

/// The capture world, its tokenizer writing through the capture role's view.
struct World {
    world: CaptureWorld,
    iam_vault: Arc<CaptureRoleVault>,
}

impl std::ops::Deref for World {
    type Target = CaptureWorld;
    fn deref(&self) -> &CaptureWorld {
        &self.world
    }
}

fn world() -> World {
    let mut iam_vault = None;
    // The merchant is granted dedup answers (TESSERA_DEDUP_ROLES), as a
    // merchant that wants one token per card is.
    let world = capture_world(&[MERCHANT, CAPTURE_ONLY], MERCHANT, |vault| {
        let view = Arc::new(CaptureRoleVault {
            inner: vault,
            describes: AtomicUsize::new(0),
        });
        iam_vault = Some(view.clone());
        view
    });
    World {
        world,
        iam_vault: iam_vault.expect("the capture's vault"),
    }
}

fn json_body(response: &Value) -> Value {
    response["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).expect("JSON body"))
        .unwrap_or(Value::Null)
}

fn status(response: &Value) -> u64 {
    response["statusCode"].as_u64().expect("status")
}

impl World {
    async fn create_as(&self, who: &str, body: Value) -> (u64, Value) {
        let mut event = support::event(who, "POST", "/prod/v1/capture-sessions", &body);
        event["requestContext"]["apiId"] = json!("api");
        let r = self
            .sessions
            .handle_event(event, context())
            .await
            .expect("http");
        (status(&r), json_body(&r))
    }

    async fn open_as(&self, who: &str, body: Value) -> (String, String) {
        let (code, created) = self.create_as(who, body).await;
        assert_eq!(code, 201, "{created}");
        (
            created["session_id"].as_str().expect("id").to_owned(),
            created["client_secret"]
                .as_str()
                .expect("secret")
                .to_owned(),
        )
    }

    /// What a shopper's page (the merchant's checkout, loaded as often as
    /// anyone likes) hands to the browser: a fresh session of the merchant.
    async fn shopper_session(&self, body: Value) -> (String, String) {
        self.open_as(MERCHANT, body).await
    }

    async fn read_as(&self, who: &str, id: &str) -> (u64, Value) {
        let r = self
            .sessions
            .handle_event(
                support::event(
                    who,
                    "GET",
                    &format!("/v1/capture-sessions/{id}"),
                    &Value::Null,
                ),
                context(),
            )
            .await
            .expect("http");
        (status(&r), json_body(&r))
    }

    /// POST /v1/capture as curl would send it (no browser, no frame).
    async fn post(&self, id: &str, secret: &str, body: Value) -> Value {
        self.capture
            .handle_event(
                public(
                    "POST",
                    "/v1/capture",
                    &[("session", id)],
                    json!({"content-type": "application/json", "origin": SHOP, "authorization": format!("Bearer {secret}")}),
                    Some(&body.to_string()),
                ),
                context(),
            )
            .await
            .expect("http")
    }
}

/// Finding: the dedup answer that `TESSERA_DEDUP_ROLES` keeps to granted
/// backends is handed to anonymous shoppers, and it carries the vaulted
/// card's expiry. A session with `expires: "card"` asks for a token that
/// expires with the typed expiry; a dedup hit is "honoured" whenever the
/// existing token expires no later than wanted (`hit_within`), so typing a
/// far expiry (12/35) for a vaulted PAN returns the existing token with the
/// victim's real expiry in `expires_at`.
///
/// Attack: load the merchant's checkout (a session), type a candidate PAN
/// (a BIN-attack guess, or a PAN bought without its expiry) with expiry
/// 12/35, read `expires_at` in the 201 (the frame posts it to the page).
/// A fresh card answers 2036-01-01; a vaulted one answers its own expiry.
#[tokio::test]
async fn a_shopper_learns_a_vaulted_cards_expiry_through_the_dedup_hit() {
    let w = world();
    // A real customer pays earlier with the card, expiry 08/27.
    let (victim, victim_secret) = w
        .shopper_session(json!({"origins": [SHOP], "expires": "card"}))
        .await;
    let paid = w
        .post(
            &victim,
            &victim_secret,
            json!({"pan": VISA, "expiry": "08/27"}),
        )
        .await;
    assert_eq!(status(&paid), 201, "{paid}");
    let real_expiry = json_body(&paid)["expires_at"].clone();
    assert_eq!(real_expiry, json!("2027-09-01T00:00:00Z"));

    // The attacker, from curl, with a session from the same checkout page.
    w.clock.advance_millis(3_600_000);
    let (probe, probe_secret) = w
        .shopper_session(json!({"origins": [SHOP], "expires": "card"}))
        .await;
    let answer = w
        .post(
            &probe,
            &probe_secret,
            json!({"pan": VISA, "expiry": "12/35"}),
        )
        .await;
    assert_eq!(status(&answer), 201, "{answer}");
    let shown = json_body(&answer)["expires_at"].clone();
    assert_ne!(
        shown, real_expiry,
        "the capture answer disclosed the vaulted card's real expiry (and that it is vaulted) to an anonymous shopper"
    );
    assert_eq!(
        shown,
        json!("2036-01-01T00:00:00Z"),
        "the token should expire with the expiry typed"
    );
}

/// Finding: the same oracle with `ttl_seconds` sessions. A fresh capture's
/// `expires_at` is now + ttl; a hit's is the earlier token's, so any
/// difference from now + ttl says "this card is already in the vault".
/// With a token's BIN and last 4 (shown to every merchant page and on
/// receipts), ~10^5 Luhn-valid candidates recover the PAN, 10 per session.
#[tokio::test]
async fn a_capture_answer_tells_a_vaulted_card_from_a_fresh_one() {
    let w = world();
    let ttl = json!({"origins": [SHOP], "ttl_seconds": 86_400, "max_cards": 2});
    let (victim, victim_secret) = w.shopper_session(ttl.clone()).await;
    assert_eq!(
        status(&w.post(&victim, &victim_secret, json!({"pan": VISA})).await),
        201
    );

    w.clock.advance_millis(600_000);
    let (probe, probe_secret) = w.shopper_session(ttl).await;
    // A card nobody vaulted (the control) and the victim's card.
    let fresh = w
        .post(&probe, &probe_secret, json!({"pan": "5555555555554444"}))
        .await;
    let known = w.post(&probe, &probe_secret, json!({"pan": VISA})).await;
    assert_eq!(
        (status(&fresh), status(&known)),
        (201, 201),
        "{fresh} {known}"
    );
    let (fresh, known) = (json_body(&fresh), json_body(&known));
    assert_eq!(
        fresh["expires_at"], known["expires_at"],
        "a dedup hit answers differently from a new token: a membership oracle on the public API"
    );
}

/// Finding: a session with metadata (an order id, say) makes a dedup hit
/// call `describe` (`hit_honours` compares the existing token's metadata),
/// a `GetItem` of the `t#` record that the capture role's `NeverReadRecords`
/// Deny refuses in AWS. Every returning card in such a session is then a
/// 5xx (the shopper cannot pay; `CaptureErrorsAlarm` fires and rolls back
/// canaries on demand), and 5xx-vs-201 is a dedup oracle of its own. If
/// the Deny were ever relaxed to make it work, the role holding the
/// fingerprint key would read records' bin/last4.
#[tokio::test]
async fn a_returning_card_in_a_session_with_metadata_needs_a_record_read_the_role_is_denied() {
    let w = world();
    let with_order = |n: &str| json!({"origins": [SHOP], "metadata": {"order": n}});
    let (first, s1) = w.shopper_session(with_order("A-1")).await;
    assert_eq!(
        status(&w.post(&first, &s1, json!({"pan": VISA})).await),
        201
    );
    let (second, s2) = w.shopper_session(with_order("A-1")).await;
    let again = w.post(&second, &s2, json!({"pan": VISA})).await;
    let reads = w.iam_vault.describes.load(Ordering::SeqCst);
    assert_eq!(
        reads, 0,
        "the capture function read a vault record (describe: GetItem t#, bin/last4/metadata) {reads} time(s)"
    );
    assert_eq!(
        status(&again),
        201,
        "a returning card fails under the capture role's IAM policy: {again}"
    );
}

/// Finding: anyone who knows a session id (it is "not a secret": it sits in
/// the frame URL in the merchant DOM, in logs and audit events) can burn a
/// session with five wrong secrets, and burning wins over `used`: a
/// session that captured its card reads `state: burned` to the merchant
/// backend, which is told to act on burned sessions. Wrong secrets should
/// stop counting once a session is closed.
#[tokio::test]
async fn a_bystander_turns_a_paid_session_into_a_burned_one() {
    let w = world();
    let (id, secret) = w.shopper_session(json!({"origins": [SHOP]})).await;
    assert_eq!(
        status(&w.post(&id, &secret, json!({"pan": VISA})).await),
        201
    );
    for _ in 0..5 {
        let wrong = w
            .post(
                &id,
                &format!("cscs_{}", "Z".repeat(43)),
                json!({"pan": VISA}),
            )
            .await;
        assert_eq!(status(&wrong), 401);
    }
    let (_, session) = w.read_as(MERCHANT, &id).await;
    assert_eq!(session["cards"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        session["state"], "used",
        "five unauthenticated requests rewrote a completed session's state: {session}"
    );
}

/// Finding: the cardholder name is the merchant's option in the loader
/// (`fields: {name: true}`) but not in the session: the capture API stores
/// whatever name the browser (or curl) sends, in every session, and
/// `GET /v1/capture-sessions/{id}` hands it to the merchant backend as
/// data the vault "captured" (markup, CSV formulas...).
#[tokio::test]
async fn a_shopper_attaches_a_cardholder_name_the_merchant_never_asked_for() {
    let w = world();
    let (id, secret) = w.shopper_session(json!({"origins": [SHOP]})).await;
    let hostile = "<img src=x onerror=alert(document.domain)>";
    let r = w
        .post(
            &id,
            &secret,
            json!({"pan": VISA, "cardholder_name": hostile}),
        )
        .await;
    let (_, session) = w.read_as(MERCHANT, &id).await;
    assert!(
        status(&r) >= 400 || session["cards"][0].get("cardholder_name").is_none(),
        "a name the session never enabled reached the merchant backend: {session}"
    );
}

/// The capture ACL's anti-card-testing rule counts only URIs that END WITH
/// `/v1/capture`, with no text transformation, while the function routes
/// `POST /prod/v1/capture/` (trailing slash, dropped by `api_path`) to the
/// capture too. API Gateway REST APIs match a resource with a trailing
/// slash, so the 60-per-5-minutes limit becomes the 1000 of the any-route
/// rule. (The API Gateway half needs confirming on a deployed stage.)
#[test]
fn the_post_rate_rule_misses_paths_the_function_serves_as_the_capture() {
    let template = include_str!("../../../infra/template.yaml");
    let rule = template
        .split("- Name: capture-post-per-ip-rate-limit")
        .nth(1)
        .and_then(|r| r.split("- Name: capture-body-over-4k").next())
        .expect("the POST rate rule");
    assert!(rule.contains("PositionalConstraint: ENDS_WITH"), "{rule}");
    let needle = rule
        .lines()
        .filter(|l| l.contains("SearchString:"))
        .map(|l| l.split("SearchString:").nth(1).unwrap_or_default().trim())
        .find(|s| s.contains("capture"))
        .expect("the URI search string");
    // The capture is served where the rule counts it...
    assert_eq!(
        route(Capture::ROUTES, &http::Method::POST, "/prod/v1/capture"),
        Routed::Found(CaptureRoute::Capture)
    );
    // ...and every path the function serves as the capture, the rule counts.
    for path in [
        "/prod/v1/capture",
        "/prod/v1/capture/",
        "/prod/v1/capture//",
        "/lambda-url/capture/v1/capture/",
    ] {
        if route(Capture::ROUTES, &http::Method::POST, path) == Routed::Found(CaptureRoute::Capture)
        {
            assert!(
                path.ends_with(needle),
                "POST {path} is a capture but the per-IP card-testing rule (ENDS_WITH {needle}) does not count it"
            );
        }
    }
}
