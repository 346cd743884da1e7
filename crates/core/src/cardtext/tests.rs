use std::borrow::Cow;

use proptest::prelude::*;

use super::*;

mod ordinary;
mod weak;

/// Luhn-valid test PANs: Visa 16, 13 and 19, Mastercard 5- and 2-series,
/// Amex, Discover, JCB, Diners 14, UnionPay 19, Maestro 12.
const PANS: [&str; 11] = [
    "4111111111111111",
    "4222222222222",
    "4000000000000000006",
    "5555555555554444",
    "2223000048410010",
    "378282246310005",
    "6011000990139424",
    "3530111333300000",
    "30569309025904",
    "6205500000000000004",
    "675900000000",
];

/// Ordinary text that must pass.
const ORDINARY: &[&str] = &[
    "",
    "2026-11-26",
    "2026-11-26T10:15:30Z",
    "2026-11-26T10:15:30.123456789+01:00",
    "10:15:30.123",
    "26/11/2026 10:15",
    "26.11.2026 10:15:30",
    "11/26/2026 10:15:30 PM",
    "2026-11-26 10:15:30.123",
    "2026-11-01/2026-11-30",
    "2026-11-01 - 2026-11-30",
    "01/01/2040/1919-04-01",
    "01.11.2026–30.11.2026",
    "+1 555-123-4567",
    "+1 (555) 123-4567",
    "+44 20 7946 0958",
    "+44 7700 900123",
    "+86 138 0013 8000",
    "+49 30 12345678",
    "+353 1 234 5678",
    "(555) 123-4567",
    "555.123.4567",
    "ORD-2024-000123",
    "ORD-2024-000123-A7",
    "settlement batch 2026-11-23",
    "chargeback CB-1234",
    "192.168.100.200",
    "10.0.0.1 - 192.168.100.200",
    "12345678901",
    "tok_01HZX3K9Q2W8E5R7T6Y4U1I0OP",
    "550e8400-e29b-41d4-a716-44665544abcd",
    "v1.2.3-rc.4",
    "1 234 567.89 EUR",
    "invoice 2026/000123, amount 1,234,567.89",
    "Order 123 of 2026-11-26, qty 4",
    "last4 1111, bin 411111",
    "lat 51.5007292, lon -0.1246254",
];

/// One PAN written in many ways, each of which must be refused.
fn writings(pan: &str) -> Vec<String> {
    let d: Vec<char> = pan.chars().collect();
    let joined = |sep: &str, sizes: &[usize]| {
        let mut out = String::new();
        let mut at = 0;
        for (i, size) in sizes.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            let end = (at + size).min(d.len());
            out.extend(&d[at..end]);
            at = end;
        }
        out.extend(&d[at..]);
        out
    };
    let fours = vec![4; d.len() / 4];
    let mut out = vec![
        pan.to_owned(),
        format!("x{pan}y"),
        joined(" ", &fours),
        format!("card:{}!", joined("-", &fours)),
        joined(".", &fours),
        joined("/", &fours),
        joined("_", &fours),
        joined(" - ", &fours),
        joined("\u{2013}", &fours),
        joined("\u{A0}", &fours),
        joined("\u{3000}", &fours),
        joined("\u{200B}", &fours),
        joined("\u{AD}", &fours),
        joined("-\u{200D}", &fours),
        joined(" ", &[4, 6, 5]),
        joined(" ", &[1; 19]),
        joined("  ", &[1; 19]),
        format!("ref 12 {}", joined(" ", &fours)),
        format!("{} 12/28", joined(" ", &fours)),
        format!("{} exp 12/28", joined("-", &fours)),
        format!("exp 2028-01-31 {}", joined(" ", &fours)),
        format!("+1 {}", joined(" ", &fours)),
        format!("0044 {}", joined(" ", &fours)),
        d.iter().map(|c| format!("{c}\u{FE0F}\u{20E3}")).collect(),
        d.iter().map(|c| format!("{c}\u{336}")).collect(),
    ];
    let mut mixed = String::new();
    for (i, c) in d.iter().enumerate() {
        mixed.push(*c);
        mixed.push_str([" ", "-", ".", "/", "_", " -", "\u{2014}"][i % 7]);
    }
    out.push(mixed);
    for zero in ['０', '٠', '०', '۰', '𝟎'] {
        let script: String = joined(" ", &fours)
            .chars()
            .map(|c| match digit_value(c) {
                Some(v) => char::from_u32(u32::from(zero) + u32::from(v)).unwrap_or(c),
                None => c,
            })
            .collect();
        out.push(script);
    }
    out
}

