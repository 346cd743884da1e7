//! The admin function's erase (a tombstone) and the operator CLI's reads,
//! conditional import writes and repairs.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use tessera_core::{
    CreateError, DedupScope, ErasingVault, Fingerprint, IndexEntry, IndexHolder, IndexKey,
    IndexWrite, IssuingVault, OperatorVault, RecordHead, ScanPage, ScanView, Token, VaultError,
    VaultRecord, WrappedKey,
};

use super::items::{
    DELETE_ATTRIBUTES, ERASED_ATTRIBUTES, IMPORT_ATTRIBUTES, attr, get_opt_n, is_void, n,
    parse_scanned, parse_token, projection, record_item, record_pk, s, scan_attributes,
};
use super::{DynamoVault, cancelled_items, conditional, is_condition_failure};
use crate::error::vault_error;

#[async_trait]
impl ErasingVault for DynamoVault {
    async fn delete(&self, token: &Token) -> Result<bool, VaultError> {
        let Some(item) = self
            .get_projected(record_pk(token), DELETE_ATTRIBUTES, true)
            .await?
            // This projection cannot tell a tombstone from a record without
            // a fingerprint: the erase's condition does (`erased` is absent).
            .filter(|item| !is_void(item))
        else {
            return Ok(false);
        };
        let index_pk = match (item.get(attr::FORMAT), item.get(attr::FINGERPRINT)) {
            (Some(AttributeValue::S(fmt)), Some(AttributeValue::S(fp))) => {
                Some(format!("f#{fmt}#{fp}"))
            }
            _ => None,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let tombstone = self.tombstone_update(token, now)?;
        if let Some(index_pk) = index_pk {
            // The index item goes only if it still names this token: after an
            // expiry a newer token may own that fingerprint.
            let delete_index = Delete::builder()
                .table_name(&self.table)
                .key(attr::PK, s(index_pk))
                .condition_expression("#tok = :tok")
                .expression_attribute_names("#tok", attr::TOKEN)
                .expression_attribute_values(":tok", s(token.as_str()))
                .build()
                .map_err(|e| VaultError::Other(e.to_string()))?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(tombstone).build())
                .transact_items(TransactWriteItem::builder().delete(delete_index).build())
                .send()
                .await;
            match result {
                Ok(_) => return Ok(true),
                Err(err) => match err.as_service_error().and_then(cancelled_items).as_deref() {
                    Some([true, ..]) => return Ok(false),
                    Some([_, true, ..]) => {} // index owned by another token: erase the record alone
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
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(vault_error(&err)),
        }
    }
}

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

    async fn carries(
        &self,
        token: &Token,
        fingerprints: &[&Fingerprint],
    ) -> Result<bool, VaultError> {
        self.carries_fingerprint(token, fingerprints).await
    }

    async fn put_record(&self, record: &VaultRecord) -> Result<(), CreateError> {
        // A tombstone or a husk has no `fp`, so neither is ever overwritten;
        // a record without a fingerprint only where the token is free.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(record)));
        let put = match &record.fingerprint {
            Some(fp) => put
                .condition_expression("attribute_not_exists(pk) OR #fp = :fp")
                .expression_attribute_names("#fp", attr::FINGERPRINT)
                .expression_attribute_values(":fp", s(fp.to_hex())),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        conditional(put.send().await, CreateError::RecordExists)
    }

    async fn void(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError> {
        IssuingVault::abandon(self, record, now).await
    }

    async fn remove_orphan(
        &self,
        token: &Token,
        fingerprint: &Fingerprint,
    ) -> Result<bool, VaultError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .condition_expression("#fp = :fp AND attribute_not_exists(#erased)")
            .expression_attribute_names("#fp", attr::FINGERPRINT)
            .expression_attribute_names("#erased", attr::ERASED)
            .expression_attribute_values(":fp", s(fingerprint.to_hex()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(vault_error(&err)),
        }
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
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(vault_error(&err)),
        }
    }

    async fn set_fingerprint(
        &self,
        token: &Token,
        old: Option<&Fingerprint>,
        new: &Fingerprint,
        scope: &DedupScope,
    ) -> Result<bool, VaultError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .update_expression("SET #fp = :new, #sc = :sc")
            .expression_attribute_names("#fp", attr::FINGERPRINT)
            .expression_attribute_names("#sc", attr::SCOPE)
            .expression_attribute_values(":new", s(new.to_hex()))
            .expression_attribute_values(":sc", s(scope.as_str()));
        update = match old {
            Some(old) => update
                .condition_expression("attribute_exists(pk) AND #fp = :old")
                .expression_attribute_values(":old", s(old.to_hex())),
            None => {
                update.condition_expression("attribute_exists(pk) AND attribute_not_exists(#fp)")
            }
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(vault_error(&err)),
        }
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
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(vault_error(&err)),
        }
    }
}
