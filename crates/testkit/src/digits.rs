//! Unicode digits, read as ASCII. The table is the Unicode Character
//! Database's decimal digits (Nd), written out here rather than taken from
//! `tessera-core`, so that the test oracle shares no code with what it checks.

/// Every run of ten Unicode decimal digits (Nd) through Unicode 17, zero first.
const DECIMAL_RUNS: &[std::ops::RangeInclusive<char>] = &[
    '\u{30}'..='\u{39}',
    '\u{660}'..='\u{669}',
    '\u{6F0}'..='\u{6F9}',
    '\u{7C0}'..='\u{7C9}',
    '\u{966}'..='\u{96F}',
    '\u{9E6}'..='\u{9EF}',
    '\u{A66}'..='\u{A6F}',
    '\u{AE6}'..='\u{AEF}',
    '\u{B66}'..='\u{B6F}',
    '\u{BE6}'..='\u{BEF}',
    '\u{C66}'..='\u{C6F}',
    '\u{CE6}'..='\u{CEF}',
    '\u{D66}'..='\u{D6F}',
    '\u{DE6}'..='\u{DEF}',
    '\u{E50}'..='\u{E59}',
    '\u{ED0}'..='\u{ED9}',
    '\u{F20}'..='\u{F29}',
    '\u{1040}'..='\u{1049}',
    '\u{1090}'..='\u{1099}',
    '\u{17E0}'..='\u{17E9}',
    '\u{1810}'..='\u{1819}',
    '\u{1946}'..='\u{194F}',
    '\u{19D0}'..='\u{19D9}',
    '\u{1A80}'..='\u{1A89}',
    '\u{1A90}'..='\u{1A99}',
    '\u{1B50}'..='\u{1B59}',
    '\u{1BB0}'..='\u{1BB9}',
    '\u{1C40}'..='\u{1C49}',
    '\u{1C50}'..='\u{1C59}',
    '\u{A620}'..='\u{A629}',
    '\u{A8D0}'..='\u{A8D9}',
    '\u{A900}'..='\u{A909}',
    '\u{A9D0}'..='\u{A9D9}',
    '\u{A9F0}'..='\u{A9F9}',
    '\u{AA50}'..='\u{AA59}',
    '\u{ABF0}'..='\u{ABF9}',
    '\u{FF10}'..='\u{FF19}',
    '\u{104A0}'..='\u{104A9}',
    '\u{10D30}'..='\u{10D39}',
    '\u{10D40}'..='\u{10D49}',
    '\u{11066}'..='\u{1106F}',
    '\u{110F0}'..='\u{110F9}',
    '\u{11136}'..='\u{1113F}',
    '\u{111D0}'..='\u{111D9}',
    '\u{112F0}'..='\u{112F9}',
    '\u{11450}'..='\u{11459}',
    '\u{114D0}'..='\u{114D9}',
    '\u{11650}'..='\u{11659}',
    '\u{116C0}'..='\u{116C9}',
    '\u{116D0}'..='\u{116D9}',
    '\u{116DA}'..='\u{116E3}',
    '\u{11730}'..='\u{11739}',
    '\u{118E0}'..='\u{118E9}',
    '\u{11950}'..='\u{11959}',
    '\u{11BF0}'..='\u{11BF9}',
    '\u{11C50}'..='\u{11C59}',
    '\u{11D50}'..='\u{11D59}',
    '\u{11DA0}'..='\u{11DA9}',
    '\u{11DE0}'..='\u{11DE9}',
    '\u{11F50}'..='\u{11F59}',
    '\u{16130}'..='\u{16139}',
    '\u{16A60}'..='\u{16A69}',
    '\u{16AC0}'..='\u{16AC9}',
    '\u{16B50}'..='\u{16B59}',
    '\u{16D70}'..='\u{16D79}',
    '\u{1CCF0}'..='\u{1CCF9}',
    '\u{1D7CE}'..='\u{1D7D7}',
    '\u{1D7D8}'..='\u{1D7E1}',
    '\u{1D7E2}'..='\u{1D7EB}',
    '\u{1D7EC}'..='\u{1D7F5}',
    '\u{1D7F6}'..='\u{1D7FF}',
    '\u{1E140}'..='\u{1E149}',
    '\u{1E2F0}'..='\u{1E2F9}',
    '\u{1E4F0}'..='\u{1E4F9}',
    '\u{1E5F1}'..='\u{1E5FA}',
    '\u{1E950}'..='\u{1E959}',
    '\u{1FBF0}'..='\u{1FBF9}',
];

/// The ASCII digit a character stands for, if it is a digit of any script
/// (decimal digits, and superscript, subscript and circled digits).
pub(crate) fn ascii_digit(c: char) -> Option<char> {
    let value = match c {
        '0'..='9' => return Some(c),
        '\u{B9}' => 1,
        '\u{B2}' | '\u{B3}' => u32::from(c) - 0xB0,
        '\u{2070}' => 0,
        '\u{2074}'..='\u{2079}' => u32::from(c) - 0x2070,
        '\u{2080}'..='\u{2089}' => u32::from(c) - 0x2080,
        '\u{2460}'..='\u{2468}' => u32::from(c) - 0x245F,
        '\u{24EA}' => 0,
        _ => {
            let run = DECIMAL_RUNS.iter().find(|run| run.contains(&c))?;
            u32::from(c) - u32::from(*run.start())
        }
    };
    char::from_digit(value, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_ten_numeric_characters() {
        for run in DECIMAL_RUNS {
            let n = (*run.start()..=*run.end())
                .filter(|c| c.is_numeric())
                .count();
            assert_eq!(n, 10, "{:X}", u32::from(*run.start()));
        }
    }

    #[test]
    fn reads_scripts() {
        let read = |s: &str| s.chars().filter_map(ascii_digit).collect::<String>();
        assert_eq!(read("０１２３４５６７８９"), "0123456789");
        assert_eq!(read("٠١٢٣٤٥٦٧٨٩"), "0123456789");
        assert_eq!(read("०१२३४५६७८९"), "0123456789");
        assert_eq!(read("⁰¹²³⁴⁵⁶⁷⁸⁹"), "0123456789");
        assert_eq!(read("₀①②③④⑤⑥⑦⑧⑨"), "0123456789");
        assert_eq!(read("𝟎𝟙𝟤𝟯𝟺"), "01234");
        assert_eq!(read("aⅫ½〇"), "");
    }
}
