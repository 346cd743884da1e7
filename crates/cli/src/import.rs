//! `tessera import`: bulk migration from another vault.
//!
//! Rows are taken a chunk at a time. For a chunk: each row's index item is
//! read (`GetItem`, under the current key and, during a rotation, the
//! previous one) and a hit is confirmed by the link of the record it names;
//! the rows are sealed through the [`Tokenizer`]; then each record and each
//! index item is written with its own conditional `PutItem` (the SDK retries
//! each): a record only where its token is free or holds this run's own
//! record (`attribute_not_exists(pk) OR ln = :ln`, the link only this run
//! drew), an index item under the condition tokenize uses. No batch write: `BatchWriteItem` takes no
//! condition, so a token could be overwritten with another card or an
//! erased token revived.
//!
//! Resuming: before a chunk is written, the tokens and links drawn for it are
//! saved in the checkpoint, which is bound to the SHA-256 of the input file;
//! after, the chunk is marked done. A re-run skips done rows and gives the
//! rows of an interrupted chunk the same tokens and links, so a record is
//! rewritten in place (its own link satisfies the condition) rather than
//! issued twice, and a card that an earlier run indexed is recognised as
//! already imported.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tessera_core::{
    CreateError, Fingerprint, Fingerprinter, IndexEntry, IndexKey, IndexWrite, Link, OperatorVault,
    Random, Token, TokenFormat, Tokenizer, VaultRecord,
};

use crate::CliError;
use crate::rows::ImportRow;

/// Reads or writes in flight at once: enough to hide the store's latency,
/// few enough not to trip DynamoDB's per-partition burst limits.
const CONCURRENCY: usize = 16;

/// Rows per chunk: the unit of the checkpoint.
pub const DEFAULT_CHUNK_ROWS: usize = 100;

/// What an import did (over every run of the same file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Rows stored as new tokens.
    pub imported: u64,
    /// Rows whose card already had a token in the scope and format.
    pub deduplicated: u64,
    /// Rows refused (see the report for each reason).
    pub rejected: u64,
    /// Rows an interrupted earlier run had already stored.
    pub resumed: u64,
}

/// The checkpoint of an import.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImportState {
    /// The input file's name, for messages.
    pub source: String,
    /// The SHA-256 of its contents (hex): a checkpoint resumes only the
    /// very file it was written for.
    #[serde(default)]
    pub source_sha256: String,
    /// Every row up to this number is done.
    pub done_rows: u64,
    /// Counts so far.
    pub summary: ImportSummary,
    /// Tokens drawn for the chunk being written, by row number.
    pub pending: BTreeMap<u64, PendingRow>,
}

/// What the checkpoint keeps of a row being written: its token and the link
/// its record carries (with dedup), so a re-run rewrites that very record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRow {
    /// The row's token.
    pub token: String,
    /// Its record's link (hex); absent without dedup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// What to do with one chunk, decided before anything is written.
pub struct Plan {
    /// Row number, record, its index item and the stale token it replaces.
    writes: Vec<(u64, VaultRecord, Option<IndexEntry>, Option<Token>)>,
    /// Tokens drawn (or kept) per row, for the checkpoint.
    pub tokens: BTreeMap<u64, PendingRow>,
    /// Counts of the chunk.
    pub summary: ImportSummary,
    /// Rejected rows: number and reason (never the row).
    pub rejects: Vec<(u64, String)>,
}

/// Imports through the same sealing code as the tokenize function.
pub struct Importer {
    tokenizer: Tokenizer,
    previous: Option<Fingerprinter>,
    vault: Arc<dyn OperatorVault>,
    rng: Arc<dyn Random>,
    clock: Arc<dyn tessera_core::Clock>,
}

enum Slot {
    Write,
    Reject(String),
    Deduplicated,
    Resumed,
}

impl Importer {
    /// An importer sealing with `tokenizer` and writing to `vault`;
    /// `previous` is the previous fingerprint key during a rotation.
    pub fn new(
        tokenizer: Tokenizer,
        previous: Option<Fingerprinter>,
        vault: Arc<dyn OperatorVault>,
        ports: &tessera_core::Ports,
    ) -> Importer {
        Importer {
            tokenizer,
            previous,
            vault,
            rng: ports.rng.clone(),
            clock: ports.clock.clone(),
        }
    }

