//! JSON's `\uXXXX` escapes, for masking: written out where that means the
//! same to a JSON reader, and decoded inside a JSON document's strings, so
//! a card number hidden in them is masked like a plain one.

use std::borrow::Cow;

use serde_json::Value;
use tessera_core::{contains_card_number, mask_card_numbers};

/// `text` with each `\uXXXX` escape (a surrogate pair too) written as its
/// character, except where that would change what a JSON reader sees: a
/// quote, a backslash, a control character, or an unpaired surrogate.
pub(super) fn unescape_u(text: &str) -> Cow<'_, str> {
    if !text.contains("\\u") {
        return Cow::Borrowed(text);
    }
    let hex = |s: &str| s.get(..4).and_then(|h| u32::from_str_radix(h, 16).ok());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\u") {
        // An escaped backslash before `u` is a literal `\u`, not an escape.
        let backslashes = rest[..at].chars().rev().take_while(|c| *c == '\\').count();
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let decoded = if backslashes % 2 == 1 {
            None
        } else {
            match hex(after) {
                Some(high @ 0xD800..=0xDBFF) => after
                    .get(4..)
                    .and_then(|r| r.strip_prefix("\\u"))
                    .and_then(hex)
                    .filter(|low| (0xDC00..=0xDFFF).contains(low))
                    .and_then(|low| {
                        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                    })
                    .map(|c| (c, 10)),
                Some(code) => char::from_u32(code).map(|c| (c, 4)),
                None => None,
            }
            .filter(|(c, _)| !matches!(c, '"' | '\\') && !c.is_control())
        };
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push_str("\\u");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// If `text` is JSON whose decoded strings still hold a card number (written
/// with escapes), the re-serialized JSON with those strings masked.
pub(super) fn mask_json_escapes(text: &str) -> Option<Cow<'static, str>> {
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
