//! `tessera verify [--repair]`: every live index item points to a live record
//! of the same format, scope and fingerprint; every item parses. Read-only
//! unless `--repair`, which removes dangling index items (each only if it
//! still names the same token).

use tessera_core::{Clock, OperatorVault, VaultCheck, VaultReport};

use crate::CliError;

/// Scans the whole vault and checks it.
pub async fn check(
    vault: &dyn OperatorVault,
    clock: &dyn Clock,
    page: u32,
    progress: &dyn Fn(u64),
) -> Result<VaultReport, CliError> {
    let mut check = VaultCheck::new();
    let mut after: Option<String> = None;
    loop {
        let scanned = vault.scan(after.as_deref(), page).await?;
        progress(u64::try_from(scanned.items.len()).unwrap_or(u64::MAX));
        check.add(scanned.items);
        match scanned.next {
            Some(next) => after = Some(next),
            None => return Ok(check.finish(clock.now_secs())),
        }
    }
}

/// Removes the dangling index items of `report`; returns how many went.
pub async fn repair(vault: &dyn OperatorVault, report: &VaultReport) -> Result<u64, CliError> {
    let mut removed = 0;
    for (entry, _) in &report.dangling {
        if vault.remove_index(&entry.key, &entry.token).await? {
            removed += 1;
        }
    }
    Ok(removed)
}
