//! Rows of an import file: CSV with a header, or JSON Lines.
//!
//! Columns (fields): `pan`, and optionally `token` (keep a token issued by the
//! old vault), `format` (`opaque` or `fpe`), `expires` (`MM/YY`) and
//! `metadata` (a JSON object of strings; in CSV, that object as text). Any
//! other column is refused, so a `cvv` column never gets in. A reason given
//! for a bad row never quotes the row.
//!
//! Lines are read with a bound ([`crate::lines`]): a line longer than
//! [`crate::lines::MAX_LINE_BYTES`] or not UTF-8 is a rejected row, its bytes discarded
//! or wiped; every line is wiped once parsed. CSV is one row a line
//! ([`crate::csvrow`]): a quoted field may not span lines.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use tessera_core::{
    DedupScope, Expiry, Metadata, Pan, Token, TokenFormat, TokenizeRequest, contains_card_number,
};
use zeroize::Zeroize;

use crate::CliError;
use crate::csvrow::{self, Header};
use crate::lines::BoundedLines;

/// The import file's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Comma-separated, with a header row.
    Csv,
    /// One JSON object a line.
    JsonLines,
}

impl InputFormat {
    /// From the file name: `.csv` is CSV, anything else JSON Lines.
    pub fn from_path(path: &Path) -> InputFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => InputFormat::Csv,
            _ => InputFormat::JsonLines,
        }
    }
}

/// One row as written in the file. The PAN is wiped when the row is dropped.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    pan: String,
    token: Option<String>,
    format: Option<String>,
    expires: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
}

impl Drop for JsonRow {
    fn drop(&mut self) {
        self.pan.zeroize();
    }
}

/// A row made ready to import: the request and the token to keep, if any.
#[derive(Debug)]
pub struct ImportRow {
    /// The request (PAN, format, expiry, metadata, scope).
    pub request: TokenizeRequest,
    /// A token from the old vault to keep.
    pub token: Option<Token>,
}

/// A parser message, unless it could quote a card number (however split:
/// the core's detector skips invisible characters and combining marks).
fn safe(message: String, fallback: &str) -> String {
    if contains_card_number(&message) {
        fallback.to_owned()
    } else {
        message
    }
}

fn build(
    pan: &str,
    token: Option<&str>,
    format: Option<&str>,
    expires: Option<&str>,
    metadata: Option<BTreeMap<String, String>>,
    scope: &DedupScope,
) -> Result<ImportRow, String> {
    let pan = Pan::parse(pan).map_err(|e| format!("pan: {e}"))?;
    let format = match format.map(str::trim).filter(|f| !f.is_empty()) {
        None => TokenFormat::Opaque,
        Some(name) => {
            TokenFormat::from_name(name).ok_or_else(|| "format: not opaque or fpe".to_owned())?
        }
    };
    let expiry = match expires.map(str::trim).filter(|e| !e.is_empty()) {
        None => Expiry::Never,
        Some(text) => Expiry::card(text).map_err(|e| format!("expires: {e}"))?,
    };
    let metadata = Metadata::new(metadata.unwrap_or_default())
        .map_err(|e| safe(format!("metadata: {e}"), "metadata: refused"))?;
    let token = match token.map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => Some(Token::parse(text).map_err(|e| format!("token: {e}"))?),
    };
    let mut request = TokenizeRequest::new(pan);
    request.format = format;
    request.expiry = expiry;
    request.metadata = metadata;
    request.scope = scope.clone();
    Ok(ImportRow { request, token })
}

/// A row by number (from 1): ready to import, or why not.
pub type NumberedRow = (u64, Result<ImportRow, String>);

/// Reads an import file row by row.
pub fn read_rows(
    path: &Path,
    layout: InputFormat,
    scope: DedupScope,
) -> Result<Box<dyn Iterator<Item = NumberedRow>>, CliError> {
    let file = File::open(path).map_err(|e| CliError::file(path, e))?;
    rows_from(file, layout, scope).map_err(|why| CliError::file(path, why))
}

