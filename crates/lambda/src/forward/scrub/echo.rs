//! The fail-closed check behind the masking: after the answer is masked,
//! every card number forward sent is searched for in the masked text, in
//! each encoding a processor might echo it in. Masking only knows card
//! numbers written as digits; anything it could not reach is found here and
//! the whole answer is refused.
//!
//! The work is linear in the text: each sent card number becomes a fixed
//! set of needles, all searched in one Aho-Corasick pass over each of a
//! fixed number of views of the text ([`super::views`]), each view at most
//! a small multiple of the text's size.

use aho_corasick::AhoCorasick;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use zeroize::Zeroizing;

use super::views;

/// How a sent card number was found in an answer. Names the encoding only,
/// never where or which card, so it can be logged and audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Its digits in order, with other characters (at most
    /// [`views::MAX_GAP`] in a row) between them: colons, commas, letters,
    /// markup, digits of other scripts.
    Digits,
    /// Hex of its ASCII digits (or of their UTF-16 code units).
    Hex,
    /// Base64 or base64url of its digits, at any alignment.
    Base64,
    /// Written with percent, HTML character reference or backslash escapes.
    Escaped,
    /// Inside a base64 or base64url blob whose decoded text holds it.
    InBase64,
}

impl Encoding {
    /// A short name for logs, audit and the caller's problem detail.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Digits => "digits with separators",
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
            Encoding::Escaped => "escaped",
            Encoding::InBase64 => "inside base64",
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The needles of the card numbers forward sent, built once per answer.
pub struct Echoes {
    /// Searched in digit streams ([`views::digit_stream`]): the card
    /// numbers themselves and the hex of their digits, which is digits too.
    digits: AhoCorasick,
    /// For each pattern of `digits`, what it is.
    digit_kinds: Vec<Encoding>,
    /// Searched in the text itself: the stable parts of each card number's
    /// base64 and base64url encodings.
    base64: AhoCorasick,
}

impl Echoes {
    /// The needles for `sent` (card numbers as ASCII digits); `None` when
    /// nothing was sent, so there is nothing to look for. An error (the
    /// automata's size limits, far above a request's cards) must refuse
    /// the answer: it could not be checked.
    pub fn new(sent: &[&str]) -> Result<Option<Echoes>, aho_corasick::BuildError> {
        let sent: Vec<&str> = sent.iter().copied().filter(|p| !p.is_empty()).collect();
        if sent.is_empty() {
            return Ok(None);
        }
        // The needles are the card numbers in other forms: wiped when built
        // (the automata built from them are not; see the README's limits).
        let mut digits: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut digit_kinds = Vec::new();
        let mut base64: Vec<Zeroizing<String>> = Vec::new();
        for pan in sent {
            let bytes = pan.as_bytes();
            digits.push(Zeroizing::new(bytes.to_vec()));
            digit_kinds.push(Encoding::Digits);
            // The hex of an ASCII digit is `3` and the digit: all digits, so
            // it is searched where digits are, separators and all
            // (`34:31:31:...`). Case does not matter: there are no letters.
            // UTF-16, big- and little-endian: `0034...`, `3400...`.
            let utf16_be: Zeroizing<Vec<u8>> =
                Zeroizing::new(bytes.iter().flat_map(|b| [0, *b]).collect());
            let utf16_le: Zeroizing<Vec<u8>> =
                Zeroizing::new(bytes.iter().flat_map(|b| [*b, 0]).collect());
            for hexed in [bytes, &utf16_be[..], &utf16_le[..]] {
                digits.push(Zeroizing::new(hex::encode(hexed).into_bytes()));
                digit_kinds.push(Encoding::Hex);
            }
            base64.extend(base64_needles(bytes).into_iter().map(Zeroizing::new));
        }
        base64.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        base64.dedup_by(|a, b| a.as_str() == b.as_str());
        Ok(Some(Echoes {
            digits: AhoCorasick::new(digits.iter().map(|d| &d[..]))?,
            digit_kinds,
            base64: AhoCorasick::new(base64.iter().map(|b| b.as_bytes()))?,
        }))
    }

    /// How `text` still holds a sent card number, if it does. Reads the
    /// text as it is, with its escapes decoded and its whitespace removed,
    /// and the text of each base64 blob in it, one level deep: a blob
    /// inside a blob is still found, by its own base64 needles, in the
    /// outer blob's text.
    pub fn find(&self, text: &str) -> Option<Encoding> {
        self.search(text, true)
    }

