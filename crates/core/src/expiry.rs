//! When a token stops detokenizing: never, after a TTL, or after the card expires.

use time::{Date, Month};

/// Longest TTL accepted: ten years, beyond any card's life.
pub const MAX_TTL_SECONDS: u64 = 10 * 366 * 24 * 60 * 60;

/// Why an expiry was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    /// `ttl_seconds` outside 1 to ten years.
    #[error("ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")]
    TtlOutOfRange,
    /// `expires` is not `MM/YY` with a month from 01 to 12.
    #[error("expires must be MM/YY with a month from 01 to 12")]
    Malformed,
    /// The card's expiry month is already over.
    #[error("the card has already expired")]
    CardExpired,
    /// The card expires more than ten years from now.
    #[error("the card expiry is more than ten years away")]
    TooFar,
}

/// A requested expiry, checked against the clock when a token is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// The token never expires.
    #[default]
    Never,
    /// The token expires this many seconds after it is issued.
    After {
        /// Seconds, 1 to [`MAX_TTL_SECONDS`].
        seconds: u64,
    },
    /// The token expires when the card does: at the end of `month`/`year`, UTC.
    CardExpiry {
        /// 1 to 12.
        month: u8,
        /// Four-digit year.
        year: i32,
    },
}

impl Expiry {
    /// A TTL in seconds, checked for range.
    pub fn ttl(seconds: u64) -> Result<Expiry, ExpiryError> {
        if (1..=MAX_TTL_SECONDS).contains(&seconds) {
            Ok(Expiry::After { seconds })
        } else {
            Err(ExpiryError::TtlOutOfRange)
        }
    }

    /// A card expiry written `MM/YY` (years 2000–2099).
    pub fn card(text: &str) -> Result<Expiry, ExpiryError> {
        let bytes = text.as_bytes();
        if bytes.len() != 5 || bytes[2] != b'/' {
            return Err(ExpiryError::Malformed);
        }
        let number = |s: &str| -> Result<u8, ExpiryError> {
            if s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().map_err(|_| ExpiryError::Malformed)
            } else {
                Err(ExpiryError::Malformed)
            }
        };
        let month = number(&text[..2])?;
        let year = number(&text[3..])?;
        if !(1..=12).contains(&month) {
            return Err(ExpiryError::Malformed);
        }
        Ok(Expiry::CardExpiry {
            month,
            year: 2000 + i32::from(year),
        })
    }

    /// The expiry instant in Unix seconds for a token issued at `now`.
    pub fn resolve(self, now: i64) -> Result<Option<i64>, ExpiryError> {
        match self {
            Expiry::Never => Ok(None),
            Expiry::After { seconds } => Ok(Some(now.saturating_add_unsigned(seconds))),
            Expiry::CardExpiry { month, year } => {
                // A card is valid through the last day of its expiry month.
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                let month = Month::try_from(next_month).map_err(|_| ExpiryError::Malformed)?;
                let end = Date::from_calendar_date(next_year, month, 1)
                    .map_err(|_| ExpiryError::Malformed)?
                    .midnight()
                    .assume_utc()
                    .unix_timestamp();
                if end <= now {
                    Err(ExpiryError::CardExpired)
                } else if end - now > MAX_TTL_SECONDS as i64 {
                    Err(ExpiryError::TooFar)
                } else {
                    Ok(Some(end))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_2026: i64 = 1_795_000_000; // 2026-11-18

    #[test]
    fn card_expiry_ends_with_its_month() {
        let exp = Expiry::card("12/27").expect("valid");
        // 2028-01-01T00:00:00Z
        assert_eq!(exp.resolve(NOV_2026), Ok(Some(1_830_297_600)));
        assert_eq!(
            Expiry::card("01/20").expect("valid").resolve(NOV_2026),
            Err(ExpiryError::CardExpired)
        );
        assert_eq!(
            Expiry::card("01/99").expect("valid").resolve(NOV_2026),
            Err(ExpiryError::TooFar)
        );
    }

    #[test]
    fn malformed() {
        for bad in [
            "13/27", "00/27", "1/27", "12-27", "12/2027", "ab/cd", "+1/27", "",
        ] {
            assert_eq!(Expiry::card(bad), Err(ExpiryError::Malformed), "{bad}");
        }
        assert_eq!(Expiry::ttl(0), Err(ExpiryError::TtlOutOfRange));
        assert_eq!(
            Expiry::ttl(MAX_TTL_SECONDS + 1),
            Err(ExpiryError::TtlOutOfRange)
        );
        assert_eq!(Expiry::ttl(60).expect("ok").resolve(100), Ok(Some(160)));
    }

    #[test]
    fn a_card_expiring_mid_year_ends_with_the_first_of_the_next_month() {
        // 2027-07-01T00:00:00Z
        assert_eq!(
            Expiry::card("06/27").expect("valid").resolve(NOV_2026),
            Ok(Some(1_814_400_000))
        );
    }

    #[test]
    fn a_card_expiry_exactly_the_longest_ttl_away_is_accepted() {
        let end = 1_830_297_600; // 12/27 ends 2028-01-01T00:00:00Z
        let card = Expiry::card("12/27").expect("valid");
        let max = MAX_TTL_SECONDS as i64;
        assert_eq!(card.resolve(end - max), Ok(Some(end)));
        assert_eq!(card.resolve(end - max - 1), Err(ExpiryError::TooFar));
        assert_eq!(card.resolve(end - 1), Ok(Some(end)));
        assert_eq!(card.resolve(end), Err(ExpiryError::CardExpired));
    }
}
