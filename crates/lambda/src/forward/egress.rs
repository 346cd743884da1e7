//! The one way out: resolve the destination's host once, refuse it if any
//! address it resolves to is not a public unicast address, connect to the
//! address that was checked (no second resolution), run TLS over that
//! socket with the host name as SNI and verification name, send one
//! HTTP/1.1 request, read a bounded answer, all inside a connect and a
//! total timeout. Redirects are returned, never followed. The TLS stack is
//! the one the AWS SDK links (rustls on aws-lc-rs, hyper 1).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Bytes, Frame};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use zeroize::Zeroizing;

// The egress's address policy and resolvers live in their own modules; they
// are part of what a caller of the egress builds it from.
pub use crate::forward::address::{AddressPolicy, is_public};
pub use crate::forward::resolve::{LocalhostResolver, Resolve, SystemResolver};

/// Time to open the TCP connection and finish the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time for the whole exchange; API Gateway's own limit is 29 s, so the
/// caller always gets our 504 rather than the gateway's.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest upstream answer read: Lambda's response limit is 6 MB, and a
/// processor's answer is a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Which certificate authorities egress trusts.
pub enum Roots {
    /// The platform's (the Lambda image's) trust store.
    Platform,
    /// TESTS ONLY: exactly these PEM certificates.
    TestCa(String),
    /// DEV ONLY: the platform's and these PEM certificates.
    PlatformAnd(String),
}

/// Why egress did not bring back an answer. Never holds request data.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// The host did not resolve.
    #[error("the destination's host did not resolve")]
    Resolve,
    /// The host resolved to an address egress may not reach.
    #[error("the destination's host resolves to an address that is not public")]
    ForbiddenAddress,
    /// No connection or TLS session could be set up.
    #[error("could not connect to the destination: {0}")]
    Connect(String),
    /// The connect or total timeout passed.
    #[error("the destination did not answer in time")]
    Timeout,
    /// The answer was larger than [`MAX_RESPONSE_BYTES`].
    #[error("the destination's answer is too large")]
    TooLarge,
    /// The exchange failed after connecting.
    #[error("the exchange with the destination failed: {0}")]
    Protocol(String),
    /// The TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// One outbound request; its body holds PANs and is wiped on drop.
pub struct Outbound {
    /// The method.
    pub method: Method,
    /// The host name (also the TLS name).
    pub host: String,
    /// The port.
    pub port: u16,
    /// Path and query.
    pub path_and_query: String,
    /// Headers to send (already filtered).
    pub headers: HeaderMap,
    /// The body, placeholders substituted.
    pub body: Zeroizing<Vec<u8>>,
}

/// The destination's answer.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body (at most [`MAX_RESPONSE_BYTES`]).
    pub body: Bytes,
}

/// The outbound client: resolver, address policy and TLS configuration.
pub struct Egress {
    resolver: Arc<dyn Resolve>,
    policy: AddressPolicy,
    tls: TlsConnector,
    connect_timeout: Duration,
    total_timeout: Duration,
}

impl Egress {
    /// An egress trusting `roots`, resolving with `resolver`, connecting
    /// where `policy` allows.
    pub fn new(
        resolver: Arc<dyn Resolve>,
        policy: AddressPolicy,
        roots: Roots,
    ) -> Result<Egress, EgressError> {
        let mut store = RootCertStore::empty();
        let (platform, extra) = match roots {
            Roots::Platform => (true, None),
            Roots::TestCa(pem) => (false, Some(pem)),
            Roots::PlatformAnd(pem) => (true, Some(pem)),
        };
        if platform {
            // Unreadable entries are skipped; an empty store is an error below.
            let native = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(native.certs);
        }
        if let Some(pem) = extra {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| EgressError::Config(e.to_string()))?;
                store
                    .add(cert)
                    .map_err(|e| EgressError::Config(e.to_string()))?;
            }
        }
        if store.is_empty() {
            return Err(EgressError::Config(
                "no trusted certificate authorities".into(),
            ));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| EgressError::Config(e.to_string()))?
            .with_root_certificates(store)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Egress {
            resolver,
            policy,
            tls: TlsConnector::from(Arc::new(config)),
            connect_timeout: CONNECT_TIMEOUT,
            total_timeout: TOTAL_TIMEOUT,
        })
    }

    /// The same egress with other timeouts (tests use short ones).
    pub fn with_timeouts(mut self, connect: Duration, total: Duration) -> Egress {
        self.connect_timeout = connect;
        self.total_timeout = total;
        self
    }

    /// Sends one request and reads its answer.
    pub async fn send(&self, request: Outbound) -> Result<Answer, EgressError> {
        tokio::time::timeout(self.total_timeout, self.exchange(request))
            .await
            .map_err(|_| EgressError::Timeout)?
    }

    async fn exchange(&self, request: Outbound) -> Result<Answer, EgressError> {
        let addrs = self
            .resolver
            .resolve(&request.host, request.port)
            .await
            .map_err(|_| EgressError::Resolve)?;
        if addrs.is_empty() {
            return Err(EgressError::Resolve);
        }
        // Every address is checked, not only the one used: a name that
        // resolves to any internal address is refused outright.
        if addrs.iter().any(|a| !self.policy.allows(a.ip())) {
            return Err(EgressError::ForbiddenAddress);
        }
        let name = ServerName::try_from(request.host.clone())
            .map_err(|e| EgressError::Connect(e.to_string()))?;
        let tls = tokio::time::timeout(self.connect_timeout, async {
            let tcp = connect_first(&addrs).await?;
            self.tls
                .connect(name, tcp)
                .await
                .map_err(|e| EgressError::Connect(format!("TLS: {e}")))
        })
        .await
        .map_err(|_| EgressError::Timeout)??;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| EgressError::Protocol(e.to_string()))?;
        let driver = tokio::spawn(connection);
        let authority = if request.port == 443 {
            request.host.clone()
        } else {
            format!("{}:{}", request.host, request.port)
        };
        let mut outbound = Request::builder()
            .method(request.method)
            .uri(request.path_and_query.as_str())
            .body(SecretBody(Some(request.body)))
            .map_err(|e| EgressError::Protocol(e.to_string()))?;
        *outbound.headers_mut() = request.headers;
        let host =
            HeaderValue::from_str(&authority).map_err(|e| EgressError::Protocol(e.to_string()))?;
        outbound.headers_mut().insert(header::HOST, host);
        let response = sender
            .send_request(outbound)
            .await
            .map_err(|e| EgressError::Protocol(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            driver.abort();
            return Err(EgressError::TooLarge);
        }
        let body = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    EgressError::TooLarge
                } else {
                    EgressError::Protocol(e.to_string())
                }
            })?
            .to_bytes();
        driver.abort();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// Connects to the first of the checked addresses that answers.
async fn connect_first(addrs: &[SocketAddr]) -> Result<TcpStream, EgressError> {
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(EgressError::Connect(last))
}

/// A request body that is wiped when hyper is done with it.
struct SecretBody(Option<Zeroizing<Vec<u8>>>);

impl Body for SecretBody {
    type Data = io::Cursor<Zeroizing<Vec<u8>>>;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(self.0.take().map(|b| Ok(Frame::data(io::Cursor::new(b)))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}
