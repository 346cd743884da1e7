//! The one way out: resolve the destination's host once, refuse it if any
//! address it resolves to is not a public unicast address, connect to the
//! address that was checked (no second resolution), run TLS over that
//! socket with the host name as SNI and verification name, send one
//! HTTP/1.1 request, read a bounded answer, all inside a connect and a
//! total timeout. Redirects are returned, never followed. The TLS stack is
//! the one the AWS SDK links (rustls on aws-lc-rs, hyper 1).

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

/// Time to open the TCP connection and finish the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time for the whole exchange; API Gateway's own limit is 29 s, so the
/// caller always gets our 504 rather than the gateway's.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest upstream answer read: Lambda's response limit is 6 MB, and a
/// processor's answer is a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Resolves a host name to addresses. Production uses the system resolver;
/// tests inject one to prove that what resolution returns is checked.
pub trait Resolve: Send + Sync {
    /// The addresses of `host`, with `port`.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The system resolver (`getaddrinfo` through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// DEV AND TESTS ONLY: names under `.localhost` are loopback (RFC 6761
/// 6.3); others go to the system resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalhostResolver;

impl Resolve for LocalhostResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        if host.ends_with(".localhost") {
            return Box::pin(
                async move { Ok(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))]) },
            );
        }
        SystemResolver.resolve(host, port)
    }
}

/// Which addresses egress may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressPolicy {
    loopback: bool,
}

impl AddressPolicy {
    /// Public unicast addresses only: what production uses.
    pub fn public_only() -> AddressPolicy {
        AddressPolicy { loopback: false }
    }

    /// DEV AND TESTS ONLY: also 127.0.0.1, where the stub processor listens.
    /// No setting reaches this in a release build; the dev stack and tests
    /// construct it themselves.
    pub fn with_loopback_for_tests() -> AddressPolicy {
        AddressPolicy { loopback: true }
    }

    /// Whether egress may connect to `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        if self.loopback && ip == IpAddr::V4(Ipv4Addr::LOCALHOST) {
            return true;
        }
        is_public(ip)
    }
}

/// Whether an address is public unicast: not loopback, private, link-local
/// (the instance metadata service 169.254.169.254 and fd00:ec2::254 among
/// them), shared, reserved, documentation, benchmarking, multicast or
/// unspecified; IPv6 forms that embed an IPv4 address are judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return is_public_v4(Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])));
    }
    if s[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fd00:ec2::254 among them
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || s[0..6] == [0; 6]) // IPv4-compatible and other ::/64 forms
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.170.2",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:db8::1",
            "ff02::1",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().expect(ip);
            assert!(!is_public(ip), "{ip}");
            assert!(!AddressPolicy::public_only().allows(ip), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::6810:85e5",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = ip.parse().expect(ip);
            assert!(is_public(ip), "{ip}");
        }
        let loopback = AddressPolicy::with_loopback_for_tests();
        assert!(loopback.allows("127.0.0.1".parse().expect("ip")));
        assert!(!loopback.allows("169.254.169.254".parse().expect("ip")));
        assert!(!loopback.allows("::1".parse().expect("ip")));
    }
}
