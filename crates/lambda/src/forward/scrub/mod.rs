//! The processor's answer, scrubbed: every card number in its headers or
//! body is masked to BIN and last 4 before the caller sees it, so forward's
//! caller stays out of PCI scope even when a processor echoes the card.
//!
//! Text is masked with the core's detector ([`tessera_core::mask_card_numbers`]:
//! digits of any script, any separators, invisible characters). `\uXXXX`
//! escapes (JSON's, in any document shape: JSON Lines, server-sent events,
//! JSONP, a header) are written out first wherever that means the same to a
//! JSON reader, so a card number hidden in them is found and masked too.
//! Then every fragment of a card number forward sent, six digits or more
//! of any script and across grouping separators, has its hidden digits
//! masked: a processor field that truncates or groups the echo must not
//! return more than BIN and last 4.
//!
//! Masking fails closed: the masked body and every masked header name and
//! value are then searched for each card number forward sent, in every
//! encoding [`echo`] knows (digits with any separators, hex, base64 and
//! base64url at any alignment, percent, HTML and backslash escapes, and
//! those inside base64). A card number still found there is one masking
//! could not remove, and the whole answer is refused ([`Unscrubbable`]):
//! the caller gets a 502 with no processor body and no processor headers.

mod echo;
mod json;
mod views;

use http::HeaderMap;
use tessera_core::mask_card_numbers;
use tracing::warn;

pub use echo::{Encoding, base64_needles};
pub use views::MAX_GAP;

use crate::problem::{Kind, Problem};
use echo::Echoes;
use json::{mask_json_escapes, unescape_u};

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

/// Most digits an answer may hold: masking reads every 12- to 19-digit
/// window of a chain of digit groups, so its work and memory grow with the
/// digits, and a processor answer of nothing but digit groups could exhaust
/// the function's memory after the card numbers were sent.
pub const MAX_ANSWER_DIGITS: usize = 32 * 1024;

/// The processor's answer as the caller may see it: masked, and checked to
/// hold none of the card numbers sent in any known encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrubbedAnswer {
    /// Header names and values (a name may repeat).
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

/// Why an answer cannot be given to the caller at all. Holds nothing of the
/// answer, so it may be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unscrubbable {
    /// The body is not UTF-8 text: it cannot be checked.
    #[error("the answer is not UTF-8 text")]
    NotText,
    /// The body holds more than [`MAX_ANSWER_DIGITS`] digits.
    #[error("the answer holds more digits than can be checked")]
    TooManyDigits,
    /// The search for the card numbers sent could not be set up.
    #[error("the answer could not be checked for the card numbers sent")]
    Unchecked,
    /// After masking, the answer still holds a card number that was sent.
    #[error("the answer echoes a card number that was sent ({0}), which masking cannot remove")]
    Echoed(Encoding),
}

impl Unscrubbable {
    /// The caller's problem (502), logged with its reason (never the PAN):
    /// the audit event names the problem kind.
    pub fn into_problem(self) -> Problem {
        warn!(reason = %self, "forward refused the destination's answer");
        match self {
            Unscrubbable::NotText | Unscrubbable::TooManyDigits => Problem::new(
                Kind::UpstreamInvalid,
                "the destination's answer is not UTF-8 text, or holds too many digits to check",
            ),
            Unscrubbable::Unchecked => Problem::new(
                Kind::UpstreamUnscrubbable,
                "the destination's answer could not be checked for the card numbers sent; none of it is returned",
            ),
            Unscrubbable::Echoed(encoding) => Problem::new(
                Kind::UpstreamUnscrubbable,
                format!(
                    "the destination's answer echoes a card number it was sent ({encoding}); none of the answer is returned"
                ),
            ),
        }
    }
}

/// The answer's headers and body, masked and checked. `sent` holds the
/// card numbers forward sent (ASCII digits).
pub fn answer(
    map: &HeaderMap,
    bytes: &[u8],
    sent: &[&str],
) -> Result<ScrubbedAnswer, Unscrubbable> {
    let echoes = echoes(sent)?;
    Ok(ScrubbedAnswer {
        body: scrub_body(bytes, sent, echoes.as_ref())?,
        headers: scrub_headers(map, sent, echoes.as_ref())?,
    })
}

/// The answer's headers, masked and checked, as name and value pairs (a
/// name may repeat). A value that is not text is dropped: it cannot be
/// checked.
pub fn headers(map: &HeaderMap, sent: &[&str]) -> Result<Vec<(String, String)>, Unscrubbable> {
    scrub_headers(map, sent, echoes(sent)?.as_ref())
}

/// The answer's body, masked and checked; refused if it is not UTF-8 or
/// holds more than [`MAX_ANSWER_DIGITS`] digits (it cannot be checked
/// within bounds).
pub fn body(bytes: &[u8], sent: &[&str]) -> Result<String, Unscrubbable> {
    scrub_body(bytes, sent, echoes(sent)?.as_ref())
}

fn echoes(sent: &[&str]) -> Result<Option<Echoes>, Unscrubbable> {
    Echoes::new(sent).map_err(|_| Unscrubbable::Unchecked)
}

