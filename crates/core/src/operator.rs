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
use crate::record::{IndexEntry, IndexKey, Link, VaultRecord, is_expired};
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
    /// Records without an index item (`dedupe: false`): nothing to do.
    pub unindexed: u64,
    /// Expired records: left to DynamoDB's TTL.
    pub expired: u64,
    /// No stored scope, and no candidate scope reproduces the fingerprint of
    /// an index item that names the record.
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

    /// The candidate scope whose fingerprint of `pan`, under either key, is
    /// the key of an index item that names the record.
    fn find_scope(&self, held: &[IndexKey], format: TokenFormat, pan: &Pan) -> Option<DedupScope> {
        let keys = std::iter::once(&self.current).chain(self.previous.as_ref());
        let keys: Vec<&Fingerprinter> = keys.collect();
        self.candidates
            .iter()
            .find(|scope| {
                keys.iter().any(|k| {
                    let key = IndexKey {
                        format,
                        fingerprint: k.fingerprint(scope, format, pan),
                    };
                    held.contains(&key)
                })
            })
            .cloned()
    }

    async fn reindex_one(&self, record: VaultRecord) -> Result<Outcome, Error> {
        let Some(link) = record.link.clone() else {
            return Ok(Outcome::Unindexed);
        };
        let (token, stored) = (record.token.clone(), record.scope.clone());
        let (format, created_at, expires_at) = (
            record.facts.format,
            record.facts.created_at,
            record.facts.expires_at,
        );
        // The record keeps no fingerprint: the items naming it say where it
        // is indexed now.
        let held: Vec<IndexKey> = self
            .vault
            .index_keys_naming(&token)
            .await?
            .into_iter()
            .filter(|k| k.format == format)
            .collect();
        let opened = match self.detokenizer.open_record(record).await {
            Err(Error::NotFound) => return Ok(Outcome::Expired),
            other => other?,
        };
        let scope = match stored
            .clone()
            .or_else(|| self.find_scope(&held, format, &opened.pan))
        {
            Some(scope) => scope,
            None => return Ok(Outcome::UnknownScope),
        };
        let key = IndexKey {
            format,
            fingerprint: self.current.fingerprint(&scope, format, &opened.pan),
        };
        drop(opened);
        if stored.is_some() && held == [key.clone()] {
            return Ok(Outcome::Current);
        }
        let now = self.ports.clock.now_secs();
        let entry = IndexEntry {
            key,
            token: token.clone(),
            key_version: self.current.key_version().to_owned(),
            created_at,
            expires_at,
            scope: Some(scope.clone()),
            link: Some(link.clone()),
        };
        // New item first, old ones second, record last: a run stopped between
        // steps leaves an item under the old key, which the next run finds
        // and moves again; each step is idempotent.
        if self.vault.put_index(&entry, now, None).await? == IndexWrite::Taken {
            return Ok(Outcome::Conflict);
        }
        for old in held.iter().filter(|k| **k != entry.key) {
            self.vault.remove_index(old, &token).await?;
        }
        if self.vault.relink(&token, &link, &scope).await? {
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
    /// The record carries another link (the item outlived its record's
    /// index write, or was written for another card).
    Stale,
}

impl Dangling {
    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Dangling::NoRecord => "no record",
            Dangling::FormatMismatch => "format differs from the record's",
            Dangling::ScopeMismatch => "scope differs from the record's",
            Dangling::Stale => "record carries another link",
        }
    }
}

/// The facts of a record that an index item must agree with.
struct RecordView {
    format: TokenFormat,
    link: Option<Link>,
    scope: Option<DedupScope>,
    created_at: i64,
    expires_at: Option<i64>,
}

/// How old (seconds) an unreachable record must be to count as an orphan:
/// longer than any tokenize call or import chunk runs between its record
/// write and its index write, so an in-flight writer's record is not one.
pub const ORPHAN_MIN_AGE_SECS: i64 = 3600;

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
    /// Live records with a link that no live index item confirms (dedup and
    /// lookup miss them; a re-index restores them).
    pub unindexed_records: u64,
    /// Items that do not parse: partition key and what is wrong.
    pub malformed: Vec<(String, String)>,
    /// Tombstones of erased tokens (kept for good: never orphans).
    pub tombstones: u64,
    /// Orphans: live records with a link that no index item (live or
    /// expired) names and no checkpoint names, older than the minimum age:
    /// left by a crash between a record's write and its index item's, never
    /// handed out. With the link they hold (`--repair` deletes them only
    /// while they still hold it).
    pub orphans: Vec<(Token, Link)>,
}

