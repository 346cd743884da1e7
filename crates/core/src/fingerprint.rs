//! PAN fingerprints for deduplication: HMAC-SHA256 under a secret key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::pan::Pan;
use crate::record::Fingerprint;
use crate::secret::FingerprintKey;

/// Computes fingerprints under one key. The keyed HMAC state (the padded
/// inner and outer key blocks) is computed once here and cloned per call.
#[derive(Clone)]
pub struct Fingerprinter {
    keyed: Hmac<Sha256>,
    version: String,
}

impl Fingerprinter {
    /// Prepares the keyed state for `key`.
    pub fn new(key: &FingerprintKey) -> Fingerprinter {
        // HMAC accepts keys of any length, so this cannot fail.
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        Fingerprinter {
            keyed,
            version: key.version().to_owned(),
        }
    }

    /// The fingerprint of `pan`.
    pub fn fingerprint(&self, pan: &Pan) -> Fingerprint {
        let mut mac = self.keyed.clone();
        mac.update(pan.expose_digits().as_bytes());
        Fingerprint::from_bytes(mac.finalize().into_bytes().into())
    }

    /// The version of the key in use, stored on each index item.
    pub fn key_version(&self) -> &str {
        &self.version
    }
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprinter([REDACTED], version {:?})", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_hmac_and_depends_on_key() {
        let pan = Pan::parse("4111111111111111").expect("pan");
        let a = Fingerprinter::new(&FingerprintKey::new(&[1u8; 32], "v1").expect("key"));
        let b = Fingerprinter::new(&FingerprintKey::new(&[2u8; 32], "v2").expect("key"));
        assert_eq!(a.fingerprint(&pan), a.fingerprint(&pan));
        assert_ne!(a.fingerprint(&pan), b.fingerprint(&pan));
        // Same as a one-shot HMAC: the cached state changes nothing.
        let mut one_shot = <Hmac<Sha256> as Mac>::new_from_slice(&[1u8; 32]).expect("key");
        one_shot.update(b"4111111111111111");
        let expected: [u8; 32] = one_shot.finalize().into_bytes().into();
        assert_eq!(a.fingerprint(&pan).to_hex(), hex::encode(expected));
    }
}
