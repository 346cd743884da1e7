//! `scripts/bench --load`: 50 concurrent clients against the dev stack
//! (`cargo lambda watch --release` on `TESSERA_LOAD_ADDR`, scripts/dev's
//! 127.0.0.1:9000 by default; scripts/bench picks a free port) for a
//! bounded time. Each client alternates a tokenize (one of 500 cards, so
//! misses turn into hits) with a detokenize of a token it was given.
//! Prints throughput, p50/p99 per operation and every non-2xx status. Not a
//! test: the dev stack must be running.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

const CLIENTS: usize = 50;
const CARDS: u64 = 500;

/// A Luhn-valid Visa test-range PAN for `i` (the core's parser finds the
/// check digit).
fn card(i: u64) -> String {
    let body = format!("411111{:09}", i * 7919);
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|c| tessera_core::Pan::parse(c).is_ok())
        .unwrap_or_default()
}

#[derive(Default)]
struct Tally {
    samples: BTreeMap<&'static str, Vec<Duration>>,
    errors: BTreeMap<String, u64>,
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: &str) -> Result<Sender, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Posts `body` to `path`; returns the status and the JSON answer.
async fn post(
    sender: &mut Sender,
    addr: &str,
    path: &str,
    body: &Value,
) -> Result<(u16, Value), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let request = hyper::Request::post(path)
        .header("host", addr)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

async fn client(n: usize, addr: String, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut sender = match connect(&addr).await {
        Ok(s) => s,
        Err(e) => {
            *tally.errors.entry(format!("connect: {e}")).or_default() += 1;
            return tally;
        }
    };
    let mut i = n as u64;
    let mut token: Option<String> = None;
    while Instant::now() < until {
        let (name, path, body) = match &token {
            Some(t) => (
                "detokenize",
                "/lambda-url/detokenize/v1/detokenize",
                json!({"token": t, "reason": "load test"}),
            ),
            None => (
                "tokenize",
                "/lambda-url/tokenize/v1/tokens",
                json!({"pan": card(i % CARDS)}),
            ),
        };
        let started = Instant::now();
        match post(&mut sender, &addr, path, &body).await {
            Ok((status, answer)) if (200..300).contains(&status) => {
                tally
                    .samples
                    .entry(name)
                    .or_default()
                    .push(started.elapsed());
                token = match name {
                    "tokenize" => answer["token"].as_str().map(str::to_owned),
                    _ => None,
                };
            }
            Ok((status, answer)) => {
                let kind = answer["type"].as_str().unwrap_or_default().to_owned();
                *tally
                    .errors
                    .entry(format!("{name} {status} {kind}"))
                    .or_default() += 1;
                token = None;
            }
            Err(e) => {
                *tally.errors.entry(format!("{name}: {e}")).or_default() += 1;
                token = None;
                match connect(&addr).await {
                    Ok(s) => sender = s,
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
        i += CLIENTS as u64;
    }
    tally
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let addr = std::env::var("TESSERA_LOAD_ADDR").unwrap_or_else(|_| "127.0.0.1:9000".into());
    let seconds: u64 = std::env::var("TESSERA_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    // Warm every function once (cargo lambda watch starts a process on the
    // first request to each), outside the measured window.
    if let Ok(mut s) = connect(&addr).await {
        let _ = post(
            &mut s,
            &addr,
            "/lambda-url/tokenize/v1/tokens",
            &json!({"pan": card(0)}),
        )
        .await;
        let _ = post(
            &mut s,
            &addr,
            "/lambda-url/detokenize/v1/detokenize",
            &json!({"token": "tok_0000000000000000000000000a", "reason": "warm"}),
        )
        .await;
    }
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(client(n, addr.clone(), until)))
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        if let Ok(t) = task.await {
            for (name, mut s) in t.samples {
                all.samples.entry(name).or_default().append(&mut s);
            }
            for (e, n) in t.errors {
                *all.errors.entry(e).or_default() += n;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: usize = all.samples.values().map(Vec::len).sum();
    let errors: u64 = all.errors.values().sum();
    println!(
        "{CLIENTS} clients for {elapsed:.1} s against http://{addr}: {total} answered, {:.0} per second, {errors} errors",
        total as f64 / elapsed
    );
    println!();
    println!("| operation | count | per second | p50 | p99 |");
    println!("|---|---|---|---|---|");
    for (name, samples) in &mut all.samples {
        samples.sort();
        println!(
            "| {name} | {} | {:.0} | {:.1} ms | {:.1} ms |",
            samples.len(),
            samples.len() as f64 / elapsed,
            percentile(samples, 0.5).as_secs_f64() * 1000.0,
            percentile(samples, 0.99).as_secs_f64() * 1000.0
        );
    }
    for (e, n) in &all.errors {
        println!("\nerror: {e} x{n}");
    }
}
