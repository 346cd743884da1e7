//! Dates, times, phone numbers, addresses and order ids, generated.

use proptest::prelude::*;

use super::super::*;

/// Dates, times, phone numbers, addresses and order ids in the usual forms.
fn ordinary_text() -> impl Strategy<Value = String> {
    let date =
        (1900u32..=2099, 1u32..=12, 1u32..=31, 0usize..6).prop_map(|(y, m, d, form)| match form {
            0 => format!("{y}-{m:02}-{d:02}"),
            1 => format!("{d:02}/{m:02}/{y}"),
            2 => format!("{m}/{d}/{y}"),
            3 => format!("{d}.{m}.{y}"),
            4 => format!("{y}/{m:02}/{d:02}"),
            _ => format!("{y}.{m:02}.{d:02}"),
        });
    let time = (0u32..24, 0u32..60, 0u32..60, 0u32..1_000_000)
        .prop_map(|(h, m, s, f)| format!("{h:02}:{m:02}:{s:02}.{f:06}"));
    let datetime = (
        date.clone(),
        time.clone(),
        prop_oneof![Just("T"), Just(" ")],
    )
        .prop_map(|(d, t, sep)| format!("{d}{sep}{t}Z"));
    let interval = (
        date.clone(),
        date.clone(),
        prop_oneof![Just("/"), Just(" - "), Just("–")],
    )
        .prop_map(|(a, b, sep)| format!("{a}{sep}{b}"));
    let phone = (
        1u32..=999,
        proptest::collection::vec((1usize..=4, 0u32..10_000), 1..=4),
        prop_oneof![Just(" "), Just("-"), Just(".")],
    )
        .prop_filter_map("E.164 length", |(cc, groups, sep)| {
            let mut text = format!("+{cc}");
            let mut national = 0;
            for (len, n) in groups {
                let n = n % 10u32.pow(len as u32);
                text.push_str(&format!("{sep}{n:0len$}"));
                national += len;
            }
            // The national part of a real number has at most 11 digits
            // (a handful of plans allow more; those may be refused).
            let digits = cc.to_string().len() + national;
            (digits <= E164_MAX_DIGITS && national <= 11).then_some(text)
        });
    let national = (100u32..1000, 100u32..1000, 0u32..10_000, 0usize..3).prop_map(
        |(a, b, c, form)| match form {
            0 => format!("({a}) {b}-{c:04}"),
            1 => format!("{a}-{b}-{c:04}"),
            _ => format!("1 {a} {b} {c:04}"),
        },
    );
    let ipv4 = proptest::collection::vec(0u32..=255, 4)
        .prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3]));
    let order = (2000u32..2100, 0u32..1_000_000).prop_map(|(y, n)| format!("ORD-{y}-{n:06}"));
    prop_oneof![date, time, datetime, interval, phone, national, ipv4, order]
}

proptest! {
    #[test]
    fn ordinary_dates_times_phones_and_ids_pass(
        text in ordinary_text(),
        prefix in "[a-z]{0,8}[ :=]?",
        suffix in "[ ,;)]?[a-z]{0,8}",
    ) {
        let text = format!("{prefix}{text}{suffix}");
        prop_assert!(!contains_card_number(&text), "refused: {:?}", text);
    }
}
