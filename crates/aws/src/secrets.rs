//! The fingerprint key, read from Secrets Manager once per cold start.

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

/// Reads the AWSCURRENT version of `secret_id` and keeps its version id.
pub async fn load_fingerprint_key(
    client: &Client,
    secret_id: &str,
) -> Result<FingerprintKey, SecretError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .map_err(|e| match classify(&e) {
            Failure::Missing(_) => SecretError::NotFound(secret_id.to_owned()),
            Failure::Denied(_) => SecretError::AccessDenied(secret_id.to_owned()),
            Failure::Transient(why) | Failure::Service(why) => SecretError::Unavailable {
                id: secret_id.to_owned(),
                why,
            },
        })?;
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
