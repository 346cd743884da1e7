//! The body forward sends: each destination declares its format
//! ([`BodyFormat`]), Tessera sets `Content-Type` from it, parses the
//! caller's body strictly in it ([`crate::forward::json_body`],
//! [`crate::forward::form_body`]), with no fallback to any other reading,
//! finds the placeholders in the parsed tree and sends the tree serialized
//! again: what was checked is what goes out.

use std::io;

use serde::Deserialize;
use tessera_core::Token;
use zeroize::Zeroizing;

use crate::forward::form_body::{self, Form};
use crate::forward::json_body::{self, Filled, Node};
use crate::forward::placeholders::Tokens;
use crate::problem::{Kind, Problem};

/// A destination's body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// `application/json`; card fields are JSON pointers (`/card/number`).
    Json,
    /// `application/x-www-form-urlencoded`; card fields are decoded field
    /// names (`card[number]`).
    Form,
}

impl BodyFormat {
    /// The `Content-Type` Tessera sends.
    pub fn media_type(self) -> &'static str {
        match self {
            BodyFormat::Json => "application/json",
            BodyFormat::Form => "application/x-www-form-urlencoded",
        }
    }

    /// Whether a caller's `Content-Type` says this format: the same media
    /// type (any case), with at most a `charset=utf-8` parameter.
    pub fn accepts_content_type(self, given: &str) -> bool {
        let mut parts = given.split(';');
        let media = parts.next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case(self.media_type()) {
            return false;
        }
        match (parts.next(), parts.next()) {
            (None, _) => true,
            (Some(parameter), None) => parameter.trim().eq_ignore_ascii_case("charset=utf-8"),
            (Some(_), Some(_)) => false,
        }
    }

    /// Why `field` cannot name a card field of this format, if it cannot.
    pub fn check_card_field(self, field: &str) -> Result<(), &'static str> {
        match self {
            BodyFormat::Json if !json_body::is_pointer(field) => {
                Err("must be a JSON pointer (`/card/number`) for a json body")
            }
            BodyFormat::Form
                if field.is_empty()
                    || field.starts_with('/')
                    || field.chars().any(char::is_control) =>
            {
                Err("must be a form field name (`card[number]`) for a form body")
            }
            _ => Ok(()),
        }
    }
}

/// A body parsed strictly in its destination's format, its placeholders
/// found at the destination's card fields.
#[derive(Debug)]
pub struct CheckedBody {
    tree: Tree,
    tokens: Tokens,
}

#[derive(Debug)]
enum Tree {
    Json(Node),
    Form(Form),
}

impl CheckedBody {
    /// Parses `text` as `format`; a placeholder may stand only as the whole
    /// value of one of `card_fields`.
    pub fn parse(
        format: BodyFormat,
        text: &str,
        card_fields: &[String],
    ) -> Result<CheckedBody, Problem> {
        let mut tokens = Tokens::default();
        let tree = match format {
            BodyFormat::Json => Tree::Json(json_body::parse(text, card_fields, &mut tokens)?),
            BodyFormat::Form => Tree::Form(form_body::parse(text, card_fields, &mut tokens)?),
        };
        Ok(CheckedBody { tree, tokens })
    }

    /// The distinct tokens named, in first-use order.
    pub fn tokens(&self) -> &[Token] {
        self.tokens.as_slice()
    }

    /// The tree serialized, `pans[i]` in place of token `i`, in a buffer
    /// wiped on drop.
    pub fn serialize(&self, pans: &[&str]) -> Result<Zeroizing<Vec<u8>>, Problem> {
        let missing = || Problem::new(Kind::Internal, "see the correlation id in the service logs");
        match &self.tree {
            Tree::Json(node) => {
                let mut out = SecretBuf(Zeroizing::new(Vec::new()));
                serde_json::to_writer(&mut out, &Filled { node, pans }).map_err(|_| missing())?;
                Ok(out.0)
            }
            Tree::Form(form) => form.serialize(pans).ok_or_else(missing),
        }
    }
}

/// A writer whose buffer never reallocates in place: it moves to a larger
/// buffer and wipes the old one, so no unwiped copy of a PAN is left behind.
struct SecretBuf(Zeroizing<Vec<u8>>);

