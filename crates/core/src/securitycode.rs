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
];
/// Brand names of the code that are also common letter triples, refused only
/// as whole words: Amex/Discover CID, CSC, CVN and UnionPay CVN2, Discover
/// CVD, Elo CVE, the misspelling CCV, UK CV2, JCB CAV2, Amex 4DBC.
const WHOLE_WORDS: &[&str] = &[
    "cid", "csc", "cvn", "cvd", "cve", "ccv", "cv2", "cav2", "4dbc",
];

/// Whether a field name names a card security code.
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

/// The words, with each run of one-character words joined (`c_v_v` -> `cvv`).
fn spelled_letters(words: &[String]) -> impl Iterator<Item = String> + '_ {
    words
        .chunk_by(|a, b| a.chars().count() == 1 && b.chars().count() == 1)
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
        .map(|c| match c {
            // Full-width ASCII forms read as ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        })
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
