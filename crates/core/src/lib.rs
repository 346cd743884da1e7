//! Tessera's pure tokenization core.
//!
//! Parse a [`Pan`], issue a random [`Token`] for it, keep the PAN encrypted
//! (AES-256-GCM under a cached, KMS-wrapped data key) in a vault, and turn
//! tokens back into PANs only through a [`Detokenizer`]. The vault and key
//! ports are split by capability, as the IAM roles are: [`IssuingVault`] and
//! [`DataKeyIssuer`] for tokenize, [`ReadingVault`] and [`DataKeyUnwrapper`]
//! for detokenize, [`ErasingVault`] for admin. No AWS, network,
//! filesystem, clock or randomness that a test cannot replace: the world is
//! reached through the traits in [`ports`]; in-memory versions are in [`memory`].
//!
//! ```
//! use std::sync::Arc;
//! use tessera_core::{memory::*, *};
//!
//! # futures::executor::block_on(async {
//! let keyring = Arc::new(MemoryKeyRing::new("demo"));
//! let vault = Arc::new(MemoryVault::new());
//! let ports = Ports {
//!     clock: Arc::new(SystemClock),
//!     rng: Arc::new(ThreadRandom),
//!     vault_id: "demo".into(),
//! };
//! let key = FingerprintKey::new(&[7; 32], "v1").expect("32 bytes");
//! let tokenizer = Tokenizer::new(ports.clone(), vault.clone(), keyring.clone(), Fingerprinter::new(&key), CacheLimits::default());
//! let detokenizer = Detokenizer::new(ports, vault, keyring, CacheLimits::default());
//!
//! let pan = Pan::parse("4111 1111 1111 1111").expect("valid");
//! let issued = tokenizer.tokenize(&TokenizeRequest::new(pan.clone())).await?;
//! assert!(issued.token.as_str().starts_with("tok_"));
//! assert_eq!(detokenizer.detokenize(&issued.token).await?.pan, pan);
//! # Ok::<(), Error>(())
//! # }).expect("round trip");
//! ```

mod brand;
pub mod capture;
mod cardtext;
mod envelope;
mod expiry;
mod fingerprint;
mod keycache;
pub mod memory;
mod metadata;
mod operator;
mod pan;
pub mod ports;
mod random;
mod record;
mod scope;
mod secret;
mod securitycode;
mod service;
mod token;

pub use brand::Brand;
pub use cardtext::{DIGIT_RUN_LIMIT, contains_card_number, digit_value, mask_card_numbers};
pub use envelope::{Aad, CipherKey, IntegrityError};
pub use expiry::{Expiry, ExpiryError, MAX_TTL_SECONDS};
pub use fingerprint::Fingerprinter;
pub use keycache::{
    CacheLimits, DecryptionKeyCache, EncryptionKeyCache, KeyStats, MAX_DATA_KEY_AGE_MILLIS,
    MAX_RECORDS_PER_DATA_KEY,
};
pub use metadata::{MAX_METADATA_BYTES, MAX_METADATA_KEYS, Metadata, MetadataError};
pub use operator::{
    Dangling, ORPHAN_MIN_AGE_SECS, ReindexStats, Reindexer, VaultCheck, VaultReport,
};
pub use pan::{
    MAX_PAN_DIGITS, MIN_HIDDEN_DIGITS, MIN_PAN_DIGITS, Pan, PanError, luhn_valid,
    shown_leading_digits,
};
pub use ports::{
    Clock, CreateError, DataKeyIssuer, DataKeyUnwrapper, ErasingVault, IndexHolder, IndexWrite,
    IssuingVault, KeyError, OperatorVault, ReadingVault, RecordFacts, RecordHead, ScanPage,
    ScanView, ScannedItem, SystemClock, VaultError,
};
pub use random::{OsRandom, Random, ThreadRandom};
pub use record::{
    Fingerprint, IndexEntry, IndexKey, Link, RECORD_VERSION, TokenDescription, TokenFacts,
    VaultRecord,
};
pub use scope::{DedupScope, MAX_SCOPE_CHARS, ScopeError};
pub use secret::{DataKey, FingerprintKey, KEY_BYTES, KeyLengthError, WrappedKey};
pub use securitycode::{is_security_code_name, names_a_security_code};
pub use service::{
    Detokenized, Detokenizer, Eraser, Error, MAX_BATCH_ITEMS, MIN_FPE_PAN_DIGITS, Ports,
    TokenizeRequest, Tokenized, Tokenizer,
};
pub use token::{OPAQUE_PREFIX, Token, TokenError, TokenFormat};
