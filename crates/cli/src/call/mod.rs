//! `tessera call`: the API's operations from a terminal, SigV4-signed with
//! the standard AWS credential chain, as a payment service would call them.
//!
//! A card number is read from stdin or `--file`, never from argv, and is
//! printed only by `detokenize`, alone, on stdout. A token argument that is a
//! card number is refused before anything is sent. `create-capture-session`
//! prints the session's client secret, which the API shows only then, on
//! stdout with the rest of the answer. A problem answer
//! (RFC 9457) is shown on stderr with its type, title and detail, and the
//! command exits non-zero. See README "Operator CLI".

mod answer;
mod body;
mod endpoint;
mod input;
mod operation;
mod transport;

use std::io::{Read, Write};
use std::process::ExitCode;

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use tessera_core::contains_card_number;

pub use answer::{Expect, ProblemReport, show};
pub use endpoint::{Endpoint, FUNCTION_PLACEHOLDER};
pub use input::read_pan;
pub use operation::{Format, FrameLang, Operation, Planned};
pub use transport::{Answer, SERVICE, Signer, Transport};

use crate::CliError;

/// `tessera call`: where the API is, and the operation.
#[derive(clap::Args, Debug)]
pub struct CallArgs {
    /// The API: the stage's base URL (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`
    /// or a custom domain), or one URL per function with `{function}` in it
    /// (the dev stack: `http://127.0.0.1:9000/lambda-url/{function}`).
    #[arg(long, env = "TESSERA_ENDPOINT", global = true)]
    pub endpoint: Option<String>,
    /// The region to sign for (default: the one in an execute-api host name,
    /// then the AWS region chain: AWS_REGION, the profile).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// A host besides API Gateway's, a VPC endpoint's and loopback that
    /// calls may go to (a custom domain); repeat, or comma-separate.
    #[arg(
        long = "allow-host",
        env = "TESSERA_CALL_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub allow_hosts: Vec<String>,
    /// Sent as `X-Correlation-Id` (the API echoes it, and it is in the audit event).
    #[arg(long, global = true)]
    pub correlation_id: Option<String>,
    /// The operation.
    #[command(subcommand)]
    pub operation: Operation,
}

/// The streams a call reads and writes: the process's own, or a test's.
pub struct Console<'a> {
    /// Where a card number is read from.
    pub stdin: &'a mut dyn Read,
    /// Results: JSON, or detokenize's card number.
    pub stdout: &'a mut dyn Write,
    /// Problems and notes.
    pub stderr: &'a mut dyn Write,
}

/// The region to sign for: `--region`, else an execute-api host's, else the
/// SDK's region chain.
fn region(args: &CallArgs, endpoint: &Endpoint, sdk: &SdkConfig) -> Result<String, CliError> {
    args.region
        .clone()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| endpoint.region_from_host())
        .or_else(|| sdk.region().map(|r| r.as_ref().to_owned()))
        .ok_or_else(|| {
            CliError::Refused(
                "no region to sign for: set --region or AWS_REGION (or use the execute-api host name)"
                    .into(),
            )
        })
}

/// Runs one call: checks the endpoint's host and the arguments and reads
/// the card number before any credential is fetched or byte sent, names the
/// host on stderr, then signs, sends and shows the answer.
pub async fn run(
    args: &CallArgs,
    sdk: &SdkConfig,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let endpoint = Endpoint::parse(args.endpoint.as_deref().unwrap_or_default()).map_err(|e| {
        if args.endpoint.is_none() {
            CliError::Refused("missing --endpoint (or TESSERA_ENDPOINT)".into())
        } else {
            e
        }
    })?;
    // Before any card number is read or credential fetched: a signed
    // request to a host the operator did not mean gives both away.
    endpoint.check_host(&args.allow_hosts)?;
    // Read as the functions read it (`:` separates groups there too): a card
    // number here would travel in a header that proxies and WAF record.
    if args
        .correlation_id
        .as_deref()
        .is_some_and(|id| contains_card_number(id) || contains_card_number(&id.replace(':', " ")))
    {
        return Err(CliError::Refused(
            "--correlation-id: a correlation id must not hold a card number".into(),
        ));
    }
    let planned = args.operation.plan(console.stdin)?;
    let region = region(args, &endpoint, sdk)?;
    let provider = sdk.credentials_provider().ok_or_else(|| {
        CliError::Refused("no AWS credentials: configure the standard AWS credential chain".into())
    })?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| CliError::Refused(format!("no AWS credentials: {e}")))?;
    let transport = Transport::new(Signer::new(credentials, region))?;
    let _ = writeln!(
        console.stderr,
        "{}",
        crate::terminal::escape(&format!(
            "calling {} at {}",
            planned.function,
            endpoint.host()
        ))
    );
    let answer = transport
        .send(
            planned.method,
            &endpoint.url(planned.function, &planned.path),
            planned.body,
            args.correlation_id.as_deref(),
        )
        .await?;
    show(&answer, &planned.expect, console.stdout, console.stderr)
}

/// [`run`], with an error shown on stderr as `tessera: ...`; the exit code.
pub async fn execute(args: &CallArgs, sdk: &SdkConfig, console: &mut Console<'_>) -> ExitCode {
    match run(args, sdk, console).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(console.stderr, "{}", crate::terminal::error_line(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stdin that fails the test if anything reads it.
    struct Untouched;

    impl Read for Untouched {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            panic!("stdin was read before the host was checked");
        }
    }

    async fn call(endpoint: &str, listed: &[&str], operation: Operation) -> String {
        let args = CallArgs {
            endpoint: Some(endpoint.to_owned()),
            region: Some("us-east-1".to_owned()),
            allow_hosts: listed.iter().map(|h| (*h).to_owned()).collect(),
            correlation_id: None,
            operation,
        };
        // No credentials at all: a call that gets past the host check stops there.
        let sdk = SdkConfig::builder().build();
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut console = Console {
            stdin: &mut Untouched,
            stdout: &mut stdout,
            stderr: &mut stderr,
        };
        let e = run(&args, &sdk, &mut console).await.expect_err("not sent");
        assert!(stdout.is_empty() && stderr.is_empty());
        e.to_string()
    }

    #[tokio::test]
    async fn another_host_is_refused_before_the_card_number_is_read_or_credentials_used() {
        let tokenize = || Operation::Tokenize {
            format: None,
            file: None,
            metadata: None,
            no_dedupe: false,
            ttl_seconds: None,
            expires: None,
        };
        let e = call("https://api.example.com/prod", &[], tokenize()).await;
        assert!(
            e.contains("api.example.com is not an API Gateway host"),
            "{e}"
        );
        // Listed, the call goes on: here to the credentials, which are missing.
        let describe = Operation::Describe {
            token: "tok_0000000000000000000000000a".to_owned(),
        };
        let e = call(
            "https://api.example.com/prod",
            &["api.example.com"],
            describe,
        )
        .await;
        assert!(e.contains("no AWS credentials"), "{e}");
    }
}
