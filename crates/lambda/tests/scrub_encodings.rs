//! Forward's answer scrubbing fails closed (issue 20, item 2): a card
//! number forward sent comes back to the caller in no encoding. Either
//! masking removed it or the whole answer is refused. Targeted cases per
//! encoding, property tests over encodings, alignments and surroundings,
//! and plain answers that must pass.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use tessera_lambda::forward::scrub::{self, Encoding, Unscrubbable};
use tessera_testkit::luhn_ok;

const VISA: &str = "4111111111111111";
const AMEX: &str = "378282246310005";

/// The digits of `text` that are ASCII, with everything else dropped: a
/// stricter reader than the scrubber's (no bound on the gaps).
fn ascii_digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// `text` with the escapes the tests write decoded, by their own inverse.
fn decodings(text: &str) -> Vec<String> {
    let pct = percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned();
    let entity = regex::Regex::new(r"&#([xX]?)0*([0-9A-Fa-f]+);?").expect("regex");
    let html = entity
        .replace_all(text, |c: &regex::Captures<'_>| {
            let radix = if c[1].is_empty() { 10 } else { 16 };
            u32::from_str_radix(&c[2], radix)
                .ok()
                .and_then(char::from_u32)
                .map_or_else(|| c[0].to_owned(), String::from)
        })
        .into_owned();
    let u = regex::Regex::new(r"\\u([0-9A-Fa-f]{4})").expect("regex");
    let json = u
        .replace_all(text, |c: &regex::Captures<'_>| {
            u32::from_str_radix(&c[1], 16)
                .ok()
                .and_then(char::from_u32)
                .map_or_else(|| c[0].to_owned(), String::from)
        })
        .into_owned();
    vec![text.to_owned(), pct, html, json]
}

/// Whether `out` still gives `pan` away, as digits or hex of its digits,
/// read plainly or through one of the tests' encodings.
fn leaks(out: &str, pan: &str) -> bool {
    let hexed = hex::encode(pan);
    decodings(out).iter().any(|d| {
        let digits = ascii_digits(d);
        digits.contains(pan) || digits.contains(&hexed)
    })
}

fn refused(answer: &str, pan: &str) -> Option<Encoding> {
    match scrub::body(answer.as_bytes(), &[pan]) {
        Err(Unscrubbable::Echoed(how)) => Some(how),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => None,
    }
}

/// Asserts the answer is refused, as `how`.
fn assert_refused(answer: &str, pan: &str, how: Encoding) {
    assert_eq!(refused(answer, pan), Some(how), "{answer}");
}

/// Asserts the answer is refused, or returned with the card masked.
fn assert_safe(answer: &str, pan: &str) {
    if let Ok(out) = scrub::body(answer.as_bytes(), &[pan]) {
        assert!(!leaks(&out, pan), "returned: {out}");
    }
}

#[test]
fn digits_with_separators_masking_skips_are_refused() {
    for sep in [":", ",", "a", "</d><d>", " : ", "\u{200B}:", "\",\""] {
        let digits: Vec<String> = VISA.chars().map(String::from).collect();
        let answer = format!("{{\"card\":\"{}\"}}", digits.join(sep));
        assert_refused(&answer, VISA, Encoding::Digits);
    }
    // Card-shaped groups between colons are the core's to mask (a weak
    // separator chain); masked, nothing of the card is left to refuse.
    assert_safe("ref 3782:822463:10005 ok", AMEX);
    assert_refused("ref 3:782822:463:10:005 ok", AMEX, Encoding::Digits);
    // Full-width digits between colons: not a chain to the core, digits here.
    let wide: String = VISA
        .chars()
        .map(|c| char::from_u32(u32::from(c) - 0x30 + 0xFF10).expect("digit"))
        .map(|c| format!("{c}:"))
        .collect();
    assert_refused(&wide, VISA, Encoding::Digits);
}

