//! Checkpoints: where a long command stopped, so a re-run goes on from there.
//!
//! A small JSON file, replaced atomically (write beside it, then rename), so a
//! crash leaves the old checkpoint or the new one, never half of one. It holds
//! positions, counts and tokens (safe to store anywhere), never a PAN, and
//! never a dedup index key: that names an HMAC of a PAN, which anyone who
//! also holds the fingerprint key could search card numbers against
//! ([`resume_point`]).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::CliError;

/// Where a scan may resume from, as saved in a checkpoint: the page's last
/// key if it is a record's (`t#<token>`), else the last record of the page,
/// else `previous`; `None` once the scan is done. Resuming a little early
/// re-reads index items only, which every scanning command skips.
pub fn resume_point(
    items: &[tessera_core::ScannedItem],
    next: Option<&str>,
    previous: Option<String>,
) -> Option<String> {
    let next = next?;
    if next.starts_with(RECORD_PREFIX) {
        return Some(next.to_owned());
    }
    items
        .iter()
        .rev()
        .find_map(|item| match item {
            tessera_core::ScannedItem::Record(r) => {
                Some(format!("{RECORD_PREFIX}{}", r.token.as_str()))
            }
            _ => None,
        })
        .or(previous)
        .or_else(|| Some(String::new()))
}

/// The partition-key prefix of a record.
const RECORD_PREFIX: &str = "t#";

/// A checkpoint file of state `T`.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    path: PathBuf,
}

impl Checkpoint {
    /// A checkpoint at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Checkpoint {
        Checkpoint { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state, or `None` if there is none.
    pub fn load<T: DeserializeOwned>(&self) -> Result<Option<T>, CliError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| CliError::file(&self.path, format!("not a checkpoint: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CliError::file(&self.path, e)),
        }
    }

    /// Replaces the saved state.
    pub fn save<T: Serialize>(&self, state: &T) -> Result<(), CliError> {
        let bytes = serde_json::to_vec(state).map_err(|e| CliError::file(&self.path, e))?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, bytes).map_err(|e| CliError::file(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| CliError::file(&self.path, e))
    }

    /// Removes the file once the command has finished.
    pub fn clear(&self) -> Result<(), CliError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CliError::file(&self.path, e)),
        }
    }
}
