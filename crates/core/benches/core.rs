//! Core throughput on the in-memory ports: parse, tokenize (both formats), detokenize.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;

fn services() -> (Tokenizer, Detokenizer) {
    let keyring = Arc::new(MemoryKeyRing::new("bench"));
    let vault = Arc::new(MemoryVault::new());
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "bench".into(),
    };
    let key = FingerprintKey::new(&[3; 32], "v1").expect("key");
    (
        Tokenizer::new(
            ports.clone(),
            vault.clone(),
            keyring.clone(),
            Fingerprinter::new(&key),
            CacheLimits::default(),
        ),
        Detokenizer::new(ports, vault, keyring, CacheLimits::default()),
    )
}

/// `n` distinct Visa test-range PANs with valid check digits and varied last 4,
/// so no single fpe token space (one BIN and last 4) fills up.
fn card_pool(n: u64) -> Vec<Pan> {
    (0..n)
        .map(|i| {
            let body = format!("411111{:09}", i * 7919);
            (0..10)
                .map(|d| format!("{body}{d}"))
                .find_map(|c| Pan::parse(&c).ok())
                .expect("one check digit fits")
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    c.bench_function("pan_parse", |b| {
        b.iter(|| Pan::parse(black_box("4111 1111 1111 1111")))
    });
    let pans = card_pool(4096);
    for (name, format) in [
        ("tokenize_opaque", TokenFormat::Opaque),
        ("tokenize_fpe", TokenFormat::Fpe),
    ] {
        // dedupe off: every iteration issues, encrypts and stores a new token.
        let requests: Vec<TokenizeRequest> = pans
            .iter()
            .map(|p| TokenizeRequest {
                format,
                dedupe: false,
                ..TokenizeRequest::new(p.clone())
            })
            .collect();
        // A fresh vault per sample: the in-memory map's growth to millions of
        // entries across samples would otherwise dominate what is measured.
        c.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (tokenizer, _) = services();
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        let request = &requests[(i as usize) % requests.len()];
                        tokenizer
                            .tokenize(black_box(request))
                            .await
                            .expect("tokenize");
                    }
                    start.elapsed()
                })
            })
        });
    }
    let (tokenizer, detokenizer) = services();
    let request = TokenizeRequest::new(pans[0].clone());
    let token = rt
        .block_on(tokenizer.tokenize(&request))
        .expect("seed")
        .token;
    c.bench_function("tokenize_dedup_hit", |b| {
        b.iter(|| {
            rt.block_on(tokenizer.tokenize(black_box(&request)))
                .expect("tokenize")
        })
    });
    c.bench_function("detokenize", |b| {
        b.iter(|| {
            rt.block_on(detokenizer.detokenize(black_box(&token)))
                .expect("detokenize")
        })
    });
}

criterion_group!(core, benches);
criterion_main!(core);
