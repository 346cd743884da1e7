//! A JSON forward body: parsed strictly (RFC 8259 as serde_json reads it:
//! no comments, trailing commas, NaN, byte order mark, lone surrogate or
//! trailing data) into a tree that also refuses a key repeated in one
//! object, which parsers resolve differently (first or last wins). The top
//! level is an object or an array. Placeholders are whole string values at
//! the destination's card fields, named by JSON pointer (RFC 6901). What is
//! sent is this tree serialized again, never the caller's text: key order
//! is kept, whitespace and escapes are serde_json's, and a number is sent
//! as the value it parsed to (integers of 64 bits exactly, other numbers as
//! the nearest double in shortest form: `1.50` goes out as `1.5`).

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Number;

use crate::forward::placeholders::{self, Tokens};
use crate::problem::{Kind, Problem};

/// One value of a parsed JSON body.
#[derive(Debug, PartialEq)]
pub enum Node {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string with no placeholder.
    Text(String),
    /// A placeholder: the index of its token.
    Card(usize),
    /// An array.
    Array(Vec<Node>),
    /// An object, keys in the caller's order, none repeated.
    Object(Vec<(String, Node)>),
}

/// Why a body was refused; written here, never serde_json's message (it
/// quotes input).
fn invalid(e: &serde_json::Error) -> Problem {
    use serde_json::error::Category;
    let detail = match e.classify() {
        Category::Eof => "the JSON body ends before it is complete",
        Category::Data => "the JSON body repeats a key in one object",
        Category::Syntax | Category::Io => {
            "the JSON body is not strict JSON: no comments, trailing commas, NaN, byte order mark, lone surrogate escapes or text after the value"
        }
    };
    Problem::new(Kind::ForwardBodyInvalid, detail)
}

/// Parses `text` strictly and finds its placeholders: only at `card_fields`
/// (JSON pointers), each the whole string value.
pub fn parse(text: &str, card_fields: &[String], tokens: &mut Tokens) -> Result<Node, Problem> {
    let mut node: Node = serde_json::from_str(text).map_err(|e| invalid(&e))?;
    if !matches!(node, Node::Object(_) | Node::Array(_)) {
        return Err(Problem::new(
            Kind::ForwardBodyInvalid,
            "a JSON body must be an object or an array",
        ));
    }
    place(&mut node, &mut String::new(), card_fields, tokens)?;
    Ok(node)
}

/// Turns each placeholder string into [`Node::Card`]; `pointer` is where
/// `node` stands.
fn place(
    node: &mut Node,
    pointer: &mut String,
    card_fields: &[String],
    tokens: &mut Tokens,
) -> Result<(), Problem> {
    match node {
        Node::Text(text) => {
            let at_card_field = card_fields.iter().any(|f| f == pointer);
            if let Some(index) = placeholders::judge(text, at_card_field, tokens)? {
                *node = Node::Card(index);
            }
        }
        Node::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                place(item, pointer, card_fields, tokens)?;
                pointer.truncate(len);
            }
        }
        Node::Object(entries) => {
            for (key, item) in entries.iter_mut() {
                placeholders::refuse_in_name(key)?;
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                place(item, pointer, card_fields, tokens)?;
                pointer.truncate(len);
            }
        }
        Node::Null | Node::Bool(_) | Node::Number(_) | Node::Card(_) => {}
    }
    Ok(())
}

/// Whether `field` is a JSON pointer to a value below the root.
pub fn is_pointer(field: &str) -> bool {
    let Some(rest) = field.strip_prefix('/') else {
        return false;
    };
    let mut tildes = rest.split('~').skip(1);
    tildes.all(|after| after.starts_with('0') || after.starts_with('1'))
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// Builds a [`Node`], refusing a key repeated within one object.
struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v)
            .map(Node::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Text(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Text(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut seen = BTreeSet::new();
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                // The key is not named: it is caller text.
                return Err(de::Error::custom("a key repeated in one object"));
            }
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
    }
}

/// A [`Node`] with each placeholder replaced by its PAN, for serializing.
pub struct Filled<'a> {
    /// The tree.
    pub node: &'a Node,
    /// The PAN of each token index.
    pub pans: &'a [&'a str],
}

