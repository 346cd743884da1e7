//! The vault on one DynamoDB table.
//!
//! Records live at `pk = t#<token>`, dedup index items at `pk = f#<format>#<fp>`
//! (with `tok`, the key of the token index).
//! Attribute names are short to keep items well under 1 KiB (`items`).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, TransactWriteItem,
};
use tessera_core::{
    CreateError, IndexEntry, IndexKey, IssuingVault, Link, ReadingVault, Token, TokenDescription,
    VaultError, VaultRecord,
};

use crate::error::vault_error;

mod admin;
mod items;
mod sessions;

pub use items::TOKEN_INDEX;

/// The attributes each role's reads project, which its IAM policy's
/// `dynamodb:Attributes` conditions must allow (tests/iam_projections.rs).
pub mod projections {
    pub use super::items::{
        DELETE_ATTRIBUTES, DESCRIBE_ATTRIBUTES, IMPORT_ATTRIBUTES, INDEX_ATTRIBUTES,
        REWRAP_SCAN_ATTRIBUTES, VERIFY_SCAN_ATTRIBUTES,
    };
}

use items::{
    DESCRIBE_ATTRIBUTES, INDEX_ATTRIBUTES, Item, RECORD_CONDITION, attr, ciphertext, index_item,
    is_live_item, n, parse_facts, parse_index, parse_record, projection, record_item, record_pk, s,
    void_item,
};

/// Attempts at a `BatchGetItem` whose unprocessed keys remain. The SDK retries
/// failed requests; unprocessed keys come back in a successful response, so
/// re-asking for them is ours to do.
const BATCH_GET_ROUNDS: u32 = 6;
/// First pause before re-asking for unprocessed keys; doubled each round.
const BATCH_GET_BACKOFF: Duration = Duration::from_millis(25);

/// A [`Vault`] on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoVault {
    client: Client,
    table: String,
}

/// A conditional put's outcome: a failed condition becomes `refused`.
fn conditional<T>(
    result: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<PutItemError, aws_smithy_runtime_api::http::Response>,
    >,
    refused: CreateError,
) -> Result<(), CreateError> {
    match result {
        Ok(_) => Ok(()),
        Err(err)
            if matches!(
                err.as_service_error(),
                Some(PutItemError::ConditionalCheckFailedException(_))
            ) =>
        {
            Err(refused)
        }
        Err(err) => Err(CreateError::Vault(vault_error(&err))),
    }
}

/// Keys in one `BatchGetItem` (DynamoDB's limit).
const BATCH_GET_KEYS: usize = 100;

fn is_condition_failure<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// A conditional write's outcome: `true` if applied, `false` if its
/// condition failed, the store's error otherwise.
fn applied<T, E>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, aws_smithy_runtime_api::http::Response>>,
) -> Result<bool, VaultError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if is_condition_failure(&err) => Ok(false),
        Err(err) => Err(vault_error(&err)),
    }
}

/// Which transaction items failed their condition (or conflicted).
fn cancelled_items(err: &TransactWriteItemsError) -> Option<Vec<bool>> {
    match err {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| {
                    matches!(
                        r.code(),
                        Some("ConditionalCheckFailed" | "TransactionConflict")
                    )
                })
                .collect(),
        ),
        _ => None,
    }
}

impl DynamoVault {
    /// Whether the record of `token` carries `link`, asked of DynamoDB with a
    /// transaction's `ConditionCheck`: the caller learns yes or no and writes
    /// nothing. A tombstone and a husk have no `ln`, so they never carry one.
    pub(super) async fn carries_link(
        &self,
        token: &Token,
        link: &Link,
    ) -> Result<bool, VaultError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .condition_expression("#ln = :ln")
            .expression_attribute_names("#ln", attr::LINK)
            .expression_attribute_values(":ln", s(link.to_hex()))
            .build()
            .map_err(|e| VaultError::Other(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .send()
            .await;
        // Only a failed condition is a "no": a transaction conflict (a
        // concurrent erase or rewrap of this record) says nothing about its
        // fingerprint, and answering "no" would replace a valid index item.
        let reason = |e: &TransactWriteItemsError| match e {
            TransactWriteItemsError::TransactionCanceledException(c) => c
                .cancellation_reasons()
                .first()
                .and_then(|r| r.code())
                .map(str::to_owned),
            _ => None,
        };
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error().and_then(reason).as_deref() {
                Some("ConditionalCheckFailed") => Ok(false),
                Some(_) => Err(VaultError::Unavailable(
                    "the record changed during the fingerprint check".to_owned(),
                )),
                None => Err(vault_error(&err)),
            },
        }
    }