impl io::Write for SecretBuf {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let needed = self.0.len() + bytes.len();
        if needed > self.0.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(256) * 2));
            bigger.extend_from_slice(&self.0);
            self.0 = bigger;
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "tok_0000000000000000000000000a";

    #[test]
    fn the_content_type_must_say_the_format() {
        let json = BodyFormat::Json;
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
        ] {
            assert!(json.accepts_content_type(ok), "{ok}");
        }
        for refused in [
            "text/plain",
            "application/xml",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin1",
            "application/json; charset=utf-8; boundary=x",
            "application/json; foo=bar",
            "application/jsonx",
            "application/json-patch+json",
            "",
        ] {
            assert!(!json.accepts_content_type(refused), "{refused}");
        }
        assert!(BodyFormat::Form.accepts_content_type("application/x-www-form-urlencoded"));
        assert!(!BodyFormat::Form.accepts_content_type("application/json"));
        assert!(!BodyFormat::Form.accepts_content_type("multipart/form-data; boundary=x"));
    }

    #[test]
    fn card_fields_must_suit_the_format() {
        assert!(BodyFormat::Json.check_card_field("/card/number").is_ok());
        assert!(BodyFormat::Json.check_card_field("card[number]").is_err());
        assert!(BodyFormat::Form.check_card_field("card[number]").is_ok());
        assert!(BodyFormat::Form.check_card_field("/card/number").is_err());
        assert!(BodyFormat::Form.check_card_field("").is_err());
    }

    #[test]
    fn a_body_is_read_only_in_its_declared_format() {
        let fields = vec!["/card".to_owned(), "card".to_owned()];
        let json = format!(r#"{{"card":"{{{{{A}}}}}"}}"#);
        let form = format!("card={{{{{A}}}}}");
        assert!(CheckedBody::parse(BodyFormat::Json, &form, &fields).is_err());
        assert!(CheckedBody::parse(BodyFormat::Form, &json, &fields).is_err());
        let checked = CheckedBody::parse(BodyFormat::Json, &json, &fields).expect("json");
        assert_eq!(checked.tokens().len(), 1);
        let sent = checked
            .serialize(&["4111111111111111"])
            .expect("serializes");
        assert_eq!(&sent[..], br#"{"card":"4111111111111111"}"#);
        assert!(checked.serialize(&[]).is_err());
        let checked = CheckedBody::parse(BodyFormat::Form, &form, &fields).expect("form");
        let sent = checked
            .serialize(&["4111111111111111"])
            .expect("serializes");
        assert_eq!(&sent[..], b"card=4111111111111111");
    }

    #[test]
    fn the_secret_buffer_keeps_every_byte_across_growth() {
        use std::io::Write;
        let mut buf = SecretBuf(Zeroizing::new(Vec::new()));
        for i in 0..2000u32 {
            buf.write_all(&i.to_le_bytes()).expect("write");
        }
        assert_eq!(buf.0.len(), 8000);
        assert_eq!(&buf.0[4..8], &1u32.to_le_bytes());
    }

    #[test]
    fn the_secret_buffer_grows_only_by_moving_never_in_place() {
        use std::io::Write;
        // Every capacity is one the writer chose (twice what was needed, at
        // least 512), never one Vec picked growing in place, which would
        // leave the old allocation unwiped.
        let mut buf = SecretBuf(Zeroizing::new(Vec::new()));
        buf.write_all(&[1; 10]).expect("write");
        assert_eq!(
            buf.0.capacity(),
            512,
            "the first write moves to a buffer of its own"
        );
        buf.write_all(&[2; 502]).expect("write");
        assert_eq!(buf.0.capacity(), 512, "a write that exactly fills it stays");
        buf.write_all(&[3; 88]).expect("write");
        assert_eq!(
            buf.0.capacity(),
            1200,
            "one byte over moves to twice what is needed"
        );
        assert_eq!(buf.0.len(), 600);
        assert_eq!((buf.0[9], buf.0[10], buf.0[511], buf.0[512]), (1, 2, 2, 3));
    }
}
