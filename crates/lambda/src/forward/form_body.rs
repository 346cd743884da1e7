//! A form forward body (`application/x-www-form-urlencoded`), parsed by
//! `form_urlencoded` (the WHATWG parser of the `url` crates) after checks
//! that make its lenient decoding strict: the text is visible ASCII (a space
//! is `+` or `%20`, anything else percent-encoded), every `%` starts a
//! two-hex-digit escape, the decoded bytes are UTF-8, and every pair has a
//! `=` (no empty pair, no bare name, which parsers read as a flag, an empty
//! value or nothing). Placeholders are whole decoded values of the
//! destination's card fields, named decoded (`card[number]`); a card field
//! may appear once. What is sent is the pairs serialized again by
//! `form_urlencoded::Serializer`, never the caller's text.

use std::collections::BTreeSet;

use form_urlencoded::Serializer;
use zeroize::Zeroizing;

use crate::forward::placeholders::{self, Tokens};
use crate::problem::{Kind, Problem};

/// One value of a parsed form.
#[derive(Debug, PartialEq, Eq)]
enum Value {
    /// Text with no placeholder.
    Text(String),
    /// A placeholder: the index of its token.
    Card(usize),
}

/// A parsed form: its pairs, decoded, in order.
#[derive(Debug, PartialEq, Eq)]
pub struct Form(Vec<(String, Value)>);

fn invalid(detail: &'static str) -> Problem {
    Problem::new(Kind::ForwardBodyInvalid, detail)
}

/// Parses `text` strictly and finds its placeholders: only at `card_fields`
/// (decoded names), each the whole decoded value.
pub fn parse(text: &str, card_fields: &[String], tokens: &mut Tokens) -> Result<Form, Problem> {
    check_encoding(text)?;
    if text.split('&').any(|pair| !pair.contains('=')) {
        return Err(invalid(
            "every pair of a form body is `name=value`: no empty pair and no name without `=`",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut pairs = Vec::new();
    for (name, value) in form_urlencoded::parse(text.as_bytes()) {
        placeholders::refuse_in_name(&name)?;
        let at_card_field = card_fields.iter().any(|f| *f == name);
        if at_card_field && !seen.insert(name.clone()) {
            return Err(invalid(
                "a card field appears more than once in the form body",
            ));
        }
        let value = match placeholders::judge(&value, at_card_field, tokens)? {
            Some(index) => Value::Card(index),
            None => Value::Text(value.into_owned()),
        };
        pairs.push((name.into_owned(), value));
    }
    Ok(Form(pairs))
}

/// Visible ASCII only, `%` only before two hex digits, and UTF-8 once decoded.
fn check_encoding(text: &str) -> Result<(), Problem> {
    let bytes = text.as_bytes();
    if !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "a form body is visible ASCII: spaces as `+`, other characters percent-encoded",
        ));
    }
    let bad_escape = bytes.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if bad_escape {
        return Err(invalid(
            "a `%` in a form body must start a two-hex-digit escape",
        ));
    }
    // `&`, `=` and `+` are ASCII, so decoding the whole text checks each name
    // and value.
    if percent_encoding::percent_decode(bytes)
        .decode_utf8()
        .is_err()
    {
        return Err(invalid("a form body's escapes must decode to UTF-8"));
    }
    Ok(())
}

