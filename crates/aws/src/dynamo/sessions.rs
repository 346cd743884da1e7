//! Capture sessions on the vault table: `pk = s#<session id>`, and the
//! capture's one transaction (session entry, record, index item).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use tessera_core::capture::{
    CaptureConflict, CaptureOrigin, CaptureSession, CaptureVault, CaptureWrite, CapturedCard,
    CardholderName, Lang, MAX_FAILED_ATTEMPTS, OriginMode, Retention, SecretHash, SessionId,
    SessionPolicy, SessionReader, SessionRegistry,
};
use tessera_core::{Brand, Metadata, Token, TokenFacts, TokenFormat, VaultError};

use super::items::{
    Item, attr, corrupt, get_b, get_n, get_opt_n, get_s, index_item, n, record_item, s,
};
use super::{DynamoVault, is_condition_failure};
use crate::error::vault_error;

/// Attribute names of a session item (the contract in notes/capture-contract.md).
mod sattr {
    pub const SECRET_HASH: &str = "sh";
    pub const OWNER: &str = "own";
    pub const ORIGINS: &str = "org";
    pub const FORMAT: &str = "fmt";
    pub const DEDUPE: &str = "dd";
    pub const RETENTION: &str = "ret";
    pub const METADATA: &str = "meta";
    pub const MAX: &str = "max";
    pub const CAPTURED: &str = "n";
    pub const FAILED: &str = "fail";
    pub const BURNED: &str = "burn";
    pub const CARDS: &str = "cards";
    pub const LANG: &str = "lang";
    /// `true` if the session takes a cardholder name (absent: it does not).
    pub const NAME: &str = "name";
    /// `exp` (the table's TTL attribute) and `created` are shared with records.
    pub const EXPIRES: &str = super::attr::EXPIRES;
    pub const CREATED: &str = super::attr::CREATED;
}

/// `ret` for tokens that expire with the card.
const RETENTION_CARD: &str = "card";

/// Attribute names of one card entry in `cards`.
mod cattr {
    pub const TOKEN: &str = "tok";
    pub const FORMAT: &str = "fmt";
    pub const BIN: &str = "bin";
    pub const LAST4: &str = "last4";
    pub const BRAND: &str = "brand";
    pub const LENGTH: &str = "len";
    pub const CREATED: &str = "created";
    pub const EXPIRES: &str = "exp";
    pub const NAME: &str = "name";
}

fn session_pk(id: &SessionId) -> AttributeValue {
    s(format!("s#{}", id.as_str()))
}

fn card_value(card: &CapturedCard) -> AttributeValue {
    let f = &card.facts;
    let mut map = HashMap::from([
        (cattr::TOKEN.to_owned(), s(card.token.as_str())),
        (cattr::FORMAT.to_owned(), s(f.format.as_str())),
        (cattr::BIN.to_owned(), s(&f.bin)),
        (cattr::LAST4.to_owned(), s(&f.last4)),
        (cattr::BRAND.to_owned(), s(f.brand.as_str())),
        (cattr::LENGTH.to_owned(), n(f.pan_length)),
        (cattr::CREATED.to_owned(), n(f.created_at)),
    ]);
    if let Some(exp) = f.expires_at {
        map.insert(cattr::EXPIRES.to_owned(), n(exp));
    }
    if let Some(name) = &card.cardholder_name {
        map.insert(cattr::NAME.to_owned(), s(name.as_str()));
    }
    AttributeValue::M(map)
}

fn parse_card(value: &AttributeValue) -> Result<CapturedCard, VaultError> {
    let item: &Item = value.as_m().map_err(|_| corrupt(sattr::CARDS))?;
    let token = Token::parse(get_s(item, cattr::TOKEN)?).map_err(|_| corrupt(cattr::TOKEN))?;
    let cardholder_name = item
        .get(cattr::NAME)
        .map(|v| {
            v.as_s()
                .ok()
                .and_then(|t| CardholderName::parse(t).ok())
                .ok_or_else(|| corrupt(cattr::NAME))
        })
        .transpose()?;
    Ok(CapturedCard {
        token,
        facts: TokenFacts {
            format: TokenFormat::from_name(get_s(item, cattr::FORMAT)?)
                .ok_or_else(|| corrupt(cattr::FORMAT))?,
            bin: get_s(item, cattr::BIN)?.to_owned(),
            last4: get_s(item, cattr::LAST4)?.to_owned(),
            brand: Brand::from_name(get_s(item, cattr::BRAND)?),
            pan_length: get_n(item, cattr::LENGTH)?,
            created_at: get_n(item, cattr::CREATED)?,
            expires_at: get_opt_n(item, cattr::EXPIRES)?,
        },
        cardholder_name,
    })
}

