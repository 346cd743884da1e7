//! Dev bootstrap: on a local AWS emulator, creates the vault's table, KMS key
//! and fingerprint-key secret as the SAM template does, seeds the fixture
//! tokens that the sample events name, and writes the settings to an env file.
//!
//! Usage: `tessera-bootstrap [--env-file PATH] [--fixtures PATH] [--table NAME] [--secret NAME]`
//! Refuses to run unless `AWS_ENDPOINT_URL` is a loopback address.

use std::process::ExitCode;
use std::sync::Arc;

use tessera_aws::config::{FINGERPRINT_SECRET_ID, KMS_KEY_ID, TABLE};
use tessera_aws::provision::{Fixture, Names, import_fixtures, provision};
use tessera_aws::sdk::{endpoint_is_loopback, load_sdk_config};
use tessera_aws::secrets::load_fingerprint_key;
use tessera_aws::{AwsClients, DynamoVault, KmsKeyRing};
use tessera_core::{CacheLimits, Fingerprinter, Ports, SystemClock, ThreadRandom, Tokenizer};

struct Args {
    env_file: Option<String>,
    fixtures: Option<String>,
    table: String,
    secret: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        env_file: None,
        fixtures: None,
        table: "tessera-vault-dev".into(),
        secret: "tessera/fingerprint-key-dev".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--env-file" => args.env_file = Some(value()?),
            "--fixtures" => args.fixtures = Some(value()?),
            "--table" => args.table = value()?,
            "--secret" => args.secret = value()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

async fn run(args: Args) -> Result<(), String> {
    let sdk = load_sdk_config().await;
    if !endpoint_is_loopback(&sdk) {
        return Err(
            "AWS_ENDPOINT_URL must point at a loopback emulator; use the SAM template for AWS"
                .into(),
        );
    }
    let clients = AwsClients::new(&sdk);
    let names = Names {
        table: args.table,
        secret: args.secret,
    };
    let made = provision(&clients, &names)
        .await
        .map_err(|e| e.to_string())?;
    let settings = format!(
        "{TABLE}={}\n{KMS_KEY_ID}={}\n{FINGERPRINT_SECRET_ID}={}\n",
        made.table, made.key_arn, made.secret_arn
    );
    if let Some(path) = &args.fixtures {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
        let fixtures: Vec<Fixture> =
            serde_json::from_str(&text).map_err(|e| format!("parsing {path}: {e}"))?;
        let key = load_fingerprint_key(&clients.secrets, &made.secret_arn)
            .await
            .map_err(|e| e.to_string())?;
        let ports = Ports {
            clock: Arc::new(SystemClock),
            rng: Arc::new(ThreadRandom),
            vault_id: made.table.clone(),
        };
        let keyring = Arc::new(KmsKeyRing::new(
            clients.kms.clone(),
            &made.key_arn,
            &made.table,
        ));
        let tokenizer = Tokenizer::new(
            ports,
            Arc::new(DynamoVault::new(clients.dynamodb.clone(), &made.table)),
            keyring,
            Fingerprinter::new(&key),
            CacheLimits::default(),
        );
        let n = import_fixtures(&tokenizer, &fixtures)
            .await
            .map_err(|e| e.to_string())?;
        eprintln!("seeded {n} fixture tokens from {path}");
    }
    match &args.env_file {
        Some(path) => {
            std::fs::write(path, &settings).map_err(|e| format!("writing {path}: {e}"))?
        }
        None => print!("{settings}"),
    }
    eprintln!(
        "provisioned table {}, key {}, secret {}",
        made.table, made.key_id, made.secret_arn
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let result = match parse_args() {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera-bootstrap: {e}");
            ExitCode::FAILURE
        }
    }
}
