//! The capture flow on the in-memory vault.

use std::sync::Arc;

use crate::memory::{ManualClock, MemoryKeyRing, MemoryVault, SeededRandom};
use crate::random::ThreadRandom;
use crate::{
    CacheLimits, DedupScope, Detokenizer, Error, Expiry, ExpiryError, FingerprintKey,
    Fingerprinter, Metadata, Pan, Ports, Tokenizer,
};

use super::*;

const NOW_MS: i64 = 1_795_000_000_000; // 2026-11-18
const OWNER: &str = "arn:aws:iam::111122223333:role/checkout";
const VISA: &str = "4111111111111111";

struct World {
    clock: Arc<ManualClock>,
    vault: Arc<MemoryVault>,
    keys: Arc<MemoryKeyRing>,
    capturer: Arc<Capturer>,
}

fn world() -> World {
    let clock = Arc::new(ManualClock::at_millis(NOW_MS));
    let vault = Arc::new(MemoryVault::new());
    let keys = Arc::new(MemoryKeyRing::new("test"));
    let ports = Ports {
        clock: clock.clone(),
        rng: Arc::new(ThreadRandom),
        vault_id: "test".into(),
    };
    let key = FingerprintKey::new(&[9; 32], "v1").expect("32 bytes");
    let tokenizer = Tokenizer::new(
        ports,
        vault.clone(),
        keys.clone(),
        Fingerprinter::new(&key),
        CacheLimits::default(),
    );
    let capturer = Arc::new(Capturer::new(clock.clone(), tokenizer, vault.clone()));
    World {
        clock,
        vault,
        keys,
        capturer,
    }
}

fn origin() -> CaptureOrigin {
    CaptureOrigin::parse("https://shop.example", OriginMode::Https).expect("origin")
}

impl World {
    async fn session(&self, policy: SessionPolicy) -> (CaptureSession, ClientSecret) {
        let secret = ClientSecret::generate(&ThreadRandom);
        let session = CaptureSession::new(
            SessionId::generate(&ThreadRandom),
            secret.hash(),
            OWNER,
            policy,
            self.clock.now_secs(),
        );
        self.vault.create_session(&session).await.expect("created");
        (session, secret)
    }

    async fn capture(
        &self,
        id: &SessionId,
        secret: &ClientSecret,
        pan: &str,
    ) -> Result<Captured, CaptureError> {
        let session = self.capturer.open(id, secret).await?;
        self.capturer.capture(&session, request(pan)).await
    }

    async fn stored(&self, id: &SessionId) -> CaptureSession {
        self.vault
            .get_session(id)
            .await
            .expect("read")
            .expect("stored")
    }
}

use crate::ports::Clock;

fn request(pan: &str) -> CaptureRequest {
    CaptureRequest {
        pan: Pan::parse(pan).expect("valid"),
        card_expiry: None,
        cardholder_name: None,
        scope: DedupScope::default(),
        dedup_granted: true,
    }
}

