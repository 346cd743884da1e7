//! `tessera rewrap`: re-wraps every record's data key under the vault's KMS
//! key, or the replacement key of a planned rotation, with `kms:ReEncrypt`, so the data key (and so every PAN) never leaves
//! KMS-protected form. One `ReEncrypt` per distinct data key (a data key seals
//! up to 10,000 records), one conditional update per record. Resumable: the
//! scan position is checkpointed, and each update is conditioned on the old
//! wrapped key, so a record changed meanwhile is left alone.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tessera_aws::KmsKeyRing;
use tessera_core::{KeyError, OperatorVault, ScanView, ScannedItem, WrappedKey};

use crate::CliError;
use crate::checkpoint::{Checkpoint, resume_point};
use crate::keys::{self, ResolvedKey};
use crate::settings::{Settings, Store};

/// Re-wraps a wrapped data key under the current key, inside the key service.
#[async_trait]
pub trait Rewrapper: Send + Sync {
    /// The same data key, wrapped under the current key.
    async fn rewrap(&self, wrapped: &WrappedKey) -> Result<WrappedKey, KeyError>;
}

#[async_trait]
impl Rewrapper for KmsKeyRing {
    async fn rewrap(&self, wrapped: &WrappedKey) -> Result<WrappedKey, KeyError> {
        KmsKeyRing::rewrap(self, wrapped).await
    }
}

/// Counts of a rewrap (over every run until it finished).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewrapSummary {
    /// Records whose data key was replaced.
    pub records: u64,
    /// Distinct data keys re-encrypted.
    pub data_keys: u64,
    /// Records changed or deleted meanwhile (left alone).
    pub changed: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RewrapState {
    after: Option<String>,
    summary: RewrapSummary,
}

/// `tessera rewrap [--to-key KEY]`: checks the destination (the vault key
/// unless `to_key`, and then only the replacement key, [`crate::keys`]),
/// then re-wraps the whole vault under it.
pub async fn rewrap_to(
    store: &Store,
    settings: &Settings,
    to_key: Option<&str>,
    page: u32,
    checkpoint: &Checkpoint,
    progress: &dyn Fn(u64),
) -> Result<(ResolvedKey, RewrapSummary), CliError> {
    let destination = keys::rewrap_destination(
        &store.clients.kms,
        &settings.kms_key_id,
        settings.replacement_kms_key_id.as_deref(),
        to_key,
    )
    .await?;
    let keyring = store.keyring_for(&destination);
    let summary = rewrap(store.dynamo.as_ref(), &keyring, page, checkpoint, progress).await?;
    Ok((destination, summary))
}

/// Re-wraps the whole vault page by page, resuming from `checkpoint`.
pub async fn rewrap(
    vault: &dyn OperatorVault,
    keys: &dyn Rewrapper,
    page: u32,
    checkpoint: &Checkpoint,
    progress: &dyn Fn(u64),
) -> Result<RewrapSummary, CliError> {
    let mut state = checkpoint.load::<RewrapState>()?.unwrap_or_default();
    // Per run: a data key shared by records on many pages is re-encrypted once.
    let mut rewrapped: HashMap<WrappedKey, WrappedKey> = HashMap::new();
    let mut after = state.after.clone().filter(|a| !a.is_empty());
    loop {
        let scanned = vault
            .scan(after.as_deref(), page, ScanView::WrappedKeys)
            .await?;
        let resume = resume_point(&scanned.items, scanned.next.as_deref(), state.after.take());
        progress(u64::try_from(scanned.items.len()).unwrap_or(u64::MAX));
        for item in scanned.items {
            let ScannedItem::WrappedKey { token, wrapped_key } = item else {
                continue;
            };
            let new = match rewrapped.get(&wrapped_key) {
                Some(new) => new.clone(),
                None => {
                    let new = keys.rewrap(&wrapped_key).await?;
                    state.summary.data_keys += 1;
                    rewrapped.insert(wrapped_key.clone(), new.clone());
                    new
                }
            };
            if vault
                .replace_wrapped_key(&token, &wrapped_key, &new)
                .await?
            {
                state.summary.records += 1;
            } else {
                state.summary.changed += 1;
            }
        }
        after = scanned.next;
        state.after = resume;
        if after.is_none() {
            checkpoint.clear()?;
            return Ok(state.summary);
        }
        checkpoint.save(&state)?;
    }
}
