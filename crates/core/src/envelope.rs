//! Envelope encryption of PANs: AES-256-GCM under a data key, with AAD that
//! binds each ciphertext to its vault, token and record version, and (from
//! record version 2) to the token's expiry and facts, so an item whose `exp`
//! was removed or edited no longer decrypts.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use crate::pan::Pan;
use crate::random::Random;
use crate::record::TokenFacts;
use crate::secret::{DataKey, WrappedKey};
use crate::token::Token;

/// Bytes in a GCM nonce (96 bits, random per record).
pub const NONCE_BYTES: usize = 12;
/// Domain separator at the front of a version 1 AAD, so no other protocol's AAD collides.
const AAD_LABEL: &[u8] = b"tessera/pan/v1";
/// Domain separator of a version 2 AAD.
const AAD_LABEL_V2: &[u8] = b"tessera/pan/v2";

/// A ciphertext failed authentication: tampered, moved, or under another key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the stored ciphertext failed authentication")]
pub struct IntegrityError;

/// What a ciphertext is bound to: moving it to another vault, token or
/// record version, or editing its facts or expiry (version 2), makes it fail
/// to decrypt.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    /// The vault's stable identity (`TESSERA_VAULT_ID`; by default the name
    /// of the table the vault was created in, which is what version 1 bound).
    pub vault_id: &'a str,
    /// The token the record is stored under.
    pub token: &'a Token,
    /// The record layout version.
    pub version: u32,
    /// The token's facts, expiry included (bound from version 2).
    pub facts: &'a TokenFacts,
}

