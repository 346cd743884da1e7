//! Fingerprint-key rotation against the in-memory ports: tokenize reads the
//! current and the previous key, the re-indexer moves every record to the
//! current key, and the vault check finds dangling index items.

use std::sync::Arc;

use tessera_core::memory::{ManualClock, MemoryKeyRing, MemoryVault, SeededRandom};
use tessera_core::*;

const NOW_MS: i64 = 1_795_000_000_000;

struct World {
    vault: Arc<MemoryVault>,
    keyring: Arc<MemoryKeyRing>,
    ports: Ports,
}

fn world() -> World {
    World {
        vault: Arc::new(MemoryVault::new()),
        keyring: Arc::new(MemoryKeyRing::new("test")),
        ports: Ports {
            clock: Arc::new(ManualClock::at_millis(NOW_MS)),
            rng: Arc::new(SeededRandom::new(11)),
            vault_id: "vault-r".into(),
        },
    }
}

fn key(byte: u8, version: &str) -> Fingerprinter {
    Fingerprinter::new(&FingerprintKey::new(&[byte; 32], version).expect("key"))
}

impl World {
    fn tokenizer(&self, current: Fingerprinter, previous: Option<Fingerprinter>) -> Tokenizer {
        Tokenizer::new(
            self.ports.clone(),
            self.vault.clone(),
            self.keyring.clone(),
            current,
            CacheLimits::default(),
        )
        .with_previous_key(previous)
    }

    fn detokenizer(&self) -> Detokenizer {
        Detokenizer::new(
            self.ports.clone(),
            self.vault.clone(),
            self.keyring.clone(),
            CacheLimits::default(),
        )
    }

    fn reindexer(&self, current: Fingerprinter, previous: Option<Fingerprinter>) -> Reindexer {
        Reindexer::new(
            self.ports.clone(),
            self.vault.clone(),
            self.detokenizer(),
            current,
            previous,
        )
    }

