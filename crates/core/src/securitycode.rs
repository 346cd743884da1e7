//! Field names that carry a card security code (CVV, CVC, CID, ...).
//!
//! PCI DSS 3.3.1 forbids storing the security code after authorization, so a
//! request with a field named for one is refused whole, wherever the field
//! sits (metadata keys included). An exact-name list misses `card_cvv`,
//! `securityCode` or `CVV_2`, so [`is_security_code_name`] reads a name as
//! words and looks for the known names in them:
//!
//! 1. **Words.** Invisible characters are dropped, full-width letters read as
//!    ASCII, and digits of any script as ASCII digits; the name is split into
//!    lowercase words at every character that is not a letter or digit, at
//!    camelCase boundaries (`cardCvv`, `CVVCode` -> `cvv` `code`), and
//!    between letters and digits (`cvv2` -> `cvv` `2`).
//! 2. **Unambiguous names**: `cvv` and `cvc` are refused inside any word
//!    (`cardcvv`, `xcvc`), or spelled letter by letter (`c_v_v`); the
//!    spelled-out names (`securitycode`, `verificationvalue`,
//!    `verificationcode`, `cardverificationnumber`, `cardverificationdata`,
//!    `cardvalidationcode`, `cardidentificationnumber`, `cardcode`) anywhere
//!    in the words run together (`card.verification.value`).
//! 3. **Short, ambiguous names** (`cid`, `csc`, `cvn`, `cvd`, `cve`, `ccv`,
//!    `cv2`, `cav2`, `4dbc`) are refused only as a whole word or consecutive
//!    whole words run together (`card_cid`, `CID2`, `cav_2`), so
//!    `incident_id`, `decided`, `acid` and `cidr` pass.
//!
//! It cannot see a security code sent under an innocent name
//! (`{"note": "123"}`): three or four digits are not recognisable.

use crate::cardtext::{digit_value, is_ignorable};

/// Names refused inside any word: they occur in no English word.
const ANYWHERE: &[&str] = &["cvv", "cvc"];
/// Spelled-out names, refused anywhere in the words run together.
const SPELLED_OUT: &[&str] = &[
    "securitycode",
    "verificationvalue",
    "verificationcode",
    "cardverificationnumber",
    "cardverificationdata",
    "cardvalidationcode",
    "cardidentificationnumber",
    "cardcode",
    "seccode",
    "securitynumber",
    "securityno",
    "securitynum",
    "verificationnumber",
    "cvcode",
];
/// Brand names of the code that are also common letter triples, refused only
/// as whole words: Amex/Discover CID, CSC, CVN and UnionPay CVN2, Discover
/// CVD, Elo CVE, the misspelling CCV, UK CV2, JCB CAV2, Amex 4DBC.
const WHOLE_WORDS: &[&str] = &[
    "cid", "csc", "cvn", "cvd", "cve", "ccv", "cv2", "cav", "cav2", "4dbc",
];

/// Whether a field name names a card security code (look-alike letters read
/// as the letters they imitate).
///
/// ```
/// use tessera_core::is_security_code_name;
/// assert!(is_security_code_name("card_cvv"));
/// assert!(is_security_code_name("securityCode"));
/// assert!(is_security_code_name("CID"));
/// assert!(!is_security_code_name("incident_id"));
/// ```
pub fn is_security_code_name(name: &str) -> bool {
    let words = words(name);
    let joined: String = words.concat();
    if SPELLED_OUT.iter().any(|n| joined.contains(n)) {
        return true;
    }
    if spelled_letters(&words).any(|w| ANYWHERE.iter().any(|n| w.contains(n))) {
        return true;
    }
    (0..words.len()).any(|start| {
        let mut run = String::new();
        words[start..].iter().any(|w| {
            run.push_str(w);
            WHOLE_WORDS.contains(&run.as_str())
        })
    })
}