#[test]
fn refuses_every_writing_of_every_test_pan() {
    for pan in PANS {
        for text in writings(pan) {
            assert!(contains_card_number(&text), "not refused: {text:?}");
        }
    }
}

#[test]
fn masks_every_writing_of_every_test_pan_to_bin_and_last4() {
    // The BIN is six digits from 15 on; a shorter card keeps five hidden.
    assert_eq!(
        (12..=19)
            .map(crate::pan::shown_leading_digits)
            .collect::<Vec<_>>(),
        [3, 4, 5, 6, 6, 6, 6, 6]
    );
    for pan in PANS {
        for text in writings(pan) {
            let masked = mask_card_numbers(&text);
            assert!(
                !contains_card_number(&masked),
                "still a card number: {masked:?}"
            );
            let kept: String = masked
                .chars()
                .filter_map(digit_value)
                .map(|d| char::from(b'0' + d))
                .collect();
            // With other numbers in the same chain (`0044 4111 ...`) the
            // card number's edges are unknown, so more may be masked.
            if text.chars().filter_map(digit_value).count() == pan.len() {
                let lead = crate::pan::shown_leading_digits(pan.len());
                assert_eq!(
                    kept,
                    format!("{}{}", &pan[..lead], &pan[pan.len() - 4..]),
                    "{masked:?}"
                );
            }
            assert!(!kept.contains(pan), "masked: {masked:?}");
        }
    }
    assert_eq!(mask_card_numbers("4111111111111111"), "411111******1111");
    assert_eq!(
        mask_card_numbers("{\"pan\":\"4111 1111 1111 1111\",\"at\":\"2026-11-26\"}"),
        "{\"pan\":\"4111 11** **** 1111\",\"at\":\"2026-11-26\"}"
    );
    // A run of 12 or more digits is masked whatever its check digit.
    assert_eq!(
        mask_card_numbers("id 123456789012345"),
        "id 123456*****2345"
    );
}

#[test]
fn masking_leaves_ordinary_text_alone() {
    for text in ORDINARY {
        assert!(
            matches!(mask_card_numbers(text), Cow::Borrowed(_)),
            "{text:?}"
        );
    }
}

#[test]
fn refuses_standard_groupings() {
    for text in [
        "4111 1111 1111 1111",
        "3782 822463 10005",
        "3056 930902 5904",
        "4000 0000 0000 0000 006",
        "6205 5000 0000 0000 004",
        "6759 0000 0000",
        "4222 2222 22222",
        "card: 4111-1111-1111-1111!",
        "4111-1111 1111_1111",
        "4111 -1111_ 1111./1111",
        "４１１１－１１１１－１１１１－１１１１",
        "٤١١١ ١١١١ ١١١١ ١١١١",
        "४१११-१११११११११११११",
        "4111 ١١١١ １１１１ 1111",
    ] {
        assert!(contains_card_number(text), "not refused: {text:?}");
    }
}

