//! `tessera verify [--repair]`: every live index item points to a live record
//! of the same format and scope that carries its link; every item parses; no
//! record is an orphan (a dedup record no index item names and no checkpoint
//! names: a crash between a record's write and its index item's left it, and
//! no one was given its token). Read-only unless `--repair`, which removes
//! dangling index items (each only if it still names the same token) and
//! orphans (each only if the token index still names no item for it, and
//! while it still holds the same link and is no tombstone).

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
    for (token, link) in &report.orphans {
        // A scan is not a snapshot: a re-index that moved the record's index
        // item across the scan's position hides it from both sides, and a
        // link never changes in a move. Ask the token index again.
        if !vault.index_keys_naming(token).await?.is_empty() {
            continue;
        }
        if vault.remove_orphan(token, link).await? {
            removed.orphans += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tessera_core::memory::{MemoryKeyRing, MemoryVault};
    use tessera_core::*;

    use super::*;

    /// A scan is not a snapshot: a re-index that moved a record's index item
    /// across the scan's position hides the item from both sides of it, so
    /// the record looks orphaned; the repair asks the token index again and
    /// keeps it, while a true orphan still goes.
    #[tokio::test]
    async fn a_repair_keeps_a_record_the_token_index_still_names() {
        let vault = Arc::new(MemoryVault::new());
        let ports = Ports {
            clock: Arc::new(SystemClock),
            rng: Arc::new(ThreadRandom),
            vault_id: "verify".into(),
        };
        let key = FingerprintKey::new(&[3; 32], "v1").expect("key");
        let tokenizer = Tokenizer::new(
            ports,
            vault.clone(),
            Arc::new(MemoryKeyRing::new("verify")),
            Fingerprinter::new(&key),
            CacheLimits::default(),
        );
        let card = Pan::parse("4111111111111111").expect("pan");
        let token = tokenizer
            .tokenize(&TokenizeRequest::new(card.clone()))
            .await
            .expect("tokenize")
            .token;
        let entry = vault
            .index_entries()
            .into_iter()
            .find(|e| e.token == token)
            .expect("index item");
        let link = entry.link.clone().expect("a link");
        let report = VaultReport {
            orphans: vec![(token.clone(), link)],
            ..VaultReport::default()
        };
        assert_eq!(
            repair(vault.as_ref(), &report)
                .await
                .expect("repair")
                .orphans,
            0
        );
        assert!(
            vault.get(&token).await.expect("get").is_some(),
            "a live record was deleted"
        );
        assert!(
            vault
                .remove_index(&entry.key, &token)
                .await
                .expect("remove")
        );
        assert_eq!(
            repair(vault.as_ref(), &report)
                .await
                .expect("repair")
                .orphans,
            1
        );
        assert!(vault.get(&token).await.expect("get").is_none());
    }
}
