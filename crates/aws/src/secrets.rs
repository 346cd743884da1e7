//! The fingerprint key, read from Secrets Manager once per cold start.
//!
//! Rotation (PCI DSS 3.6/3.7 cryptoperiods): a new version becomes
//! `AWSCURRENT` and the old one `AWSPREVIOUS`. Tokenize reads both, finds
//! index items under either and writes under the current one;
//! `tessera rotate-fingerprint-key` re-indexes the rest, then retires the
//! previous version.

use aws_sdk_secretsmanager::Client;
use base64::Engine;
use tessera_core::{FingerprintKey, KEY_BYTES};
use zeroize::Zeroizing;

use crate::error::{Failure, classify};

/// Why the fingerprint key could not be loaded. Never carries the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No such secret (or no AWSCURRENT version).
    #[error("fingerprint key secret {0} was not found")]
    NotFound(String),
    /// The role may not read it.
    #[error("access to fingerprint key secret {0} was denied")]
    AccessDenied(String),
    /// Present, but not 32 bytes as base64 or hex.
    #[error("fingerprint key secret {id} is malformed: {why}")]
    Malformed {
        /// The secret id.
        id: String,
        /// What is wrong, without the value.
        why: &'static str,
    },
    /// Secrets Manager failed.
    #[error("could not read fingerprint key secret {id}: {why}")]
    Unavailable {
        /// The secret id.
        id: String,
        /// The error code.
        why: String,
    },
}

/// The staging label of the key in use.
pub const CURRENT: &str = "AWSCURRENT";
/// The staging label of the key before the last rotation.
pub const PREVIOUS: &str = "AWSPREVIOUS";

/// The current fingerprint key and, during a rotation, the previous one.
#[derive(Debug, Clone)]
pub struct FingerprintKeys {
    /// `AWSCURRENT`: computes every new index item.
    pub current: FingerprintKey,
    /// `AWSPREVIOUS`, if the secret has one: still searched by tokenize.
    pub previous: Option<FingerprintKey>,
}

fn secret_error<E>(
    secret_id: &str,
    e: &aws_sdk_secretsmanager::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> SecretError
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error,
{
    match classify(e) {
        Failure::Missing(_) => SecretError::NotFound(secret_id.to_owned()),
        Failure::Denied(_) => SecretError::AccessDenied(secret_id.to_owned()),
        Failure::Transient(why) | Failure::Service(why) => SecretError::Unavailable {
            id: secret_id.to_owned(),
            why,
        },
    }
}

/// Reads the AWSCURRENT version of `secret_id` and keeps its version id.
pub async fn load_fingerprint_key(
    client: &Client,
    secret_id: &str,
) -> Result<FingerprintKey, SecretError> {
    load_stage(client, secret_id, CURRENT).await
}

/// Reads AWSCURRENT and, if the secret has one, AWSPREVIOUS (two calls).
pub async fn load_fingerprint_keys(
    client: &Client,
    secret_id: &str,
) -> Result<FingerprintKeys, SecretError> {
    let current = load_stage(client, secret_id, CURRENT).await?;
    let previous = match load_stage(client, secret_id, PREVIOUS).await {
        Ok(key) if key.version() != current.version() => Some(key),
        Ok(_) | Err(SecretError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(FingerprintKeys { current, previous })
}

/// Starts a rotation: stores 32 fresh random bytes as a new version, which
/// Secrets Manager labels AWSCURRENT, moving AWSPREVIOUS to the old one.
/// Returns the new version id.
pub async fn put_new_fingerprint_key(
    client: &Client,
    secret_id: &str,
    rng: &dyn tessera_core::Random,
) -> Result<String, SecretError> {
    let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
    rng.fill(bytes.as_mut());
    let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(bytes.as_ref()));
    let out = client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(text.as_str())
        .send()
        .await
        .map_err(|e| secret_error(secret_id, &e))?;
    Ok(out.version_id().unwrap_or_default().to_owned())
}

/// Ends a rotation: removes the AWSPREVIOUS label from `version`, so no
/// function reads that key again. Call only once nothing is indexed under it.
pub async fn retire_previous_key(
    client: &Client,
    secret_id: &str,
    version: &str,
) -> Result<(), SecretError> {
    client
        .update_secret_version_stage()
        .secret_id(secret_id)
        .version_stage(PREVIOUS)
        .remove_from_version_id(version)
        .send()
        .await
        .map_err(|e| secret_error(secret_id, &e))?;
    Ok(())
}

async fn load_stage(
    client: &Client,
    secret_id: &str,
    stage: &str,
) -> Result<FingerprintKey, SecretError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(stage)
        .send()
        .await
        .map_err(|e| secret_error(secret_id, &e))?;
    let version = out.version_id().unwrap_or("unknown").to_owned();
    let text = Zeroizing::new(out.secret_string.clone().unwrap_or_default());
    let bytes = decode_key(&text).map_err(|why| SecretError::Malformed {
        id: secret_id.to_owned(),
        why,
    })?;
    FingerprintKey::new(&bytes, version).map_err(|_| SecretError::Malformed {
        id: secret_id.to_owned(),
        why: "not 32 bytes",
    })
}

/// Decodes the secret string: 32 bytes as standard base64 (what the dev
/// bootstrap writes), or as 64 hex digits (what CloudFormation's
/// `GenerateSecretString` can produce; it cannot emit base64 of random bytes).
fn decode_key(text: &str) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the secret string is empty");
    }
    let bytes = if text.len() == 2 * KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Zeroizing::new(hex::decode(text).map_err(|_| "malformed hex")?)
    } else {
        Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| "neither base64 nor 64 hex digits")?,
        )
    };
    if bytes.len() < KEY_BYTES {
        return Err("shorter than 32 bytes");
    }
    if bytes.len() > KEY_BYTES {
        return Err("longer than 32 bytes");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_and_hex_and_rejects_the_rest() {
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(decode_key(&b64).expect("b64").as_slice(), &[7u8; 32]);
        assert_eq!(
            decode_key(&"0a".repeat(32)).expect("hex").as_slice(),
            &[10u8; 32]
        );
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        assert_eq!(decode_key(&short).err(), Some("shorter than 32 bytes"));
        assert_eq!(decode_key("").err(), Some("the secret string is empty"));
        assert_eq!(
            decode_key("not base64!").err(),
            Some("neither base64 nor 64 hex digits")
        );
    }
}
