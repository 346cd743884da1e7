//! The scheduled reconcile function: every [`PERIOD`] it reconciles the
//! window that ended [`DEFAULT_LAG`] ago (digests are hourly and CloudTrail
//! delivers late), logs the assessor's summary and one EMF line whose
//! `UnexplainedReads` the template alarms on. The same code as
//! `tessera audit reconcile` (`tessera-reconcile`), on the same sources.
//!
//! Its role reads the trail bucket and the functions' log groups, nothing of
//! the vault's data or keys (guard rule `reconcile_role_reads_no_vault`).

use serde_json::json;
use tessera_aws::config::{ConfigError, EnvReader};
use tessera_reconcile::integrity::PublicKeys;
use tessera_reconcile::report::Finding;
use tessera_reconcile::run::DEFAULT_BOUND;
use tessera_reconcile::time::{MINUTE, Millis};
use tessera_reconcile::{
    AuditLog, FunctionRole, Options, Report, Scope, SourceError, TrailLocation, TrailStore,
};

use crate::metrics::NAMESPACE;

/// How often the function runs (the template's schedule).
pub const PERIOD: Millis = 15 * MINUTE;
/// How long after a window's end it is reconciled: a log file delivered up to
/// 15 minutes after the window is listed by the next hourly digest, itself
/// delivered up to about 15 minutes late: 15 + 60 + 15, with a margin.
pub const DEFAULT_LAG: Millis = 120 * MINUTE;

/// The function's settings, from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What is reconciled.
    pub scope: Scope,
    /// Where the trail is.
    pub trail: TrailLocation,
    /// The delivery lag allowed.
    pub lag: Millis,
    /// CloudTrail's public keys (`TESSERA_TRAIL_PUBLIC_KEYS`: the output of
    /// `aws cloudtrail list-public-keys`).
    pub keys: PublicKeys,
}

impl Settings {
    /// Reads the same variables as `tessera audit reconcile`.
    pub fn from_env(mut env: EnvReader<'_>) -> Result<Settings, ConfigError> {
        let table = env.required("TESSERA_TABLE");
        let functions = env.required("TESSERA_AUDIT_FUNCTIONS");
        let functions = FunctionRole::parse_list(&functions).unwrap_or_else(|why| {
            env.invalid(
                "TESSERA_AUDIT_FUNCTIONS",
                tessera_core::mask_card_numbers(&why).into_owned(),
            );
            Vec::new()
        });
        let keys = env.required("TESSERA_TRAIL_PUBLIC_KEYS");
        let keys = PublicKeys::from_list_public_keys(&keys).unwrap_or_else(|why| {
            env.invalid("TESSERA_TRAIL_PUBLIC_KEYS", why);
            PublicKeys::default()
        });
        let minutes = |env: &mut EnvReader<'_>, name: &'static str, default: Millis| match env
            .optional(name)
            .map(|v| v.parse::<i64>())
        {
            None => default,
            Some(Ok(m)) if m >= 0 => m * MINUTE,
            Some(_) => {
                env.invalid(name, "a whole number of minutes");
                default
            }
        };
        let lag = minutes(&mut env, "TESSERA_RECONCILE_LAG_MINUTES", DEFAULT_LAG);
        let settings = Settings {
            scope: Scope {
                vault_id: env
                    .optional("TESSERA_VAULT_ID")
                    .unwrap_or_else(|| table.clone()),
                table,
                key_arn: env.required("TESSERA_KMS_KEY_ID"),
                functions,
                operators: env
                    .optional("TESSERA_AUDIT_OPERATOR_ROLES")
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned)
                    .collect(),
                bound: DEFAULT_BOUND,
            },
            trail: TrailLocation {
                bucket: env.required("TESSERA_TRAIL_BUCKET"),
                prefix: env.optional("TESSERA_TRAIL_PREFIX").unwrap_or_default(),
                account: env.required("TESSERA_TRAIL_ACCOUNT"),
                region: env.required("AWS_REGION"),
            },
            lag,
            keys,
        };
        env.finish()?;
        Ok(settings)
    }
}

/// The window a run at `now` reconciles: the [`PERIOD`] that ended `lag`
/// before `now`, aligned to the period so that runs tile time.
pub fn window(now: Millis, lag: Millis) -> (Millis, Millis) {
    let end = now - lag;
    let to = end - end.rem_euclid(PERIOD);
    (to - PERIOD, to)
}

