//! The forward function over memory ports, sending to the testkit's stub
//! processor on 127.0.0.1 (its certificate from a test CA made at start),
//! with host names resolved from a table.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tessera_core::memory::{ManualClock, MemoryKeyRing, MemoryVault};
use tessera_core::*;
use tessera_lambda::auth::{AllowList, ApiOrigin};
use tessera_lambda::envelope::Access;
use tessera_lambda::forward::destinations::Destinations;
use tessera_lambda::forward::egress::{AddressPolicy, Egress, Resolve, Roots};
use tessera_lambda::{App, Forward};
use tessera_testkit::stub::StubProcessor;

use super::{ACCOUNT, Capture, context, role, status_and_body};

/// The clock the forward harness starts at.
pub const NOW_MS: i64 = 1_790_000_000_000;

/// Resolves names from a table, counting lookups; `rebind` names answer
/// their first address once, then their second (DNS rebinding).
#[derive(Default)]
pub struct TableResolver {
    pub table: HashMap<String, Vec<SocketAddr>>,
    pub rebind: HashMap<String, (SocketAddr, SocketAddr)>,
    pub calls: AtomicUsize,
}

impl TableResolver {
    /// A resolver for `names`, each at `addr`.
    pub fn all_at(names: &[&str], addr: SocketAddr) -> TableResolver {
        TableResolver {
            table: names
                .iter()
                .map(|n| ((*n).to_owned(), vec![addr]))
                .collect(),
            ..TableResolver::default()
        }
    }
}

impl Resolve for TableResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        _port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = match self.rebind.get(host) {
            Some((first, later)) => Ok(vec![if n == 0 { *first } else { *later }]),
            None => self
                .table
                .get(host)
                .cloned()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host")),
        };
        Box::pin(async move { answer })
    }
}

/// Which CA the forward function trusts.
#[derive(Clone, Copy)]
pub enum Trust {
    /// The stub's own: its certificate verifies.
    StubCa,
    /// Another test CA: the stub's certificate does not verify.
    OtherCa,
}

/// How a forward harness is set up.
pub struct Setup {
    /// The names the stub's certificate covers.
    pub stub_hosts: &'static [&'static str],
    /// The resolver, given the stub's address.
    pub resolver: fn(SocketAddr) -> TableResolver,
    /// `TESSERA_FORWARD_DESTINATIONS`, given the stub's port.
    pub destinations: fn(u16) -> String,
    /// `TESSERA_FORWARD_GRANTS`.
    pub grants: String,
    /// The role names on the forward allow-list.
    pub forwarders: &'static [&'static str],
    /// Which addresses the egress may reach.
    pub policy: AddressPolicy,
    /// Which CA it trusts.
    pub trust: Trust,
}

/// The forward function with its stub processor, vault and captured logs.
pub struct Harness {
    pub app: App<Forward>,
    pub stub: StubProcessor,
    pub tokenizer: Tokenizer,
    pub vault: Arc<MemoryVault>,
    pub clock: Arc<ManualClock>,
    pub resolver: Arc<TableResolver>,
    pub audit: Capture,
    _log: tracing::subscriber::DefaultGuard,
}

/// Starts the stub processor and builds the forward function as `setup` says.
pub async fn harness(setup: Setup) -> Harness {
    let audit = Capture::default();
    let writer = audit.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let log = tracing::subscriber::set_default(subscriber);

    let stub = StubProcessor::start("127.0.0.1:0".parse().expect("addr"), setup.stub_hosts)
        .await
        .expect("stub");
    let resolver = Arc::new((setup.resolver)(stub.addr));
    let roots = match setup.trust {
        Trust::StubCa => Roots::TestCa(stub.ca_pem.clone()),
        Trust::OtherCa => {
            let other = StubProcessor::start("127.0.0.1:0".parse().expect("addr"), &["x.example"])
                .await
                .expect("other stub");
            Roots::TestCa(other.ca_pem.clone())
        }
    };
    let egress = Egress::new(resolver.clone(), setup.policy, roots)
        .expect("egress")
        .with_timeouts(Duration::from_secs(1), Duration::from_secs(2));
    let destinations = Destinations::parse(&(setup.destinations)(stub.addr.port()), &setup.grants)
        .expect("destinations");

    let vault = Arc::new(MemoryVault::new());
    let keyring = Arc::new(MemoryKeyRing::new("forward"));
    let clock = Arc::new(ManualClock::at_millis(NOW_MS));
    let ports = Ports {
        clock: clock.clone(),
        rng: Arc::new(ThreadRandom),
        vault_id: "forward".into(),
    };
    let key = FingerprintKey::new(&[7; 32], "v1").expect("key");
    let tokenizer = Tokenizer::new(
        ports.clone(),
        vault.clone(),
        keyring.clone(),
        Fingerprinter::new(&key),
        CacheLimits::default(),
    );
    let detokenizer = Detokenizer::new(ports, vault.clone(), keyring, CacheLimits::default());
    let forwarders: Vec<String> = setup.forwarders.iter().map(|n| role(n)).collect();
    let access = Access {
        origin: ApiOrigin::parse("api", "$default").expect("origin"),
        lists: vec![(
            "TESSERA_FORWARD_ROLES",
            AllowList::parse(&forwarders.join(",")).expect("allow-list"),
        )],
        dev_principal: None,
    };
    let app = App::new(
        Forward::new(detokenizer, destinations, egress),
        access,
        Arc::new(|_| {}),
    );
    Harness {
        app,
        stub,
        tokenizer,
        vault,
        clock,
        resolver,
        audit,
        _log: log,
    }
}

impl Harness {
    /// A fresh token (no dedup) for `pan`.
    pub async fn token(&self, pan: &str, expiry: Expiry) -> String {
        let mut request = TokenizeRequest::new(Pan::parse(pan).expect("pan"));
        request.expiry = expiry;
        request.dedupe = false;
        let out = self.tokenizer.tokenize(&request).await.expect("tokenize");
        out.token.as_str().to_owned()
    }

    /// An https URL of `host` at the stub's port.
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.stub.addr.port())
    }

    /// Calls forward as `caller`; returns status, body and the raw response text.
    pub async fn call(&self, caller: &str, body: Value) -> (u64, Value, String) {
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/v1/forward",
            "rawQueryString": "",
            "headers": {
                "content-type": "application/json",
                "authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/caller-signature",
                "x-amz-security-token": "caller-session-token"
            },
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "api",
                "authorizer": { "iam": { "userArn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{caller}/session") } },
                "domainName": "example.com",
                "http": { "method": "POST", "path": "/v1/forward", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t" },
                "requestId": "r",
                "routeKey": "$default",
                "stage": "$default",
                "time": "23/Nov/2026:12:00:00 +0000",
                "timeEpoch": 0
            },
            "body": body.to_string(),
            "isBase64Encoded": false
        });
        let response = self
            .app
            .handle_event(event, context())
            .await
            .expect("an HTTP event");
        let (status, body) = status_and_body(&response);
        (status, body, response.to_string())
    }

    /// The audit events so far, parsed.
    pub fn audit_lines(&self) -> Vec<Value> {
        self.audit
            .text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["target"] == "audit")
            .collect()
    }

    /// Everything logged so far.
    pub fn log_text(&self) -> String {
        self.audit.text()
    }
}
