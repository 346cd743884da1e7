//! Test-only: card numbers to test with, and a leak finder for the suite.
//!
//! [`find_card_numbers`] is the oracle the leak tests use on captured logs,
//! metrics, error messages and responses. It shares no code with
//! `tessera-core`'s `contains_card_number` (an oracle must not be the code
//! under test) and reads text differently, more eagerly, since its false
//! positives cost a test author a look rather than a caller a refusal.
//!
//! Each line is read on its own:
//!
//! 1. JSON `\uXXXX` escapes (surrogate pairs included) are decoded; the
//!    `"Timestamp":<epoch ms>` of CloudWatch Embedded Metric Format lines is
//!    blanked, the one exemption (a 13-digit number in every metrics line);
//!    invisible characters (soft hyphen, zero-width space and joiners, word
//!    joiner, BOM) are dropped; every digit of any script reads as its ASCII
//!    digit.
//! 2. The line splits into *runs*: digits with any number of separators
//!    between them (white space, `-`, `.`, `/`, `_`, `\`, and the Unicode
//!    dashes, full-width forms and middle dot), separators removed. Any
//!    other character ends a run.
//! 3. A run is a finding if it holds one of [`TEST_PANS`] anywhere, or the
//!    distinctive hidden middle of one ([`TestPan::distinctive_middle`]), or
//!    any window of 12 to 19 consecutive digits that passes the Luhn check,
//!    unless that window is one digit repeated (`000000000000`: every such
//!    number passes the check, and zero-filled ids are common). One finding
//!    per test PAN or middle in the run; failing those, one for the run's
//!    longest Luhn-valid window.
//!
//! A [`Finding`] holds the line number and the last four digits only.
//!
//! Windows inside a longer run are checked on purpose (a PAN glued to other
//! digits is still a leak), so a long number that is legitimately in the
//! text, such as an `fpe` token (built to fail the Luhn check as a whole,
//! though one of its shorter windows usually passes), is flagged: name such
//! values to [`find_card_numbers_except`].

mod digits;
mod pans;

pub use pans::{MIN_MIDDLE_DIGITS, TEST_PANS, TestPan};

use std::fmt;

/// Fewest digits in a card number.
const MIN_DIGITS: usize = 12;
/// Most digits in a card number.
const MAX_DIGITS: usize = 19;
/// The EMF field whose epoch-millisecond value is exempt.
const EMF_TIMESTAMP: &str = "\"Timestamp\":";

/// What was found where: never more than the last four digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Line number, from 1.
    pub line: usize,
    /// The last four digits of what was found.
    pub last4: String,
    /// What matched.
    pub kind: FindingKind,
}

/// Which rule found a card number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// One of [`TEST_PANS`], possibly inside a longer number.
    TestPan,
    /// The hidden middle digits of one of [`TEST_PANS`].
    TestPanMiddle,
    /// A Luhn-valid 12 to 19 digit number.
    LuhnValid,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {:?} ending {}",
            self.line, self.kind, self.last4
        )
    }
}

/// Card numbers in `text`, by line; see the crate documentation.
///
/// ```
/// use tessera_testkit::find_card_numbers;
/// let found = find_card_numbers("ok\npan=4111-1111-1111-1111");
/// assert_eq!((found[0].line, found[0].last4.as_str()), (2, "1111"));
/// assert!(find_card_numbers(r#"{"_aws":{"Timestamp":1795000000017}}"#).is_empty());
/// ```
pub fn find_card_numbers(text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = blank_clock_fractions(&blank_emf_timestamp(&decode_json_escapes(line)));
        for run in runs(&line) {
            found.extend(scan_run(&run).into_iter().map(|(last4, kind)| Finding {
                line: n + 1,
                last4,
                kind,
            }));
        }
    }
    found
}

/// [`find_card_numbers`], after blanking each occurrence of the `expected`
/// strings (values a test knows may be there, such as an issued `fpe` token).
pub fn find_card_numbers_except(text: &str, expected: &[&str]) -> Vec<Finding> {
    let mut text = text.to_owned();
    for value in expected.iter().filter(|v| !v.is_empty()) {
        text = text.replace(value, "[expected]");
    }
    find_card_numbers(&text)
}

/// Panics, naming line numbers and last four digits only, if `text` holds a
/// card number. `what` names the text in the message.
pub fn assert_no_card_numbers(what: &str, text: &str) {
    let found = find_card_numbers(text);
    assert!(
        found.is_empty(),
        "card numbers in {what}: {}",
        found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    );
}

