//! `tessera import`: bulk migration from another vault.
//!
//! Rows are taken a chunk at a time. For a chunk: one `BatchGetItem` finds the
//! index items (under the current key and, during a rotation, the previous
//! one), the rows are sealed through the [`Tokenizer`], and `BatchWriteItem`
//! stores the records, then their index items. No transaction per card:
//! DynamoDB bills a transaction twice, and an emulator may copy the table per
//! transaction.
//!
//! Resuming: before a chunk is written, the tokens drawn for it are saved in
//! the checkpoint; after, the chunk is marked done. A re-run skips done rows
//! and gives the rows of an interrupted chunk the same tokens, so a record is
//! rewritten in place rather than issued twice, and a card that an earlier
//! run indexed is recognised as already imported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tessera_core::{
    Fingerprinter, IndexEntry, IndexKey, OperatorVault, Random, Token, TokenFormat, Tokenizer,
    VaultRecord,
};

use crate::CliError;
use crate::checkpoint::Checkpoint;
use crate::rows::ImportRow;

/// Rows per chunk: one `BatchGetItem` of up to 100 keys covers the chunk's
/// index items under one key.
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
    /// The input file, and its length, so another file is not resumed by mistake.
    pub source: String,
    /// Its length in bytes.
    pub source_len: u64,
    /// Every row up to this number is done.
    pub done_rows: u64,
    /// Counts so far.
    pub summary: ImportSummary,
    /// Tokens drawn for the chunk being written: row number -> token.
    pub pending: BTreeMap<u64, String>,
}

