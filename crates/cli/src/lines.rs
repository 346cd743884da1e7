//! Lines of an import file, read with a bound: at most [`MAX_LINE_BYTES`]
//! of a line are ever held, so a file with no newline (or one huge line)
//! cannot exhaust memory. A longer line is reported by number and its bytes
//! are discarded as they are read. Every buffer that held file bytes is
//! wiped: the read buffer when the reader is dropped, each line when the
//! caller drops it, a line that is not UTF-8 at once.

use std::io::Read;

use zeroize::{Zeroize, Zeroizing};

/// Most bytes of one line (without its line end): a row with every column
/// at its longest (metadata is at most 10 pairs of 256 bytes, escaped) fits.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Bytes read from the file at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Why a line was not returned as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// Longer than [`MAX_LINE_BYTES`]; its bytes were discarded.
    TooLong,
    /// Not UTF-8; its bytes were wiped.
    NotUtf8,
    /// The file could not be read on (the reading stops).
    Unreadable,
}

impl LineError {
    /// The reason given for the row (never its content).
    pub fn reason(self) -> String {
        match self {
            LineError::TooLong => format!("line longer than {MAX_LINE_BYTES} bytes"),
            LineError::NotUtf8 => "not UTF-8 text".to_owned(),
            LineError::Unreadable => "the file could not be read on".to_owned(),
        }
    }
}

/// One line by number (from 1): its text (wiped on drop), or why not.
pub type NumberedLine = (u64, Result<Zeroizing<String>, LineError>);

/// The lines of a reader, each at most [`MAX_LINE_BYTES`], `\n` or `\r\n`
/// ended (the last may have no end).
pub struct BoundedLines<R> {
    source: R,
    chunk: Zeroizing<Vec<u8>>,
    start: usize,
    end: usize,
    number: u64,
    done: bool,
    skipping: bool,
}

impl<R: Read> BoundedLines<R> {
    /// Lines of `source`, read unbuffered by it (this reads in large chunks).
    pub fn new(source: R) -> BoundedLines<R> {
        BoundedLines {
            source,
            chunk: Zeroizing::new(vec![0; READ_CHUNK]),
            start: 0,
            end: 0,
            number: 0,
            done: false,
            skipping: false,
        }
    }

    /// Refills the chunk; `Ok(false)` at the end of the file.
    fn refill(&mut self) -> std::io::Result<bool> {
        self.chunk[..self.end].zeroize();
        self.start = 0;
        self.end = 0;
        loop {
            match self.source.read(&mut self.chunk[..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> BoundedLines<R> {
    /// Discards the rest of a line refused as too long; `Ok(false)` if the
    /// file ended first.
    fn skip_rest(&mut self) -> std::io::Result<bool> {
        loop {
            if self.start == self.end && !self.refill()? {
                return Ok(false);
            }
            let available = &self.chunk[self.start..self.end];
            match available.iter().position(|&b| b == b'\n') {
                Some(at) => {
                    self.start += at + 1;
                    return Ok(true);
                }
                None => self.start = self.end,
            }
        }
    }

    fn unreadable(&mut self) -> Option<NumberedLine> {
        self.done = true;
        self.number += 1;
        Some((self.number, Err(LineError::Unreadable)))
    }
}

impl<R: Read> Iterator for BoundedLines<R> {
    type Item = NumberedLine;

    fn next(&mut self) -> Option<NumberedLine> {
        if self.done {
            return None;
        }
        if self.skipping {
            self.skipping = false;
            match self.skip_rest() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(_) => return self.unreadable(),
            }
        }
        // Never grown past its capacity (the cap, and room for a `\r`), so
        // no reallocation leaves a copy behind.
        let mut line = Zeroizing::new(Vec::with_capacity(MAX_LINE_BYTES + 1));
        let mut any = false;
        loop {
            if self.start == self.end {
                match self.refill() {
                    Ok(true) => {}
                    Ok(false) => {
                        self.done = true;
                        break;
                    }
                    Err(_) => return self.unreadable(),
                }
            }
            any = true;
            let available = &self.chunk[self.start..self.end];
            let (piece, ended) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (&available[..at], true),
                None => (available, false),
            };
            let taken = piece.len() + usize::from(ended);
            if line.len() + piece.len() > MAX_LINE_BYTES + 1 {
                // Refused now, before more is read: the rest of the line is
                // discarded by the next call.
                line.zeroize();
                self.start += taken;
                self.skipping = !ended;
                self.number += 1;
                return Some((self.number, Err(LineError::TooLong)));
            }
            line.extend_from_slice(piece);
            self.start += taken;
            if ended {
                break;
            }
        }
        if !any {
            return None;
        }
        self.number += 1;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > MAX_LINE_BYTES {
            return Some((self.number, Err(LineError::TooLong)));
        }
        let bytes = std::mem::take(&mut *line);
        match String::from_utf8(bytes) {
            // The same allocation: the text is wiped when the caller drops it.
            Ok(text) => Some((self.number, Ok(Zeroizing::new(text)))),
            Err(e) => {
                e.into_bytes().zeroize();
                Some((self.number, Err(LineError::NotUtf8)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> Vec<(u64, Result<String, LineError>)> {
        BoundedLines::new(bytes)
            .map(|(n, l)| (n, l.map(|t| t.as_str().to_owned())))
            .collect()
    }

    #[test]
    fn lines_are_split_numbered_and_their_ends_dropped() {
        assert_eq!(
            lines(b"a\r\nb\n\nc"),
            [
                (1, Ok("a".to_owned())),
                (2, Ok("b".to_owned())),
                (3, Ok(String::new())),
                (4, Ok("c".to_owned()))
            ]
        );
        assert!(lines(b"").is_empty());
        assert_eq!(lines(b"x\n"), [(1, Ok("x".to_owned()))]);
    }

    #[test]
    fn a_long_line_or_bad_utf8_is_refused_by_number_and_the_next_line_still_read() {
        let mut file = vec![b'{'; MAX_LINE_BYTES];
        file.extend_from_slice(b"\n");
        file.extend(std::iter::repeat_n(b'4', 3 * READ_CHUNK + 7));
        file.extend_from_slice(b"\n\xff\xfe\nok\n");
        let got = lines(&file);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].1.as_ref().map(String::len), Ok(MAX_LINE_BYTES));
        assert_eq!(got[1], (2, Err(LineError::TooLong)));
        assert_eq!(got[2], (3, Err(LineError::NotUtf8)));
        assert_eq!(got[3], (4, Ok("ok".to_owned())));
        assert_eq!(LineError::TooLong.reason(), "line longer than 16384 bytes");
    }

    /// A reader of digits without a newline that fails the test if it is
    /// read far past the first line's cap before that line is refused.
    struct Endless {
        budget: usize,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            assert!(self.budget > 0, "read on past the line cap");
            let n = buf.len().min(self.budget);
            self.budget -= n;
            buf[..n].fill(b'4');
            Ok(n)
        }
    }

    #[test]
    fn a_file_with_no_newline_is_refused_without_being_read_whole() {
        // The first line is refused after one chunk; the reader is never
        // asked for the rest (`BufRead::lines` would read to the end).
        let mut reader = BoundedLines::new(Endless {
            budget: 2 * READ_CHUNK,
        });
        assert_eq!(reader.next(), Some((1, Err(LineError::TooLong))));
        assert!(reader.source.budget >= READ_CHUNK);
    }
}
