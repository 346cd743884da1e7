//! Settings: the functions' environment variables, each also a flag.

use std::sync::Arc;

use tessera_aws::secrets::{FingerprintKeys, load_fingerprint_keys};
use tessera_aws::{AwsClients, DynamoVault, KmsKeyRing};
use tessera_core::{
    CacheLimits, DedupScope, Detokenizer, Fingerprinter, OsRandom, Ports, Reindexer, SystemClock,
    Tokenizer,
};

use crate::CliError;

/// Where the vault is, as the functions are configured.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Vault settings (import, rotate-fingerprint-key, rewrap, verify)")]
pub struct Settings {
    /// The vault's DynamoDB table.
    #[arg(long, env = "TESSERA_TABLE", global = true, default_value = "")]
    pub table: String,
    /// The KMS key id or ARN of the vault.
    #[arg(long, env = "TESSERA_KMS_KEY_ID", global = true, default_value = "")]
    pub kms_key_id: String,
    /// The key a planned KMS key rotation moves the vault to: the one key
    /// besides TESSERA_KMS_KEY_ID that `rewrap --to-key` may re-encrypt to
    /// (the stack's ReplacementKmsKeyArn; the rewrap role may use no other).
    #[arg(long, env = "TESSERA_REPLACEMENT_KMS_KEY_ID", global = true)]
    pub replacement_kms_key_id: Option<String>,
    /// The Secrets Manager id of the fingerprint key.
    #[arg(
        long,
        env = "TESSERA_FINGERPRINT_SECRET_ID",
        global = true,
        default_value = ""
    )]
    pub fingerprint_secret_id: String,
    /// The vault id bound into ciphertexts (default: the table name).
    #[arg(long, env = "TESSERA_VAULT_ID", global = true)]
    pub vault_id: Option<String>,
    /// The scope that keeps pre-scope fingerprints.
    #[arg(long, env = "TESSERA_LEGACY_SCOPE", global = true)]
    pub legacy_scope: Option<String>,
    /// Shared dedup scopes, `name=arn,arn;name2=arn` (candidate scopes for re-indexing).
    #[arg(long, env = "TESSERA_DEDUP_SCOPES", global = true)]
    pub dedup_scopes: Option<String>,
    /// Tokenize roles (each its own scope unless shared; candidate scopes too).
    #[arg(long, env = "TESSERA_TOKENIZE_ROLES", global = true)]
    pub tokenize_roles: Option<String>,
}

impl Settings {
    /// Checks that the table and key are set and, when `fingerprints`, the
    /// fingerprint secret too.
    fn require(&self, fingerprints: bool) -> Result<(), CliError> {
        let mut needed = vec![
            ("TESSERA_TABLE", &self.table),
            ("TESSERA_KMS_KEY_ID", &self.kms_key_id),
        ];
        if fingerprints {
            needed.push(("TESSERA_FINGERPRINT_SECRET_ID", &self.fingerprint_secret_id));
        }
        let missing: Vec<&str> = needed
            .iter()
            .filter(|(_, v)| v.trim().is_empty())
            .map(|(k, _)| *k)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(CliError::Refused(format!(
                "missing configuration: {} (set the variable or the flag)",
                missing.join(", ")
            )))
        }
    }

    /// The legacy scope, if configured.
    pub fn legacy(&self) -> Result<Option<DedupScope>, CliError> {
        self.legacy_scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                DedupScope::new(s)
                    .map_err(|e| CliError::Refused(format!("TESSERA_LEGACY_SCOPE: {e}")))
            })
            .transpose()
    }

    /// Every scope a record may have been indexed in: the legacy scope, the
    /// shared scopes, each tokenize role and `default`.
    pub fn candidate_scopes(&self) -> Result<Vec<DedupScope>, CliError> {
        let mut names: Vec<String> = self
            .legacy()?
            .map(|s| s.as_str().to_owned())
            .into_iter()
            .collect();
        for entry in self.dedup_scopes.as_deref().unwrap_or("").split(';') {
            if let Some((name, _)) = entry.split_once('=') {
                names.push(name.trim().to_owned());
            }
        }
        for role in self.tokenize_roles.as_deref().unwrap_or("").split(',') {
            names.push(role.trim().to_owned());
        }
        names.push(DedupScope::default().as_str().to_owned());
        let mut scopes: Vec<DedupScope> = Vec::new();
        for name in names.iter().filter(|n| !n.is_empty()) {
            let scope = DedupScope::new(name)
                .map_err(|e| CliError::Refused(format!("scope `{name}`: {e}")))?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(scopes)
    }
}

