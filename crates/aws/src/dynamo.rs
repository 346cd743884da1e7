//! The vault on one DynamoDB table.
//!
//! Records live at `pk = t#<token>`, dedup index items at `pk = f#<format>#<fp>`.
//! Attribute names are short to keep items well under 1 KiB.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, PutRequest, TransactWriteItem, WriteRequest,
};
use tessera_core::{
    Brand, CreateError, DedupScope, ErasingVault, Fingerprint, IndexEntry, IndexKey, IndexWrite,
    IssuingVault, Metadata, OperatorVault, ReadingVault, ScanPage, ScannedItem, Token,
    TokenDescription, TokenFacts, TokenFormat, VaultError, VaultRecord, WrappedKey,
};

use crate::error::vault_error;

type Item = HashMap<String, AttributeValue>;

/// Attribute names. `pk` is the table's only key; `exp` is its TTL attribute.
mod attr {
    pub const PK: &str = "pk";
    pub const CIPHERTEXT: &str = "ct";
    pub const DATA_KEY: &str = "dk";
    pub const VERSION: &str = "kv";
    pub const FORMAT: &str = "fmt";
    pub const BIN: &str = "bin";
    pub const LAST4: &str = "last4";
    pub const BRAND: &str = "brand";
    pub const LENGTH: &str = "len";
    pub const CREATED: &str = "created";
    pub const EXPIRES: &str = "exp";
    pub const FINGERPRINT: &str = "fp";
    pub const METADATA: &str = "meta";
    pub const TOKEN: &str = "tok";
    pub const KEY_VERSION: &str = "kfv";
    pub const SCOPE: &str = "sc";
}

/// The `fmt` of the husk a writer leaves of a record it abandoned. In `fmt`
/// because every read (describe's projection included) sees that attribute.
const VOID_FORMAT: &str = "void";

/// The attributes of a record a tokenize caller may read: everything but
/// `ct`, `dk` and `fp`. The tokenize role's IAM policy allows exactly these.
pub const DESCRIBE_ATTRIBUTES: &[&str] = &[
    attr::PK,
    attr::FORMAT,
    attr::BIN,
    attr::LAST4,
    attr::BRAND,
    attr::LENGTH,
    attr::CREATED,
    attr::EXPIRES,
    attr::METADATA,
];
/// The attributes of an index item that tokenize reads.
pub const INDEX_ATTRIBUTES: &[&str] = &[
    attr::PK,
    attr::TOKEN,
    attr::KEY_VERSION,
    attr::CREATED,
    attr::EXPIRES,
];
/// The attributes of an index item the operator reads: those and its scope.
const INDEX_ATTRIBUTES_WITH_SCOPE: &[&str] = &[
    attr::PK,
    attr::TOKEN,
    attr::KEY_VERSION,
    attr::CREATED,
    attr::EXPIRES,
    attr::SCOPE,
];
/// The attributes the admin function reads before a delete.
pub const DELETE_ATTRIBUTES: &[&str] = &[attr::PK, attr::FORMAT, attr::FINGERPRINT];
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

