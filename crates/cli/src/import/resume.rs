//! Running an import over a file: chunk by chunk, resuming from a
//! checkpoint bound to the file's SHA-256.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{ImportState, ImportSummary, Importer};
use crate::CliError;
use crate::checkpoint::Checkpoint;
use crate::rows::ImportRow;

/// The SHA-256 of a file's contents, hex.
pub fn file_sha256(path: &Path) -> Result<String, CliError> {
    let mut file = std::fs::File::open(path).map_err(|e| CliError::file(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buf).map_err(|e| CliError::file(path, e))?;
        if read == 0 {
            break;
        }
        hasher.update(buf.get(..read).unwrap_or_default());
    }
    // The buffer held card numbers.
    zeroize::Zeroize::zeroize(&mut buf);
    Ok(hex_digest(&hasher.finalize()))
}

fn hex_digest(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Rows per chunk.
    pub chunk_rows: usize,
    /// At most this many rows a second (`None`: as fast as the vault allows).
    pub max_rate: Option<f64>,
    /// Where the checkpoint lives.
    pub checkpoint: Checkpoint,
}

/// What reports a running import: progress and rejected rows.
pub trait Reporter {
    /// `rows` more rows were handled.
    fn advance(&self, rows: u64);
    /// A row was refused.
    fn reject(&self, row: u64, why: &str);
}

/// Imports `rows` (read from `source`), resuming from the checkpoint.
pub async fn run(
    importer: &Importer,
    source: &Path,
    rows: impl Iterator<Item = (u64, Result<ImportRow, String>)>,
    options: &ImportOptions,
    reporter: &dyn Reporter,
) -> Result<ImportSummary, CliError> {
    let digest = file_sha256(source)?;
    let name = source.display().to_string();
    let mut state: ImportState = match options.checkpoint.load::<ImportState>()? {
        Some(state) if state.source_sha256 == digest => state,
        Some(_) => {
            return Err(CliError::Refused(format!(
                "the checkpoint {} belongs to another input file (its SHA-256 differs); remove it to start over",
                options.checkpoint.path().display()
            )));
        }
        None => ImportState {
            source: name,
            source_sha256: digest,
            ..ImportState::default()
        },
    };
    reporter.advance(state.done_rows);
    let started = Instant::now();
    let mut handled: u64 = 0;
    let resume_after = state.done_rows;
    let mut rows = rows.skip_while(|(n, _)| *n <= resume_after).peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(options.chunk_rows.max(1)).collect();
        let last = chunk.last().map(|(n, _)| *n).unwrap_or(state.done_rows);
        let plan = importer.plan(chunk, &state.pending).await?;
        state.pending = plan.tokens.clone();
        options.checkpoint.save(&state)?;
        let refused = importer.write(&plan).await?;
        let mut rejects = plan.rejects.clone();
        rejects.extend(refused.iter().cloned());
        rejects.sort_by_key(|(n, _)| *n);
        for (n, why) in &rejects {
            reporter.reject(*n, why);
        }
        let refused = u64::try_from(refused.len()).unwrap_or(u64::MAX);
        let s = &mut state.summary;
        s.imported += plan.summary.imported.saturating_sub(refused);
        s.deduplicated += plan.summary.deduplicated;
        s.rejected += plan.summary.rejected + refused;
        s.resumed += plan.summary.resumed;
        let rows_in_chunk = last - state.done_rows;
        state.done_rows = last;
        state.pending.clear();
        options.checkpoint.save(&state)?;
        reporter.advance(rows_in_chunk);
        handled += rows_in_chunk;
        if let Some(rate) = options.max_rate.filter(|r| *r > 0.0) {
            // Bounded rate: never ahead of `rate` rows a second on average.
            let due = Duration::from_secs_f64(handled as f64 / rate);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    Ok(state.summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_of_the_contents_not_the_name_or_length() {
        let dir = std::env::temp_dir().join(format!("tessera-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (one, two) = (dir.join("one"), dir.join("two"));
        std::fs::write(&one, b"{\"pan\":\"4111111111111111\"}\n").expect("one");
        std::fs::write(&two, b"{\"pan\":\"5555555555554444\"}\n").expect("two");
        let (a, b) = (file_sha256(&one).expect("a"), file_sha256(&two).expect("b"));
        assert_ne!(a, b, "same length, other contents");
        std::fs::write(&two, b"").expect("empty");
        assert_eq!(
            file_sha256(&two).expect("empty"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
