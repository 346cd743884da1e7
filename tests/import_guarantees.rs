//! Issue 22, item 4, against the local emulator: an import never overwrites
//! a card (during or after a crash), an erased token leaves a tombstone that
//! is never issued again, a dedup hit is answered only when the record it
//! names carries the fingerprint, and `verify --repair` removes orphans and
//! nothing else. Each test stays within about a hundred emulator calls.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use tessera_aws::DynamoVault;
use tessera_cli::import::Importer;
use tessera_cli::rows::ImportRow;
use tessera_cli::verify;
use tessera_core::memory::SeededRandom;
use tessera_core::{
    Detokenizer, Error, OperatorVault, Pan, Ports, SystemClock, Token, TokenizeRequest, Tokenizer,
    VaultCheck,
};
use tessera_e2e::{Stack, stack};

const A: &str = "4111111111111111";
const B: &str = "5555555555554444";
const C: &str = "4012888888881881";

fn pan(digits: &str) -> Pan {
    Pan::parse(digits).expect("pan")
}

fn row(digits: &str, token: Option<&Token>) -> ImportRow {
    ImportRow {
        request: TokenizeRequest::new(pan(digits)),
        token: token.cloned(),
    }
}

async fn importer(stack: &Stack) -> Importer {
    let vault: Arc<dyn OperatorVault> = stack.vault();
    Importer::new(
        stack.tokenizer(Arc::new(SystemClock)).await,
        None,
        vault,
        &stack.ports(Arc::new(SystemClock)),
    )
}

fn detokenizer(stack: &Stack) -> Detokenizer {
    stack.detokenizer(Arc::new(SystemClock))
}

async fn digits_of(stack: &Stack, token: &Token) -> String {
    detokenizer(stack)
        .detokenize(token)
        .await
        .expect("detokenize")
        .pan
        .expose_digits()
        .to_owned()
}

/// The partition key of the index item that names `token`, read raw.
async fn index_pk_of(stack: &Stack, token: &Token) -> String {
    let out = stack
        .clients
        .dynamodb
        .scan()
        .table_name(&stack.made.table)
        .send()
        .await
        .expect("scan");
    out.items
        .unwrap_or_default()
        .into_iter()
        .find(|item| {
            item.get("tok").and_then(|v| v.as_s().ok()) == Some(&token.as_str().to_owned())
        })
        .and_then(|item| item.get("pk").and_then(|v| v.as_s().ok()).cloned())
        .expect("an index item names the token")
}

#[tokio::test]
async fn a_resumed_import_never_replaces_another_cards_record() {
    let stack = stack().await;
    let importer = importer(&stack).await;
    // A run plans card A under a drawn token, saves it as pending, and dies
    // before writing.
    let plan = importer
        .plan(vec![(1, Ok(row(A, None)))], &BTreeMap::new())
        .await
        .expect("plan");
    let pending = plan.tokens.clone();
    let token = Token::parse(&pending.get(&1).expect("pending").token).expect("token");
    // Meanwhile (during the crash) another import stores card B under that
    // very token (a migrated token that happens to be the same).
    let other = importer
        .plan(vec![(1, Ok(row(B, Some(&token))))], &BTreeMap::new())
        .await
        .expect("plan B");
    assert!(importer.write(&other).await.expect("write B").is_empty());
    // The resumed run gives row 1 its journaled token: refused, per line.
    let resumed = importer
        .plan(vec![(1, Ok(row(A, None)))], &pending)
        .await
        .expect("resumed plan");
    let refused = importer.write(&resumed).await.expect("resumed write");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].1.contains("another card"), "{refused:?}");
    assert_eq!(digits_of(&stack, &token).await, B, "B's record untouched");
    // After the crash, a later file that keeps the same token for card C.
    let later = importer
        .plan(vec![(7, Ok(row(C, Some(&token))))], &BTreeMap::new())
        .await
        .expect("plan C");
    let refused = importer.write(&later).await.expect("write C");
    assert_eq!(refused.iter().map(|r| r.0).collect::<Vec<_>>(), [7]);
    assert_eq!(digits_of(&stack, &token).await, B, "B's record untouched");
    // And the resumed run's own record may be rewritten in place.
    let own = importer
        .plan(vec![(1, Ok(row(B, Some(&token))))], &BTreeMap::new())
        .await
        .expect("plan own");
    assert_eq!(own.summary.resumed, 1, "B is already imported under it");
}

