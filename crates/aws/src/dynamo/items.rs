//! How records and dedup index entries are stored as DynamoDB items: the
//! attribute names, the projections each role may read, and the
//! conversions both ways (a malformed item is `VaultError::Corrupt`).

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use tessera_core::{
    Brand, DedupScope, IndexEntry, IndexKey, Link, Metadata, RecordFacts, ScanView, ScannedItem,
    Token, TokenDescription, TokenFacts, TokenFormat, VaultError, VaultRecord, WrappedKey,
};

pub(super) type Item = HashMap<String, AttributeValue>;

/// Attribute names. `pk` is the table's only key; `exp` is its TTL attribute;
/// `tok` (on index items only) is the key of the token index.
pub(super) mod attr {
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
    pub const LINK: &str = "ln";
    pub const METADATA: &str = "meta";
    pub const TOKEN: &str = "tok";
    pub const KEY_VERSION: &str = "kfv";
    pub const SCOPE: &str = "sc";
    pub const ERASED: &str = "erased";
}

/// What an erase removes from a record; the tombstone keeps the rest
/// (`pk`, `fmt`, `brand`, `created`, `kv`, `sc`) and gains `erased`.
pub(super) const ERASED_ATTRIBUTES: &[&str] = &[
    attr::CIPHERTEXT,
    attr::DATA_KEY,
    attr::LINK,
    attr::BIN,
    attr::LAST4,
    attr::LENGTH,
    attr::METADATA,
    attr::EXPIRES,
];

/// The attributes the bulk import reads: of index items `pk`, `tok`, `ln`,
/// `exp`, of records `pk`, `fmt`, `exp`. The import role's policy allows these.
pub const IMPORT_ATTRIBUTES: &[&str] = &[
    attr::PK,
    attr::TOKEN,
    attr::LINK,
    attr::FORMAT,
    attr::EXPIRES,
];

/// The `fmt` of the husk a writer leaves of a record it abandoned. In `fmt`
/// because every read (describe's projection included) sees that attribute.
pub(super) const VOID_FORMAT: &str = "void";

/// The attributes of a record a tokenize caller may read: everything but
/// `ct`, `dk` and `ln`. The tokenize role's IAM policy allows exactly these.
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
    attr::LINK,
];
/// The attributes the admin function reads before a delete.
pub const DELETE_ATTRIBUTES: &[&str] = &[attr::PK, attr::FORMAT];
/// The table's global secondary index on `tok`: which index items name a
/// token, for an erase and a re-index (records keep no fingerprint). Keys
/// only; sparse, as only index items carry `tok`.
pub const TOKEN_INDEX: &str = "by-token";
pub(super) fn projection(names: &[&str]) -> (String, HashMap<String, String>) {
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

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn record_pk(token: &Token) -> AttributeValue {
    s(format!("t#{}", token.as_str()))
}

/// Where a record may be written (see [`DynamoVault::record_put`]).
pub(super) const RECORD_CONDITION: &str = "attribute_not_exists(pk) OR #ct = :ct";

pub(super) fn ciphertext(r: &VaultRecord) -> AttributeValue {
    AttributeValue::B(Blob::new(r.ciphertext.clone()))
}

pub(super) fn record_item(r: &VaultRecord) -> Item {
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
    if let Some(link) = &r.link {
        item.insert(attr::LINK.into(), s(link.to_hex()));
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

pub(super) fn index_item(e: &IndexEntry) -> Item {
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
    if let Some(link) = &e.link {
        item.insert(attr::LINK.into(), s(link.to_hex()));
    }
    item
}

/// The optional `ln` attribute; absent on records without dedup.
pub(super) fn get_link(item: &Item) -> Result<Option<Link>, VaultError> {
    item.get(attr::LINK)
        .map(|v| {
            v.as_s()
                .ok()
                .and_then(|h| Link::from_hex(h))
                .ok_or_else(|| corrupt(attr::LINK))
        })
        .transpose()
}

/// The optional `sc` attribute; absent on items written before it existed.
pub(super) fn get_scope(item: &Item) -> Result<Option<DedupScope>, VaultError> {
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
pub(super) fn void_item(token: &Token, now: i64) -> Item {
    Item::from([
        (attr::PK.into(), record_pk(token)),
        (attr::FORMAT.into(), s(VOID_FORMAT)),
        (attr::EXPIRES.into(), n(now)),
    ])
}

/// Whether an item is a record rather than the husk of an abandoned one or
/// the tombstone of an erased one.
pub(super) fn is_live_item(item: &Item) -> bool {
    !is_void(item) && !is_tombstone(item)
}

/// Whether an item is the husk of a record its writer abandoned.
pub(super) fn is_void(item: &Item) -> bool {
    item.get(attr::FORMAT)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        == Some(VOID_FORMAT)
}

/// Whether a record item (whole, or in describe's projection, which cannot
/// name `erased`) is an erased token's tombstone: it has `erased`, or none
/// of the facts and secrets an erase removes. An item missing only some of
/// them is still malformed.
pub(super) fn is_tombstone(item: &Item) -> bool {
    if is_void(item) {
        return false;
    }
    item.contains_key(attr::ERASED)
        || [attr::CIPHERTEXT, attr::BIN, attr::LAST4, attr::LENGTH]
            .iter()
            .all(|a| !item.contains_key(*a))
}

pub(super) fn corrupt(what: &str) -> VaultError {
    VaultError::Corrupt(format!("attribute {what} is missing or malformed"))
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, VaultError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| corrupt(name))
}

pub(super) fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, VaultError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt(name))
}

pub(super) fn get_opt_n(item: &Item, name: &str) -> Result<Option<i64>, VaultError> {
    item.contains_key(name)
        .then(|| get_n(item, name))
        .transpose()
}

pub(super) fn get_b(item: &Item, name: &str) -> Result<Vec<u8>, VaultError> {
    item.get(name)
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref().to_vec())
        .ok_or_else(|| corrupt(name))
}