/// Whether ASCII digits pass the Luhn check (this crate's own copy).
pub fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(d) = c.to_digit(10) else {
            return false;
        };
        sum += match (i % 2 == 1, d * 2) {
            (false, _) => d,
            (true, twice) if twice > 9 => twice - 9,
            (true, twice) => twice,
        };
    }
    !digits.is_empty() && sum % 10 == 0
}

/// What one run holds, as (last four digits, rule): each test PAN or middle
/// in it; otherwise its longest Luhn-valid window, if any.
fn scan_run(run: &str) -> Vec<(String, FindingKind)> {
    let known: Vec<_> = TEST_PANS
        .iter()
        .filter_map(|pan| {
            if run.contains(pan.digits) {
                Some((pan.last4().to_owned(), FindingKind::TestPan))
            } else if pan.distinctive_middle().is_some_and(|m| run.contains(m)) {
                Some((pan.last4().to_owned(), FindingKind::TestPanMiddle))
            } else {
                None
            }
        })
        .collect();
    if !known.is_empty() {
        return known;
    }
    (MIN_DIGITS..=MAX_DIGITS.min(run.len()))
        .rev()
        .flat_map(|len| (0..=run.len() - len).map(move |at| &run[at..at + len]))
        .find(|w| {
            let first = w.as_bytes()[0];
            w.bytes().any(|b| b != first) && luhn_ok(w)
        })
        .map(|w| (w[w.len() - 4..].to_owned(), FindingKind::LuhnValid))
        .into_iter()
        .collect()
}

/// The line's runs of ASCII digits joined across separators (see step 2).
fn runs(line: &str) -> Vec<String> {
    let mut runs = vec![String::new()];
    for c in line.chars() {
        if let Some(d) = digits::ascii_digit(c) {
            if let Some(run) = runs.last_mut() {
                run.push(d);
            }
        } else if is_invisible(c) || is_separator(c) {
            // Joins the digits on either side.
        } else if runs.last().is_some_and(|r| !r.is_empty()) {
            runs.push(String::new());
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '.' | '/' | '_' | '\\' | '\u{B7}' | '\u{2010}'
                ..='\u{2015}'
                    | '\u{2212}'
                    | '\u{FE58}'
                    | '\u{FE63}'
                    | '\u{FF0D}'
                    | '\u{FF0E}'
                    | '\u{FF0F}'
                    | '\u{FF3F}'
        )
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// Replaces the value of EMF's `"Timestamp":` with `0`.
/// The fraction of each clock time (`20:57:46.249982643Z`) as one `0`: log
/// lines' own timestamps carry nine random-looking digits, which hold a test
/// card's distinctive middle by chance (`982643` of 6759649826438453), and
/// nothing a request sends can be written there.
fn blank_clock_fractions(line: &str) -> String {
    let bytes = line.as_bytes();
    let is_clock = |i: usize| {
        bytes.get(i..i + 9).is_some_and(|w| {
            w.iter().enumerate().all(|(k, b)| match k {
                2 | 5 => *b == b':',
                8 => *b == b'.',
                _ => b.is_ascii_digit(),
            })
        })
    };
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < bytes.len() {
        if is_clock(i) {
            out.push_str(&line[i..i + 9]);
            let mut end = i + 9;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            out.push('0');
            i = end;
            continue;
        }
        let c = line[i..].chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out
}

fn blank_emf_timestamp(line: &str) -> String {
    let Some(at) = line.find(EMF_TIMESTAMP) else {
        return line.to_owned();
    };
    let start = at + EMF_TIMESTAMP.len();
    let end = line[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(line.len(), |e| start + e);
    format!("{}0{}", &line[..start], &line[end..])
}

/// Decodes JSON `\uXXXX` escapes, pairing surrogates; leaves all else as is.
fn decode_json_escapes(line: &str) -> String {
    let hex_at = |i: usize| {
        line.get(i..i + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i..].starts_with("\\u")
            && let Some(unit) = hex_at(i + 2)
        {
            let pair = (0xD800..0xDC00).contains(&unit) && line[i + 6..].starts_with("\\u");
            let low = if pair { hex_at(i + 8) } else { None };
            if let Some(low) = low.filter(|l| (0xDC00..0xE000).contains(l)) {
                let cp = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                out.extend(char::from_u32(cp));
                i += 12;
            } else {
                out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
                i += 6;
            }
            continue;
        }
        let c = line[i..].chars().next().unwrap_or('\u{FFFD}');
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(feature = "stub")]
pub mod stub;
#[cfg(feature = "trail")]
pub mod trail;