    /// Re-indexes the whole vault, two items a page, with `between` run
    /// after every page (as live traffic would interleave).
    async fn reindex_all(
        &self,
        reindexer: &Reindexer,
        mut between: impl AsyncFnMut(),
    ) -> ReindexStats {
        let mut stats = ReindexStats::default();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .vault
                .scan(after.as_deref(), 2, ScanView::Whole)
                .await
                .expect("scan");
            stats.add(&reindexer.reindex(page.items).await);
            between().await;
            match page.next {
                Some(next) => after = Some(next),
                None => return stats,
            }
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn pans() -> Vec<Pan> {
    [
        "4111111111111111",
        "5555555555554444",
        "378282246310005",
        "6011111111111117",
        "3530111333300000",
    ]
    .iter()
    .map(|p| Pan::parse(p).expect("pan"))
    .collect()
}

#[test]
fn tokenize_finds_tokens_under_the_previous_key_and_writes_under_the_current() {
    rt().block_on(async {
        let w = world();
        let old = w.tokenizer(key(1, "A"), None);
        let first = old
            .tokenize(&TokenizeRequest::new(pans()[0].clone()))
            .await
            .expect("tokenize");
        // Only the new key: dedup breaks (the bug rotation must not cause).
        let forgetful = w.tokenizer(key(2, "B"), None);
        let lookup = forgetful
            .lookup_by_pan(&pans()[0], TokenFormat::Opaque, &DedupScope::default())
            .await;
        assert_eq!(lookup.err(), Some(Error::NotFound));
        // Current and previous: the same token, created nothing.
        let rotating = w.tokenizer(key(2, "B"), Some(key(1, "A")));
        let again = rotating
            .tokenize(&TokenizeRequest::new(pans()[0].clone()))
            .await
            .expect("tokenize");
        assert_eq!(
            (again.token.clone(), again.created),
            (first.token.clone(), false)
        );
        let found = rotating
            .lookup_by_pan(&pans()[0], TokenFormat::Opaque, &DedupScope::default())
            .await
            .expect("lookup");
        assert_eq!(found.token, first.token);
        // A new card is indexed under the current key, with its scope.
        let fresh = rotating
            .tokenize(&TokenizeRequest::new(pans()[1].clone()))
            .await
            .expect("tokenize");
        let entry = w
            .vault
            .index_entries()
            .into_iter()
            .find(|e| e.token == fresh.token)
            .expect("index item");
        assert_eq!(entry.key_version, "B");
        assert_eq!(entry.scope, Some(DedupScope::default()));
        assert_eq!(w.vault.record_count(), 2);
    });
}

#[test]
fn reindex_moves_every_record_to_the_current_key_resumably_while_serving() {
    rt().block_on(async {
        let w = world();
        let old = w.tokenizer(key(1, "A"), None);
        let mut issued = Vec::new();
        for pan in pans() {
            let t = old
                .tokenize(&TokenizeRequest::new(pan))
                .await
                .expect("tokenize");
            issued.push(t.token);
        }
        let mut unindexed = TokenizeRequest::new(pans()[0].clone());
        unindexed.dedupe = false;
        old.tokenize(&unindexed).await.expect("tokenize");

        let rotating = w.tokenizer(key(2, "B"), Some(key(1, "A")));
        let detokenizer = w.detokenizer();
        let reindexer = w.reindexer(key(2, "B"), Some(key(1, "A")));
        // Live traffic between pages: every card keeps its token and its PAN.
        let stats = w
            .reindex_all(&reindexer, async || {
                for (pan, token) in pans().into_iter().zip(&issued) {
                    let hit = rotating
                        .tokenize(&TokenizeRequest::new(pan.clone()))
                        .await
                        .expect("tokenize");
                    assert_eq!(&hit.token, token);
                    let back = detokenizer.detokenize(token).await.expect("detokenize");
                    assert_eq!(back.pan, pan);
                }
            })
            .await;
        assert_eq!(stats.reindexed, 5);
        assert_eq!(stats.unindexed, 1);
        assert_eq!(stats.outstanding(), 0);
        assert!(w.vault.index_entries().iter().all(|e| e.key_version == "B"));
        assert_eq!(w.vault.index_entries().len(), 5);

        // The previous key can retire: the current key alone finds every card.
        let retired = w.tokenizer(key(2, "B"), None);
        for (pan, token) in pans().into_iter().zip(&issued) {
            let hit = retired
                .lookup_by_pan(&pan, TokenFormat::Opaque, &DedupScope::default())
                .await
                .expect("lookup");
            assert_eq!(&hit.token, token);
        }
        // A second run finds nothing to do.
        let again = w.reindex_all(&reindexer, async || {}).await;
        assert_eq!((again.reindexed, again.current), (0, 5));
        let report = {
            let mut check = VaultCheck::new();
            check.add(
                w.vault
                    .scan(None, 1000, ScanView::Facts)
                    .await
                    .expect("scan")
                    .items,
            );
            check.finish(NOW_MS / 1000)
        };
        assert!(report.dangling.is_empty());
        assert_eq!(report.unindexed_records, 0);
    });
}

#[test]
fn reindex_recovers_the_scope_of_records_that_do_not_store_it() {
    rt().block_on(async {
        let w = world();
        let team = DedupScope::new("team-a").expect("scope");
        let legacy = DedupScope::new("legacy").expect("scope");
        let old = w.tokenizer(key(1, "A").with_legacy_scope(Some(legacy.clone())), None);
        let mut scoped = TokenizeRequest::new(pans()[0].clone());
        scoped.scope = team.clone();
        let mut pre_scope = TokenizeRequest::new(pans()[1].clone());
        pre_scope.scope = legacy.clone();
        let a = old.tokenize(&scoped).await.expect("tokenize");
        let b = old.tokenize(&pre_scope).await.expect("tokenize");
        // As written before records stored their scope.
        for token in [&a.token, &b.token] {
            let mut record = w.vault.get(token).await.expect("get").expect("record");
            record.scope = None;
            w.vault.overwrite_record(record);
        }
        let current = key(2, "B").with_legacy_scope(Some(legacy.clone()));
        let previous = key(1, "A").with_legacy_scope(Some(legacy.clone()));
        let blind = w.reindexer(current.clone(), Some(previous.clone()));
        let stats = w.reindex_all(&blind, async || {}).await;
        assert_eq!(stats.unknown_scope, 2, "no candidates: nothing is guessed");

        let reindexer = w
            .reindexer(current.clone(), Some(previous))
            .with_candidate_scopes(vec![legacy.clone(), team.clone()]);
        let stats = w.reindex_all(&reindexer, async || {}).await;
        assert_eq!(stats.reindexed, 2);
        let record = w.vault.get(&a.token).await.expect("get").expect("record");
        assert_eq!(record.scope, Some(team.clone()));
        let retired = w.tokenizer(current, None);
        let hit = retired
            .lookup_by_pan(&pans()[1], TokenFormat::Opaque, &legacy)
            .await
            .expect("lookup");
        assert_eq!(hit.token, b.token);
    });
}

#[test]
fn vault_check_reports_dangling_index_items() {
    rt().block_on(async {
        let w = world();
        let tokenizer = w.tokenizer(key(1, "A"), None);
        let t = tokenizer
            .tokenize(&TokenizeRequest::new(pans()[0].clone()))
            .await
            .expect("tokenize");
        let mut entry = w.vault.index_entries().remove(0);
        // An item naming a token with no record, and one of another format.
        let mut orphan = entry.clone();
        orphan.key.format = TokenFormat::Fpe;
        w.vault.overwrite_index(orphan);
        entry.key = tokenizer.index_key(&DedupScope::default(), &pans()[1], TokenFormat::Opaque);
        entry.token = Token::new_opaque(&OsRandom);
        assert_ne!(entry.token, t.token);
        w.vault.overwrite_index(entry);
        let mut check = VaultCheck::new();
        check.add(
            w.vault
                .scan(None, 1000, ScanView::Facts)
                .await
                .expect("scan")
                .items,
        );
        let report = check.finish(NOW_MS / 1000);
        let mut reasons: Vec<_> = report.dangling.iter().map(|(_, why)| *why).collect();
        reasons.sort_by_key(|r| r.as_str());
        assert_eq!(report.records, 1);
        assert_eq!(reasons.len(), 2);
        assert!(reasons.contains(&Dangling::FormatMismatch));
        assert!(reasons.contains(&Dangling::NoRecord));
    });
}

/// A vault where a re-index finishes moving a record to the new key right
/// after tokenize's check of it: when records carried their fingerprint,
/// the moment between two checks (new key, then old) at which both said no.
struct MidReindexVault {
    inner: Arc<MemoryVault>,
    /// The record's last re-index step, made once: (token, its link).
    pending: std::sync::Mutex<Option<(Token, Link)>>,
}

#[async_trait::async_trait]
impl IssuingVault for MidReindexVault {
    async fn find_index(&self, key: &IndexKey) -> Result<Option<IndexEntry>, VaultError> {
        self.inner.find_index(key).await
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
    async fn confirm(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        let answer = self.inner.confirm(token, link).await;
        let pending = self.pending.lock().expect("lock").take();
        if let Some((token, link)) = pending {
            let moved = self
                .inner
                .relink(&token, &link, &DedupScope::default())
                .await?;
            assert!(moved, "the record moved to the new key");
        }
        answer
    }
    async fn abandon(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError> {
        self.inner.abandon(record, now).await
    }
    async fn describe(&self, token: &Token) -> Result<Option<TokenDescription>, VaultError> {
        self.inner.describe(token).await
    }
}

#[test]
fn tokenize_keeps_the_token_of_a_record_the_reindex_moves_during_its_check() {
    rt().block_on(async {
        let w = world();
        let pan = &pans()[0];
        let scope = DedupScope::default();
        let first = w
            .tokenizer(key(1, "A"), None)
            .tokenize(&TokenizeRequest::new(pan.clone()))
            .await
            .expect("tokenize");
        let new = key(2, "B").fingerprint(&scope, TokenFormat::Opaque, pan);
        // The re-index's first two steps: the new item written, the old one
        // removed; the record's own step is still to come.
        let entry = w
            .vault
            .index_entries()
            .into_iter()
            .find(|e| e.token == first.token)
            .expect("index item");
        let moved = IndexEntry {
            key: IndexKey {
                format: TokenFormat::Opaque,
                fingerprint: new.clone(),
            },
            key_version: "B".into(),
            ..entry.clone()
        };
        w.vault.put_index(&moved, 0, None).await.expect("put new");
        w.vault
            .remove_index(&entry.key, &first.token)
            .await
            .expect("remove old");
        let racing = Arc::new(MidReindexVault {
            inner: w.vault.clone(),
            pending: std::sync::Mutex::new(Some((
                first.token.clone(),
                entry.link.clone().expect("a link"),
            ))),
        });
        let tokenizer = Tokenizer::new(
            w.ports.clone(),
            racing,
            w.keyring.clone(),
            key(2, "B"),
            CacheLimits::default(),
        )
        .with_previous_key(Some(key(1, "A")));
        let again = tokenizer
            .tokenize(&TokenizeRequest::new(pan.clone()))
            .await
            .expect("tokenize during the re-index");
        assert_eq!((again.token, again.created), (first.token, false));
        assert_eq!(w.vault.record_count(), 1, "no second record for the card");
    });
}
