//! The primary account number: parsed once, redacted everywhere, wiped on drop.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::brand::Brand;

/// Fewest digits a PAN may have (ISO/IEC 7812).
pub const MIN_PAN_DIGITS: usize = 12;
/// Most digits a PAN may have (ISO/IEC 7812).
pub const MAX_PAN_DIGITS: usize = 19;

/// Digits a PAN keeps hidden at least wherever it is shown in part: with the
/// Luhn check, five hidden digits still leave 10,000 candidates.
pub const MIN_HIDDEN_DIGITS: usize = 5;

/// How many leading digits of a PAN of `len` digits may be shown beside its
/// last four: the six of the BIN (PCI DSS 3.4.1), fewer for a PAN under 15
/// digits, where BIN and last 4 would leave only 10 to 1,000 candidates.
pub fn shown_leading_digits(len: usize) -> usize {
    len.saturating_sub(4 + MIN_HIDDEN_DIGITS).min(6)
}
/// Longest raw input looked at; anything longer is refused before any work,
/// so a hostile body cannot make the parser walk megabytes of separators.
const MAX_RAW_LEN: usize = 64;

/// Why a string is not a PAN. Never carries the input or any digit of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PanError {
    /// The input held no digits at all.
    #[error("the PAN is empty")]
    Empty,
    /// Fewer than 12 digits.
    #[error("the PAN has {digits} digits; at least 12 are required")]
    TooShort {
        /// How many digits were found.
        digits: usize,
    },
    /// More than 19 digits (or an absurdly long input).
    #[error("the PAN is longer than 19 digits")]
    TooLong,
    /// A character other than a digit, space or hyphen.
    #[error("the PAN may contain only digits, spaces and hyphens")]
    NonDigit,
    /// The Luhn check digit does not match.
    #[error("the PAN fails the Luhn check")]
    LuhnFailed,
}

/// A validated card number: 12 to 19 digits that pass the Luhn check.
///
/// `Pan::parse` is the only way to build one. Its `Debug` and `Display`
/// print `[REDACTED]`, and its digits are zeroed when it is dropped; the
/// digits are reachable only through the explicitly named [`Pan::expose_digits`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pan {
    digits: [u8; MAX_PAN_DIGITS],
    len: u8,
}

impl Pan {
    /// Parses a PAN, ignoring spaces and hyphens.
    ///
    /// ```
    /// let pan = tessera_core::Pan::parse("4111 1111-1111 1111").unwrap();
    /// assert_eq!(pan.last4(), "1111");
    /// assert_eq!(format!("{pan:?}"), "[REDACTED]");
    /// ```
    pub fn parse(input: &str) -> Result<Pan, PanError> {
        if input.len() > MAX_RAW_LEN {
            return Err(PanError::TooLong);
        }
        let mut pan = Pan {
            digits: [0; MAX_PAN_DIGITS],
            len: 0,
        };
        for byte in input.bytes() {
            match byte {
                b'0'..=b'9' => {
                    if usize::from(pan.len) == MAX_PAN_DIGITS {
                        return Err(PanError::TooLong);
                    }
                    pan.digits[usize::from(pan.len)] = byte;
                    pan.len += 1;
                }
                b' ' | b'-' => {}
                _ => return Err(PanError::NonDigit),
            }
        }
        match usize::from(pan.len) {
            0 => Err(PanError::Empty),
            n if n < MIN_PAN_DIGITS => Err(PanError::TooShort { digits: n }),
            _ if !luhn_valid(pan.digit_bytes()) => Err(PanError::LuhnFailed),
            _ => Ok(pan),
        }
    }

    /// The PAN's digits as ASCII. Named so every use is easy to audit.
    pub fn expose_digits(&self) -> &str {
        // Only ASCII digits are ever stored, so this cannot fail.
        std::str::from_utf8(self.digit_bytes()).unwrap_or_default()
    }

    fn digit_bytes(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }

    /// The issuer identification number: the first six digits.
    pub fn bin(&self) -> &str {
        &self.expose_digits()[..6]
    }

    /// The last four digits.
    pub fn last4(&self) -> &str {
        let digits = self.expose_digits();
        &digits[digits.len() - 4..]
    }

    /// The number of digits (12 to 19).
    #[allow(clippy::len_without_is_empty)] // a PAN is never empty
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// The card brand, from the IIN ranges.
    pub fn brand(&self) -> Brand {
        Brand::detect(self.expose_digits())
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl PartialEq for Pan {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.len == other.len && bool::from(self.digit_bytes().ct_eq(other.digit_bytes()))
    }
}

impl Eq for Pan {}

/// Whether ASCII digits pass the Luhn (mod 10) check. Non-digits fail.
pub fn luhn_valid(digits: &[u8]) -> bool {
    luhn_sum(digits).is_some_and(|sum| sum % 10 == 0)
}

/// The Luhn sum of ASCII digits, or `None` if any byte is not a digit.
pub(crate) fn luhn_sum(digits: &[u8]) -> Option<u32> {
    let mut sum = 0u32;
    for (i, byte) in digits.iter().rev().enumerate() {
        let d = u32::from(byte.checked_sub(b'0').filter(|d| *d <= 9)?);
        sum += if i % 2 == 1 {
            let doubled = d * 2;
            if doubled > 9 { doubled - 9 } else { doubled }
        } else {
            d
        };
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_separators_and_reports_facts() {
        let pan = Pan::parse("4111-1111 1111-1111").expect("valid");
        assert_eq!(pan.expose_digits(), "4111111111111111");
        assert_eq!(pan.bin(), "411111");
        assert_eq!(pan.last4(), "1111");
        assert_eq!(pan.len(), 16);
    }

    #[test]
    fn length_limits() {
        // 12 digits, Luhn-valid.
        assert!(Pan::parse("500000000009").is_ok());
        assert_eq!(
            Pan::parse("50000000004"),
            Err(PanError::TooShort { digits: 11 })
        );
        // 19 digits, Luhn-valid.
        assert!(Pan::parse("6011000000000000001").is_ok());
        assert_eq!(Pan::parse("60110000000000000004"), Err(PanError::TooLong));
        assert_eq!(Pan::parse(&"1".repeat(65)), Err(PanError::TooLong));
        // The raw input is capped too (separators cost work): 64 bytes pass, 65 do not.
        let padded = |n: usize| format!("{:<n$}", "4111111111111111");
        assert!(Pan::parse(&padded(64)).is_ok());
        assert_eq!(Pan::parse(&padded(65)), Err(PanError::TooLong));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(Pan::parse(""), Err(PanError::Empty));
        assert_eq!(Pan::parse(" - "), Err(PanError::Empty));
        assert_eq!(Pan::parse("4111a11111111111"), Err(PanError::NonDigit));
        assert_eq!(Pan::parse("４１１１"), Err(PanError::NonDigit));
        assert_eq!(Pan::parse("4111111111111112"), Err(PanError::LuhnFailed));
    }

    #[test]
    fn never_prints_digits() {
        let pan = Pan::parse("4111111111111111").expect("valid");
        assert_eq!(format!("{pan:?}"), "[REDACTED]");
        assert_eq!(format!("{pan}"), "[REDACTED]");
        assert_eq!(format!("{pan:#?}"), "[REDACTED]");
    }
}
