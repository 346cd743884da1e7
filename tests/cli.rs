//! The `tessera` operator CLI's commands against the local emulator: fingerprint-key
//! rotation with live traffic, resumable bulk import, rewrap and verify.
//! Each test stays within a few hundred emulator calls; the large-count
//! figures are measured with the binary (README, "Operator CLI").

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use tessera_aws::secrets::{load_fingerprint_keys, put_new_fingerprint_key, retire_previous_key};
use tessera_cli::checkpoint::Checkpoint;
use tessera_cli::import::{self, ImportOptions, ImportState, Importer, Reporter};
use tessera_cli::rows::{InputFormat, read_rows};
use tessera_cli::settings::{Settings, Store, Vault};
use tessera_cli::{rewrap, rotate, verify};
use tessera_core::{
    DedupScope, OperatorVault, OsRandom, Pan, SystemClock, TokenFormat, TokenizeRequest, luhn_valid,
};
use tessera_e2e::{Stack, TOKENIZER_ROLE, stack};

/// A Luhn-valid 16-digit Visa test number, distinct per `n`.
fn card(n: u64) -> String {
    let body = format!("4{:014}", 900_000_000 + n);
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|c| luhn_valid(c.as_bytes()))
        .unwrap_or_default()
}

fn settings(stack: &Stack) -> Settings {
    Settings {
        table: stack.made.table.clone(),
        kms_key_id: stack.made.key_arn.clone(),
        replacement_kms_key_id: None,
        fingerprint_secret_id: stack.made.secret_arn.clone(),
        vault_id: None,
        legacy_scope: None,
        dedup_scopes: Some(format!("default={TOKENIZER_ROLE}")),
        tokenize_roles: Some(TOKENIZER_ROLE.to_owned()),
    }
}

async fn open(stack: &Stack) -> Vault {
    Vault::open(&settings(stack), stack.clients.clone())
        .await
        .expect("open the vault")
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "tessera-cli-{}-{}-{name}",
        std::process::id(),
        tessera_core::Clock::now_millis(&SystemClock)
    ))
}

struct Quiet;

impl Reporter for Quiet {
    fn advance(&self, _rows: u64) {}
    fn reject(&self, row: u64, why: &str) {
        eprintln!("rejected row {row}: {why}");
    }
}

