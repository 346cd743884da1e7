//! Findings and the summary an assessor files. Never a PAN: tokens appear
//! only as hints (as audit events hint them), and every free text that came
//! from the trail (user agents, session names, keys) has card numbers masked.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use tessera_core::mask_card_numbers;

use crate::time::{Millis, format_rfc3339};

/// At most this many token hints are kept per group of unexplained reads.
pub const HINTS_KEPT: usize = 10;
/// At most this many audit events without a read are listed one by one
/// (all are counted).
pub const LISTED_KEPT: usize = 100;

/// What is wrong with the trail itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TrailIssue {
    /// A digest lists a log file that is not in the bucket.
    MissingLogFile,
    /// A log file's SHA-256 is not the one its digest lists.
    AlteredLogFile,
    /// A log file in the window that no digest lists.
    UnlistedLogFile,
    /// A log file that is not gzip JSON.
    UnreadableLogFile,
    /// A digest that the chain names is not in the bucket.
    MissingDigest,
    /// A digest whose signature, shape or location does not verify.
    InvalidDigest,
    /// Two consecutive digests that do not chain.
    BrokenChain,
    /// No digest covers the end of the window although it should have arrived.
    DigestOverdue,
}

impl TrailIssue {
    fn text(self) -> &'static str {
        match self {
            TrailIssue::MissingLogFile => "log file missing (listed by a digest)",
            TrailIssue::AlteredLogFile => "log file altered (hash differs from its digest)",
            TrailIssue::UnlistedLogFile => "log file listed by no digest",
            TrailIssue::UnreadableLogFile => "log file unreadable",
            TrailIssue::MissingDigest => "digest file missing",
            TrailIssue::InvalidDigest => "digest file does not verify",
            TrailIssue::BrokenChain => "digest chain broken",
            TrailIssue::DigestOverdue => "digest overdue",
        }
    }
}

/// Reads of one kind by one caller that no audit event explains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnexplainedReads {
    /// The role (or identity) ARN.
    pub principal: String,
    /// The role session name.
    pub session: String,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// `userAgent`.
    pub user_agent: String,
    /// `GetItem`, `BatchGetItem`, `Query`, `Scan` or `Decrypt`.
    pub event_name: String,
    /// Why no audit event explains them.
    pub why: &'static str,
    /// How many.
    pub count: u64,
    /// The first and last.
    pub first: Millis,
    /// The last.
    pub last: Millis,
    /// Token hints of the records read (at most [`HINTS_KEPT`]).
    pub hints: Vec<String>,
}

/// An audit event that says a record was read, with no read in the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditWithoutRead {
    /// The function.
    pub function: String,
    /// Its request id.
    pub request_id: String,
    /// The operation.
    pub operation: String,
    /// When.
    pub time: Millis,
    /// The hints with no read.
    pub hints: Vec<String>,
}

/// One finding. Any finding fails the reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Reads no audit event explains.
    UnexplainedReads(UnexplainedReads),
    /// An audit event whose read is not in the trail.
    AuditWithoutRead(AuditWithoutRead),
    /// A principal that is neither a function's role nor an operator role
    /// touched the vault.
    ForeignPrincipal {
        /// The principal.
        principal: String,
        /// Its calls on the table or key.
        count: u64,
        /// The event names.
        events: Vec<String>,
    },
    /// The trail is incomplete or altered.
    Trail {
        /// What.
        issue: TrailIssue,
        /// The S3 key.
        key: String,
        /// More.
        detail: String,
    },
}

fn masked(text: &str) -> String {
    mask_card_numbers(text).into_owned()
}

