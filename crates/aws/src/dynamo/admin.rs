//! The admin function's erase (a tombstone) and the operator CLI's reads,
//! conditional import writes and repairs.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use tessera_core::{
    CreateError, DedupScope, ErasingVault, IndexEntry, IndexHolder, IndexKey, IndexWrite,
    IssuingVault, Link, OperatorVault, RecordHead, ScanPage, ScanView, Token, VaultError,
    VaultRecord, WrappedKey,
};

use super::items::{
    DELETE_ATTRIBUTES, ERASED_ATTRIBUTES, IMPORT_ATTRIBUTES, RECORD_CONDITION, TOKEN_INDEX, attr,
    ciphertext, get_link, get_opt_n, is_void, n, parse_scanned, parse_token, projection,
    record_item, record_pk, s, scan_attributes,
};
use super::{DynamoVault, applied, cancelled_items, conditional, is_condition_failure};
use crate::error::vault_error;

#[async_trait]
impl ErasingVault for DynamoVault {
    async fn delete(&self, token: &Token) -> Result<bool, VaultError> {
        let Some(_) = self
            .get_projected(record_pk(token), DELETE_ATTRIBUTES, true)
            .await?
            // This projection cannot tell a tombstone from a record: the
            // erase's condition does (`erased` is absent).
            .filter(|item| !is_void(item))
        else {
            return Ok(false);
        };
        let index_pks = self.index_pks_naming(token).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        // One transaction holds at most 100 actions: a token named by more
        // index items (only a writer outside Tessera's code makes them) is
        // erased item by item below, never left unerasable.
        if !index_pks.is_empty() && index_pks.len() < MAX_TRANSACTION_ACTIONS {
            let mut transaction = self.client.transact_write_items().transact_items(
                TransactWriteItem::builder()
                    .update(self.tombstone_update(token, now)?)
                    .build(),
            );
            for index_pk in &index_pks {
                transaction = transaction.transact_items(
                    TransactWriteItem::builder()
                        .delete(self.index_delete(index_pk, token)?)
                        .build(),
                );
            }
            match transaction.send().await {
                Ok(_) => return Ok(true),
                Err(err) => match err.as_service_error().and_then(cancelled_items).as_deref() {
                    Some([true, ..]) => return Ok(false),
                    // An index item now names another token (the token index
                    // lags the table): erase the record alone, then each item
                    // that still names this token.
                    Some([_, rest @ ..]) if rest.iter().any(|failed| *failed) => {}
                    _ => return Err(vault_error(&err)),
                },
            }
        }
        let mut alone = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .update_expression(tombstone_expression())
            .condition_expression(TOMBSTONE_CONDITION)
            .expression_attribute_values(":erased", n(now));
        for (alias, name) in tombstone_names() {
            alone = alone.expression_attribute_names(alias, name);
        }
        match alone.send().await {
            Ok(_) => {}
            Err(err) if is_condition_failure(&err) => return Ok(false),
            Err(err) => return Err(vault_error(&err)),
        }
        for index_pk in &index_pks {
            let key = IndexKey::from_storage_key(index_pk)
                .ok_or_else(|| VaultError::Corrupt("a token index key is malformed".into()))?;
            OperatorVault::remove_index(self, &key, token).await?;
        }
        Ok(true)
    }
}

/// DynamoDB's limit of actions in one `TransactWriteItems`.
const MAX_TRANSACTION_ACTIONS: usize = 100;

/// An erase applies only to a record that is there and not yet erased, so
/// erasing a tombstone again is "not found", as erasing an absent token is.
const TOMBSTONE_CONDITION: &str = "attribute_exists(pk) AND attribute_not_exists(#erased)";

/// `REMOVE` every secret and fact an erase takes, `SET erased = :erased`.
fn tombstone_expression() -> String {
    let removed: Vec<String> = ERASED_ATTRIBUTES.iter().map(|a| format!("#{a}")).collect();
    format!("REMOVE {} SET #erased = :erased", removed.join(", "))
}

fn tombstone_names() -> impl Iterator<Item = (String, String)> {
    ERASED_ATTRIBUTES
        .iter()
        .chain(std::iter::once(&attr::ERASED))
        .map(|a| (format!("#{a}"), (*a).to_owned()))
}

impl DynamoVault {
    /// The partition keys of the index items that name `token`, by the
    /// token index (eventually consistent: an item written a moment ago may
    /// be missing, and is then left for `tessera verify --repair`).
    async fn index_pks_naming(&self, token: &Token) -> Result<Vec<String>, VaultError> {
        let mut pks = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(TOKEN_INDEX)
                .key_condition_expression("#tok = :tok")
                .expression_attribute_names("#tok", attr::TOKEN)
                .expression_attribute_values(":tok", s(token.as_str()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| vault_error(&e))?;
            pks.extend(
                out.items()
                    .iter()
                    .filter_map(|item| item.get(attr::PK)?.as_s().ok().cloned()),
            );
            match out.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(pks),
            }
        }
    }

    /// The delete of an index item, only while it names `token`.
    fn index_delete(&self, index_pk: &str, token: &Token) -> Result<Delete, VaultError> {
        Delete::builder()
            .table_name(&self.table)
            .key(attr::PK, s(index_pk))
            .condition_expression("#tok = :tok")
            .expression_attribute_names("#tok", attr::TOKEN)
            .expression_attribute_values(":tok", s(token.as_str()))
            .build()
            .map_err(|e| VaultError::Other(e.to_string()))
    }

    /// The update that turns a record into its tombstone. No TTL: the key
    /// stays for good, so tokenize's and import's `attribute_not_exists(pk)`
    /// never issue the token again.
    fn tombstone_update(&self, token: &Token, now: u64) -> Result<Update, VaultError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .update_expression(tombstone_expression())
            .condition_expression(TOMBSTONE_CONDITION)
            .expression_attribute_values(":erased", n(now));
        for (alias, name) in tombstone_names() {
            update = update.expression_attribute_names(alias, name);
        }
        update.build().map_err(|e| VaultError::Other(e.to_string()))
    }
}

