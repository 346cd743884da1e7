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
use aws_sdk_dynamodb::types::{AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem};
use tessera_core::{
    Brand, CreateError, ErasingVault, Fingerprint, IndexEntry, IndexKey, IssuingVault, Metadata,
    ReadingVault, Token, TokenDescription, TokenFacts, TokenFormat, VaultError, VaultRecord,
    WrappedKey,
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
}

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

/// Where a record may be written (see [`DynamoVault::record_put`]).
const RECORD_CONDITION: &str = "attribute_not_exists(pk) OR #ct = :ct";

fn ciphertext(r: &VaultRecord) -> AttributeValue {
    AttributeValue::B(Blob::new(r.ciphertext.clone()))
}

fn record_pk(token: &Token) -> AttributeValue {
    s(format!("t#{}", token.as_str()))
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
    item
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
    })
}

fn parse_index(key: &IndexKey, item: &Item) -> Result<IndexEntry, VaultError> {
    Ok(IndexEntry {
        key: key.clone(),
        token: parse_token(item, attr::TOKEN, "")?,
        key_version: get_s(item, attr::KEY_VERSION)?.to_owned(),
        created_at: get_n(item, attr::CREATED)?,
        expires_at: get_opt_n(item, attr::EXPIRES)?,
    })
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

    /// A record's put: only where its token is free, or already holds this
    /// very record. The ciphertext carries a fresh random nonce, so an equal
    /// one is our own earlier attempt: the SDK's retry of a write that was
    /// applied but whose reply was lost (a 500 or a timeout) then succeeds,
    /// where it would otherwise look like a token collision and leave a
    /// record no caller was told about.
    fn record_put(&self, record: &VaultRecord) -> Result<Put, VaultError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(record_item(record)))
            .condition_expression(RECORD_CONDITION)
            .expression_attribute_names("#ct", attr::CIPHERTEXT)
            .expression_attribute_values(":ct", ciphertext(record))
            .build()
            .map_err(|e| VaultError::Other(e.to_string()))
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

    async fn create_with_index(
        &self,
        record: &VaultRecord,
        index: &IndexEntry,
        now: i64,
    ) -> Result<(), CreateError> {
        let record_put = self.record_put(record)?;
        // An expired index item may be replaced: dedup never returns an
        // expired token. One already naming this token is our own retry (the
        // record's condition proves it: both hold, or the transaction fails).
        let index_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(index_item(index)))
            .condition_expression("attribute_not_exists(pk) OR #exp <= :now OR #tok = :tok")
            .expression_attribute_names("#exp", attr::EXPIRES)
            .expression_attribute_names("#tok", attr::TOKEN)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":tok", s(index.token.as_str()))
            .build()
            .map_err(|e| VaultError::Other(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(record_put).build())
            .transact_items(TransactWriteItem::builder().put(index_put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error().and_then(cancelled_items).as_deref() {
                Some([true, ..]) => Err(CreateError::RecordExists),
                Some([_, true, ..]) => Err(CreateError::IndexExists),
                _ => Err(CreateError::Vault(vault_error(&err))),
            },
        }
    }

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
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Err(CreateError::RecordExists)
            }
            Err(err) => Err(CreateError::Vault(vault_error(&err))),
        }
    }

    async fn describe(&self, token: &Token) -> Result<Option<TokenDescription>, VaultError> {
        self.get_projected(record_pk(token), DESCRIBE_ATTRIBUTES, true)
            .await?
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
        out.item.as_ref().map(parse_record).transpose()
    }

    async fn get_many(&self, tokens: &[Token]) -> Result<Vec<Option<VaultRecord>>, VaultError> {
        // BatchGetItem refuses duplicate keys, so ask once per distinct token.
        let mut wanted: Vec<Item> = Vec::new();
        for token in tokens {
            let key = Item::from([(attr::PK.to_owned(), record_pk(token))]);
            if !wanted.contains(&key) {
                wanted.push(key);
            }
        }
        let mut found: HashMap<String, VaultRecord> = HashMap::new();
        let mut pause = BATCH_GET_BACKOFF;
        for round in 0..BATCH_GET_ROUNDS {
            if wanted.is_empty() {
                break;
            }
            if round > 0 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            let keys = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut wanted)))
                .consistent_read(true)
                .build()
                .map_err(|e| VaultError::Other(e.to_string()))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(|e| vault_error(&e))?;
            for item in out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                let record = parse_record(&item)?;
                found.insert(record.token.as_str().to_owned(), record);
            }
            if let Some(mut rest) = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                wanted = std::mem::take(&mut rest.keys);
            }
        }
        if !wanted.is_empty() {
            return Err(VaultError::Unavailable(format!(
                "{} keys still unprocessed after {BATCH_GET_ROUNDS} rounds",
                wanted.len()
            )));
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
