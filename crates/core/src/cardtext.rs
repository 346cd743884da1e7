//! Free text that holds a card number, however it is written.
//!
//! Every caller string Tessera keeps or logs (metadata keys and values, the
//! detokenize reason, the correlation id) must not be a place to park a PAN.
//! [`contains_card_number`] refuses one written plainly, grouped by any
//! separators, in any script's digits, or with invisible characters between
//! the digits, and lets ordinary dates, times, phone numbers and order ids
//! through. The rule, exactly:
//!
//! 1. **Read.** Each character is a *digit* (any Unicode decimal digit, Nd,
//!    mapped to its value: ASCII, full-width, Arabic-Indic, Devanagari, ...;
//!    also superscript, subscript and circled digits), *invisible* (format
//!    characters, Cf, such as soft hyphen, zero-width space and joiners, bidi
//!    controls, BOM; other default-ignorable code points such as variation
//!    selectors; the general combining marks, such as a combining keycap),
//!    a *separator* (any Unicode space, any dash, any underscore-like
//!    connector, the dot and slash characters with their full-width and
//!    typographic forms, and every other character that is not a letter,
//!    a digit or `+`: bullets, ellipses, `|`, `*`, `#`, Braille
//!    blanks...), a *weak separator* (`:` and `,`, with their full-width
//!    and ideographic forms), or *other*. CJK numerals (`〇一二...九`, `零`) are digits.
//!    Invisible characters are dropped as if absent. A *group* is a maximal run of digits; a *chain* is a maximal
//!    sequence of groups with one or more separators (of any kind, mixed)
//!    between each two. Any other character ends a chain.
//! 2. **Digit run.** A group of 12 or more digits is refused, Luhn-valid or
//!    not: no ordinary text needs one, and it could be a PAN whose check
//!    digit was changed.
//! 3. **Card window.** Any run of consecutive groups of a chain (so starting
//!    and ending on group boundaries, which tolerates other numbers before
//!    or after it in the same chain) with 12 to 19 digits in all that passes
//!    the Luhn check, or that starts with 2 to 6 as payment cards do, is
//!    refused: a card number with its check digit dropped or changed still
//!    gives the card away. A window with a weak separator between two of
//!    its groups (`4111:1111:1111:1111`, `4111,1111,1111,1111`) is refused
//!    only if it passes the Luhn check, does not start with 0, has at least
//!    3 digits in each group but its first and last, and has no group in a
//!    date or address: times (`10:15:30`), lists (`1,2,3`) and grouped
//!    thousands (`1,234,567`) use these.
//! 4. **Exemptions**, for shapes nobody writes a card number in:
//!    - a chain (or the part of a chain between weak separators) made only
//!      of dates and IPv4 addresses, one after another (read from the
//!      left), is not checked. A *date* is three groups of
//!      4-2-2 or 2-2-4 digits (a 2 may be 1) with the same single `-`, `/`
//!      or `.` between them, a year from 1900 to 2099, a month 1 to 12 and
//!      a day 1 to 31 (either order for 2-2-4); an *IPv4 address* is four
//!      groups of 1 to 3 digits, each at most 255, with a single `.` between
//!      them, set apart from the next by more than one dot. So an interval
//!      such as `2026-11-01/2026-11-30` passes, eight dotted octets do not.
//!    - an international phone number (E.164): a run of groups that starts
//!      a chain right after a `+`, whose first group has 1 to 3 digits (the
//!      country code), and that has at most 15 digits in all, is not
//!      checked. Runs starting after the country code still are, so
//!      `+1 4111 1111 1111 1111` is refused.
//!
//! So `4111 1111 1111 1111`, `4111-1111-1111-1111`, `4 1 1 1 ...`,
//! `3782-822463-10005`, `4111 - 1111 - 1111 - 1111`, `card:4111.1111.1111.1111!`,
//! `4111:1111:1111:1111`, `4111,1111,1111,1111`,
//! `ref 12 4111 1111 1111 1111 exp 12/28`, `４１１１...` and `٤١١١...` are all
//! refused, while `2026-11-26T10:15:30Z`, `26/11/2026 10:15`,
//! `2026-11-01/2026-11-30`, `+44 20 7946 0958`, `(555) 123-4567` and
//! `ORD-2024-000123` pass.
//!
//! What it does not try to catch: a PAN deliberately disguised, with letters
//! between its digits (`4a1b1c1...`), or with colons or commas and groups of
//! one or two digits (`4:1:1:1...`, `41,11,11...`) or its check digit
//! changed, its digits spelt as words or encoded,
//! or a PAN of 12 to 15 digits dressed as a phone number (`+378 282 246 310
//! 005`) or as dates or addresses only. What it may
//! refuse: other numbers of 12 to 19 digits written in groups, such as a
//! phone number with `00` instead of `+`, or a date followed by a time
//! written with dots (`26.11.2026 10.15`): each run of whole groups with
//! 12 to 19 digits passes the Luhn check one time in ten. The caller can
//! reword (`+` for `00`, `:` in times).

