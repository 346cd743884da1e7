//! AWS adapters for Tessera's ports.
//!
//! - [`DynamoVault`]: the vault on one DynamoDB table (records `t#…`, index items `f#…`).
//! - [`KmsKeyRing`]: data keys from a KMS customer-managed key, bound to an encryption context.
//! - [`secrets::load_fingerprint_key`]: the HMAC key from Secrets Manager, once per cold start.
//! - [`config`]: settings from the environment; [`sdk`]: SDK clients with call counting.
//! - [`provision`]: creates the table, key and secret as the SAM template does (dev and tests).

pub mod config;
mod dynamo;
mod error;
mod kms;
pub mod provision;
pub mod sdk;
pub mod secrets;

pub use dynamo::DynamoVault;
pub use kms::KmsKeyRing;
pub use sdk::{AwsClients, CallCounter, CallCounts};