#[async_trait]
impl OperatorVault for DynamoVault {
    async fn index_holder(&self, key: &IndexKey) -> Result<Option<IndexHolder>, VaultError> {
        let Some(item) = self
            .get_projected(s(key.storage_key()), IMPORT_ATTRIBUTES, true)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(IndexHolder {
            token: parse_token(&item, attr::TOKEN, "")?,
            link: get_link(&item)?,
            expires_at: get_opt_n(&item, attr::EXPIRES)?,
        }))
    }

    async fn record_head(&self, token: &Token) -> Result<Option<RecordHead>, VaultError> {
        let Some(item) = self
            .get_projected(record_pk(token), IMPORT_ATTRIBUTES, true)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(RecordHead {
            expires_at: get_opt_n(&item, attr::EXPIRES)?,
        }))
    }

    async fn carries(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        self.carries_link(token, link).await
    }

    async fn put_record(&self, record: &VaultRecord) -> Result<(), CreateError> {
        // Where the token is free, or over this very record (a resumed run
        // re-sealing under its checkpointed link writes a new ciphertext, so
        // the link, which only this run drew, says it is its own). A
        // tombstone or a husk has no `ln` and is never overwritten.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(record)))
            .expression_attribute_names("#ct", attr::CIPHERTEXT)
            .expression_attribute_values(":ct", ciphertext(record));
        let put = match &record.link {
            Some(link) => put
                .condition_expression(format!("{RECORD_CONDITION} OR #ln = :ln"))
                .expression_attribute_names("#ln", attr::LINK)
                .expression_attribute_values(":ln", s(link.to_hex())),
            None => put.condition_expression(RECORD_CONDITION),
        };
        conditional(put.send().await, CreateError::RecordExists)
    }

    async fn void(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError> {
        IssuingVault::abandon(self, record, now).await
    }

    async fn remove_orphan(&self, token: &Token, link: &Link) -> Result<bool, VaultError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .condition_expression("#ln = :ln AND attribute_not_exists(#erased)")
            .expression_attribute_names("#ln", attr::LINK)
            .expression_attribute_names("#erased", attr::ERASED)
            .expression_attribute_values(":ln", s(link.to_hex()))
            .send()
            .await;
        applied(result)
    }

    async fn scan(
        &self,
        after: Option<&str>,
        limit: u32,
        view: ScanView,
    ) -> Result<ScanPage, VaultError> {
        let start = after.map(|pk| HashMap::from([(attr::PK.to_owned(), s(pk))]));
        let (expr, names) = match scan_attributes(view) {
            Some(names) => {
                let (expr, names) = projection(names);
                (Some(expr), Some(names))
            }
            None => (None, None),
        };
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .set_projection_expression(expr)
            .set_expression_attribute_names(names)
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            // Consistent: a re-run right after a write must see it.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| vault_error(&e))?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .and_then(|k| k.get(attr::PK))
            .and_then(|v| v.as_s().ok())
            .cloned();
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| parse_scanned(item, view))
            .collect();
        Ok(ScanPage { items, next })
    }

    async fn put_index(
        &self,
        entry: &IndexEntry,
        now: i64,
        replacing: Option<&Token>,
    ) -> Result<IndexWrite, VaultError> {
        match self.index_put(entry, now, replacing).send().await {
            Ok(_) => Ok(IndexWrite::Written),
            Err(err) if is_condition_failure(&err) => Ok(IndexWrite::Taken),
            Err(err) => Err(vault_error(&err)),
        }
    }

    async fn remove_index(&self, key: &IndexKey, token: &Token) -> Result<bool, VaultError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::PK, s(key.storage_key()))
            .condition_expression("#tok = :tok")
            .expression_attribute_names("#tok", attr::TOKEN)
            .expression_attribute_values(":tok", s(token.as_str()))
            .send()
            .await;
        applied(result)
    }

    async fn index_keys_naming(&self, token: &Token) -> Result<Vec<IndexKey>, VaultError> {
        self.index_pks_naming(token)
            .await?
            .iter()
            .map(|pk| {
                IndexKey::from_storage_key(pk)
                    .ok_or_else(|| VaultError::Corrupt("a token index key is malformed".into()))
            })
            .collect()
    }

    async fn relink(
        &self,
        token: &Token,
        link: &Link,
        scope: &DedupScope,
    ) -> Result<bool, VaultError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .update_expression("SET #sc = :sc")
            // A tombstone and a husk carry no link.
            .condition_expression("#ln = :ln")
            .expression_attribute_names("#ln", attr::LINK)
            .expression_attribute_names("#sc", attr::SCOPE)
            .expression_attribute_values(":ln", s(link.to_hex()))
            .expression_attribute_values(":sc", s(scope.as_str()))
            .send()
            .await;
        applied(result)
    }

    async fn replace_wrapped_key(
        &self,
        token: &Token,
        old: &WrappedKey,
        new: &WrappedKey,
    ) -> Result<bool, VaultError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .update_expression("SET #dk = :new")
            .condition_expression("attribute_exists(pk) AND #dk = :old")
            .expression_attribute_names("#dk", attr::DATA_KEY)
            .expression_attribute_values(":new", AttributeValue::B(Blob::new(new.as_bytes())))
            .expression_attribute_values(":old", AttributeValue::B(Blob::new(old.as_bytes())))
            .send()
            .await;
        applied(result)
    }
}