#[test]
fn refuses_any_run_of_twelve_digits_luhn_or_not() {
    for text in [
        "123456789012",
        "x123456789012y",
        "4111111111111112",
        "id\u{200B}1234\u{200C}5678\u{FEFF}9012",
        "١٢٣٤٥٦٧٨٩٠١٢",
        "１２３４５６７８９０１２",
        "{\"Timestamp\":1795000000017}",
    ] {
        assert!(contains_card_number(text), "not refused: {text:?}");
    }
    assert!(!contains_card_number("12345678901"));
    assert!(!contains_card_number("1234 5678 9012"), "not Luhn-valid");
}

#[test]
fn passes_ordinary_text() {
    for text in ORDINARY {
        assert!(!contains_card_number(text), "refused: {text:?}");
    }
}

#[test]
fn exemptions_are_narrow() {
    // A phone exemption for a 16-digit run, or one whose country code is
    // 4 digits long, would hide a PAN.
    assert!(contains_card_number("+4111 1111 1111 1111"));
    assert!(contains_card_number("+41 11 1111 1111 1111"));
    // An Amex dressed as a phone number: the run after the country code
    // starts like a card, so it is refused too.
    assert!(contains_card_number("+378 282 246 310 005"));
    assert!(contains_card_number("378 282 246 310 005"));
    // Dates and addresses are exempt only when the chain is nothing else.
    assert!(contains_card_number("2026-11-26 4111 1111 1111 1111"));
    assert!(contains_card_number("4111-1111-1111-1111 2026-11-26"));
    assert!(contains_card_number("10.0.0.1 4111 1111 1111 1111"));
    assert!(contains_card_number("2026-11-26/4111-1111-1111-1111"));
    // Not a date: 2026-13-01 has no month 13, and 4-4-4-4 is never a date.
    assert!(!contains_card_number("2026-12-01/2026-12-31"));
    assert!(contains_card_number("4111-1111-1111-1111/2026-12-31"));
}

#[test]
fn a_date_needs_every_part_of_a_date_and_an_address_every_part_of_one() {
    // Each part of the date and address rules matters. Each chain below is
    // card-like (12 to 19 digits, starting 2 to 6) and would be exempt if its
    // first date or address were one, so only the rule's own clauses refuse
    // it: a group that only looks like a year, month, day or octet.
    for text in [
        "3026-11-26/2026-11-30",      // no year in range
        "2026-13-26/2026-11-30",      // no month 13
        "2026-011-26/2026-11-30",     // a 3-digit "month"
        "2026-11-32/2026-11-30",      // no day 32
        "2026-11-030/2026-11-30",     // a 3-digit "day"
        "26-11-3026/26-11-2026",      // day and month, then no year
        "32-11-2026/26-11-2026",      // no day 32 before a month
        "11-32-2026/26-11-2026",      // a month, then no day 32
        "2026/11-26/2026-11-30",      // two separators in one date
        "300.100.100.100 - 10.0.0.1", // no octet over 255
        "255-255-255-255 10.0.0.1",   // an address needs dots
    ] {
        assert!(contains_card_number(text), "{text}");
    }
    // And the real ones stay exempt, whole chains of them included.
    for text in [
        "2026-11-26",
        "26.11.2026",
        "11/26/2026",
        "2026-11-26/2026-11-30",
        "10.0.0.1 - 10.0.0.9",
        "26.11.2026 10.0.0.1",
    ] {
        assert!(!contains_card_number(text), "{text}");
    }
}

/// A Luhn-valid PAN of `len` digits from `body` (its first `len - 1` digits).
fn luhn_complete(body: &[u8], len: usize) -> Vec<u8> {
    let mut digits = body[..len - 1].to_vec();
    digits.push(0);
    let ascii: Vec<u8> = digits.iter().map(|d| b'0' + d).collect();
    let sum = crate::pan::luhn_sum(&ascii).unwrap_or_default();
    let last = digits.len() - 1;
    digits[last] = ((10 - sum % 10) % 10) as u8;
    digits
}