/// Reads a letter that looks like an ASCII letter as that letter: full-width
/// forms, circled letters, the mathematical alphanumeric styles (bold,
/// italic, script...), and the Cyrillic and Greek letters that are drawn
/// like Latin ones (`сvv` with a Cyrillic `с`).
fn fold_look_alike(c: char) -> char {
    let cp = u32::from(c);
    let ascii = |base: u32, offset: u32| char::from_u32(base + offset).unwrap_or(c);
    match cp {
        0xFF01..=0xFF5E => ascii(0x21, cp - 0xFF01),
        0x24B6..=0x24CF => ascii(u32::from('A'), cp - 0x24B6),
        0x24D0..=0x24E9 => ascii(u32::from('a'), cp - 0x24D0),
        // Each mathematical style is 52 letters, A-Z then a-z.
        0x1D400..=0x1D6A3 => {
            let i = (cp - 0x1D400) % 52;
            if i < 26 {
                ascii(u32::from('A'), i)
            } else {
                ascii(u32::from('a'), i - 26)
            }
        }
        _ => match c {
            'а' => 'a',
            'с' | 'ϲ' => 'c',
            'С' | 'Ϲ' => 'C',
            'е' => 'e',
            'і' => 'i',
            'о' | 'ο' => 'o',
            'р' | 'ρ' => 'p',
            'ѕ' => 's',
            'ν' | 'ѵ' => 'v',
            'Ѵ' => 'V',
            'х' => 'x',
            'у' => 'y',
            'ԁ' => 'd',
            'ո' => 'n',
            _ => c,
        },
    }
}

/// Whether free text names a security code and gives one: a security-code
/// name followed, after anything but letters and digits, by 3 or 4 digits
/// (`CVV2: 123`, `security code 1234`). A value cannot otherwise be told
/// from any short number, but this writing gives itself away.
pub fn names_a_security_code(text: &str) -> bool {
    let words = words(text);
    (0..words.len()).any(|i| {
        let code_follows = |at: usize| {
            words.get(at).is_some_and(|w| {
                (3..=4).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit())
            })
        };
        // A name of one to three words, then (after a version digit) the code.
        (1..=3).any(|n| {
            let Some(name) = words.get(i..i + n) else {
                return false;
            };
            if !is_security_code_name(&name.join("_")) {
                return false;
            }
            let after = i + n;
            code_follows(after)
                || (words.get(after).is_some_and(|w| w == "2") && code_follows(after + 1))
        })
    })
}

/// The words, with each one-character word joined to the words beside it
/// (`c_v_v`, `cv_v`, `c-vv` -> `cvv`): a name split at any letter still reads.
fn spelled_letters(words: &[String]) -> impl Iterator<Item = String> + '_ {
    words
        .chunk_by(|a, b| a.chars().count() == 1 || b.chars().count() == 1)
        .map(|chunk| chunk.concat())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Lower,
    Upper,
    Digit,
}

