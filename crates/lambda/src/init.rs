//! Cold start: configuration, SDK clients and keys, loaded once per instance.

use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use tessera_aws::config::{ConfigError, EnvReader, TABLE};
use tessera_aws::sdk::{endpoint_is_loopback, load_sdk_config};
use tessera_aws::{AwsClients, DynamoVault, KmsKeyRing};
use tessera_core::{Ports, SystemClock, ThreadRandom};
use tracing::{error, info, warn};

use crate::auth::AllowList;
use crate::envelope::App;
use crate::functions::Function;
use crate::metrics::{MetricsSink, stdout_sink};

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

/// What every function has at cold start: the AWS clients and the vault table.
pub struct ColdStart {
    /// The SDK clients.
    pub clients: AwsClients,
    /// The vault table's name, also the vault id bound into version 1 records.
    pub table: String,
}

impl ColdStart {
    /// Clock, randomness and vault id.
    pub fn ports(&self) -> Ports {
        Ports {
            clock: Arc::new(SystemClock),
            rng: Arc::new(ThreadRandom),
            vault_id: self.table.clone(),
        }
    }

    /// The vault table's adapter.
    pub fn vault(&self) -> DynamoVault {
        DynamoVault::new(self.clients.dynamodb.clone(), &self.table)
    }

    /// The KMS key ring for `key_id`, checked usable.
    pub async fn keyring(&self, key_id: &str) -> Result<Arc<KmsKeyRing>, InitError> {
        let keyring = KmsKeyRing::new(self.clients.kms.clone(), key_id, &self.table);
        keyring.check().await.map_err(InitError::Key)?;
        Ok(Arc::new(keyring))
    }
}

/// Builds a function's app from the environment and an SDK configuration.
pub async fn build_app<F: Function>(
    env: EnvReader<'_>,
    sdk: &SdkConfig,
    metrics: MetricsSink,
) -> Result<App<F>, InitError> {
    let mut env = env;
    let table = env.required(TABLE);
    let allow_text = env.required(F::ROLES_VAR);
    let config = F::config(&mut env);
    let dev_principal = env.optional(DEV_PRINCIPAL);
    let allow = AllowList::parse(&allow_text).unwrap_or_else(|why| {
        env.invalid(F::ROLES_VAR, why);
        AllowList::default()
    });
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

    let cold = ColdStart {
        clients: AwsClients::new(sdk),
        table,
    };
    cold.vault().check().await.map_err(InitError::Table)?;
    let function = F::build(config, &cold).await?;
    Ok(App::new(function, allow, dev_principal, metrics))
}

/// The whole life of a function binary: telemetry, cold start, then serve.
pub async fn run<F: Function>() -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let started = Instant::now();
    let sdk = load_sdk_config().await;
    let app = match build_app::<F>(EnvReader::from_env(), &sdk, stdout_sink()).await {
        Ok(app) => Arc::new(app),
        Err(e) => {
            error!(function = F::NAME, error = %e, "cold start failed");
            return Err(e.into());
        }
    };
    info!(
        function = F::NAME,
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
