//! Cold start: configuration, SDK clients and keys, loaded once per instance.

use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use tessera_aws::config::{ConfigError, EnvReader, FINGERPRINT_SECRET_ID, KMS_KEY_ID, TABLE};
use tessera_aws::sdk::{endpoint_is_loopback, load_sdk_config};
use tessera_aws::secrets::load_fingerprint_key;
use tessera_aws::{AwsClients, DynamoVault, KmsKeyRing};
use tessera_core::{
    CacheLimits, Detokenizer, Eraser, Fingerprinter, Ports, SystemClock, ThreadRandom, Tokenizer,
};
use tracing::{error, info, warn};

use crate::app::{App, Service};
use crate::auth::AllowList;
use crate::metrics::{MetricsSink, stdout_sink};
use crate::routes::FunctionKind;

/// Roles allowed on the tokenize routes (comma-separated ARNs).
pub const TOKENIZE_ROLES: &str = "TESSERA_TOKENIZE_ROLES";
/// Roles allowed on the detokenize routes.
pub const DETOKENIZE_ROLES: &str = "TESSERA_DETOKENIZE_ROLES";
/// Roles allowed on the admin route.
pub const ADMIN_ROLES: &str = "TESSERA_ADMIN_ROLES";
/// DEV ONLY: the principal assumed for requests that carry none (plain curl
/// through `cargo lambda watch`). Refused unless the AWS endpoint is loopback;
/// the SAM template must never set it (a cfn-guard rule checks).
pub const DEV_PRINCIPAL: &str = "TESSERA_DEV_PRINCIPAL";

/// Why a function could not start. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Settings missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The dev principal was set against a real AWS endpoint.
    #[error(
        "{DEV_PRINCIPAL} is set but AWS_ENDPOINT_URL is not a loopback address: refusing to start"
    )]
    DevPrincipalOutsideLoopback,
    /// The fingerprint key could not be loaded.
    #[error(transparent)]
    Secret(#[from] tessera_aws::secrets::SecretError),
    /// The vault table is missing or unreachable.
    #[error("vault table check failed: {0}")]
    Table(tessera_core::VaultError),
    /// The KMS key is missing, disabled or unreachable.
    #[error("KMS key check failed: {0}")]
    Key(tessera_core::KeyError),
}

/// Builds a function's app from the environment and an SDK configuration.
pub async fn build_app(
    kind: FunctionKind,
    env: EnvReader<'_>,
    sdk: &SdkConfig,
    metrics: MetricsSink,
) -> Result<App, InitError> {
    let mut env = env;
    let table = env.required(TABLE);
    let roles_var = match kind {
        FunctionKind::Tokenize => TOKENIZE_ROLES,
        FunctionKind::Detokenize => DETOKENIZE_ROLES,
        FunctionKind::Admin => ADMIN_ROLES,
    };
    let allow_text = env.required(roles_var);
    let key_id = (kind != FunctionKind::Admin).then(|| env.required(KMS_KEY_ID));
    let secret_id = (kind == FunctionKind::Tokenize).then(|| env.required(FINGERPRINT_SECRET_ID));
    let dev_principal = env.optional(DEV_PRINCIPAL);
    let allow = match AllowList::parse(&allow_text) {
        Ok(list) => list,
        Err(why) => {
            env.invalid(roles_var, why);
            AllowList::parse("").unwrap_or_else(|_| unreachable!("empty list parses"))
        }
    };
    env.finish()?;
    if dev_principal.is_some() {
        if !endpoint_is_loopback(sdk) {
            return Err(InitError::DevPrincipalOutsideLoopback);
        }
        warn!(
            principal = dev_principal.as_deref().unwrap_or_default(),
            "{DEV_PRINCIPAL} is active: requests without an IAM principal act as this principal (local development only)"
        );
    }

    let clients = AwsClients::new(sdk);
    let vault = Arc::new(DynamoVault::new(clients.dynamodb.clone(), &table));
    vault.check().await.map_err(InitError::Table)?;
    let ports = Ports {
        vault,
        clock: Arc::new(SystemClock),
        rng: Arc::new(ThreadRandom),
        vault_id: table.clone(),
    };
    let keyring = key_id.map(|id| Arc::new(KmsKeyRing::new(clients.kms.clone(), id, &table)));
    if let Some(k) = &keyring {
        k.check().await.map_err(InitError::Key)?;
    }
    let limits = CacheLimits::default();
    let service = match (kind, keyring) {
        (FunctionKind::Tokenize, Some(keyring)) => {
            let secret_id = secret_id.unwrap_or_default();
            let key = load_fingerprint_key(&clients.secrets, &secret_id).await?;
            info!(key_version = key.version(), "fingerprint key loaded");
            Service::Tokenize(Tokenizer::new(
                ports,
                keyring,
                Fingerprinter::new(&key),
                limits,
            ))
        }
        (FunctionKind::Detokenize, Some(keyring)) => {
            Service::Detokenize(Detokenizer::new(ports, keyring, limits))
        }
        _ => Service::Admin(Eraser::new(ports)),
    };
    Ok(App::new(
        service,
        allow,
        dev_principal,
        Some(clients.counter),
        metrics,
    ))
}

/// The whole life of a function binary: telemetry, cold start, then serve.
pub async fn run(kind: FunctionKind) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let started = Instant::now();
    let sdk = load_sdk_config().await;
    let app = match build_app(kind, EnvReader::from_env(), &sdk, stdout_sink()).await {
        Ok(app) => Arc::new(app),
        Err(e) => {
            error!(function = kind.name(), error = %e, "cold start failed");
            return Err(e.into());
        }
    };
    info!(
        function = kind.name(),
        init_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "cold start complete"
    );
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<serde_json::Value>| {
            let app = Arc::clone(&app);
            async move {
                app.handle_event(event.payload, event.context)
                    .await
                    .map_err(lambda_http::Error::from)
            }
        },
    ))
    .await
}
