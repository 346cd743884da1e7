//! Key material: zeroized on drop, never printed.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes in an AES-256 data key and in the fingerprint key.
pub const KEY_BYTES: usize = 32;

/// Why bytes are not a valid key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a key must be exactly {KEY_BYTES} bytes, got {got}")]
pub struct KeyLengthError {
    /// How many bytes were supplied.
    pub got: usize,
}

/// A plaintext AES-256 data key. Lives only in memory, zeroed on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; KEY_BYTES]);

impl DataKey {
    /// Takes a key from a byte slice, which the caller should then zeroize.
    pub fn from_slice(bytes: &[u8]) -> Result<DataKey, KeyLengthError> {
        let array: [u8; KEY_BYTES] = bytes
            .try_into()
            .map_err(|_| KeyLengthError { got: bytes.len() })?;
        Ok(DataKey(array))
    }

    /// The key bytes, for the cipher. Named so every use is easy to audit.
    pub fn expose_secret(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A data key as wrapped (encrypted) by the key ring: safe to store.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WrappedKey(Vec<u8>);

impl WrappedKey {
    /// Wraps the blob the key ring returned.
    pub fn new(blob: Vec<u8>) -> WrappedKey {
        WrappedKey(blob)
    }

    /// The blob, for storage or for the key ring.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedKey({} bytes)", self.0.len())
    }
}

/// The HMAC key behind PAN fingerprints, with the version it was read at.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct FingerprintKey {
    bytes: [u8; KEY_BYTES],
    #[zeroize(skip)]
    version: String,
}

impl FingerprintKey {
    /// Takes a 32-byte key and the secret version it came from.
    pub fn new(bytes: &[u8], version: impl Into<String>) -> Result<FingerprintKey, KeyLengthError> {
        let bytes: [u8; KEY_BYTES] = bytes
            .try_into()
            .map_err(|_| KeyLengthError { got: bytes.len() })?;
        Ok(FingerprintKey {
            bytes,
            version: version.into(),
        })
    }

    /// The key bytes. Named so every use is easy to audit.
    pub fn expose_secret(&self) -> &[u8; KEY_BYTES] {
        &self.bytes
    }

    /// The secret version this key was read at.
    pub fn version(&self) -> &str {
        &self.version
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FingerprintKey([REDACTED], version {:?})", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_redacted() {
        let data = DataKey::from_slice(&[7; KEY_BYTES]).expect("key");
        assert_eq!(format!("{data:?}"), "[REDACTED]");
        assert_eq!(
            format!("{:?}", WrappedKey::new(vec![7; 4])),
            "WrappedKey(4 bytes)"
        );
        let fk = FingerprintKey::new(&[7; KEY_BYTES], "v2").expect("key");
        assert_eq!(
            format!("{fk:?}"),
            r#"FingerprintKey([REDACTED], version "v2")"#
        );
    }
}
