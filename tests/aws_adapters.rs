//! The AWS adapters against the moto emulator, through the real SDK.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::AttributeValue;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tessera_aws::KmsKeyRing;
use tessera_aws::secrets::load_fingerprint_key;
use tessera_core::memory::ManualClock;
use tessera_core::{
    CacheLimits, Clock, CreateError, DataKeyIssuer, DataKeyUnwrapper, DedupScope, Error, Expiry,
    Fingerprinter, IndexEntry, IndexKey, IssuingVault, KeyError, Pan, ReadingVault, SystemClock,
    Token, TokenDescription, TokenFormat, TokenizeRequest, Tokenizer, VaultError, VaultRecord,
};
use tessera_e2e::{env_reader, stack};
use tessera_lambda::metrics::MetricsSink;
use tessera_lambda::{Admin, Detokenize, Tokenize, build_app};

fn pan(s: &str) -> Pan {
    Pan::parse(s).expect("valid test PAN")
}

fn no_metrics() -> MetricsSink {
    Arc::new(|_| {})
}

#[tokio::test]
async fn round_trip_every_format_and_dedupe_mode() {
    let s = stack().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tokenizer = s.tokenizer(clock.clone()).await;
    let detokenizer = s.detokenizer(clock);
    for format in [TokenFormat::Opaque, TokenFormat::Fpe] {
        for dedupe in [true, false] {
            let p = pan("5555555555554444");
            let req = TokenizeRequest {
                format,
                dedupe,
                ..TokenizeRequest::new(p.clone())
            };
            let issued = tokenizer.tokenize(&req).await.expect("tokenize");
            assert_eq!(issued.token.format(), format);
            let back = detokenizer
                .detokenize(&issued.token)
                .await
                .expect("detokenize");
            assert_eq!(back.pan, p);
            assert_eq!(back.facts, issued.facts);
        }
    }
    let described = tokenizer
        .describe(
            &tokenizer
                .lookup_by_pan(
                    &pan("5555555555554444"),
                    TokenFormat::Fpe,
                    &DedupScope::default(),
                )
                .await
                .expect("lookup")
                .token,
        )
        .await
        .expect("describe");
    assert_eq!(described.facts.last4, "4444");
}

/// The emulator's vault, with index reads that wait until every writer has
/// made one: all of them miss, so all of them race to write.
struct RacingVault {
    inner: Arc<tessera_aws::DynamoVault>,
    all_read: tokio::sync::Barrier,
    first_reads: AtomicUsize,
    writers: usize,
}