pub(super) fn parse_token(item: &Item, name: &str, prefix: &str) -> Result<Token, VaultError> {
    let raw = get_s(item, name)?;
    Token::parse(raw.strip_prefix(prefix).ok_or_else(|| corrupt(name))?).map_err(|_| corrupt(name))
}

pub(super) fn parse_facts(item: &Item) -> Result<TokenDescription, VaultError> {
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

pub(super) fn parse_record(item: &Item) -> Result<VaultRecord, VaultError> {
    let description = parse_facts(item)?;
    Ok(VaultRecord {
        token: parse_token(item, attr::PK, "t#")?,
        version: get_n(item, attr::VERSION)?,
        ciphertext: get_b(item, attr::CIPHERTEXT)?,
        wrapped_key: WrappedKey::new(get_b(item, attr::DATA_KEY)?),
        facts: description.facts,
        metadata: description.metadata,
        link: get_link(item)?,
        scope: get_scope(item)?,
    })
}

/// The facts of a record a verify scan read.
fn parse_record_facts(item: &Item) -> Result<RecordFacts, VaultError> {
    Ok(RecordFacts {
        token: parse_token(item, attr::PK, "t#")?,
        format: TokenFormat::from_name(get_s(item, attr::FORMAT)?)
            .ok_or_else(|| corrupt(attr::FORMAT))?,
        link: get_link(item)?,
        scope: get_scope(item)?,
        created_at: get_n(item, attr::CREATED)?,
        expires_at: get_opt_n(item, attr::EXPIRES)?,
    })
}

pub(super) fn parse_index(key: &IndexKey, item: &Item) -> Result<IndexEntry, VaultError> {
    Ok(IndexEntry {
        key: key.clone(),
        token: parse_token(item, attr::TOKEN, "")?,
        key_version: get_s(item, attr::KEY_VERSION)?.to_owned(),
        created_at: get_n(item, attr::CREATED)?,
        expires_at: get_opt_n(item, attr::EXPIRES)?,
        scope: get_scope(item)?,
        link: get_link(item)?,
    })
}

/// What a rewrap scan reads: a record's token and data key, and enough to
/// skip husks and tombstones. The rewrap role's `Scan` allows these.
pub const REWRAP_SCAN_ATTRIBUTES: &[&str] = &[attr::PK, attr::FORMAT, attr::DATA_KEY, attr::ERASED];
/// What a verify scan reads: the facts an index item must agree with, and
/// index items whole. No `ct`, `dk`, `bin`, `last4`. The verify role's
/// `Scan` allows these.
pub const VERIFY_SCAN_ATTRIBUTES: &[&str] = &[
    attr::PK,
    attr::FORMAT,
    attr::LINK,
    attr::SCOPE,
    attr::EXPIRES,
    attr::ERASED,
    attr::TOKEN,
    attr::KEY_VERSION,
    attr::CREATED,
];

/// The projection of a scan in `view`; `None` reads whole items.
pub(super) fn scan_attributes(view: ScanView) -> Option<&'static [&'static str]> {
    match view {
        ScanView::Whole => None,
        ScanView::WrappedKeys => Some(REWRAP_SCAN_ATTRIBUTES),
        ScanView::Facts => Some(VERIFY_SCAN_ATTRIBUTES),
    }
}

/// Reads one scanned item, as far as `view` read it: a record (or the part
/// of it the view reads), an index item, a husk, a tombstone or a malformed
/// item. In a projected view a tombstone is known by `erased` alone (the
/// attributes it lacks were not read).
pub(super) fn parse_scanned(item: &Item, view: ScanView) -> ScannedItem {
    let pk = item
        .get(attr::PK)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let record = pk.starts_with("t#");
    // Capture sessions hold no card data and no index: no scan reads them.
    if pk.starts_with("s#") {
        return ScannedItem::NotRead;
    }
    let erased = match view {
        ScanView::Whole => is_tombstone(item),
        _ => !is_void(item) && item.contains_key(attr::ERASED),
    };
    let parsed = if record && erased {
        Ok(ScannedItem::Erased)
    } else if record && is_void(item) {
        Ok(ScannedItem::Void)
    } else if record && view == ScanView::WrappedKeys {
        parse_token(item, attr::PK, "t#").and_then(|token| {
            Ok(ScannedItem::WrappedKey {
                token,
                wrapped_key: WrappedKey::new(get_b(item, attr::DATA_KEY)?),
            })
        })
    } else if record && view == ScanView::Facts {
        parse_record_facts(item).map(ScannedItem::Facts)
    } else if record {
        parse_record(item).map(ScannedItem::Record)
    } else if view == ScanView::WrappedKeys {
        Ok(ScannedItem::NotRead)
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