#[tokio::test]
async fn an_erased_token_stays_a_tombstone_and_is_never_issued_again() {
    let stack = stack().await;
    let seeded = |seed| {
        let mut ports = stack.ports(Arc::new(SystemClock));
        ports.rng = Arc::new(SeededRandom::new(seed));
        ports
    };
    let key =
        tessera_aws::secrets::load_fingerprint_key(&stack.clients.secrets, &stack.made.secret_arn)
            .await
            .expect("key");
    let tokenizer = |ports: Ports| {
        Tokenizer::new(
            ports,
            stack.vault(),
            stack.keyring(),
            tessera_core::Fingerprinter::new(&key),
            tessera_core::CacheLimits::default(),
        )
    };
    let request = TokenizeRequest::new(pan(A));
    let first = tokenizer(seeded(7)).tokenize(&request).await.expect("t");
    stack.eraser().delete(&first.token).await.expect("erase");
    // Detokenize and describe answer as for an unknown token; erasing again
    // is "not found", as before tombstones.
    assert!(matches!(
        detokenizer(&stack).detokenize(&first.token).await,
        Err(Error::NotFound)
    ));
    let describer = stack.tokenizer(Arc::new(SystemClock)).await;
    assert!(matches!(
        describer.describe(&first.token).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        stack.eraser().delete(&first.token).await,
        Err(Error::NotFound)
    ));
    // The same random stream draws the same token first: tokenize must skip it.
    let again = tokenizer(seeded(7)).tokenize(&request).await.expect("t");
    assert_ne!(again.token, first.token, "an erased token was issued again");
    // An import that keeps the erased token (for any card) is refused.
    let importer = importer(&stack).await;
    let plan = importer
        .plan(vec![(3, Ok(row(B, Some(&first.token))))], &BTreeMap::new())
        .await
        .expect("plan");
    let refused = importer.write(&plan).await.expect("write");
    assert_eq!(refused.iter().map(|r| r.0).collect::<Vec<_>>(), [3]);
    assert!(matches!(
        detokenizer(&stack).detokenize(&first.token).await,
        Err(Error::NotFound)
    ));
    // The tombstone is still there, with no TTL and no secret.
    let raw = stack
        .clients
        .dynamodb
        .get_item()
        .table_name(&stack.made.table)
        .key(
            "pk",
            AttributeValue::S(format!("t#{}", first.token.as_str())),
        )
        .send()
        .await
        .expect("get")
        .item
        .expect("the tombstone stays");
    for gone in ["ct", "dk", "fp", "bin", "last4", "len", "meta", "exp"] {
        assert!(!raw.contains_key(gone), "{gone} left on the tombstone");
    }
    assert!(raw.contains_key("erased"));
}

#[tokio::test]
async fn a_dedup_hit_whose_record_carries_another_fingerprint_is_not_answered() {
    let stack = stack().await;
    let tokenizer = stack.tokenizer(Arc::new(SystemClock)).await;
    let a = tokenizer
        .tokenize(&TokenizeRequest::new(pan(A)))
        .await
        .expect("A");
    let b = tokenizer
        .tokenize(&TokenizeRequest::new(pan(B)))
        .await
        .expect("B");
    // A's index item is made to name B's token (a stray or hostile write).
    let a_index = index_pk_of(&stack, &a.token).await;
    stack
        .clients
        .dynamodb
        .update_item()
        .table_name(&stack.made.table)
        .key("pk", AttributeValue::S(a_index.clone()))
        .update_expression("SET tok = :b")
        .expression_attribute_values(":b", AttributeValue::S(b.token.as_str().to_owned()))
        .send()
        .await
        .expect("cross-wire");
    let again = tokenizer
        .tokenize(&TokenizeRequest::new(pan(A)))
        .await
        .expect("A again");
    assert_ne!(again.token, b.token, "answered with another card's token");
    assert!(again.created);
    assert_eq!(digits_of(&stack, &again.token).await, A);
    // The index item was replaced under tokenize's condition: it names the new token.
    assert_eq!(index_pk_of(&stack, &again.token).await, a_index);
    // Lookups are judged the same way: B's card still answers B's token.
    let hit = tokenizer
        .tokenize(&TokenizeRequest::new(pan(B)))
        .await
        .expect("B again");
    assert_eq!((hit.token, hit.created), (b.token, false));
}

