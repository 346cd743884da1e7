//! `tessera verify [--repair]`: every live index item points to a live record
//! of the same format, scope and fingerprint; every item parses; no record
//! is an orphan (a dedup record whose index item is absent and that no
//! checkpoint names: a crash between a record's write and its index item's
//! left it, and no one was given its token). Read-only unless `--repair`,
//! which removes dangling index items (each only if it still names the same
//! token) and orphans (each only while it still holds the same fingerprint
//! and is no tombstone).

use tessera_core::{Clock, OperatorVault, ScanView, Token, VaultCheck, VaultReport};

use crate::CliError;
use crate::checkpoint::Checkpoint;
use crate::import::ImportState;

/// Scans the whole vault and checks it.
pub async fn check(
    vault: &dyn OperatorVault,
    clock: &dyn Clock,
    page: u32,
    progress: &dyn Fn(u64),
) -> Result<VaultReport, CliError> {
    check_with(vault, clock, page, progress, VaultCheck::new()).await
}

/// Scans the whole vault into `check` (which may name reachable tokens and
/// the orphans' minimum age) and checks it.
pub async fn check_with(
    vault: &dyn OperatorVault,
    clock: &dyn Clock,
    page: u32,
    progress: &dyn Fn(u64),
    mut check: VaultCheck,
) -> Result<VaultReport, CliError> {
    let mut after: Option<String> = None;
    loop {
        let scanned = vault.scan(after.as_deref(), page, ScanView::Facts).await?;
        progress(u64::try_from(scanned.items.len()).unwrap_or(u64::MAX));
        check.add(scanned.items);
        match scanned.next {
            Some(next) => after = Some(next),
            None => return Ok(check.finish(clock.now_secs())),
        }
    }
}

/// The tokens an interrupted import's checkpoint holds for its pending rows
/// (none if the file is absent): a re-run writes their index items.
pub fn pending_tokens(checkpoint: &Checkpoint) -> Result<Vec<Token>, CliError> {
    let Some(state) = checkpoint.load::<ImportState>()? else {
        return Ok(Vec::new());
    };
    Ok(state
        .pending
        .values()
        .filter_map(|p| Token::parse(&p.token).ok())
        .collect())
}

/// What a repair removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Dangling index items.
    pub index_items: u64,
    /// Orphaned records.
    pub orphans: u64,
}

/// Removes the dangling index items and the orphans of `report`.
pub async fn repair(vault: &dyn OperatorVault, report: &VaultReport) -> Result<Repaired, CliError> {
    let mut removed = Repaired::default();
    for (entry, _) in &report.dangling {
        if vault.remove_index(&entry.key, &entry.token).await? {
            removed.index_items += 1;
        }
    }
    for (token, fingerprint) in &report.orphans {
        if vault.remove_orphan(token, fingerprint).await? {
            removed.orphans += 1;
        }
    }
    Ok(removed)
}
