//! Shared harness for the end-to-end tests: a fresh table, key and secret
//! on the local AWS emulator (moto) for each test, provisioned through the
//! same code as the dev bootstrap.
//!
//! The test command (`scripts/test`) starts moto on 127.0.0.1 and exports
//! `AWS_ENDPOINT_URL`; these tests refuse any non-loopback endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::SdkConfig;
use tessera_aws::config::EnvReader;
use tessera_aws::provision::{Names, Provisioned, provision};
use tessera_aws::sdk::{endpoint_is_loopback, load_sdk_config};
use tessera_aws::secrets::load_fingerprint_key;
use tessera_aws::{AwsClients, DynamoVault, KmsKeyRing};
use tessera_core::{
    CacheLimits, Clock, Detokenizer, Eraser, Fingerprinter, OsRandom, Ports, SystemClock, Tokenizer,
};

/// A role on the tokenize allow-list in tests.
pub const TOKENIZER_ROLE: &str = "arn:aws:iam::111122223333:role/payments-tokenizer";
/// A role on the detokenize allow-list in tests.
pub const DETOKENIZER_ROLE: &str = "arn:aws:iam::111122223333:role/settlement-detokenizer";
/// A role on the admin allow-list in tests.
pub const ADMIN_ROLE: &str = "arn:aws:iam::111122223333:role/tessera-admin";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The SDK configuration for the emulator. Panics, with instructions, when
/// the endpoint is not set or not loopback.
pub async fn sdk() -> SdkConfig {
    let sdk = load_sdk_config().await;
    assert!(
        endpoint_is_loopback(&sdk),
        "AWS_ENDPOINT_URL must point at the local emulator (127.0.0.1); run these tests through scripts/test"
    );
    sdk
}

/// A provisioned vault on the emulator.
pub struct Stack {
    /// The SDK configuration.
    pub sdk: SdkConfig,
    /// Clients with a call counter.
    pub clients: AwsClients,
    /// What was created.
    pub made: Provisioned,
}

/// Provisions a new table, key and secret with unique names.
pub async fn stack() -> Stack {
    let sdk = sdk().await;
    let clients = AwsClients::new(&sdk);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let unique = format!("{}-{n}-{}", std::process::id(), SystemClock.now_millis());
    let names = Names {
        table: format!("tessera-test-{unique}"),
        secret: format!("tessera/test-{unique}"),
    };
    let made = provision(&clients, &names)
        .await
        .expect("provision on the emulator");
    Stack { sdk, clients, made }
}

impl Stack {
    /// The vault adapter.
    pub fn vault(&self) -> Arc<DynamoVault> {
        Arc::new(DynamoVault::new(
            self.clients.dynamodb.clone(),
            &self.made.table,
        ))
    }

    /// The key ring adapter, with the table's encryption context.
    pub fn keyring(&self) -> Arc<KmsKeyRing> {
        Arc::new(KmsKeyRing::new(
            self.clients.kms.clone(),
            &self.made.key_arn,
            &self.made.table,
        ))
    }

    /// Ports on this stack with the given clock.
    pub fn ports(&self, clock: Arc<dyn Clock>) -> Ports {
        Ports {
            clock,
            rng: Arc::new(OsRandom),
            vault_id: self.made.table.clone(),
        }
    }

    /// A tokenizer with the stack's fingerprint key.
    pub async fn tokenizer(&self, clock: Arc<dyn Clock>) -> Tokenizer {
        let key = load_fingerprint_key(&self.clients.secrets, &self.made.secret_arn)
            .await
            .expect("fingerprint key");
        Tokenizer::new(
            self.ports(clock),
            self.vault(),
            self.keyring(),
            Fingerprinter::new(&key),
            CacheLimits::default(),
        )
    }

    /// A detokenizer.
    pub fn detokenizer(&self, clock: Arc<dyn Clock>) -> Detokenizer {
        Detokenizer::new(
            self.ports(clock),
            self.vault(),
            self.keyring(),
            CacheLimits::default(),
        )
    }

    /// An eraser.
    pub fn eraser(&self) -> Eraser {
        Eraser::new(self.vault())
    }

    /// The environment a function on this stack would see.
    pub fn env(&self) -> HashMap<String, String> {
        HashMap::from([
            ("TESSERA_TABLE".into(), self.made.table.clone()),
            ("TESSERA_KMS_KEY_ID".into(), self.made.key_arn.clone()),
            (
                "TESSERA_FINGERPRINT_SECRET_ID".into(),
                self.made.secret_arn.clone(),
            ),
            ("TESSERA_TOKENIZE_ROLES".into(), TOKENIZER_ROLE.into()),
            ("TESSERA_DESCRIBE_ROLES".into(), TOKENIZER_ROLE.into()),
            // The tests exercise dedup: the tokenizer is granted its answers.
            ("TESSERA_DEDUP_ROLES".into(), TOKENIZER_ROLE.into()),
            // The fixtures are seeded in the default scope, as the tokenizer's.
            (
                "TESSERA_DEDUP_SCOPES".into(),
                format!("default={TOKENIZER_ROLE}"),
            ),
            ("TESSERA_DETOKENIZE_ROLES".into(), DETOKENIZER_ROLE.into()),
            ("TESSERA_ADMIN_ROLES".into(), ADMIN_ROLE.into()),
            // The sample events' REST API and HTTP API.
            ("TESSERA_API_ID".into(), "abc123,def456".into()),
            ("TESSERA_API_STAGE".into(), "prod,$default".into()),
        ])
    }
}

/// The function ARN the sample events' account invokes, as Lambda sets it.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:tessera";

/// An environment reader over a map.
pub fn env_reader(map: HashMap<String, String>) -> EnvReader<'static> {
    EnvReader::new(move |name| map.get(name).cloned())
}
