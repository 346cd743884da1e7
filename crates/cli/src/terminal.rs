//! Text for the terminal. Everything the CLI prints that can hold text it did
//! not write itself (a file's content, a server's answer, an error message,
//! an argument) goes through [`escape`] (or [`escape_lines`], [`json`]), so
//! no escape sequence from a file or an answer can move the cursor, retitle
//! the window, clear the scrollback or hide text, and no bidi override can
//! make a line read other than it is.
//!
//! Escaped: every control character (C0, DEL, C1), every format character
//! (Unicode category Cf: bidi embeddings, overrides and isolates, zero-width
//! spaces and joiners, the soft hyphen, the BOM, tags...), the line and
//! paragraph separators, and the invisible fillers and variation selectors
//! that are not format characters. Each is shown as `\u{1b}`. Masking card
//! numbers is a separate step, done first where a text may quote one
//! ([`tessera_core::mask_card_numbers`]).

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::CliError;

/// Whether `c` must not reach a terminal as it is.
pub fn is_hidden(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control()
        || matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
        || matches!(c,
            '\u{34F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}'
        )
}

fn escape_with(text: &str, keep_newlines: bool, form: fn(&mut String, char)) -> Cow<'_, str> {
    let hidden = |c: char| is_hidden(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hidden(c) {
            form(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn rust_form(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
}

/// `text` with every hidden character (a newline too) shown as `\u{..}`:
/// for one line of output, whatever it quotes.
///
/// ```
/// use tessera_cli::terminal::escape;
/// assert_eq!(escape("row 3: \u{1b}[2J\u{202e}txt.exe\n"), "row 3: \\u{1b}[2J\\u{202e}txt.exe\\u{a}");
/// assert_eq!(escape("plain text, ünïcode"), "plain text, ünïcode");
/// ```
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_with(text, false, rust_form)
}

/// [`escape`], keeping the newlines: for a text of several lines laid out
/// by the CLI or a library it trusts (clap's usage text), where only what
/// the lines quote can be hostile.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_with(text, true, rust_form)
}

/// JSON text (as `serde_json` writes it, which escapes only C0 controls
/// inside strings) with every other hidden character written as a JSON
/// escape (`\u202e`), so the output stays the same JSON value. Newlines
/// are kept: inside strings serde_json has already escaped them.
pub fn json(text: &str) -> Cow<'_, str> {
    escape_with(text, true, |out, c| {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            let _ = write!(out, "\\u{unit:04x}");
        }
    })
}

/// An error as the CLI shows it, `tessera: ...` on one line (a problem
/// report on several, each of its fields escaped when it was read).
pub fn error_line(e: &CliError) -> String {
    match e {
        CliError::Problem(report) => format!("tessera: {report}"),
        other => format!("tessera: {}", escape(&other.to_string())),
    }
}

/// Prints one line on stdout, escaped.
pub fn say(line: &str) {
    println!("{}", escape(line));
}

/// Prints one line on stderr, escaped.
pub fn warn(line: &str) {
    eprintln!("{}", escape(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_and_invisible_characters_are_shown_as_escapes() {
        let hostile = "a\u{0}b\u{7}c\u{1b}]0;pwned\u{7}d\u{7f}e\u{85}f\u{9b}g\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\u{2066}\u{2067}\u{2068}\u{2069}\u{200b}\u{200c}\u{200d}\u{200e}\u{200f}\u{feff}\u{ad}\u{2028}\u{2029}\u{2060}\u{e0041}\r\t\n";
        let shown = escape(hostile);
        assert!(shown.chars().all(|c| !is_hidden(c)), "{shown:?}");
        assert!(
            shown.starts_with(
                "a\\u{0}b\\u{7}c\\u{1b}]0;pwned\\u{7}d\\u{7f}e\\u{85}f\\u{9b}g\\u{202a}"
            ),
            "{shown}"
        );
        assert!(shown.ends_with("\\u{e0041}\\u{d}\\u{9}\\u{a}"), "{shown}");
        // Ordinary text of any script, with its combining marks, is kept.
        for fine in [
            "Ünïcödé café",
            "日本語のテキスト",
            "עברית",
            "e\u{301}",
            "tok_ABC 4111-11**-****-1111",
        ] {
            assert_eq!(escape(fine), fine);
        }
    }

    #[test]
    fn lines_keep_their_newlines_and_json_stays_json() {
        assert_eq!(
            escape_lines("one\n\u{1b}[31mtwo\n"),
            "one\n\\u{1b}[31mtwo\n"
        );
        let text = serde_json::to_string_pretty(
            &serde_json::json!({"k": "a\u{202e}b\u{1b}\u{85}\u{e0041}"}),
        )
        .expect("json");
        let shown = json(&text);
        assert!(
            shown.chars().all(|c| c == '\n' || !is_hidden(c)),
            "{shown:?}"
        );
        let back: serde_json::Value = serde_json::from_str(&shown).expect("still JSON");
        assert_eq!(back["k"], "a\u{202e}b\u{1b}\u{85}\u{e0041}");
    }
}