/// An ARN with card numbers masked in every field but the account id (12
/// digits, which the Luhn check passes one time in ten).
fn masked_arn(arn: &str) -> String {
    if !arn.starts_with("arn:") {
        return masked(arn);
    }
    arn.splitn(6, ':')
        .enumerate()
        .map(|(i, part)| {
            if i == 4 && part.len() == 12 && part.bytes().all(|b| b.is_ascii_digit()) {
                part.to_owned()
            } else {
                masked(part)
            }
        })
        .collect::<Vec<_>>()
        .join(":")
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::UnexplainedReads(u) => write!(
                f,
                "UNEXPLAINED {} x{} by {} (session {}) from {} agent {:?}, {} to {}, tokens …{}: {}",
                u.event_name,
                u.count,
                masked_arn(&u.principal),
                masked(&u.session),
                masked(&u.source_ip),
                masked(&u.user_agent),
                format_rfc3339(u.first),
                format_rfc3339(u.last),
                if u.hints.is_empty() {
                    "(none named)".to_owned()
                } else {
                    u.hints
                        .iter()
                        .map(|h| masked(h))
                        .collect::<Vec<_>>()
                        .join(",…")
                },
                u.why
            ),
            Finding::AuditWithoutRead(a) => write!(
                f,
                "NO READ for audit event {} {} of {} at {}, tokens …{}",
                masked(&a.request_id),
                a.operation,
                a.function,
                format_rfc3339(a.time),
                a.hints
                    .iter()
                    .map(|h| masked(h))
                    .collect::<Vec<_>>()
                    .join(",…")
            ),
            Finding::ForeignPrincipal {
                principal,
                count,
                events,
            } => write!(
                f,
                "FOREIGN PRINCIPAL {} made {count} calls on the vault ({})",
                masked_arn(principal),
                events.join(", ")
            ),
            Finding::Trail { issue, key, detail } => {
                write!(f, "TRAIL {}: {}", issue.text(), masked(key))?;
                if !detail.is_empty() {
                    write!(f, " ({})", masked(detail))?;
                }
                Ok(())
            }
        }
    }
}

/// Counts for one caller (a function, an operator role, or another principal).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerCounts {
    /// PAN-revealing record reads.
    pub reads: u64,
    /// Of them, explained by an audit event.
    pub explained: u64,
    /// Decrypts under the vault's context.
    pub decrypts: u64,
    /// Of them, explained by an audit event.
    pub decrypts_explained: u64,
    /// Other calls on the table or key.
    pub other: u64,
}

/// The outcome of a reconciliation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The window reconciled, `[from, to)`.
    pub from: Millis,
    /// The window's end.
    pub to: Millis,
    /// Log files read and whose hash matched their digest.
    pub log_files_verified: u64,
    /// Log files read in all.
    pub log_files_read: u64,
    /// Digest files whose signature verified.
    pub digests_verified: u64,
    /// Log files not yet listed by a digest (too recent; not a finding).
    pub awaiting_digest: u64,
    /// CloudTrail records read.
    pub records: u64,
    /// Of them, calls on the vault.
    pub vault_calls: u64,
    /// Counts per caller (role ARN or identity).
    pub callers: BTreeMap<String, CallerCounts>,
    /// Audit events read, per function.
    pub audit_events: BTreeMap<String, u64>,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// Audit events without a read, counted beyond the [`LISTED_KEPT`] listed.
    pub audits_without_read: u64,
    /// The most items the matcher held at once (its memory bound, in items).
    pub peak_pending: usize,
}

impl Report {
    /// Whether the reconciliation found nothing.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.audits_without_read == 0
    }

    /// The summary an assessor can file.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Tessera audit reconciliation, window {} to {}",
            format_rfc3339(self.from),
            format_rfc3339(self.to)
        );
        let _ = writeln!(
            out,
            "trail: {} digest files verified (SHA256withRSA, chained), {} of {} log files verified by hash, {} awaiting their digest",
            self.digests_verified,
            self.log_files_verified,
            self.log_files_read,
            self.awaiting_digest
        );
        let _ = writeln!(
            out,
            "records: {} CloudTrail records, {} on the vault",
            self.records, self.vault_calls
        );
        let _ = writeln!(out, "calls on the vault per principal:");
        for (who, c) in &self.callers {
            let _ = writeln!(
                out,
                "  {}: {} PAN-revealing reads ({} explained), {} decrypts ({} explained), {} other",
                masked_arn(who),
                c.reads,
                c.explained,
                c.decrypts,
                c.decrypts_explained,
                c.other
            );
        }
        let _ = writeln!(out, "audit events per function:");
        for (function, n) in &self.audit_events {
            let _ = writeln!(out, "  {function}: {n}");
        }
        let total = self.findings.len() as u64 + self.audits_without_read;
        let _ = writeln!(out, "findings: {total}");
        for f in &self.findings {
            let _ = writeln!(out, "  {f}");
        }
        if self.audits_without_read > 0 {
            let _ = writeln!(
                out,
                "  ... and {} more audit events without a read",
                self.audits_without_read
            );
        }
        let _ = writeln!(
            out,
            "result: {}",
            if self.is_clean() { "CLEAN" } else { "FINDINGS" }
        );
        out
    }
}
