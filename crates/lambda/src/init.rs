//! Cold start: configuration, SDK clients and keys, loaded once per instance.

use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use tessera_aws::config::{ConfigError, EnvReader, TABLE};
#[cfg(feature = "dev-principal")]
use tessera_aws::sdk::endpoint_is_loopback;
use tessera_aws::sdk::load_sdk_config;
use tessera_aws::{AwsClients, DynamoVault, KmsKeyRing};
use tessera_core::{Ports, SystemClock, ThreadRandom};
#[cfg(feature = "dev-principal")]
use tracing::warn;
use tracing::{error, info};

use crate::auth::{AllowList, ApiOrigin};
use crate::envelope::{Access, App};
use crate::functions::Function;
use crate::metrics::{MetricsSink, stdout_sink};

/// DEV ONLY: the principal assumed for requests that carry none (plain curl
/// through `cargo lambda watch`). Exists only in builds with the
/// `dev-principal` feature (which only `scripts/dev` and the tests enable);
/// even there it is refused unless the AWS endpoint is loopback, and the SAM
/// template must never set it (a cfn-guard rule checks).
pub const DEV_PRINCIPAL: &str = "TESSERA_DEV_PRINCIPAL";
/// The API Gateway API id(s) events must come from (comma-separated).
pub const API_ID: &str = "TESSERA_API_ID";
/// The API stage(s) events must come from (comma-separated).
pub const API_STAGE: &str = "TESSERA_API_STAGE";
/// The vault's stable identity, bound into every ciphertext and the KMS
/// encryption context. Defaults to the table's name; keep it when the table
/// is restored under another name, so the restored records still open.
pub const VAULT_ID: &str = "TESSERA_VAULT_ID";

/// Why a function could not start. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Settings missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The dev principal was set in a build without the `dev-principal` feature.
    #[error("{DEV_PRINCIPAL} is set but this build has no dev principal: refusing to start")]
    DevPrincipalNotBuilt,
    /// The dev principal was set against a real AWS endpoint.
    #[error(
        "{DEV_PRINCIPAL} is set but AWS_ENDPOINT_URL is not a loopback address: refusing to start"
    )]
    DevPrincipalOutsideLoopback,
    /// The fingerprint key could not be loaded.
    #[error(transparent)]
    Secret(#[from] tessera_aws::secrets::SecretError),
    /// The vault table is missing or unreachable.
    #[error("vault table {table} check failed: {error}")]
    Table {
        /// The table's name, as configured.
        table: String,
        /// What the check met.
        error: tessera_core::VaultError,
    },
    /// The KMS key is missing, disabled or unreachable.
    #[error("KMS key {key_id} check failed: {error}")]
    Key {
        /// The key id or ARN, as configured.
        key_id: String,
        /// What the check met.
        error: tessera_core::KeyError,
    },
    /// The forward function's egress could not be set up.
    #[error("forward: {0}")]
    Forward(String),
}

/// What every function has at cold start: the AWS clients and the vault table.
pub struct ColdStart {
    /// The SDK clients.
    pub clients: AwsClients,
    /// The vault table's name.
    pub table: String,
    /// The vault's stable identity (see [`VAULT_ID`]).
    pub vault_id: String,
}

impl ColdStart {
    /// Clock, randomness and vault id.
    pub fn ports(&self) -> Ports {
        Ports {
            clock: Arc::new(SystemClock),
            rng: Arc::new(ThreadRandom),
            vault_id: self.vault_id.clone(),
        }
    }

    /// The vault table's adapter.
    pub fn vault(&self) -> DynamoVault {
        DynamoVault::new(self.clients.dynamodb.clone(), &self.table)
    }

    /// The KMS key ring for `key_id`, checked usable.
    pub async fn keyring(&self, key_id: &str) -> Result<Arc<KmsKeyRing>, InitError> {
        let keyring = KmsKeyRing::new(self.clients.kms.clone(), key_id, &self.vault_id);
        keyring.check().await.map_err(|error| InitError::Key {
            key_id: key_id.to_owned(),
            error,
        })?;
        Ok(Arc::new(keyring))
    }
}

/// Builds a function's app from the environment and an SDK configuration.
pub async fn build_app<F: Function>(
    env: EnvReader<'_>,
    sdk: &SdkConfig,
    metrics: MetricsSink,
) -> Result<App<F>, InitError> {
    build_app_on::<F>(env, sdk, AwsClients::new(sdk), metrics).await
}

