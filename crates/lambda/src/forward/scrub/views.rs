//! Views of an answer's text that [`super::echo`] searches: its digits in
//! order, its escapes decoded, its whitespace removed, and the text of each
//! base64 blob in it. Each is made in one pass (or a fixed few) and is at
//! most a small multiple of the text's size.

use std::borrow::Cow;
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use regex::{Captures, Regex};
use tessera_core::digit_value;

/// Most characters between two digits of one number in a digit stream:
/// room for separators and markup (`4</d>\n    <d>1`, `&nbsp;`, `", "`),
/// little enough that digits from unrelated fields rarely join.
pub const MAX_GAP: usize = 16;

/// Marks, in a digit stream, a gap longer than [`MAX_GAP`]: no needle
/// matches across it.
const BREAK: u8 = b'|';

/// The digits of `text` (of any script, as ASCII), in order, with
/// [`BREAK`] wherever more than [`MAX_GAP`] other characters separate two.
/// So a card number written with any separators between its digits is a
/// plain run of digits here.
pub fn digit_stream(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut gap = 0usize;
    for c in text.chars() {
        match digit_value(c) {
            Some(d) => {
                if gap > MAX_GAP && !out.is_empty() {
                    out.push(BREAK);
                }
                gap = 0;
                out.push(b'0' + d);
            }
            None => gap = gap.saturating_add(1),
        }
    }
    out
}

/// Most decoding passes: each undoes one layer of escaping (`%2534` is
/// `%34` is `4`).
const UNESCAPE_PASSES: usize = 3;

/// One escape of any kind a processor (or the caller's reader) decodes:
/// a run of percent-escapes (decoded together, as UTF-8), `\uXXXX` and
/// `%uXXXX`, `\u{X...}`, `\xHH`, HTML numeric character references in
/// decimal or hex with any leading zeros and with or without the `;`
/// (browsers accept both), and JSON's one-letter backslash escapes.
static ESCAPE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:%[0-9A-Fa-f]{2})+",
        r"|[\\%][uU]([0-9A-Fa-f]{4})",
        r"|\\u\{([0-9A-Fa-f]{1,6})\}",
        r"|\\[xX]([0-9A-Fa-f]{2})",
        r"|&#[xX]0*([0-9A-Fa-f]{1,6});?",
        r"|&#0*([0-9]{1,7});?",
        r#"|\\([/\\"'bfnrt])"#,
    ))
    .ok()
});

/// `text` with its escapes decoded, up to [`UNESCAPE_PASSES`] layers deep.
/// For searching only: the result is not what any one reader would see
/// (it decodes every kind of escape at once), but holds whatever each
/// would.
pub fn unescape(text: &str) -> Cow<'_, str> {
    let Some(escape) = ESCAPE.as_ref() else {
        return Cow::Borrowed(text);
    };
    let mut out = Cow::Borrowed(text);
    for _ in 0..UNESCAPE_PASSES {
        let next = match escape.replace_all(&out, decode_one) {
            Cow::Borrowed(_) => break,
            Cow::Owned(next) => next,
        };
        if next == *out {
            break;
        }
        out = Cow::Owned(next);
    }
    out
}

/// The text one [`ESCAPE`] match stands for; itself when it names no
/// character (a lone surrogate, a code point out of range).
fn decode_one(caps: &Captures<'_>) -> String {
    let whole = caps.get(0).map_or("", |m| m.as_str());
    let code = |group: usize, radix: u32| {
        caps.get(group)
            .and_then(|m| u32::from_str_radix(m.as_str(), radix).ok())
    };
    let decoded = if let Some(c) = code(1, 16).or_else(|| code(2, 16)).or_else(|| code(3, 16)) {
        char::from_u32(c).map(String::from)
    } else if let Some(c) = code(4, 16).or_else(|| code(5, 10)) {
        char::from_u32(c).map(String::from)
    } else if let Some(letter) = caps.get(6) {
        Some(
            match letter.as_str() {
                "n" => "\n",
                "r" => "\r",
                "t" => "\t",
                "b" | "f" => " ",
                other => other,
            }
            .to_owned(),
        )
    } else {
        Some(
            percent_encoding::percent_decode_str(whole)
                .decode_utf8_lossy()
                .into_owned(),
        )
    };
    decoded.unwrap_or_else(|| whole.to_owned())
}

/// `text` without whitespace, so a base64 blob broken into lines (MIME,
/// PEM, or escaped `\n` once decoded) reads as one.
pub fn compact(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_whitespace) {
        Cow::Owned(text.chars().filter(|c| !c.is_whitespace()).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Shortest run of base64 characters decoded: 12 bytes, the shortest card.
pub const MIN_BLOB_CHARS: usize = 16;

/// Calls `inner` with the text (lossy UTF-8) of each run of at least
/// [`MIN_BLOB_CHARS`] base64 or base64url characters in `text`, decoded
/// from each of its first four characters (a run may start before the
/// blob does, at a letter or digit of the text around it), until `inner`
/// returns true. Each run is read four times, so the work is linear.
pub fn each_base64_text(text: &str, mut inner: impl FnMut(&str) -> bool) {
    let is_base64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
    let runs = text
        .as_bytes()
        .split(|b| !is_base64(b))
        .filter(|run| run.len() >= MIN_BLOB_CHARS);
    for run in runs {
        // One alphabet for both: base64url's `-` and `_` are `+` and `/`.
        let normal: Vec<u8> = run
            .iter()
            .map(|b| match b {
                b'-' => b'+',
                b'_' => b'/',
                b => *b,
            })
            .collect();
        for skip in 0..4 {
            let Some(from) = normal.get(skip..) else {
                break;
            };
            // Whole groups only: they always decode.
            let whole = from.get(..from.len() - from.len() % 4).unwrap_or_default();
            let Ok(bytes) = STANDARD_NO_PAD.decode(whole) else {
                continue;
            };
            if inner(&String::from_utf8_lossy(&bytes)) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_streams_join_separated_digits_and_break_long_gaps() {
        assert_eq!(digit_stream("4:1,1a1"), b"4111");
        assert_eq!(digit_stream("４١1"), b"411");
        let far = format!("1{}2", " ".repeat(MAX_GAP + 1));
        assert_eq!(digit_stream(&far), b"1|2");
        let near = format!("1{}2", " ".repeat(MAX_GAP));
        assert_eq!(digit_stream(&near), b"12");
    }

    #[test]
    fn unescape_decodes_every_kind_and_nested_layers() {
        for (escaped, plain) in [
            ("%34%3a%3A", "4::"),
            ("%EF%BC%94", "４"),
            ("\\u0034\\U0031%u0031", "411"),
            ("\\u{34}\\x31\\X31", "411"),
            ("&#52;&#0049&#x31;&#X0031;&#x00000031", "41111"),
            ("\\/\\\\\\n", "/\\\n"),
            ("%2534", "4"),
            ("%26%2352%3B", "4"),
        ] {
            assert_eq!(unescape(escaped), plain, "{escaped}");
        }
        assert!(matches!(unescape("plain 4111 text"), Cow::Borrowed(_)));
        // Not characters: left as they are.
        assert_eq!(unescape("\\uD800 &#x110000;"), "\\uD800 &#x110000;");
    }

    #[test]
    fn base64_texts_are_read_from_every_start() {
        let blob = STANDARD_NO_PAD.encode("hello, card text here");
        for before in ["", "a", "ab", "abc"] {
            let mut seen = false;
            each_base64_text(&format!("x={before}{blob}="), |t| {
                seen = t.contains("card text");
                seen
            });
            assert!(seen, "{before}");
        }
    }
}
