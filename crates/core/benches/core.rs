//! Core throughput on the in-memory ports: parse, tokenize (both formats), detokenize.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;

fn services() -> (Tokenizer, Detokenizer) {
    let keyring = Arc::new(MemoryKeyRing::new("bench"));
    let ports = Ports {
        vault: Arc::new(MemoryVault::new()),
        clock: Arc::new(SystemClock),
        rng: Arc::new(OsRandom),
        vault_id: "bench".into(),
    };
    let key = FingerprintKey::new(&[3; 32], "v1").expect("key");
    (
        Tokenizer::new(
            ports.clone(),
            keyring.clone(),
            Fingerprinter::new(&key),
            CacheLimits::default(),
        ),
        Detokenizer::new(ports, keyring, CacheLimits::default()),
    )
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    c.bench_function("pan_parse", |b| {
        b.iter(|| Pan::parse(black_box("4111 1111 1111 1111")))
    });
    let pan = Pan::parse("4111111111111111").expect("pan");
    for (name, format) in [
        ("tokenize_opaque", TokenFormat::Opaque),
        ("tokenize_fpe", TokenFormat::Fpe),
    ] {
        // Fresh vault per format; dedupe off so every iteration issues and stores a token.
        let (tokenizer, _) = services();
        let request = TokenizeRequest {
            format,
            dedupe: false,
            ..TokenizeRequest::new(pan.clone())
        };
        c.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(tokenizer.tokenize(black_box(&request)))
                    .expect("tokenize")
            })
        });
    }
    let (tokenizer, _) = services();
    let request = TokenizeRequest::new(pan.clone());
    rt.block_on(tokenizer.tokenize(&request)).expect("seed");
    c.bench_function("tokenize_dedup_hit", |b| {
        b.iter(|| {
            rt.block_on(tokenizer.tokenize(black_box(&request)))
                .expect("tokenize")
        })
    });
    let (tokenizer, detokenizer) = services();
    let token = rt
        .block_on(tokenizer.tokenize(&request))
        .expect("seed")
        .token;
    c.bench_function("detokenize", |b| {
        b.iter(|| {
            rt.block_on(detokenizer.detokenize(black_box(&token)))
                .expect("detokenize")
        })
    });
}

criterion_group!(core, benches);
criterion_main!(core);
