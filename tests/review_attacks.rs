//! Pre-audit red-team findings that need the operator CLI's library (the
//! `tessera` crate). In process, over the memory vault: no AWS, no moto.
//! Each test demonstrates an attack that SUCCEEDS on the code it was
//! written against, so it fails until the product is fixed.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tessera_cli::checkpoint::Checkpoint;
use tessera_cli::rewrap::{Rewrapper, rewrap};
use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;

/// Re-wraps nothing: the data key stays as it was.
struct Unchanged;

#[async_trait]
impl Rewrapper for Unchanged {
    async fn rewrap(&self, wrapped: &WrappedKey) -> Result<WrappedKey, KeyError> {
        Ok(wrapped.clone())
    }
}

// ---------------------------------------------------------------------------
// Finding 11: a scan checkpoint (`rewrap`, `rotate-fingerprint-key`; its doc:
// "positions, counts and tokens (safe to store anywhere), never a PAN")
// stores the last partition key of the page, and an index item's partition
// key is `f#<format>#<fingerprint>`: HMAC(fingerprint key, scope, format,
// PAN). The fingerprint leaves the vault for a file on the operator's disk.
// Whoever holds that file and the fingerprint key (tokenize, both operator
// roles) recovers the PAN offline by enumerating card numbers, the attack
// the README says fingerprints are kept out of the audit log to prevent.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn attack_scan_checkpoint_writes_a_pan_fingerprint_to_disk() {
    let vault = Arc::new(MemoryVault::new());
    let keyring = Arc::new(MemoryKeyRing::new("review"));
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "review".into(),
    };
    let key = FingerprintKey::new(&[9; 32], "v1").expect("key");
    let tokenizer = Tokenizer::new(
        ports,
        vault.clone(),
        keyring,
        Fingerprinter::new(&key),
        CacheLimits::default(),
    );
    let mut fingerprints = Vec::new();
    for pan in ["4111111111111111", "5555555555554444", "378282246310005"] {
        let pan = Pan::parse(pan).expect("pan");
        tokenizer
            .tokenize(&TokenizeRequest::new(pan.clone()))
            .await
            .expect("tokenize");
        let pk = tokenizer
            .index_key(&DedupScope::default(), &pan, TokenFormat::Opaque)
            .storage_key();
        fingerprints.push(pk.rsplit('#').next().expect("hex").to_owned());
    }

    let path =
        std::env::temp_dir().join(format!("tessera-review-{}.checkpoint", std::process::id()));
    let checkpoint = Checkpoint::at(&path);
    let seen = Mutex::new(Vec::<String>::new());
    let progress = |_: u64| {
        if let Ok(text) = std::fs::read_to_string(&path) {
            seen.lock().expect("seen").push(text);
        }
    };
    rewrap(vault.as_ref(), &Unchanged, 1, &checkpoint, &progress)
        .await
        .expect("rewrap");
    let _ = std::fs::remove_file(&path);

    let seen = seen.into_inner().expect("seen");
    let leaked: Vec<&String> = seen
        .iter()
        .filter(|text| fingerprints.iter().any(|fp| text.contains(fp.as_str())))
        .collect();
    assert!(
        leaked.is_empty(),
        "{} of {} checkpoint snapshots hold a PAN's dedup fingerprint, e.g. {}",
        leaked.len(),
        seen.len(),
        leaked.first().map_or("", |s| s.as_str())
    );
}
