//! SDK configuration and clients, with an interceptor that counts calls.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Whole-operation budget, retries included; well under the function timeout
/// so a slow dependency becomes a clean 503, not a Lambda timeout.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt's budget; the SDK's standard retry strategy does the rest.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
/// Connecting should be fast in-region (or through a VPC endpoint).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Loads the SDK configuration from the environment (region, credentials,
/// and `AWS_ENDPOINT_URL` for local runs) with Tessera's timeouts.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(OPERATION_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .load()
        .await
}

/// Budgets for the operator CLI: a scan page of a large table may take
/// seconds, and nothing waits on it but the operator.
const OPERATOR_OPERATION_TIMEOUT: Duration = Duration::from_secs(120);
/// One attempt of an operator call.
const OPERATOR_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The SDK configuration for the operator CLI: as [`load_sdk_config`], with
/// longer budgets.
pub async fn load_operator_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(OPERATOR_OPERATION_TIMEOUT)
                .operation_attempt_timeout(OPERATOR_ATTEMPT_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .load()
        .await
}

/// Whether the SDK is pointed at a loopback endpoint (a local emulator).
pub fn endpoint_is_loopback(sdk: &SdkConfig) -> bool {
    sdk.endpoint_url().is_some_and(is_loopback_url)
}

/// Whether a URL's host is 127.0.0.0/8, `localhost` or `[::1]`.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or("");
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Counts SDK operations by name (one per operation, however many retries).
/// Feeds the "KMS calls" metric and lets tests prove call budgets.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>);

/// A snapshot of a [`CallCounter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallCounts(pub BTreeMap<String, u64>);

impl CallCounts {
    /// Calls of one operation, e.g. `"GetItem"` or `"GenerateDataKey"`.
    pub fn get(&self, operation: &str) -> u64 {
        self.0.get(operation).copied().unwrap_or(0)
    }

    /// Calls made since `earlier`, per operation (zero counts left out).
    pub fn since(&self, earlier: &CallCounts) -> CallCounts {
        CallCounts(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v - earlier.get(k)))
                .filter(|(_, v)| *v > 0)
                .collect(),
        )
    }
}

impl CallCounter {
    /// The counts so far.
    pub fn snapshot(&self) -> CallCounts {
        CallCounts(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "TesseraCallCounter"
    }

    // Once per operation, after the operation's own configuration (which
    // holds its name) is in the bag; `read_before_execution` runs too early.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            *self
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(meta.name().to_owned())
                .or_default() += 1;
        }
        Ok(())
    }
}

/// The three service clients, sharing one configuration and one call counter.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// KMS.
    pub kms: aws_sdk_kms::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// Counts every operation the clients make.
    pub counter: CallCounter,
}

impl AwsClients {
    /// Builds the clients from an SDK configuration.
    pub fn new(sdk: &SdkConfig) -> AwsClients {
        AwsClients::build(sdk, None)
    }

    /// Builds the clients with one more interceptor on each (the tests' fault
    /// injector); it runs after the call counter.
    pub fn with_interceptor(sdk: &SdkConfig, extra: impl Intercept + 'static) -> AwsClients {
        AwsClients::build(sdk, Some(SharedInterceptor::new(extra)))
    }

    fn build(sdk: &SdkConfig, extra: Option<SharedInterceptor>) -> AwsClients {
        let counter = CallCounter::default();
        let mut dynamodb =
            aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(counter.clone());
        let mut kms = aws_sdk_kms::config::Builder::from(sdk).interceptor(counter.clone());
        let mut secrets =
            aws_sdk_secretsmanager::config::Builder::from(sdk).interceptor(counter.clone());
        if let Some(extra) = extra {
            dynamodb.push_interceptor(extra.clone());
            kms.push_interceptor(extra.clone());
            secrets.push_interceptor(extra);
        }
        AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            kms: aws_sdk_kms::Client::from_conf(kms.build()),
            secrets: aws_sdk_secretsmanager::Client::from_conf(secrets.build()),
            counter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_url;

    #[test]
    fn loopback_detection() {
        for yes in [
            "http://127.0.0.1:5000",
            "http://localhost:5000/",
            "http://[::1]:80",
            "http://127.9.9.9",
        ] {
            assert!(is_loopback_url(yes), "{yes}");
        }
        for no in [
            "https://dynamodb.eu-west-1.amazonaws.com",
            "http://10.0.0.1:5000",
            "http://127.0.0.1.evil.com",
            "http://127.0.0.1@evil.com",
            "http://localhost.evil.com",
            "",
        ] {
            assert!(!is_loopback_url(no), "{no}");
        }
    }
}
