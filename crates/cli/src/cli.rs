//! The command line: every subcommand's arguments, and parsing that never
//! echoes a card number.
//!
//! No argument takes a PAN: `import` reads them from a file, `call` from
//! stdin or a file. A PAN typed on the command line anyway is a usage error,
//! and clap's message, which quotes the offending argument, is masked before
//! it is shown (the shell history already holds it; the terminal, a CI log or
//! a support ticket need not).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tessera_core::mask_card_numbers;

use crate::audit::AuditCommand;
use crate::call::CallArgs;
use crate::import::DEFAULT_CHUNK_ROWS;
use crate::rotate;
use crate::settings::Settings;

/// Operator tooling for a Tessera vault.
#[derive(Parser, Debug)]
#[command(name = "tessera", version)]
pub struct Cli {
    /// Where the vault is (the vault commands).
    #[command(flatten)]
    pub settings: Settings,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Bulk-imports cards from a CSV or JSON Lines file (pan, token, format, expires, metadata).
    Import {
        /// The file: `.csv` with a header, anything else JSON Lines. PANs are
        /// read only from here, never from the command line.
        file: PathBuf,
        /// The dedup scope the cards are imported into.
        #[arg(long, default_value = "default")]
        scope: String,
        /// Rows per chunk (the unit of the checkpoint; each row is read and
        /// written with its own conditional calls).
        #[arg(long, default_value_t = DEFAULT_CHUNK_ROWS)]
        chunk: usize,
        /// At most this many rows a second.
        #[arg(long)]
        rate: Option<f64>,
        /// The checkpoint file (default: FILE.checkpoint).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Re-indexes records from the previous fingerprint key to the current one.
    RotateFingerprintKey {
        /// First put a new random key version (it becomes AWSCURRENT).
        #[arg(long)]
        new_key: bool,
        /// Afterwards, remove AWSPREVIOUS if nothing is indexed under it any more.
        #[arg(long)]
        retire: bool,
        /// Items per scan page.
        #[arg(long, default_value_t = rotate::DEFAULT_PAGE)]
        page: u32,
        /// The checkpoint file.
        #[arg(long, default_value = "tessera-rotate.checkpoint")]
        checkpoint: PathBuf,
    },
    /// Re-wraps every record's data key under the vault's KMS key, or the replacement key (kms:ReEncrypt).
    Rewrap {
        /// The destination key (default: TESSERA_KMS_KEY_ID); only it or
        /// TESSERA_REPLACEMENT_KMS_KEY_ID, as KMS resolves them.
        #[arg(long)]
        to_key: Option<String>,
        /// Items per scan page.
        #[arg(long, default_value_t = rotate::DEFAULT_PAGE)]
        page: u32,
        /// The checkpoint file.
        #[arg(long, default_value = "tessera-rewrap.checkpoint")]
        checkpoint: PathBuf,
    },
    /// Checks that index items and records agree; read-only unless --repair.
    Verify {
        /// Remove dangling index items and orphaned records.
        #[arg(long)]
        repair: bool,
        /// An interrupted import's checkpoint: the records of its pending
        /// rows are not orphans (a re-run indexes them). Repeatable.
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
        /// How old (seconds) an unreachable record must be to be an orphan,
        /// so an in-flight writer's record never is one.
        #[arg(long, default_value_t = tessera_core::ORPHAN_MIN_AGE_SECS)]
        orphan_age: i64,
        /// Items per scan page.
        #[arg(long, default_value_t = rotate::DEFAULT_PAGE)]
        page: u32,
    },
    /// Calls the deployed API, SigV4-signed with the standard AWS credentials.
    Call(CallArgs),
    /// Checks the audit trail against CloudTrail (read only: the trail bucket and log groups).
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// A command line that did not parse (or asked for help or the version):
/// what to show, where, and the exit code.
#[derive(Debug)]
pub struct Usage {
    /// The message, with every card number in it masked.
    pub text: String,
    /// Whether it belongs on stderr (an error) rather than stdout (help).
    pub to_stderr: bool,
    /// The exit code (2 for a usage error, 0 for help).
    pub code: i32,
}

/// Parses a command line. A usage error's message has every card number
/// masked to its first six and last four digits.
pub fn parse<I, T>(args: I) -> Result<Cli, Usage>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::try_parse_from(args).map_err(|e| {
        let rendered = e.render().to_string();
        let mut text = mask_card_numbers(&rendered).into_owned();
        if text != rendered {
            text.push_str(
                "\nA card number is never taken from the command line: `tessera call` reads it from stdin or --file.\n",
            );
        }
        Usage {
            text,
            to_stderr: e.use_stderr(),
            code: e.exit_code(),
        }
    })
}
