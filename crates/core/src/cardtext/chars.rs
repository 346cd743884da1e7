//! Character classes for reading numbers out of free text: which characters
//! are digits (in any script), which separate digit groups, and which are
//! invisible and so are skipped. Tables for digits and separators, which a
//! reviewer can read entry by entry; the combining marks of every script
//! come from the Unicode general category (`unicode-properties`), a set too
//! large to list by hand without missing some.

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// The zero of every run of ten decimal digits (Unicode category Nd, through
/// Unicode 17): ASCII, Arabic-Indic, Devanagari, ..., full-width,
/// mathematical, outlined. Every Nd character is `zero + value`.
const DECIMAL_ZEROS: [u32; 77] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x10D40, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0,
    0x11650, 0x116C0, 0x116D0, 0x116DA, 0x11730, 0x118E0, 0x11950, 0x11BF0, 0x11C50, 0x11D50,
    0x11DA0, 0x11DE0, 0x11F50, 0x16130, 0x16A60, 0x16AC0, 0x16B50, 0x16D70, 0x1CCF0, 0x1D7CE,
    0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E5F1, 0x1E950, 0x1FBF0,
];

/// Other characters that are one digit (Unicode Numeric_Type=Digit, not Nd):
/// superscripts, subscripts, circled and parenthesized digits, and the like.
/// Each entry: first code point, how many, value of the first.
const OTHER_DIGITS: [(u32, u32, u8); 21] = [
    (0xB2, 2, 2),
    (0xB9, 1, 1),
    (0x1369, 9, 1),
    (0x19DA, 1, 1),
    (0x2070, 1, 0),
    (0x2074, 6, 4),
    (0x2080, 10, 0),
    (0x2460, 9, 1),
    (0x2474, 9, 1),
    (0x2488, 9, 1),
    (0x24EA, 1, 0),
    (0x24F5, 9, 1),
    (0x24FF, 1, 0),
    (0x2776, 9, 1),
    (0x2780, 9, 1),
    (0x278A, 9, 1),
    (0x10A40, 4, 1),
    (0x10E60, 9, 1),
    (0x11052, 9, 1),
    (0x1F100, 1, 0),
    (0x1F101, 10, 0),
];

/// The value (0 to 9) of a digit in any script, or `None`.
pub fn digit_value(c: char) -> Option<u8> {
    if c.is_ascii_digit() {
        return Some(c as u8 - b'0');
    }
    // CJK numerals are letters (Lo) to Unicode, but a card number can be
    // written in them digit by digit.
    if let Some(v) = CJK_NUMERALS.iter().position(|n| *n == c) {
        return u8::try_from(v).ok();
    }
    if matches!(c, '零') {
        return Some(0);
    }
    if c.is_ascii() || !c.is_numeric() {
        return None;
    }
    let cp = u32::from(c);
    // The tables hold only values below ten, so the casts cannot truncate.
    let nd = DECIMAL_ZEROS
        .iter()
        .find(|zero| (**zero..*zero + 10).contains(&cp))
        .map(|zero| (cp - zero) as u8);
    nd.or_else(|| {
        OTHER_DIGITS
            .iter()
            .find(|(first, count, _)| (*first..*first + count).contains(&cp))
            .map(|(first, _, value)| value + (cp - first) as u8)
    })
}

/// Characters a reader does not see, skipped as if absent: Unicode format
/// characters (Cf: soft hyphen, zero-width space and joiners, bidi controls,
/// BOM, tags), the other default-ignorable code points (variation selectors,
/// combining grapheme joiner, Hangul fillers), and every combining mark of
/// any script (Mn, Mc, Me: strike-through, keycap, Arabic harakat, Hebrew
/// points, Devanagari and Tibetan signs), which draws on the digit before it
/// and leaves it readable as that digit.
pub(crate) fn is_ignorable(c: char) -> bool {
    listed_ignorable(c)
        || (!c.is_ascii()
            && (c.general_category_group() == GeneralCategoryGroup::Mark
                || c.general_category() == GeneralCategory::Format))
}

