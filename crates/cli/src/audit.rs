//! `tessera audit reconcile`: the vault's reads in CloudTrail against the
//! functions' audit events (`tessera-reconcile`; docs/audit.md). Read only:
//! the trail bucket and the log groups, nothing of the vault.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use tessera_reconcile::integrity::PublicKeys;
use tessera_reconcile::run::{DEFAULT_BOUND, DEFAULT_LAG};
use tessera_reconcile::time::parse_rfc3339;
use tessera_reconcile::{
    AuditLog, FunctionRole, Options, Progress, Report, Scope, TrailLocation, TrailStore,
};

use tessera_core::mask_card_numbers;

use crate::CliError;

/// `tessera audit ...`
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Matches every PAN-revealing vault read in CloudTrail to the audit
    /// event that explains it; exits 1 on any finding.
    Reconcile(ReconcileArgs),
}

/// The window and where everything is. Each option has the environment
/// variable the reconcile function is configured with.
#[derive(Args, Debug, Clone)]
pub struct ReconcileArgs {
    /// The window's start (RFC 3339, e.g. 2026-12-08T10:00:00Z).
    #[arg(long)]
    pub from: String,
    /// The window's end (RFC 3339).
    #[arg(long)]
    pub to: String,
    /// The trail bucket.
    #[arg(long, env = "TESSERA_TRAIL_BUCKET")]
    pub bucket: String,
    /// The trail's S3 key prefix, if it has one.
    #[arg(long, env = "TESSERA_TRAIL_PREFIX", default_value = "")]
    pub prefix: String,
    /// The account the trail logs.
    #[arg(long, env = "TESSERA_TRAIL_ACCOUNT")]
    pub account: String,
    /// The vault's region.
    #[arg(long, env = "AWS_REGION")]
    pub region: String,
    /// The vault table.
    #[arg(long, env = "TESSERA_TABLE")]
    pub table: String,
    /// The vault id the data keys' encryption context names (default: the table).
    #[arg(long, env = "TESSERA_VAULT_ID")]
    pub vault_id: Option<String>,
    /// The vault's KMS key ARN.
    #[arg(long, env = "TESSERA_KMS_KEY_ID")]
    pub key_arn: String,
    /// The functions: `name role-arn [log-group]; ...`.
    #[arg(long, env = "TESSERA_AUDIT_FUNCTIONS")]
    pub functions: String,
    /// Operator role ARNs, comma-separated.
    #[arg(long, env = "TESSERA_AUDIT_OPERATOR_ROLES", default_value = "")]
    pub operators: String,
    /// CloudTrail's public keys: the output of `aws cloudtrail list-public-keys`.
    #[arg(long, env = "TESSERA_TRAIL_PUBLIC_KEYS_FILE")]
    pub public_keys: PathBuf,
    /// Seconds CloudTrail may take to deliver a record.
    #[arg(long, default_value_t = DEFAULT_LAG / 1000)]
    pub lag: i64,
    /// Milliseconds a read and its audit event may be apart.
    #[arg(long, default_value_t = DEFAULT_BOUND)]
    pub bound_ms: i64,
}

/// Everything a run needs, parsed from the arguments.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What is reconciled.
    pub scope: Scope,
    /// Where the trail is.
    pub trail: TrailLocation,
    /// The window and keys.
    pub options: Options,
}

/// Parses the arguments (and reads the public keys file).
pub fn plan(args: &ReconcileArgs, now: i64) -> Result<Plan, CliError> {
    // What the operator typed is echoed with card numbers masked: a PAN pasted
    // into the wrong argument stays out of the terminal and CI logs.
    let time = |name: &str, text: &str| {
        parse_rfc3339(text).ok_or_else(|| {
            CliError::Refused(format!(
                "--{name}: not an RFC 3339 time: {:?}",
                mask_card_numbers(text)
            ))
        })
    };
    let (from, to) = (time("from", &args.from)?, time("to", &args.to)?);
    if to <= from {
        return Err(CliError::Refused("--to must be after --from".into()));
    }
    let functions = FunctionRole::parse_list(&args.functions)
        .map_err(|e| CliError::Refused(format!("--functions: {}", mask_card_numbers(&e))))?;
    let keys_text = std::fs::read_to_string(&args.public_keys)
        .map_err(|e| CliError::file(&args.public_keys, e))?;
    let keys = PublicKeys::from_list_public_keys(&keys_text)
        .map_err(|e| CliError::Refused(format!("--public-keys: {e}")))?;
    Ok(Plan {
        scope: Scope {
            table: args.table.clone(),
            vault_id: args.vault_id.clone().unwrap_or_else(|| args.table.clone()),
            key_arn: args.key_arn.clone(),
            functions,
            operators: args
                .operators
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
            bound: args.bound_ms,
        },
        trail: TrailLocation {
            bucket: args.bucket.clone(),
            prefix: args.prefix.clone(),
            account: args.account.clone(),
            region: args.region.clone(),
        },
        options: Options {
            from,
            to,
            lag: args.lag * 1000,
            now,
            keys,
        },
    })
}

/// Runs a plan: the report, or why the sources could not be read.
pub async fn run(
    plan: &Plan,
    store: &dyn TrailStore,
    logs: &dyn AuditLog,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, CliError> {
    tessera_reconcile::reconcile(
        &plan.scope,
        &plan.trail,
        store,
        logs,
        &plan.options,
        progress,
    )
    .await
    .map_err(|e| CliError::Refused(format!("the trail or the logs could not be read: {e}")))
}

/// The exit code of a report: 0 clean, 1 with findings.
pub fn exit_code(report: &Report) -> ExitCode {
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ReconcileArgs {
        ReconcileArgs {
            from: "2026-12-08T10:00:00Z".into(),
            to: "2026-12-08T11:00:00Z".into(),
            bucket: "b".into(),
            prefix: String::new(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            table: "t".into(),
            vault_id: None,
            key_arn: "k".into(),
            functions: String::new(),
            operators: String::new(),
            public_keys: PathBuf::from("/nonexistent/keys.json"),
            lag: 900,
            bound_ms: 10_000,
        }
    }

    #[test]
    fn a_card_number_in_an_argument_is_never_echoed() {
        let mut a = args();
        a.from = "4111 1111 1111 1111".into();
        let text = plan(&a, 0).expect_err("refused").to_string();
        assert!(
            !text.contains("1111 1111 1111") && text.contains("--from"),
            "{text}"
        );
        let mut a = args();
        a.functions = "4111111111111111".into();
        let text = plan(&a, 0).expect_err("refused").to_string();
        assert!(
            !text.contains("4111111111111111") && text.contains("--functions"),
            "{text}"
        );
    }

    #[test]
    fn a_window_must_move_forward() {
        let mut a = args();
        a.to = a.from.clone();
        assert!(plan(&a, 0).is_err());
    }
}
