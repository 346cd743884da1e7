//! Which KMS key the CLI may wrap data keys under: the vault key
//! (`TESSERA_KMS_KEY_ID`) or, for a planned key rotation, the replacement
//! key named in advance (`TESSERA_REPLACEMENT_KMS_KEY_ID`). Nothing else:
//! re-encrypting the vault's data keys to a key the operator controls
//! elsewhere would hand every PAN to whoever holds that key.
//!
//! Keys are compared as KMS resolves them (`DescribeKey`: an alias, a key
//! id and an ARN of one key are one key), never as the text typed.

use aws_sdk_kms::Client;

use crate::CliError;

/// A key as KMS resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKey {
    /// What the setting or flag said.
    pub named: String,
    /// The key's ARN.
    pub arn: String,
}

/// Resolves `named` (key id, ARN, alias name or alias ARN) to its key's ARN.
pub async fn resolve(kms: &Client, named: &str) -> Result<ResolvedKey, CliError> {
    let named = named.trim();
    let out = kms.describe_key().key_id(named).send().await.map_err(|e| {
        CliError::Refused(format!(
            "KMS key {named}: cannot be described ({})",
            e.into_service_error()
        ))
    })?;
    let arn = out
        .key_metadata()
        .map(|m| m.arn().unwrap_or_default().to_owned())
        .filter(|arn| !arn.is_empty())
        .ok_or_else(|| CliError::Refused(format!("KMS key {named}: KMS named no key ARN")))?;
    Ok(ResolvedKey {
        named: named.to_owned(),
        arn,
    })
}

/// Checks that `destination` is the vault key or the replacement key.
pub fn check_destination(
    destination: &ResolvedKey,
    vault: &ResolvedKey,
    replacement: Option<&ResolvedKey>,
) -> Result<(), CliError> {
    if destination.arn == vault.arn || replacement.is_some_and(|r| r.arn == destination.arn) {
        return Ok(());
    }
    Err(CliError::Refused(format!(
        "KMS key {} ({}) is neither the vault key (TESSERA_KMS_KEY_ID) nor the replacement key named for a planned rotation (TESSERA_REPLACEMENT_KMS_KEY_ID): data keys are re-encrypted to no other key",
        destination.named, destination.arn
    )))
}

/// The key `rewrap` re-encrypts to: `to_key` (default: the vault key),
/// checked against the vault key and the replacement key.
pub async fn rewrap_destination(
    kms: &Client,
    vault_key: &str,
    replacement: Option<&str>,
    to_key: Option<&str>,
) -> Result<ResolvedKey, CliError> {
    let vault = resolve(kms, vault_key).await?;
    let replacement = match replacement.map(str::trim).filter(|r| !r.is_empty()) {
        Some(named) => Some(resolve(kms, named).await?),
        None => None,
    };
    let destination = match to_key.map(str::trim).filter(|k| !k.is_empty()) {
        Some(named) => resolve(kms, named).await?,
        None => vault.clone(),
    };
    check_destination(&destination, &vault, replacement.as_ref())?;
    Ok(destination)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(named: &str, arn: &str) -> ResolvedKey {
        ResolvedKey {
            named: named.to_owned(),
            arn: arn.to_owned(),
        }
    }

    #[test]
    fn only_the_vault_key_or_the_named_replacement_is_a_destination() {
        let vault = key("alias/tessera", "arn:aws:kms:us-east-1:1:key/v");
        let next = key("alias/tessera-next", "arn:aws:kms:us-east-1:1:key/n");
        let same = key("v", "arn:aws:kms:us-east-1:1:key/v");
        let foreign = key("alias/mine", "arn:aws:kms:us-east-1:2:key/x");
        assert!(check_destination(&same, &vault, None).is_ok());
        assert!(check_destination(&next, &vault, Some(&next)).is_ok());
        assert!(check_destination(&next, &vault, None).is_err());
        let e = check_destination(&foreign, &vault, Some(&next))
            .expect_err("foreign")
            .to_string();
        assert!(
            e.contains("alias/mine") && e.contains("TESSERA_REPLACEMENT_KMS_KEY_ID"),
            "{e}"
        );
    }
}