    fn search(&self, text: &str, look_inside: bool) -> Option<Encoding> {
        if let Some(kind) = self.in_digits(text) {
            return Some(kind);
        }
        if self.base64.is_match(text) {
            return Some(Encoding::Base64);
        }
        let decoded = views::unescape(text);
        let escaped = *decoded != *text;
        if escaped && self.in_digits(&decoded).is_some() {
            return Some(Encoding::Escaped);
        }
        let compact = views::compact(&decoded);
        if (escaped || *compact != *decoded) && self.base64.is_match(compact.as_bytes()) {
            return Some(if escaped {
                Encoding::Escaped
            } else {
                Encoding::Base64
            });
        }
        let mut found = None;
        if look_inside {
            views::each_base64_text(&compact, |inner| {
                found = self.search(inner, false).map(|_| Encoding::InBase64);
                found.is_some()
            });
        }
        found
    }

    fn in_digits(&self, text: &str) -> Option<Encoding> {
        let stream = views::digit_stream(text);
        self.digits
            .find(&stream[..])
            .and_then(|m| self.digit_kinds.get(m.pattern().as_usize()).copied())
    }
}

/// The parts of the base64 and base64url encodings of `pan` that are the
/// same wherever it sits inside a longer encoded blob.
///
/// Base64 writes each 3 bytes as 4 characters of 6 bits. Inside a longer
/// blob the card number's first byte may be the first, second or third byte
/// of its group (its *alignment*, 0, 1 or 2 bytes after the group starts),
/// so the same card has three encodings, shifted by 0, 8 or 16 bits. In
/// each, a character whose 6 bits all come from the card's bytes is fixed by
/// the card alone; the characters at either end that share bits with the
/// bytes before or after it depend on the surrounding data and are left out.
/// With the card's bits at `[8a, 8a + 8n)` of the group-aligned stream
/// (alignment `a`, `n` digits), character `j` covers bits `[6j, 6j + 6)`, so
/// the stable ones are `j` from `ceil(8a / 6)` to `floor((8a + 8n) / 6)`
/// (exclusive). Encoding `a` zero bytes and the card gives those characters
/// exactly: they do not read the zero bytes, and the partial character at
/// the end (padded with zero bits, no `=` as the encoder is unpadded) is
/// cut off. A 12-digit card keeps at least 15 characters (90 bits: no
/// other text matches by chance), a 16-digit one at least 20.
///
/// Padding (`=`) only ever follows the last group of a blob, outside the
/// stable part, so padded and unpadded blobs match alike; base64url differs
/// only in `-` and `_` for `+` and `/`, so its needles are the same where
/// neither character occurs.
pub fn base64_needles(pan: &[u8]) -> Vec<String> {
    let mut out = Vec::with_capacity(6);
    for align in 0..3usize {
        let mut bytes = Zeroizing::new(vec![0u8; align]);
        bytes.extend_from_slice(pan);
        let start = (8 * align).div_ceil(6);
        let end = 8 * (align + pan.len()) / 6;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = Zeroizing::new(engine.encode(&bytes[..]));
            if let Some(stable) = encoded.get(start..end) {
                out.push(stable.to_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const VISA: &str = "4111111111111111";

    #[test]
    fn base64_needles_are_found_at_every_alignment_and_padding() {
        let needles = base64_needles(VISA.as_bytes());
        for before in ["", "x", "xy", "xyz", "{\"card\":\""] {
            for after in ["", "\"}", "z", "zz"] {
                let data = format!("{before}{VISA}{after}");
                for engine in [
                    &base64::engine::general_purpose::STANDARD,
                    &base64::engine::general_purpose::URL_SAFE,
                    &STANDARD_NO_PAD,
                    &URL_SAFE_NO_PAD,
                ] {
                    let blob = engine.encode(&data);
                    assert!(
                        needles.iter().any(|n| blob.contains(n.as_str())),
                        "{before:?}+card+{after:?}: {blob}"
                    );
                }
            }
        }
    }

    #[test]
    fn stable_parts_are_long_enough_to_mean_the_card() {
        for pan in ["411111111145", "4111111111111111", "4111111111111111114"] {
            let shortest = base64_needles(pan.as_bytes())
                .iter()
                .map(String::len)
                .min()
                .unwrap_or(0);
            assert!(shortest >= 15, "{pan}: {shortest}");
        }
    }

    #[test]
    fn nothing_sent_means_nothing_to_find() {
        assert!(matches!(Echoes::new(&[]), Ok(None)));
        assert!(matches!(Echoes::new(&[""]), Ok(None)));
    }
}