impl Form {
    /// The form serialized with each placeholder replaced by its PAN, in a
    /// buffer wiped on drop; `None` when a placeholder has no PAN.
    pub fn serialize(&self, pans: &[&str]) -> Option<Zeroizing<Vec<u8>>> {
        let mut filled = Vec::with_capacity(self.0.len());
        for (name, value) in &self.0 {
            let value = match value {
                Value::Text(text) => text.as_str(),
                Value::Card(i) => pans.get(*i)?,
            };
            filled.push((name.as_str(), value));
        }
        // Room for every byte percent-encoded and the separators, so the
        // string never reallocates and leaves an unwiped copy of a PAN.
        let room = filled
            .iter()
            .map(|(n, v)| 3 * (n.len() + v.len()) + 2)
            .sum();
        let mut out = Zeroizing::new(String::with_capacity(room));
        let capacity = out.capacity();
        Serializer::new(&mut *out).extend_pairs(filled).finish();
        debug_assert_eq!(out.capacity(), capacity, "the form buffer grew");
        Some(Zeroizing::new(std::mem::take(&mut *out).into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "tok_0000000000000000000000000a";
    const PAN: &str = "4111111111111111";

    fn fields() -> Vec<String> {
        vec!["card[number]".to_owned(), "pan".to_owned()]
    }

    fn sent(form: &Form) -> String {
        String::from_utf8(form.serialize(&[PAN]).expect("serializes").to_vec()).expect("utf-8")
    }

    #[test]
    fn a_form_whose_every_byte_is_percent_encoded_fits_the_room_it_reserves() {
        // The buffer must never grow (a grown String leaves its old bytes,
        // the PAN among them, unwiped): `serialize` asserts its capacity is
        // unchanged, so this fails if the room it reserves is short.
        let text = "%26=%26%26%26%26%26%26%26%26&%3D%3D=%25";
        let form = parse(text, &fields(), &mut Tokens::default()).expect("parses");
        assert_eq!(sent(&form), text);
    }

    #[test]
    fn a_placeholder_at_a_decoded_card_field_becomes_the_pan_in_the_reserialized_form() {
        let mut tokens = Tokens::default();
        let text = format!(
            "amount=1000&card%5Bnumber%5D={{{{+{A}+}}}}&note=caf%C3%A9+au+lait&x=a%2Bb%26c"
        );
        let form = parse(&text, &fields(), &mut tokens).expect("parses");
        assert_eq!(tokens.as_slice().len(), 1);
        assert_eq!(
            sent(&form),
            format!("amount=1000&card%5Bnumber%5D={PAN}&note=caf%C3%A9+au+lait&x=a%2Bb%26c")
        );
        let raw = format!("card[number]={{{{{A}}}}}&empty=");
        let form = parse(&raw, &fields(), &mut Tokens::default()).expect("raw brackets");
        assert_eq!(sent(&form), format!("card%5Bnumber%5D={PAN}&empty="));
        assert_eq!(form.serialize(&[]), None, "a placeholder without its PAN");
    }

    #[test]
    fn lenient_encodings_are_refused() {
        for text in [
            "a=1&&b=2",
            "a=1&",
            "&a=1",
            "flag&a=1",
            "a=%zz",
            "a=%4",
            "a=100%",
            "a=%C3",
            "a=%FF%FE",
            "a=two words",
            "a=caf\u{e9}",
            "a=1\n",
            "a=1\tb",
            "",
        ] {
            let refused = parse(text, &fields(), &mut Tokens::default()).expect_err(text);
            assert_eq!(refused.kind, Kind::ForwardBodyInvalid, "{text:?}");
        }
    }

    #[test]
    fn placeholders_elsewhere_and_repeated_card_fields_are_refused() {
        for text in [
            format!("description={{{{{A}}}}}"),
            format!("pan=ref+{{{{{A}}}}}"),
            format!("{{{{{A}}}}}=1"),
            format!("card%5B{{{{{A}}}}}%5D=1"),
            format!("note=%7B%7B{A}%7D%7D"),
        ] {
            let refused = parse(&text, &fields(), &mut Tokens::default()).expect_err(&text);
            assert_eq!(refused.kind, Kind::ForwardPlaceholderMisplaced, "{text}");
        }
        for text in [
            format!("pan={{{{{A}}}}}&pan=4000"),
            format!("card[number]={{{{{A}}}}}&card%5Bnumber%5D={{{{{A}}}}}"),
        ] {
            let refused = parse(&text, &fields(), &mut Tokens::default()).expect_err(&text);
            assert_eq!(refused.kind, Kind::ForwardBodyInvalid, "{text}");
        }
        // A name that is not a card field may repeat (`expand[]=a&expand[]=b`).
        assert!(parse("e[]=a&e[]=b", &fields(), &mut Tokens::default()).is_ok());
    }
}