impl Aad<'_> {
    fn to_bytes(self) -> Vec<u8> {
        if self.version >= 2 {
            return self.to_bytes_v2();
        }
        // Length-prefixed fields so ("ab","c") and ("a","bc") differ.
        let mut out = Vec::with_capacity(
            AAD_LABEL.len() + 8 + self.vault_id.len() + self.token.as_str().len(),
        );
        out.extend_from_slice(AAD_LABEL);
        for field in [self.vault_id.as_bytes(), self.token.as_str().as_bytes()] {
            out.extend_from_slice(&u16::try_from(field.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(field);
        }
        out.extend_from_slice(&self.version.to_be_bytes());
        out
    }

    fn to_bytes_v2(self) -> Vec<u8> {
        let f = self.facts;
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(AAD_LABEL_V2);
        out.extend_from_slice(&self.version.to_be_bytes());
        for field in [
            self.vault_id,
            self.token.as_str(),
            f.format.as_str(),
            &f.bin,
            &f.last4,
            f.brand.as_str(),
        ] {
            // Length-prefixed, so ("ab","c") and ("a","bc") differ.
            out.extend_from_slice(&u16::try_from(field.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out.push(f.pan_length);
        out.extend_from_slice(&f.created_at.to_be_bytes());
        // "Never" is its own tag, not a time that an edit could reach.
        match f.expires_at {
            None => out.push(0),
            Some(exp) => {
                out.push(1);
                out.extend_from_slice(&exp.to_be_bytes());
            }
        }
        out
    }
}

/// A data key made ready for AES-256-GCM, with the wrapped blob stored beside
/// every record it seals. The key schedule is computed once per data key.
pub struct CipherKey {
    cipher: Aes256Gcm,
    wrapped: WrappedKey,
}

impl CipherKey {
    /// Prepares a plaintext data key and remembers its wrapped form.
    pub fn new(key: &DataKey, wrapped: WrappedKey) -> CipherKey {
        CipherKey {
            cipher: Aes256Gcm::new(key.expose_secret().into()),
            wrapped,
        }
    }

    /// The wrapped data key to store with each record.
    pub fn wrapped(&self) -> &WrappedKey {
        &self.wrapped
    }

    /// Encrypts a PAN: returns nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, rng: &dyn Random, aad: Aad<'_>, pan: &Pan) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rng.fill(&mut nonce);
        let aad = aad.to_bytes();
        let payload = Payload {
            msg: pan.expose_digits().as_bytes(),
            aad: &aad,
        };
        // AES-GCM encryption fails only for inputs over 64 GiB; a PAN is 19 bytes.
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts and re-validates a PAN sealed by [`CipherKey::seal`].
    pub fn open(&self, aad: Aad<'_>, sealed: &[u8]) -> Result<Pan, IntegrityError> {
        let (nonce, body) = sealed.split_at_checked(NONCE_BYTES).ok_or(IntegrityError)?;
        let aad = aad.to_bytes();
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: body,
                        aad: &aad,
                    },
                )
                .map_err(|_| IntegrityError)?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| IntegrityError)?;
        Pan::parse(text).map_err(|_| IntegrityError)
    }
}

impl fmt::Debug for CipherKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CipherKey")
            .field("key", &"[REDACTED]")
            .field("wrapped", &self.wrapped)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    fn key() -> CipherKey {
        let dk = DataKey::from_slice(&[7u8; 32]).expect("32 bytes");
        CipherKey::new(&dk, WrappedKey::new(vec![1, 2, 3]))
    }

    fn token(s: &str) -> Token {
        Token::parse(s).expect("token")
    }

    fn facts() -> TokenFacts {
        TokenFacts {
            format: crate::token::TokenFormat::Opaque,
            bin: "411111".into(),
            last4: "1111".into(),
            brand: crate::brand::Brand::Visa,
            pan_length: 16,
            created_at: 1_700_000_000,
            expires_at: Some(1_800_000_000),
        }
    }

    #[test]
    fn debug_shows_the_wrapped_key_only() {
        let printed = format!("{:?}", key());
        assert!(printed.starts_with("CipherKey") && printed.contains("[REDACTED]"));
        assert!(!printed.contains("7, 7"), "{printed}");
    }

    #[test]
    fn version_2_binds_expiry_and_facts_and_version_1_does_not() {
        let pan = Pan::parse("4111111111111111").expect("pan");
        let t = token("tok_01h2xcejqtf2nbrexx3vqjhp41");
        let k = key();
        let f = facts();
        let v2 = Aad {
            vault_id: "vault",
            token: &t,
            version: 2,
            facts: &f,
        };
        let sealed = k.seal(&OsRandom, v2, &pan);
        assert_eq!(k.open(v2, &sealed), Ok(pan.clone()));
        let edits = [
            TokenFacts {
                expires_at: None,
                ..facts()
            },
            TokenFacts {
                expires_at: Some(1_900_000_000),
                ..facts()
            },
            TokenFacts {
                last4: "1112".into(),
                ..facts()
            },
            TokenFacts {
                created_at: 1,
                ..facts()
            },
            TokenFacts {
                pan_length: 15,
                ..facts()
            },
        ];
        for edited in &edits {
            assert_eq!(
                k.open(
                    Aad {
                        facts: edited,
                        ..v2
                    },
                    &sealed
                ),
                Err(IntegrityError)
            );
        }
        // A version 1 record opens whatever its facts say (they were not bound).
        let v1 = Aad { version: 1, ..v2 };
        let old = k.seal(&OsRandom, v1, &pan);
        assert_eq!(
            k.open(
                Aad {
                    facts: &edits[0],
                    ..v1
                },
                &old
            ),
            Ok(pan)
        );
    }

    #[test]
    fn round_trip_and_binding() {
        let pan = Pan::parse("4111111111111111").expect("pan");
        let (a, b) = (
            token("tok_01h2xcejqtf2nbrexx3vqjhp41"),
            token("tok_01h2xcejqtf2nbrexx3vqjhp42"),
        );
        let k = key();
        let f = facts();
        let aad = Aad {
            vault_id: "vault",
            token: &a,
            version: 1,
            facts: &f,
        };
        let sealed = k.seal(&OsRandom, aad, &pan);
        assert_eq!(k.open(aad, &sealed), Ok(pan));
        // Moved to another token, vault or version: refused.
        for other in [
            Aad { token: &b, ..aad },
            Aad {
                vault_id: "other",
                ..aad
            },
            Aad { version: 2, ..aad },
        ] {
            assert_eq!(k.open(other, &sealed), Err(IntegrityError));
        }
        // Every single-bit flip is refused.
        for i in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(k.open(aad, &bad), Err(IntegrityError), "bit {i}");
        }
        assert_eq!(k.open(aad, &sealed[..5]), Err(IntegrityError));
    }

    /// Fails to compile unless `aes` is built with its `zeroize` feature,
    /// which aes-gcm's own `zeroize` feature does not turn on: without it the
    /// AES-256 key schedule inside every `CipherKey` outlives the key.
    #[test]
    fn aes_key_schedule_zeroizes_on_drop() {
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<aes::Aes256>();
        // And it is the very `Aes256` inside `Aes256Gcm` (a second copy of
        // `aes` in Cargo.lock would not type-check), so it covers `CipherKey`.
        let _same_aes: fn(Aes256Gcm) -> aes_gcm::AesGcm<aes::Aes256, aes_gcm::aead::consts::U12> =
            |c| c;
    }

    #[test]
    fn another_key_cannot_open() {
        let pan = Pan::parse("4111111111111111").expect("pan");
        let t = token("tok_01h2xcejqtf2nbrexx3vqjhp41");
        let f = facts();
        let aad = Aad {
            vault_id: "vault",
            token: &t,
            version: 1,
            facts: &f,
        };
        let sealed = key().seal(&OsRandom, aad, &pan);
        let other = CipherKey::new(
            &DataKey::from_slice(&[8u8; 32]).expect("32 bytes"),
            WrappedKey::new(vec![]),
        );
        assert_eq!(other.open(aad, &sealed), Err(IntegrityError));
    }
}
