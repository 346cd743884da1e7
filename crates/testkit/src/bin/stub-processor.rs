//! DEV ONLY: the stub payment processor for `scripts/dev`. Listens on
//! 127.0.0.1 (port from the first argument, default 8443), writes its test
//! CA's PEM to the path in the second argument, and logs each request it
//! receives, body included: it only ever sees test card numbers.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tessera_testkit::stub::StubProcessor;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(8443), |p| p.parse())?;
    let ca_path = args.next().unwrap_or_else(|| ".dev/stub-ca.pem".into());
    let stub = StubProcessor::start(
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        &["localhost", "processor.localhost"],
    )
    .await?;
    std::fs::write(&ca_path, &stub.ca_pem)?;
    println!("stub processor on https://processor.localhost:{port}, test CA in {ca_path}");
    let mut seen = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let received = stub.received();
        for r in received.iter().skip(seen) {
            println!(
                "stub processor received {} {} body: {}",
                r.method, r.path, r.body
            );
        }
        seen = received.len();
    }
}
