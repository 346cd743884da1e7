//! Tokens: random surrogates for a PAN, in two formats.
//!
//! A token is never a function of the PAN. A keyed hash of the PAN falls to
//! brute force once its key leaks (BIN and last 4 leave about 10^5 guesses),
//! whereas random tokens reveal nothing to anyone, whatever keys they hold.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::pan::{MAX_PAN_DIGITS, MIN_PAN_DIGITS, Pan, luhn_sum, luhn_valid};
use crate::random::Random;

/// Prefix of every opaque token.
pub const OPAQUE_PREFIX: &str = "tok_";
/// Crockford base32 characters after the prefix: 26 × 5 bits ≥ 128 bits.
const OPAQUE_CHARS: usize = 26;
/// Crockford's base32 alphabet, lower case (no i, l, o, u).
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Digits an fpe token keeps from the front of the PAN (PCI's display limit).
const FPE_KEEP_FRONT: usize = 6;
/// Digits an fpe token keeps from the end of the PAN.
const FPE_KEEP_BACK: usize = 4;

/// The shape of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// `tok_` + 26 Crockford base32 characters carrying 128 random bits.
    #[default]
    Opaque,
    /// Same length as the PAN, first 6 and last 4 kept, random middle, fails Luhn.
    Fpe,
}

impl TokenFormat {
    /// The format's name, as used in the API and in index keys.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFormat::Opaque => "opaque",
            TokenFormat::Fpe => "fpe",
        }
    }

    /// Parses a name written by [`TokenFormat::as_str`].
    pub fn from_name(name: &str) -> Option<TokenFormat> {
        match name {
            "opaque" => Some(TokenFormat::Opaque),
            "fpe" => Some(TokenFormat::Fpe),
            _ => None,
        }
    }
}

/// Why a string is not a token. Never carries the input: a caller may have
/// sent a PAN where a token belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Neither an opaque nor an fpe token.
    #[error("not a token: expected tok_ and 26 base32 characters, or 12 to 19 digits")]
    Malformed,
    /// All digits and Luhn-valid: that is a card number, not a token.
    #[error("this looks like a card number, not a token")]
    LooksLikePan,
}