#[async_trait::async_trait]
impl IssuingVault for RacingVault {
    async fn find_index(&self, key: &IndexKey) -> Result<Option<IndexEntry>, VaultError> {
        let found = self.inner.find_index(key).await;
        // Only each writer's first read waits: a loser reads the winner's item again.
        if self.first_reads.fetch_add(1, Ordering::SeqCst) < self.writers {
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
        self.inner.create_index(index, now, replacing).await
    }
    async fn create(&self, record: &VaultRecord) -> Result<(), CreateError> {
        self.inner.create(record).await
    }
    async fn confirm(&self, token: &Token, link: &tessera_core::Link) -> Result<bool, VaultError> {
        self.inner.confirm(token, link).await
    }
    async fn abandon(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError> {
        self.inner.abandon(record, now).await
    }
    async fn describe(&self, token: &Token) -> Result<Option<TokenDescription>, VaultError> {
        self.inner.describe(token).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tokenizations_give_one_token_and_one_record() {
    const WRITERS: usize = 32;
    let s = stack().await;
    let key = load_fingerprint_key(&s.clients.secrets, &s.made.secret_arn)
        .await
        .expect("fingerprint key");
    let vault = Arc::new(RacingVault {
        inner: s.vault(),
        all_read: tokio::sync::Barrier::new(WRITERS),
        first_reads: AtomicUsize::new(0),
        writers: WRITERS,
    });
    let tokenizer = Arc::new(Tokenizer::new(
        s.ports(Arc::new(SystemClock)),
        vault,
        s.keyring(),
        Fingerprinter::new(&key),
        CacheLimits::default(),
    ));
    let before = s.clients.counter.snapshot();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let t = tokenizer.clone();
            tokio::spawn(async move {
                t.tokenize(&TokenizeRequest::new(pan("4012888888881881")))
                    .await
                    .expect("tokenize")
            })
        })
        .collect();
    let mut issued = Vec::new();
    for task in tasks {
        issued.push(task.await.expect("join"));
    }
    // The race happened: every writer put its record and tried its
    // conditional index put; each of the losers then voided its record.
    let calls = s.clients.counter.snapshot().since(&before);
    assert_eq!(
        calls.get("PutItem"),
        3 * WRITERS as u64 - 1,
        "record puts, index puts, voids: {calls:?}"
    );
    // Writes go as single puts, never as a write transaction; the only
    // transactions are each loser's check that the winner's record carries
    // the fingerprint (a lone ConditionCheck: it reads nothing back).
    assert_eq!(
        calls.get("TransactWriteItems"),
        WRITERS as u64 - 1,
        "one fingerprint check per loser: {calls:?}"
    );
    // One won; every caller got its token.
    assert_eq!(issued.iter().filter(|t| t.created).count(), 1, "one winner");
    let tokens: HashSet<&Token> = issued.iter().map(|t| &t.token).collect();
    assert_eq!(tokens.len(), 1, "one token for one PAN");
    let scan = s
        .clients
        .dynamodb
        .scan()
        .table_name(&s.made.table)
        .send()
        .await
        .expect("scan");
    let text = |i: &std::collections::HashMap<String, AttributeValue>, name: &str| {
        i.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let records: Vec<_> = scan
        .items()
        .iter()
        .filter(|i| text(i, "pk").starts_with("t#"))
        .collect();
    // The losers voided their own records: husks with no ciphertext or key,
    // expiring now, so the vault holds one copy of the PAN.
    let live: Vec<String> = records
        .iter()
        .filter(|i| text(i, "fmt") != "void")
        .map(|i| text(i, "pk"))
        .collect();
    assert_eq!(live.len(), 1, "one record");
    for husk in records.iter().filter(|i| text(i, "fmt") == "void") {
        assert!(!husk.contains_key("ct") && !husk.contains_key("dk"));
        assert!(husk.contains_key("exp"), "a husk expires");
    }
    let indexes: Vec<_> = scan
        .items()
        .iter()
        .filter(|i| text(i, "pk").starts_with("f#"))
        .collect();
    assert_eq!(indexes.len(), 1);
    for index in indexes {
        let named = format!("t#{}", text(index, "tok"));
        assert!(live.contains(&named), "an index item names a live record");
    }
}

#[tokio::test]
async fn a_wrong_encryption_context_fails_to_decrypt() {
    let s = stack().await;
    let (_, wrapped) = s.keyring().generate().await.expect("generate");
    assert!(s.keyring().unwrap(&wrapped).await.is_ok());
    let elsewhere = KmsKeyRing::new(s.clients.kms.clone(), &s.made.key_arn, "another-table");
    assert_eq!(
        elsewhere.unwrap(&wrapped).await.err(),
        Some(KeyError::InvalidCiphertext)
    );
}

#[tokio::test]
async fn expired_and_deleted_tokens_are_not_found() {
    let s = stack().await;
    let clock = Arc::new(ManualClock::at_millis(SystemClock.now_millis()));
    let tokenizer = s.tokenizer(clock.clone()).await;
    let detokenizer = s.detokenizer(clock.clone());
    let req = TokenizeRequest {
        expiry: Expiry::ttl(60).expect("ttl"),
        ..TokenizeRequest::new(pan("378282246310005"))
    };
    let expiring = tokenizer.tokenize(&req).await.expect("tokenize").token;
    assert!(detokenizer.detokenize(&expiring).await.is_ok());
    clock.advance_millis(61_000);
    assert_eq!(
        detokenizer.detokenize(&expiring).await.err(),
        Some(Error::NotFound)
    );
    // Dedup issues a fresh token over the expired index item.
    let fresh = tokenizer.tokenize(&req).await.expect("reissue");
    assert!(fresh.created);
    assert_ne!(fresh.token, expiring);

    let kept = tokenizer
        .tokenize(&TokenizeRequest::new(pan("6011111111111117")))
        .await
        .expect("t")
        .token;
    s.eraser().delete(&kept).await.expect("delete");
    assert_eq!(
        detokenizer.detokenize(&kept).await.err(),
        Some(Error::NotFound)
    );
    assert_eq!(s.eraser().delete(&kept).await.err(), Some(Error::NotFound));
    // The index item went too: the same card gets a new token.
    let again = tokenizer
        .tokenize(&TokenizeRequest::new(pan("6011111111111117")))
        .await
        .expect("t");
    assert!(again.created);
}

#[tokio::test]
async fn batches_keep_order_and_report_per_item() {
    let s = stack().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tokenizer = s.tokenizer(clock.clone()).await;
    let detokenizer = s.detokenizer(clock);
    let cards = [
        "4111111111111111",
        "5555555555554444",
        "378282246310005",
        "6011111111111117",
    ];
    let mut reqs: Vec<_> = cards.iter().map(|c| TokenizeRequest::new(pan(c))).collect();
    reqs.insert(
        2,
        TokenizeRequest {
            expiry: Expiry::card("01/20").expect("MM/YY"),
            ..TokenizeRequest::new(pan(cards[0]))
        },
    );
    let issued = tokenizer.tokenize_batch(&reqs).await.expect("batch");
    assert!(matches!(issued[2], Err(Error::Expiry(_))));
    let mut tokens: Vec<Token> = issued
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|t| t.token.clone())
        .collect();
    let missing = Token::parse("tok_00000000000000000000000000").expect("token");
    tokens.insert(1, missing);
    tokens.push(tokens[0].clone()); // a duplicate key, which BatchGetItem itself refuses
    let back = detokenizer.detokenize_batch(&tokens).await.expect("batch");
    let shown: Vec<Option<String>> = back
        .iter()
        .map(|r| r.as_ref().ok().map(|d| d.pan.last4().to_owned()))
        .collect();
    assert_eq!(
        shown,
        [
            Some("1111"),
            None,
            Some("4444"),
            Some("0005"),
            Some("1117"),
            Some("1111")
        ]
        .map(|o| o.map(str::to_owned))
    );
    assert_eq!(back[1].as_ref().err(), Some(&Error::NotFound));
}

/// The regression guard on AWS calls per operation: a change that adds a
/// call to any flow fails here.
/// The IAM actions granted by the managed policy `policy` of infra/template.yaml.
fn granted_actions(policy: &str) -> HashSet<String> {
    let template = include_str!("../infra/template.yaml");
    let header = format!("  {policy}:");
    template
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        // The resource ends where the next one (two-space indent) begins.
        .take_while(|l| l.is_empty() || l.starts_with("   "))
        .filter_map(|l| l.trim_start().strip_prefix("Action: ["))
        .flat_map(|l| l.trim_end_matches(']').split(','))
        .map(|a| a.trim().to_owned())
        .collect()
}

/// Fails if a call the adapter made is not an action `policy` grants: moto
/// does not enforce IAM, so a call the role cannot make passes every
/// emulator test and fails in AWS (a dedup check once did, as UpdateItem).
fn assert_granted(policy: &str, calls: &tessera_aws::CallCounts) {
    let granted = granted_actions(policy);
    for operation in calls.0.keys() {
        let action = match operation.as_str() {
            // The adapter's only transactions are lone ConditionChecks.
            "TransactWriteItems" => "dynamodb:ConditionCheckItem".to_owned(),
            "GenerateDataKey" | "Decrypt" | "DescribeKey" => format!("kms:{operation}"),
            "GetSecretValue" => format!("secretsmanager:{operation}"),
            _ => format!("dynamodb:{operation}"),
        };
        assert!(
            granted.contains(&action),
            "{policy} does not grant {action} (made as {operation}): {granted:?}"
        );
    }
}

#[tokio::test]
async fn aws_calls_per_operation() {
    let s = stack().await;
    let tokenizer = s.tokenizer(Arc::new(SystemClock)).await;
    let counter = &s.clients.counter;
    let req = TokenizeRequest::new(pan("4111111111111111"));
    let start = counter.snapshot();

    let before = counter.snapshot();
    let issued = tokenizer.tokenize(&req).await.expect("miss");
    let miss = counter.snapshot().since(&before);
    // A miss: one index read, two conditional puts (record, then index), and
    // this fresh instance's one data key. No transaction: it costs twice the
    // write units of plain puts.
    assert_eq!(
        miss.0.clone().into_iter().collect::<Vec<_>>(),
        [
            ("GenerateDataKey".to_owned(), 1),
            ("GetItem".to_owned(), 1),
            ("PutItem".to_owned(), 2)
        ],
        "a miss is 1 read and 2 writes: {miss:?}"
    );

    let before = counter.snapshot();
    tokenizer.tokenize(&req).await.expect("hit");
    let hit = counter.snapshot().since(&before);
    // A hit: the index read, then the check that the record it names carries
    // the fingerprint (a transaction holding one ConditionCheck: the tokenize
    // role neither reads `fp` nor holds UpdateItem on records).
    assert_eq!(
        hit.0.into_iter().collect::<Vec<_>>(),
        [
            ("GetItem".to_owned(), 1),
            ("TransactWriteItems".to_owned(), 1)
        ],
        "a hit is one read and one conditional check"
    );

    let solo = TokenizeRequest {
        dedupe: false,
        ..req
    };
    let before = counter.snapshot();
    tokenizer.tokenize(&solo).await.expect("no dedupe");
    let put = counter.snapshot().since(&before);
    assert_eq!(
        put.0.into_iter().collect::<Vec<_>>(),
        [("PutItem".to_owned(), 1)],
        "dedupe:false is one write"
    );

    // 500 more tokenizations reuse the cached data key: no further KMS call.
    let fresh = s.tokenizer(Arc::new(SystemClock)).await;
    let before = counter.snapshot();
    let many: Vec<_> = (0..100)
        .map(|_| TokenizeRequest {
            dedupe: false,
            ..TokenizeRequest::new(pan("4111111111111111"))
        })
        .collect();
    for _ in 0..5 {
        for r in fresh.tokenize_batch(&many).await.expect("batch") {
            r.expect("tokenize");
        }
    }
    let bulk = counter.snapshot().since(&before);
    assert_eq!(bulk.get("PutItem"), 500);
    assert_eq!(bulk.get("GenerateDataKey"), 1, "{bulk:?}");

    // Lookup: one read and the hit's fingerprint check; describe: one read.
    let before = counter.snapshot();
    tokenizer
        .lookup_by_pan(
            &pan("4111111111111111"),
            TokenFormat::Opaque,
            &DedupScope::default(),
        )
        .await
        .expect("lookup");
    let lookup = counter.snapshot().since(&before);
    assert_eq!(
        lookup.0.into_iter().collect::<Vec<_>>(),
        [
            ("GetItem".to_owned(), 1),
            ("TransactWriteItems".to_owned(), 1)
        ]
    );
    let before = counter.snapshot();
    tokenizer.describe(&issued.token).await.expect("describe");
    let describe = counter.snapshot().since(&before);
    assert_eq!(
        describe.0.into_iter().collect::<Vec<_>>(),
        [("GetItem".to_owned(), 1)]
    );

    assert_granted("TokenizePolicy", &counter.snapshot().since(&start));

    // Detokenize: one read; KMS once per data key, then never again.
    let detokenizer = s.detokenizer(Arc::new(SystemClock));
    detokenizer.detokenize(&issued.token).await.expect("warm");
    let before = counter.snapshot();
    for _ in 0..20 {
        detokenizer
            .detokenize(&issued.token)
            .await
            .expect("detokenize");
    }
    let detok = counter.snapshot().since(&before);
    assert_granted("DetokenizePolicy", &detok);
    assert_eq!(
        detok.0.into_iter().collect::<Vec<_>>(),
        [("GetItem".to_owned(), 20)],
        "a detokenize is one read"
    );
    // A batch of 100 is one BatchGetItem; its 100 records share one data key.
    let tokens: Vec<Token> = fresh
        .tokenize_batch(&many)
        .await
        .expect("batch")
        .into_iter()
        .map(|r| r.expect("tokenize").token)
        .collect();
    let reader = s.detokenizer(Arc::new(SystemClock));
    let before = counter.snapshot();
    for r in reader.detokenize_batch(&tokens).await.expect("batch") {
        r.expect("detokenize");
    }
    let batch = counter.snapshot().since(&before);
    assert_granted("DetokenizePolicy", &batch);
    assert_eq!(
        batch.0.into_iter().collect::<Vec<_>>(),
        [("BatchGetItem".to_owned(), 1), ("Decrypt".to_owned(), 1)],
        "100 detokenizations: 1 batch read, 1 KMS call"
    );
}

#[tokio::test]
async fn start_up_fails_clearly_without_secret_table_or_key() {
    let s = stack().await;
    let sdk = s.sdk.clone();
    let cases = [
        (
            "TESSERA_FINGERPRINT_SECRET_ID",
            "tessera/no-such-secret",
            "fingerprint key secret tessera/no-such-secret was not found",
        ),
        (
            "TESSERA_TABLE",
            "no-such-table",
            "vault table no-such-table check failed",
        ),
        (
            "TESSERA_KMS_KEY_ID",
            "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
            "KMS key arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000 check failed",
        ),
    ];
    for (name, value, expected) in cases {
        let mut env = s.env();
        env.insert(name.into(), value.into());
        let err = build_app::<Tokenize>(env_reader(env), &sdk, no_metrics())
            .await
            .err()
            .unwrap_or_else(|| panic!("start-up with a lost {name} must fail"));
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
    let mut env = s.env();
    env.remove("TESSERA_TABLE");
    env.remove("TESSERA_KMS_KEY_ID");
    let err = build_app::<Detokenize>(env_reader(env), &sdk, no_metrics())
        .await
        .err()
        .expect("missing");
    assert_eq!(
        err.to_string(),
        "missing configuration: TESSERA_TABLE, TESSERA_KMS_KEY_ID"
    );
    // And a healthy start for each function.
    let env = || env_reader(s.env());
    assert!(
        build_app::<Tokenize>(env(), &sdk, no_metrics())
            .await
            .is_ok()
    );
    assert!(
        build_app::<Detokenize>(env(), &sdk, no_metrics())
            .await
            .is_ok()
    );
    assert!(build_app::<Admin>(env(), &sdk, no_metrics()).await.is_ok());
}

#[tokio::test]
async fn the_dev_principal_is_refused_off_loopback() {
    let s = stack().await;
    let mut env = s.env();
    env.insert(
        "TESSERA_DEV_PRINCIPAL".into(),
        tessera_e2e::TOKENIZER_ROLE.into(),
    );
    assert!(
        build_app::<Tokenize>(env_reader(env.clone()), &s.sdk, no_metrics())
            .await
            .is_ok()
    );
    let remote = s
        .sdk
        .to_builder()
        .endpoint_url("https://dynamodb.us-east-1.amazonaws.com")
        .build();
    let err = build_app::<Tokenize>(env_reader(env), &remote, no_metrics())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("not a loopback address"), "{err}");
}

#[tokio::test]
async fn a_tampered_record_fails_integrity() {
    let s = stack().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tokenizer = s.tokenizer(clock.clone()).await;
    let t = tokenizer
        .tokenize(&TokenizeRequest::new(pan("4111111111111111")))
        .await
        .expect("t")
        .token;
    let mut record = s.vault().get(&t).await.expect("get").expect("stored");
    record.ciphertext[13] ^= 1;
    // Rewrite through the SDK directly, as an attacker with table access would.
    s.clients
        .dynamodb
        .update_item()
        .table_name(&s.made.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("t#{}", t.as_str())),
        )
        .update_expression("SET ct = :ct")
        .expression_attribute_values(
            ":ct",
            aws_sdk_dynamodb::types::AttributeValue::B(record.ciphertext.into()),
        )
        .send()
        .await
        .expect("tamper");
    assert!(matches!(
        s.detokenizer(clock).detokenize(&t).await,
        Err(Error::Integrity(_))
    ));
    let _ = s.vault().describe(&t).await.expect("describe still works");
}

/// Every role that writes records (tokenize, capture, import) holds the
/// fingerprint key, and a writer can read any attribute of a record through a
/// condition expression or `ReturnValuesOnConditionCheckFailure: ALL_OLD`,
/// which no IAM condition key limits. So the whole stored item, as such a
/// writer would get it back, must hold nothing the key can check a guessed
/// card against offline: no fingerprint, only a random link.
#[tokio::test]
async fn a_whole_record_gives_a_fingerprint_key_holder_nothing_to_check_a_guess_against() {
    let s = stack().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tokenizer = s.tokenizer(clock).await;
    let card = pan("4111111111111111");
    let first = tokenizer
        .tokenize(&TokenizeRequest::new(card.clone()))
        .await
        .expect("tokenize");
    let index_pk = tokenizer
        .index_key(&DedupScope::default(), &card, TokenFormat::Opaque)
        .storage_key();
    let fingerprint = index_pk.rsplit('#').next().expect("fp").to_owned();
    let raw = |pk: String| {
        let s = &s;
        async move {
            s.clients
                .dynamodb
                .get_item()
                .table_name(&s.made.table)
                .key("pk", AttributeValue::S(pk))
                .consistent_read(true)
                .send()
                .await
                .expect("get")
                .item
        }
    };
    let record = raw(format!("t#{}", first.token.as_str()))
        .await
        .expect("record");
    assert!(!record.contains_key("fp"), "{:?}", record.keys());
    for (name, value) in &record {
        let text = match value {
            AttributeValue::S(v) | AttributeValue::N(v) => v.clone(),
            AttributeValue::B(b) => hex::encode(b.as_ref()),
            other => format!("{other:?}"),
        };
        assert!(
            !text.contains(&fingerprint),
            "attribute {name} holds the fingerprint"
        );
    }
    let link = record
        .get("ln")
        .and_then(|v| v.as_s().ok())
        .expect("a link");
    let index = raw(index_pk.clone()).await.expect("index item");
    assert_eq!(index.get("ln").and_then(|v| v.as_s().ok()), Some(link));
    // The link still confirms a dedup hit, and an erase still finds the
    // index item (through the token index) and removes it.
    let again = tokenizer
        .tokenize(&TokenizeRequest::new(card))
        .await
        .expect("again");
    assert_eq!(
        (again.token.clone(), again.created),
        (first.token.clone(), false)
    );
    assert!(s.eraser().delete(&first.token).await.is_ok());
    assert!(
        raw(index_pk).await.is_none(),
        "the erase left the index item"
    );
}

/// An erase deletes the index items naming its token in its tombstone's
/// transaction, which holds at most 100 actions; any writer of index items
/// could name a token from more, and the token must still be erasable.
#[tokio::test]
async fn an_erase_succeeds_however_many_index_items_name_the_token() {
    let s = stack().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let token = s
        .tokenizer(clock.clone())
        .await
        .tokenize(&TokenizeRequest::new(pan("4012888888881881")))
        .await
        .expect("tokenize")
        .token;
    for i in 0..100u32 {
        s.clients
            .dynamodb
            .put_item()
            .table_name(&s.made.table)
            .item("pk", AttributeValue::S(format!("f#opaque#{:064x}", i + 1)))
            .item("tok", AttributeValue::S(token.as_str().to_owned()))
            .item("kfv", AttributeValue::S("v1".into()))
            .item("created", AttributeValue::N("1".into()))
            .send()
            .await
            .expect("an index item naming the token");
    }
    assert!(s.eraser().delete(&token).await.is_ok(), "the erase failed");
    assert!(matches!(
        s.detokenizer(clock).detokenize(&token).await,
        Err(Error::NotFound)
    ));
}
