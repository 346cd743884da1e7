//! Capture sessions on the vault table: the session ports (read, create,
//! count a failure, capture) over the session's item ([`item`]) and the
//! capture's one transaction ([`transaction`]).

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use tessera_core::VaultError;
use tessera_core::capture::{
    CaptureConflict, CaptureSession, CaptureVault, CaptureWrite, MAX_FAILED_ATTEMPTS, SessionId,
    SessionReader, SessionRegistry,
};

use super::items::{attr, corrupt, get_n, n};
use super::{DynamoVault, is_condition_failure};
use crate::error::vault_error;

mod item;
mod transaction;

use item::{parse_session, sattr, session_item, session_pk};

#[async_trait]
impl SessionReader for DynamoVault {
    async fn get_session(&self, id: &SessionId) -> Result<Option<CaptureSession>, VaultError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, session_pk(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| vault_error(&e))?;
        out.item.as_ref().map(parse_session).transpose()
    }
}

#[async_trait]
impl SessionRegistry for DynamoVault {
    async fn create_session(&self, session: &CaptureSession) -> Result<(), VaultError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(session_item(session)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => {
                Err(VaultError::Other("the session id is taken".to_owned()))
            }
            Err(e) => Err(vault_error(&e)),
        }
    }
}

#[async_trait]
impl CaptureVault for DynamoVault {
    async fn record_failure(&self, id: &SessionId) -> Result<Option<u32>, VaultError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, session_pk(id))
            .update_expression("SET #fail = #fail + :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#fail", sattr::FAILED)
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(vault_error(&e)),
        };
        let count: u32 = out
            .attributes
            .as_ref()
            .ok_or_else(|| corrupt(sattr::FAILED))
            .and_then(|a| get_n(a, sattr::FAILED))?;
        if count >= MAX_FAILED_ATTEMPTS {
            // The capture's condition already refuses at `fail` >= the cap;
            // `burn` records it for readers and stays set whatever follows.
            self.client
                .update_item()
                .table_name(&self.table)
                .key(attr::PK, session_pk(id))
                .update_expression("SET #burn = :true")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#burn", sattr::BURNED)
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .send()
                .await
                .map_err(|e| vault_error(&e))?;
        }
        Ok(Some(count))
    }

    async fn capture(&self, write: &CaptureWrite<'_>) -> Result<(), CaptureConflict> {
        self.capture_transaction(write).await
    }
}