/// Splits a name into lowercase words (see the module documentation).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<(char, Kind)> = name
        .chars()
        .filter(|c| !is_ignorable(*c))
        .map(fold_look_alike)
        .map(|c| match digit_value(c) {
            Some(v) => (char::from(b'0' + v), Kind::Digit),
            None if c.is_uppercase() => (c, Kind::Upper),
            None if c.is_alphabetic() => (c, Kind::Lower),
            // Anything else only splits words.
            None => (' ', Kind::Lower),
        })
        .collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &(c, kind)) in chars.iter().enumerate() {
        if c == ' ' {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let boundary = match prev {
            None | Some((' ', _)) => false,
            Some((_, prev)) => {
                (prev == Kind::Digit) != (kind == Kind::Digit)
                    || (prev == Kind::Lower && kind == Kind::Upper)
                    // The last capital of an acronym starts the next word: CVVCode.
                    || (prev == Kind::Upper
                        && kind == Kind::Upper
                        && next.is_some_and(|(n, k)| k == Kind::Lower && n != ' '))
            }
        };
        if boundary && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_into_words() {
        for (name, want) in [
            ("cardCvv", vec!["card", "cvv"]),
            ("CVVCode", vec!["cvv", "code"]),
            ("CVV_2", vec!["cvv", "2"]),
            ("cvv2", vec!["cvv", "2"]),
            (
                "card.verification.value",
                vec!["card", "verification", "value"],
            ),
            ("card-security-code", vec!["card", "security", "code"]),
            ("ｃｖｖ", vec!["cvv"]),
            ("c\u{200B}vv", vec!["cvv"]),
            ("incident_id", vec!["incident", "id"]),
        ] {
            assert_eq!(words(name), want, "{name}");
        }
    }

    #[test]
    fn refuses_security_code_names() {
        for name in [
            "cvv",
            "CVV",
            "cvc",
            "cvv2",
            "cvc2",
            "CVC2",
            "csc",
            "cid",
            "CID",
            "cid2",
            "cvn",
            "cvn2",
            "cvd",
            "cav2",
            "cav_2",
            "cv2",
            "ccv",
            "4dbc",
            "security_code",
            "card_security_code",
            "card-security-code",
            "securityCode",
            "SecurityCode",
            "SECURITY_CODE",
            "card_cvv",
            "cardCvv",
            "cardcvv",
            "CardCVV",
            "CVVCode",
            "CVV_2",
            "cvv-2",
            "c_v_v",
            "card.verification.value",
            "cardVerificationValue",
            "card_verification_code",
            "cardVerificationNumber",
            "card_validation_code",
            "card_identification_number",
            "cardCode",
            "card_cid",
            "amexCid",
            "cscValue",
            "ｃｖｖ",
            "ＣＶＣ",
            "c\u{200B}v\u{AD}v",
            "payment.card.cvv",
            "x-cvv",
            "cv_v",
            "c-vv",
            "cv.c",
            "card_c_vc",
        ] {
            assert!(is_security_code_name(name), "not refused: {name}");
        }
    }

    #[test]
    fn accepts_ordinary_names() {
        for name in [
            "pan",
            "format",
            "ttl_seconds",
            "metadata",
            "expires",
            "dedupe",
            "token",
            "tokens",
            "reason",
            "items",
            "incident_id",
            "incidentId",
            "decided",
            "acid",
            "cidr",
            "cidr_block",
            "accident",
            "code",
            "security",
            "security_level",
            "card",
            "card_holder",
            "cardholder_name",
            "card_type",
            "verification_status",
            "access_code",
            "discount_code",
            "postal_code",
            "order_id",
            "merchant",
            "crm_id",
            "csv_export",
            "services",
            "cvent_id",
            "arc_vcs",
            "scvx",
            "circuit",
        ] {
            assert!(!is_security_code_name(name), "refused: {name}");
        }
    }
}

#[cfg(test)]
mod red_team {
    use super::*;

    #[test]
    fn names_the_red_team_tried_are_refused() {
        for name in [
            "sec_code",
            "secCode",
            "securityNumber",
            "security_no",
            "verification_number",
            "cv_code",
            "cav",
            "\u{441}vv",
            "\u{1D41C}\u{1D42F}\u{1D42F}",
            "\u{24D2}\u{24E5}\u{24E5}",
        ] {
            assert!(is_security_code_name(name), "{name:?}");
        }
        for name in [
            "card_verification_method",
            "incident_id",
            "cavity",
            "decision_code",
        ] {
            assert!(!is_security_code_name(name), "{name:?}");
        }
    }

    #[test]
    fn values_that_give_a_code_away_are_refused() {
        for value in [
            "CVV2: 123",
            "cvv 123",
            "security code 1234",
            "CID=4567",
            "cvc2-123",
        ] {
            assert!(names_a_security_code(value), "{value:?}");
        }
        for value in ["order 123", "cvv checked", "call 555 1234", "room 1234"] {
            assert!(!names_a_security_code(value), "{value:?}");
        }
    }

    #[test]
    fn every_look_alike_reads_as_its_ascii_letter() {
        let pairs = [
            ('\u{FF21}', 'A'),
            ('\u{FF01}', '!'),
            ('\u{24B6}', 'A'),
            ('\u{24CF}', 'Z'),
            ('\u{24D0}', 'a'),
            ('\u{24E9}', 'z'),
            ('\u{1D400}', 'A'), // bold
            ('\u{1D419}', 'Z'),
            ('\u{1D41A}', 'a'),
            ('\u{1D433}', 'z'),
            ('\u{1D434}', 'A'), // italic: the next style starts again at A
            ('\u{1D6A3}', 'z'),
            ('а', 'a'),
            ('с', 'c'),
            ('ϲ', 'c'),
            ('С', 'C'),
            ('Ϲ', 'C'),
            ('е', 'e'),
            ('і', 'i'),
            ('о', 'o'),
            ('ο', 'o'),
            ('р', 'p'),
            ('ρ', 'p'),
            ('ѕ', 's'),
            ('ν', 'v'),
            ('ѵ', 'v'),
            ('Ѵ', 'V'),
            ('х', 'x'),
            ('у', 'y'),
            ('ԁ', 'd'),
            ('ո', 'n'),
            ('b', 'b'),
            ('ж', 'ж'),
        ];
        for (c, ascii) in pairs {
            assert_eq!(fold_look_alike(c), ascii, "U+{:X}", u32::from(c));
        }
    }

    #[test]
    fn a_three_word_name_with_a_version_digit_gives_its_code_away() {
        // Only all three words name it, so the code comes after the "2".
        assert!(names_a_security_code("card identification number 2: 1234"));
        for value in [
            "card identification number 7 123",
            "card identification number 2 checked",
            "card identification number 2",
        ] {
            assert!(!names_a_security_code(value), "{value:?}");
        }
    }
}