    /// Decides a chunk: dedup against the vault and within the chunk, keep or
    /// draw tokens (`pending` holds those of an interrupted run), seal.
    pub async fn plan(
        &self,
        rows: Vec<(u64, Result<ImportRow, String>)>,
        pending: &BTreeMap<u64, PendingRow>,
    ) -> Result<Plan, CliError> {
        let now = self.clock.now_secs();
        let mut plan = Plan {
            writes: Vec::new(),
            tokens: BTreeMap::new(),
            summary: ImportSummary::default(),
            rejects: Vec::new(),
        };
        let mut valid = Vec::new();
        for (n, row) in rows {
            match row {
                Ok(row) => valid.push((n, row)),
                Err(why) => plan.rejects.push((n, why)),
            }
        }
        let keys: Vec<IndexKey> = valid
            .iter()
            .map(|(_, r)| {
                let q = &r.request;
                self.tokenizer.index_key(&q.scope, &q.pan, q.format)
            })
            .collect();
        let older: Vec<Option<Fingerprint>> = valid
            .iter()
            .map(|(_, r)| {
                let q = &r.request;
                self.previous
                    .as_ref()
                    .map(|p| p.fingerprint(&q.scope, q.format, &q.pan))
            })
            .collect();
        let lookups: Vec<_> = keys
            .iter()
            .zip(&older)
            .map(|(key, older)| self.holder(key, older.as_ref(), now))
            .collect();
        let found: Vec<Result<Holder, CliError>> = futures::stream::iter(lookups)
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut in_chunk: HashMap<String, Token> = HashMap::new();
        // Token -> card must stay one to one: two rows keeping one token
        // would write two records under it.
        let mut claimed: HashMap<Token, u64> = HashMap::new();
        for (i, ((n, row), found)) in valid.into_iter().zip(found).enumerate() {
            let found = found?;
            let journal = pending.get(&n);
            let journaled = journal.and_then(|p| Token::parse(&p.token).ok());
            let storage_key = keys.get(i).map(IndexKey::storage_key).unwrap_or_default();
            let holder = found
                .hit
                .clone()
                .or_else(|| in_chunk.get(&storage_key).cloned());
            let mine = journaled.clone().or_else(|| row.token.clone());
            let slot = match (holder, &mine) {
                (Some(holder), Some(mine)) if &holder == mine => Slot::Resumed,
                (Some(_), _) if row.token.is_some() => Slot::Reject(
                    "the card already has another token in this scope and format".to_owned(),
                ),
                (Some(_), _) if !row.request.metadata.is_empty() => Slot::Reject(
                    "the card already has a token in this scope and format; its metadata would be dropped".to_owned(),
                ),
                (Some(_), _) => Slot::Deduplicated,
                (None, Some(token)) if claimed.contains_key(token) => Slot::Reject(format!(
                    "the token is already used by row {}",
                    claimed.get(token).copied().unwrap_or_default()
                )),
                (None, _) => {
                    let token = mine.clone().unwrap_or_else(|| loop {
                        let token = match row.request.format {
                            TokenFormat::Opaque => Token::new_opaque(self.rng.as_ref()),
                            TokenFormat::Fpe => Token::new_fpe(&row.request.pan, self.rng.as_ref()),
                        };
                        if !claimed.contains_key(&token) {
                            break token;
                        }
                    });
                    // The link drawn for this very token before, if any.
                    let link = journal
                        .filter(|p| p.token == token.as_str())
                        .and_then(|p| p.link.as_deref())
                        .and_then(Link::from_hex);
                    match self
                        .tokenizer
                        .seal_for_import(Some(token.clone()), link, &row.request)
                        .await
                    {
                        Ok((record, entry)) => {
                            claimed.insert(token.clone(), n);
                            in_chunk.insert(storage_key, token.clone());
                            let link = record.link.as_ref().map(Link::to_hex);
                            let pending = PendingRow {
                                token: token.as_str().to_owned(),
                                link,
                            };
                            plan.tokens.insert(n, pending);
                            plan.writes.push((n, record, entry, found.stale));
                            Slot::Write
                        }
                        // Core errors never carry a PAN.
                        Err(e) if e.is_retryable() => return Err(e.into()),
                        Err(e) => Slot::Reject(e.to_string()),
                    }
                }
            };
            match slot {
                Slot::Write => plan.summary.imported += 1,
                Slot::Reject(why) => plan.rejects.push((n, why)),
                Slot::Deduplicated => plan.summary.deduplicated += 1,
                Slot::Resumed => plan.summary.resumed += 1,
            }
        }
        plan.rejects.sort_by_key(|(n, _)| *n);
        plan.summary.rejected = u64::try_from(plan.rejects.len()).unwrap_or(u64::MAX);
        Ok(plan)
    }