/// A syntactically valid token of either format.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// Parses a token in its canonical form.
    ///
    /// ```
    /// use tessera_core::{Token, TokenFormat};
    /// let t = Token::parse("tok_01h2xcejqtf2nbrexx3vqjhp41").unwrap();
    /// assert_eq!(t.format(), TokenFormat::Opaque);
    /// assert!(Token::parse("4111111111111111").is_err()); // a PAN, not a token
    /// ```
    pub fn parse(input: &str) -> Result<Token, TokenError> {
        if let Some(body) = input.strip_prefix(OPAQUE_PREFIX) {
            let canonical = body.len() == OPAQUE_CHARS
                && body.bytes().all(|b| CROCKFORD.contains(&b))
                // 26 chars hold 130 bits; the top two must be zero for 128.
                && body.as_bytes()[0] <= b'7';
            return if canonical {
                Ok(Token(input.to_owned()))
            } else {
                Err(TokenError::Malformed)
            };
        }
        let digits = input.as_bytes();
        if !(MIN_PAN_DIGITS..=MAX_PAN_DIGITS).contains(&digits.len())
            || !digits.iter().all(u8::is_ascii_digit)
        {
            return Err(TokenError::Malformed);
        }
        if luhn_valid(digits) {
            return Err(TokenError::LooksLikePan);
        }
        Ok(Token(input.to_owned()))
    }

    /// A new random opaque token.
    pub fn new_opaque(rng: &dyn Random) -> Token {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes);
        let mut value = u128::from_be_bytes(bytes);
        let mut out = [0u8; OPAQUE_CHARS];
        for slot in out.iter_mut().rev() {
            *slot = CROCKFORD[(value & 0x1f) as usize];
            value >>= 5;
        }
        let mut token = String::with_capacity(OPAQUE_PREFIX.len() + OPAQUE_CHARS);
        token.push_str(OPAQUE_PREFIX);
        token.extend(out.iter().map(|b| char::from(*b)));
        Token(token)
    }

    /// A new random format-preserving token for `pan`: same length, first 6 and
    /// last 4 kept, random middle digits, and a Luhn failure by construction,
    /// so it can never be mistaken for (or equal) a real card number.
    pub fn new_fpe(pan: &Pan, rng: &dyn Random) -> Token {
        let digits = pan.expose_digits().as_bytes();
        let middle_len = digits.len() - FPE_KEEP_FRONT - FPE_KEEP_BACK;
        let mut random = [0u8; MAX_PAN_DIGITS];
        rng.fill(&mut random[..middle_len]);
        let mut out = [0u8; MAX_PAN_DIGITS];
        out[..digits.len()].copy_from_slice(digits);
        for (slot, r) in out[FPE_KEEP_FRONT..FPE_KEEP_FRONT + middle_len]
            .iter_mut()
            .zip(&random)
        {
            // 256 % 10 = 6 gives a bias of under 0.5% per digit; the token's
            // secrecy rests on the vault, not on these digits being uniform.
            *slot = b'0' + r % 10;
        }
        let out = &mut out[..digits.len()];
        if luhn_sum(out).is_some_and(|s| s % 10 == 0) {
            // Changing any one digit changes the Luhn sum mod 10, so bumping the
            // last random digit turns a valid number into an invalid one.
            let last = FPE_KEEP_FRONT + middle_len - 1;
            out[last] = b'0' + (out[last] - b'0' + 1) % 10;
        }
        Token(out.iter().map(|b| char::from(*b)).collect())
    }

    /// The token's format.
    pub fn format(&self) -> TokenFormat {
        if self.0.starts_with(OPAQUE_PREFIX) {
            TokenFormat::Opaque
        } else {
            TokenFormat::Fpe
        }
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four characters, for audit logs and support.
    pub fn hint(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are not secret, but an fpe token shows six plus four PAN digits;
        // keep Debug to the hint so logs never collect them.
        write!(f, "Token(…{})", self.hint())
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn fpe_keeps_bin_and_last4_even_when_the_luhn_bump_applies() {
        // About one draw in ten is Luhn-valid and has a middle digit bumped:
        // 200 draws all but certainly include several.
        let pan = Pan::parse("4000056655665556").expect("pan");
        for _ in 0..200 {
            let t = Token::new_fpe(&pan, &OsRandom);
            let text = t.as_str();
            assert_eq!(text.len(), 16);
            assert!(
                text.starts_with("400005") && text.ends_with("5556"),
                "{text}"
            );
            assert!(!crate::pan::luhn_valid(text.as_bytes()), "{text}");
            assert_eq!(t.to_string(), text);
        }
    }

    #[test]
    fn format_names_round_trip() {
        // Stored on every record (`fmt`) and accepted from callers.
        for format in [TokenFormat::Opaque, TokenFormat::Fpe] {
            assert_eq!(TokenFormat::from_name(format.as_str()), Some(format));
        }
        assert_eq!(TokenFormat::from_name("fpe"), Some(TokenFormat::Fpe));
        for other in ["", "Opaque", "FPE", "opaque ", "x"] {
            assert_eq!(TokenFormat::from_name(other), None, "{other:?}");
        }
    }

    #[test]
    fn opaque_round_trips_through_parse() {
        for _ in 0..1000 {
            let t = Token::new_opaque(&OsRandom);
            assert_eq!(t.as_str().len(), 30);
            assert_eq!(Token::parse(t.as_str()), Ok(t.clone()));
            assert_eq!(t.format(), TokenFormat::Opaque);
        }
    }

    #[test]
    fn opaque_rejects_non_canonical() {
        assert!(Token::parse("tok_").is_err());
        assert!(Token::parse("tok_01H2XCEJQTF2NBREXX3VQJHP41").is_err());
        assert!(Token::parse("tok_81h2xcejqtf2nbrexx3vqjhp41").is_err());
        assert!(Token::parse("tok_01h2xcejqtf2nbrexx3vqjhpi1").is_err());
        assert!(Token::parse("tok_01h2xcejqtf2nbrexx3vqjhp411").is_err());
    }

    #[test]
    fn fpe_rejects_luhn_valid_and_malformed() {
        assert_eq!(
            Token::parse("4111111111111111"),
            Err(TokenError::LooksLikePan)
        );
        assert!(Token::parse("4111111111111112").is_ok());
        assert!(Token::parse("41111111111").is_err());
        assert!(Token::parse("4111 1111 1111 1112").is_err());
        assert!(Token::parse("").is_err());
    }

    #[test]
    fn debug_shows_only_the_hint() {
        let t = Token::parse("4111114567891112").expect("fpe token");
        assert_eq!(format!("{t:?}"), "Token(…1112)");
    }

    /// Fills with fixed bytes, for draws that must hit a given case.
    struct Fixed(&'static [u8]);

    impl Random for Fixed {
        fn fill(&self, dest: &mut [u8]) {
            dest.copy_from_slice(&self.0[..dest.len()]);
        }
    }

    #[test]
    fn a_luhn_valid_draw_has_its_last_random_digit_moved_by_one() {
        // 400005 000012 5556 passes Luhn: its last random digit becomes 3.
        let pan = Pan::parse("4000056655665556").expect("pan");
        let token = Token::new_fpe(&pan, &Fixed(&[0, 0, 0, 0, 1, 2]));
        assert_eq!(token.as_str(), "4000050000135556");
        // A draw that fails Luhn already is kept as drawn.
        let token = Token::new_fpe(&pan, &Fixed(&[0, 0, 0, 0, 1, 3]));
        assert_eq!(token.as_str(), "4000050000135556");
        let token = Token::new_fpe(&pan, &Fixed(&[10, 20, 0, 0, 1, 4]));
        assert_eq!(token.as_str(), "4000050000145556");
    }
}
