//! The scheduled `reconcile` Lambda function (EventBridge, every 15 minutes):
//! CloudTrail's vault reads against the functions' audit events
//! (`tessera_lambda::reconcile`, docs/audit.md).

use tessera_aws::config::EnvReader;
use tessera_aws::sdk::load_operator_sdk_config;
use tessera_aws::trail::{LogsAuditLog, S3TrailStore, s3_client};
use tessera_core::Clock;
use tessera_lambda::reconcile::{Settings, run_once, to_emf};
use tessera_lambda::telemetry;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let settings = Settings::from_env(EnvReader::from_env())?;
    // The operator budgets: a run reads many objects, nothing waits on it.
    let sdk = load_operator_sdk_config().await;
    let store = S3TrailStore::new(s3_client(&sdk), &settings.trail.bucket);
    let logs = LogsAuditLog::new(&sdk);
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        |_event: lambda_http::LambdaEvent<serde_json::Value>| {
            let (settings, store, logs) = (&settings, &store, &logs);
            async move {
                let now = tessera_core::SystemClock.now_millis();
                let report = run_once(settings, store, logs, now).await?;
                // The summary masks card numbers and shows tokens as hints.
                for line in report.render().lines() {
                    tracing::warn!(target: "reconcile", "{line}");
                }
                println!("{}", to_emf(&report, now));
                Ok::<_, lambda_http::Error>(serde_json::json!({
                    "clean": report.is_clean(),
                    "findings": report.findings.len() as u64 + report.audits_without_read,
                }))
            }
        },
    ))
    .await
}
