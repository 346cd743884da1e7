use super::*;

fn lines_and_last4(text: &str) -> Vec<(usize, String)> {
    let mut found: Vec<_> = find_card_numbers(text)
        .into_iter()
        .map(|f| (f.line, f.last4))
        .collect();
    found.dedup();
    found
}

#[test]
fn every_test_pan_is_luhn_valid_and_of_card_length() {
    for pan in TEST_PANS {
        assert!(luhn_ok(pan.digits), "{} ending {}", pan.brand, pan.last4());
        assert!((MIN_DIGITS..=MAX_DIGITS).contains(&pan.digits.len()));
    }
    for brand in [
        "Visa",
        "Visa 13",
        "Visa 19",
        "Mastercard",
        "Mastercard 2-series",
        "Amex",
        "Discover",
        "JCB",
        "Diners 14",
        "UnionPay 19",
        "Maestro 12",
    ] {
        assert!(TEST_PANS.iter().any(|p| p.brand == brand), "{brand}");
    }
    assert!(!luhn_ok("4111111111111112"));
    assert!(!luhn_ok(""));
}

#[test]
fn finds_card_numbers_however_written() {
    for pan in TEST_PANS {
        let d = pan.digits;
        let fours: Vec<&str> = (0..d.len())
            .step_by(4)
            .map(|i| &d[i..(i + 4).min(d.len())])
            .collect();
        let spelled: Vec<String> = d.chars().map(String::from).collect();
        let script = |zero: u32| -> String {
            d.chars()
                .map(|c| char::from_u32(zero + c.to_digit(10).unwrap_or(0)).unwrap_or('?'))
                .collect()
        };
        let escaped: String = d.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
        let escaped_full_width: String = d
            .chars()
            .map(|c| format!("\\u{:04X}", 0xFF10 + c.to_digit(10).unwrap_or(0)))
            .collect();
        for text in [
            format!("pan={d}"),
            format!("x{d}y"),
            fours.join(" "),
            fours.join("-"),
            fours.join("."),
            fours.join("/"),
            fours.join("_"),
            fours.join(" - "),
            fours.join("\u{2013}"),
            fours.join("\u{200B}"),
            spelled.join(" "),
            script(0xFF10),
            script(0x660),
            script(0x966),
            format!("{{\"pan\":\"{escaped}\"}}"),
            format!("{{\"note\":\"{escaped_full_width}\"}}"),
            format!("ref 99 {}", fours.join(" ")),
        ] {
            let found = lines_and_last4(&format!("first line\n{text}\nlast"));
            assert!(
                found.contains(&(2, pan.last4().to_owned())),
                "{} ending {} not found in one writing",
                pan.brand,
                pan.last4()
            );
        }
    }
}

#[test]
fn finds_hidden_middle_digits_alone() {
    let found = find_card_numbers("middle=\"665566\"");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].last4, "5556");
    assert_eq!(found[0].kind, FindingKind::TestPanMiddle);
    // A repeated digit is no signal: 4111111111111111's middle is 111111.
    assert!(find_card_numbers("count=111111").is_empty());
}

#[test]
fn findings_never_hold_more_than_last4() {
    let found = find_card_numbers("pan 4111 1111 1111 1111 and ٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢");
    assert!(found.len() >= 2);
    let shown = format!("{found:?} {}", found[0]);
    assert!(
        !shown.contains("411111") && !shown.contains("424242"),
        "{shown}"
    );
}

#[test]
fn ignores_our_log_and_metric_numbers() {
    let lines = [
        r#"{"timestamp":"2026-11-26T03:31:07.123456Z","level":"INFO","target":"audit","time":"2026-11-26T03:31:07.120Z","request_id":"replay-12","correlation_id":"c0ffee-2026-11-26","principal":"arn:aws:iam::111122223333:role/settlement-detokenizer","source_ip":"203.0.113.7","operation":"detokenize","status":200,"latency_ms":12,"token_hint":"000a","reason":"settlement batch 2026-11-23"}"#,
        r#"{"_aws":{"Timestamp":1795000000017,"CloudWatchMetrics":[{"Namespace":"Tessera"}]},"Function":"tokenize","Requests":1,"Latency":8255}"#,
        r#"{"_aws":{"Timestamp":1795435200000},"Latency":1234567}"#,
        r#"{"x_ray_trace_id":"Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0"}"#,
        r#"{"created_at":1795435200,"expires_at":1795435200,"ttl_seconds":31536000,"last4":"1111","bin":"411111"}"#,
        "2026-11-26T03:31:07.123456Z  INFO tessera: done in 10.15ms at 10:15:30.123",
        "account 111122223333, token tok_01HZX3K9Q2W8E5R7T6Y4U1I0OP",
        "+44 20 7946 0958",
    ];
    for line in lines {
        assert_eq!(find_card_numbers(line), vec![], "flagged: {line}");
    }
}

#[test]
fn expected_values_can_be_named() {
    // Fails the Luhn check as a whole, like an fpe token, but a 12-digit
    // window of it passes.
    let token = "4111110000001111";
    assert!(!luhn_ok(token));
    let line = format!("{{\"token\":\"{token}\",\"format\":\"fpe\"}}");
    assert!(!find_card_numbers(&line).is_empty());
    assert!(find_card_numbers_except(&line, &[token]).is_empty());
    let leak = format!("{line} 4242 4242 4242 4242");
    assert_eq!(find_card_numbers_except(&leak, &[token]).len(), 1);
}

#[test]
fn clock_fractions_are_not_card_digits_but_the_rest_of_a_line_is() {
    let line = r#"{"timestamp":"2026-12-07T20:57:46.249982643Z","x":"1"}"#;
    assert!(find_card_numbers(line).is_empty());
    let leak = r#"{"timestamp":"2026-12-07T20:57:46.1Z","x":"6759649826438453"}"#;
    assert_eq!(find_card_numbers(leak).len(), 1);
}