/// [`build_app`] on clients built by the caller from `sdk` (the fault
/// injection tests add an interceptor to them).
pub async fn build_app_on<F: Function>(
    env: EnvReader<'_>,
    sdk: &SdkConfig,
    clients: AwsClients,
    metrics: MetricsSink,
) -> Result<App<F>, InitError> {
    let mut env = env;
    let table = env.required(TABLE);
    let mut lists = Vec::new();
    for (i, var) in F::ALLOW_LISTS.iter().enumerate() {
        // The function's first list is required; the others may stay empty.
        let text = if i == 0 {
            env.required(var)
        } else {
            env.optional(var).unwrap_or_default()
        };
        let list = AllowList::parse(&text).unwrap_or_else(|why| {
            env.invalid(var, why);
            AllowList::default()
        });
        lists.push((*var, list));
    }
    let origin =
        ApiOrigin::parse(&env.required(API_ID), &env.required(API_STAGE)).unwrap_or_else(|why| {
            env.invalid(API_ID, why);
            ApiOrigin::default()
        });
    let vault_id = env.optional(VAULT_ID).unwrap_or_else(|| table.clone());
    let config = F::config(&mut env);
    let dev_principal = env.optional(DEV_PRINCIPAL);
    env.finish()?;
    let dev_principal = check_dev_principal(dev_principal, sdk)?;

    let cold = ColdStart {
        clients,
        table,
        vault_id,
    };
    // The table check and the function's own checks and key loads run at
    // once: a cold start waits for the slowest call, not for their sum.
    let table_checked = async {
        cold.vault()
            .check()
            .await
            .map_err(|error| InitError::Table {
                table: cold.table.clone(),
                error,
            })
    };
    let ((), function) = tokio::try_join!(table_checked, F::build(config, &cold))?;
    let access = Access {
        origin,
        lists,
        dev_principal,
    };
    Ok(App::new(function, access, metrics))
}

/// The dev principal, where this build has one and the endpoint is loopback.
#[cfg(feature = "dev-principal")]
fn check_dev_principal(
    principal: Option<String>,
    sdk: &SdkConfig,
) -> Result<Option<String>, InitError> {
    if let Some(p) = &principal {
        if !endpoint_is_loopback(sdk) {
            return Err(InitError::DevPrincipalOutsideLoopback);
        }
        warn!(
            principal = p.as_str(),
            "{DEV_PRINCIPAL} is active: requests without an IAM principal act as this principal (local development only)"
        );
    }
    Ok(principal)
}

/// Release builds have no dev principal: setting one is a start-up error.
#[cfg(not(feature = "dev-principal"))]
fn check_dev_principal(
    principal: Option<String>,
    _sdk: &SdkConfig,
) -> Result<Option<String>, InitError> {
    match principal {
        Some(_) => Err(InitError::DevPrincipalNotBuilt),
        None => Ok(None),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs in the release feature set only: `scripts/test` runs this crate's
    /// unit tests alone, where the tests package's `dev-principal` is not unified in.
    #[cfg(not(feature = "dev-principal"))]
    #[test]
    fn a_release_build_refuses_to_start_with_a_dev_principal() {
        let sdk = SdkConfig::builder().build();
        let loopback = SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:5000")
            .build();
        for sdk in [sdk, loopback] {
            assert!(matches!(
                check_dev_principal(Some("arn:aws:iam::111122223333:role/x".into()), &sdk),
                Err(InitError::DevPrincipalNotBuilt)
            ));
            assert!(matches!(check_dev_principal(None, &sdk), Ok(None)));
        }
    }

    #[cfg(feature = "dev-principal")]
    #[test]
    fn a_dev_build_takes_a_dev_principal_on_loopback_only() {
        let remote = SdkConfig::builder()
            .endpoint_url("https://dynamodb.us-east-1.amazonaws.com")
            .build();
        let loopback = SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:5000")
            .build();
        let p = || Some("arn:aws:iam::111122223333:role/x".to_owned());
        assert!(matches!(
            check_dev_principal(p(), &remote),
            Err(InitError::DevPrincipalOutsideLoopback)
        ));
        assert!(matches!(check_dev_principal(p(), &loopback), Ok(Some(_))));
    }
}
