//! The capture's one transaction: the session's card entry, on the
//! condition that the session is open, with the new record and index item,
//! and which of them refused it when it is cancelled.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use tessera_core::VaultError;
use tessera_core::capture::{CaptureConflict, CaptureWrite, MAX_FAILED_ATTEMPTS};

use super::item::{card_value, sattr, session_pk};
use crate::dynamo::DynamoVault;
use crate::dynamo::items::{attr, index_item, n, record_item, s};
use crate::error::vault_error;

/// Which of a capture transaction's items refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Condition,
    Conflict,
    None,
}

fn refusals(err: &TransactWriteItemsError) -> Option<Vec<Refusal>> {
    match err {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| match r.code() {
                    Some("ConditionalCheckFailed") => Refusal::Condition,
                    Some("TransactionConflict") => Refusal::Conflict,
                    _ => Refusal::None,
                })
                .collect(),
        ),
        _ => None,
    }
}

impl DynamoVault {
    fn build<T, E: std::fmt::Display>(built: Result<T, E>) -> Result<T, VaultError> {
        built.map_err(|e| VaultError::Other(e.to_string()))
    }

    /// The session's card entry, on the condition that it is open at `now`.
    fn session_update(&self, write: &CaptureWrite<'_>) -> Result<Update, VaultError> {
        Self::build(
            Update::builder()
                .table_name(&self.table)
                .key(attr::PK, session_pk(write.session))
                .update_expression("SET #n = #n + :one, #cards = list_append(#cards, :card)")
                .condition_expression(
                    "attribute_exists(pk) AND #n < #max AND #exp > :now AND #fail < :maxfail AND #burn = :false",
                )
                .expression_attribute_names("#n", sattr::CAPTURED)
                .expression_attribute_names("#cards", sattr::CARDS)
                .expression_attribute_names("#max", sattr::MAX)
                .expression_attribute_names("#exp", sattr::EXPIRES)
                .expression_attribute_names("#fail", sattr::FAILED)
                .expression_attribute_names("#burn", sattr::BURNED)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":card", AttributeValue::L(vec![card_value(write.card)]))
                .expression_attribute_values(":now", n(write.now))
                .expression_attribute_values(":maxfail", n(MAX_FAILED_ATTEMPTS))
                .expression_attribute_values(":false", AttributeValue::Bool(false))
                .build(),
        )
    }

    /// Writes the capture's items in one transaction.
    pub(super) async fn capture_transaction(
        &self,
        write: &CaptureWrite<'_>,
    ) -> Result<(), CaptureConflict> {
        let mut items = vec![
            TransactWriteItem::builder()
                .update(self.session_update(write)?)
                .build(),
        ];
        if let Some(new) = &write.new {
            let record = Self::build(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(record_item(new.record)))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().put(record).build());
            if let Some(index) = new.index {
                // Tokenize's condition (`index_put`): free, expired, this
                // token, or the stale token found.
                let mut put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(index_item(index)))
                    .expression_attribute_names("#exp", attr::EXPIRES)
                    .expression_attribute_names("#tok", attr::TOKEN)
                    .expression_attribute_values(":now", n(write.now))
                    .expression_attribute_values(":tok", s(index.token.as_str()));
                put = match new.replacing {
                    Some(stale) => put
                        .condition_expression(
                            "attribute_not_exists(pk) OR #exp <= :now OR #tok = :tok OR #tok = :stale",
                        )
                        .expression_attribute_values(":stale", s(stale.as_str())),
                    None => put.condition_expression(
                        "attribute_not_exists(pk) OR #exp <= :now OR #tok = :tok",
                    ),
                };
                items.push(
                    TransactWriteItem::builder()
                        .put(Self::build(put.build())?)
                        .build(),
                );
            }
        }
        // The SDK fills the transaction's ClientRequestToken, so its own
        // retry of a transaction whose reply was lost is idempotent.
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        let Some(reasons) = err.as_service_error().and_then(refusals) else {
            return Err(CaptureConflict::Vault(vault_error(&err)));
        };
        let at = |i: usize| reasons.get(i).copied().unwrap_or(Refusal::None);
        if reasons.contains(&Refusal::Conflict) {
            // Another write touched one of the items at the same moment:
            // nothing was written, and the next attempt may succeed.
            return Err(CaptureConflict::Vault(VaultError::Unavailable(
                "a capture met a concurrent write".to_owned(),
            )));
        }
        match (at(0), at(1), at(2)) {
            (Refusal::Condition, _, _) => Err(CaptureConflict::SessionClosed),
            (_, Refusal::Condition, _) => Err(CaptureConflict::RecordExists),
            (_, _, Refusal::Condition) => Err(CaptureConflict::IndexExists),
            _ => Err(CaptureConflict::Vault(vault_error(&err))),
        }
    }
}
