//! A stub payment processor for forward's tests and the dev stack: HTTPS on
//! a loopback port, with a certificate from a test CA made at start (rcgen),
//! and routes that behave like a processor, or misbehave on purpose.
//!
//! - `POST /v1/charges`: records the request and answers 201 with the card
//!   number it received echoed back, in the body and in a header, as a
//!   careless processor would: forward must mask it before its caller sees it.
//!   With `echo=base64` in the query it answers instead with the whole
//!   request body base64-encoded as a `receipt`, which masking cannot reach:
//!   forward must refuse the answer.
//! - `/v1/slow`: answers after [`SLOW_SECONDS`] (forward's timeout).
//! - `/v1/big`: a body of [`BIG_BYTES`] (forward's response size limit).
//! - `/v1/redirect`: 302 to `/v1/charges` (forward must not follow it).
//!
//! Every request is recorded ([`StubProcessor::received`]) so a test can
//! prove what reached the processor, and that nothing did.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// How long `/v1/slow` waits before answering.
pub const SLOW_SECONDS: u64 = 30;
/// The size of `/v1/big`'s body.
pub const BIG_BYTES: usize = 2 * 1024 * 1024;

/// One request the stub received.
#[derive(Clone, PartialEq, Eq)]
pub struct Received {
    /// The method.
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    /// Header names and values (lower-case names).
    pub headers: Vec<(String, String)>,
    /// The body, as UTF-8 (lossy).
    pub body: String,
}

// The body holds a (test) card number: a Debug print must not show it.
impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Received")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A running stub processor; stops when dropped.
pub struct StubProcessor {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The PEM of the test CA that issued its certificate.
    pub ca_pem: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

/// Why the stub could not start.
#[derive(Debug)]
pub struct StubError(pub String);

impl std::fmt::Display for StubError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StubError {}

fn err(e: impl std::fmt::Display) -> StubError {
    StubError(e.to_string())
}

impl StubProcessor {
    /// Starts on `bind` (use port 0 for any free port) with a certificate for
    /// `names` (DNS names), issued by a fresh test CA.
    pub async fn start(bind: SocketAddr, names: &[&str]) -> Result<StubProcessor, StubError> {
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Tessera stub processor test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(err)?;
        let leaf_key = KeyPair::generate().map_err(err)?;
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let leaf = CertificateParams::new(names)
            .map_err(err)?
            .signed_by(&leaf_key, &ca)
            .map_err(err)?;
        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(err)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(err)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(bind).await.map_err(err)?;
        let addr = listener.local_addr().map_err(err)?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(serve(listener, acceptor, received.clone(), addr.port()));
        Ok(StubProcessor {
            addr,
            ca_pem: ca.pem(),
            received,
            task,
        })
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for StubProcessor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    received: Arc<Mutex<Vec<Received>>>,
    port: u16,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        // Without it, Nagle and delayed ACKs add ~40 ms to every answer.
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let received = received.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = service_fn(move |request| answer(request, received.clone(), port));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    received: Arc<Mutex<Vec<Received>>>,
    port: u16,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if let Ok(mut r) = received.lock() {
        r.push(Received {
            method: parts.method.to_string(),
            path: path.clone(),
            headers,
            body: body.clone(),
        });
    }
    let response = match parts.uri.path() {
        p if p.starts_with("/v1/charges")
            && parts.uri.query().is_some_and(|q| q.contains("echo=base64")) =>
        {
            use base64::Engine;
            let receipt = base64::engine::general_purpose::STANDARD.encode(&body);
            Response::builder()
                .status(StatusCode::CREATED)
                .header("content-type", "application/json")
                .header("x-stub-receipt", "attached")
                .body(Full::new(Bytes::from(format!(
                    "{{\"id\":\"ch_stub_2\",\"status\":\"approved\",\"receipt\":\"{receipt}\"}}"
                ))))
        }
        p if p.starts_with("/v1/charges") => {
            // Echo the card number back, as some processors do.
            let card: String = body
                .split('"')
                .find(|s| s.len() >= 12 && s.bytes().all(|b| b.is_ascii_digit()))
                .unwrap_or_default()
                .to_owned();
            let json = format!(
                "{{\"id\":\"ch_stub_1\",\"status\":\"approved\",\"card\":{{\"number\":\"{card}\"}},\"escaped\":\"{}\"}}",
                card.chars()
                    .map(|c| format!("\\u{:04x}", u32::from(c)))
                    .collect::<String>()
            );
            Response::builder()
                .status(StatusCode::CREATED)
                .header("content-type", "application/json")
                .header("x-stub-card", card)
                .body(Full::new(Bytes::from(json)))
        }
        "/v1/slow" => {
            tokio::time::sleep(Duration::from_secs(SLOW_SECONDS)).await;
            Response::builder().body(Full::new(Bytes::from_static(b"{}")))
        }
        "/v1/big" => Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(vec![b' '; BIG_BYTES]))),
        // Not UTF-8: an answer the scrubber cannot read must not pass.
        "/v1/binary" => Response::builder()
            .header("content-type", "application/octet-stream")
            .body(Full::new(Bytes::from_static(&[0xff, 0xfe, 0x34, 0x31]))),
        "/v1/redirect" => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", format!("https://localhost:{port}/v1/charges"))
            .body(Full::new(Bytes::new())),
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::new())),
    };
    Ok(response.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}
