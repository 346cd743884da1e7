//! Placeholders: `{{tok_...}}` names a token whose PAN takes its place. A
//! placeholder counts only as the whole of one decoded value of a body parsed
//! in its destination's format ([`crate::forward::body`]), at one of the
//! destination's card fields; a `{{` anywhere else is refused. URLs and
//! headers are never expanded: processors and proxies log them.

use tessera_core::{MAX_BATCH_ITEMS, Token};

use crate::fields::parse_token;
use crate::problem::{Kind, Problem};

const OPEN: &str = "{{";
const CLOSE: &str = "}}";

/// The distinct tokens a body names, in first-use order.
#[derive(Debug, Default)]
pub struct Tokens(Vec<Token>);

impl Tokens {
    /// The tokens.
    pub fn as_slice(&self) -> &[Token] {
        &self.0
    }

    /// The index of `token`, added if new; at most [`MAX_BATCH_ITEMS`].
    fn index(&mut self, token: Token) -> Result<usize, Problem> {
        if let Some(i) = self.0.iter().position(|t| *t == token) {
            return Ok(i);
        }
        if self.0.len() == MAX_BATCH_ITEMS {
            return Err(Problem::new(
                Kind::BatchTooLarge,
                format!("name at most {MAX_BATCH_ITEMS} distinct tokens"),
            ));
        }
        self.0.push(token);
        Ok(self.0.len() - 1)
    }
}

/// The refusal of a placeholder (or any `{{`) outside a card field.
pub fn misplaced() -> Problem {
    Problem::new(
        Kind::ForwardPlaceholderMisplaced,
        "a placeholder may only be the whole value of one of the destination's card fields, and `{{` may appear nowhere else",
    )
}

/// Judges one decoded value of a parsed body: `None` when it holds no `{{`,
/// the index of its token when it is exactly one placeholder (spaces inside
/// the braces allowed) and stands at a card field; refused otherwise.
pub fn judge(
    value: &str,
    at_card_field: bool,
    tokens: &mut Tokens,
) -> Result<Option<usize>, Problem> {
    if !value.contains(OPEN) {
        return Ok(None);
    }
    let inner = value
        .strip_prefix(OPEN)
        .and_then(|v| v.strip_suffix(CLOSE))
        .filter(|inner| !inner.contains(OPEN) && !inner.contains(CLOSE));
    match inner {
        Some(inner) if at_card_field => tokens.index(parse_token(inner.trim())?).map(Some),
        _ => Err(misplaced()),
    }
}

/// Refuses a name (a JSON key, a form field name) that holds `{{`.
pub fn refuse_in_name(name: &str) -> Result<(), Problem> {
    if name.contains(OPEN) {
        return Err(misplaced());
    }
    Ok(())
}

/// The distinct tokens `text` mentions in `{{...}}` anywhere, for the audit
/// event only, before the body is parsed (a refused destination is audited
/// with the tokens it asked for). Never decides what is sent.
pub fn mentioned(text: &str) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(OPEN) {
        let after = &rest[open + OPEN.len()..];
        let Some(close) = after.find(CLOSE) else {
            break;
        };
        if let Ok(token) = Token::parse(after[..close].trim())
            && !tokens.contains(&token)
            && tokens.len() < MAX_BATCH_ITEMS
        {
            tokens.push(token);
        }
        rest = &after[close + CLOSE.len()..];
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "tok_0000000000000000000000000a";
    const B: &str = "tok_0000000000000000000000000b";

    #[test]
    fn a_placeholder_is_a_whole_value_at_a_card_field() {
        let mut tokens = Tokens::default();
        assert_eq!(judge("plain } text }}", false, &mut tokens), Ok(None));
        assert_eq!(
            judge(&format!("{{{{{A}}}}}"), true, &mut tokens),
            Ok(Some(0))
        );
        assert_eq!(
            judge(&format!("{{{{ {B} }}}}"), true, &mut tokens),
            Ok(Some(1))
        );
        assert_eq!(
            judge(&format!("{{{{{A}}}}}"), true, &mut tokens),
            Ok(Some(0))
        );
        assert_eq!(tokens.as_slice().len(), 2);
        for (value, card) in [
            (format!("{{{{{A}}}}}"), false),
            (format!("ref {{{{{A}}}}}"), true),
            (format!("{{{{{A}}}}} "), true),
            (format!("{{{{{A}}}}}{{{{{B}}}}}"), true),
            (format!("{{{{{A}"), true),
            ("{{".to_owned(), false),
        ] {
            let refused = judge(&value, card, &mut tokens).expect_err(&value);
            assert_eq!(refused.kind, Kind::ForwardPlaceholderMisplaced, "{value}");
        }
        let bad = judge("{{not a token}}", true, &mut tokens).expect_err("not a token");
        assert_eq!(bad.kind, Kind::InvalidToken);
        let pan = judge("{{4111111111111111}}", true, &mut tokens).expect_err("a PAN");
        assert!(!pan.detail.contains("4111"), "{}", pan.detail);
        assert!(refuse_in_name("card[{{x}}]").is_err());
        assert!(refuse_in_name("card[number]").is_ok());
    }

    #[test]
    fn at_most_a_batch_of_distinct_tokens() {
        let mut tokens = Tokens::default();
        for i in 0..MAX_BATCH_ITEMS {
            let token = Token::parse(&format!("tok_{i:026}")).expect("token");
            tokens.index(token).expect("room");
        }
        let again = Token::parse(&format!("tok_{:026}", 0)).expect("token");
        assert_eq!(tokens.index(again), Ok(0));
        let one_more = Token::parse(&format!("tok_{MAX_BATCH_ITEMS:026}")).expect("token");
        assert_eq!(
            tokens.index(one_more).expect_err("full").kind,
            Kind::BatchTooLarge
        );
    }

    #[test]
    fn mentioned_tokens_are_found_anywhere_for_the_audit() {
        let text = format!("a={{{{{A}}}}}&b=ref {{{{ {B} }}}}&c={{{{{A}}}}}&d={{{{junk}}}}&e={{{{");
        let found: Vec<String> = mentioned(&text)
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect();
        assert_eq!(found, [A, B]);
    }
}