#[tokio::test]
async fn verify_repair_removes_an_orphan_and_nothing_else() {
    let stack = stack().await;
    let tokenizer = stack.tokenizer(Arc::new(SystemClock)).await;
    let mut tokens = Vec::new();
    for digits in [A, B, C, "5105105105105100"] {
        let t = tokenizer
            .tokenize(&TokenizeRequest::new(pan(digits)))
            .await
            .expect("t");
        tokens.push(t.token);
    }
    // A crash between record and index write, twice: tokens 0 and 1 lose
    // their index items; an interrupted import's checkpoint names token 1.
    for token in &tokens[..2] {
        let pk = index_pk_of(&stack, token).await;
        stack
            .clients
            .dynamodb
            .delete_item()
            .table_name(&stack.made.table)
            .key("pk", AttributeValue::S(pk))
            .send()
            .await
            .expect("delete index item");
    }
    // Token 2 is erased: its tombstone is no orphan.
    stack.eraser().delete(&tokens[2]).await.expect("erase");
    let vault: Arc<DynamoVault> = stack.vault();
    let check = || {
        VaultCheck::new()
            .reachable([tokens[1].clone()])
            .orphan_min_age(0)
    };
    let report = verify::check_with(vault.as_ref(), &SystemClock, 100, &|_| {}, check())
        .await
        .expect("verify");
    let orphans: Vec<&Token> = report.orphans.iter().map(|(t, _)| t).collect();
    assert_eq!(orphans, [&tokens[0]]);
    assert_eq!(report.tombstones, 1);
    // Young records are never orphans (an in-flight writer's).
    let young = verify::check(vault.as_ref(), &SystemClock, 100, &|_| {})
        .await
        .expect("verify");
    assert!(young.orphans.is_empty());
    let repaired = verify::repair(vault.as_ref(), &report)
        .await
        .expect("repair");
    assert_eq!((repaired.orphans, repaired.index_items), (1, 0));
    let after = verify::check_with(vault.as_ref(), &SystemClock, 100, &|_| {}, check())
        .await
        .expect("verify");
    assert!(after.orphans.is_empty());
    assert_eq!((after.records, after.tombstones), (2, 1));
    assert_eq!(digits_of(&stack, &tokens[1]).await, B);
    assert_eq!(digits_of(&stack, &tokens[3]).await, "5105105105105100");
    // Repairing from the stale report again removes nothing.
    let twice = verify::repair(vault.as_ref(), &report)
        .await
        .expect("repair");
    assert_eq!(twice.orphans, 0);
}

struct Quiet;

impl tessera_cli::import::Reporter for Quiet {
    fn advance(&self, _rows: u64) {}
    fn reject(&self, _row: u64, _why: &str) {}
}

#[tokio::test]
async fn a_checkpoint_resumes_only_the_file_it_was_written_for() {
    use tessera_cli::checkpoint::Checkpoint;
    use tessera_cli::import::{self, ImportOptions};
    use tessera_cli::rows::{InputFormat, read_rows};
    let stack = stack().await;
    let importer = importer(&stack).await;
    let dir = std::env::temp_dir().join(format!("tessera-bound-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("cards.jsonl");
    std::fs::write(&file, format!("{{\"pan\":\"{A}\"}}\n")).expect("write");
    let options = ImportOptions {
        chunk_rows: 10,
        max_rate: None,
        checkpoint: Checkpoint::at(dir.join("cards.checkpoint")),
    };
    let rows = || read_rows(&file, InputFormat::JsonLines, Default::default()).expect("rows");
    let done = import::run(&importer, &file, rows(), &options, &Quiet)
        .await
        .expect("first run");
    assert_eq!(done.imported, 1);
    // Same name, same length, another card: the checkpoint is refused.
    std::fs::write(&file, format!("{{\"pan\":\"{B}\"}}\n")).expect("rewrite");
    let refused = import::run(&importer, &file, rows(), &options, &Quiet).await;
    assert!(
        matches!(&refused, Err(tessera_cli::CliError::Refused(why)) if why.contains("another input file")),
        "{refused:?}"
    );
}