/// The EMF line of a report: `UnexplainedReads` (reads and decrypts),
/// `AuditEventsWithoutRead`, `ForeignPrincipals`, `TrailFindings`,
/// `ReconciledRecords`, dimensioned by function. A log file still awaiting
/// its digest [`DEFAULT_LAG`] after its window is counted as a trail finding:
/// no later run looks at that window again.
pub fn to_emf(report: &Report, timestamp_millis: Millis) -> String {
    let mut unexplained = 0u64;
    let mut without_read = report.audits_without_read;
    let (mut foreign, mut trail) = (0u64, report.awaiting_digest);
    for f in &report.findings {
        match f {
            Finding::UnexplainedReads(u) => unexplained += u.count,
            Finding::AuditWithoutRead(_) => without_read += 1,
            Finding::ForeignPrincipal { .. } => foreign += 1,
            Finding::Trail { .. } => trail += 1,
        }
    }
    json!({
        "_aws": {
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [
                    {"Name": "UnexplainedReads", "Unit": "Count"},
                    {"Name": "AuditEventsWithoutRead", "Unit": "Count"},
                    {"Name": "ForeignPrincipals", "Unit": "Count"},
                    {"Name": "TrailFindings", "Unit": "Count"},
                    {"Name": "ReconciledRecords", "Unit": "Count"},
                ],
            }],
        },
        "Function": "reconcile",
        "UnexplainedReads": unexplained,
        "AuditEventsWithoutRead": without_read,
        "ForeignPrincipals": foreign,
        "TrailFindings": trail,
        "ReconciledRecords": report.records,
    })
    .to_string()
}

/// One scheduled run at `now`: the report of its window.
pub async fn run_once(
    settings: &Settings,
    store: &dyn TrailStore,
    logs: &dyn AuditLog,
    now: Millis,
) -> Result<Report, SourceError> {
    let (from, to) = window(now, settings.lag);
    let options = Options {
        from,
        to,
        lag: settings.lag.min(tessera_reconcile::run::DEFAULT_LAG),
        now,
        keys: settings.keys.clone(),
    };
    tessera_reconcile::reconcile(
        &settings.scope,
        &settings.trail,
        store,
        logs,
        &options,
        &|_| (),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_tile_time_and_trail_the_lag() {
        let now = 1_000 * PERIOD + 7 * MINUTE;
        let (from, to) = window(now, DEFAULT_LAG);
        assert_eq!(to - from, PERIOD);
        assert_eq!(to % PERIOD, 0);
        assert!(to <= now - DEFAULT_LAG && to > now - DEFAULT_LAG - PERIOD);
        assert_eq!(window(now + PERIOD, DEFAULT_LAG).0, to);
    }

    #[test]
    fn settings_read_the_template_environment() {
        let keys = tessera_testkit::trail::TrailKey::generate().list_public_keys();
        // As the template renders TESSERA_AUDIT_FUNCTIONS (a folded block: one line).
        let functions = "tessera-tokenize arn:aws:iam::111122223333:role/tessera-tokenize tessera-TokenizeLogGroup-1; \
                         tessera-detokenize arn:aws:iam::111122223333:role/tessera-detokenize tessera-DetokenizeLogGroup-2";
        let env: std::collections::HashMap<&str, String> = [
            ("TESSERA_TABLE", "vault".to_owned()),
            ("TESSERA_VAULT_ID", "vault-id".to_owned()),
            (
                "TESSERA_KMS_KEY_ID",
                "arn:aws:kms:us-east-1:111122223333:key/k".to_owned(),
            ),
            ("TESSERA_TRAIL_BUCKET", "trail".to_owned()),
            ("TESSERA_TRAIL_ACCOUNT", "111122223333".to_owned()),
            ("TESSERA_TRAIL_PUBLIC_KEYS", keys),
            ("TESSERA_AUDIT_FUNCTIONS", functions.to_owned()),
            ("TESSERA_AUDIT_OPERATOR_ROLES", String::new()),
            ("TESSERA_RECONCILE_LAG_MINUTES", "120".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
        .into_iter()
        .collect();
        let settings =
            Settings::from_env(EnvReader::new(|name| env.get(name).cloned())).expect("settings");
        assert_eq!(settings.scope.functions.len(), 2);
        assert_eq!(
            settings.scope.functions[1].log_group,
            "tessera-DetokenizeLogGroup-2"
        );
        assert_eq!(settings.scope.vault_id, "vault-id");
        assert!(settings.scope.operators.is_empty());
        assert_eq!(settings.lag, DEFAULT_LAG);
        assert_eq!(settings.keys.0.len(), 1);

        let mut broken = env.clone();
        broken.insert("TESSERA_TRAIL_PUBLIC_KEYS", "[]".to_owned());
        broken.insert("TESSERA_AUDIT_FUNCTIONS", "tessera-tokenize".to_owned());
        let err = Settings::from_env(EnvReader::new(|name| broken.get(name).cloned()))
            .expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("TESSERA_TRAIL_PUBLIC_KEYS") && text.contains("TESSERA_AUDIT_FUNCTIONS"),
            "{text}"
        );
    }

    #[test]
    fn the_metric_counts_every_unexplained_read() {
        let mut report = Report::default();
        report.findings.push(Finding::UnexplainedReads(
            tessera_reconcile::report::UnexplainedReads {
                principal: "p".into(),
                session: "s".into(),
                source_ip: String::new(),
                user_agent: String::new(),
                event_name: "GetItem".into(),
                why: "x",
                count: 3,
                first: 0,
                last: 0,
                hints: Vec::new(),
            },
        ));
        report.awaiting_digest = 2;
        let v: serde_json::Value = serde_json::from_str(&to_emf(&report, 5)).expect("json");
        assert_eq!(v["UnexplainedReads"], 3);
        assert_eq!(v["TrailFindings"], 2, "a file no digest listed in time");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Tessera");
    }
}
