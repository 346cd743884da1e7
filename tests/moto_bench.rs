//! Latency and AWS calls per operation against moto on 127.0.0.1: the flows
//! in process over the real SDK adapters, a fresh table per scenario,
//! bounded in count. Run by `scripts/bench` (release build); prints a
//! Markdown table. moto is an emulator: its latencies are not DynamoDB's,
//! but the calls per operation are exactly what DynamoDB would be sent.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_core::{DedupScope, Pan, SystemClock, Token, TokenFormat, TokenizeRequest};
use tessera_e2e::{Stack, stack};

/// Operations per single-item scenario: moto serves about 100 requests a second.
const OPS: usize = 200;
/// Batches per batch scenario (100 items each).
const BATCHES: usize = 5;

/// `n` distinct Luhn-valid Visa test-range PANs starting at `from`.
fn cards(from: u64, n: usize) -> Vec<Pan> {
    (from..from + n as u64)
        .map(|i| {
            let body = format!("411111{:09}", i * 7919);
            (0..10)
                .map(|d| format!("{body}{d}"))
                .find_map(|c| Pan::parse(&c).ok())
                .expect("one check digit fits")
        })
        .collect()
}

struct Row {
    name: &'static str,
    samples: Vec<Duration>,
    calls: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Times `op` once per item; calls are reported per operation.
async fn measure<T, F, Fut>(s: &Stack, name: &'static str, items: Vec<T>, op: F) -> Row
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let count = items.len() as u64;
    let before = s.clients.counter.snapshot();
    let mut samples = Vec::with_capacity(items.len());
    for item in items {
        let started = Instant::now();
        op(item).await;
        samples.push(started.elapsed());
    }
    let calls = s.clients.counter.snapshot().since(&before);
    let calls = calls
        .0
        .iter()
        .map(|(api, n)| {
            let per = *n as f64 / count as f64;
            format!("{api} {}", trim(per))
        })
        .collect::<Vec<_>>()
        .join(", ");
    Row {
        name,
        samples,
        calls,
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let clock = || Arc::new(SystemClock);
    let mut rows = Vec::new();

    // Tokenize: misses on a fresh table (one data key is fetched before timing).
    let s = stack().await;
    let tokenizer = s.tokenizer(clock()).await;
    let warm = TokenizeRequest {
        dedupe: false,
        ..TokenizeRequest::new(cards(900_000, 1).remove(0))
    };
    tokenizer.tokenize(&warm).await.expect("warm");
    let pans = cards(0, OPS);
    let t = &tokenizer;
    rows.push(
        measure(
            &s,
            "tokenize miss (new card)",
            pans.clone(),
            |p| async move {
                t.tokenize(&TokenizeRequest::new(p)).await.expect("miss");
            },
        )
        .await,
    );
    rows.push(
        measure(&s, "tokenize hit (dedup)", pans.clone(), |p| async move {
            t.tokenize(&TokenizeRequest::new(p)).await.expect("hit");
        })
        .await,
    );
    rows.push(
        measure(&s, "tokenize dedupe:false", pans.clone(), |p| async move {
            let r = TokenizeRequest {
                dedupe: false,
                ..TokenizeRequest::new(p)
            };
            t.tokenize(&r).await.expect("solo");
        })
        .await,
    );
    rows.push(
        measure(&s, "lookup", pans.clone(), |p| async move {
            t.lookup_by_pan(&p, TokenFormat::Opaque, &DedupScope::default())
                .await
                .expect("lookup");
        })
        .await,
    );
    let mut tokens: Vec<Token> = Vec::new();
    for p in &pans {
        tokens.push(
            t.lookup_by_pan(p, TokenFormat::Opaque, &DedupScope::default())
                .await
                .expect("lookup")
                .token,
        );
    }
    rows.push(
        measure(&s, "describe", tokens.clone(), |k| async move {
            t.describe(&k).await.expect("describe");
        })
        .await,
    );
    // Detokenize: a warm instance (its one KMS Decrypt before timing).
    let detokenizer = s.detokenizer(clock());
    detokenizer.detokenize(&tokens[0]).await.expect("warm");
    let d = &detokenizer;
    rows.push(
        measure(&s, "detokenize", tokens.clone(), |k| async move {
            d.detokenize(&k).await.expect("detokenize");
        })
        .await,
    );
    let chunks: Vec<Vec<Token>> = tokens.chunks(100).map(<[Token]>::to_vec).collect();
    let rounds: Vec<Vec<Token>> = chunks.iter().cycle().take(BATCHES).cloned().collect();
    rows.push(
        measure(&s, "detokenize batch of 100", rounds, |ks| async move {
            for r in d.detokenize_batch(&ks).await.expect("batch") {
                r.expect("item");
            }
        })
        .await,
    );

    // Tokenize batches of 100 new cards, on their own fresh table.
    let s = stack().await;
    let tokenizer = s.tokenizer(clock()).await;
    tokenizer.tokenize(&warm).await.expect("warm");
    let t = &tokenizer;
    let batches: Vec<Vec<TokenizeRequest>> = (0..BATCHES)
        .map(|b| {
            cards(100_000 + 1000 * b as u64, 100)
                .into_iter()
                .map(TokenizeRequest::new)
                .collect()
        })
        .collect();
    rows.push(
        measure(
            &s,
            "tokenize batch of 100 (new cards)",
            batches,
            |rs| async move {
                for r in t.tokenize_batch(&rs).await.expect("batch") {
                    r.expect("item");
                }
            },
        )
        .await,
    );

    println!("| operation | n | p50 | p99 | AWS calls per operation |");
    println!("|---|---|---|---|---|");
    for mut row in rows {
        row.samples.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| {} | {} | {} | {} | {} |",
            row.name,
            row.samples.len(),
            ms(percentile(&row.samples, 0.50)),
            ms(percentile(&row.samples, 0.99)),
            row.calls
        );
    }
}
