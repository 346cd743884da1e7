//! What tokenize reads at cold start and how it is built from it: the
//! allow-lists' and dedup settings' names, the fingerprint keys and the
//! tokenizer. The capture function is built the same way.

use std::sync::Arc;

use tessera_aws::config::{EnvReader, FINGERPRINT_SECRET_ID, KMS_KEY_ID};
use tessera_aws::secrets::load_fingerprint_keys;
use tessera_core::{CacheLimits, DedupScope, Fingerprinter, Tokenizer};
use tracing::info;

use super::Tokenize;
use crate::auth::AllowList;
use crate::init::{ColdStart, InitError};
use crate::scopes::Scopes;

/// Roles allowed to tokenize and look up (comma-separated ARNs).
pub const TOKENIZE_ROLES: &str = "TESSERA_TOKENIZE_ROLES";
/// Roles allowed to describe a token (BIN, last 4, length): its own list,
/// so systems that only hold tokens never get those facts.
pub const DESCRIBE_ROLES: &str = "TESSERA_DESCRIBE_ROLES";
/// Shared dedup scopes, `name=arn,arn;name2=arn` (see [`crate::scopes`]).
pub const DEDUP_SCOPES: &str = "TESSERA_DEDUP_SCOPES";
/// The scope that keeps pre-scope fingerprints (see [`crate::scopes`]).
pub const LEGACY_SCOPE: &str = "TESSERA_LEGACY_SCOPE";
/// Roles granted dedup answers (comma-separated ARNs): an existing token for
/// a card already tokenized in their scope, and lookup. Any other tokenize
/// role gets a new token for every call, so tokenize tells it nothing about
/// which cards the vault holds (a dedup answer is a membership oracle: with
/// a token's BIN and last 4, about 10^5 calls recover a 16-digit PAN).
pub const DEDUP_ROLES: &str = "TESSERA_DEDUP_ROLES";

/// What the tokenize function reads at cold start.
pub struct Config {
    key_id: String,
    secret_id: String,
    scopes: Scopes,
    legacy_scope: Option<DedupScope>,
    dedup_roles: AllowList,
}

impl Config {
    /// Reads the settings; a bad or missing one is recorded in `env`.
    pub(super) fn read(env: &mut EnvReader<'_>) -> Config {
        let scopes =
            Scopes::parse(&env.optional(DEDUP_SCOPES).unwrap_or_default()).unwrap_or_else(|why| {
                env.invalid(DEDUP_SCOPES, why);
                Scopes::default()
            });
        let legacy_scope = env.optional(LEGACY_SCOPE).and_then(|name| {
            DedupScope::new(&name)
                .map_err(|e| env.invalid(LEGACY_SCOPE, e.to_string()))
                .ok()
        });
        let dedup_roles = AllowList::parse(&env.optional(DEDUP_ROLES).unwrap_or_default())
            .unwrap_or_else(|why| {
                env.invalid(DEDUP_ROLES, why);
                AllowList::default()
            });
        Config {
            key_id: env.required(KMS_KEY_ID),
            secret_id: env.required(FINGERPRINT_SECRET_ID),
            scopes,
            legacy_scope,
            dedup_roles,
        }
    }

    /// The function: the key check and the fingerprint keys, then the tokenizer.
    pub(super) async fn build(self, cold: &ColdStart) -> Result<Tokenize, InitError> {
        // The key check and the secrets fetch at once (see `init::build_app`).
        // AWSCURRENT and, during a rotation, AWSPREVIOUS: index items not yet
        // re-indexed are still found under the previous key.
        let secrets = async {
            load_fingerprint_keys(&cold.clients.secrets, &self.secret_id)
                .await
                .map_err(InitError::from)
        };
        let (keyring, keys) = tokio::try_join!(cold.keyring(&self.key_id), secrets)?;
        info!(
            key_version = keys.current.version(),
            previous_key_version = keys.previous.as_ref().map(|k| k.version()),
            "fingerprint keys loaded"
        );
        let fingerprinter =
            |key| Fingerprinter::new(key).with_legacy_scope(self.legacy_scope.clone());
        let tokenizer = Tokenizer::new(
            cold.ports(),
            Arc::new(cold.vault()),
            keyring,
            fingerprinter(&keys.current),
            CacheLimits::default(),
        )
        .with_previous_key(keys.previous.as_ref().map(fingerprinter));
        Ok(Tokenize::new(tokenizer, self.scopes).with_dedup_roles(self.dedup_roles))
    }
}
