//! Reconciles Tessera's own audit events with CloudTrail, so that a card read
//! that bypassed the functions is found and an assessor can check the audit
//! log instead of trusting it (issue 24, `docs/audit.md`).
//!
//! Pure: no AWS, no network, no clock. The trail bucket and the log groups
//! are reached through the ports in [`run`] ([`TrailStore`], [`AuditLog`]);
//! `tessera-aws` implements them on S3 and CloudWatch Logs, the CLI and the
//! scheduled function wire them up.
//!
//! - [`integrity`]: CloudTrail log file integrity validation: each digest
//!   file's SHA256withRSA signature over CloudTrail's signing string, the
//!   chain of digests, each log file's SHA-256.
//! - [`cloudtrail`]: a log file's records, as the vault sees them: which
//!   calls can reveal a PAN, by whom, on which token (its hint only).
//! - [`audit`]: the functions' audit lines.
//! - [`matcher`]: every PAN-revealing read matched to the audit event that
//!   explains it, streamed, in memory bounded by the time bound, not the window.
//! - [`report`]: findings and the summary an assessor files; never a PAN,
//!   tokens only as hints.

pub mod audit;
pub mod cloudtrail;
pub mod integrity;
pub mod matcher;
pub mod report;
pub mod run;
pub mod scope;
pub mod time;

pub use report::{Finding, Report};
pub use run::{AuditLog, Options, Progress, SourceError, TrailObject, TrailStore, reconcile};
pub use scope::{FunctionRole, Scope, TrailLocation};

#[cfg(test)]
mod tests;
