//! Capture sessions on DynamoDB (moto): the session item round trip, the
//! capture's one transaction and its conditions, and the failure counter.
//! Tens of calls: moto's TransactWriteItems copies the table on each.

use std::collections::BTreeMap;
use std::sync::Arc;

use tessera_core::capture::{
    CaptureConflict, CaptureError, CaptureOrigin, CaptureRequest, CaptureSession, CaptureVault,
    CaptureWrite, CapturedCard, Capturer, CardholderName, ClientSecret, Lang, NewRecord,
    OriginMode, Retention, SessionId, SessionPolicy, SessionReader, SessionRegistry, SessionState,
};
use tessera_core::memory::ManualClock;
use tessera_core::{
    Clock, DedupScope, IssuingVault, Metadata, OsRandom, Pan, ReadingVault, SystemClock,
    TokenFormat, TokenizeRequest,
};
use tessera_e2e::{Stack, TOKENIZER_ROLE, stack};

const VISA: &str = "4111111111111111";

fn policy() -> SessionPolicy {
    let origin = CaptureOrigin::parse("https://shop.example", OriginMode::Https).expect("origin");
    SessionPolicy::new(vec![origin]).expect("policy")
}

async fn session(
    s: &Stack,
    clock: &dyn Clock,
    policy: SessionPolicy,
) -> (CaptureSession, ClientSecret) {
    let secret = ClientSecret::generate(&OsRandom);
    let session = CaptureSession::new(
        SessionId::generate(&OsRandom),
        secret.hash(),
        TOKENIZER_ROLE,
        policy,
        clock.now_secs(),
    );
    s.vault().create_session(&session).await.expect("created");
    (session, secret)
}

async fn capturer(s: &Stack, clock: Arc<dyn Clock>) -> Capturer {
    Capturer::new(clock.clone(), s.tokenizer(clock).await, s.vault())
}

fn card(pan: &str) -> CaptureRequest {
    CaptureRequest {
        pan: Pan::parse(pan).expect("valid"),
        card_expiry: None,
        cardholder_name: None,
        scope: DedupScope::default(),
        dedup_granted: true,
    }
}

