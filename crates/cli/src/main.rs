//! `tessera`: the operator CLI. See the crate docs and README "Operator CLI".

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use tessera_aws::AwsClients;
use tessera_aws::sdk::load_operator_sdk_config;
use tessera_aws::secrets::retire_previous_key;
use tessera_aws::trail::{LogsAuditLog, S3TrailStore, s3_client};
use tessera_cli::audit::{self, AuditCommand, ReconcileArgs};
use tessera_cli::call::{self, Console};
use tessera_cli::checkpoint::Checkpoint;
use tessera_cli::cli::{self as args, Command};
use tessera_cli::import::{ImportOptions, Importer, Reporter};
use tessera_cli::rows::{InputFormat, read_rows};
use tessera_cli::settings::{Settings, Store, Vault};
use tessera_cli::{CliError, import, rewrap, rotate, terminal, verify};
use tessera_core::{DedupScope, OsRandom, VaultCheck};

fn bar(len: Option<u64>) -> ProgressBar {
    let bar = ProgressBar::new(len.unwrap_or(0));
    let template = if len.is_some() {
        "{bar:40} {pos}/{len} {per_sec} eta {eta}"
    } else {
        "{spinner} {pos} items {per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

struct BarReporter(ProgressBar);

impl Reporter for BarReporter {
    fn advance(&self, rows: u64) {
        self.0.inc(rows);
    }

    fn reject(&self, row: u64, why: &str) {
        self.0
            .println(terminal::escape(&format!("rejected row {row}: {why}")));
    }
}

async fn run(settings: Settings, command: Command) -> Result<(), CliError> {
    let sdk = load_operator_sdk_config().await;
    let clients = AwsClients::new(&sdk);
    match command {
        Command::RotateFingerprintKey {
            new_key,
            retire,
            page,
            checkpoint,
        } => {
            if new_key {
                settings_check(&settings)?;
                let version =
                    rotate::start_rotation(&clients, &settings.fingerprint_secret_id, &OsRandom)
                        .await?;
                terminal::say(&format!(
                    "new fingerprint key version {version} is AWSCURRENT"
                ));
            }
            let vault = Vault::open(&settings, clients).await?;
            let current = vault.keys.current.version().to_owned();
            let previous = vault.keys.previous.as_ref().map(|k| k.version().to_owned());
            terminal::say(&format!(
                "re-indexing to key version {current} (previous: {})",
                previous.as_deref().unwrap_or("none")
            ));
            let progress = bar(None);
            let reindexer = vault.reindexer(settings.candidate_scopes()?);
            let stats = rotate::reindex(
                vault.dynamo.as_ref(),
                &reindexer,
                &current,
                page,
                &Checkpoint::at(&checkpoint),
                &|n| progress.inc(n),
            )
            .await?;
            progress.finish_and_clear();
            terminal::say(&format!(
                "reindexed {}, already current {}, unindexed {}, expired {}, unknown scope {}, conflicts {}, changed meanwhile {}, failed {}",
                stats.reindexed,
                stats.current,
                stats.unindexed,
                stats.expired,
                stats.unknown_scope,
                stats.conflicts,
                stats.changed,
                stats.failed
            ));
            if retire {
                let Some(previous) = previous else {
                    terminal::say("no AWSPREVIOUS version: nothing to retire");
                    return Ok(());
                };
                let now = vault.ports.clock.now_secs();
                let left = rotate::items_under(vault.dynamo.as_ref(), &previous, now, page).await?;
                if left > 0 || stats.outstanding() > 0 {
                    return Err(CliError::Refused(format!(
                        "not retiring key version {previous}: {left} live index items still use it and {} records are outstanding; run again (after every tokenize function has restarted), then `tessera verify`",
                        stats.outstanding()
                    )));
                }
                retire_previous_key(
                    &vault.clients.secrets,
                    &settings.fingerprint_secret_id,
                    &previous,
                )
                .await?;
                terminal::say(&format!(
                    "retired key version {previous} (AWSPREVIOUS removed)"
                ));
            }
            Ok(())
        }
        Command::Import {
            file,
            scope,
            chunk,
            rate,
            checkpoint,
        } => {
            let scope =
                DedupScope::new(&scope).map_err(|e| CliError::Refused(format!("--scope: {e}")))?;
            let vault = Vault::open(&settings, clients).await?;
            let layout = InputFormat::from_path(&file);
            let total = read_rows(&file, layout, scope.clone())?.count() as u64;
            let checkpoint = checkpoint.unwrap_or_else(|| {
                let mut name = file.clone().into_os_string();
                name.push(".checkpoint");
                PathBuf::from(name)
            });
            let importer = Importer::new(
                vault.tokenizer(),
                vault.previous(),
                vault.dynamo.clone(),
                &vault.ports,
            );
            let options = ImportOptions {
                chunk_rows: chunk,
                max_rate: rate,
                checkpoint: Checkpoint::at(&checkpoint),
            };
            let reporter = BarReporter(bar(Some(total)));
            let rows = read_rows(&file, layout, scope)?;
            let summary = import::run(&importer, &file, rows, &options, &reporter).await?;
            reporter.0.finish();
            terminal::say(&format!(
                "imported {} ({} of them by an interrupted earlier run), deduplicated {}, rejected {}",
                summary.imported + summary.resumed,
                summary.resumed,
                summary.deduplicated,
                summary.rejected
            ));
            Checkpoint::at(&checkpoint).clear()?;
            Ok(())
        }
        Command::Rewrap {
            to_key,
            page,
            checkpoint,
        } => {
            let vault = Store::open(&settings, clients).await?;
            let progress = bar(None);
            let (destination, summary) = rewrap::rewrap_to(
                &vault,
                &settings,
                to_key.as_deref(),
                page,
                &Checkpoint::at(&checkpoint),
                &|n| progress.inc(n),
            )
            .await?;
            progress.finish_and_clear();
            terminal::say(&format!(
                "rewrapped {} records ({} data keys re-encrypted to {}); {} changed meanwhile and left alone",
                summary.records, summary.data_keys, destination.arn, summary.changed
            ));
            Ok(())
        }
        Command::Verify {
            repair,
            checkpoints,
            orphan_age,
            page,
        } => {
            let vault = Store::open(&settings, clients).await?;
            let mut reachable = Vec::new();
            for path in &checkpoints {
                reachable.extend(verify::pending_tokens(&Checkpoint::at(path))?);
            }
            let progress = bar(None);
            let report = verify::check_with(
                vault.dynamo.as_ref(),
                vault.ports.clock.as_ref(),
                page,
                &|n| progress.inc(n),
                VaultCheck::new()
                    .reachable(reachable)
                    .orphan_min_age(orphan_age),
            )
            .await?;
            progress.finish_and_clear();
            terminal::say(&format!(
                "records {}, live index items {}, expired index items {}, dangling {}, records missing their index item {}, orphans {}, tombstones {}, malformed {}",
                report.records,
                report.index_items,
                report.expired_index_items,
                report.dangling.len(),
                report.unindexed_records,
                report.orphans.len(),
                report.tombstones,
                report.malformed.len()
            ));
            for (token, _) in &report.orphans {
                terminal::say(&format!(
                    "orphaned record {}: no index item or checkpoint reaches it",
                    token.as_str()
                ));
            }
            for (entry, why) in &report.dangling {
                // The token only: a fingerprint never leaves the vault.
                terminal::say(&format!(
                    "dangling index item for token {}: {}",
                    entry.token.as_str(),
                    why.as_str()
                ));
            }
            for (pk, why) in &report.malformed {
                let shown = if pk.starts_with("t#") {
                    pk.as_str()
                } else {
                    "an index item"
                };
                terminal::say(&format!("malformed {shown}: {why}"));
            }
            if repair {
                let removed = verify::repair(vault.dynamo.as_ref(), &report).await?;
                terminal::say(&format!(
                    "removed {} dangling index items and {} orphaned records",
                    removed.index_items, removed.orphans
                ));
            } else if !report.dangling.is_empty() || !report.orphans.is_empty() {
                return Err(CliError::Refused(
                    "dangling index items or orphaned records found; run with --repair to remove them".into(),
                ));
            }
            Ok(())
        }
        // `main` runs these before any vault setting is read.
        Command::Call(_) | Command::Audit(_) => Err(CliError::Refused(
            "`call` does not run with the vault commands".into(),
        )),
    }
}

fn settings_check(settings: &Settings) -> Result<(), CliError> {
    if settings.fingerprint_secret_id.trim().is_empty() {
        return Err(CliError::Refused(
            "missing configuration: TESSERA_FINGERPRINT_SECRET_ID".into(),
        ));
    }
    Ok(())
}

async fn reconcile(reconcile_args: &ReconcileArgs) -> ExitCode {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
    )
    .unwrap_or(i64::MAX);
    let plan = match audit::plan(reconcile_args, now) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("{}", terminal::error_line(&e));
            return ExitCode::from(2);
        }
    };
    let sdk = load_operator_sdk_config().await;
    let store = S3TrailStore::new(s3_client(&sdk), &plan.trail.bucket);
    let logs = LogsAuditLog::new(&sdk);
    let progress = bar(None);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {per_sec}") {
        progress.set_style(style);
    }
    let result = audit::run(&plan, &store, &logs, &|p| {
        progress.set_length(p.files_total);
        progress.set_position(p.files);
        progress.set_message(format!(
            "log files {}/{}, records {}",
            p.files, p.files_total, p.records
        ));
    })
    .await;
    progress.finish_and_clear();
    match result {
        Ok(report) => {
            // The summary masks card numbers itself; escape what the trail wrote.
            print!("{}", terminal::escape_lines(&report.render()));
            audit::exit_code(&report)
        }
        Err(e) => {
            eprintln!("{}", terminal::error_line(&e));
            ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match args::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(usage) => {
            // clap lays the text out; what it quotes from argv is escaped.
            let text = terminal::escape_lines(&usage.text);
            if usage.to_stderr {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return ExitCode::from(u8::try_from(usage.code).unwrap_or(2));
        }
    };
    if let Command::Call(call_args) = &cli.command {
        // The standard chain: environment, profile, SSO, web identity,
        // container and instance credentials, as the SDK resolves them.
        let sdk = load_operator_sdk_config().await;
        let mut stdin = std::io::stdin().lock();
        let mut stdout = std::io::stdout().lock();
        let mut stderr = std::io::stderr().lock();
        let mut console = Console {
            stdin: &mut stdin,
            stdout: &mut stdout,
            stderr: &mut stderr,
        };
        return call::execute(call_args, &sdk, &mut console).await;
    }
    if let Command::Audit(AuditCommand::Reconcile(reconcile_args)) = &cli.command {
        return reconcile(reconcile_args).await;
    }
    match run(cli.settings, cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", terminal::error_line(&e));
            ExitCode::FAILURE
        }
    }
}
