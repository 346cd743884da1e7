//! One SigV4-signed exchange with the API: `aws-sigv4` signs (service
//! `execute-api`), and the hyper 1 + hyper-rustls client the AWS SDK itself
//! links sends, so the CLI carries no second HTTP or TLS stack.
//!
//! Nothing here logs: the CLI installs no `tracing` subscriber, so even
//! `aws-sigv4`'s trace of a signable body (behind `LOG_SIGNABLE_BODY`) goes
//! nowhere.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::header::{ACCEPT, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use zeroize::Zeroizing;

use crate::CliError;

/// The SigV4 service name of API Gateway.
pub const SERVICE: &str = "execute-api";
/// Largest answer read: a describe or problem is well under 1 KiB, and the
/// API refuses bodies over 64 KiB; anything bigger is not this API.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The answer buffer's first size: many times a detokenize answer.
const ANSWER_CAPACITY: usize = 16 * 1024;
/// Connecting should take well under a second in-region.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole exchange: above the functions' own 5 s dependency budget plus a
/// cold start, so a slow answer arrives as the API's 503, not a local timeout.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer: its status and body.
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body. Zeroed on drop: a detokenize answer holds a PAN.
    pub body: Zeroizing<Vec<u8>>,
}

/// Signs requests for one identity and region.
pub struct Signer {
    identity: Identity,
    region: String,
}

impl Signer {
    /// A signer with `credentials` (a session token is signed in too) for `region`.
    pub fn new(credentials: Credentials, region: impl Into<String>) -> Signer {
        Signer {
            identity: credentials.into(),
            region: region.into(),
        }
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256` (the body's SHA-256, so
    /// the signature covers the body), `x-amz-security-token` when there is
    /// a session token, and `Authorization` to `request`, signing every
    /// header it already has (`host`, `content-type`, `accept`...).
    pub fn sign<B>(
        &self,
        request: &mut Request<B>,
        body: &[u8],
        at: SystemTime,
    ) -> Result<(), CliError> {
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(SERVICE)
            .time(at)
            .settings(settings)
            .build()
            .map_err(|e| CliError::Refused(format!("cannot sign the request: {e}")))?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let uri = request.uri().to_string();
        let signable = SignableRequest::new(
            request.method().as_str(),
            uri,
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| CliError::Refused(format!("cannot sign the request: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| CliError::Refused(format!("cannot sign the request: {e}")))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

/// The HTTPS client (native roots, aws-lc-rs, as the SDK's) and the signer.
pub struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    signer: Signer,
}

impl Transport {
    /// A client that signs with `signer`.
    pub fn new(signer: Signer) -> Result<Transport, CliError> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        // `Endpoint` admits plain http only to loopback addresses.
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| CliError::Refused(format!("no TLS trust roots: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Transport { client, signer })
    }

    /// Sends `body` (JSON, if any) to `url` with `method`, signed, and
    /// reads the answer. The body is moved in and zeroed once sent.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Zeroizing<Vec<u8>>>,
        correlation_id: Option<&str>,
    ) -> Result<Answer, CliError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| CliError::Refused("--endpoint: not a valid URL".into()))?;
        let host = host_header(&uri)?;
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(HOST, host)
            .header(ACCEPT, "application/json, application/problem+json");
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if let Some(id) = correlation_id {
            let value = HeaderValue::from_str(id)
                .map_err(|_| CliError::Refused("--correlation-id: not a header value".into()))?;
            request = request.header("x-correlation-id", value);
        }
        let body = body.unwrap_or_default();
        let mut request = request
            .body(())
            .map_err(|e| CliError::Refused(format!("cannot build the request: {e}")))?;
        self.signer.sign(&mut request, &body, SystemTime::now())?;
        // The body's one copy for the wire is owned by `Bytes` and zeroed
        // when hyper drops it.
        let request = request.map(|()| Full::new(Bytes::from_owner(body)));
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                CliError::Refused(format!("the API could not be reached: {}", error_chain(&e)))
            })?;
            let status = response.status();
            let mut incoming = Limited::new(response.into_body(), MAX_ANSWER_BYTES);
            // Sized up front: a detokenize answer never grows the buffer,
            // so no copy of its card number is left in freed memory.
            let mut body = Zeroizing::new(Vec::with_capacity(ANSWER_CAPACITY));
            while let Some(frame) = incoming.frame().await {
                let frame = frame.map_err(|_| {
                    CliError::Refused("the API's answer was cut off or too large".into())
                })?;
                if let Ok(data) = frame.into_data() {
                    body.extend_from_slice(&data);
                }
            }
            Ok(Answer { status, body })
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .map_err(|_| CliError::Refused("the API did not answer within 30 s".into()))?
    }
}

/// The `Host` header SigV4 signs: the host, and the port unless it is the
/// scheme's default (as `aws-sigv4` and API Gateway both read it).
fn host_header(uri: &http::Uri) -> Result<HeaderValue, CliError> {
    let host = uri
        .host()
        .ok_or_else(|| CliError::Refused("--endpoint: the URL has no host".into()))?;
    let default_port = match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    };
    let text = match uri.port_u16() {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host.to_owned(),
    };
    HeaderValue::from_str(&text).map_err(|_| CliError::Refused("--endpoint: bad host".into()))
}

/// An error and its causes, one line: hyper's own message is only "client error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