/// Separators a writer might put between digits, including invisible ones.
const SEPARATORS: &[&str] = &[
    " ", "-", ".", "/", "_", "\u{A0}", "\u{2009}", "\u{202F}", "\u{3000}", "\u{2010}", "\u{2011}",
    "\u{2013}", "\u{2014}", "\u{2212}", "\u{FF0D}", "\u{FF0E}", "\u{FF0F}", "\u{FF3F}", "\u{200B}",
    "\u{200D}", "\u{AD}", "\u{2060}", "\u{FEFF}", "\t",
];

/// Zeros of the digit scripts used in the property test.
const ZEROS: &[char] = &[
    '0', '０', '٠', '۰', '०', '০', '੦', '૦', '୦', '௦', '౦', '೦', '൦', '๐', '໐', '༠', '၀', '០', '᠐',
    '𝟎', '𝟘', '𝟢', '𝟬', '𝟶',
];

proptest! {
    #[test]
    fn any_writing_of_a_luhn_valid_pan_is_refused(
        body in proptest::collection::vec(0u8..10, 19),
        len in MIN_PAN_DIGITS..=MAX_PAN_DIGITS,
        gaps in proptest::collection::vec(
            proptest::collection::vec(0..SEPARATORS.len(), 0..=3), 19),
        scripts in proptest::collection::vec(0..ZEROS.len(), 19),
        prefix in "[a-zA-Z]{0,6}",
        suffix in "[a-zA-Z!?:]{0,6}",
    ) {
        let pan = luhn_complete(&body, len);
        let mut text = prefix.clone();
        for (i, d) in pan.iter().enumerate() {
            if i > 0 {
                for s in &gaps[i] {
                    text.push_str(SEPARATORS[*s]);
                }
            }
            let zero = u32::from(ZEROS[scripts[i]]);
            text.push(char::from_u32(zero + u32::from(*d)).unwrap_or('?'));
        }
        text.push_str(&suffix);
        prop_assert!(contains_card_number(&text), "not refused: {:?}", text);
    }

    #[test]
    fn never_panics(text in any::<String>()) {
        let _ = contains_card_number(&text);
    }

    #[test]
    fn masked_text_holds_no_card_number(text in any::<String>(), pan in proptest::collection::vec(0u8..10, 19), len in MIN_PAN_DIGITS..=MAX_PAN_DIGITS, at in any::<prop::sample::Index>()) {
        let pan: String = luhn_complete(&pan, len).iter().map(|d| char::from(b'0' + d)).collect();
        let mut cut = at.index(text.len() + 1);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = format!("{}{pan}{}", &text[..cut], &text[cut..]);
        let masked = mask_card_numbers(&text);
        prop_assert!(!contains_card_number(&masked), "still a card number: {:?}", masked);
    }
}

#[test]
fn what_the_red_team_wrote_is_refused() {
    for text in [
        // Check digit dropped or changed (the rest gives it back).
        "4111 1111 1111 111",
        "4111 1111 1111 1112",
        "4111.1111.1111.111",
        // Separators beyond spaces, dashes, dots and slashes.
        "4111•1111•1111•1111",
        "4111…1111…1111…1111",
        "4111|1111|1111|1111",
        "4111*1111*1111*1111",
        "4111#1111#1111#1111",
        "4111~1111~1111~1111",
        "4111\u{2800}1111\u{2800}1111\u{2800}1111",
        "4111ー1111ー1111ー1111",
        "4111➖1111➖1111➖1111",
        // Dotted octets that are not one address.
        "4.111.111.11.1.111.1.11",
        "55.55.55.55.55.55.44.44",
        // CJK numerals.
        "四一一一 一一一一 一一一一 一一一一",
    ] {
        assert!(contains_card_number(text), "{text:?}");
    }
    for text in [
        "2026-11-26T10:15:30.123456789+01:00",
        "10.0.0.1",
        "192.168.100.200",
        "+44 20 7946 0958",
        "order 12345",
    ] {
        assert!(!contains_card_number(text), "{text:?}");
    }
}
