//! `tessera rotate-fingerprint-key`: re-index every record from the previous
//! fingerprint key to the current one, then retire the previous key.
//!
//! Procedure (README): put a new key version (`--new-key`, refused while
//! the last rotation is unfinished; or Secrets Manager's own rotation), let the tokenize function pick it up (it reads
//! AWSCURRENT and AWSPREVIOUS at cold start), run this command until it
//! reports nothing outstanding, then `--retire`, which refuses while any live
//! index item is still under the previous key.

use serde::{Deserialize, Serialize};
use tessera_aws::AwsClients;
use tessera_aws::secrets::{load_fingerprint_keys, put_new_fingerprint_key};
use tessera_core::{OperatorVault, Random, ReindexStats, Reindexer, ScanView, ScannedItem};

use crate::CliError;
use crate::checkpoint::{Checkpoint, resume_point};

/// Items per scan page.
pub const DEFAULT_PAGE: u32 = 200;

/// The checkpoint of a re-index: where the scan stopped and the counts so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReindexState {
    /// The key version being re-indexed to: a checkpoint of another rotation is ignored.
    pub key_version: String,
    /// The last partition key of the last finished page.
    pub after: Option<String>,
    /// Items scanned so far.
    pub scanned: u64,
    /// Counts so far.
    pub reindexed: u64,
    /// Records already under the current key.
    pub current: u64,
    /// Records that could not be moved (unknown scope, conflicts, failures).
    pub outstanding: u64,
}

/// Starts a rotation (`--new-key`): puts a new random key version, which
/// becomes AWSCURRENT. Refused while an AWSPREVIOUS version exists: the
/// last rotation is not finished, and a new version would take the
/// AWSPREVIOUS label from it, so the index items still under it could no
/// longer be found (their cards would be issued second tokens) nor moved.
/// Returns the new version id.
pub async fn start_rotation(
    clients: &AwsClients,
    secret_id: &str,
    rng: &dyn Random,
) -> Result<String, CliError> {
    let keys = load_fingerprint_keys(&clients.secrets, secret_id).await?;
    if let Some(previous) = &keys.previous {
        return Err(CliError::Refused(format!(
            "not putting a new key: the last rotation is still in progress (key version {} is AWSPREVIOUS). Finish it first: run `tessera rotate-fingerprint-key --retire` until it retires that version (it re-indexes what is left, and refuses while anything is still indexed under it), then start the next rotation with --new-key",
            previous.version()
        )));
    }
    Ok(put_new_fingerprint_key(&clients.secrets, secret_id, rng).await?)
}

/// Re-indexes the whole vault, page by page, resuming from `checkpoint`.
/// `progress` is told how many items each page held.
pub async fn reindex(
    vault: &dyn OperatorVault,
    reindexer: &Reindexer,
    key_version: &str,
    page: u32,
    checkpoint: &Checkpoint,
    progress: &dyn Fn(u64),
) -> Result<ReindexStats, CliError> {
    let mut state = match checkpoint.load::<ReindexState>()? {
        Some(s) if s.key_version == key_version => s,
        _ => ReindexState {
            key_version: key_version.to_owned(),
            ..ReindexState::default()
        },
    };
    progress(state.scanned);
    let mut total = ReindexStats::default();
    let mut after = state.after.clone().filter(|a| !a.is_empty());
    loop {
        let scanned = vault.scan(after.as_deref(), page, ScanView::Whole).await?;
        let resume = resume_point(&scanned.items, scanned.next.as_deref(), state.after.take());
        let items = u64::try_from(scanned.items.len()).unwrap_or(u64::MAX);
        let stats = reindexer.reindex(scanned.items).await;
        total.add(&stats);
        state.scanned += items;
        state.reindexed += stats.reindexed;
        state.current += stats.current;
        state.outstanding += stats.outstanding();
        after = scanned.next;
        state.after = resume;
        progress(items);
        if after.is_none() {
            checkpoint.clear()?;
            return Ok(total);
        }
        checkpoint.save(&state)?;
    }
}

/// Live index items still under `version` (the previous key).
pub async fn items_under(
    vault: &dyn OperatorVault,
    version: &str,
    now: i64,
    page: u32,
) -> Result<u64, CliError> {
    let mut after: Option<String> = None;
    let mut count = 0;
    loop {
        let scanned = vault.scan(after.as_deref(), page, ScanView::Whole).await?;
        count += scanned
            .items
            .iter()
            .filter(|item| {
                matches!(item, ScannedItem::Index(e)
                    if e.key_version == version && e.expires_at.is_none_or(|exp| exp > now))
            })
            .count() as u64;
        match scanned.next {
            Some(next) => after = Some(next),
            None => return Ok(count),
        }
    }
}