#[tokio::test]
async fn rotation_reindexes_while_tokenize_and_detokenize_keep_working() {
    let stack = stack().await;
    let before = open(&stack).await;
    assert!(before.keys.previous.is_none());
    let tokenizer = before.tokenizer();
    let cards: Vec<Pan> = (0..12)
        .map(|n| Pan::parse(&card(n)).expect("pan"))
        .collect();
    let mut tokens = Vec::new();
    for pan in &cards {
        tokens.push(
            tokenizer
                .tokenize(&TokenizeRequest::new(pan.clone()))
                .await
                .expect("tokenize")
                .token,
        );
    }
    // The records and index items store their scope.
    let record = before
        .dynamo
        .scan(None, 100, tessera_core::ScanView::Whole)
        .await
        .expect("scan")
        .items
        .into_iter()
        .find_map(|i| match i {
            tessera_core::ScannedItem::Record(r) => Some(r),
            _ => None,
        })
        .expect("a record");
    assert_eq!(record.scope, Some(DedupScope::default()));

    let version =
        put_new_fingerprint_key(&stack.clients.secrets, &stack.made.secret_arn, &OsRandom)
            .await
            .expect("new key");
    let during = open(&stack).await;
    assert_eq!(during.keys.current.version(), version);
    let previous = during
        .keys
        .previous
        .as_ref()
        .expect("AWSPREVIOUS")
        .version()
        .to_owned();
    let serving = during.tokenizer();
    let detokenizer = during.detokenizer();
    let reindexer = during.reindexer(settings(&stack).candidate_scopes().expect("scopes"));
    let checkpoint = Checkpoint::at(temp("rotate.checkpoint"));
    // Live traffic alongside the re-index: every card keeps its token and PAN.
    let traffic = async {
        for _ in 0..2 {
            for (pan, token) in cards.iter().zip(&tokens) {
                let hit = serving
                    .tokenize(&TokenizeRequest::new(pan.clone()))
                    .await
                    .expect("tokenize during rotation");
                assert_eq!(&hit.token, token);
                assert_eq!(
                    &detokenizer.detokenize(token).await.expect("detokenize").pan,
                    pan
                );
            }
        }
    };
    let work = rotate::reindex(
        during.dynamo.as_ref(),
        &reindexer,
        during.keys.current.version(),
        5,
        &checkpoint,
        &|_| {},
    );
    let (stats, ()) = tokio::join!(work, traffic);
    let stats = stats.expect("reindex");
    assert_eq!(stats.reindexed, 12);
    assert_eq!(stats.outstanding(), 0);
    let now = tessera_core::Clock::now_secs(&SystemClock);
    let left = rotate::items_under(during.dynamo.as_ref(), &previous, now, 100)
        .await
        .expect("count");
    assert_eq!(left, 0);
    // A second run has nothing to do.
    let again = rotate::reindex(
        during.dynamo.as_ref(),
        &reindexer,
        during.keys.current.version(),
        50,
        &checkpoint,
        &|_| {},
    )
    .await
    .expect("reindex");
    assert_eq!((again.reindexed, again.current), (0, 12));

    retire_previous_key(&stack.clients.secrets, &stack.made.secret_arn, &previous)
        .await
        .expect("retire");
    let keys = load_fingerprint_keys(&stack.clients.secrets, &stack.made.secret_arn)
        .await
        .expect("keys");
    assert!(keys.previous.is_none(), "AWSPREVIOUS removed");
    let after = open(&stack).await.tokenizer();
    for (pan, token) in cards.iter().zip(&tokens) {
        let hit = after
            .lookup_by_pan(pan, TokenFormat::Opaque, &DedupScope::default())
            .await
            .expect("found under the new key alone");
        assert_eq!(&hit.token, token);
    }
    let report = verify::check(during.dynamo.as_ref(), &SystemClock, 100, &|_| {})
        .await
        .expect("verify");
    assert!(report.dangling.is_empty() && report.malformed.is_empty());
    assert_eq!((report.records, report.unindexed_records), (12, 0));
}

