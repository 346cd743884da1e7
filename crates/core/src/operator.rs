//! Operator flows over the whole vault: re-indexing every record under a new
//! fingerprint key, and checking that index items and records agree.
//!
//! They run as the operator's role from the `tessera` CLI, page by page, and
//! read PANs only through a [`Detokenizer`], never printing one. Each step is
//! idempotent, so a run stopped anywhere is finished by running it again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;

use crate::fingerprint::Fingerprinter;
use crate::pan::Pan;
use crate::ports::{IndexWrite, OperatorVault, ScannedItem};
use crate::record::{Fingerprint, IndexEntry, IndexKey, VaultRecord, is_expired};
use crate::scope::DedupScope;
use crate::service::{Detokenizer, Error, Ports};
use crate::token::{Token, TokenFormat};

/// Records re-indexed at once: enough to hide store latency, few enough not
/// to trip DynamoDB's per-partition burst limits (as for batches).
const REINDEX_CONCURRENCY: usize = 16;

/// What re-indexing one page did, record by record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReindexStats {
    /// Moved to the current key's fingerprint.
    pub reindexed: u64,
    /// Already under the current key, with their scope stored.
    pub current: u64,
    /// Records without a fingerprint (`dedupe: false`): nothing to do.
    pub unindexed: u64,
    /// Expired records: left to DynamoDB's TTL.
    pub expired: u64,
    /// No stored scope, and no candidate scope reproduces the fingerprint.
    pub unknown_scope: u64,
    /// Another live token holds the new fingerprint (left for `verify`).
    pub conflicts: u64,
    /// Deleted or changed while being re-indexed.
    pub changed: u64,
    /// Failed (store, key or integrity errors); a re-run retries them.
    pub failed: u64,
}

impl ReindexStats {
    /// Adds another page's counts.
    pub fn add(&mut self, other: &ReindexStats) {
        self.reindexed += other.reindexed;
        self.current += other.current;
        self.unindexed += other.unindexed;
        self.expired += other.expired;
        self.unknown_scope += other.unknown_scope;
        self.conflicts += other.conflicts;
        self.changed += other.changed;
        self.failed += other.failed;
    }

    /// Records that may still be indexed under the previous key.
    pub fn outstanding(&self) -> u64 {
        self.unknown_scope + self.conflicts + self.failed
    }
}

enum Outcome {
    Reindexed,
    Current,
    Unindexed,
    Expired,
    UnknownScope,
    Conflict,
    Changed,
}

/// Re-indexes records from the previous fingerprint key to the current one.
pub struct Reindexer {
    ports: Ports,
    vault: Arc<dyn OperatorVault>,
    detokenizer: Detokenizer,
    current: Fingerprinter,
    previous: Option<Fingerprinter>,
    candidates: Vec<DedupScope>,
}

impl Reindexer {
    /// A re-indexer writing index items under `current`. Both fingerprinters
    /// must carry the deployment's legacy scope, as the tokenize function's do.
    pub fn new(
        ports: Ports,
        vault: Arc<dyn OperatorVault>,
        detokenizer: Detokenizer,
        current: Fingerprinter,
        previous: Option<Fingerprinter>,
    ) -> Reindexer {
        Reindexer {
            ports,
            vault,
            detokenizer,
            current,
            previous,
            candidates: Vec::new(),
        }
    }

    /// The scopes to try for records written before the scope was stored
    /// with them: the one whose fingerprint matches the stored one is theirs.
    pub fn with_candidate_scopes(mut self, scopes: Vec<DedupScope>) -> Reindexer {
        self.candidates = scopes;
        self
    }

