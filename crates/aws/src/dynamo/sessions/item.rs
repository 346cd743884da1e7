//! A capture session's item, `pk = s#<session id>`: its attribute names
//! and how a [`CaptureSession`] is written to one and read back.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use tessera_core::capture::{
    CaptureOrigin, CaptureSession, CapturedCard, CardholderName, Lang, OriginMode, Retention,
    SecretHash, SessionId, SessionPolicy,
};
use tessera_core::{Brand, Metadata, Token, TokenFacts, TokenFormat, VaultError};

use crate::dynamo::items::{Item, attr, corrupt, get_b, get_n, get_opt_n, get_s, n, s};

/// Attribute names of a session item (the contract in notes/capture-contract.md).
pub(super) mod sattr {
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

/// The session's key.
pub(super) fn session_pk(id: &SessionId) -> AttributeValue {
    s(format!("s#{}", id.as_str()))
}

/// One captured card as an entry of the session's `cards` list.
pub(super) fn card_value(card: &CapturedCard) -> AttributeValue {
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

/// A `cards` entry read back.
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

/// The item that stores `session`.
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

/// The session an item holds; any malformed attribute is corrupt data.
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