/// Reads rows from `source`, each line at most [`crate::lines::MAX_LINE_BYTES`]: JSON
/// Lines numbered by line, CSV by data row (the header and blank lines not
/// counted). A CSV file whose header is not one this reads is refused whole.
pub fn rows_from<R: Read + 'static>(
    source: R,
    layout: InputFormat,
    scope: DedupScope,
) -> Result<Box<dyn Iterator<Item = NumberedRow>>, String> {
    let lines = BoundedLines::new(source);
    match layout {
        InputFormat::JsonLines => Ok(Box::new(lines.filter_map(move |(n, line)| {
            let line = match line {
                Ok(line) => line,
                Err(e) => return Some((n, Err(e.reason()))),
            };
            if line.trim().is_empty() {
                return None;
            }
            Some((n, json_row(&line, &scope)))
        }))),
        InputFormat::Csv => {
            let mut lines = lines.filter(|(_, line)| !matches!(line, Ok(l) if l.trim().is_empty()));
            let header = match lines.next() {
                None => return Err("no header line".to_owned()),
                Some((_, Err(e))) => return Err(format!("the header: {}", e.reason())),
                Some((_, Ok(line))) => Header::parse(&line, safe)?,
            };
            Ok(Box::new(lines.zip(1..).map(move |((_, line), n)| {
                let row = match line {
                    Ok(line) => csv_row(&line, &header, &scope),
                    Err(e) => Err(e.reason()),
                };
                (n, row)
            })))
        }
    }
}

fn json_row(line: &str, scope: &DedupScope) -> Result<ImportRow, String> {
    match serde_json::from_str::<JsonRow>(line) {
        Ok(row) => build(
            &row.pan,
            row.token.as_deref(),
            row.format.as_deref(),
            row.expires.as_deref(),
            row.metadata.clone(),
            scope,
        ),
        Err(e) => Err(safe(
            format!("not a valid row: {e}"),
            "not a valid row (JSON)",
        )),
    }
}