mod chars;
mod shapes;

use std::borrow::Cow;

pub use chars::digit_value;
pub(crate) use chars::is_ignorable;

use chars::{ends_chain, is_separator, is_weak_separator};
use shapes::only_dates_and_addresses;

use crate::pan::{MAX_PAN_DIGITS, MIN_PAN_DIGITS, luhn_valid};

/// A run of this many digits is refused whatever its check digit: the
/// shortest PAN has 12 (ISO/IEC 7812).
pub const DIGIT_RUN_LIMIT: usize = MIN_PAN_DIGITS;
/// Most digits in an international phone number (ITU-T E.164).
const E164_MAX_DIGITS: usize = 15;
/// Most digits in a phone country code (ITU-T E.164).
const COUNTRY_CODE_MAX_DIGITS: usize = 3;

/// Whether `text` holds a card number: a run of 12 or more digits, or a
/// Luhn-valid 12 to 19 digit number written in groups. See the module
/// documentation for the exact rule.
///
/// ```
/// use tessera_core::contains_card_number;
/// assert!(contains_card_number("card: 4111-1111-1111-1111!"));
/// assert!(contains_card_number("４１１１ １１１１ １１１１ １１１１"));
/// assert!(contains_card_number("4\u{200B}111111111111111"));
/// assert!(!contains_card_number("settlement 2026-11-26T10:15:30Z"));
/// assert!(!contains_card_number("call +44 20 7946 0958"));
/// ```
pub fn contains_card_number(text: &str) -> bool {
    scan(text, |_| true)
}

/// `text` with every card number [`contains_card_number`] would find masked
/// to its first six and last four digits: each digit between them becomes
/// `*`, whatever script it was written in; separators, invisible characters
/// and everything else stay as they were. A run of 12 or more digits is
/// masked the same way, Luhn-valid or not. Borrowed when there was nothing
/// to mask.
///
/// ```
/// use tessera_core::mask_card_numbers;
/// assert_eq!(mask_card_numbers("card 4111-1111-1111-1111 ok"), "card 4111-11**-****-1111 ok");
/// assert_eq!(mask_card_numbers("settled 2026-11-26"), "settled 2026-11-26");
/// ```
pub fn mask_card_numbers(text: &str) -> Cow<'_, str> {
    let mut out = mask_once(text);
    // Masking splits a chain at the masked digits, so the kept digits can
    // join the numbers around them into a new Luhn window; mask again until
    // nothing is found. Each pass masks at least one digit, so it ends.
    while let Cow::Owned(again) = mask_once(&out) {
        out = Cow::Owned(again);
    }
    out
}

