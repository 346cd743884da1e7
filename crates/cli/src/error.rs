//! What can stop a command. Never carries a PAN, a key or a fingerprint.

use tessera_aws::config::ConfigError;
use tessera_aws::secrets::SecretError;
use tessera_core::{KeyError, VaultError};

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Settings are missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The fingerprint key could not be read or written.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// KMS failed.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// A core flow failed.
    #[error(transparent)]
    Core(#[from] tessera_core::Error),
    /// A local file could not be read or written.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        why: String,
    },
    /// The API answered with a problem (`tessera call`).
    #[error("{0}")]
    Problem(crate::call::ProblemReport),
    /// The command refuses to go on, and says why.
    #[error("{0}")]
    Refused(String),
}

impl CliError {
    /// A file error on `path`.
    pub fn file(path: &std::path::Path, why: impl std::fmt::Display) -> CliError {
        CliError::File {
            path: path.display().to_string(),
            why: why.to_string(),
        }
    }
}
