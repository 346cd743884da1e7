//! The processor's answer, scrubbed: every card number in its headers or
//! body is masked to BIN and last 4 before the caller sees it, so forward's
//! caller stays out of PCI scope even when a processor echoes the card.
//!
//! Text is masked with the core's detector ([`tessera_core::mask_card_numbers`]:
//! digits of any script, any separators, invisible characters). `\uXXXX`
//! escapes (JSON's, in any document shape: JSON Lines, server-sent events,
//! JSONP, a header) are written out first wherever that means the same to a
//! JSON reader, so a card number hidden in them is found and masked too.
//! Then every fragment of a card number forward sent that is longer than
//! its first six digits is masked, whatever its shape: a processor field
//! that truncates the echo must not return more than BIN and last 4.

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
pub fn headers(map: &HeaderMap, sent: &[&str]) -> Vec<(String, String)> {
    map.iter()
        .filter(|(name, _)| !DROPPED.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?;
            Some((mask_text(name.as_str(), sent), mask_text(value, sent)))
        })
        .collect()
}

/// Most digits an answer may hold: masking reads every 12- to 19-digit
/// window of a chain of digit groups, so its work and memory grow with the
/// digits, and a processor answer of nothing but digit groups could exhaust
/// the function's memory after the card numbers were sent.
pub const MAX_ANSWER_DIGITS: usize = 32 * 1024;

/// The answer's body, masked; `None` if it is not UTF-8 or holds more than
/// [`MAX_ANSWER_DIGITS`] digits (it cannot be checked within bounds).
/// `sent` holds the card numbers forward sent (digits).
pub fn body(bytes: &[u8], sent: &[&str]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.chars().filter(|c| c.is_numeric()).count() > MAX_ANSWER_DIGITS {
        return None;
    }
    let masked = mask_text(text, sent);
    Some(mask_json_escapes(&masked).map_or(masked, Cow::into_owned))
}

/// Escapes written out, card numbers masked, fragments of sent ones masked.
fn mask_text(text: &str, sent: &[&str]) -> String {
    let plain = unescape_u(text);
    let masked = mask_card_numbers(&plain).into_owned();
    mask_fragments(&masked, sent)
}

/// Shortest run of a sent card number's digits masked wherever it appears:
/// one more than its BIN.
const FRAGMENT_DIGITS: usize = 7;

/// Masks, in every run of ASCII digits, each digit that belongs to a run of
/// [`FRAGMENT_DIGITS`] or more digits of a sent card number, except those of
/// its BIN and last 4 at their own places.
fn mask_fragments(text: &str, sent: &[&str]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut masked = vec![false; chars.len()];
    let mut start = 0;
    while start < chars.len() {
        if !chars[start].is_ascii_digit() {
            start += 1;
            continue;
        }
        let mut end = start;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
        }
        let run: String = chars[start..end].iter().collect();
        for pan in sent {
            let n = pan.len();
            let lead = tessera_core::shown_leading_digits(n);
            // A longer fragment is the union of its windows of this length,
            // each matching where it stands in the longer one.
            for from in 0..=n.saturating_sub(FRAGMENT_DIGITS) {
                let Some(piece) = pan.get(from..from + FRAGMENT_DIGITS) else {
                    continue;
                };
                let mut search = 0;
                while let Some(at) = run[search..].find(piece) {
                    let at = search + at;
                    for (k, m) in masked[start + at..start + at + piece.len()]
                        .iter_mut()
                        .enumerate()
                    {
                        let place = from + k;
                        // BIN and last 4 may show, at their own places only.
                        if !(place < lead || place >= n.saturating_sub(4)) {
                            *m = true;
                        }
                    }
                    search = at + 1;
                }
            }
        }
        start = end;
    }
    chars
        .iter()
        .zip(masked)
        .map(|(c, m)| if m { '*' } else { *c })
        .collect()
}

/// `text` with each `\uXXXX` escape (a surrogate pair too) written as its
/// character, except where that would change what a JSON reader sees: a
/// quote, a backslash, a control character, or an unpaired surrogate.
fn unescape_u(text: &str) -> Cow<'_, str> {
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
        let out = body(br#"{"a":"4111111111111111","b":"4111 1111 1111 1111","c":"\u0034\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031"}"#, &[])
            .expect("text");
        assert!(!contains_card_number(&out), "{out}");
        let v: Value = serde_json::from_str(&out).expect("json");
        for k in ["a", "b", "c"] {
            let s = v[k].as_str().expect("string");
            assert!(!contains_card_number(s), "{k}: {s}");
            assert!(s.starts_with("4111") && s.ends_with("1111"), "{k}: {s}");
        }
        assert_eq!(
            body(b"{\"ok\":true}", &[]).as_deref(),
            Some("{\"ok\":true}")
        );
        assert_eq!(body(&[0xff, 0xfe], &[]), None);
    }

    #[test]
    fn masks_headers_and_drops_hop_by_hop() {
        let mut map = HeaderMap::new();
        map.insert("x-card", "4111-1111-1111-1111".parse().expect("value"));
        map.insert("connection", "close".parse().expect("value"));
        map.insert("content-type", "application/json".parse().expect("value"));
        let out = headers(&map, &[]);
        assert_eq!(
            out,
            vec![
                ("x-card".to_owned(), "4111-11**-****-1111".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
        );
    }
}
