//! Colons and commas between the groups of a card number.

use proptest::prelude::*;

use super::super::*;
use super::PANS;

/// `pan` in groups of four (the rest last), joined by `sep`.
fn fours(pan: &str, sep: &str) -> String {
    let digits: Vec<char> = pan.chars().collect();
    digits
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(sep)
}

#[test]
fn a_card_number_grouped_by_colons_or_commas_is_refused_and_masked() {
    for pan in PANS {
        for sep in [
            ":", ",", ", ", " : ", "\u{FF1A}", "\u{FF0C}", "\u{3001}", ":-",
        ] {
            let text = format!("ref {} ok", fours(pan, sep));
            assert!(contains_card_number(&text), "{text:?}");
            assert!(!contains_card_number(&mask_card_numbers(&text)), "{text:?}");
        }
    }
    for text in [
        "4111:1111:1111:1111",
        "4111,1111,1111,1111",
        "/v1/tokens/4111:1111:1111:1111",
        "3782:822463:10005",
        "card=4111,1111,1111,1111;",
        "at 10:15 card 4111:1111:1111:1111",
        "4,111,111,111,111,111",
    ] {
        assert!(contains_card_number(text), "{text:?}");
    }
    assert_eq!(
        mask_card_numbers("pan 4111:1111:1111:1111 ok"),
        "pan 4111:11**:****:1111 ok"
    );
}

#[test]
fn times_lists_and_thousands_with_colons_and_commas_pass() {
    for text in [
        "12:30:45",
        "10:15:30.123456789",
        "2026-11-26 10:15:30",
        "2026-11-26 10:15:30.123456789+01:00",
        "26/11/2026 10:15, 27/11/2026 11:45",
        "slots 10:15, 10:30, 11:45, 12:00, 13:15, 14:30",
        "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20",
        "3,5,7,9,11,13,15,17,19,21,23,25",
        "2026-11-01, 2026-11-30, 2026-12-01",
        "192.168.100.200,192.168.100.201, 192.168.100.202",
        "0000:0000:0000:0000",
        "amount 1,234,567.89, fee 12.50",
        "ratio 16:9, 4:3, 21:9",
    ] {
        assert!(!contains_card_number(text), "{text:?}");
    }
}

#[test]
fn a_colon_window_is_held_to_luhn_alone() {
    // Check digit changed: a space-grouped one is refused (2-6 prefix),
    // a colon-grouped one passes (documented: times and lists use colons).
    assert!(contains_card_number("4111 1111 1111 1112"));
    assert!(!contains_card_number("4111:1111:1111:1112"));
    // Inner groups of fewer than 3 digits: times, not card groupings.
    assert!(!contains_card_number("41:11:11:11:11:11:11:11"));
    // A leading 0: no card number starts with one.
    let zero_led = "0411:1111:1111:1111";
    assert!(!contains_card_number(zero_led));
}

/// Times, lists of small numbers and dates, joined by colons and commas.
fn colon_and_comma_text() -> impl Strategy<Value = String> {
    let time = (0u32..24, 0u32..60, 0u32..60).prop_map(|(h, m, s)| format!("{h:02}:{m:02}:{s:02}"));
    let short = (0u32..24, 0u32..60).prop_map(|(h, m)| format!("{h}:{m:02}"));
    let small = (0u32..100).prop_map(|n| n.to_string());
    let date =
        (1900u32..=2099, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}"));
    let item = prop_oneof![time, short, small, date];
    (
        proptest::collection::vec(item, 1..12),
        // Not a space alone: a date between times by spaces is the old rule's
        // (`20 1900-01-01 00`: 12 digits from a 2, documented as refused).
        prop_oneof![Just(","), Just(", "), Just(" ,"), Just(":")],
    )
        .prop_map(|(items, sep)| items.join(sep))
}

proptest! {
    #[test]
    fn lists_of_times_small_numbers_and_dates_pass(text in colon_and_comma_text()) {
        prop_assert!(!contains_card_number(&text), "refused: {:?}", text);
    }
}