    /// Who holds a card's index item: a hit only once the record it names
    /// carries the item's link, unexpired (under the current key or,
    /// mid-rotation, the previous one); else the current key's stale holder,
    /// if any, which the new index item replaces.
    async fn holder(
        &self,
        key: &IndexKey,
        older: Option<&Fingerprint>,
        now: i64,
    ) -> Result<Holder, CliError> {
        let mut stale = None;
        let current = self.confirmed(key, now).await?;
        match current {
            Lookup::Hit(token) => {
                return Ok(Holder {
                    hit: Some(token),
                    stale: None,
                });
            }
            Lookup::Stale(token) => stale = Some(token),
            Lookup::Miss => {}
        }
        if let Some(older) = older {
            let key = IndexKey {
                format: key.format,
                fingerprint: older.clone(),
            };
            if let Lookup::Hit(token) = self.confirmed(&key, now).await? {
                return Ok(Holder {
                    hit: Some(token),
                    stale: None,
                });
            }
        }
        Ok(Holder { hit: None, stale })
    }

    async fn confirmed(&self, key: &IndexKey, now: i64) -> Result<Lookup, CliError> {
        let Some(item) = self.vault.index_holder(key).await? else {
            return Ok(Lookup::Miss);
        };
        if is_expired(item.expires_at, now) {
            return Ok(Lookup::Miss);
        }
        let head = self.vault.record_head(&item.token).await?;
        let live = head.is_some_and(|h| !is_expired(h.expires_at, now));
        let carries = match (&item.link, live) {
            (Some(link), true) => self.vault.carries(&item.token, link).await?,
            _ => false,
        };
        Ok(if carries {
            Lookup::Hit(item.token)
        } else {
            Lookup::Stale(item.token)
        })
    }

    /// Writes a planned chunk, each record before its index item, each with
    /// its own conditional put. Returns the rows refused at write time (a
    /// token another card or a tombstone holds; a card tokenized meanwhile).
    pub async fn write(&self, plan: &Plan) -> Result<Vec<(u64, String)>, CliError> {
        let now = self.clock.now_secs();
        let writes: Vec<_> = plan
            .writes
            .iter()
            .map(|(n, record, entry, stale)| {
                self.write_one(*n, record, entry.as_ref(), stale.as_ref(), now)
            })
            .collect();
        let outcomes: Vec<Result<Option<(u64, String)>, CliError>> = futures::stream::iter(writes)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut rejects = Vec::new();
        for outcome in outcomes {
            rejects.extend(outcome?);
        }
        rejects.sort_by_key(|(n, _)| *n);
        Ok(rejects)
    }

    async fn write_one(
        &self,
        n: u64,
        record: &VaultRecord,
        entry: Option<&IndexEntry>,
        stale: Option<&Token>,
        now: i64,
    ) -> Result<Option<(u64, String)>, CliError> {
        match self.vault.put_record(record).await {
            Ok(()) => {}
            Err(CreateError::RecordExists | CreateError::IndexExists) => {
                return Ok(Some((
                    n,
                    "the token is held by another card or was erased; nothing was overwritten"
                        .to_owned(),
                )));
            }
            Err(CreateError::Vault(e)) => return Err(e.into()),
        }
        let Some(entry) = entry else {
            return Ok(None);
        };
        if self.vault.put_index(entry, now, stale).await? == IndexWrite::Written {
            return Ok(None);
        }
        // Another token took the card's index item since the chunk was
        // planned: this record would be a second copy no one can reach.
        self.vault.void(record, now).await?;
        Ok(Some((
            n,
            "the card was tokenized as another token during the import; import this row again"
                .to_owned(),
        )))
    }
}

/// Whether an expiry has passed at `now` (as the core judges it).
fn is_expired(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_some_and(|exp| exp <= now)
}

/// A card's index holder, as [`Importer::holder`] judged it.
struct Holder {
    hit: Option<Token>,
    stale: Option<Token>,
}

enum Lookup {
    Hit(Token),
    Stale(Token),
    Miss,
}

mod resume;

pub use resume::{ImportOptions, Reporter, file_sha256, run};