#[test]
fn ids_and_secrets_have_their_shapes_and_secrets_never_print() {
    let rng = SeededRandom::new(1);
    let id = SessionId::generate(&rng);
    assert_eq!(id.as_str().len(), 3 + 26);
    assert_eq!(SessionId::parse(id.as_str()), Ok(id.clone()));
    let secret = ClientSecret::generate(&rng);
    let text = secret.expose_secret().to_owned();
    assert!(
        text.starts_with("cscs_") && text.len() == 5 + 43,
        "{}",
        text.len()
    );
    assert!(
        text[5..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(format!("{secret:?}"), "ClientSecret([REDACTED])");
    assert_eq!(format!("{:?}", secret.hash()), "SecretHash([REDACTED])");
    assert!(secret.hash().verifies(&ClientSecret::presented(&text)));
    let mut wrong = text.clone();
    wrong.pop();
    wrong.push(if text.ends_with('A') { 'B' } else { 'A' });
    assert!(!secret.hash().verifies(&ClientSecret::presented(&wrong)));
    assert_ne!(
        ClientSecret::generate(&ThreadRandom).expose_secret(),
        ClientSecret::generate(&ThreadRandom).expose_secret()
    );
    for bad in [
        "cs_abc",
        "cs_abcdefghijklmnopqrstuvwxy1",
        "cs_ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "xs_abcdefghijklmnopqrstuvwxyz",
        "cs_abcdefghijklmnopqrstuvwxyza",
    ] {
        assert_eq!(SessionId::parse(bad), Err(SessionIdError), "{bad}");
    }
}

#[test]
fn a_policy_is_checked_at_the_edges() {
    let p = || SessionPolicy::new(vec![origin()]).expect("one origin");
    assert_eq!(SessionPolicy::new(vec![]), Err(PolicyError::Origins));
    assert_eq!(
        SessionPolicy::new(vec![origin(), origin()]),
        Err(PolicyError::Origins)
    );
    let many = (0..11)
        .map(|i| CaptureOrigin::parse(&format!("https://s{i}.example"), OriginMode::Https))
        .collect::<Result<Vec<_>, _>>()
        .expect("origins");
    assert_eq!(SessionPolicy::new(many), Err(PolicyError::Origins));
    assert_eq!(p().with_max_cards(0), Err(PolicyError::MaxCards));
    assert_eq!(p().with_max_cards(11), Err(PolicyError::MaxCards));
    assert!(p().with_max_cards(10).is_ok());
    assert_eq!(p().with_lifetime(59), Err(PolicyError::Lifetime));
    assert_eq!(p().with_lifetime(3601), Err(PolicyError::Lifetime));
    assert_eq!(p().lifetime_seconds(), 900);
    assert!(p().allows_origin("https://shop.example"));
    assert!(!p().allows_origin("https://shop.example/"));
    assert!(!p().allows_origin("https://evil.example"));
}

#[test]
fn a_cardholder_name_never_holds_a_card_number() {
    assert_eq!(
        CardholderName::parse(" Jane Doe ").map(|n| n.as_str().to_owned()),
        Ok("Jane Doe".to_owned())
    );
    for pan in ["4111 1111 1111 1111", "Jane 4111111111111111"] {
        assert_eq!(
            CardholderName::parse(pan),
            Err(CardholderNameError::LooksLikePan)
        );
    }
    for bad in ["", "  ", "a\nb", &"x".repeat(101)] {
        assert_eq!(CardholderName::parse(bad), Err(CardholderNameError::Shape));
    }
    let name = CardholderName::parse("Jane Doe").expect("ok");
    assert!(!format!("{name:?}").contains("Jane"));
}

#[tokio::test]
async fn a_capture_writes_record_index_and_entry_and_detokenizes_to_the_pan() {
    let w = world();
    let (session, secret) = w
        .session(SessionPolicy::new(vec![origin()]).expect("p"))
        .await;
    let captured = w
        .capture(&session.id, &secret, VISA)
        .await
        .expect("captured");
    assert!(captured.created);
    assert_eq!(captured.facts.last4, "1111");
    assert_eq!(w.vault.record_count(), 1);
    assert_eq!(w.vault.index_entries().len(), 1);
    let stored = w.stored(&session.id).await;
    assert_eq!(stored.cards.len(), 1);
    assert_eq!(stored.cards[0].token, captured.token);
    // Used after max_cards (1).
    assert_eq!(stored.state(w.clock.now_secs()), SessionState::Used);
    let ports = Ports {
        clock: w.clock.clone(),
        rng: Arc::new(ThreadRandom),
        vault_id: "test".into(),
    };
    let detokenizer = Detokenizer::new(
        ports,
        w.vault.clone(),
        w.keys.clone(),
        CacheLimits::default(),
    );
    let back = detokenizer
        .detokenize(&captured.token)
        .await
        .expect("detokenize");
    assert_eq!(back.pan.expose_digits(), VISA);
}

#[tokio::test]
async fn a_dedup_hit_adds_only_the_session_entry() {
    let w = world();
    let policy = SessionPolicy::new(vec![origin()]).expect("p");
    let (first, s1) = w.session(policy.clone()).await;
    let (second, s2) = w.session(policy).await;
    let a = w.capture(&first.id, &s1, VISA).await.expect("first");
    let b = w.capture(&second.id, &s2, VISA).await.expect("second");
    assert!(a.created && !b.created);
    assert_eq!(a.token, b.token);
    assert_eq!(w.vault.record_count(), 1);
    assert_eq!(w.stored(&second.id).await.cards[0].token, a.token);
}

#[tokio::test]
async fn without_the_grant_or_with_dedupe_off_every_capture_is_a_new_token() {
    let w = world();
    let mut policy = SessionPolicy::new(vec![origin()])
        .expect("p")
        .with_max_cards(3)
        .expect("3");
    let (s, secret) = w.session(policy.clone()).await;
    let open = w.capturer.open(&s.id, &secret).await.expect("open");
    let ungranted = || CaptureRequest {
        dedup_granted: false,
        ..request(VISA)
    };
    let a = w.capturer.capture(&open, ungranted()).await.expect("a");
    let b = w.capturer.capture(&open, ungranted()).await.expect("b");
    assert_ne!(a.token, b.token);
    assert!(w.vault.index_entries().is_empty());
    policy.dedupe = Some(false);
    let (s, secret) = w.session(policy).await;
    let open = w.capturer.open(&s.id, &secret).await.expect("open");
    w.capturer.capture(&open, request(VISA)).await.expect("c");
    assert!(w.vault.index_entries().is_empty());
    assert_eq!(w.vault.record_count(), 3);
}

#[tokio::test]
async fn a_hit_that_does_not_fit_the_session_gets_a_token_of_its_own() {
    let w = world();
    let (s, secret) = w
        .session(SessionPolicy::new(vec![origin()]).expect("p"))
        .await;
    let first = w.capture(&s.id, &secret, VISA).await.expect("first");
    let mut policy = SessionPolicy::new(vec![origin()]).expect("p");
    policy.metadata = Metadata::new([("order".to_owned(), "A-1".to_owned())].into()).expect("m");
    let (s, secret) = w.session(policy).await;
    let second = w.capture(&s.id, &secret, VISA).await.expect("second");
    assert!(second.created);
    assert_ne!(first.token, second.token);
}

#[tokio::test]
async fn wrong_secret_and_unknown_session_are_one_answer_and_five_failures_burn() {
    let w = world();
    let (s, secret) = w
        .session(SessionPolicy::new(vec![origin()]).expect("p"))
        .await;
    let wrong = ClientSecret::generate(&ThreadRandom);
    let unknown = w
        .capture(&SessionId::generate(&ThreadRandom), &secret, VISA)
        .await
        .expect_err("unknown");
    assert_eq!(unknown, CaptureError::Unauthorized { burned_now: false });
    for attempt in 1..=MAX_FAILED_ATTEMPTS {
        let e = w.capture(&s.id, &wrong, VISA).await.expect_err("wrong");
        assert_eq!(
            e,
            CaptureError::Unauthorized {
                burned_now: attempt == MAX_FAILED_ATTEMPTS
            }
        );
        assert_eq!(e.to_string(), unknown.to_string());
    }
    let stored = w.stored(&s.id).await;
    assert_eq!(stored.failed_attempts, 5);
    assert_eq!(stored.state(w.clock.now_secs()), SessionState::Burned);
    // Now even the right secret is refused, and nothing is written.
    assert_eq!(
        w.capture(&s.id, &secret, VISA).await,
        Err(CaptureError::Closed(SessionState::Burned))
    );
    assert_eq!(w.vault.record_count(), 0);
}

#[tokio::test]
async fn an_invalid_card_counts_as_a_failure() {
    let w = world();
    let (s, secret) = w
        .session(SessionPolicy::new(vec![origin()]).expect("p"))
        .await;
    let open = w.capturer.open(&s.id, &secret).await.expect("open");
    for _ in 0..4 {
        assert!(!w.capturer.fail(&open).await.expect("counted"));
    }
    assert!(
        w.capturer.fail(&open).await.expect("counted"),
        "the 5th burns"
    );
    assert_eq!(
        w.capturer.capture(&open, request(VISA)).await,
        Err(CaptureError::Closed(SessionState::Burned)),
        "a session burned since it was opened refuses the write"
    );
    assert_eq!(w.vault.record_count(), 0);
}

#[tokio::test]
async fn expiry_is_checked_on_read_from_the_clock() {
    let w = world();
    let policy = SessionPolicy::new(vec![origin()])
        .expect("p")
        .with_lifetime(60)
        .expect("60");
    let (s, secret) = w.session(policy).await;
    assert_eq!(
        w.stored(&s.id).await.state(w.clock.now_secs()),
        SessionState::Open
    );
    let open = w.capturer.open(&s.id, &secret).await.expect("open");
    w.clock.advance_millis(60_000);
    assert_eq!(
        w.capture(&s.id, &secret, VISA).await,
        Err(CaptureError::Closed(SessionState::Expired))
    );
    // Opened before expiry, written after it: the write's condition refuses.
    assert_eq!(
        w.capturer.capture(&open, request(VISA)).await,
        Err(CaptureError::Closed(SessionState::Expired))
    );
    assert_eq!(w.vault.record_count(), 0);
}

#[tokio::test]
async fn card_retention_needs_the_typed_expiry_and_uses_it() {
    let w = world();
    let mut policy = SessionPolicy::new(vec![origin()])
        .expect("p")
        .with_max_cards(2)
        .expect("2");
    policy.retention = Retention::CardExpiry;
    let (s, secret) = w.session(policy).await;
    let open = w.capturer.open(&s.id, &secret).await.expect("open");
    assert_eq!(
        w.capturer.capture(&open, request(VISA)).await,
        Err(CaptureError::ExpiryRequired)
    );
    let expired = CaptureRequest {
        card_expiry: Some(Expiry::card("01/20").expect("mm/yy")),
        ..request(VISA)
    };
    assert_eq!(
        w.capturer.capture(&open, expired).await,
        Err(CaptureError::Core(Error::Expiry(ExpiryError::CardExpired)))
    );
    let typed = CaptureRequest {
        card_expiry: Some(Expiry::card("12/27").expect("mm/yy")),
        ..request(VISA)
    };
    let captured = w.capturer.capture(&open, typed).await.expect("captured");
    assert_eq!(captured.facts.expires_at, Some(1_830_297_600));
    assert_eq!(w.vault.record_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_captures_racing_for_the_last_slot_one_wins() {
    for round in 0..20 {
        let w = world();
        let policy = SessionPolicy::new(vec![origin()])
            .expect("p")
            .with_max_cards(2)
            .expect("2");
        let (s, secret) = w.session(policy).await;
        w.capture(&s.id, &secret, "5555555555554444")
            .await
            .expect("first slot");
        let open = w.capturer.open(&s.id, &secret).await.expect("open");
        // Different cards, so dedup cannot make one of them free.
        let racers = ["4111111111111111", "378282246310005"].map(|pan| {
            let capturer = w.capturer.clone();
            let open = open.clone();
            tokio::spawn(async move { capturer.capture(&open, request(pan)).await })
        });
        let mut wins = 0;
        for racer in racers {
            match racer.await.expect("joined") {
                Ok(_) => wins += 1,
                Err(e) => assert_eq!(e, CaptureError::Closed(SessionState::Used), "round {round}"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
        assert_eq!(w.stored(&s.id).await.cards.len(), 2);
        // The loser wrote nothing: two records for two entries.
        assert_eq!(w.vault.record_count(), 2, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_dedup_race_adds_only_the_session_entry() {
    for _ in 0..20 {
        let w = world();
        let policy = SessionPolicy::new(vec![origin()]).expect("p");
        let (a, sa) = w.session(policy.clone()).await;
        let (b, sb) = w.session(policy).await;
        let oa = w.capturer.open(&a.id, &sa).await.expect("open");
        let ob = w.capturer.open(&b.id, &sb).await.expect("open");
        let run = |open: CaptureSession| {
            let capturer = w.capturer.clone();
            tokio::spawn(async move { capturer.capture(&open, request(VISA)).await })
        };
        let (x, y) = (run(oa), run(ob));
        let x = x.await.expect("joined").expect("captured");
        let y = y.await.expect("joined").expect("captured");
        assert_eq!(x.token, y.token, "one token for one card in one scope");
        assert_eq!(w.vault.record_count(), 1);
        assert_eq!(w.vault.dangling_index_count(), 0);
        assert_eq!(w.stored(&a.id).await.cards[0].token, x.token);
        assert_eq!(w.stored(&b.id).await.cards[0].token, x.token);
    }
}

#[tokio::test]
async fn a_hit_answers_the_shopper_exactly_as_a_fresh_token_would() {
    let w = world();
    let mut policy = SessionPolicy::new(vec![origin()]).expect("p");
    policy.retention = Retention::CardExpiry;
    let typed = |expiry: &str| CaptureRequest {
        card_expiry: Some(Expiry::card(expiry).expect("mm/yy")),
        ..request(VISA)
    };
    let capture = |r: CaptureRequest| {
        let (w, policy) = (&w, policy.clone());
        async move {
            let (s, secret) = w.session(policy).await;
            let open = w.capturer.open(&s.id, &secret).await.expect("open");
            w.capturer.capture(&open, r).await.expect("captured")
        }
    };
    let first = capture(typed("08/27")).await;
    w.clock.advance_millis(3_600_000);
    // Another expiry typed: not the stored token (whose expiry would tell),
    // but one of its own, expiring as typed.
    let other = capture(typed("12/35")).await;
    assert!(other.created);
    assert_ne!(other.token, first.token);
    assert_eq!(other.answer.expires_at, Some(2_082_758_400));
    // The same expiry typed: the stored token, answered as a fresh one
    // (issued now), while the session keeps the stored facts.
    let again = capture(typed("08/27")).await;
    assert!(!again.created);
    assert_eq!(again.token, first.token);
    assert_eq!(again.answer.created_at, w.clock.now_secs());
    assert_eq!(again.answer.expires_at, first.answer.expires_at);
    assert_eq!(again.facts.created_at, first.facts.created_at);
}

#[tokio::test]
async fn a_ttl_session_never_answers_an_earlier_tokens_expiry() {
    let w = world();
    let mut policy = SessionPolicy::new(vec![origin()]).expect("p");
    policy.retention = Retention::Ttl(86_400);
    let (s, secret) = w.session(policy.clone()).await;
    let first = w.capture(&s.id, &secret, VISA).await.expect("first");
    w.clock.advance_millis(600_000);
    let (s, secret) = w.session(policy).await;
    let second = w.capture(&s.id, &secret, VISA).await.expect("second");
    assert!(second.created);
    assert_ne!(second.token, first.token);
    assert_eq!(second.answer.expires_at, Some(w.clock.now_secs() + 86_400));
    assert_eq!(second.answer, second.facts);
}

#[tokio::test]
async fn a_session_with_metadata_neither_looks_up_nor_indexes_the_card() {
    let w = world();
    let mut policy = SessionPolicy::new(vec![origin()]).expect("p");
    policy.metadata = Metadata::new([("order".to_owned(), "A-1".to_owned())].into()).expect("m");
    for _ in 0..2 {
        let (s, secret) = w.session(policy.clone()).await;
        let captured = w.capture(&s.id, &secret, VISA).await.expect("captured");
        assert!(captured.created);
    }
    assert_eq!(w.vault.record_count(), 2);
    assert!(w.vault.index_entries().is_empty());
}

#[tokio::test]
async fn wrong_secrets_after_a_session_closed_count_nothing() {
    let w = world();
    let (s, secret) = w
        .session(SessionPolicy::new(vec![origin()]).expect("p"))
        .await;
    w.capture(&s.id, &secret, VISA).await.expect("paid");
    let wrong = ClientSecret::generate(&ThreadRandom);
    for _ in 0..MAX_FAILED_ATTEMPTS {
        let e = w.capture(&s.id, &wrong, VISA).await.expect_err("wrong");
        assert_eq!(e, CaptureError::Unauthorized { burned_now: false });
    }
    let stored = w.stored(&s.id).await;
    assert_eq!(stored.failed_attempts, 0);
    assert_eq!(stored.state(w.clock.now_secs()), SessionState::Used);
}

#[test]
fn a_used_session_is_never_burned() {
    let policy = SessionPolicy::new(vec![origin()]).expect("p");
    let secret = ClientSecret::generate(&ThreadRandom);
    let mut session = CaptureSession::new(
        SessionId::generate(&ThreadRandom),
        secret.hash(),
        OWNER,
        policy,
        0,
    );
    session.failed_attempts = MAX_FAILED_ATTEMPTS;
    session.burned = true;
    assert_eq!(session.state(1), SessionState::Burned);
    session.cards.push(CapturedCard {
        token: crate::Token::parse("tok_01h2xcejqtf2nbrexx3vqjhp41").expect("token"),
        facts: crate::TokenFacts {
            format: crate::TokenFormat::Opaque,
            bin: "411111".into(),
            last4: "1111".into(),
            brand: crate::Brand::Visa,
            pan_length: 16,
            created_at: 0,
            expires_at: None,
        },
        cardholder_name: None,
    });
    assert_eq!(session.state(1), SessionState::Used);
}

#[tokio::test]
async fn a_name_is_taken_only_by_a_session_that_asked_for_it() {
    let w = world();
    let named = || CaptureRequest {
        cardholder_name: Some(CardholderName::parse("Jane Doe").expect("name")),
        ..request(VISA)
    };
    let mut policy = SessionPolicy::new(vec![origin()]).expect("p");
    let (s, secret) = w.session(policy.clone()).await;
    let open = w.capturer.open(&s.id, &secret).await.expect("open");
    assert_eq!(
        w.capturer.capture(&open, named()).await,
        Err(CaptureError::NameNotRequested)
    );
    assert!(w.stored(&s.id).await.cards.is_empty());
    assert_eq!(w.vault.record_count(), 0);
    policy.cardholder_name = true;
    let (s, secret) = w.session(policy).await;
    let open = w.capturer.open(&s.id, &secret).await.expect("open");
    w.capturer.capture(&open, named()).await.expect("captured");
    let stored = w.stored(&s.id).await;
    assert_eq!(
        stored.cards[0]
            .cardholder_name
            .as_ref()
            .map(CardholderName::as_str),
        Some("Jane Doe")
    );
}