#[tokio::test]
async fn import_resumes_after_an_interruption_without_duplicates() {
    let stack = stack().await;
    let vault = open(&stack).await;
    // 60 rows: 50 cards, 5 repeats of earlier cards, 5 bad rows.
    let mut text = String::new();
    for n in 0..60u64 {
        let line = match n {
            n if n % 12 == 11 => format!("{{\"pan\":\"{}\"}}\n", card(n - 5)),
            n if n % 12 == 5 => "{\"pan\":\"4111111111111112\"}\n".to_owned(),
            n => format!(
                "{{\"pan\":\"{}\",\"expires\":\"12/31\",\"metadata\":{{\"row\":\"{n}\"}}}}\n",
                card(n)
            ),
        };
        text.push_str(&line);
    }
    let file = temp("cards.jsonl");
    std::fs::write(&file, &text).expect("write");
    let scope = DedupScope::default();
    let importer = Importer::new(
        vault.tokenizer(),
        vault.previous(),
        vault.dynamo.clone(),
        &vault.ports,
    );
    let checkpoint = Checkpoint::at(temp("import.checkpoint"));
    let options = ImportOptions {
        chunk_rows: 10,
        max_rate: None,
        checkpoint: checkpoint.clone(),
    };
    let rows = || read_rows(&file, InputFormat::JsonLines, scope.clone()).expect("rows");

    // A first run stops after 20 rows ...
    let first = import::run(&importer, &file, rows().take(20), &options, &Quiet)
        .await
        .expect("first run");
    // ... and a second is killed after writing rows 21-30 but before
    // marking them done (the checkpoint still holds their tokens as pending).
    let mut state: ImportState = checkpoint.load().expect("load").expect("state");
    let chunk: Vec<_> = rows().skip(20).take(10).collect();
    let plan = importer.plan(chunk, &BTreeMap::new()).await.expect("plan");
    state.pending = plan.tokens.clone();
    checkpoint.save(&state).expect("save");
    importer.write(&plan).await.expect("write");

    let rest = import::run(&importer, &file, rows(), &options, &Quiet)
        .await
        .expect("resumed run");
    // Counts cover every run. 50 distinct valid cards; rows 21-30 hold 8 new
    // ones (written by the interrupted run), 1 repeat and 1 bad row.
    assert_eq!(first.imported, 17, "{first:?}");
    assert_eq!(rest.resumed, 8);
    assert_eq!(rest.imported + rest.resumed, 50);
    assert_eq!(rest.deduplicated, 5);
    assert_eq!(rest.rejected, 5);
    assert!(checkpoint.load::<ImportState>().expect("load").is_some());

    let report = verify::check(vault.dynamo.as_ref(), &SystemClock, 200, &|_| {})
        .await
        .expect("verify");
    assert_eq!(report.records, 50, "no card stored twice");
    assert_eq!(report.index_items, 50);
    assert!(report.dangling.is_empty() && report.unindexed_records == 0);
    // Every card detokenizes to its PAN, and tokenize finds the imported token.
    let tokenizer = vault.tokenizer();
    let detokenizer = vault.detokenizer();
    let mut seen = HashSet::new();
    for n in (0..60u64)
        .filter(|n| n % 12 != 11 && n % 12 != 5)
        .step_by(7)
    {
        let pan = Pan::parse(&card(n)).expect("pan");
        let hit = tokenizer
            .lookup_by_pan(&pan, TokenFormat::Opaque, &scope)
            .await
            .expect("imported");
        assert!(seen.insert(hit.token.clone()));
        assert_eq!(
            detokenizer
                .detokenize(&hit.token)
                .await
                .expect("detokenize")
                .pan,
            pan
        );
    }
    let _ = std::fs::remove_file(&file);
    let _ = checkpoint.clear();
}

#[tokio::test]
async fn rewrap_replaces_every_data_key_while_detokenize_keeps_working() {
    let stack = stack().await;
    let vault = open(&stack).await;
    let tokenizer = vault.tokenizer();
    let mut issued = Vec::new();
    for n in 0..10 {
        let pan = Pan::parse(&card(100 + n)).expect("pan");
        let token = tokenizer
            .tokenize(&TokenizeRequest::new(pan.clone()))
            .await
            .expect("tokenize")
            .token;
        issued.push((pan, token));
    }
    let detokenizer = vault.detokenizer();
    let checkpoint = Checkpoint::at(temp("rewrap.checkpoint"));
    let traffic = async {
        for (pan, token) in &issued {
            assert_eq!(
                &detokenizer.detokenize(token).await.expect("detokenize").pan,
                pan
            );
        }
    };
    let work = rewrap::rewrap(
        vault.dynamo.as_ref(),
        vault.keyring.as_ref(),
        4,
        &checkpoint,
        &|_| {},
    );
    let (summary, ()) = tokio::join!(work, traffic);
    let summary = summary.expect("rewrap");
    assert_eq!(
        (summary.records, summary.data_keys, summary.changed),
        (10, 1, 0)
    );
    // A fresh detokenizer (no cached key) opens every record under the new blob.
    let fresh = vault.detokenizer();
    for (pan, token) in &issued {
        assert_eq!(&fresh.detokenize(token).await.expect("detokenize").pan, pan);
    }
    let records = vault
        .dynamo
        .scan(None, 100, tessera_core::ScanView::Whole)
        .await
        .expect("scan")
        .items;
    let blobs: HashSet<Vec<u8>> = records
        .iter()
        .filter_map(|i| match i {
            tessera_core::ScannedItem::Record(r) => Some(r.wrapped_key.as_bytes().to_vec()),
            _ => None,
        })
        .collect();
    assert_eq!(blobs.len(), 1);
}

