//! Placeholders: `{{tok_...}}` in a forward body names a token whose PAN
//! takes its place. Only the body is expanded: URLs and headers are logged
//! by processors and proxies, and no processor needs a card number there.

use tessera_core::{MAX_BATCH_ITEMS, Token};
use zeroize::Zeroizing;

use crate::fields::parse_token;
use crate::problem::{Kind, Problem};

const OPEN: &str = "{{";
const CLOSE: &str = "}}";

/// A body split at its placeholders.
#[derive(Debug)]
pub struct Template<'a> {
    /// Literal text and token indexes, in order.
    parts: Vec<Part<'a>>,
    /// The distinct tokens named, in first-use order.
    pub tokens: Vec<Token>,
}

/// The JSON pointer and text of every string holding a placeholder; a key
/// holding one is refused (it would be expanded where no field allows it).
fn placeholder_pointers(
    value: &serde_json::Value,
    pointer: String,
    out: &mut Vec<(String, String)>,
) -> Result<(), Problem> {
    match value {
        serde_json::Value::String(s) if s.contains(OPEN) => out.push((pointer, s.clone())),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                placeholder_pointers(item, format!("{pointer}/{i}"), out)?;
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                if key.contains(OPEN) {
                    return Err(Problem::new(
                        Kind::InvalidBody,
                        "a placeholder may only be the whole value of one of the destination's card fields",
                    ));
                }
                let escaped = key.replace('~', "~0").replace('/', "~1");
                placeholder_pointers(item, format!("{pointer}/{escaped}"), out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[derive(Debug)]
enum Part<'a> {
    Text(&'a str),
    Token(usize),
}

impl<'a> Template<'a> {
    /// Splits `body` at its placeholders; every placeholder must hold a
    /// token (spaces around it allowed), at most [`MAX_BATCH_ITEMS`] distinct.
    pub fn parse(body: &'a str) -> Result<Template<'a>, Problem> {
        let mut parts = Vec::new();
        let mut tokens: Vec<Token> = Vec::new();
        let mut rest = body;
        while let Some(open) = rest.find(OPEN) {
            let (text, after) = rest.split_at(open);
            let inner_start = &after[OPEN.len()..];
            let close = inner_start.find(CLOSE).ok_or_else(|| {
                Problem::new(Kind::InvalidBody, "a `{{` in the body has no closing `}}`")
            })?;
            let token = parse_token(inner_start[..close].trim())?;
            let index = match tokens.iter().position(|t| *t == token) {
                Some(i) => i,
                None => {
                    tokens.push(token);
                    tokens.len() - 1
                }
            };
            if !text.is_empty() {
                parts.push(Part::Text(text));
            }
            parts.push(Part::Token(index));
            rest = &inner_start[close + CLOSE.len()..];
        }
        // A `}}` alone is ordinary (JSON closes nested objects with it).
        if !rest.is_empty() {
            parts.push(Part::Text(rest));
        }
        if tokens.len() > MAX_BATCH_ITEMS {
            return Err(Problem::new(
                Kind::BatchTooLarge,
                format!("name at most {MAX_BATCH_ITEMS} distinct tokens"),
            ));
        }
        Ok(Template { parts, tokens })
    }

    /// Checks that every placeholder is the whole value of one of `fields`:
    /// a JSON pointer in a JSON body, a field name in a form body
    /// (`a=1&card[number]={{tok}}`). A body with no placeholder passes.
    pub fn check_positions(body: &str, fields: &[String]) -> Result<(), Problem> {
        if !body.contains(OPEN) {
            return Ok(());
        }
        let misplaced = || {
            Problem::new(
                Kind::InvalidBody,
                "a placeholder may only be the whole value of one of the destination's card fields",
            )
        };
        let is_placeholder = |v: &str| {
            v.strip_prefix(OPEN)
                .and_then(|v| v.strip_suffix(CLOSE))
                .is_some_and(|inner| !inner.contains(OPEN) && !inner.contains(CLOSE))
        };
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(body) {
            let mut at = Vec::new();
            placeholder_pointers(&json, String::new(), &mut at)?;
            // Every placeholder in the text must be one the parse saw: a
            // duplicate key's first value is expanded but not parsed.
            let all_seen = body.matches(OPEN).count() == at.len();
            return (all_seen
                && at
                    .iter()
                    .all(|(pointer, value)| is_placeholder(value) && fields.contains(pointer)))
            .then_some(())
            .ok_or_else(misplaced);
        }
        for pair in body.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name.contains(OPEN) || name.contains(CLOSE) {
                return Err(misplaced());
            }
            if value.contains(OPEN) && !(is_placeholder(value) && fields.iter().any(|f| f == name))
            {
                return Err(misplaced());
            }
        }
        Ok(())
    }

    /// The body with each placeholder replaced by `value(token index)`,
    /// in a buffer wiped on drop.
    pub fn expand<'v>(&self, value: impl Fn(usize) -> &'v str) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        for part in &self.parts {
            match part {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Token(i) => out.extend_from_slice(value(*i).as_bytes()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "tok_0000000000000000000000000a";
    const B: &str = "tok_0000000000000000000000000b";

    #[test]
    fn splits_and_expands() {
        let body =
            format!("{{\"a\":\"{{{{{A}}}}}\",\"b\":\"{{{{ {B} }}}}\",\"c\":\"{{{{{A}}}}}\"}}");
        let t = Template::parse(&body).expect("parses");
        assert_eq!(t.tokens.len(), 2);
        let out = t.expand(|i| ["1111", "2222"][i]);
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#"{"a":"1111","b":"2222","c":"1111"}"#
        );
    }

    #[test]
    fn refuses_broken_placeholders() {
        for body in ["{{tok_", "{{not a token}}", "{{4111111111111111}}"] {
            assert!(Template::parse(body).is_err(), "{body}");
        }
        assert!(
            Template::parse("plain { json }")
                .expect("plain")
                .tokens
                .is_empty()
        );
        let nested = format!(r#"{{"card":{{"number":"{{{{{A}}}}}"}}}}"#);
        let t = Template::parse(&nested).expect("nested JSON");
        assert_eq!(
            String::from_utf8_lossy(&t.expand(|_| "1")),
            r#"{"card":{"number":"1"}}"#
        );
    }
}
