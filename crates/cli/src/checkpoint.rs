//! Checkpoints: where a long command stopped, so a re-run goes on from there.
//!
//! A small JSON file, replaced atomically (a new 0600 file beside it, synced,
//! then renamed, the directory synced), so a crash leaves the old checkpoint
//! or the new one, never half of one. It holds
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
            tessera_core::ScannedItem::WrappedKey { token, .. } => {
                Some(format!("{RECORD_PREFIX}{}", token.as_str()))
            }
            tessera_core::ScannedItem::Facts(f) => {
                Some(format!("{RECORD_PREFIX}{}", f.token.as_str()))
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

    /// Replaces the saved state: written to a temporary file beside it
    /// (created anew, mode 0600: tokens are for the operator only), synced,
    /// renamed over the checkpoint, and the directory synced, so a crash
    /// leaves the old state or the new one, and the rename survives it.
    pub fn save<T: Serialize>(&self, state: &T) -> Result<(), CliError> {
        let bytes = serde_json::to_vec(state).map_err(|e| CliError::file(&self.path, e))?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        // A temporary file a crash left behind (or anything planted there):
        // removed, never written through, as `create_new` refuses it.
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CliError::file(&tmp, e)),
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(|e| CliError::file(&tmp, e))?;
        std::io::Write::write_all(&mut file, &bytes).map_err(|e| CliError::file(&tmp, e))?;
        file.sync_all().map_err(|e| CliError::file(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(|e| CliError::file(&self.path, e))?;
        self.sync_directory()
    }

    /// Syncs the directory holding the checkpoint, so a rename is durable.
    fn sync_directory(&self) -> Result<(), CliError> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        #[cfg(unix)]
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| CliError::file(dir, e))?;
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tessera-checkpoint-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[cfg(unix)]
    #[test]
    fn a_checkpoint_is_written_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp("mode");
        let checkpoint = Checkpoint::at(dir.join("c"));
        checkpoint.save(&vec![1, 2, 3]).expect("save");
        let mode = std::fs::metadata(checkpoint.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        assert_eq!(
            checkpoint.load::<Vec<u8>>().expect("load"),
            Some(vec![1, 2, 3])
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_temporary_file_is_never_written_through() {
        let dir = temp("planted");
        let victim = dir.join("victim");
        std::fs::write(&victim, b"keep").expect("victim");
        let checkpoint = Checkpoint::at(dir.join("c"));
        std::os::unix::fs::symlink(&victim, dir.join("c.tmp")).expect("symlink");
        checkpoint.save(&"state").expect("save");
        assert_eq!(std::fs::read(&victim).expect("read"), b"keep");
        assert_eq!(
            checkpoint.load::<String>().expect("load").as_deref(),
            Some("state")
        );
        assert!(!dir.join("c.tmp").exists(), "nothing left beside it");
    }
}