impl Serialize for Filled<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let at = |node| Filled {
            node,
            pans: self.pans,
        };
        match self.node {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Number(n) => n.serialize(s),
            Node::Text(t) => s.serialize_str(t),
            Node::Card(i) => match self.pans.get(*i) {
                Some(pan) => s.serialize_str(pan),
                None => Err(ser::Error::custom("a placeholder without its card number")),
            },
            Node::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&at(item))?;
                }
                seq.end()
            }
            Node::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (key, item) in entries {
                    map.serialize_entry(key, &at(item))?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "tok_0000000000000000000000000a";

    fn fields(list: &[&str]) -> Vec<String> {
        list.iter().map(|f| (*f).to_owned()).collect()
    }

    fn out(node: &Node, pans: &[&str]) -> String {
        serde_json::to_string(&Filled { node, pans }).expect("serializes")
    }

    #[test]
    fn placeholders_at_card_pointers_become_pans_in_the_reserialized_tree() {
        let body = format!(
            r#" {{ "z" : 1.50, "card" : {{ "number" : "{{{{ {A} }}}}" }}, "a/b~" : ["x", "{{{{{A}}}}}"], "n": null, "t": true, "e": "\u00e9\/" }} "#
        );
        let mut tokens = Tokens::default();
        let node =
            parse(&body, &fields(&["/card/number", "/a~1b~0/1"]), &mut tokens).expect("parses");
        assert_eq!(tokens.as_slice().len(), 1);
        assert_eq!(
            out(&node, &["4111111111111111"]),
            r#"{"z":1.5,"card":{"number":"4111111111111111"},"a/b~":["x","4111111111111111"],"n":null,"t":true,"e":"é/"}"#
        );
        // A placeholder without its card number never serializes.
        assert!(
            serde_json::to_string(&Filled {
                node: &node,
                pans: &[]
            })
            .is_err()
        );
    }

    #[test]
    fn anything_but_strict_json_is_refused() {
        for body in [
            r#"{"a":1} trailing"#,
            r#"{"a":1}{"b":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"x":{"a":1,"b":{"a":2},"a":3}}"#,
            r#"{"a":1"#,
            r#"{"a":"unterminated"#,
            r#"{"a":1 /* comment */}"#,
            "{\"a\":1 // comment\n}",
            r#"{"a":NaN}"#,
            r#"{"a":Infinity}"#,
            r#"{"a":-Infinity}"#,
            r#"{"a":1e999}"#,
            r#"{"a":01}"#,
            r#"{"a":.5}"#,
            r#"{"a":+1}"#,
            r#"{"a":0x10}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00x"}"#,
            r#"{"a":"\x41"}"#,
            "{\"a\":\"raw\ncontrol\"}",
            "\u{feff}{\"a\":1}",
            r#"{'a':1}"#,
            r#"{a:1}"#,
            r#"{"a":1,}"#,
            r#"[1,2,]"#,
            "",
            "<charge><card>{{x}}</card></charge>",
            "a=1&card={{x}}",
            r#""just a string""#,
            "42",
            "null",
        ] {
            let refused = parse(body, &fields(&["/a"]), &mut Tokens::default()).expect_err(body);
            assert_eq!(refused.kind, Kind::ForwardBodyInvalid, "{body}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(&deep, &[], &mut Tokens::default()).is_err());
    }

    #[test]
    fn a_brace_pair_outside_a_card_field_is_refused() {
        for body in [
            format!(r#"{{"description":"{{{{{A}}}}}"}}"#),
            format!(r#"{{"card":"ref {{{{{A}}}}}"}}"#),
            format!(r#"{{"{{{{{A}}}}}":"x"}}"#),
            format!(r#"{{"card":{{"number":"{{{{{A}}}}}"}}}}"#),
            r#"{"note":"{{ no close"}"#.to_owned(),
            // An escaped brace is a brace: the parsed value is judged.
            format!(r#"{{"note":"\u007b\u007b{A}}}}}"}}"#),
        ] {
            let refused =
                parse(&body, &fields(&["/card"]), &mut Tokens::default()).expect_err(&body);
            assert_eq!(refused.kind, Kind::ForwardPlaceholderMisplaced, "{body}");
        }
        let escaped = format!(r#"{{"card":"\u007b\u007b{A}}}}}"}}"#);
        let mut tokens = Tokens::default();
        let node = parse(&escaped, &fields(&["/card"]), &mut tokens).expect("escaped braces");
        assert_eq!(
            out(&node, &["4111111111111111"]),
            r#"{"card":"4111111111111111"}"#
        );
    }

    #[test]
    fn pointers_are_checked() {
        for good in ["/card", "/card/number", "/a~0b/~1", "/items/0/pan", "/"] {
            assert!(is_pointer(good), "{good}");
        }
        for bad in ["", "card", "card/number", "/a~2", "/a~", "card[number]"] {
            assert!(!is_pointer(bad), "{bad}");
        }
    }
}
