//! Creates the vault's table, key and secret with the template's settings.
//!
//! Used by the dev bootstrap and the end-to-end tests against the local
//! emulator; in AWS the SAM template creates these.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType,
    SseSpecification, SseType, TimeToLiveSpecification,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use base64::Engine;
use tessera_core::{KEY_BYTES, OsRandom, Random};
use zeroize::Zeroizing;

use crate::sdk::AwsClients;

/// A provisioning step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step} failed: {message}")]
pub struct ProvisionError {
    /// Which step.
    pub step: &'static str,
    /// The SDK's message.
    pub message: String,
}

fn failed<E: std::fmt::Debug>(step: &'static str) -> impl FnOnce(E) -> ProvisionError {
    move |e| ProvisionError {
        step,
        message: format!("{e:?}"),
    }
}

/// What to create.
#[derive(Debug, Clone)]
pub struct Names {
    /// The table name.
    pub table: String,
    /// The fingerprint-key secret name.
    pub secret: String,
}

/// What was created.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The table name.
    pub table: String,
    /// The KMS key id.
    pub key_id: String,
    /// The KMS key ARN.
    pub key_arn: String,
    /// The secret ARN.
    pub secret_arn: String,
}

/// Creates a rotating KMS key, the vault table (SSE-KMS on that key, PITR,
/// deletion protection, TTL on `exp`) and the fingerprint-key secret (32
/// random bytes, base64, encrypted with that key).
pub async fn provision(clients: &AwsClients, names: &Names) -> Result<Provisioned, ProvisionError> {
    let key = clients
        .kms
        .create_key()
        .description("Tessera vault key")
        .key_usage(KeyUsageType::EncryptDecrypt)
        .key_spec(KeySpec::SymmetricDefault)
        .send()
        .await
        .map_err(failed("kms:CreateKey"))?;
    let meta = key
        .key_metadata()
        .ok_or_else(|| failed("kms:CreateKey")("no key metadata"))?;
    let (key_id, key_arn) = (
        meta.key_id().to_owned(),
        meta.arn().unwrap_or_default().to_owned(),
    );
    clients
        .kms
        .enable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .map_err(failed("kms:EnableKeyRotation"))?;

    let pk = "pk";
    clients
        .dynamodb
        .create_table()
        .table_name(&names.table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(pk)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(failed("dynamodb:CreateTable"))?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("tok")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(failed("dynamodb:CreateTable"))?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(pk)
                .key_type(KeyType::Hash)
                .build()
                .map_err(failed("dynamodb:CreateTable"))?,
        )
        // Which index items name a token (erase, re-index): records keep no
        // fingerprint. As infra/template.yaml declares it.
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(crate::dynamo::TOKEN_INDEX)
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("tok")
                        .key_type(KeyType::Hash)
                        .build()
                        .map_err(failed("dynamodb:CreateTable"))?,
                )
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .map_err(failed("dynamodb:CreateTable"))?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(
            SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .kms_master_key_id(&key_arn)
                .build(),
        )
        .deletion_protection_enabled(true)
        .send()
        .await
        .map_err(failed("dynamodb:CreateTable"))?;
    clients
        .dynamodb
        .update_time_to_live()
        .table_name(&names.table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("exp")
                .enabled(true)
                .build()
                .map_err(failed("dynamodb:UpdateTimeToLive"))?,
        )
        .send()
        .await
        .map_err(failed("dynamodb:UpdateTimeToLive"))?;
    clients
        .dynamodb
        .update_continuous_backups()
        .table_name(&names.table)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .map_err(failed("dynamodb:UpdateContinuousBackups"))?,
        )
        .send()
        .await
        .map_err(failed("dynamodb:UpdateContinuousBackups"))?;

    let mut raw = Zeroizing::new([0u8; KEY_BYTES]);
    OsRandom.fill(raw.as_mut());
    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(raw.as_ref()));
    let secret = clients
        .secrets
        .create_secret()
        .name(&names.secret)
        .description("Tessera PAN fingerprint (HMAC) key: 32 random bytes, base64")
        .kms_key_id(&key_arn)
        .secret_string(encoded.as_str())
        .send()
        .await
        .map_err(failed("secretsmanager:CreateSecret"))?;
    Ok(Provisioned {
        table: names.table.clone(),
        key_id,
        key_arn,
        secret_arn: secret.arn().unwrap_or(&names.secret).to_owned(),
    })
}

/// A record to seed: a chosen token for a (test) PAN, so sample events can name it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// The token to store the PAN under.
    pub token: String,
    /// The PAN (a published test-card number).
    pub pan: String,
    /// `opaque` (default) or `fpe`.
    #[serde(default)]
    pub format: Option<String>,
    /// Caller metadata.
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// Imports fixtures through the core's [`tessera_core::Tokenizer::import`]:
/// the same validation, encryption and index as a live tokenize.
pub async fn import_fixtures(
    tokenizer: &tessera_core::Tokenizer,
    fixtures: &[Fixture],
) -> Result<usize, ProvisionError> {
    use tessera_core::{Metadata, Pan, Token, TokenFormat, TokenizeRequest};
    let bad = |why: String| ProvisionError {
        step: "import fixture",
        message: why,
    };
    for (i, f) in fixtures.iter().enumerate() {
        let pan = Pan::parse(&f.pan).map_err(|e| bad(format!("fixture {i}: {e}")))?;
        let token = Token::parse(&f.token).map_err(|e| bad(format!("fixture {i}: {e}")))?;
        let format = match f.format.as_deref() {
            None => TokenFormat::Opaque,
            Some(name) => TokenFormat::from_name(name)
                .ok_or_else(|| bad(format!("fixture {i}: unknown format")))?,
        };
        let request = TokenizeRequest {
            format,
            metadata: Metadata::new(f.metadata.clone())
                .map_err(|e| bad(format!("fixture {i}: {e}")))?,
            ..TokenizeRequest::new(pan)
        };
        tokenizer
            .import(token, &request)
            .await
            .map_err(|e| bad(format!("fixture {i}: {e}")))?;
    }
    Ok(fixtures.len())
}
