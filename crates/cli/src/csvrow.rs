//! One CSV row a line. `csv-core` parses each line (read with a bound by
//! [`crate::lines`]) into buffers this module owns and wipes; the header is
//! the first non-blank line. A quoted field that spans lines is not
//! supported: a line with an odd number of `"` is a rejected row (and so,
//! most likely, is the line after it), never half of a record joined to the
//! next line.

use csv_core::{ReadRecordResult, Reader};
use zeroize::Zeroizing;

use crate::lines::MAX_LINE_BYTES;

/// The columns an import file may have; `pan` is required.
pub const COLUMNS: [&str; 5] = ["pan", "token", "format", "expires", "metadata"];

/// Most fields a line may split into (more is not a row of this file).
const MAX_FIELDS: usize = 2 * COLUMNS.len();

/// A line's fields, each trimmed; wiped on drop.
pub struct Fields(Vec<Zeroizing<String>>);

impl Fields {
    /// The field at `index`, if the line had it.
    pub fn get(&self, index: usize) -> Option<&str> {
        self.0.get(index).map(|f| f.as_str())
    }

    /// How many fields the line had.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the line had none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits one line into its fields, or says why not (never quoting it).
pub fn fields(line: &str) -> Result<Fields, String> {
    if line.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
        return Err(
            "a quote is unbalanced (a quoted field may not span lines: one row a line)".to_owned(),
        );
    }
    // csv-core ends a record at `\n`: the line gets its end back. Unquoting
    // only shrinks a field, so the output never needs more than the input.
    let mut input = Zeroizing::new(Vec::with_capacity(line.len() + 1));
    input.extend_from_slice(line.as_bytes());
    input.push(b'\n');
    let mut output = Zeroizing::new(vec![0u8; input.len()]);
    let mut ends = [0usize; MAX_FIELDS];
    let (result, read, _, count) = Reader::new().read_record(&input, &mut output, &mut ends);
    match result {
        ReadRecordResult::Record if read == input.len() => {}
        ReadRecordResult::Record => {
            return Err("more than one record on the line (a bare carriage return)".to_owned());
        }
        ReadRecordResult::OutputEndsFull => {
            return Err(format!("more than {MAX_FIELDS} fields"));
        }
        _ => return Err("not a CSV record".to_owned()),
    }
    let mut fields = Vec::with_capacity(count);
    let mut start = 0;
    for &end in &ends[..count] {
        let text = std::str::from_utf8(&output[start..end])
            .map_err(|_| "not UTF-8 text".to_owned())?
            .trim();
        let mut field = Zeroizing::new(String::with_capacity(text.len()));
        field.push_str(text);
        fields.push(field);
        start = end;
    }
    Ok(Fields(fields))
}

/// Where each known column is in a row, from the header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// For each of [`COLUMNS`], its field index, if the file has it.
    at: [Option<usize>; COLUMNS.len()],
    width: usize,
}

impl Header {
    /// Reads the header line. `safe` turns a message that might quote a
    /// card number into one that does not.
    pub fn parse(line: &str, safe: impl Fn(String, &str) -> String) -> Result<Header, String> {
        if line.len() > MAX_LINE_BYTES {
            return Err(format!("the header is longer than {MAX_LINE_BYTES} bytes"));
        }
        let names = fields(line).map_err(|why| format!("the header: {why}"))?;
        let mut at = [None; COLUMNS.len()];
        for i in 0..names.len() {
            let name = names.get(i).unwrap_or_default();
            let Some(column) = COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) else {
                // A `cvv` column never gets in: the whole file is refused.
                return Err(safe(
                    format!(
                        "the header: column `{name}` is not one of {}",
                        COLUMNS.join(", ")
                    ),
                    &format!("the header: a column is not one of {}", COLUMNS.join(", ")),
                ));
            };
            if at[column].replace(i).is_some() {
                return Err(format!("the header: column `{}` twice", COLUMNS[column]));
            }
        }
        if at[0].is_none() {
            return Err("the header has no `pan` column".to_owned());
        }
        Ok(Header {
            at,
            width: names.len(),
        })
    }

    /// The field of `column` (one of [`COLUMNS`]) in `row`.
    pub fn field<'a>(&self, row: &'a Fields, column: &str) -> Option<&'a str> {
        let index = COLUMNS.iter().position(|c| *c == column)?;
        self.at[index].and_then(|i| row.get(i))
    }

    /// Checks a row's width against the header's.
    pub fn check(&self, row: &Fields) -> Result<(), String> {
        if row.len() == self.width {
            Ok(())
        } else {
            Err(format!(
                "{} fields, but the header has {}",
                row.len(),
                self.width
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Result<Vec<String>, String> {
        let f = fields(line)?;
        Ok((0..f.len())
            .map(|i| f.get(i).unwrap_or_default().to_owned())
            .collect())
    }

    #[test]
    fn fields_are_unquoted_and_trimmed() {
        assert_eq!(
            split(r#" 4111111111111111 ,"a,b","{""k"":""v""}",,"#).expect("row"),
            ["4111111111111111", "a,b", r#"{"k":"v"}"#, "", ""]
        );
        assert!(
            split(r#"4111,"open"#)
                .expect_err("odd")
                .contains("span lines")
        );
        assert!(
            split("a\rb")
                .expect_err("two")
                .contains("more than one record")
        );
        assert!(
            split(&",".repeat(MAX_FIELDS))
                .expect_err("wide")
                .contains("fields")
        );
    }

    #[test]
    fn the_header_names_known_columns_once_and_pan() {
        let keep = |m: String, _: &str| m;
        let h = Header::parse("token, PAN ,metadata", keep).expect("header");
        let row = fields("tok_x,4111111111111111,").expect("row");
        assert_eq!(h.field(&row, "pan"), Some("4111111111111111"));
        assert_eq!(h.field(&row, "expires"), None);
        assert!(
            Header::parse("pan,cvv", keep)
                .expect_err("cvv")
                .contains("`cvv`")
        );
        assert!(
            Header::parse("pan,pan", keep)
                .expect_err("twice")
                .contains("twice")
        );
        assert!(
            Header::parse("token", keep)
                .expect_err("no pan")
                .contains("no `pan`")
        );
    }
}
