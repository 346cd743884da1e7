//! The processor's answer, scrubbed: every card number in its headers or
//! body is masked to BIN and last 4 before the caller sees it, so forward's
//! caller stays out of PCI scope even when a processor echoes the card.
//!
//! Text is masked with the core's detector ([`tessera_core::mask_card_numbers`]:
//! digits of any script, any separators, invisible characters). A JSON body
//! is also read as JSON, so a card number hidden in `\u0034...` escapes,
//! which the caller's parser would decode, is found and masked too.

use std::borrow::Cow;

use http::HeaderMap;
use serde_json::Value;
use tessera_core::{contains_card_number, mask_card_numbers};

/// Headers never passed back: hop-by-hop ones, and ones that describe the
/// upstream body's encoding or length, which the masked copy no longer has.
const DROPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
];

/// The answer's headers, masked, as name and value pairs (a name may repeat).
/// A value that is not text is dropped: it cannot be checked.
pub fn headers(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .filter(|(name, _)| !DROPPED.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?;
            Some((
                mask_card_numbers(name.as_str()).into_owned(),
                mask_card_numbers(value).into_owned(),
            ))
        })
        .collect()
}

/// The answer's body, masked; `None` if it is not UTF-8 (it cannot be checked).
pub fn body(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let masked = mask_card_numbers(text);
    Some(mask_json_escapes(&masked).unwrap_or(masked).into_owned())
}

/// If `text` is JSON whose decoded strings still hold a card number (written
/// with escapes), the re-serialized JSON with those strings masked.
fn mask_json_escapes(text: &str) -> Option<Cow<'static, str>> {
    if !text.contains('\\') {
        return None;
    }
    let mut value: Value = serde_json::from_str(text).ok()?;
    let mut changed = false;
    mask_value(&mut value, &mut changed);
    if !changed {
        return None;
    }
    serde_json::to_string(&value).ok().map(Cow::Owned)
}

fn mask_value(value: &mut Value, changed: &mut bool) {
    match value {
        Value::String(s) if contains_card_number(s) => {
            *s = mask_card_numbers(s).into_owned();
            *changed = true;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask_value(v, changed)),
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if let Some(mut v) = map.remove(&key) {
                    mask_value(&mut v, changed);
                    let key = if contains_card_number(&key) {
                        *changed = true;
                        mask_card_numbers(&key).into_owned()
                    } else {
                        key
                    };
                    map.insert(key, v);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_grouped_and_escaped_card_numbers() {
        let out = body(br#"{"a":"4111111111111111","b":"4111 1111 1111 1111","c":"\u0034\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031"}"#)
            .expect("text");
        assert!(!contains_card_number(&out), "{out}");
        let v: Value = serde_json::from_str(&out).expect("json");
        for k in ["a", "b", "c"] {
            let s = v[k].as_str().expect("string");
            assert!(!contains_card_number(s), "{k}: {s}");
            assert!(s.starts_with("4111") && s.ends_with("1111"), "{k}: {s}");
        }
        assert_eq!(body(b"{\"ok\":true}").as_deref(), Some("{\"ok\":true}"));
        assert_eq!(body(&[0xff, 0xfe]), None);
    }

    #[test]
    fn masks_headers_and_drops_hop_by_hop() {
        let mut map = HeaderMap::new();
        map.insert("x-card", "4111-1111-1111-1111".parse().expect("value"));
        map.insert("connection", "close".parse().expect("value"));
        map.insert("content-type", "application/json".parse().expect("value"));
        let out = headers(&map);
        assert_eq!(
            out,
            vec![
                ("x-card".to_owned(), "4111-11**-****-1111".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
        );
    }
}
