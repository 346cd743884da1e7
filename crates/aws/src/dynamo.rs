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
use aws_sdk_dynamodb::types::{AttributeValue, Delete, KeysAndAttributes, TransactWriteItem};
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

fn record_item(r: &VaultRecord) -> Item {
    let f = &r.facts;
    let mut item = Item::from([
        (attr::PK.into(), record_pk(&r.token)),
        (
            attr::CIPHERTEXT.into(),
            AttributeValue::B(Blob::new(r.ciphertext.clone())),
        ),
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

    async fn create(&self, record: &VaultRecord) -> Result<(), CreateError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(record)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional(result, CreateError::RecordExists)
    }

    async fn create_index(&self, index: &IndexEntry, now: i64) -> Result<(), CreateError> {
        // An expired index item may be replaced: dedup never returns an expired token.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(index_item(index)))
            .condition_expression("attribute_not_exists(pk) OR #exp <= :now")
            .expression_attribute_names("#exp", attr::EXPIRES)
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        conditional(result, CreateError::IndexExists)
    }

    async fn abandon(&self, record: &VaultRecord, now: i64) -> Result<(), VaultError> {
        // Only the record this writer made: same token and fingerprint.
        let fp = record
            .fingerprint
            .as_ref()
            .map(Fingerprint::to_hex)
            .ok_or_else(|| VaultError::Other("only an indexed record is abandoned".into()))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(void_item(&record.token, now)))
            .condition_expression("#fp = :fp")
            .expression_attribute_names("#fp", attr::FINGERPRINT)
            .expression_attribute_values(":fp", s(fp))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already voided (or erased): nothing of the PAN is left to remove.
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(err) => Err(vault_error(&err)),
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
                if !is_live_item(&item) {
                    continue;
                }
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