    /// Re-indexes the records of one scanned page; index items are skipped.
    pub async fn reindex(&self, items: Vec<ScannedItem>) -> ReindexStats {
        let work: Vec<_> = items
            .into_iter()
            .filter_map(|item| match item {
                ScannedItem::Record(r) => Some(self.reindex_one(r)),
                _ => None,
            })
            .collect();
        let outcomes: Vec<_> = futures::stream::iter(work)
            .buffer_unordered(REINDEX_CONCURRENCY)
            .collect()
            .await;
        let mut stats = ReindexStats::default();
        for outcome in outcomes {
            let slot = match outcome {
                Ok(Outcome::Reindexed) => &mut stats.reindexed,
                Ok(Outcome::Current) => &mut stats.current,
                Ok(Outcome::Unindexed) => &mut stats.unindexed,
                Ok(Outcome::Expired) => &mut stats.expired,
                Ok(Outcome::UnknownScope) => &mut stats.unknown_scope,
                Ok(Outcome::Conflict) => &mut stats.conflicts,
                Ok(Outcome::Changed) => &mut stats.changed,
                Err(_) => &mut stats.failed,
            };
            *slot += 1;
        }
        stats
    }

    fn find_scope(&self, old: &Fingerprint, format: TokenFormat, pan: &Pan) -> Option<DedupScope> {
        let keys = std::iter::once(&self.current).chain(self.previous.as_ref());
        let keys: Vec<&Fingerprinter> = keys.collect();
        self.candidates
            .iter()
            .find(|scope| {
                keys.iter()
                    .any(|k| &k.fingerprint(scope, format, pan) == old)
            })
            .cloned()
    }

    async fn reindex_one(&self, record: VaultRecord) -> Result<Outcome, Error> {
        let Some(old) = record.fingerprint.clone() else {
            return Ok(Outcome::Unindexed);
        };
        let (token, stored) = (record.token.clone(), record.scope.clone());
        let (format, created_at, expires_at) = (
            record.facts.format,
            record.facts.created_at,
            record.facts.expires_at,
        );
        let opened = match self.detokenizer.open_record(record).await {
            Err(Error::NotFound) => return Ok(Outcome::Expired),
            other => other?,
        };
        let scope = match stored
            .clone()
            .or_else(|| self.find_scope(&old, format, &opened.pan))
        {
            Some(scope) => scope,
            None => return Ok(Outcome::UnknownScope),
        };
        let new = self.current.fingerprint(&scope, format, &opened.pan);
        drop(opened);
        if new == old && stored.is_some() {
            return Ok(Outcome::Current);
        }
        let now = self.ports.clock.now_secs();
        let entry = IndexEntry {
            key: IndexKey {
                format,
                fingerprint: new.clone(),
            },
            token: token.clone(),
            key_version: self.current.key_version().to_owned(),
            created_at,
            expires_at,
            scope: Some(scope.clone()),
        };
        // New item first, old one second, record last: a run stopped between
        // steps leaves the record naming the old fingerprint, so the next run
        // repeats the steps, each of which is idempotent.
        if self.vault.put_index(&entry, now).await? == IndexWrite::Taken {
            return Ok(Outcome::Conflict);
        }
        if new != old {
            let old_key = IndexKey {
                format,
                fingerprint: old.clone(),
            };
            self.vault.remove_index(&old_key, &token).await?;
        }
        if self
            .vault
            .set_fingerprint(&token, Some(&old), &new, &scope)
            .await?
        {
            Ok(Outcome::Reindexed)
        } else {
            // Erased (or changed) meanwhile: take back the item just written.
            self.vault.remove_index(&entry.key, &token).await?;
            Ok(Outcome::Changed)
        }
    }
}

/// Why an index item is dangling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dangling {
    /// No record holds the token it names.
    NoRecord,
    /// The record is of another format.
    FormatMismatch,
    /// The record was indexed in another dedup scope.
    ScopeMismatch,
    /// The record names another fingerprint (a stale item, e.g. under a retired key).
    Stale,
}

impl Dangling {
    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Dangling::NoRecord => "no record",
            Dangling::FormatMismatch => "format differs from the record's",
            Dangling::ScopeMismatch => "scope differs from the record's",
            Dangling::Stale => "record names another fingerprint",
        }
    }
}

/// The facts of a record that an index item must agree with.
struct RecordView {
    format: TokenFormat,
    fingerprint: Option<Fingerprint>,
    scope: Option<DedupScope>,
    expires_at: Option<i64>,
}

