//! Rows of an import file: CSV with a header, or JSON Lines.
//!
//! Columns (fields): `pan`, and optionally `token` (keep a token issued by the
//! old vault), `format` (`opaque` or `fpe`), `expires` (`MM/YY`) and
//! `metadata` (a JSON object of strings; in CSV, that object as text). Any
//! other column is refused, so a `cvv` column never gets in. A reason given
//! for a bad row never quotes the row.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;
use tessera_core::{
    DedupScope, Expiry, Metadata, Pan, Token, TokenFormat, TokenizeRequest, contains_card_number,
};
use zeroize::Zeroize;

use crate::CliError;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvRow {
    pan: String,
    token: Option<String>,
    format: Option<String>,
    expires: Option<String>,
    metadata: Option<String>,
}

impl Drop for CsvRow {
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

/// A parser message, unless it could quote a card number.
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
    match layout {
        InputFormat::JsonLines => {
            let lines = BufReader::new(file).lines().enumerate();
            Ok(Box::new(lines.filter_map(move |(i, line)| {
                let n = u64::try_from(i).unwrap_or(u64::MAX) + 1;
                let mut line = match line {
                    Ok(line) => line,
                    Err(_) => return Some((n, Err("not UTF-8 text".to_owned()))),
                };
                if line.trim().is_empty() {
                    return None;
                }
                let row = match serde_json::from_str::<JsonRow>(&line) {
                    Ok(row) => build(
                        &row.pan,
                        row.token.as_deref(),
                        row.format.as_deref(),
                        row.expires.as_deref(),
                        row.metadata.clone(),
                        &scope,
                    ),
                    Err(e) => Err(safe(
                        format!("not a valid row: {e}"),
                        "not a valid row (JSON)",
                    )),
                };
                line.zeroize();
                Some((n, row))
            })))
        }
        InputFormat::Csv => {
            let reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(file);
            let records = reader.into_deserialize::<CsvRow>().enumerate();
            Ok(Box::new(records.map(move |(i, row)| {
                let n = u64::try_from(i).unwrap_or(u64::MAX) + 1;
                let row = match row {
                    Ok(row) => {
                        let metadata = match row.metadata.as_deref().map(str::trim) {
                            None | Some("") => Ok(None),
                            Some(text) => serde_json::from_str(text)
                                .map(Some)
                                .map_err(|_| "metadata: not a JSON object of strings".to_owned()),
                        };
                        metadata.and_then(|metadata| {
                            build(
                                &row.pan,
                                row.token.as_deref(),
                                row.format.as_deref(),
                                row.expires.as_deref(),
                                metadata,
                                &scope,
                            )
                        })
                    }
                    Err(e) => Err(safe(
                        format!("not a valid row: {e}"),
                        "not a valid row (CSV)",
                    )),
                };
                (n, row)
            })))
        }
    }
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
}
