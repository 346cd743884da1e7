//! The key ring on a KMS customer-managed key.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use tessera_core::{DataKey, DataKeyIssuer, DataKeyUnwrapper, KeyError, WrappedKey};
use zeroize::Zeroizing;

use crate::error::key_error;

/// Encryption-context key naming the service; KMS grants are conditioned on it.
pub const CONTEXT_SERVICE: &str = "service";
/// Its value.
pub const SERVICE_NAME: &str = "tessera";
/// Encryption-context key naming the vault table.
pub const CONTEXT_TABLE: &str = "table";

/// A [`KeyRing`] on KMS: `GenerateDataKey` (AES-256) and `Decrypt`, both
/// with the encryption context `{service: tessera, table: <table>}`, so a
/// wrapped key from another table or service does not unwrap here.
#[derive(Debug, Clone)]
pub struct KmsKeyRing {
    client: Client,
    key_id: String,
    table: String,
}

impl KmsKeyRing {
    /// A key ring on `key_id` for the vault in `table`.
    pub fn new(client: Client, key_id: impl Into<String>, table: impl Into<String>) -> KmsKeyRing {
        KmsKeyRing {
            client,
            key_id: key_id.into(),
            table: table.into(),
        }
    }

    /// Checks at start-up that the key exists and is enabled (one `DescribeKey`).
    pub async fn check(&self) -> Result<(), KeyError> {
        let out = self
            .client
            .describe_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| key_error(&e))?;
        match out.key_metadata() {
            Some(meta) if meta.enabled() => Ok(()),
            _ => Err(KeyError::KeyUnusable(format!(
                "key {} is disabled",
                self.key_id
            ))),
        }
    }
}

impl KmsKeyRing {
    /// Re-wraps a stored data key under this ring's key (its newest backing
    /// key, or a replacement key) with `ReEncrypt`: the plaintext data key
    /// never leaves KMS. Source and destination keep the table's context.
    pub async fn rewrap(&self, wrapped: &WrappedKey) -> Result<WrappedKey, KeyError> {
        let out = self
            .client
            .re_encrypt()
            .ciphertext_blob(Blob::new(wrapped.as_bytes()))
            .source_encryption_context(CONTEXT_SERVICE, SERVICE_NAME)
            .source_encryption_context(CONTEXT_TABLE, &self.table)
            .destination_key_id(&self.key_id)
            .destination_encryption_context(CONTEXT_SERVICE, SERVICE_NAME)
            .destination_encryption_context(CONTEXT_TABLE, &self.table)
            .send()
            .await
            .map_err(|e| key_error(&e))?;
        out.ciphertext_blob
            .map(|b| WrappedKey::new(b.into_inner()))
            .ok_or_else(|| KeyError::Other("ReEncrypt returned no ciphertext".into()))
    }
}

fn plaintext_key(blob: Option<Blob>) -> Result<DataKey, KeyError> {
    let bytes = Zeroizing::new(blob.map(Blob::into_inner).unwrap_or_default());
    DataKey::from_slice(&bytes).map_err(|e| KeyError::Other(e.to_string()))
}

#[async_trait]
impl DataKeyIssuer for KmsKeyRing {
    async fn generate(&self) -> Result<(DataKey, WrappedKey), KeyError> {
        let mut out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_SERVICE, SERVICE_NAME)
            .encryption_context(CONTEXT_TABLE, &self.table)
            .send()
            .await
            .map_err(|e| key_error(&e))?;
        let key = plaintext_key(out.plaintext.take())?;
        let wrapped = out
            .ciphertext_blob
            .take()
            .map(Blob::into_inner)
            .ok_or_else(|| KeyError::Other("GenerateDataKey returned no ciphertext".into()))?;
        Ok((key, WrappedKey::new(wrapped)))
    }
}

#[async_trait]
impl DataKeyUnwrapper for KmsKeyRing {
    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        let mut out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped.as_bytes()))
            .encryption_context(CONTEXT_SERVICE, SERVICE_NAME)
            .encryption_context(CONTEXT_TABLE, &self.table)
            .send()
            .await
            .map_err(|e| key_error(&e))?;
        plaintext_key(out.plaintext.take())
    }
}