fn projection(names: &[&str]) -> (String, HashMap<String, String>) {
    let expr = names
        .iter()
        .map(|n| format!("#{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let map = names
        .iter()
        .map(|n| (format!("#{n}"), (*n).to_owned()))
        .collect();
    (expr, map)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn record_pk(token: &Token) -> AttributeValue {
    s(format!("t#{}", token.as_str()))
}

/// Where a record may be written (see [`DynamoVault::record_put`]).
const RECORD_CONDITION: &str = "attribute_not_exists(pk) OR #ct = :ct";

fn ciphertext(r: &VaultRecord) -> AttributeValue {
    AttributeValue::B(Blob::new(r.ciphertext.clone()))
}

fn record_item(r: &VaultRecord) -> Item {
    let f = &r.facts;
    let mut item = Item::from([
        (attr::PK.into(), record_pk(&r.token)),
        (attr::CIPHERTEXT.into(), ciphertext(r)),
        (
            attr::DATA_KEY.into(),
            AttributeValue::B(Blob::new(r.wrapped_key.as_bytes())),
        ),
        (attr::VERSION.into(), n(r.version)),
        (attr::FORMAT.into(), s(f.format.as_str())),
        (attr::BIN.into(), s(&f.bin)),
        (attr::LAST4.into(), s(&f.last4)),
        (attr::BRAND.into(), s(f.brand.as_str())),
        (attr::LENGTH.into(), n(f.pan_length)),
        (attr::CREATED.into(), n(f.created_at)),
    ]);
    if let Some(exp) = f.expires_at {
        item.insert(attr::EXPIRES.into(), n(exp));
    }
    if let Some(fp) = &r.fingerprint {
        item.insert(attr::FINGERPRINT.into(), s(fp.to_hex()));
    }
    if let Some(scope) = &r.scope {
        item.insert(attr::SCOPE.into(), s(scope.as_str()));
    }
    if !r.metadata.is_empty() {
        let map = r
            .metadata
            .as_map()
            .iter()
            .map(|(k, v)| (k.clone(), s(v)))
            .collect();
        item.insert(attr::METADATA.into(), AttributeValue::M(map));
    }
    item
}

fn index_item(e: &IndexEntry) -> Item {
    let mut item = Item::from([
        (attr::PK.into(), s(e.key.storage_key())),
        (attr::TOKEN.into(), s(e.token.as_str())),
        (attr::KEY_VERSION.into(), s(&e.key_version)),
        (attr::CREATED.into(), n(e.created_at)),
    ]);
    if let Some(exp) = e.expires_at {
        item.insert(attr::EXPIRES.into(), n(exp));
    }
    if let Some(scope) = &e.scope {
        item.insert(attr::SCOPE.into(), s(scope.as_str()));
    }
    item
}

/// The optional `sc` attribute; absent on items written before it existed.
fn get_scope(item: &Item) -> Result<Option<DedupScope>, VaultError> {
    item.get(attr::SCOPE)
        .map(|v| {
            v.as_s()
                .ok()
                .and_then(|name| DedupScope::new(name).ok())
                .ok_or_else(|| corrupt(attr::SCOPE))
        })
        .transpose()
}

/// What is left of a record its writer abandoned: the key, a marker and an
/// expiry of now, so TTL removes it; no ciphertext, key or facts.
fn void_item(token: &Token, now: i64) -> Item {
    Item::from([
        (attr::PK.into(), record_pk(token)),
        (attr::FORMAT.into(), s(VOID_FORMAT)),
        (attr::EXPIRES.into(), n(now)),
    ])
}

/// Whether an item is a record rather than the husk of an abandoned one.
fn is_live_item(item: &Item) -> bool {
    item.get(attr::FORMAT)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        != Some(VOID_FORMAT)
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

fn corrupt(what: &str) -> VaultError {
    VaultError::Corrupt(format!("attribute {what} is missing or malformed"))
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, VaultError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| corrupt(name))
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, VaultError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt(name))
}

fn get_opt_n(item: &Item, name: &str) -> Result<Option<i64>, VaultError> {
    item.contains_key(name)
        .then(|| get_n(item, name))
        .transpose()
}

fn get_b(item: &Item, name: &str) -> Result<Vec<u8>, VaultError> {
    item.get(name)
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref().to_vec())
        .ok_or_else(|| corrupt(name))
}

fn parse_token(item: &Item, name: &str, prefix: &str) -> Result<Token, VaultError> {
    let raw = get_s(item, name)?;
    Token::parse(raw.strip_prefix(prefix).ok_or_else(|| corrupt(name))?).map_err(|_| corrupt(name))
}

fn parse_facts(item: &Item) -> Result<TokenDescription, VaultError> {
    let format =
        TokenFormat::from_name(get_s(item, attr::FORMAT)?).ok_or_else(|| corrupt(attr::FORMAT))?;
    let metadata = match item.get(attr::METADATA) {
        None => Metadata::default(),
        Some(v) => {
            let map = v.as_m().map_err(|_| corrupt(attr::METADATA))?;
            let pairs = map
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        v.as_s().map_err(|_| corrupt(attr::METADATA))?.clone(),
                    ))
                })
                .collect::<Result<_, VaultError>>()?;
            Metadata::new(pairs).map_err(|_| corrupt(attr::METADATA))?
        }
    };
    Ok(TokenDescription {
        facts: TokenFacts {
            format,
            bin: get_s(item, attr::BIN)?.to_owned(),
            last4: get_s(item, attr::LAST4)?.to_owned(),
            brand: Brand::from_name(get_s(item, attr::BRAND)?),
            pan_length: get_n(item, attr::LENGTH)?,
            created_at: get_n(item, attr::CREATED)?,
            expires_at: get_opt_n(item, attr::EXPIRES)?,
        },
        metadata,
    })
}

