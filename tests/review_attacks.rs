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

// ---------------------------------------------------------------------------
// Finding 12: `tessera call --correlation-id` is neither checked for a card
// number nor masked, unlike `TOKEN`, `--reason` and `--metadata`: a PAN
// typed there (an operator pasting the card of the ticket they are working
// on) stays in the shell history and is SENT to the API as the
// `X-Correlation-Id` header, a field WAF, proxies and access logs record.
// The function then refuses to echo it, but it has already travelled.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn attack_cli_sends_a_card_number_given_as_correlation_id() {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tessera_cli::call::{Console, execute};
    use tessera_cli::cli::{Command, parse};
    use tokio::net::TcpListener;

    const PAN: &str = "4111111111111111";
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let id = request
                        .headers()
                        .get("x-correlation-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    log.lock().expect("log").push(id);
                    async move {
                        http::Response::builder()
                            .status(200)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(
                                br#"{"token":"tok_0000000000000000000000000a","format":"opaque","bin":"411111","last4":"1111","brand":"visa","pan_length":16,"created_at":"2026-11-26T00:00:00Z"}"#,
                            )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });

    let endpoint = format!("http://127.0.0.1:{port}/prod");
    let cli = parse([
        "tessera",
        "call",
        "--endpoint",
        endpoint.as_str(),
        "--region",
        "us-east-1",
        "--correlation-id",
        PAN,
        "describe",
        "tok_0000000000000000000000000a",
    ])
    .map_err(|u| u.text)
    .expect("parses");
    let Command::Call(args) = cli.command else {
        panic!("not a call");
    };
    let sdk = aws_config::SdkConfig::builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"),
            ),
        )
        .region(aws_config::Region::new("us-east-1"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let (mut stdin, mut stdout, mut stderr) = (std::io::empty(), Vec::new(), Vec::new());
    let mut console = Console {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    let _ = execute(&args, &sdk, &mut console).await;
    let seen = seen.lock().expect("log").clone();
    assert!(
        !seen.iter().any(|id| id.contains(PAN)),
        "the CLI sent the card number as X-Correlation-Id ({} request(s)); stderr: {}",
        seen.len(),
        String::from_utf8_lossy(&stderr)
    );
}

// ---------------------------------------------------------------------------
// Finding 15: `tessera import` checks a kept token (`token` column) against
// the vault (`records_exist`, read before the chunk is written) and a card
// against the other rows of its chunk, but never a kept token against the
// other rows of its chunk. Two rows of one file that carry the same old
// token for two different cards (a corrupt or hostile legacy export) are
// both "imported": the second record overwrites the first under the same
// token (BatchWriteItem is unconditional; in DynamoDB when the two fall in
// different 25-item batches, else the whole chunk fails on every re-run),
// and the first card's index item still names that token. The token of
// customer A now detokenizes to customer B's card, and every later dedup
// tokenize of A's card answers that token: the wrong card gets charged.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn attack_import_two_rows_with_one_kept_token_cross_wires_two_cards() {
    use std::collections::BTreeMap;
    use tessera_cli::import::Importer;
    use tessera_cli::rows::ImportRow;

    const A: &str = "4111111111111111";
    const B: &str = "5555555555554444";
    const KEPT: &str = "tok_0000000000000000000000000k";
    let vault = Arc::new(MemoryVault::new());
    let keyring = Arc::new(MemoryKeyRing::new("import"));
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: "import".into(),
    };
    let key = FingerprintKey::new(&[3; 32], "v1").expect("key");
    let tokenizer = || {
        Tokenizer::new(
            ports.clone(),
            vault.clone(),
            keyring.clone(),
            Fingerprinter::new(&key),
            CacheLimits::default(),
        )
    };
    let importer = Importer::new(tokenizer(), None, vault.clone(), &ports);
    let row = |pan: &str| ImportRow {
        request: TokenizeRequest::new(Pan::parse(pan).expect("pan")),
        token: Some(Token::parse(KEPT).expect("token")),
    };
    let plan = importer
        .plan(vec![(1, Ok(row(A))), (2, Ok(row(B)))], &BTreeMap::new())
        .await
        .expect("plan");
    let (imported, rejected) = (plan.summary.imported, plan.summary.rejected);
    importer.write(&plan).await.expect("write");

    // Customer A's card, tokenized again by the payment service.
    let again = tokenizer()
        .tokenize(&TokenizeRequest::new(Pan::parse(A).expect("pan")))
        .await
        .expect("tokenize");
    let opened = Detokenizer::new(
        ports.clone(),
        vault.clone(),
        keyring.clone(),
        CacheLimits::default(),
    )
    .detokenize(&again.token)
    .await
    .expect("detokenize");
    let cross_wired = opened.pan.expose_digits() != A;
    assert!(
        !cross_wired,
        "imported {imported}, rejected {rejected}; card A's token {} now detokenizes to a card ending {}",
        again.token.as_str(),
        opened.facts.last4
    );
}