/// What a whole-vault check found.
#[derive(Debug, Clone, Default)]
pub struct VaultReport {
    /// Well-formed records.
    pub records: u64,
    /// Live index items.
    pub index_items: u64,
    /// Expired index items (left to DynamoDB's TTL).
    pub expired_index_items: u64,
    /// Index items that point nowhere valid, with why.
    pub dangling: Vec<(IndexEntry, Dangling)>,
    /// Live records with a fingerprint whose index item is missing or names
    /// another token (dedup and lookup miss them; a re-index restores them).
    pub unindexed_records: u64,
    /// Items that do not parse: partition key and what is wrong.
    pub malformed: Vec<(String, String)>,
}

/// Collects a scan of the vault, then checks every index item against its record.
#[derive(Default)]
pub struct VaultCheck {
    records: HashMap<Token, RecordView>,
    index: Vec<IndexEntry>,
    malformed: Vec<(String, String)>,
}

impl VaultCheck {
    /// An empty check.
    pub fn new() -> VaultCheck {
        VaultCheck::default()
    }

    /// Takes one scanned page.
    pub fn add(&mut self, items: Vec<ScannedItem>) {
        for item in items {
            match item {
                ScannedItem::Record(r) => {
                    let view = RecordView {
                        format: r.facts.format,
                        fingerprint: r.fingerprint,
                        scope: r.scope,
                        expires_at: r.facts.expires_at,
                    };
                    self.records.insert(r.token, view);
                }
                ScannedItem::Index(e) => self.index.push(e),
                ScannedItem::Void => {}
                ScannedItem::Malformed { pk, why } => self.malformed.push((pk, why)),
            }
        }
    }

