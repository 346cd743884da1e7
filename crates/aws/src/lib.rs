//! AWS adapters for Tessera's ports.
//!
//! - [`DynamoVault`]: the vault on one DynamoDB table (records `t#…`, index items `f#…`).
//! - [`KmsKeyRing`]: data keys from a KMS customer-managed key, bound to an encryption context.
//! - [`secrets::load_fingerprint_key`]: the HMAC key from Secrets Manager, once per cold start.
//! - [`config`]: settings from the environment; [`sdk`]: SDK clients with call counting.
//! - `faults` (feature `fault-injection`, tests only): an interceptor that injects AWS failures.
//! - [`trail`]: the reconciler's sources, the trail bucket (S3) and the log groups (CloudWatch Logs).
//! - [`provision`]: creates the table, key and secret as the SAM template does (dev and tests).

pub mod config;
mod dynamo;
mod error;
#[cfg(feature = "fault-injection")]
pub mod faults;
mod kms;
pub mod provision;
pub mod sdk;
pub mod secrets;
pub mod trail;

pub use dynamo::{DynamoVault, TOKEN_INDEX, projections};
pub use kms::KmsKeyRing;
pub use sdk::{AwsClients, CallCounter, CallCounts};