#[tokio::test]
async fn a_session_item_round_trips_every_field() {
    let s = stack().await;
    let mut p = policy()
        .with_max_cards(3)
        .expect("3")
        .with_lifetime(120)
        .expect("120");
    p.format = TokenFormat::Fpe;
    p.dedupe = Some(false);
    p.retention = Retention::CardExpiry;
    p.metadata = Metadata::new(BTreeMap::from([("order".into(), "A-1".into())])).expect("m");
    p.lang = Lang::De;
    p.cardholder_name = true;
    let (made, secret) = session(&s, &SystemClock, p).await;
    let read = s
        .vault()
        .get_session(&made.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(read, made);
    assert!(read.secret_hash.verifies(&secret));
    assert_eq!(read.state(SystemClock.now_secs()), SessionState::Open);
    // A taken id is refused, never overwritten.
    assert!(s.vault().create_session(&made).await.is_err());
    assert_eq!(
        s.vault()
            .get_session(&SessionId::generate(&OsRandom))
            .await
            .expect("read"),
        None
    );
}

#[tokio::test]
async fn a_capture_writes_all_three_items_and_a_dedup_hit_only_the_entry() {
    let s = stack().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let capturer = capturer(&s, clock.clone()).await;
    let mut named_policy = policy();
    named_policy.cardholder_name = true;
    let (first, secret) = session(&s, clock.as_ref(), named_policy).await;
    let open = capturer.open(&first.id, &secret).await.expect("open");
    let named = CaptureRequest {
        cardholder_name: Some(CardholderName::parse("Jane Doe").expect("name")),
        ..card(VISA)
    };
    let captured = capturer.capture(&open, named).await.expect("captured");
    assert!(captured.created);
    let back = s
        .detokenizer(clock.clone())
        .detokenize(&captured.token)
        .await
        .expect("detokenize");
    assert_eq!(back.pan.expose_digits(), VISA);
    let stored = s
        .vault()
        .get_session(&first.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.cards.len(), 1);
    assert_eq!(stored.cards[0].token, captured.token);
    assert_eq!(
        stored.cards[0]
            .cardholder_name
            .as_ref()
            .map(CardholderName::as_str),
        Some("Jane Doe")
    );
    assert_eq!(stored.state(clock.now_secs()), SessionState::Used);
    // Used: the right secret is refused.
    assert_eq!(
        capturer.open(&first.id, &secret).await.map(|_| ()),
        Err(CaptureError::Closed(SessionState::Used))
    );

    let (second, secret) = session(&s, clock.as_ref(), policy()).await;
    let open = capturer.open(&second.id, &secret).await.expect("open");
    let hit = capturer.capture(&open, card(VISA)).await.expect("hit");
    assert!(!hit.created);
    assert_eq!(hit.token, captured.token);
    let stored = s
        .vault()
        .get_session(&second.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.cards[0].token, captured.token);
}

#[tokio::test]
async fn a_refused_transaction_writes_nothing() {
    let s = stack().await;
    let clock = Arc::new(ManualClock::at_millis(SystemClock.now_millis()));
    let tokenizer = s.tokenizer(clock.clone()).await;
    let vault = s.vault();
    let (open, _) = session(&s, clock.as_ref(), policy().with_lifetime(60).expect("60")).await;
    let sealed = tokenizer
        .seal_for_import(
            None,
            None,
            &TokenizeRequest::new(Pan::parse(VISA).expect("pan")),
        )
        .await
        .expect("sealed");
    let (record, index) = (&sealed.0, sealed.1.as_ref().expect("with dedup"));
    let entry = CapturedCard {
        token: record.token.clone(),
        facts: record.facts.clone(),
        cardholder_name: None,
    };
    let write = |now: i64| CaptureWrite {
        session: &open.id,
        card: &entry,
        new: Some(NewRecord {
            record,
            index: Some(index),
            replacing: None,
        }),
        now,
    };
    // Past the session's expiry: refused, nothing written.
    let late = open.expires_at;
    assert_eq!(
        vault.capture(&write(late)).await,
        Err(CaptureConflict::SessionClosed)
    );
    assert!(vault.get(&record.token).await.expect("read").is_none());
    assert!(vault.find_index(&index.key).await.expect("read").is_none());

    // A live index item for another token: refused, no record left behind.
    let other = tokenizer
        .tokenize(&TokenizeRequest::new(Pan::parse(VISA).expect("pan")))
        .await
        .expect("tokenized");
    let now = clock.now_secs();
    assert_eq!(
        vault.capture(&write(now)).await,
        Err(CaptureConflict::IndexExists)
    );
    assert!(vault.get(&record.token).await.expect("read").is_none());
    let stored = vault
        .get_session(&open.id)
        .await
        .expect("read")
        .expect("stored");
    assert!(stored.cards.is_empty());
    // The same write naming the stale token it replaces goes through.
    let replacing = CaptureWrite {
        new: Some(NewRecord {
            record,
            index: Some(index),
            replacing: Some(&other.token),
        }),
        ..write(now)
    };
    vault.capture(&replacing).await.expect("written");
    // The record's token is now taken: a second write of it is refused.
    let (again, _) = session(&s, clock.as_ref(), policy()).await;
    let retaken = CaptureWrite {
        session: &again.id,
        new: Some(NewRecord {
            record,
            index: None,
            replacing: None,
        }),
        ..write(now)
    };
    assert_eq!(
        vault.capture(&retaken).await,
        Err(CaptureConflict::RecordExists)
    );
    assert!(
        vault
            .get_session(&again.id)
            .await
            .expect("read")
            .expect("stored")
            .cards
            .is_empty()
    );
}

#[tokio::test]
async fn five_failures_burn_a_session_and_the_capture_condition_honours_it() {
    let s = stack().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let capturer = capturer(&s, clock.clone()).await;
    let (made, secret) = session(&s, clock.as_ref(), policy()).await;
    let open = capturer.open(&made.id, &secret).await.expect("open");
    let wrong = ClientSecret::generate(&OsRandom);
    for attempt in 1..=5u32 {
        let e = capturer
            .open(&made.id, &wrong)
            .await
            .map(|_| ())
            .expect_err("wrong");
        assert_eq!(
            e,
            CaptureError::Unauthorized {
                burned_now: attempt == 5
            }
        );
    }
    let stored = s
        .vault()
        .get_session(&made.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!((stored.failed_attempts, stored.burned), (5, true));
    assert_eq!(stored.state(clock.now_secs()), SessionState::Burned);
    // Opened before the burn, written after: the transaction refuses it.
    assert_eq!(
        capturer.capture(&open, card(VISA)).await,
        Err(CaptureError::Closed(SessionState::Burned))
    );
    // An unknown session counts nothing.
    assert_eq!(
        s.vault()
            .record_failure(&SessionId::generate(&OsRandom))
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn two_captures_racing_for_the_last_slot_one_wins() {
    let s = stack().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let capturer = Arc::new(capturer(&s, clock.clone()).await);
    let (made, secret) = session(&s, clock.as_ref(), policy()).await;
    let open = capturer.open(&made.id, &secret).await.expect("open");
    let racers = ["5555555555554444", "378282246310005"].map(|pan| {
        let (capturer, open) = (capturer.clone(), open.clone());
        tokio::spawn(async move { capturer.capture(&open, card(pan)).await })
    });
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.expect("joined"));
    }
    let wins: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(wins.len(), 1, "{outcomes:?}");
    for lost in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        // Refused by the condition, or by DynamoDB's conflict detection
        // (retryable, and the retry would find the session used).
        assert!(
            matches!(lost, CaptureError::Closed(SessionState::Used))
                || matches!(lost, CaptureError::Core(e) if e.is_retryable()),
            "{lost:?}"
        );
    }
    let stored = s
        .vault()
        .get_session(&made.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.cards.len(), 1);
    assert_eq!(&stored.cards[0].token, &wins[0].token);
}