    /// The findings at `now` (Unix seconds).
    pub fn finish(self, now: i64) -> VaultReport {
        let mut report = VaultReport {
            records: u64::try_from(self.records.len()).unwrap_or(u64::MAX),
            malformed: self.malformed,
            ..VaultReport::default()
        };
        let mut indexed: HashSet<&Token> = HashSet::new();
        for entry in &self.index {
            if is_expired(entry.expires_at, now) {
                report.expired_index_items += 1;
                continue;
            }
            report.index_items += 1;
            let why = match self.records.get(&entry.token) {
                None => Some(Dangling::NoRecord),
                Some(r) if r.format != entry.key.format => Some(Dangling::FormatMismatch),
                Some(r) if r.fingerprint.as_ref() != Some(&entry.key.fingerprint) => {
                    Some(Dangling::Stale)
                }
                Some(r) if r.scope.is_some() && entry.scope.is_some() && r.scope != entry.scope => {
                    Some(Dangling::ScopeMismatch)
                }
                Some(_) => None,
            };
            match why {
                Some(why) => report.dangling.push((entry.clone(), why)),
                None => {
                    indexed.insert(&entry.token);
                }
            }
        }
        report.unindexed_records = u64::try_from(
            self.records
                .iter()
                .filter(|(t, r)| {
                    r.fingerprint.is_some()
                        && !is_expired(r.expires_at, now)
                        && !indexed.contains(t)
                })
                .count(),
        )
        .unwrap_or(u64::MAX);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_counts_add_up_field_by_field() {
        let page = ReindexStats {
            reindexed: 1,
            current: 2,
            unindexed: 3,
            expired: 4,
            unknown_scope: 5,
            conflicts: 6,
            changed: 7,
            failed: 8,
        };
        let mut total = page;
        total.add(&page);
        assert_eq!(
            total,
            ReindexStats {
                reindexed: 2,
                current: 4,
                unindexed: 6,
                expired: 8,
                unknown_scope: 10,
                conflicts: 12,
                changed: 14,
                failed: 16,
            }
        );
        assert_eq!(total.outstanding(), 10 + 12 + 16);
    }

    #[test]
    fn dangling_reasons_read_as_reports_print_them() {
        assert_eq!(Dangling::NoRecord.as_str(), "no record");
        assert_eq!(
            Dangling::FormatMismatch.as_str(),
            "format differs from the record's"
        );
        assert_eq!(
            Dangling::ScopeMismatch.as_str(),
            "scope differs from the record's"
        );
        assert_eq!(Dangling::Stale.as_str(), "record names another fingerprint");
    }

    fn fingerprint(n: u8) -> Fingerprint {
        Fingerprint::from_bytes([n; 32])
    }

    fn scope(name: &str) -> Option<DedupScope> {
        Some(DedupScope::new(name).expect("scope"))
    }

    fn record(
        format: TokenFormat,
        fp: Option<u8>,
        scope: Option<DedupScope>,
        expires_at: Option<i64>,
    ) -> VaultRecord {
        VaultRecord {
            token: Token::new_opaque(&crate::random::ThreadRandom),
            version: crate::record::RECORD_VERSION,
            ciphertext: vec![1; 8],
            wrapped_key: crate::secret::WrappedKey::new(vec![2; 8]),
            facts: crate::record::TokenFacts {
                format,
                bin: "411111".into(),
                last4: "1111".into(),
                brand: crate::brand::Brand::Visa,
                pan_length: 16,
                created_at: 0,
                expires_at,
            },
            metadata: crate::metadata::Metadata::default(),
            fingerprint: fp.map(fingerprint),
            scope,
        }
    }

    fn entry(
        token: &Token,
        format: TokenFormat,
        fp: u8,
        scope: Option<DedupScope>,
        expires_at: Option<i64>,
    ) -> IndexEntry {
        IndexEntry {
            key: IndexKey {
                format,
                fingerprint: fingerprint(fp),
            },
            token: token.clone(),
            key_version: "v1".into(),
            created_at: 0,
            expires_at,
            scope,
        }
    }

    #[test]
    fn a_vault_check_judges_every_index_item_against_its_record() {
        use TokenFormat::{Fpe, Opaque};
        let now = 100;
        let indexed = record(Opaque, Some(1), None, None);
        let other_scope = record(Opaque, Some(2), scope("a"), None);
        let stale = record(Opaque, Some(3), None, None);
        let other_format = record(Fpe, Some(5), None, None);
        let expired = record(Opaque, Some(6), None, Some(50));
        let never_indexed = record(Opaque, None, None, None);
        let scopeless_item = record(Opaque, Some(7), scope("a"), None);
        let nobody = Token::new_opaque(&crate::random::ThreadRandom);
        let items = [
            entry(&indexed.token, Opaque, 1, None, None),
            entry(&other_scope.token, Opaque, 2, scope("b"), None),
            entry(&stale.token, Opaque, 4, None, None),
            entry(&other_format.token, Opaque, 5, None, None),
            entry(&nobody, Opaque, 8, None, None),
            entry(&expired.token, Opaque, 6, None, Some(50)),
            entry(&scopeless_item.token, Opaque, 7, None, None),
        ];
        let mut check = VaultCheck::new();
        check.add(
            [
                &indexed,
                &other_scope,
                &stale,
                &other_format,
                &expired,
                &never_indexed,
                &scopeless_item,
            ]
            .into_iter()
            .map(|r| ScannedItem::Record(r.clone()))
            .collect(),
        );
        check.add(items.iter().cloned().map(ScannedItem::Index).collect());
        check.add(vec![
            ScannedItem::Void,
            ScannedItem::Malformed {
                pk: "t#x".into(),
                why: "no ct".into(),
            },
        ]);
        let report = check.finish(now);
        assert_eq!(report.records, 7);
        assert_eq!(report.index_items, 6);
        assert_eq!(report.expired_index_items, 1);
        let dangling: Vec<(Token, Dangling)> = report
            .dangling
            .iter()
            .map(|(e, why)| (e.token.clone(), *why))
            .collect();
        assert_eq!(
            dangling,
            [
                (other_scope.token.clone(), Dangling::ScopeMismatch),
                (stale.token.clone(), Dangling::Stale),
                (other_format.token.clone(), Dangling::FormatMismatch),
                (nobody, Dangling::NoRecord),
            ]
        );
        // The three whose only item dangles; not the expired record, not
        // the one without a fingerprint.
        assert_eq!(report.unindexed_records, 3);
        assert_eq!(report.malformed, [("t#x".to_owned(), "no ct".to_owned())]);
    }
}