    /// The put of an index item, conditioned as tokenize and import both
    /// write them: the key is free, expired (dedup never returns an expired
    /// token), already names this token (this writer's own put, retried by
    /// the SDK after a lost reply), or names `replacing`, a token whose
    /// record the writer found not to carry this fingerprint.
    fn index_put(
        &self,
        index: &IndexEntry,
        now: i64,
        replacing: Option<&Token>,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(index_item(index)))
            .expression_attribute_names("#exp", attr::EXPIRES)
            .expression_attribute_names("#tok", attr::TOKEN)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":tok", s(index.token.as_str()));
        match replacing {
            Some(stale) => put
                .condition_expression(
                    "attribute_not_exists(pk) OR #exp <= :now OR #tok = :tok OR #tok = :stale",
                )
                .expression_attribute_values(":stale", s(stale.as_str())),
            None => {
                put.condition_expression("attribute_not_exists(pk) OR #exp <= :now OR #tok = :tok")
            }
        }
    }

    /// A vault on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoVault {
        DynamoVault {
            client,
            table: table.into(),
        }
    }

    /// The table name (also the vault id bound into every ciphertext).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Checks at start-up that the table exists and is reachable (one
    /// `DescribeTable`), so a lost table fails the cold start clearly.
    pub async fn check(&self) -> Result<(), VaultError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| vault_error(&e))?;
        Ok(())
    }

    async fn get_projected(
        &self,
        pk: AttributeValue,
        names: &[&str],
        consistent: bool,
    ) -> Result<Option<Item>, VaultError> {
        let (expr, map) = projection(names);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, pk)
            .projection_expression(expr)
            .set_expression_attribute_names(Some(map))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| vault_error(&e))?;
        Ok(out.item)
    }

    /// Reads the items at `keys` (distinct, any number) with `BatchGetItem`,
    /// strongly consistent, re-asking for unprocessed keys; absent keys are
    /// simply not returned.
    async fn batch_get(
        &self,
        keys: Vec<AttributeValue>,
        names: Option<&[&str]>,
    ) -> Result<Vec<Item>, VaultError> {
        // BatchGetItem refuses duplicate keys, so ask once per distinct key.
        let mut distinct: Vec<Item> = Vec::new();
        for pk in keys {
            let key = Item::from([(attr::PK.to_owned(), pk)]);
            if !distinct.contains(&key) {
                distinct.push(key);
            }
        }
        let mut found = Vec::new();
        for chunk in distinct.chunks(BATCH_GET_KEYS) {
            let mut wanted = chunk.to_vec();
            let mut pause = BATCH_GET_BACKOFF;
            for round in 0..BATCH_GET_ROUNDS {
                if wanted.is_empty() {
                    break;
                }
                if round > 0 {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                let mut keys = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut wanted)))
                    .consistent_read(true);
                if let Some(names) = names {
                    let (expr, map) = projection(names);
                    keys = keys
                        .projection_expression(expr)
                        .set_expression_attribute_names(Some(map));
                }
                let keys = keys.build().map_err(|e| VaultError::Other(e.to_string()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(|e| vault_error(&e))?;
                found.extend(
                    out.responses
                        .unwrap_or_default()
                        .remove(&self.table)
                        .unwrap_or_default(),
                );
                if let Some(mut rest) = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table))
                {
                    wanted = std::mem::take(&mut rest.keys);
                }
            }
            if !wanted.is_empty() {
                return Err(VaultError::Unavailable(format!(
                    "{} keys still unprocessed after {BATCH_GET_ROUNDS} rounds",
                    wanted.len()
                )));
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl IssuingVault for DynamoVault {
    async fn find_index(&self, key: &IndexKey) -> Result<Option<IndexEntry>, VaultError> {
        // Consistent, so a writer that just lost a race sees the winner.
        self.get_projected(s(key.storage_key()), INDEX_ATTRIBUTES, true)
            .await?
            .map(|item| parse_index(key, &item))
            .transpose()
    }

    /// Only where the token is free, or already holds this very record. The
    /// ciphertext carries a fresh random nonce, so an equal one is our own
    /// earlier attempt: the SDK's retry of a write that was applied but whose
    /// reply was lost (a 500 or a timeout) then succeeds, where it would
    /// otherwise look like a token collision and leave a record no caller
    /// was told about.
    async fn create(&self, record: &VaultRecord) -> Result<(), CreateError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(record)))
            .condition_expression(RECORD_CONDITION)
            .expression_attribute_names("#ct", attr::CIPHERTEXT)
            .expression_attribute_values(":ct", ciphertext(record))
            .send()
            .await;
        conditional(result, CreateError::RecordExists)
    }

    async fn create_index(
        &self,
        index: &IndexEntry,
        now: i64,
        replacing: Option<&Token>,
    ) -> Result<(), CreateError> {
        let result = self.index_put(index, now, replacing).send().await;
        conditional(result, CreateError::IndexExists)
    }

    async fn confirm(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        self.carries_link(token, link).await
    }

    async fn abandon(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError> {
        // Only the record this writer made: its ciphertext, with a fresh nonce.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(void_item(&record.token, now)))
            .condition_expression("#ct = :ct")
            .expression_attribute_names("#ct", attr::CIPHERTEXT)
            .expression_attribute_values(":ct", ciphertext(record))
            .send()
            .await;
        match conditional(result, CreateError::RecordExists) {
            // A failed condition: never written, already voided, or
            // another's. Nothing of this writer's PAN copy is left to remove.
            Ok(()) | Err(CreateError::RecordExists | CreateError::IndexExists) => Ok(()),
            Err(CreateError::Vault(e)) => Err(e),
        }
    }

    async fn describe(&self, token: &Token) -> Result<Option<TokenDescription>, VaultError> {
        self.get_projected(record_pk(token), DESCRIBE_ATTRIBUTES, true)
            .await?
            .filter(is_live_item)
            .map(|item| parse_facts(&item))
            .transpose()
    }
}

#[async_trait]
impl ReadingVault for DynamoVault {
    async fn get(&self, token: &Token) -> Result<Option<VaultRecord>, VaultError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| vault_error(&e))?;
        out.item
            .as_ref()
            .filter(|item| is_live_item(item))
            .map(parse_record)
            .transpose()
    }

    async fn get_many(&self, tokens: &[Token]) -> Result<Vec<Option<VaultRecord>>, VaultError> {
        let keys = tokens.iter().map(record_pk).collect();
        let mut found: HashMap<String, VaultRecord> = HashMap::new();
        for item in self.batch_get(keys, None).await? {
            if !is_live_item(&item) {
                continue;
            }
            let record = parse_record(&item)?;
            found.insert(record.token.as_str().to_owned(), record);
        }
        Ok(tokens
            .iter()
            .map(|t| found.get(t.as_str()).cloned())
            .collect())
    }
}
