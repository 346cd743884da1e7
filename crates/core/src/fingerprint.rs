//! PAN fingerprints for deduplication: HMAC-SHA256 under a secret key, over
//! the dedup scope, the token format and the PAN.
//!
//! Index items written before scopes existed hold HMAC(key, PAN) alone. One
//! configured scope, the legacy scope, keeps that derivation, so the callers
//! mapped to it still find those items; every other scope uses the scoped
//! input, which starts with a label no PAN (all digits) can collide with.

use hmac::{Hmac, KeyInit, Mac};
use sha2_zeroize::Sha256;

use crate::pan::Pan;
use crate::record::Fingerprint;
use crate::scope::DedupScope;
use crate::secret::FingerprintKey;
use crate::token::TokenFormat;

/// Domain separator of scoped fingerprints.
const SCOPED_LABEL: &[u8] = b"tessera/fp/v2";

/// Computes fingerprints under one key. The keyed HMAC state (the inner and
/// outer hash states after the padded key blocks, each as good as the key)
/// is computed once here and cloned per call. Every copy is wiped when it
/// is dropped: the clone when `finalize` consumes it, the keyed state with
/// the `Fingerprinter` (hmac 0.13 and sha2 0.11 with `zeroize`). Not wiped:
/// the padded key block `hmac` builds on the stack while keying, the inner
/// digest of one fingerprint, and any stack copy a move leaves behind.
#[derive(Clone)]
pub struct Fingerprinter {
    keyed: Hmac<Sha256>,
    version: String,
    legacy: Option<DedupScope>,
}

impl Fingerprinter {
    /// Prepares the keyed state for `key`.
    pub fn new(key: &FingerprintKey) -> Fingerprinter {
        // HMAC accepts keys of any length, so this cannot fail.
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        Fingerprinter {
            keyed,
            version: key.version().to_owned(),
            legacy: None,
        }
    }

    /// Names the scope whose fingerprints keep the pre-scope derivation, so
    /// index items written before scopes existed are still found by it.
    pub fn with_legacy_scope(mut self, scope: Option<DedupScope>) -> Fingerprinter {
        self.legacy = scope;
        self
    }

    /// The fingerprint of `pan` for tokens of `format` in `scope`.
    pub fn fingerprint(&self, scope: &DedupScope, format: TokenFormat, pan: &Pan) -> Fingerprint {
        let mut mac = self.keyed.clone();
        if self.legacy.as_ref() != Some(scope) {
            // Length-prefixed, so no (scope, format) pair reads as another.
            mac.update(SCOPED_LABEL);
            for field in [scope.as_str().as_bytes(), format.as_str().as_bytes()] {
                mac.update(&u16::try_from(field.len()).unwrap_or(u16::MAX).to_be_bytes());
                mac.update(field);
            }
        }
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
        let scope = DedupScope::default();
        let opaque = TokenFormat::Opaque;
        let a = Fingerprinter::new(&FingerprintKey::new(&[1u8; 32], "v1").expect("key"));
        let b = Fingerprinter::new(&FingerprintKey::new(&[2u8; 32], "v2").expect("key"));
        let fp = |f: &Fingerprinter, s: &DedupScope, fmt| f.fingerprint(s, fmt, &pan);
        assert_eq!(fp(&a, &scope, opaque), fp(&a, &scope, opaque));
        assert_ne!(fp(&a, &scope, opaque), fp(&b, &scope, opaque));
        // Another scope or format never shares an index item.
        let other = DedupScope::new("other").expect("scope");
        assert_ne!(fp(&a, &scope, opaque), fp(&a, &other, opaque));
        assert_ne!(fp(&a, &scope, opaque), fp(&a, &scope, TokenFormat::Fpe));
        // The legacy scope computes the pre-scope one-shot HMAC of the PAN.
        let legacy = a.clone().with_legacy_scope(Some(scope.clone()));
        let mut one_shot = <Hmac<Sha256> as KeyInit>::new_from_slice(&[1u8; 32]).expect("key");
        one_shot.update(b"4111111111111111");
        let expected: [u8; 32] = one_shot.finalize().into_bytes().into();
        assert_eq!(fp(&legacy, &scope, opaque).to_hex(), hex::encode(expected));
        assert_ne!(fp(&legacy, &other, opaque).to_hex(), hex::encode(expected));
    }

    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}

    #[test]
    fn the_keyed_state_is_built_from_parts_that_wipe_themselves() {
        // `Hmac<Sha256>` holds two of these hash cores and one block buffer;
        // without the `zeroize` features they do not implement the marker.
        wiped_on_drop::<sha2_zeroize::block_api::Sha256VarCore>();
        wiped_on_drop::<sha2_zeroize::Sha256>();
    }

    #[test]
    fn reports_its_key_version_and_never_its_key() {
        // The version is stored on every index item: rotation finds items by it.
        let f = Fingerprinter::new(&FingerprintKey::new(&[9u8; 32], "v7").expect("key"));
        assert_eq!(f.key_version(), "v7");
        assert_eq!(
            format!("{f:?}"),
            "Fingerprinter([REDACTED], version \"v7\")"
        );
    }
}
