//! `tessera call`: the API's operations from a terminal, SigV4-signed with
//! the standard AWS credential chain, as a payment service would call them.
//!
//! A card number is read from stdin or `--file`, never from argv, and is
//! printed only by `detokenize`, alone, on stdout. A token argument that is a
//! card number is refused before anything is sent. A problem answer
//! (RFC 9457) is shown on stderr with its type, title and detail, and the
//! command exits non-zero. See README "Operator CLI".

mod answer;
mod body;
mod endpoint;
mod input;
mod transport;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use http::Method;
use tessera_core::contains_card_number;
use zeroize::Zeroizing;

use body::{DetokenizeBody, LookupBody, TokenizeBody, json, metadata_arg, token_arg};

pub use answer::{Expect, ProblemReport, show};
pub use endpoint::{Endpoint, FUNCTION_PLACEHOLDER};
pub use input::read_pan;
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

/// A token format.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `tok_` and 26 random base32 characters.
    Opaque,
    /// The PAN's length, its first 6 and last 4 digits, failing Luhn.
    Fpe,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Opaque => "opaque",
            Format::Fpe => "fpe",
        }
    }
}

/// The API's operations.
#[derive(clap::Subcommand, Debug)]
pub enum Operation {
    /// Tokenizes the card number read from stdin (or --file): POST /v1/tokens.
    Tokenize {
        /// The token format (the API's default: opaque).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Read the card number from this file instead of stdin.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Caller metadata: a JSON object of strings, e.g. '{"order":"A-17"}'.
        #[arg(long)]
        metadata: Option<String>,
        /// Issue a new token even if the card has one (`dedupe: false`).
        #[arg(long)]
        no_dedupe: bool,
        /// The token expires after this many seconds.
        #[arg(long, conflicts_with = "expires")]
        ttl_seconds: Option<u64>,
        /// The token expires with the card, `MM/YY`.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Prints the card number of TOKEN, alone, on stdout: POST /v1/detokenize.
    Detokenize {
        /// The token.
        token: String,
        /// Why the card number is needed; recorded in the audit event.
        #[arg(long)]
        reason: String,
    },
    /// Prints a token's facts (never the card number): GET /v1/tokens/{token}.
    Describe {
        /// The token.
        token: String,
    },
    /// Finds the token of the card number read from stdin (or --file),
    /// creating nothing: POST /v1/tokens/lookup.
    Lookup {
        /// The token format to look for (the API's default: opaque).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Read the card number from this file instead of stdin.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Erases a token from the vault: DELETE /v1/tokens/{token}.
    Delete {
        /// The token.
        token: String,
    },
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

/// One request, ready to sign: which function serves it, and what it expects back.
pub struct Planned {
    /// The function whose URL serves it (for a per-function endpoint).
    pub function: &'static str,
    /// The method.
    pub method: Method,
    /// The path, from `/v1`.
    pub path: String,
    /// The JSON body. Zeroed on drop: it may hold a card number.
    pub body: Option<Zeroizing<Vec<u8>>>,
    /// What a success looks like.
    pub expect: Expect,
}

impl Operation {
    /// Checks the arguments, reads the card number if the operation takes
    /// one, and builds the request. Nothing is sent.
    pub fn plan(&self, stdin: &mut dyn Read) -> Result<Planned, CliError> {
        let planned = |function, method, path: &str, body, expect| Planned {
            function,
            method,
            path: path.to_owned(),
            body,
            expect,
        };
        match self {
            Operation::Tokenize {
                format,
                file,
                metadata,
                no_dedupe,
                ttl_seconds,
                expires,
            } => {
                let metadata = metadata.as_deref().map(metadata_arg).transpose()?;
                let pan = read_pan(file.as_deref(), stdin)?;
                let body = json(&TokenizeBody {
                    pan: pan.expose_digits(),
                    format: format.map(Format::name),
                    ttl_seconds: *ttl_seconds,
                    expires: expires.as_deref(),
                    metadata: metadata.as_ref(),
                    dedupe: no_dedupe.then_some(false),
                })?;
                Ok(planned(
                    "tokenize",
                    Method::POST,
                    "/v1/tokens",
                    Some(body),
                    Expect::Facts,
                ))
            }
            Operation::Lookup { format, file } => {
                let pan = read_pan(file.as_deref(), stdin)?;
                let body = json(&LookupBody {
                    pan: pan.expose_digits(),
                    format: format.map(Format::name),
                })?;
                Ok(planned(
                    "tokenize",
                    Method::POST,
                    "/v1/tokens/lookup",
                    Some(body),
                    Expect::Facts,
                ))
            }
            Operation::Detokenize { token, reason } => {
                let token = token_arg(token)?;
                if contains_card_number(reason) {
                    return Err(CliError::Refused(
                        "--reason: a reason must not hold a card number".into(),
                    ));
                }
                let body = json(&DetokenizeBody {
                    token: token.as_str(),
                    reason,
                })?;
                Ok(planned(
                    "detokenize",
                    Method::POST,
                    "/v1/detokenize",
                    Some(body),
                    Expect::Pan,
                ))
            }
            Operation::Describe { token } => {
                let token = token_arg(token)?;
                Ok(planned(
                    "tokenize",
                    Method::GET,
                    &format!("/v1/tokens/{}", token.as_str()),
                    None,
                    Expect::Facts,
                ))
            }
            Operation::Delete { token } => {
                let token = token_arg(token)?;
                Ok(planned(
                    "admin",
                    Method::DELETE,
                    &format!("/v1/tokens/{}", token.as_str()),
                    None,
                    Expect::Nothing(token),
                ))
            }
        }
    }
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