fn parse_record(item: &Item) -> Result<VaultRecord, VaultError> {
    let description = parse_facts(item)?;
    let fingerprint = item
        .get(attr::FINGERPRINT)
        .map(|v| {
            v.as_s()
                .ok()
                .and_then(|h| Fingerprint::from_hex(h))
                .ok_or_else(|| corrupt(attr::FINGERPRINT))
        })
        .transpose()?;
    Ok(VaultRecord {
        token: parse_token(item, attr::PK, "t#")?,
        version: get_n(item, attr::VERSION)?,
        ciphertext: get_b(item, attr::CIPHERTEXT)?,
        wrapped_key: WrappedKey::new(get_b(item, attr::DATA_KEY)?),
        facts: description.facts,
        metadata: description.metadata,
        fingerprint,
        scope: get_scope(item)?,
    })
}

fn parse_index(key: &IndexKey, item: &Item) -> Result<IndexEntry, VaultError> {
    Ok(IndexEntry {
        key: key.clone(),
        token: parse_token(item, attr::TOKEN, "")?,
        key_version: get_s(item, attr::KEY_VERSION)?.to_owned(),
        created_at: get_n(item, attr::CREATED)?,
        expires_at: get_opt_n(item, attr::EXPIRES)?,
        scope: get_scope(item)?,
    })
}

/// Reads one scanned item as a record, an index item or a malformed item.
fn parse_scanned(item: &Item) -> ScannedItem {
    let pk = item
        .get(attr::PK)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let parsed = if pk.starts_with("t#") && !is_live_item(item) {
        Ok(ScannedItem::Void)
    } else if pk.starts_with("t#") {
        parse_record(item).map(ScannedItem::Record)
    } else if let Some(key) = IndexKey::from_storage_key(&pk) {
        parse_index(&key, item).map(ScannedItem::Index)
    } else {
        Err(corrupt(attr::PK))
    };
    parsed.unwrap_or_else(|e| ScannedItem::Malformed {
        pk,
        why: e.to_string(),
    })
}