/// The ignorable characters named one by one (the default-ignorable ones
/// that are not format characters, and the fast path for the common ones).
fn listed_ignorable(c: char) -> bool {
    matches!(c,
        '\u{AD}'
        | '\u{300}'..='\u{36F}'
        | '\u{600}'..='\u{605}'
        | '\u{61C}'
        | '\u{6DD}'
        | '\u{70F}'
        | '\u{890}'..='\u{891}'
        | '\u{8E2}'
        | '\u{115F}'..='\u{1160}'
        | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// The CJK numerals zero to nine, each at its value's index.
const CJK_NUMERALS: [char; 10] = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// Whether a character, not a digit, still ends a chain of digit groups:
/// letters and other alphanumerics (`+` too, handled by the reader).
/// Everything else that is not a digit or invisible (any punctuation or
/// symbol: bullets, ellipses, `|`, `*`, `#`, Braille blanks...) separates
/// groups like a space.
pub(crate) fn ends_chain(c: char) -> bool {
    c.is_alphanumeric()
}

/// The colon and comma (with their full-width and ideographic forms): they
/// separate groups too (`4111:1111:1111:1111`), but times (`10:15:30`),
/// lists (`1,2,3`) and grouped thousands use them, so a window joined by one
/// is held to more (see `chain_card_numbers`).
pub(crate) fn is_weak_separator(c: char) -> bool {
    matches!(c, ':' | ',' | '\u{FF1A}' | '\u{FF0C}' | '\u{3001}')
}

/// Characters that may stand between the digit groups of a written number:
/// every Unicode space (White_Space), every dash (Pd, and the minus sign),
/// every connector (Pc: underscore and its forms), and the dots and slashes
/// with their full-width and typographic forms.
pub(crate) fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            // dashes: Pd, minus sign, hyphen bullet
            '-' | '\u{58A}' | '\u{5BE}' | '\u{1400}' | '\u{1806}' | '\u{2010}'..='\u{2015}'
            | '\u{2043}' | '\u{2212}' | '\u{2E17}' | '\u{2E1A}' | '\u{2E3A}' | '\u{2E3B}'
            | '\u{2E40}' | '\u{2E5D}' | '\u{301C}' | '\u{3030}' | '\u{30A0}' | '\u{FE31}'
            | '\u{FE32}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' | '\u{10EAD}'
            // connectors: Pc
            | '_' | '\u{203F}' | '\u{2040}' | '\u{2054}' | '\u{FE33}' | '\u{FE34}'
            | '\u{FE4D}'..='\u{FE4F}' | '\u{FF3F}'
            // Katakana prolonged sound marks: modifier letters that read as dashes
            | '\u{30FC}' | '\u{FF70}'
            // dots
            | '.' | '\u{B7}' | '\u{2024}' | '\u{2027}' | '\u{2219}' | '\u{22C5}' | '\u{2E31}'
            | '\u{3002}' | '\u{30FB}' | '\u{FE52}' | '\u{FF0E}' | '\u{FF61}' | '\u{FF65}'
            // slashes
            | '/' | '\\' | '\u{2044}' | '\u{2215}' | '\u{2216}' | '\u{29F5}' | '\u{29F8}'
            | '\u{29F9}' | '\u{FF0F}' | '\u{FF3C}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_entry_is_a_numeric_character_with_its_value() {
        for zero in DECIMAL_ZEROS {
            for value in 0..10u8 {
                let c = char::from_u32(zero + u32::from(value)).expect("a char");
                assert!(c.is_numeric(), "U+{:X} numeric", u32::from(c));
                assert_eq!(digit_value(c), Some(value), "U+{:X}", u32::from(c));
            }
        }
        for (first, count, value) in OTHER_DIGITS {
            for i in 0..count {
                let c = char::from_u32(first + i).expect("a char");
                assert!(c.is_numeric(), "U+{:X} numeric", u32::from(c));
                assert_eq!(digit_value(c), Some(value + i as u8));
            }
        }
    }

    #[test]
    fn reads_digits_of_several_scripts() {
        for (text, want) in [
            ("0123456789", "0123456789"),
            ("０１２３４５６７８９", "0123456789"),
            ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
            ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),
            ("०१२३४५६७८९", "0123456789"),
            ("০১২৩৪৫৬৭৮৯", "0123456789"),
            ("๐๑๒๓๔๕๖๗๘๙", "0123456789"),
            ("𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗", "0123456789"),
            ("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789"),
            ("₀₁₂₃₄₅₆₇₈₉", "0123456789"),
            ("⓪①②③④⑤⑥⑦⑧⑨", "0123456789"),
            ("〇一二三四五六七八九", "0123456789"),
        ] {
            let got: String = text
                .chars()
                .map(|c| char::from(b'0' + digit_value(c).expect("a digit")))
                .collect();
            assert_eq!(got, want, "{text}");
        }
        for c in ['a', 'Ⅻ', '½', '十', ' ', '-', '.'] {
            assert_eq!(digit_value(c), None, "{c}");
        }
    }

    #[test]
    fn classes_do_not_overlap() {
        for cp in 0..=0x10FFFF {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let classes = [
                digit_value(c).is_some(),
                is_ignorable(c),
                is_separator(c),
                is_weak_separator(c),
            ];
            assert!(
                classes.iter().filter(|x| **x).count() <= 1,
                "U+{cp:X} is in two classes"
            );
        }
    }

    #[test]
    fn invisible_characters_are_ignorable_whether_listed_or_classed() {
        // The Hangul filler is a letter (Lo) to Unicode: only the list names
        // it. The Cyrillic titlo, Thai vowel, keycap and Devanagari visarga
        // are marks no list names: only their class makes them ignorable.
        for c in [
            '\u{3164}', '\u{200B}', '\u{301}', '\u{483}', '\u{E31}', '\u{20E3}', '\u{903}',
        ] {
            assert!(is_ignorable(c), "U+{:X} ignorable", u32::from(c));
        }
        for c in ['a', '1', ' ', '-', '^', '\u{E9}', '\u{660}', '\u{3131}'] {
            assert!(!is_ignorable(c), "U+{:X} visible", u32::from(c));
        }
    }
}
