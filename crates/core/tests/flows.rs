//! The tokenization flows against the in-memory ports.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use proptest::prelude::*;
use tessera_core::memory::{ManualClock, MemoryKeyRing, MemoryVault, SeededRandom};
use tessera_core::*;

const NOW_MS: i64 = 1_795_000_000_000;

struct Fixture {
    vault: Arc<MemoryVault>,
    keyring: Arc<MemoryKeyRing>,
    clock: Arc<ManualClock>,
    tokenizer: Tokenizer,
    detokenizer: Detokenizer,
    eraser: Eraser,
}

fn fixture() -> Fixture {
    let vault = Arc::new(MemoryVault::new());
    let keyring = Arc::new(MemoryKeyRing::new("test"));
    let clock = Arc::new(ManualClock::at_millis(NOW_MS));
    let ports = Ports {
        clock: clock.clone(),
        rng: Arc::new(SeededRandom::new(7)),
        vault_id: "vault-a".into(),
    };
    let key = FingerprintKey::new(&[9; 32], "v1").expect("key");
    Fixture {
        tokenizer: Tokenizer::new(
            ports.clone(),
            vault.clone(),
            keyring.clone(),
            Fingerprinter::new(&key),
            CacheLimits::default(),
        ),
        detokenizer: Detokenizer::new(
            ports.clone(),
            vault.clone(),
            keyring.clone(),
            CacheLimits::default(),
        ),
        eraser: Eraser::new(vault.clone()),
        vault,
        keyring,
        clock,
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn pan(s: &str) -> Pan {
    Pan::parse(s).expect("valid test PAN")
}

fn request(p: &str, format: TokenFormat) -> TokenizeRequest {
    TokenizeRequest {
        format,
        ..TokenizeRequest::new(pan(p))
    }
}

/// Any Luhn-valid PAN of 12 to 19 digits.
fn any_pan() -> impl Strategy<Value = Pan> {
    (11usize..=18)
        .prop_flat_map(|n| proptest::collection::vec(0u8..10, n))
        .prop_map(|body| {
            let mut digits: String = body.iter().map(|d| char::from(b'0' + d)).collect();
            let check = (0..10)
                .map(|d| format!("{digits}{d}"))
                .find(|c| luhn_valid(c.as_bytes()))
                .expect("one check digit fits");
            digits = check;
            Pan::parse(&digits).expect("constructed valid")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_pan_round_trips(p in any_pan(), fpe in any::<bool>(), dedupe in any::<bool>()) {
        let f = fixture();
        let format = if fpe { TokenFormat::Fpe } else { TokenFormat::Opaque };
        let req = TokenizeRequest { format, dedupe, ..TokenizeRequest::new(p.clone()) };
        let rt = rt();
        if fpe && p.len() < MIN_FPE_PAN_DIGITS {
            prop_assert_eq!(rt.block_on(f.tokenizer.tokenize(&req)).err(), Some(Error::FpeTooShort));
            return Ok(());
        }
        let issued = rt.block_on(f.tokenizer.tokenize(&req)).expect("tokenize");
        let back = rt.block_on(f.detokenizer.detokenize(&issued.token)).expect("detokenize");
        prop_assert_eq!(back.pan, p);
        prop_assert_eq!(issued.token.format(), format);
    }

    #[test]
    fn fpe_keeps_shape_and_fails_luhn(p in any_pan()) {
        let f = fixture();
        let rt = rt();
        let req = TokenizeRequest { format: TokenFormat::Fpe, dedupe: false, ..TokenizeRequest::new(p.clone()) };
        if p.len() < MIN_FPE_PAN_DIGITS {
            // Too few random middle digits to hide the PAN: refused, never exhausted.
            prop_assert_eq!(rt.block_on(f.tokenizer.tokenize(&req)).err(), Some(Error::FpeTooShort));
            return Ok(());
        }
        for _ in 0..4 {
            let t = rt.block_on(f.tokenizer.tokenize(&req)).expect("tokenize").token;
            let s = t.as_str();
            prop_assert_eq!(s.len(), p.len());
            prop_assert_eq!(&s[..6], p.bin());
            prop_assert_eq!(&s[s.len() - 4..], p.last4());
            prop_assert!(!luhn_valid(s.as_bytes()));
            prop_assert_ne!(s, p.expose_digits());
            prop_assert_eq!(Token::parse(s), Ok(t.clone()));
        }
    }

    #[test]
    fn dedup_is_per_pan(a in any_pan(), b in any_pan()) {
        let f = fixture();
        let rt = rt();
        let ta = rt.block_on(f.tokenizer.tokenize(&TokenizeRequest::new(a.clone()))).expect("a");
        let ta2 = rt.block_on(f.tokenizer.tokenize(&TokenizeRequest::new(a.clone()))).expect("a again");
        prop_assert_eq!(&ta.token, &ta2.token);
        prop_assert!(ta.created && !ta2.created);
        let tb = rt.block_on(f.tokenizer.tokenize(&TokenizeRequest::new(b.clone()))).expect("b");
        prop_assert_eq!(a == b, ta.token == tb.token);
    }

    #[test]
    fn without_dedupe_every_call_is_new(p in any_pan()) {
        let f = fixture();
        let rt = rt();
        let req = TokenizeRequest { dedupe: false, ..TokenizeRequest::new(p) };
        let t1 = rt.block_on(f.tokenizer.tokenize(&req)).expect("1").token;
        let t2 = rt.block_on(f.tokenizer.tokenize(&req)).expect("2").token;
        prop_assert_ne!(t1, t2);
        prop_assert_eq!(f.vault.record_count(), 2);
    }
}

#[test]
fn dedup_costs() {
    let f = fixture();
    let rt = rt();
    let req = TokenizeRequest::new(pan("4111111111111111"));
    rt.block_on(f.tokenizer.tokenize(&req)).expect("miss");
    // A miss: one index read, then two conditional puts (record, then index).
    assert_eq!(f.vault.stats().reads, 1);
    assert_eq!(f.vault.stats().writes, 2);
    assert_eq!(f.keyring.calls(), (1, 0));
    let before = (f.vault.stats(), f.tokenizer.key_stats());
    rt.block_on(f.tokenizer.tokenize(&req)).expect("hit");
    // A hit: one read and the conditional check that the record carries the
    // index item's link (a write that changes nothing); no key ring call,
    // not even a cache lease.
    assert_eq!(f.vault.stats().reads, before.0.reads + 1);
    assert_eq!(f.vault.stats().writes, before.0.writes + 1);
    assert_eq!(f.tokenizer.key_stats(), before.1);
    assert_eq!(f.keyring.calls(), (1, 0));
    // dedupe: false: exactly one write and no read.
    let before = f.vault.stats();
    let solo = TokenizeRequest {
        dedupe: false,
        ..req
    };
    rt.block_on(f.tokenizer.tokenize(&solo)).expect("no dedupe");
    assert_eq!(f.vault.stats().reads, before.reads);
    assert_eq!(f.vault.stats().writes, before.writes + 1);
}

#[test]
fn the_tokenizer_names_the_fingerprint_key_version_it_indexes_under() {
    assert_eq!(fixture().tokenizer.key_version(), "v1");
}

#[test]
fn formats_dedupe_separately() {
    let f = fixture();
    let rt = rt();
    let o = rt
        .block_on(
            f.tokenizer
                .tokenize(&request("5555555555554444", TokenFormat::Opaque)),
        )
        .expect("opaque");
    let p = rt
        .block_on(
            f.tokenizer
                .tokenize(&request("5555555555554444", TokenFormat::Fpe)),
        )
        .expect("fpe");
    assert_ne!(o.token, p.token);
    assert_eq!(p.token.format(), TokenFormat::Fpe);
}

/// A vault whose index reads all wait until `n` have been made: every
/// writer misses the index before any writes, so the race is certain, not
/// left to the scheduler.
struct RacingVault {
    inner: MemoryVault,
    all_read: tokio::sync::Barrier,
    first_reads: std::sync::atomic::AtomicUsize,
    index_puts: std::sync::atomic::AtomicU64,
    lost: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl IssuingVault for RacingVault {
    async fn find_index(&self, key: &IndexKey) -> Result<Option<IndexEntry>, VaultError> {
        let found = self.inner.find_index(key).await;
        // Only the first read of each writer waits: a loser reads again.
        let n = self
            .first_reads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n < 32 {
            self.all_read.wait().await;
        }
        found
    }
    async fn create_index(
        &self,
        index: &IndexEntry,
        now: i64,
        replacing: Option<&Token>,
    ) -> Result<(), CreateError> {
        self.index_puts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = self.inner.create_index(index, now, replacing).await;
        if matches!(result, Err(CreateError::IndexExists)) {
            self.lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }
    async fn create(&self, record: &VaultRecord) -> Result<(), CreateError> {
        self.inner.create(record).await
    }
    async fn confirm(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        self.inner.confirm(token, link).await
    }
    async fn abandon(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError> {
        self.inner.abandon(record, now).await
    }
    async fn describe(&self, token: &Token) -> Result<Option<TokenDescription>, VaultError> {
        self.inner.describe(token).await
    }
}

#[test]
fn concurrent_tokenizations_of_one_pan_give_one_token() {
    const WRITERS: usize = 32;
    let vault = Arc::new(RacingVault {
        inner: MemoryVault::new(),
        all_read: tokio::sync::Barrier::new(WRITERS),
        first_reads: Default::default(),
        index_puts: Default::default(),
        lost: Default::default(),
    });
    let key = FingerprintKey::new(&[9; 32], "v1").expect("key");
    let tokenizer = Arc::new(Tokenizer::new(
        Ports {
            clock: Arc::new(ManualClock::at_millis(NOW_MS)),
            rng: Arc::new(SeededRandom::new(7)),
            vault_id: "vault-a".into(),
        },
        vault.clone(),
        Arc::new(MemoryKeyRing::new("test")),
        Fingerprinter::new(&key),
        CacheLimits::default(),
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .expect("runtime");
    let issued: Vec<Tokenized> = runtime.block_on(async {
        let tasks: Vec<_> = (0..WRITERS)
            .map(|_| {
                let tokenizer = tokenizer.clone();
                tokio::spawn(async move {
                    tokenizer
                        .tokenize(&TokenizeRequest::new(pan("4012888888881881")))
                        .await
                        .expect("tokenize")
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("join"));
        }
        out
    });
    // The race happened: every writer missed the index and tried its
    // conditional index put; all but one lost.
    assert_eq!(
        vault.index_puts.load(std::sync::atomic::Ordering::Relaxed),
        WRITERS as u64,
        "conditional index puts attempted"
    );
    assert_eq!(
        vault.lost.load(std::sync::atomic::Ordering::Relaxed),
        WRITERS as u64 - 1,
        "writes that lost to the winner's index item"
    );
    // And every caller got the winner's token, one of them as its creator.
    let tokens: HashSet<&Token> = issued.iter().map(|t| &t.token).collect();
    assert_eq!(tokens.len(), 1);
    assert_eq!(issued.iter().filter(|t| t.created).count(), 1);
    // The losers voided their own records: one copy of the PAN remains.
    assert_eq!(vault.inner.record_count(), 1);
    assert_eq!(vault.inner.dangling_index_count(), 0);
}

#[test]
fn data_key_bounds() {
    let f = fixture();
    let rt = rt();
    let req = TokenizeRequest {
        dedupe: false,
        ..TokenizeRequest::new(pan("4111111111111111"))
    };
    for _ in 0..10_001 {
        rt.block_on(f.tokenizer.tokenize(&req)).expect("tokenize");
    }
    // 10,000 records on the first key, the 10,001st on a second.
    assert_eq!(f.keyring.calls().0, 2);
    assert_eq!(f.tokenizer.key_stats().generate_calls, 2);
    // An aged key is replaced even though it has uses left.
    f.clock.advance_millis(MAX_DATA_KEY_AGE_MILLIS);
    rt.block_on(f.tokenizer.tokenize(&req)).expect("tokenize");
    assert_eq!(f.keyring.calls().0, 3);
}

#[test]
fn decryption_cache_is_bounded_in_age() {
    let f = fixture();
    let rt = rt();
    let t = rt
        .block_on(
            f.tokenizer
                .tokenize(&TokenizeRequest::new(pan("4111111111111111"))),
        )
        .expect("t")
        .token;
    for _ in 0..100 {
        rt.block_on(f.detokenizer.detokenize(&t)).expect("d");
    }
    assert_eq!(f.keyring.calls().1, 1);
    assert_eq!(f.detokenizer.key_stats().cache_hits, 99);
    f.clock.advance_millis(MAX_DATA_KEY_AGE_MILLIS);
    rt.block_on(f.detokenizer.detokenize(&t)).expect("d");
    assert_eq!(f.keyring.calls().1, 2);
}

#[test]
fn expiry_is_enforced_before_ttl_deletion() {
    let f = fixture();
    let rt = rt();
    let req = TokenizeRequest {
        expiry: Expiry::ttl(60).expect("ttl"),
        ..TokenizeRequest::new(pan("4111111111111111"))
    };
    let first = rt.block_on(f.tokenizer.tokenize(&req)).expect("issue");
    assert_eq!(first.facts.expires_at, Some(NOW_MS / 1000 + 60));
    f.clock.advance_millis(60_000);
    // The record is still stored (DynamoDB TTL is lazy) but is gone to callers.
    assert_eq!(
        rt.block_on(f.detokenizer.detokenize(&first.token)).err(),
        Some(Error::NotFound)
    );
    assert_eq!(
        rt.block_on(f.tokenizer.describe(&first.token)).err(),
        Some(Error::NotFound)
    );
    assert_eq!(
        rt.block_on(f.tokenizer.lookup_by_pan(
            &pan("4111111111111111"),
            TokenFormat::Opaque,
            &DedupScope::default()
        ))
        .err(),
        Some(Error::NotFound)
    );
    // Dedup never hands back the expired token: a new one replaces its index item.
    let second = rt.block_on(f.tokenizer.tokenize(&req)).expect("reissue");
    assert!(second.created);
    assert_ne!(second.token, first.token);
    assert_eq!(
        rt.block_on(f.tokenizer.lookup_by_pan(
            &pan("4111111111111111"),
            TokenFormat::Opaque,
            &DedupScope::default()
        ))
        .expect("found")
        .token,
        second.token
    );
}

#[test]
fn card_expiry_sets_the_end_of_month() {
    let f = fixture();
    let rt = rt();
    let req = TokenizeRequest {
        expiry: Expiry::card("12/27").expect("MM/YY"),
        ..TokenizeRequest::new(pan("4111111111111111"))
    };
    let t = rt.block_on(f.tokenizer.tokenize(&req)).expect("issue");
    assert_eq!(t.facts.expires_at, Some(1_830_297_600));
    let expired = TokenizeRequest {
        expiry: Expiry::card("01/21").expect("MM/YY"),
        ..req
    };
    assert_eq!(
        rt.block_on(f.tokenizer.tokenize(&expired)).err(),
        Some(Error::Expiry(ExpiryError::CardExpired))
    );
}

#[test]
fn lookup_creates_nothing() {
    let f = fixture();
    let rt = rt();
    let p = pan("378282246310005");
    assert_eq!(
        rt.block_on(
            f.tokenizer
                .lookup_by_pan(&p, TokenFormat::Opaque, &DedupScope::default())
        )
        .err(),
        Some(Error::NotFound)
    );
    assert_eq!(f.vault.record_count(), 0);
    assert_eq!(f.keyring.calls(), (0, 0));
    let t = rt
        .block_on(f.tokenizer.tokenize(&TokenizeRequest::new(p.clone())))
        .expect("t");
    let found = rt
        .block_on(
            f.tokenizer
                .lookup_by_pan(&p, TokenFormat::Opaque, &DedupScope::default()),
        )
        .expect("found");
    assert_eq!(found.token, t.token);
    assert_eq!(found.facts.brand, Brand::Amex);
    assert!(!found.created);
}

#[test]
fn describe_shows_facts_and_metadata() {
    let f = fixture();
    let rt = rt();
    let metadata =
        Metadata::new(BTreeMap::from([("order".to_owned(), "A-1".to_owned())])).expect("ok");
    let req = TokenizeRequest {
        metadata: metadata.clone(),
        ..TokenizeRequest::new(pan("5555555555554444"))
    };
    let t = rt.block_on(f.tokenizer.tokenize(&req)).expect("t");
    let d = rt
        .block_on(f.tokenizer.describe(&t.token))
        .expect("describe");
    assert_eq!(d.metadata, metadata);
    assert_eq!(d.facts, t.facts);
    assert_eq!(d.facts.brand, Brand::Mastercard);
    assert_eq!(
        (
            d.facts.bin.as_str(),
            d.facts.last4.as_str(),
            d.facts.pan_length
        ),
        ("555555", "4444", 16)
    );
}

#[test]
fn delete_then_not_found_and_reissue() {
    let f = fixture();
    let rt = rt();
    let req = TokenizeRequest::new(pan("6011111111111117"));
    let t = rt.block_on(f.tokenizer.tokenize(&req)).expect("t").token;
    rt.block_on(f.eraser.delete(&t)).expect("delete");
    assert_eq!(
        rt.block_on(f.detokenizer.detokenize(&t)).err(),
        Some(Error::NotFound)
    );
    assert_eq!(
        rt.block_on(f.eraser.delete(&t)).err(),
        Some(Error::NotFound)
    );
    // The index item went with it: the same PAN now gets a fresh token.
    let again = rt.block_on(f.tokenizer.tokenize(&req)).expect("again");
    assert!(again.created);
    assert_ne!(again.token, t);
}

#[test]
fn batches_keep_order_and_report_per_item() {
    let f = fixture();
    let rt = rt();
    let reqs = vec![
        request("4111111111111111", TokenFormat::Opaque),
        TokenizeRequest {
            expiry: Expiry::card("01/20").expect("MM/YY"),
            ..request("5555555555554444", TokenFormat::Opaque)
        },
        request("378282246310005", TokenFormat::Fpe),
    ];
    let out = rt
        .block_on(f.tokenizer.tokenize_batch(&reqs))
        .expect("batch");
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].as_ref().expect("0").facts.last4, "1111");
    assert_eq!(
        out[1].as_ref().err(),
        Some(&Error::Expiry(ExpiryError::CardExpired))
    );
    assert_eq!(out[2].as_ref().expect("2").facts.last4, "0005");
    let missing = Token::parse("tok_00000000000000000000000000").expect("token");
    let tokens = vec![
        out[2].as_ref().expect("2").token.clone(),
        missing,
        out[0].as_ref().expect("0").token.clone(),
    ];
    let back = rt
        .block_on(f.detokenizer.detokenize_batch(&tokens))
        .expect("batch");
    assert_eq!(back[0].as_ref().expect("0").pan, pan("378282246310005"));
    assert_eq!(back[1].as_ref().err(), Some(&Error::NotFound));
    assert_eq!(back[2].as_ref().expect("2").pan, pan("4111111111111111"));
    let too_many = vec![request("4111111111111111", TokenFormat::Opaque); MAX_BATCH_ITEMS + 1];
    assert_eq!(
        rt.block_on(f.tokenizer.tokenize_batch(&too_many)).err(),
        Some(Error::BatchTooLarge)
    );
}

#[test]
fn tampered_or_swapped_ciphertext_fails() {
    let f = fixture();
    let rt = rt();
    let a = rt
        .block_on(
            f.tokenizer
                .tokenize(&TokenizeRequest::new(pan("4111111111111111"))),
        )
        .expect("a")
        .token;
    let b = rt
        .block_on(
            f.tokenizer
                .tokenize(&TokenizeRequest::new(pan("5555555555554444"))),
        )
        .expect("b")
        .token;
    let record_a = rt
        .block_on(f.vault.get(&a))
        .expect("get")
        .expect("a stored");
    let mut record_b = rt
        .block_on(f.vault.get(&b))
        .expect("get")
        .expect("b stored");
    // Move a's ciphertext under b's token: the AAD no longer matches.
    record_b.ciphertext = record_a.ciphertext.clone();
    f.vault.overwrite_record(record_b);
    assert!(matches!(
        rt.block_on(f.detokenizer.detokenize(&b)),
        Err(Error::Integrity(_))
    ));
    // Flip one bit of a's ciphertext.
    let mut tampered = record_a;
    tampered.ciphertext[14] ^= 0x01;
    f.vault.overwrite_record(tampered);
    assert!(matches!(
        rt.block_on(f.detokenizer.detokenize(&a)),
        Err(Error::Integrity(_))
    ));
}

#[test]
fn another_vault_cannot_open_a_record() {
    let f = fixture();
    let rt = rt();
    let t = rt
        .block_on(
            f.tokenizer
                .tokenize(&TokenizeRequest::new(pan("4111111111111111"))),
        )
        .expect("t")
        .token;
    let other = Detokenizer::new(
        Ports {
            clock: f.clock.clone(),
            rng: Arc::new(OsRandom),
            vault_id: "vault-b".into(),
        },
        f.vault.clone(),
        f.keyring.clone(),
        CacheLimits::default(),
    );
    assert!(matches!(
        rt.block_on(other.detokenize(&t)),
        Err(Error::Integrity(_))
    ));
}

#[test]
fn import_uses_the_given_token_once() {
    let f = fixture();
    let rt = rt();
    let token = Token::parse("tok_00000000000000000000000001").expect("token");
    let req = TokenizeRequest::new(pan("4111111111111111"));
    let issued = rt
        .block_on(f.tokenizer.import(token.clone(), &req))
        .expect("import");
    assert_eq!(issued.token, token);
    assert_eq!(
        rt.block_on(f.detokenizer.detokenize(&token))
            .expect("back")
            .pan,
        pan("4111111111111111")
    );
    // Dedup sees it; importing again conflicts.
    assert_eq!(
        rt.block_on(f.tokenizer.tokenize(&req))
            .expect("dedup")
            .token,
        token
    );
    assert_eq!(
        rt.block_on(f.tokenizer.import(token, &req)).err(),
        Some(Error::Conflict)
    );
    // An fpe token must fit its PAN.
    let wrong = Token::parse("4111119999991112").expect("fpe token");
    let fpe = request("5555555555554444", TokenFormat::Fpe);
    assert_eq!(
        rt.block_on(f.tokenizer.import(wrong, &fpe)).err(),
        Some(Error::TokenMismatch)
    );
}

#[test]
fn dedup_and_lookup_never_cross_scopes() {
    let f = fixture();
    let rt = rt();
    let p = pan("4111111111111111");
    let payments = DedupScope::new("payments").expect("scope");
    let marketing = DedupScope::new("marketing").expect("scope");
    let in_scope = |scope: &DedupScope| TokenizeRequest {
        scope: scope.clone(),
        ..TokenizeRequest::new(p.clone())
    };
    let a = rt
        .block_on(f.tokenizer.tokenize(&in_scope(&payments)))
        .expect("a");
    // Another scope's caller neither finds the card nor gets the same token.
    assert_eq!(
        rt.block_on(
            f.tokenizer
                .lookup_by_pan(&p, TokenFormat::Opaque, &marketing)
        )
        .err(),
        Some(Error::NotFound)
    );
    let b = rt
        .block_on(f.tokenizer.tokenize(&in_scope(&marketing)))
        .expect("b");
    assert!(b.created);
    assert_ne!(a.token, b.token);
    // Within a scope dedup still works.
    let again = rt
        .block_on(f.tokenizer.tokenize(&in_scope(&payments)))
        .expect("again");
    assert_eq!((again.token, again.created), (a.token, false));
}

#[test]
fn a_dedup_hit_never_outlives_the_requested_expiry_or_drops_metadata() {
    let f = fixture();
    let rt = rt();
    let p = pan("4111111111111111");
    let forever = rt
        .block_on(f.tokenizer.tokenize(&TokenizeRequest::new(p.clone())))
        .expect("forever");
    // B asks for a token that ends with the card: A's never-expiring token would outlive it.
    let until_card_expiry = TokenizeRequest {
        expiry: Expiry::card("12/27").expect("expiry"),
        ..TokenizeRequest::new(p.clone())
    };
    assert_eq!(
        rt.block_on(f.tokenizer.tokenize(&until_card_expiry)).err(),
        Some(Error::DedupConflict)
    );
    // Metadata the existing token would silently drop: refused too.
    let mut tagged = TokenizeRequest::new(p.clone());
    tagged.metadata =
        Metadata::new([("order".to_owned(), "A-1".to_owned())].into()).expect("metadata");
    assert_eq!(
        rt.block_on(f.tokenizer.tokenize(&tagged)).err(),
        Some(Error::DedupConflict)
    );
    // The same request again is a plain hit.
    let again = rt
        .block_on(f.tokenizer.tokenize(&TokenizeRequest::new(p.clone())))
        .expect("again");
    assert_eq!(again.token, forever.token);
    // A token that already holds the request's metadata drops nothing: the
    // retry of a call whose reply was lost gets its token, not a conflict.
    let mut first_tag = TokenizeRequest::new(pan("6011111111111117"));
    first_tag.metadata =
        Metadata::new([("order".to_owned(), "B-7".to_owned())].into()).expect("metadata");
    let tagged_token = rt.block_on(f.tokenizer.tokenize(&first_tag)).expect("b");
    let retried = rt
        .block_on(f.tokenizer.tokenize(&first_tag))
        .expect("retry");
    assert_eq!(
        (retried.token, retried.created),
        (tagged_token.token, false)
    );
    let mut other_tag = first_tag.clone();
    other_tag.metadata =
        Metadata::new([("order".to_owned(), "B-8".to_owned())].into()).expect("metadata");
    assert_eq!(
        rt.block_on(f.tokenizer.tokenize(&other_tag)).err(),
        Some(Error::DedupConflict)
    );
    // A token that expires before the requested expiry is returned, and says when.
    let q = pan("5555555555554444");
    let short = TokenizeRequest {
        expiry: Expiry::ttl(3600).expect("ttl"),
        ..TokenizeRequest::new(q.clone())
    };
    let first = rt.block_on(f.tokenizer.tokenize(&short)).expect("short");
    let longer = TokenizeRequest {
        expiry: Expiry::ttl(7200).expect("ttl"),
        ..TokenizeRequest::new(q)
    };
    let hit = rt.block_on(f.tokenizer.tokenize(&longer)).expect("hit");
    assert_eq!(hit.token, first.token);
    assert_eq!(hit.facts.expires_at, first.facts.expires_at);
}

#[test]
fn an_expiry_removed_from_a_record_does_not_revive_it() {
    let f = fixture();
    let rt = rt();
    let req = TokenizeRequest {
        expiry: Expiry::ttl(60).expect("ttl"),
        dedupe: false,
        ..TokenizeRequest::new(pan("4111111111111111"))
    };
    let issued = rt.block_on(f.tokenizer.tokenize(&req)).expect("tokenize");
    // A raw UpdateItem that removes `exp` (or pushes it out) must not revive it.
    let mut record = rt
        .block_on(f.vault.get(&issued.token))
        .expect("get")
        .expect("stored");
    record.facts.expires_at = None;
    f.vault.overwrite_record(record);
    assert!(matches!(
        rt.block_on(f.detokenizer.detokenize(&issued.token)),
        Err(Error::Integrity(_))
    ));
}

/// An fpe token of `len` digits with the given first 6 and last 4, its
/// middle chosen so that it fails the Luhn check.
fn fpe_token(front: &str, back: &str, len: usize) -> Token {
    (0..10u32)
        .map(|d| {
            let middle = d.to_string().repeat(len - front.len() - back.len());
            format!("{front}{middle}{back}")
        })
        .find_map(|t| Token::parse(&t).ok())
        .expect("one middle digit fails the Luhn check")
}

#[test]
fn import_checks_that_the_token_fits_its_pan() {
    let f = fixture();
    let rt = rt();
    let card = "4000056655665556";
    let fpe = request(card, TokenFormat::Fpe);
    let fits = fpe_token("400005", "5556", 16);
    assert_eq!(
        rt.block_on(f.tokenizer.import(fits.clone(), &fpe))
            .expect("a fitting fpe token imports")
            .token,
        fits
    );
    let mismatch =
        |token: Token, req: &TokenizeRequest| rt.block_on(f.tokenizer.import(token, req)).err();
    // Wrong BIN, wrong last 4, wrong length: each alone is refused.
    for wrong in [
        fpe_token("411111", "5556", 16),
        fpe_token("400005", "1111", 16),
        fpe_token("400005", "5556", 17),
    ] {
        assert_eq!(mismatch(wrong, &fpe), Some(Error::TokenMismatch));
    }
    // A format other than the request's is refused both ways.
    let opaque_request = request(card, TokenFormat::Opaque);
    assert_eq!(
        mismatch(fpe_token("400005", "5556", 16), &opaque_request),
        Some(Error::TokenMismatch)
    );
    let opaque = Token::parse("tok_00000000000000000000000002").expect("token");
    assert_eq!(mismatch(opaque, &fpe), Some(Error::TokenMismatch));
}

#[test]
fn a_full_batch_is_accepted_and_one_more_is_not() {
    let f = fixture();
    let rt = rt();
    let full = vec![request("4111111111111111", TokenFormat::Opaque); MAX_BATCH_ITEMS];
    let out = rt
        .block_on(f.tokenizer.tokenize_batch(&full))
        .expect("100 items");
    assert_eq!(out.len(), MAX_BATCH_ITEMS);
    let one = rt
        .block_on(f.tokenizer.tokenize(&full[0]))
        .expect("t")
        .token;
    let tokens = vec![one; MAX_BATCH_ITEMS];
    assert!(rt.block_on(f.detokenizer.detokenize_batch(&tokens)).is_ok());
    let mut over = tokens.clone();
    over.push(over[0].clone());
    assert_eq!(
        rt.block_on(f.detokenizer.detokenize_batch(&over)).err(),
        Some(Error::BatchTooLarge)
    );
}

#[test]
fn only_transient_failures_are_retryable() {
    let transient = [
        Error::Contention,
        Error::Vault(VaultError::Unavailable("throttled".into())),
        Error::Keys(KeyError::Unavailable("throttled".into())),
    ];
    for e in transient {
        assert!(e.is_retryable(), "{e:?}");
    }
    let lasting = [
        Error::NotFound,
        Error::Conflict,
        Error::DedupConflict,
        Error::BatchTooLarge,
        Error::Vault(VaultError::AccessDenied("denied".into())),
        Error::Vault(VaultError::Corrupt("bad".into())),
        Error::Keys(KeyError::KeyUnusable("disabled".into())),
        Error::Keys(KeyError::InvalidCiphertext),
    ];
    for e in lasting {
        assert!(!e.is_retryable(), "{e:?}");
    }
}

/// A vault whose next index read misses, as when another writer indexes the
/// same card between this writer's read and its own index put.
struct RacedVault {
    inner: Arc<MemoryVault>,
    stale_reads: std::sync::atomic::AtomicUsize,
    /// Whether `create_index` writes and then reports `IndexExists`, as when
    /// the SDK retries a put whose first response was lost.
    lost_response: bool,
}

#[async_trait::async_trait]
impl IssuingVault for RacedVault {
    async fn find_index(&self, key: &IndexKey) -> Result<Option<IndexEntry>, VaultError> {
        use std::sync::atomic::Ordering;
        if self
            .stale_reads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Ok(None);
        }
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
        let written = self.inner.create_index(index, now, replacing).await;
        if self.lost_response && written.is_ok() {
            return Err(CreateError::IndexExists);
        }
        written
    }
    async fn confirm(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        self.inner.confirm(token, link).await
    }
    async fn abandon(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError> {
        self.inner.abandon(record, now).await
    }
    async fn describe(&self, token: &Token) -> Result<Option<TokenDescription>, VaultError> {
        self.inner.describe(token).await
    }
}

fn raced_tokenizer(f: &Fixture, lost_response: bool) -> Tokenizer {
    let key = FingerprintKey::new(&[9; 32], "v1").expect("key");
    Tokenizer::new(
        Ports {
            clock: f.clock.clone(),
            rng: Arc::new(SeededRandom::new(99)),
            vault_id: "vault-a".into(),
        },
        Arc::new(RacedVault {
            inner: f.vault.clone(),
            stale_reads: 1.into(),
            lost_response,
        }),
        f.keyring.clone(),
        Fingerprinter::new(&key),
        CacheLimits::default(),
    )
}

#[test]
fn a_writer_that_loses_the_index_race_returns_the_winners_token_and_voids_its_record() {
    let f = fixture();
    let rt = rt();
    let req = TokenizeRequest::new(pan("4012888888881881"));
    let winner = rt.block_on(f.tokenizer.tokenize(&req)).expect("winner");
    let before = f.vault.stats();
    let loser = rt
        .block_on(raced_tokenizer(&f, false).tokenize(&req))
        .expect("loser");
    assert_eq!(loser.token, winner.token, "the winner's token");
    assert!(!loser.created);
    // Its record, the refused index put, and the record voided; then the
    // index read that found the winner, and the next pass's read with its
    // check of the winner's record.
    let after = f.vault.stats();
    assert_eq!(after.writes - before.writes, 4);
    assert_eq!(after.reads - before.reads, 2);
    assert_eq!(f.vault.record_count(), 1, "one copy of the PAN");
    assert_eq!(f.vault.dangling_index_count(), 0);
    let back = rt
        .block_on(f.detokenizer.detokenize(&loser.token))
        .expect("detokenize");
    assert_eq!(back.pan, pan("4012888888881881"));
}

#[test]
fn a_retried_index_put_that_finds_its_own_item_keeps_the_record() {
    let f = fixture();
    let rt = rt();
    let req = TokenizeRequest::new(pan("4012888888881881"));
    let issued = rt
        .block_on(raced_tokenizer(&f, true).tokenize(&req))
        .expect("tokenize");
    assert!(issued.created);
    assert_eq!(f.vault.record_count(), 1);
    assert_eq!(f.vault.dangling_index_count(), 0);
    let hit = rt.block_on(f.tokenizer.tokenize(&req)).expect("hit");
    assert_eq!(hit.token, issued.token);
    assert!(rt.block_on(f.detokenizer.detokenize(&issued.token)).is_ok());
}