fn csv_row(line: &str, header: &Header, scope: &DedupScope) -> Result<ImportRow, String> {
    let row = csvrow::fields(line)?;
    header.check(&row)?;
    let field = |name| header.field(&row, name).filter(|f| !f.is_empty());
    let metadata = match field("metadata") {
        None => None,
        Some(text) => Some(
            serde_json::from_str(text)
                .map_err(|_| "metadata: not a JSON object of strings".to_owned())?,
        ),
    };
    build(
        field("pan").unwrap_or_default(),
        field("token"),
        field("format"),
        field("expires"),
        metadata,
        scope,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("tessera-rows-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn csv_and_json_lines_and_reasons_that_never_quote_a_pan() {
        let csv = write(
            "a.csv",
            "pan,token,format,expires,metadata\n4111111111111111,,,12/30,\"{\"\"ref\"\":\"\"A1\"\"}\"\n4111111111111112,,,,\n",
        );
        let rows: Vec<_> = read_rows(&csv, InputFormat::Csv, DedupScope::default())
            .expect("open")
            .collect();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].1.is_ok());
        let reason = rows[1].1.as_ref().expect_err("Luhn");
        assert!(!reason.contains("411111"), "{reason}");

        let jsonl = write(
            "a.jsonl",
            "{\"pan\":\"5555555555554444\",\"format\":\"fpe\"}\n\n{\"pan\":\"4111111111111111\",\"cvv\":\"123\"}\n{\"pan\": 4111111111111111}\n",
        );
        let rows: Vec<_> = read_rows(&jsonl, InputFormat::JsonLines, DedupScope::default())
            .expect("open")
            .collect();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 3, 4]);
        assert!(rows[0].1.is_ok());
        let cvv = rows[1].1.as_ref().expect_err("cvv refused");
        assert!(cvv.contains("cvv"), "{cvv}");
        let number = rows[2].1.as_ref().expect_err("a number, not a string");
        assert!(!number.contains("4111"), "{number}");
        let _ = std::fs::remove_file(csv);
        let _ = std::fs::remove_file(jsonl);
    }

    fn rows(layout: InputFormat, text: &[u8]) -> Result<Vec<NumberedRow>, String> {
        let source = std::io::Cursor::new(text.to_vec());
        Ok(rows_from(source, layout, DedupScope::default())?.collect())
    }

    /// `4111 1111 1111 1111` with invisible characters and combining marks
    /// between its digits: the core's detector reads through them.
    const SPLIT_PANS: [&str; 4] = [
        "4111\\u200b1111\\u200b1111\\u200b1111",
        "4111\\u00ad1111\\u00ad1111\\u00ad1111",
        "4\\u20601\\u20601\\u20601\\u20601111\\u2060111111111111",
        "4111\\u03011111\\u03011111\\u20e31111",
    ];

    /// Whether a reason shows the card's digits, with or without what split them.
    fn shows_digits(reason: &str) -> bool {
        let digits: String = reason.chars().filter(char::is_ascii_digit).collect();
        digits.contains("4111111111111111") || contains_card_number(reason)
    }

    #[test]
    fn a_pan_split_by_invisible_characters_is_never_quoted_in_a_reason() {
        for split in SPLIT_PANS {
            let cases = [
                format!("{{\"pan\":\"4242424242424242\",\"{split}\":\"x\"}}"),
                format!("{{\"pan\":\"4242424242424242\",\"metadata\":{{\"{split}\":\"x\"}}}}"),
                format!("{{\"pan\":\"4242424242424242\",\"metadata\":{{\"ref\":\"{split}\"}}}}"),
                format!(
                    "{{\"pan\":\"4242424242424242\",\"metadata\":{{\"ref\":{{\"{split}\":1}}}}}}"
                ),
            ];
            for line in cases {
                let got = rows(InputFormat::JsonLines, line.as_bytes()).expect("rows");
                let reason = got[0].1.as_ref().expect_err("refused");
                assert!(!shows_digits(reason), "{line}: {reason}");
            }
            let name: String = serde_json::from_str(&format!("\"{split}\"")).expect("text");
            let csv = format!("pan,{name}\n4242424242424242,x\n");
            let why = rows(InputFormat::Csv, csv.as_bytes())
                .map(|_| ())
                .expect_err("refused");
            assert!(why.contains("a column is not one of"), "{why}");
            assert!(!shows_digits(&why), "{why}");
        }
    }

    #[test]
    fn long_lines_bad_bytes_and_multi_line_fields_are_rejected_by_number() {
        let mut jsonl = b"{\"pan\":\"4242424242424242\"}\n".to_vec();
        jsonl.extend(std::iter::repeat_n(b' ', crate::lines::MAX_LINE_BYTES + 1));
        jsonl.extend_from_slice(b"\n\xff4111111111111111\n{\"pan\":\"5555555555554444\"}");
        let got = rows(InputFormat::JsonLines, &jsonl).expect("rows");
        assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(got[0].1.is_ok() && got[3].1.is_ok());
        assert_eq!(
            got[1].1.as_ref().err().map(String::as_str),
            Some("line longer than 16384 bytes")
        );
        assert_eq!(
            got[2].1.as_ref().err().map(String::as_str),
            Some("not UTF-8 text")
        );

        let csv =
            b"pan,metadata\n\n4242424242424242,\"{\"\"a\"\":\n\"\"b\"\"}\"\n5555555555554444,\n";
        let got = rows(InputFormat::Csv, csv).expect("rows");
        assert_eq!(got.len(), 3);
        assert!(
            got[0]
                .1
                .as_ref()
                .expect_err("open quote")
                .contains("span lines")
        );
        assert!(got[1].1.is_err());
        assert!(got[2].1.is_ok());
        assert!(
            rows(InputFormat::Csv, b"pan,cvv\n4242424242424242,123\n")
                .map(|_| ())
                .expect_err("cvv")
                .contains("`cvv`")
        );
    }
}