/// Items in one `BatchWriteItem` (DynamoDB's limit).
const BATCH_WRITE_ITEMS: usize = 25;
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

    /// Writes items with `BatchWriteItem`, 25 a call, re-sending unprocessed ones.
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), VaultError> {
        for chunk in items.chunks(BATCH_WRITE_ITEMS) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(|e| VaultError::Other(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<_, VaultError>>()?;
            let mut pause = BATCH_GET_BACKOFF;
            for round in 0..BATCH_GET_ROUNDS {
                if pending.is_empty() {
                    break;
                }
                if round > 0 {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(|e| vault_error(&e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(VaultError::Unavailable(format!(
                    "{} writes still unprocessed after {BATCH_GET_ROUNDS} rounds",
                    pending.len()
                )));
            }
        }
        Ok(())
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

    async fn create_index(&self, index: &IndexEntry, now: i64) -> Result<(), CreateError> {
        // An expired index item may be replaced: dedup never returns an
        // expired token. One already naming this token is this writer's own
        // put, retried by the SDK after a lost reply.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(index_item(index)))
            .condition_expression("attribute_not_exists(pk) OR #exp <= :now OR #tok = :tok")
            .expression_attribute_names("#exp", attr::EXPIRES)
            .expression_attribute_names("#tok", attr::TOKEN)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":tok", s(index.token.as_str()))
            .send()
            .await;
        conditional(result, CreateError::IndexExists)
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

#[async_trait]
impl ErasingVault for DynamoVault {
    async fn delete(&self, token: &Token) -> Result<bool, VaultError> {
        let Some(item) = self
            .get_projected(record_pk(token), DELETE_ATTRIBUTES, true)
            .await?
            .filter(is_live_item)
        else {
            return Ok(false);
        };
        let index_pk = match (item.get(attr::FORMAT), item.get(attr::FINGERPRINT)) {
            (Some(AttributeValue::S(fmt)), Some(AttributeValue::S(fp))) => {
                Some(format!("f#{fmt}#{fp}"))
            }
            _ => None,
        };
        let delete_record = Delete::builder()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| VaultError::Other(e.to_string()))?;
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
                .transact_items(
                    TransactWriteItem::builder()
                        .delete(delete_record.clone())
                        .build(),
                )
                .transact_items(TransactWriteItem::builder().delete(delete_index).build())
                .send()
                .await;
            match result {
                Ok(_) => return Ok(true),
                Err(err) => match err.as_service_error().and_then(cancelled_items).as_deref() {
                    Some([true, ..]) => return Ok(false),
                    Some([_, true, ..]) => {} // index owned by another token: delete the record alone
                    _ => return Err(vault_error(&err)),
                },
            }
        }
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::PK, record_pk(token))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(vault_error(&err)),
        }
    }
}

#[async_trait]
impl OperatorVault for DynamoVault {
    async fn find_indexes(&self, keys: &[IndexKey]) -> Result<Vec<Option<IndexEntry>>, VaultError> {
        let pks = keys.iter().map(|k| s(k.storage_key())).collect();
        let mut found: HashMap<String, Item> = HashMap::new();
        for item in self
            .batch_get(pks, Some(INDEX_ATTRIBUTES_WITH_SCOPE))
            .await?
        {
            let pk = get_s(&item, attr::PK)?.to_owned();
            found.insert(pk, item);
        }
        keys.iter()
            .map(|k| {
                found
                    .get(&k.storage_key())
                    .map(|item| parse_index(k, item))
                    .transpose()
            })
            .collect()
    }

    async fn records_exist(&self, tokens: &[Token]) -> Result<Vec<bool>, VaultError> {
        let pks = tokens.iter().map(record_pk).collect();
        let found: Vec<String> = self
            .batch_get(pks, Some(&[attr::PK]))
            .await?
            .iter()
            .filter_map(|item| get_s(item, attr::PK).ok().map(str::to_owned))
            .collect();
        Ok(tokens
            .iter()
            .map(|t| found.contains(&format!("t#{}", t.as_str())))
            .collect())
    }

    async fn put_batch(
        &self,
        records: &[VaultRecord],
        index: &[IndexEntry],
    ) -> Result<(), VaultError> {
        // Records before index items: a crash between leaves a record that a
        // re-run rewrites under the same token, never an item pointing nowhere.
        let items = records
            .iter()
            .map(record_item)
            .chain(index.iter().map(index_item))
            .collect();
        self.batch_put(items).await
    }

    async fn scan(&self, after: Option<&str>, limit: u32) -> Result<ScanPage, VaultError> {
        let start = after.map(|pk| HashMap::from([(attr::PK.to_owned(), s(pk))]));
        let out = self
            .client
            .scan()
            .table_name(&self.table)
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
            .map(parse_scanned)
            .collect();
        Ok(ScanPage { items, next })
    }

    async fn put_index(&self, entry: &IndexEntry, now: i64) -> Result<IndexWrite, VaultError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(index_item(entry)))
            .condition_expression("attribute_not_exists(pk) OR #tok = :tok OR #exp <= :now")
            .expression_attribute_names("#tok", attr::TOKEN)
            .expression_attribute_names("#exp", attr::EXPIRES)
            .expression_attribute_values(":tok", s(entry.token.as_str()))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
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