#[test]
fn hex_of_the_digits_is_refused_or_masked() {
    let lower = hex::encode(VISA);
    let colons: Vec<String> = VISA.bytes().map(|b| format!("{b:02X}")).collect();
    assert_refused(&format!("raw={}", colons.join(":")), VISA, Encoding::Hex);
    let utf16: String = VISA
        .chars()
        .map(|c| format!("00{:02x} ", u32::from(c)))
        .collect();
    assert_safe(&utf16, VISA);
    // A plain run of 32 digits: the core masks it like any long digit run.
    let out = scrub::body(lower.as_bytes(), &[VISA]).expect("masked");
    assert!(!leaks(&out, VISA), "{out}");
}

#[test]
fn base64_at_every_alignment_alphabet_and_padding_is_refused() {
    for before in ["", "{", "{\"", "{\"card\":\"", "x\u{e9}"] {
        let data = format!("{before}{VISA}\"}}");
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let blob = engine.encode(&data);
            assert_refused(
                &format!("{{\"receipt\":\"{blob}\"}}"),
                VISA,
                Encoding::Base64,
            );
        }
        // MIME line breaks inside the blob, escaped in a JSON string.
        let wrapped: Vec<String> = STANDARD
            .encode(&data)
            .as_bytes()
            .chunks(8)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let answer = format!("{{\"receipt\":\"{}\"}}", wrapped.join("\\r\\n"));
        assert!(refused(&answer, VISA).is_some(), "{answer}");
    }
}

#[test]
fn escapes_of_every_kind_are_refused_or_masked() {
    let each = |f: &dyn Fn(char) -> String| VISA.chars().map(f).collect::<String>();
    // Masking writes JSON escapes out and masks them.
    assert_safe(&each(&|c| format!("\\u{:04X}", u32::from(c))), VISA);
    // Partly percent-encoded, between letters: no chain of digits the
    // core would mask.
    let partly = each(&|c| {
        if c == '1' {
            "%31z".to_owned()
        } else {
            format!("{c}z")
        }
    });
    assert_refused(&format!("x={partly}"), VISA, Encoding::Escaped);
    assert_safe(&each(&|c| format!("%{:02x}", u32::from(c))), VISA);
    assert_refused(
        &each(&|c| format!("%25{:02X}x", u32::from(c))),
        VISA,
        Encoding::Escaped,
    );
    for entity in [
        |c: char| format!("&#{};", u32::from(c)),
        |c: char| format!("&#x{:x}", u32::from(c)),
        |c: char| format!("&#X00{:X};", u32::from(c)),
        |c: char| format!("&#000{}a", u32::from(c)),
    ] {
        assert_safe(&format!("<p>{}</p>", each(&entity)), VISA);
    }
    assert_refused(
        &each(&|c| format!("\\x{:02x}-", u32::from(c))),
        VISA,
        Encoding::Hex,
    );
    assert_refused(
        &format!("<b>{}</b>", each(&|c| format!("&#{};&nbsp;", u32::from(c)))),
        VISA,
        Encoding::Escaped,
    );
}

#[test]
fn combinations_a_processor_makes_are_refused() {
    // Base64 of JSON that holds the card \u-escaped, or grouped by colons.
    let escaped: String = VISA
        .chars()
        .map(|c| format!("\\u{:04x}", u32::from(c)))
        .collect();
    let colons: String = VISA.chars().map(|c| format!("{c}:")).collect();
    for inner in [escaped, colons] {
        let blob = STANDARD.encode(format!("{{\"card\":\"{inner}\"}}"));
        assert_refused(&format!("{{\"r\":\"{blob}\"}}"), VISA, Encoding::InBase64);
    }
    // Percent-encoded base64 (a query string), and PHP's escaped slashes.
    let blob = STANDARD.encode(format!("??>{VISA}"));
    let query = percent_encoding::utf8_percent_encode(&blob, percent_encoding::NON_ALPHANUMERIC);
    assert!(refused(&format!("next?r={query}"), VISA).is_some());
    let slashed = blob.replace('/', "\\/");
    assert!(refused(&format!("{{\"r\":\"{slashed}\"}}"), VISA).is_some());
    // Base64 of base64.
    let twice = STANDARD.encode(STANDARD.encode(VISA));
    assert!(refused(&twice, VISA).is_some());
}