#[tokio::test]
async fn verify_finds_and_repairs_dangling_index_items() {
    let stack = stack().await;
    let vault = open(&stack).await;
    let tokenizer = vault.tokenizer();
    let mut tokens = Vec::new();
    for n in 0..4 {
        let pan = Pan::parse(&card(200 + n)).expect("pan");
        tokens.push(
            tokenizer
                .tokenize(&TokenizeRequest::new(pan))
                .await
                .expect("t")
                .token,
        );
    }
    // A record removed behind the vault's back leaves its index item dangling.
    stack
        .clients
        .dynamodb
        .delete_item()
        .table_name(&stack.made.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("t#{}", tokens[0].as_str())),
        )
        .send()
        .await
        .expect("delete");
    let dynamo: Arc<dyn OperatorVault> = vault.dynamo.clone();
    let report = verify::check(dynamo.as_ref(), &SystemClock, 100, &|_| {})
        .await
        .expect("verify");
    assert_eq!(report.dangling.len(), 1);
    assert_eq!(report.dangling[0].0.token, tokens[0]);
    assert_eq!(report.dangling[0].1, tessera_core::Dangling::NoRecord);
    // Read-only without --repair: a second check finds the same.
    let again = verify::check(dynamo.as_ref(), &SystemClock, 100, &|_| {})
        .await
        .expect("verify");
    assert_eq!(again.dangling.len(), 1);
    assert_eq!(
        verify::repair(dynamo.as_ref(), &report)
            .await
            .expect("repair")
            .index_items,
        1
    );
    let clean = verify::check(dynamo.as_ref(), &SystemClock, 100, &|_| {})
        .await
        .expect("verify");
    assert!(clean.dangling.is_empty());
    assert_eq!((clean.records, clean.index_items), (3, 3));
}

#[tokio::test]
async fn a_vault_id_binds_the_clis_data_keys_as_it_binds_the_functions() {
    let stack = stack().await;
    const VAULT_ID: &str = "vault-restored-from-elsewhere";
    let mut restored = settings(&stack);
    restored.vault_id = Some(VAULT_ID.into());
    let vault = Vault::open(&restored, stack.clients.clone())
        .await
        .expect("open");
    let pan = Pan::parse(&card(500)).expect("pan");
    let token = vault
        .tokenizer()
        .tokenize(&TokenizeRequest::new(pan.clone()))
        .await
        .expect("tokenize")
        .token;
    // The detokenize function's own wiring: the KMS context and the AAD
    // both name the vault id, not the table.
    let function = || {
        tessera_core::Detokenizer::new(
            tessera_core::Ports {
                clock: Arc::new(SystemClock),
                rng: Arc::new(OsRandom),
                vault_id: VAULT_ID.into(),
            },
            stack.vault(),
            Arc::new(tessera_aws::KmsKeyRing::new(
                stack.clients.kms.clone(),
                &stack.made.key_arn,
                VAULT_ID,
            )),
            tessera_core::CacheLimits::default(),
        )
    };
    assert_eq!(function().detokenize(&token).await.expect("open").pan, pan);
    // rewrap and verify need no fingerprint secret: their role reads none.
    let mut no_secret = restored.clone();
    no_secret.fingerprint_secret_id = String::new();
    assert!(
        Vault::open(&no_secret, stack.clients.clone())
            .await
            .is_err()
    );
    let store = Store::open(&no_secret, stack.clients.clone())
        .await
        .expect("rewrap and verify open the vault without the secret");
    let summary = rewrap::rewrap(
        store.dynamo.as_ref(),
        store.keyring.as_ref(),
        10,
        &Checkpoint::at(temp("vault-id-rewrap.checkpoint")),
        &|_| {},
    )
    .await
    .expect("rewrap under the vault id's context");
    assert_eq!(summary.records, 1);
    assert_eq!(function().detokenize(&token).await.expect("open").pan, pan);
}
