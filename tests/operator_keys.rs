//! The operator's key guards against the local emulator: a fingerprint-key
//! rotation is not started over an unfinished one, and `rewrap` re-encrypts
//! data keys only to the vault key or the replacement key named for a
//! planned rotation.

use std::path::PathBuf;

use tessera_aws::secrets::{load_fingerprint_keys, retire_previous_key};
use tessera_cli::checkpoint::Checkpoint;
use tessera_cli::settings::{Settings, Store, Vault};
use tessera_cli::{CliError, rewrap, rotate};
use tessera_core::{OperatorVault, OsRandom, Pan, SystemClock, TokenizeRequest, luhn_valid};
use tessera_e2e::{Stack, TOKENIZER_ROLE, stack};

/// A Luhn-valid 16-digit Visa test number, distinct per `n`.
fn card(n: u64) -> String {
    let body = format!("4{:014}", 800_000_000 + n);
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
        "tessera-keys-{}-{}-{name}",
        std::process::id(),
        tessera_core::Clock::now_millis(&SystemClock)
    ))
}

#[tokio::test]
async fn a_new_key_is_refused_while_the_last_rotation_is_unfinished() {
    let stack = stack().await;
    let secret = &stack.made.secret_arn;
    let first = rotate::start_rotation(&stack.clients, secret, &OsRandom)
        .await
        .expect("the first rotation starts");
    let during = load_fingerprint_keys(&stack.clients.secrets, secret)
        .await
        .expect("keys");
    let previous = during.previous.expect("AWSPREVIOUS").version().to_owned();
    let refused = rotate::start_rotation(&stack.clients, secret, &OsRandom).await;
    let Err(CliError::Refused(why)) = refused else {
        panic!("a second --new-key went through: {refused:?}");
    };
    assert!(why.contains(&previous) && why.contains("--retire"), "{why}");
    // Nothing moved: the previous key keeps its label, the new one stays current.
    let after = load_fingerprint_keys(&stack.clients.secrets, secret)
        .await
        .expect("keys");
    assert_eq!(after.current.version(), first);
    assert_eq!(
        after.previous.as_ref().map(|k| k.version()),
        Some(previous.as_str())
    );
    // Once retired, the next rotation may start.
    retire_previous_key(&stack.clients.secrets, secret, &previous)
        .await
        .expect("retire");
    let next = rotate::start_rotation(&stack.clients, secret, &OsRandom)
        .await
        .expect("the next rotation starts");
    assert_ne!(next, first);
}

#[tokio::test]
async fn rewrap_re_encrypts_only_to_the_vault_key_or_the_named_replacement() {
    let stack = stack().await;
    let kms = &stack.clients.kms;
    let new_key = || async {
        kms.create_key()
            .send()
            .await
            .expect("create key")
            .key_metadata()
            .map(|m| m.arn().unwrap_or_default().to_owned())
            .expect("arn")
    };
    let foreign = new_key().await;
    let replacement = new_key().await;
    let alias = format!("alias/tessera-cli-{}", std::process::id());
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(&stack.made.key_arn)
        .send()
        .await
        .expect("alias");
    let vault = open(&stack).await;
    let pan = Pan::parse(&card(300)).expect("pan");
    let token = vault
        .tokenizer()
        .tokenize(&TokenizeRequest::new(pan.clone()))
        .await
        .expect("tokenize")
        .token;
    let blob = || async {
        vault
            .dynamo
            .scan(None, 100, tessera_core::ScanView::Whole)
            .await
            .expect("scan")
            .items
            .into_iter()
            .find_map(|i| match i {
                tessera_core::ScannedItem::Record(r) => Some(r.wrapped_key.as_bytes().to_vec()),
                _ => None,
            })
            .expect("a record")
    };
    let before = blob().await;
    let mut config = settings(&stack);
    let store = Store::open(&config, stack.clients.clone())
        .await
        .expect("store");
    let checkpoint = Checkpoint::at(temp("rewrap-to.checkpoint"));
    let run = |config: Settings, to: Option<String>| {
        let store = &store;
        let checkpoint = &checkpoint;
        async move { rewrap::rewrap_to(store, &config, to.as_deref(), 50, checkpoint, &|_| {}).await }
    };
    // Another key of the account: refused, nothing re-encrypted.
    for to in [Some(foreign.clone()), Some(replacement.clone())] {
        let refused = run(config.clone(), to).await;
        let Err(CliError::Refused(why)) = refused else {
            panic!("rewrap to a foreign key went through: {refused:?}");
        };
        assert!(why.contains("TESSERA_REPLACEMENT_KMS_KEY_ID"), "{why}");
    }
    assert_eq!(blob().await, before);
    // The vault key by its alias is the vault key.
    let (to, summary) = run(config.clone(), Some(alias.clone()))
        .await
        .expect("rewrap to the vault key's alias");
    assert_eq!(
        (to.arn.as_str(), summary.records),
        (stack.made.key_arn.as_str(), 1)
    );
    // Named as the replacement, that key (and only it) becomes a destination.
    config.replacement_kms_key_id = Some(replacement.clone());
    assert!(run(config.clone(), Some(foreign.clone())).await.is_err());
    let (to, summary) = run(config.clone(), Some(replacement.clone()))
        .await
        .expect("rewrap to the replacement");
    assert_eq!(
        (to.arn.as_str(), summary.records),
        (replacement.as_str(), 1)
    );
    // The rotation ends with the vault key set to the replacement: records open.
    config.kms_key_id = replacement;
    config.replacement_kms_key_id = None;
    let moved = Vault::open(&config, stack.clients.clone())
        .await
        .expect("open under the replacement");
    let opened = moved
        .detokenizer()
        .detokenize(&token)
        .await
        .expect("detokenize");
    assert_eq!(opened.pan, pan);
}
