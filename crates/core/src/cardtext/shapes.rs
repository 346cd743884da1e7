//! The shapes of number that are exempt from the card window: dates and
//! IPv4 addresses (see the parent module's rule 4).

use super::Group;

/// Whether a chain is wholly dates and IPv4 addresses (an interval such as
/// `2026-11-01/2026-11-30`, a range `10.0.0.1 - 10.0.0.9`). Addresses must
/// be set apart by something other than one dot: eight dotted octets in a
/// row can spell a card number.
pub(super) fn only_dates_and_addresses(digits: &[u8], groups: &[Group]) -> bool {
    let mut i = 0;
    while i < groups.len() {
        if is_date(digits, groups, i) {
            i += 3;
        } else if is_ipv4(digits, groups, i) && (i == 0 || groups[i].single_before != Some('.')) {
            i += 4;
        } else {
            return false;
        }
    }
    true
}

/// The value of a group's digits.
fn value(digits: &[u8], group: &Group) -> u32 {
    digits[group.start..group.start + group.len]
        .iter()
        .fold(0, |n, d| n.saturating_mul(10).saturating_add(u32::from(*d)))
}

/// Whether `count` groups from `i` are joined by the same single separator,
/// one of `allowed`.
fn same_single_separator(groups: &[Group], i: usize, count: usize, allowed: &[char]) -> bool {
    let Some(shape) = groups.get(i..i + count) else {
        return false;
    };
    let Some(sep) = shape[1].single_before.filter(|c| allowed.contains(c)) else {
        return false;
    };
    shape[2..].iter().all(|g| g.single_before == Some(sep))
}

/// A date: 4-2-2 (year, month, day) or 2-2-4 (day and month either way, year).
fn is_date(digits: &[u8], groups: &[Group], i: usize) -> bool {
    if !same_single_separator(groups, i, 3, &['-', '/', '.']) {
        return false;
    }
    let [a, b, c] = [&groups[i], &groups[i + 1], &groups[i + 2]];
    let year = |g: &Group| g.len == 4 && (1900..=2099).contains(&value(digits, g));
    let month = |g: &Group| g.len <= 2 && (1..=12).contains(&value(digits, g));
    let day = |g: &Group| g.len <= 2 && (1..=31).contains(&value(digits, g));
    (year(a) && month(b) && day(c)) || (year(c) && ((day(a) && month(b)) || (month(a) && day(b))))
}

/// An IPv4 address: four groups of 1 to 3 digits, each at most 255.
fn is_ipv4(digits: &[u8], groups: &[Group], i: usize) -> bool {
    same_single_separator(groups, i, 4, &['.'])
        && groups[i..i + 4]
            .iter()
            .all(|g| g.len <= 3 && value(digits, g) <= 255)
}
