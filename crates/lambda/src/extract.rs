//! The JSON body extractor: content type, card-security-code refusal, the
//! body type's own field list, then typed parsing, in one place.
//!
//! A body type names its accepted fields ([`JsonBody::FIELDS`]), so a body can
//! only ever be checked against the list of the operation that parses it.

use http::header;
use lambda_http::Request;
use serde::de::DeserializeOwned;
use serde_json::Value;

use tessera_core::is_security_code_name;

use crate::problem::{Kind, Problem};

/// A request body: its accepted top-level fields and typed form.
pub trait JsonBody: DeserializeOwned {
    /// The top-level fields this body accepts.
    const FIELDS: &'static [&'static str];

    /// Checks the fields of the parsed JSON before typed parsing, so the
    /// problem can name the field safely. Bodies with nested items extend it.
    fn check_fields(value: &Value) -> Result<(), Problem> {
        check_object(value, Self::FIELDS)
    }
}

/// Extracts `T` from a request: JSON content type, then [`parse`].
pub fn json<T: JsonBody>(request: &Request) -> Result<T, Problem> {
    if !is_json(request) {
        return Err(Problem::new(
            Kind::UnsupportedMediaType,
            "set Content-Type: application/json",
        ));
    }
    parse(request.body().as_ref())
}

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Parses JSON bytes into `T`: forbidden fields first (anywhere), then
/// unknown fields, then types. No message quotes the input.
pub fn parse<T: JsonBody>(bytes: &[u8]) -> Result<T, Problem> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(
            Kind::InvalidJson,
            format!(
                "JSON syntax error at line {}, column {}",
                e.line(),
                e.column()
            ),
        )
    })?;
    if forbidden_field(&value) {
        return Err(Problem::new(
            Kind::ForbiddenField,
            "remove the card security code (cvv, cvc, cvv2): it must never be sent or stored",
        ));
    }
    T::check_fields(&value)?;
    serde_json::from_value(value).map_err(|e| {
        // serde's message may quote a value (a PAN sent as a number): use only its category.
        let what = if e.to_string().starts_with("missing field") {
            "a required field is missing"
        } else {
            "a field has the wrong type"
        };
        Problem::new(
            Kind::InvalidBody,
            format!("{what}; see the API documentation"),
        )
    })
}

fn safe_name(name: &str) -> String {
    let plain = name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-');
    if plain {
        format!("`{name}`")
    } else {
        "a field".to_owned()
    }
}

fn forbidden_field(value: &Value) -> bool {
    match value {
        // PCI DSS 3.3.1 forbids storing a card security code after
        // authorization, so a request naming one anywhere is refused whole.
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| is_security_code_name(k) || forbidden_field(v)),
        Value::Array(items) => items.iter().any(forbidden_field),
        _ => false,
    }
}

/// Checks that `value` is an object whose keys are all in `allowed`.
pub fn check_object(value: &Value, allowed: &[&str]) -> Result<(), Problem> {
    let Value::Object(map) = value else {
        return Err(Problem::new(
            Kind::InvalidBody,
            "the body must be a JSON object",
        ));
    };
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Problem::new(
            Kind::UnknownField,
            format!(
                "{} is not accepted here; accepted: {}",
                safe_name(k),
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any object with a `pan` field, to test the generic checks alone.
    #[derive(Debug, serde::Deserialize)]
    struct Probe {
        #[allow(dead_code)]
        pan: Value,
    }

    impl JsonBody for Probe {
        const FIELDS: &'static [&'static str] = &["pan", "metadata", "items"];
    }

    #[test]
    fn cvv_anywhere_is_forbidden() {
        for body in [
            r#"{"pan":"4111111111111111","cvv":"123"}"#,
            r#"{"pan":"4111111111111111","CVC":"123"}"#,
            r#"{"pan":"4111111111111111","metadata":{"cvv2":"123"}}"#,
            r#"{"items":[{"pan":"4111111111111111","cvv":"1"}]}"#,
            r#"{"pan":"4111111111111111","metadata":{"card_cvv":"123"}}"#,
            r#"{"pan":"4111111111111111","securityCode":"123"}"#,
            r#"{"pan":"4111111111111111","metadata":{"CVC2":"1","x":"y"}}"#,
            r#"{"pan":"4111111111111111","metadata":{"cid":"1234"}}"#,
            r#"{"pan":"4111111111111111","csc":"123"}"#,
        ] {
            let e = parse::<Probe>(body.as_bytes()).expect_err("refused");
            assert_eq!(e.kind, Kind::ForbiddenField, "{body}");
        }
    }

    #[test]
    fn errors_never_quote_input() {
        for body in [
            r#"{"pan":"4111111111111111","4111111111111111":1}"#,
            r#"{"pan":"4111111111111111",}"#,
            r#"[4111111111111111]"#,
        ] {
            let e = parse::<Probe>(body.as_bytes()).expect_err("refused");
            assert!(!e.detail.contains("4111"), "{}", e.detail);
        }
        let e = parse::<Probe>(br#"{"pan":"1","colour":1}"#).expect_err("unknown");
        assert_eq!(e.kind, Kind::UnknownField);
        assert!(e.detail.contains("`colour`"));
    }

    #[test]
    fn only_a_short_plain_field_name_is_quoted() {
        let forty = "a".repeat(40);
        assert_eq!(safe_name(&forty), format!("`{forty}`"));
        assert_eq!(safe_name(&format!("{forty}a")), "a field");
        assert_eq!(safe_name("card_holder-name"), "`card_holder-name`");
        for hostile in ["4111", "a b", "name!", "é"] {
            assert_eq!(safe_name(hostile), "a field", "{hostile}");
        }
        let e =
            check_object(&serde_json::json!({"pan": 1, "x-y": 2}), &["pan"]).expect_err("unknown");
        assert_eq!(e.detail, "`x-y` is not accepted here; accepted: pan");
        let e = check_object(&serde_json::json!(["pan"]), &["pan"]).expect_err("not an object");
        assert_eq!(e.kind, Kind::InvalidBody);
    }

    #[test]
    fn the_content_type_must_be_json_whatever_its_parameters() {
        let with = |content_type: Option<&str>| {
            let mut request = http::Request::builder();
            if let Some(value) = content_type {
                request = request.header(header::CONTENT_TYPE, value);
            }
            let request: Request = request
                .body(lambda_http::Body::Text(r#"{"pan":"1"}"#.into()))
                .expect("request");
            json::<Probe>(&request).map(|_| ()).map_err(|p| p.kind)
        };
        assert_eq!(with(Some("application/json")), Ok(()));
        assert_eq!(with(Some(" Application/JSON ; charset=utf-8")), Ok(()));
        for refused in [None, Some("text/plain"), Some("application/json-seq")] {
            assert_eq!(
                with(refused),
                Err(Kind::UnsupportedMediaType),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn a_body_parses_only_when_every_check_passes() {
        assert!(parse::<Probe>(br#"{"pan":"4111111111111111","metadata":{"a":[1]}}"#).is_ok());
        let kind = |body: &str| parse::<Probe>(body.as_bytes()).expect_err("refused").kind;
        assert_eq!(kind("{"), Kind::InvalidJson);
        assert_eq!(kind(r#"{"metadata":{}}"#), Kind::InvalidBody);
        assert_eq!(kind(r#"{"pan":1,"other":2}"#), Kind::UnknownField);
    }
}