/// What to do with one chunk, decided before anything is written.
pub struct Plan {
    records: Vec<VaultRecord>,
    index: Vec<IndexEntry>,
    /// Tokens drawn (or kept) per row, for the checkpoint.
    pub tokens: BTreeMap<u64, String>,
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
        pending: &BTreeMap<u64, String>,
    ) -> Result<Plan, CliError> {
        let now = self.clock.now_secs();
        let mut plan = Plan {
            records: Vec::new(),
            index: Vec::new(),
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
        // Index keys under the current key, then under the previous one.
        let mut keys: Vec<IndexKey> = valid
            .iter()
            .map(|(_, r)| {
                let q = &r.request;
                self.tokenizer.index_key(&q.scope, &q.pan, q.format)
            })
            .collect();
        if let Some(previous) = &self.previous {
            let older: Vec<IndexKey> = valid
                .iter()
                .map(|(_, r)| IndexKey {
                    format: r.request.format,
                    fingerprint: previous.fingerprint(
                        &r.request.scope,
                        r.request.format,
                        &r.request.pan,
                    ),
                })
                .collect();
            keys.extend(older);
        }
        let found = self.vault.find_indexes(&keys).await?;
        let live = |i: usize| {
            found
                .get(i)
                .cloned()
                .flatten()
                .filter(|e| e.expires_at.is_none_or(|exp| exp > now))
        };
        let kept: Vec<Token> = valid.iter().filter_map(|(_, r)| r.token.clone()).collect();
        let exists: HashMap<Token, bool> = if kept.is_empty() {
            HashMap::new()
        } else {
            kept.iter()
                .cloned()
                .zip(self.vault.records_exist(&kept).await?)
                .collect()
        };
        let count = valid.len();
        let mut in_chunk: HashMap<String, Token> = HashMap::new();
        // Token -> card must stay one to one: two rows keeping one token
        // would write two records under it, the second overwriting the first
        // while the first card's index item still names it.
        let mut claimed: HashMap<Token, u64> = HashMap::new();
        let mut drawn: Vec<Token> = Vec::new();
        for (i, (n, row)) in valid.into_iter().enumerate() {
            let journaled = pending.get(&n).and_then(|t| Token::parse(t).ok());
            let existing = live(i).or_else(|| self.previous.as_ref().and(live(count + i)));
            let storage_key = keys.get(i).map(IndexKey::storage_key).unwrap_or_default();
            let holder = existing
                .map(|e| e.token)
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
                (None, _)
                    if journaled.is_none()
                        && row.token.as_ref().is_some_and(|t| exists.get(t) == Some(&true)) =>
                {
                    Slot::Reject("the token is already in the vault".to_owned())
                }
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
                    if mine.is_none() {
                        drawn.push(token.clone());
                    }
                    match self
                        .tokenizer
                        .seal_for_import(Some(token.clone()), &row.request)
                        .await
                    {
                        Ok((record, entry)) => {
                            claimed.insert(token.clone(), n);
                            in_chunk.insert(storage_key, token.clone());
                            plan.tokens.insert(n, token.as_str().to_owned());
                            plan.records.push(record);
                            plan.index.extend(entry);
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
        // A drawn token that is already stored (fpe tokens share a BIN and
        // last 4, so their space is small) must not overwrite that record:
        // the row is left for the next run, which draws again.
        if !drawn.is_empty() {
            let taken: HashSet<Token> = drawn
                .iter()
                .cloned()
                .zip(self.vault.records_exist(&drawn).await?)
                .filter_map(|(t, exists)| exists.then_some(t))
                .collect();
            for token in &taken {
                if let Some(n) = claimed.get(token).copied() {
                    plan.records.retain(|r| &r.token != token);
                    plan.index.retain(|e| &e.token != token);
                    plan.tokens.remove(&n);
                    plan.summary.imported = plan.summary.imported.saturating_sub(1);
                    plan.rejects.push((
                        n,
                        "the drawn token collided with a stored one; import this row again"
                            .to_owned(),
                    ));
                }
            }
        }
        plan.rejects.sort_by_key(|(n, _)| *n);
        plan.summary.rejected = u64::try_from(plan.rejects.len()).unwrap_or(u64::MAX);
        Ok(plan)
    }

    /// Writes a planned chunk: records first, then index items.
    pub async fn write(&self, plan: &Plan) -> Result<(), CliError> {
        self.vault.put_batch(&plan.records, &[]).await?;
        self.vault.put_batch(&[], &plan.index).await?;
        Ok(())
    }
}

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Rows per chunk.
    pub chunk_rows: usize,
    /// At most this many rows a second (`None`: as fast as the vault allows).
    pub max_rate: Option<f64>,
    /// Where the checkpoint lives.
    pub checkpoint: Checkpoint,
}

/// What reports a running import: progress and rejected rows.
pub trait Reporter {
    /// `rows` more rows were handled.
    fn advance(&self, rows: u64);
    /// A row was refused.
    fn reject(&self, row: u64, why: &str);
}

/// Imports `rows` (read from `source`), resuming from the checkpoint.
pub async fn run(
    importer: &Importer,
    source: &Path,
    rows: impl Iterator<Item = (u64, Result<ImportRow, String>)>,
    options: &ImportOptions,
    reporter: &dyn Reporter,
) -> Result<ImportSummary, CliError> {
    let source_len = std::fs::metadata(source)
        .map_err(|e| CliError::file(source, e))?
        .len();
    let name = source.display().to_string();
    let mut state: ImportState = match options.checkpoint.load::<ImportState>()? {
        Some(state) if state.source == name && state.source_len == source_len => state,
        Some(_) => {
            return Err(CliError::Refused(format!(
                "the checkpoint {} belongs to another input file; remove it to start over",
                options.checkpoint.path().display()
            )));
        }
        None => ImportState {
            source: name,
            source_len,
            ..ImportState::default()
        },
    };
    reporter.advance(state.done_rows);
    let started = Instant::now();
    let mut handled: u64 = 0;
    let resume_after = state.done_rows;
    let mut rows = rows.skip_while(|(n, _)| *n <= resume_after).peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(options.chunk_rows.max(1)).collect();
        let last = chunk.last().map(|(n, _)| *n).unwrap_or(state.done_rows);
        let plan = importer.plan(chunk, &state.pending).await?;
        state.pending = plan.tokens.clone();
        options.checkpoint.save(&state)?;
        importer.write(&plan).await?;
        for (n, why) in &plan.rejects {
            reporter.reject(*n, why);
        }
        let s = &mut state.summary;
        s.imported += plan.summary.imported;
        s.deduplicated += plan.summary.deduplicated;
        s.rejected += plan.summary.rejected;
        s.resumed += plan.summary.resumed;
        let rows_in_chunk = last - state.done_rows;
        state.done_rows = last;
        state.pending.clear();
        options.checkpoint.save(&state)?;
        reporter.advance(rows_in_chunk);
        handled += rows_in_chunk;
        if let Some(rate) = options.max_rate.filter(|r| *r > 0.0) {
            // Bounded rate: never ahead of `rate` rows a second on average.
            let due = Duration::from_secs_f64(handled as f64 / rate);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    Ok(state.summary)
}