fn scrub_headers(
    map: &HeaderMap,
    sent: &[&str],
    echoes: Option<&Echoes>,
) -> Result<Vec<(String, String)>, Unscrubbable> {
    map.iter()
        .filter(|(name, _)| !DROPPED.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .map(|(name, value)| {
            let name = checked(mask_text(name), sent, echoes)?;
            let value = checked(mask_text(value), sent, echoes)?;
            Ok((name, value))
        })
        .collect()
}

fn scrub_body(
    bytes: &[u8],
    sent: &[&str],
    echoes: Option<&Echoes>,
) -> Result<String, Unscrubbable> {
    let text = std::str::from_utf8(bytes).map_err(|_| Unscrubbable::NotText)?;
    if text.chars().filter(|c| c.is_numeric()).count() > MAX_ANSWER_DIGITS {
        return Err(Unscrubbable::TooManyDigits);
    }
    let masked = mask_text(text);
    let masked = mask_json_escapes(&masked).map_or(masked, std::borrow::Cow::into_owned);
    checked(masked, sent, echoes)
}

/// `masked` with the fragments of sent card numbers masked too, unless it
/// still holds a whole sent card number. Searched before the fragments are
/// masked: masking part of an echo the core's masker missed would hide it
/// from the search and return the rest of its hidden digits.
fn checked(masked: String, sent: &[&str], echoes: Option<&Echoes>) -> Result<String, Unscrubbable> {
    match echoes.and_then(|e| e.find(&masked)) {
        Some(encoding) => Err(Unscrubbable::Echoed(encoding)),
        None => Ok(mask_fragments(&masked, sent)),
    }
}

/// Escapes written out, card numbers masked.
fn mask_text(text: &str) -> String {
    let plain = unescape_u(text);
    mask_card_numbers(&plain).into_owned()
}

/// Shortest run of a sent card number's digits masked wherever it appears:
/// as long as its BIN. A window inside the BIN masks nothing (those digits
/// show at their own places); any other reveals hidden digits, and six of
/// them are every hidden digit of a 16-digit card.
const FRAGMENT_DIGITS: usize = 6;

/// Most non-digit characters between two digits of one run: a grouping
/// separator (`4111 1122`, `4111-1122`), never a field boundary (`", "`).
const FRAGMENT_GAP: usize = 1;

/// The digit runs of `text`: digits of any script (as the core reads them),
/// each run a list of (char index, ASCII digit), split where more than
/// [`FRAGMENT_GAP`] other characters stand between two digits.
fn digit_runs(chars: &[char]) -> Vec<Vec<(usize, u8)>> {
    let mut runs: Vec<Vec<(usize, u8)>> = Vec::new();
    let mut last: Option<usize> = None;
    for (i, c) in chars.iter().enumerate() {
        let Some(d) = tessera_core::digit_value(*c) else {
            continue;
        };
        let joined = last.is_some_and(|l| {
            i - l - 1 <= FRAGMENT_GAP && !chars[l + 1..i].iter().any(|c| c.is_alphanumeric())
        });
        match runs.last_mut() {
            Some(run) if joined => run.push((i, b'0' + d)),
            _ => runs.push(vec![(i, b'0' + d)]),
        }
        last = Some(i);
    }
    runs
}

/// Masks every digit that belongs to a run of [`FRAGMENT_DIGITS`] or more
/// consecutive digits of a sent card number, in any script and across
/// grouping separators, except those of its BIN and last 4 at their own
/// places: a processor field that truncates or groups its echo must not
/// return more than BIN and last 4.
fn mask_fragments(text: &str, sent: &[&str]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut masked = vec![false; chars.len()];
    for run in digit_runs(&chars) {
        let digits: Vec<u8> = run.iter().map(|(_, d)| *d).collect();
        for pan in sent {
            let pan = pan.as_bytes();
            let n = pan.len();
            let lead = tessera_core::shown_leading_digits(n);
            // A longer fragment is the union of its windows of this length,
            // each matching where it stands in the longer one.
            for from in 0..=n.saturating_sub(FRAGMENT_DIGITS) {
                let Some(piece) = pan.get(from..from + FRAGMENT_DIGITS) else {
                    continue;
                };
                for at in 0..=digits.len().saturating_sub(piece.len()) {
                    if digits.get(at..at + piece.len()) != Some(piece) {
                        continue;
                    }
                    for k in 0..piece.len() {
                        let place = from + k;
                        // BIN and last 4 may show, at their own places only.
                        if !(place < lead || place >= n.saturating_sub(4)) {
                            masked[run[at + k].0] = true;
                        }
                    }
                }
            }
        }
    }
    chars
        .iter()
        .zip(masked)
        .map(|(c, m)| if m { '*' } else { *c })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use tessera_core::contains_card_number;

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
        assert_eq!(body(b"{\"ok\":true}", &[]).as_deref(), Ok("{\"ok\":true}"));
        assert_eq!(body(&[0xff, 0xfe], &[]), Err(Unscrubbable::NotText));
    }

    #[test]
    fn masks_headers_and_drops_hop_by_hop() {
        let mut map = HeaderMap::new();
        map.insert("x-card", "4111-1111-1111-1111".parse().expect("value"));
        map.insert("connection", "close".parse().expect("value"));
        map.insert("content-type", "application/json".parse().expect("value"));
        let out = headers(&map, &[]).expect("no card was sent");
        assert_eq!(
            out,
            vec![
                ("x-card".to_owned(), "4111-11**-****-1111".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
        );
    }
}