pub(super) fn session_item(session: &CaptureSession) -> Item {
    let p = &session.policy;
    let mut item = Item::from([
        (attr::PK.into(), session_pk(&session.id)),
        (
            sattr::SECRET_HASH.into(),
            AttributeValue::B(Blob::new(session.secret_hash.as_bytes().to_vec())),
        ),
        (sattr::OWNER.into(), s(&session.owner)),
        (
            sattr::ORIGINS.into(),
            AttributeValue::L(p.origins().iter().map(|o| s(o.as_str())).collect()),
        ),
        (sattr::FORMAT.into(), s(p.format.as_str())),
        (sattr::MAX.into(), n(p.max_cards())),
        (sattr::CAPTURED.into(), n(session.captured())),
        (sattr::FAILED.into(), n(session.failed_attempts)),
        (sattr::BURNED.into(), AttributeValue::Bool(session.burned)),
        (
            sattr::CARDS.into(),
            AttributeValue::L(session.cards.iter().map(card_value).collect()),
        ),
        (sattr::LANG.into(), s(p.lang.as_str())),
        (sattr::EXPIRES.into(), n(session.expires_at)),
        (sattr::CREATED.into(), n(session.created_at)),
    ]);
    if let Some(dedupe) = p.dedupe {
        item.insert(sattr::DEDUPE.into(), AttributeValue::Bool(dedupe));
    }
    if p.cardholder_name {
        item.insert(sattr::NAME.into(), AttributeValue::Bool(true));
    }
    match p.retention {
        Retention::Never => {}
        Retention::Ttl(seconds) => {
            item.insert(sattr::RETENTION.into(), n(seconds));
        }
        Retention::CardExpiry => {
            item.insert(sattr::RETENTION.into(), s(RETENTION_CARD));
        }
    }
    if !p.metadata.is_empty() {
        let map = p
            .metadata
            .as_map()
            .iter()
            .map(|(k, v)| (k.clone(), s(v)))
            .collect();
        item.insert(sattr::METADATA.into(), AttributeValue::M(map));
    }
    item
}

pub(super) fn parse_session(item: &Item) -> Result<CaptureSession, VaultError> {
    let pk = get_s(item, attr::PK)?;
    let id = pk
        .strip_prefix("s#")
        .and_then(|id| SessionId::parse(id).ok())
        .ok_or_else(|| corrupt(attr::PK))?;
    let hash: [u8; 32] = get_b(item, sattr::SECRET_HASH)?
        .try_into()
        .map_err(|_| corrupt(sattr::SECRET_HASH))?;
    // Stored origins were checked when the session was made, in whatever
    // mode that build ran; read back, they are taken as either form.
    let origins = item
        .get(sattr::ORIGINS)
        .and_then(|v| v.as_l().ok())
        .ok_or_else(|| corrupt(sattr::ORIGINS))?
        .iter()
        .map(|v| {
            v.as_s()
                .ok()
                .and_then(|o| CaptureOrigin::parse(o, OriginMode::AllowLoopbackHttp).ok())
                .ok_or_else(|| corrupt(sattr::ORIGINS))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let max_cards: u32 = get_n(item, sattr::MAX)?;
    let created_at: i64 = get_n(item, sattr::CREATED)?;
    let expires_at: i64 = get_n(item, sattr::EXPIRES)?;
    let lifetime = u64::try_from(expires_at.saturating_sub(created_at)).unwrap_or_default();
    let mut policy = SessionPolicy::new(origins)
        .map_err(|_| corrupt(sattr::ORIGINS))?
        .with_max_cards(max_cards)
        .map_err(|_| corrupt(sattr::MAX))?
        .with_lifetime(lifetime)
        .map_err(|_| corrupt(sattr::EXPIRES))?;
    policy.format = TokenFormat::from_name(get_s(item, sattr::FORMAT)?)
        .ok_or_else(|| corrupt(sattr::FORMAT))?;
    policy.dedupe = item
        .get(sattr::DEDUPE)
        .map(|v| v.as_bool().copied().map_err(|_| corrupt(sattr::DEDUPE)))
        .transpose()?;
    policy.retention = match item.get(sattr::RETENTION) {
        None => Retention::Never,
        Some(AttributeValue::S(text)) if text == RETENTION_CARD => Retention::CardExpiry,
        Some(AttributeValue::N(seconds)) => {
            Retention::Ttl(seconds.parse().map_err(|_| corrupt(sattr::RETENTION))?)
        }
        Some(_) => return Err(corrupt(sattr::RETENTION)),
    };
    policy.metadata = match item.get(sattr::METADATA) {
        None => Metadata::default(),
        Some(v) => {
            let pairs = v
                .as_m()
                .map_err(|_| corrupt(sattr::METADATA))?
                .iter()
                .map(|(k, v)| {
                    v.as_s()
                        .map(|v| (k.clone(), v.clone()))
                        .map_err(|_| corrupt(sattr::METADATA))
                })
                .collect::<Result<_, _>>()?;
            Metadata::new(pairs).map_err(|_| corrupt(sattr::METADATA))?
        }
    };
    policy.cardholder_name = item
        .get(sattr::NAME)
        .map(|v| v.as_bool().copied().map_err(|_| corrupt(sattr::NAME)))
        .transpose()?
        .unwrap_or(false);
    policy.lang = item
        .get(sattr::LANG)
        .map(|v| {
            v.as_s()
                .ok()
                .and_then(|l| Lang::from_name(l))
                .ok_or_else(|| corrupt(sattr::LANG))
        })
        .transpose()?
        .unwrap_or_default();
    let cards = item
        .get(sattr::CARDS)
        .map(|v| v.as_l().map_err(|_| corrupt(sattr::CARDS)))
        .transpose()?
        .map(|list| list.iter().map(parse_card).collect::<Result<Vec<_>, _>>())
        .transpose()?
        .unwrap_or_default();
    Ok(CaptureSession {
        id,
        secret_hash: SecretHash::from_bytes(hash),
        owner: get_s(item, sattr::OWNER)?.to_owned(),
        policy,
        created_at,
        expires_at,
        failed_attempts: get_n(item, sattr::FAILED)?,
        burned: item
            .get(sattr::BURNED)
            .map(|v| v.as_bool().copied().map_err(|_| corrupt(sattr::BURNED)))
            .transpose()?
            .unwrap_or(false),
        cards,
    })
}

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
}

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