/// The vault reached through the AWS adapters, without the fingerprint
/// keys: what `rewrap` and `verify` need, so their roles (`<stack>-operator-rewrap`,
/// `<stack>-operator-verify`) read no secret (with the key and a scan's BIN and
/// last 4, a PAN could be searched for). `import` runs as `<stack>-operator-import`.
pub struct Store {
    /// The SDK clients (with a call counter).
    pub clients: AwsClients,
    /// The DynamoDB adapter.
    pub dynamo: Arc<DynamoVault>,
    /// The KMS adapter.
    pub keyring: Arc<KmsKeyRing>,
    /// Clock, randomness and vault id.
    pub ports: Ports,
}

impl Store {
    /// Connects with `clients` and checks the table.
    pub async fn open(settings: &Settings, clients: AwsClients) -> Result<Store, CliError> {
        settings.require(false)?;
        Store::connect(settings, clients).await
    }

    async fn connect(settings: &Settings, clients: AwsClients) -> Result<Store, CliError> {
        let dynamo = Arc::new(DynamoVault::new(clients.dynamodb.clone(), &settings.table));
        dynamo.check().await?;
        let vault_id = settings
            .vault_id
            .clone()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| settings.table.clone());
        // The encryption context names the vault id, as the functions' does:
        // after a restore into a new table it is the original table's name.
        let keyring = Arc::new(KmsKeyRing::new(
            clients.kms.clone(),
            &settings.kms_key_id,
            &vault_id,
        ));
        Ok(Store {
            ports: Ports {
                clock: Arc::new(SystemClock),
                rng: Arc::new(OsRandom),
                vault_id,
            },
            clients,
            dynamo,
            keyring,
        })
    }
}

impl Store {
    /// A key ring wrapping under `key` (checked by [`crate::keys`]) for
    /// this vault's encryption context.
    pub fn keyring_for(&self, key: &crate::keys::ResolvedKey) -> KmsKeyRing {
        KmsKeyRing::new(self.clients.kms.clone(), &key.arn, &self.ports.vault_id)
    }
}

/// The vault reached through the AWS adapters, with both fingerprint keys.
pub struct Vault {
    /// The SDK clients (with a call counter).
    pub clients: AwsClients,
    /// The DynamoDB adapter.
    pub dynamo: Arc<DynamoVault>,
    /// The KMS adapter.
    pub keyring: Arc<KmsKeyRing>,
    /// Clock, randomness and vault id.
    pub ports: Ports,
    /// AWSCURRENT and AWSPREVIOUS.
    pub keys: FingerprintKeys,
    /// The legacy scope, as the tokenize function has it.
    pub legacy: Option<DedupScope>,
}

impl Vault {
    /// Connects with `clients` and reads the fingerprint keys.
    pub async fn open(settings: &Settings, clients: AwsClients) -> Result<Vault, CliError> {
        settings.require(true)?;
        let Store {
            clients,
            dynamo,
            keyring,
            ports,
        } = Store::connect(settings, clients).await?;
        let keys = load_fingerprint_keys(&clients.secrets, &settings.fingerprint_secret_id).await?;
        Ok(Vault {
            ports,
            legacy: settings.legacy()?,
            clients,
            dynamo,
            keyring,
            keys,
        })
    }

    /// The current key's fingerprinter.
    pub fn current(&self) -> Fingerprinter {
        Fingerprinter::new(&self.keys.current).with_legacy_scope(self.legacy.clone())
    }

    /// The previous key's fingerprinter, during a rotation.
    pub fn previous(&self) -> Option<Fingerprinter> {
        self.keys
            .previous
            .as_ref()
            .map(|k| Fingerprinter::new(k).with_legacy_scope(self.legacy.clone()))
    }

    /// A tokenizer as the tokenize function builds it.
    pub fn tokenizer(&self) -> Tokenizer {
        Tokenizer::new(
            self.ports.clone(),
            self.dynamo.clone(),
            self.keyring.clone(),
            self.current(),
            CacheLimits::default(),
        )
        .with_previous_key(self.previous())
    }

    /// A detokenizer as the detokenize function builds it.
    pub fn detokenizer(&self) -> Detokenizer {
        Detokenizer::new(
            self.ports.clone(),
            self.dynamo.clone(),
            self.keyring.clone(),
            CacheLimits::default(),
        )
    }

    /// A re-indexer from the previous key to the current one.
    pub fn reindexer(&self, candidates: Vec<DedupScope>) -> Reindexer {
        Reindexer::new(
            self.ports.clone(),
            self.dynamo.clone(),
            self.detokenizer(),
            self.current(),
            self.previous(),
        )
        .with_candidate_scopes(candidates)
    }
}
