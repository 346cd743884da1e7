//! The card number of a `call`: one line from stdin or a file, never argv.

use std::io::Read;
use std::path::Path;

use tessera_core::Pan;
use zeroize::Zeroizing;

use crate::CliError;

/// Most bytes read: a card number with separators and a line end fits many
/// times over; more is not one card number, and is not read on.
const MAX_INPUT_BYTES: u64 = 256;

/// Reads one card number from `path`, or from `stdin` without one. Refuses
/// an empty input, more than one line, or anything that is not a PAN
/// (12 to 19 digits, spaces and hyphens ignored, Luhn-valid), without
/// quoting what it read.
pub fn read_pan(path: Option<&Path>, stdin: &mut dyn Read) -> Result<Pan, CliError> {
    let mut raw = Zeroizing::new(Vec::with_capacity(MAX_INPUT_BYTES as usize + 1));
    let source = match path {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| CliError::file(path, e))?;
            file.take(MAX_INPUT_BYTES + 1)
                .read_to_end(&mut raw)
                .map_err(|e| CliError::file(path, e))?;
            path.display().to_string()
        }
        None => {
            stdin
                .take(MAX_INPUT_BYTES + 1)
                .read_to_end(&mut raw)
                .map_err(|e| CliError::Refused(format!("stdin: {e}")))?;
            "stdin".to_owned()
        }
    };
    let refuse = |why: &str| Err(CliError::Refused(format!("{source}: {why}")));
    if raw.len() as u64 > MAX_INPUT_BYTES {
        return refuse("give one card number, not more than 256 bytes");
    }
    let Ok(text) = std::str::from_utf8(&raw) else {
        return refuse("not UTF-8 text");
    };
    let text = text.trim();
    if text.is_empty() {
        return refuse("no card number (pipe it in, or use --file)");
    }
    if text.contains(['\n', '\r']) {
        return refuse("give one card number on one line");
    }
    Pan::parse(text).map_err(|e| CliError::Refused(format!("{source}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str) -> Result<Pan, CliError> {
        read_pan(None, &mut input.as_bytes())
    }

    #[test]
    fn one_card_number_on_one_line_is_read() {
        let pan = read("4111 1111-1111 1111\n").expect("a PAN");
        assert_eq!(pan.last4(), "1111");
        assert!(read("\r\n  4242424242424242  \r\n").is_ok());
    }

    #[test]
    fn anything_else_is_refused_without_being_quoted() {
        for bad in [
            "",
            "\n",
            "4111111111111112\n",
            "4111111111111111\n4242424242424242\n",
            "4111 1111 1111 1111 x",
            &"4".repeat(300),
        ] {
            let e = read(bad).expect_err("refused").to_string();
            assert!(!e.contains("4111") && !e.contains("4242"), "{e}");
            assert!(e.starts_with("stdin: "), "{e}");
        }
    }
}