#[test]
fn headers_are_refused_too() {
    let mut map = http::HeaderMap::new();
    map.insert("x-echo", STANDARD.encode(VISA).parse().expect("value"));
    assert_eq!(
        scrub::headers(&map, &[VISA]),
        Err(Unscrubbable::Echoed(Encoding::Base64))
    );
    let mut map = http::HeaderMap::new();
    let name = format!("x-{}", hex::encode(VISA).replace("31", "31z"));
    map.insert(
        http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
        "v".parse().expect("value"),
    );
    assert!(scrub::headers(&map, &[VISA]).is_err());
}

#[test]
fn masked_echoes_and_ordinary_answers_pass() {
    for answer in [
        format!(r#"{{"card":{{"number":"{VISA}","bin":"411111","last4":"1111"}}}}"#),
        "{\"id\":\"ch_1\",\"amount\":1000,\"at\":\"2026-11-26T10:15:30Z\"}".to_owned(),
        "<p>&#169; 2026 &#x41;cme, +44 20 7946 0958, order 2024-000123</p>".to_owned(),
        format!(
            "{{\"token\":\"{}\"}}",
            STANDARD.encode("an unrelated blob of bytes")
        ),
        "next=%2Fv1%2Fcharges%3Fpage%3D2&sig=YWJjZGVmZ2hpams".to_owned(),
    ] {
        let out = scrub::body(answer.as_bytes(), &[VISA]).expect("not refused");
        assert!(!leaks(&out, VISA), "{out}");
    }
    // The same answer, nothing sent: nothing to look for.
    assert!(scrub::body(STANDARD.encode(VISA).as_bytes(), &[]).is_ok());
}

/// A random Luhn-valid card number of 12 to 19 digits starting with 2 to 6.
fn pan() -> impl Strategy<Value = String> {
    (2u8..=6, proptest::collection::vec(0u8..10, 10..=17)).prop_map(|(first, rest)| {
        let body: String = std::iter::once(first)
            .chain(rest)
            .map(|d| char::from(b'0' + d))
            .collect();
        (0..10)
            .map(|check| format!("{body}{check}"))
            .find(|p| luhn_ok(p))
            .unwrap_or_default()
    })
}

/// Text around the card: letters and punctuation, no digits, so whatever
/// digits the output keeps come from the card.
fn around() -> impl Strategy<Value = String> {
    "[a-zA-Z {}\":,=/+_-]{0,24}"
}

/// One encoding of the card, by its choices.
#[derive(Debug, Clone)]
enum Enc {
    Separated(&'static str),
    Hex(bool, &'static str),
    Base64 {
        engine: usize,
        before: Vec<u8>,
        after: Vec<u8>,
    },
    Percent(Vec<bool>, bool),
    Html(bool, usize, bool),
    JsonU(bool),
    Base64OfEscaped(usize),
}

fn enc() -> impl Strategy<Value = Enc> {
    let seps = prop::sample::select(vec![":", ",", "a", " : ", "</i><i>", "\u{200B},", ""]);
    prop_oneof![
        seps.clone().prop_map(Enc::Separated),
        (any::<bool>(), seps).prop_map(|(u, s)| Enc::Hex(u, s)),
        (
            0usize..4,
            prop::collection::vec(any::<u8>(), 0..6),
            prop::collection::vec(any::<u8>(), 0..4)
        )
            .prop_map(|(engine, before, after)| Enc::Base64 {
                engine,
                before,
                after
            }),
        (prop::collection::vec(any::<bool>(), 19), any::<bool>())
            .prop_map(|(m, u)| Enc::Percent(m, u)),
        (any::<bool>(), 0usize..4, any::<bool>()).prop_map(|(h, z, s)| Enc::Html(h, z, s)),
        any::<bool>().prop_map(Enc::JsonU),
        (0usize..4).prop_map(Enc::Base64OfEscaped),
    ]
}

const ENGINES: [&base64::engine::GeneralPurpose; 4] =
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD];

impl Enc {
    fn apply(&self, pan: &str) -> String {
        let each = |f: &dyn Fn(usize, char) -> String| {
            pan.chars()
                .enumerate()
                .map(|(i, c)| f(i, c))
                .collect::<String>()
        };
        match self {
            Enc::Separated(sep) => pan.chars().map(String::from).collect::<Vec<_>>().join(sep),
            Enc::Hex(upper, sep) => {
                let h: Vec<String> = pan
                    .bytes()
                    .map(|b| {
                        if *upper {
                            format!("{b:02X}")
                        } else {
                            format!("{b:02x}")
                        }
                    })
                    .collect();
                h.join(sep)
            }
            Enc::Base64 {
                engine,
                before,
                after,
            } => {
                let mut data = before.clone();
                data.extend_from_slice(pan.as_bytes());
                data.extend_from_slice(after);
                ENGINES[*engine].encode(data)
            }
            Enc::Percent(mask, upper) => each(&|i, c| match (mask[i], upper) {
                (false, _) => format!("{c}x"),
                (true, true) => format!("%{:02X}", u32::from(c)),
                (true, false) => format!("%{:02x}", u32::from(c)),
            }),
            Enc::Html(hexed, zeros, semi) => each(&|_, c| {
                let z = "0".repeat(*zeros);
                let end = if *semi { ";" } else { "" };
                if *hexed {
                    format!("&#x{z}{:x}{end}", u32::from(c))
                } else {
                    format!("&#{z}{}{end}", u32::from(c))
                }
            }),
            Enc::JsonU(upper) => each(&|_, c| {
                if *upper {
                    format!("\\u{:04X}", u32::from(c))
                } else {
                    format!("\\u{:04x}", u32::from(c))
                }
            }),
            Enc::Base64OfEscaped(engine) => {
                let inner = each(&|_, c| format!("\\u{:04x}", u32::from(c)));
                ENGINES[*engine].encode(format!("{{\"card\":{{\"number\":\"{inner}\"}}}}"))
            }
        }
    }

    /// Whether masking may have removed this encoding (it holds digits the
    /// core reads as a card number); otherwise only refusing is safe.
    fn maskable(&self) -> bool {
        !matches!(self, Enc::Base64 { .. } | Enc::Base64OfEscaped(_))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn a_sent_card_in_any_encoding_is_masked_or_refused(
        pan in pan(), enc in enc(), before in around(), after in around(),
    ) {
        let answer = format!("{before}{}{after}", enc.apply(&pan));
        match scrub::body(answer.as_bytes(), &[&pan]) {
            Err(Unscrubbable::Echoed(_)) => {}
            Err(other) => prop_assert!(false, "refused for another reason: {other}"),
            Ok(out) => {
                prop_assert!(enc.maskable(), "{enc:?} returned: {out}");
                prop_assert!(!leaks(&out, &pan), "{enc:?} returned: {out}");
            }
        }
    }

    #[test]
    fn text_without_the_card_is_not_refused(
        pan in pan(),
        text in "[ -~]{0,300}",
        blob in prop::collection::vec(any::<u8>(), 0..48),
        engine in 0usize..4,
    ) {
        let answer = format!("{text} {}", ENGINES[engine].encode(&blob));
        prop_assume!(!ascii_digits(&answer).contains(&pan));
        let out = scrub::body(answer.as_bytes(), &[&pan]);
        prop_assert!(out.is_ok(), "{out:?}: {answer}");
    }
}