/// One masking pass of [`mask_card_numbers`].
fn mask_once(text: &str) -> Cow<'_, str> {
    let mut found: Vec<Vec<usize>> = Vec::new();
    scan(text, |offsets| {
        found.push(offsets.to_vec());
        false
    });
    // A window inside a longer one is the same card number read in part: it
    // is masked as the longer one is, so a 16-digit card keeps its BIN.
    // Sorted by start, longest first, a window lies inside an earlier one
    // exactly when an earlier one ends at or after its end.
    let span = |w: &[usize]| {
        (
            w.first().copied().unwrap_or(0),
            w.last().copied().unwrap_or(0),
        )
    };
    found.sort_by(|a, b| {
        let ((a0, a1), (b0, b1)) = (span(a), span(b));
        a0.cmp(&b0).then(b1.cmp(&a1))
    });
    let mut masked: Vec<usize> = Vec::new();
    let mut reach: Option<usize> = None;
    for window in &found {
        let (_, last) = span(window);
        let inside_longer = reach.is_some_and(|r| r >= last);
        reach = Some(reach.map_or(last, |r| r.max(last)));
        if inside_longer {
            continue;
        }
        let keep_tail = window.len().saturating_sub(MASK_KEEP_LAST);
        let keep_first = crate::pan::shown_leading_digits(window.len());
        masked.extend(window.get(keep_first..keep_tail).unwrap_or_default());
    }
    if masked.is_empty() {
        return Cow::Borrowed(text);
    }
    masked.sort_unstable();
    masked.dedup();
    let mut out = String::with_capacity(text.len());
    let mut next = masked.iter().peekable();
    for (at, c) in text.char_indices() {
        if next.peek() == Some(&&at) {
            next.next();
            out.push(MASK_CHAR);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Digits a masked card number keeps at its end.
const MASK_KEEP_LAST: usize = 4;
/// What a masked digit becomes. It separates groups like any punctuation, so
/// the digits kept on either side can still join a neighbour into a new
/// window: [`mask_card_numbers`] masks until nothing is found.
const MASK_CHAR: char = '*';

/// Reads `text` once, calling `found` with the byte offsets of the digits of
/// each card number (a digit run, or a Luhn window); `found` returns true to
/// stop. Returns whether anything was found.
fn scan(text: &str, mut found: impl FnMut(&[usize]) -> bool) -> bool {
    let mut reader = Reader::default();
    let mut any = false;
    for (at, c) in text.char_indices() {
        if is_ignorable(c) {
            continue;
        }
        let stop = if let Some(d) = digit_value(c) {
            reader.digit(d, at);
            false
        } else if is_weak_separator(c) {
            reader.separator(c, true);
            false
        } else if c != '+' && (is_separator(c) || !ends_chain(c)) {
            reader.separator(c, false);
            false
        } else {
            // `+` ends a chain (time zones: `...30.123456789+01:00`) and marks
            // the next as a phone number's country code.
            reader.end_chain(c == '+', &mut any, &mut found)
        };
        if stop {
            return true;
        }
    }
    reader.end_chain(false, &mut any, &mut found);
    any
}

/// One run of digits within a chain.
#[derive(Debug, Clone, Copy)]
struct Group {
    /// Where its digits start in the chain's digit buffer.
    start: usize,
    /// How many digits.
    len: usize,
    /// The separator before it when there was exactly one; `None` for the
    /// first group of a chain or after two or more separators.
    single_before: Option<char>,
    /// A weak separator (`:` or `,`) was among those before it.
    weak_before: bool,
}

/// Splits text into chains of digit groups as it is read, checking each.
#[derive(Debug, Default)]
struct Reader {
    /// Digit values of the current chain.
    digits: Vec<u8>,
    /// Byte offset in the text of each of those digits.
    offsets: Vec<usize>,
    groups: Vec<Group>,
    /// Whether the current group is still open (the last thing read was a digit).
    in_group: bool,
    /// Separators read since the last group.
    gap: usize,
    gap_char: Option<char>,
    /// A weak separator was among them.
    gap_weak: bool,
    /// The current chain's first group came right after a `+`.
    after_plus: bool,
    /// The last character read (not invisible) was a `+`.
    plus_pending: bool,
}

impl Reader {
    /// Reads a digit found at byte offset `at`.
    fn digit(&mut self, d: u8, at: usize) {
        if !self.in_group {
            if self.groups.is_empty() {
                self.after_plus = self.plus_pending;
            }
            let single_before = match (self.groups.is_empty(), self.gap) {
                (false, 1) => self.gap_char,
                _ => None,
            };
            self.groups.push(Group {
                start: self.digits.len(),
                len: 0,
                single_before,
                weak_before: self.gap_weak && !self.groups.is_empty(),
            });
            self.in_group = true;
            self.gap = 0;
            self.gap_char = None;
            self.gap_weak = false;
        }
        self.plus_pending = false;
        self.digits.push(d);
        self.offsets.push(at);
        if let Some(group) = self.groups.last_mut() {
            group.len += 1;
        }
    }

    /// Reads a separator; `weak` for `:` and `,` (see [`chain_card_numbers`]).
    fn separator(&mut self, c: char, weak: bool) {
        self.in_group = false;
        self.plus_pending = false;
        self.gap += 1;
        self.gap_char = Some(c);
        self.gap_weak |= weak;
    }

    /// Ends the current chain at a character that is no digit or separator,
    /// reporting its card numbers to `found` (and setting `any`); true if
    /// `found` asked to stop.
    fn end_chain(
        &mut self,
        plus: bool,
        any: &mut bool,
        found: &mut impl FnMut(&[usize]) -> bool,
    ) -> bool {
        let stop = chain_card_numbers(&self.digits, &self.groups, self.after_plus, |a, b| {
            *any = true;
            found(&self.offsets[a..b])
        });
        self.digits.clear();
        self.offsets.clear();
        self.groups.clear();
        self.in_group = false;
        self.gap = 0;
        self.gap_char = None;
        self.gap_weak = false;
        self.after_plus = false;
        self.plus_pending = plus;
        stop
    }
}

/// Reports each card number in a chain as a range of its digit indices:
/// every group of [`DIGIT_RUN_LIMIT`] or more digits, then every Luhn window.
/// `found` returns true to stop; so does this function then.
///
/// A window whose groups are joined by a weak separator (`:`, `,`) anywhere
/// is held to more, since times (`10:15:30`), lists (`1,2,3`) and grouped
/// thousands use them: it must pass the Luhn check (no 2-to-6 prefix
/// alone), start with a digit other than 0 (no card number does), have at
/// least [`WEAK_INNER_GROUP_MIN`] digits in every group but its first and
/// last, and touch no date or address. The date and address exemption
/// applies to each part of the chain between weak separators.
fn chain_card_numbers(
    digits: &[u8],
    groups: &[Group],
    after_plus: bool,
    mut found: impl FnMut(usize, usize) -> bool,
) -> bool {
    for group in groups.iter().filter(|g| g.len >= DIGIT_RUN_LIMIT) {
        if found(group.start, group.start + group.len) {
            return true;
        }
    }
    let exempt = exempt_groups(digits, groups);
    for start in 0..groups.len() {
        let mut total = 0;
        let mut weak = false;
        for end in start..groups.len() {
            total += groups[end].len;
            if total > MAX_PAN_DIGITS {
                break;
            }
            weak |= end > start && groups[end].weak_before;
            // Only a run from the country code on is the phone number; the
            // national part alone is checked (it has at most 11 digits in
            // almost every numbering plan, so it rarely reaches 12).
            let phone = start == 0
                && after_plus
                && groups[0].len <= COUNTRY_CODE_MAX_DIGITS
                && total <= E164_MAX_DIGITS;
            if total < MIN_PAN_DIGITS || phone {
                continue;
            }
            let first = groups[start].start;
            let last = groups[end].start + groups[end].len;
            let window = &digits[first..last];
            let card_like = if weak {
                luhn_of_values(window)
                    && window.first().is_some_and(|d| *d != 0)
                    && groups[start + 1..end]
                        .iter()
                        .all(|g| g.len >= WEAK_INNER_GROUP_MIN)
                    && !exempt[start..=end].iter().any(|e| *e)
            } else {
                // Luhn-valid, or starting like a payment card (2 to 6: the
                // banking and card industry identifiers), so a card number
                // with its check digit dropped or changed is refused too.
                // Within one part, so exempt is the same for every group.
                !exempt[start]
                    && (luhn_of_values(window)
                        || window.first().is_some_and(|d| (2..=6).contains(d)))
            };
            if card_like && found(first, last) {
                return true;
            }
        }
    }
    false
}

/// Fewest digits in an inner group of a window joined by a weak separator:
/// card numbers are written in groups of 4 to 6, times in groups of 2.
const WEAK_INNER_GROUP_MIN: usize = 3;

/// For each group, whether the part of the chain it is in (the groups
/// between two weak separators) is wholly dates and addresses.
fn exempt_groups(digits: &[u8], groups: &[Group]) -> Vec<bool> {
    let mut exempt = Vec::with_capacity(groups.len());
    let mut part = 0;
    while part < groups.len() {
        let end = (part + 1..groups.len())
            .find(|i| groups[*i].weak_before)
            .unwrap_or(groups.len());
        let wholly = only_dates_and_addresses(digits, &groups[part..end]);
        exempt.extend(std::iter::repeat_n(wholly, end - part));
        part = end;
    }
    exempt
}

/// The Luhn check of digit values (0 to 9), through the one Luhn
/// implementation in [`crate::pan`].
fn luhn_of_values(values: &[u8]) -> bool {
    let mut ascii = [0u8; MAX_PAN_DIGITS];
    let Some(buffer) = ascii.get_mut(..values.len()) else {
        return false;
    };
    for (a, v) in buffer.iter_mut().zip(values) {
        *a = b'0' + v;
    }
    luhn_valid(buffer)
}

#[cfg(test)]
mod tests;