/// Collects a scan of the vault, then checks every index item against its record.
pub struct VaultCheck {
    records: HashMap<Token, RecordView>,
    index: Vec<IndexEntry>,
    malformed: Vec<(String, String)>,
    tombstones: u64,
    reachable: HashSet<Token>,
    orphan_min_age: i64,
}

impl Default for VaultCheck {
    fn default() -> VaultCheck {
        VaultCheck {
            records: HashMap::new(),
            index: Vec::new(),
            malformed: Vec::new(),
            tombstones: 0,
            reachable: HashSet::new(),
            orphan_min_age: ORPHAN_MIN_AGE_SECS,
        }
    }
}

impl VaultCheck {
    /// An empty check.
    pub fn new() -> VaultCheck {
        VaultCheck::default()
    }

    /// Tokens a checkpoint names (an interrupted import's pending rows): a
    /// re-run writes their index items, so they are not orphans.
    pub fn reachable(mut self, tokens: impl IntoIterator<Item = Token>) -> VaultCheck {
        self.reachable.extend(tokens);
        self
    }

    /// Overrides [`ORPHAN_MIN_AGE_SECS`].
    pub fn orphan_min_age(mut self, secs: i64) -> VaultCheck {
        self.orphan_min_age = secs;
        self
    }

    /// Takes one scanned page.
    pub fn add(&mut self, items: Vec<ScannedItem>) {
        for item in items {
            match item {
                ScannedItem::Record(r) => {
                    let view = RecordView {
                        format: r.facts.format,
                        link: r.link,
                        scope: r.scope,
                        created_at: r.facts.created_at,
                        expires_at: r.facts.expires_at,
                    };
                    self.records.insert(r.token, view);
                }
                ScannedItem::Facts(f) => {
                    let view = RecordView {
                        format: f.format,
                        link: f.link,
                        scope: f.scope,
                        created_at: f.created_at,
                        expires_at: f.expires_at,
                    };
                    self.records.insert(f.token, view);
                }
                ScannedItem::Index(e) => self.index.push(e),
                ScannedItem::Void | ScannedItem::NotRead | ScannedItem::WrappedKey { .. } => {}
                ScannedItem::Erased => self.tombstones += 1,
                ScannedItem::Malformed { pk, why } => self.malformed.push((pk, why)),
            }
        }
    }

    /// The findings at `now` (Unix seconds).
    pub fn finish(self, now: i64) -> VaultReport {
        let mut report = VaultReport {
            records: u64::try_from(self.records.len()).unwrap_or(u64::MAX),
            malformed: self.malformed,
            tombstones: self.tombstones,
            ..VaultReport::default()
        };
        // Every token an index item names, live or not: a record one names
        // is not an orphan (an expired one is left to TTL, a stale one to
        // the counts above).
        let named: HashSet<&Token> = self.index.iter().map(|e| &e.token).collect();
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
                Some(r) if r.link.is_none() || r.link != entry.link => Some(Dangling::Stale),
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
                    r.link.is_some() && !is_expired(r.expires_at, now) && !indexed.contains(t)
                })
                .count(),
        )
        .unwrap_or(u64::MAX);
        let mut orphans: Vec<(Token, Link)> = self
            .records
            .iter()
            .filter_map(|(t, r)| {
                let link = r.link.as_ref()?;
                let orphan = !is_expired(r.expires_at, now)
                    && r.created_at <= now.saturating_sub(self.orphan_min_age)
                    && !self.reachable.contains(t)
                    && !named.contains(t);
                orphan.then(|| (t.clone(), link.clone()))
            })
            .collect();
        orphans.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        report.orphans = orphans;
        report
    }
}

#[cfg(test)]
mod tests;
