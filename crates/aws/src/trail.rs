//! The reconciler's sources on AWS: the trail bucket on S3 and the
//! functions' log groups on CloudWatch Logs, read only
//! ([`tessera_reconcile::TrailStore`], [`tessera_reconcile::AuditLog`]).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::operation::get_object::GetObjectError;
use tessera_reconcile::{AuditLog, SourceError, TrailObject, TrailStore};

use crate::sdk::endpoint_is_loopback;

/// The S3 metadata key CloudTrail puts a digest's signature under
/// (`x-amz-meta-signature`; the SDK strips the prefix).
const SIGNATURE_METADATA: &str = "signature";

/// An S3 client for the trail bucket; path-style against a local emulator.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(endpoint_is_loopback(sdk))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The trail bucket.
#[derive(Debug, Clone)]
pub struct S3TrailStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3TrailStore {
    /// The trail in `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: &str) -> S3TrailStore {
        S3TrailStore {
            client,
            bucket: bucket.to_owned(),
        }
    }
}

fn source_error(what: &str, e: impl std::error::Error) -> SourceError {
    let mut text = format!("{what}: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    SourceError(text)
}

#[async_trait]
impl TrailStore for S3TrailStore {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, SourceError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| source_error("s3:ListBucket", e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys.sort();
        Ok(keys)
    }

    async fn get(&self, key: &str) -> Result<Option<TrailObject>, SourceError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(source_error("s3:GetObject", e)),
        };
        let signature = out
            .metadata()
            .and_then(|m| m.get(SIGNATURE_METADATA))
            .cloned();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| source_error("s3:GetObject body", e))?
            .into_bytes()
            .to_vec();
        Ok(Some(TrailObject { body, signature }))
    }
}

/// The functions' log groups.
#[derive(Debug, Clone)]
pub struct LogsAuditLog {
    client: aws_sdk_cloudwatchlogs::Client,
}

impl LogsAuditLog {
    /// On `sdk`.
    pub fn new(sdk: &SdkConfig) -> LogsAuditLog {
        LogsAuditLog::from_client(aws_sdk_cloudwatchlogs::Client::new(sdk))
    }

    /// On a client built by the caller (the tests count its calls).
    pub fn from_client(client: aws_sdk_cloudwatchlogs::Client) -> LogsAuditLog {
        LogsAuditLog { client }
    }
}

#[async_trait]
impl AuditLog for LogsAuditLog {
    async fn lines(
        &self,
        log_group: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, SourceError> {
        let mut lines = Vec::new();
        // FilterLogEvents' end time is inclusive; the port's is not.
        let mut pages = self
            .client
            .filter_log_events()
            .log_group_name(log_group)
            .start_time(start)
            .end_time(end - 1)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| source_error("logs:FilterLogEvents", e))?;
            for event in page.events() {
                if event.timestamp().is_some_and(|t| t >= start && t < end)
                    && let Some(message) = event.message()
                {
                    lines.push(message.to_owned());
                }
            }
        }
        Ok(lines)
    }
}
