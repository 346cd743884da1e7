//! openapi.yaml tells the truth about the code: the same routes (method,
//! path, function), the same request fields as each body type's
//! `JsonBody::FIELDS`, the same response fields as the views serialize, and
//! the same problem kinds (type URI, status, title) as `problem::Kind::ALL`.
//! The running stack is checked against it by `scripts/contract`.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use tessera_core::{
    Brand, Detokenized, Metadata, Pan, Token, TokenDescription, TokenFacts, TokenFormat,
};
use tessera_lambda::extract::JsonBody;
use tessera_lambda::functions::capture::{CaptureBody, CapturedView};
use tessera_lambda::functions::capture_sessions::{
    CapturedCardView, CreateSessionBody, CreatedSessionView, SessionView,
};
use tessera_lambda::functions::detokenize::{DetokenizeBatchBody, DetokenizeBody};
use tessera_lambda::functions::forward::{ForwardBody, ForwardedView};
use tessera_lambda::functions::tokenize::{LookupBody, TokenizeBatchBody, TokenizeBody};
use tessera_lambda::problem::{Kind, Problem};
use tessera_lambda::views::{DetokenizedView, TokenView};
use tessera_lambda::{Admin, Capture, CaptureSessions, Detokenize, Forward, Function, Tokenize};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.yaml");
    let text = std::fs::read_to_string(path).expect("openapi.yaml at the repository root");
    serde_norway::from_str(&text).expect("openapi.yaml is YAML")
}

/// `node`, with a local `$ref` followed (repeatedly).
fn resolve<'a>(spec: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(Value::String(target)) = node.get("$ref") {
        let pointer = target.strip_prefix('#').expect("a local $ref");
        node = spec
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{target} resolves"));
    }
    node
}

fn operation<'a>(spec: &'a Value, method: &str, path: &str) -> &'a Value {
    spec["paths"]
        .get(path)
        .and_then(|item| item.get(method))
        .unwrap_or_else(|| panic!("{method} {path} is in openapi.yaml"))
}

/// The property names a schema names directly or through `allOf`.
fn properties(spec: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(spec, schema);
    let mut names: BTreeSet<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(properties(spec, part));
    }
    names
}

fn set(fields: &[&str]) -> BTreeSet<String> {
    fields.iter().map(|f| (*f).to_owned()).collect()
}

fn keys(value: &impl Serialize) -> BTreeSet<String> {
    match serde_json::to_value(value).expect("serializes") {
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("not an object: {other}"),
    }
}

fn routes_of<F: Function>(into: &mut BTreeSet<(String, String, String)>) {
    for route in F::ROUTES {
        into.insert((
            route.method.as_str().to_lowercase(),
            route.template(),
            F::NAME.to_owned(),
        ));
    }
}

#[test]
fn the_spec_has_exactly_the_routes_the_functions_serve() {
    let spec = spec();
    let mut served = BTreeSet::new();
    routes_of::<Tokenize>(&mut served);
    routes_of::<Detokenize>(&mut served);
    routes_of::<Admin>(&mut served);
    routes_of::<Forward>(&mut served);
    routes_of::<CaptureSessions>(&mut served);
    routes_of::<Capture>(&mut served);

    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(*method) {
                let tags = op["tags"].as_array().expect("every operation has tags");
                assert_eq!(tags.len(), 1, "{method} {path}: one tag, its function");
                let function = tags[0].as_str().expect("a tag name").to_owned();
                documented.insert(((*method).to_owned(), path.clone(), function));
            }
        }
    }
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes served but not in openapi.yaml (method, path, function tag): {missing:?}; \
         in openapi.yaml but served by no function: {extra:?}"
    );
}

/// Each body-taking operation and the body type its handler parses.
fn bodies() -> Vec<(&'static str, &'static str, &'static [&'static str])> {
    vec![
        ("post", "/v1/tokens", TokenizeBody::FIELDS),
        ("post", "/v1/tokens/batch", TokenizeBatchBody::FIELDS),
        ("post", "/v1/tokens/lookup", LookupBody::FIELDS),
        ("post", "/v1/detokenize", DetokenizeBody::FIELDS),
        ("post", "/v1/detokenize/batch", DetokenizeBatchBody::FIELDS),
        ("post", "/v1/forward", ForwardBody::FIELDS),
        ("post", "/v1/capture-sessions", CreateSessionBody::FIELDS),
        ("post", "/v1/capture", CaptureBody::FIELDS),
    ]
}

fn body_schema<'a>(spec: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = operation(spec, method, path);
    let body = resolve(spec, &op["requestBody"]);
    assert_eq!(body["required"], true, "{method} {path}: body required");
    let content = body["content"].as_object().expect("content");
    assert_eq!(
        content.keys().collect::<Vec<_>>(),
        ["application/json"],
        "{method} {path}: JSON only"
    );
    resolve(spec, &content["application/json"]["schema"])
}

#[test]
fn request_bodies_have_exactly_the_fields_the_code_accepts() {
    let spec = spec();
    let table = bodies();
    for (method, path, fields) in &table {
        let schema = body_schema(&spec, method, path);
        assert_eq!(
            properties(&spec, schema),
            set(fields),
            "{method} {path}: schema properties vs JsonBody::FIELDS"
        );
        // The code refuses any other field (`unknown-field`).
        assert_eq!(
            schema["additionalProperties"], false,
            "{method} {path}: additionalProperties: false"
        );
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().expect("a field name");
            assert!(fields.contains(&name), "{method} {path}: required {name}");
        }
    }
    // A batch's items are checked against the single body's fields.
    let items = resolve(
        &spec,
        &body_schema(&spec, "post", "/v1/tokens/batch")["properties"]["items"]["items"],
    );
    assert_eq!(properties(&spec, items), set(TokenizeBody::FIELDS));
    assert_eq!(items["additionalProperties"], false);

    // No other operation documents a body, and these all do.
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(*method) {
                let listed = table.iter().any(|(m, p, _)| m == method && p == path);
                assert_eq!(
                    op.get("requestBody").is_some(),
                    listed,
                    "{method} {path}: a request body exactly where a handler parses one"
                );
            }
        }
    }
}

fn facts() -> TokenFacts {
    TokenFacts {
        format: TokenFormat::Opaque,
        bin: "411111".into(),
        last4: "1111".into(),
        brand: Brand::Visa,
        pan_length: 16,
        created_at: 1_790_000_000,
        expires_at: Some(1_800_000_000),
    }
}

fn schema_properties(spec: &Value, name: &str) -> BTreeSet<String> {
    properties(spec, &spec["components"]["schemas"][name])
}

#[test]
fn response_schemas_have_exactly_the_fields_the_views_serialize() {
    let spec = spec();
    let token = Token::parse("tok_0000000000000000000000000a").expect("a token");
    // Every optional field set, so every field the view can write shows.
    let view = TokenView::new(&token, &facts());
    assert_eq!(schema_properties(&spec, "Token"), keys(&view));

    let metadata =
        Metadata::new(BTreeMap::from([("order".into(), "A-1001".into())])).expect("valid metadata");
    let described = TokenView::described(
        &token,
        &TokenDescription {
            facts: facts(),
            metadata,
        },
    );
    assert_eq!(
        schema_properties(&spec, "TokenDescription"),
        keys(&described)
    );

    let detokenized = DetokenizedView::new(&Detokenized {
        token: token.clone(),
        pan: Pan::parse("4111111111111111").expect("a test PAN"),
        facts: facts(),
    });
    assert_eq!(schema_properties(&spec, "Detokenized"), keys(&detokenized));

    let forwarded = ForwardedView {
        status: 201,
        headers: vec![("content-type".into(), "application/json".into())],
        body: "{}".into(),
    };
    assert_eq!(schema_properties(&spec, "Forwarded"), keys(&forwarded));

    let created = CreatedSessionView {
        session_id: "cs_abcdefghijklmnopqrstuvwxyz".into(),
        client_secret: "cscs_x".into(),
        expires_at: "2026-11-26T06:15:00Z".into(),
    };
    assert_eq!(
        schema_properties(&spec, "CaptureSessionCreated"),
        keys(&created)
    );
    let card = CapturedCardView {
        token: TokenView::new(&token, &facts()),
        cardholder_name: Some("Jane Doe".into()),
    };
    assert_eq!(schema_properties(&spec, "CapturedCard"), keys(&card));
    let session = SessionView {
        session_id: "cs_abcdefghijklmnopqrstuvwxyz".into(),
        state: "open",
        expires_at: "2026-11-26T06:15:00Z".into(),
        max_cards: 1,
        failed_attempts: 0,
        cards: vec![card],
    };
    assert_eq!(schema_properties(&spec, "CaptureSession"), keys(&session));
    let captured = CapturedView {
        token: token.as_str().into(),
        bin: "411111".into(),
        last4: "1111".into(),
        brand: "visa",
        expires_at: Some("2027-01-01T00:00:00Z".into()),
    };
    assert_eq!(schema_properties(&spec, "Captured"), keys(&captured));

    let problem = Problem::new(Kind::Internal, "x").body(Some("correlation"));
    assert_eq!(schema_properties(&spec, "Problem"), keys(&problem));
}

const KIND_SCHEMA_PREFIX: &str = "problem.";

#[test]
fn the_spec_has_exactly_the_problem_kinds_of_the_code() {
    let spec = spec();
    let schemas = spec["components"]["schemas"].as_object().expect("schemas");
    let constant = |schema: &Value, field: &str| schema["properties"][field]["const"].clone();

    let documented: BTreeSet<(String, u64, String)> = schemas
        .iter()
        .filter(|(name, _)| name.starts_with(KIND_SCHEMA_PREFIX))
        .map(|(name, schema)| {
            let uri = constant(schema, "type");
            let status = constant(schema, "status");
            let title = constant(schema, "title");
            (
                uri.as_str()
                    .unwrap_or_else(|| panic!("{name}: type const"))
                    .to_owned(),
                status
                    .as_u64()
                    .unwrap_or_else(|| panic!("{name}: status const")),
                title
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: title const"))
                    .to_owned(),
            )
        })
        .collect();
    let coded: BTreeSet<(String, u64, String)> = Kind::ALL
        .iter()
        .map(|k| {
            (
                k.type_uri(),
                u64::from(k.status().as_u16()),
                k.title().to_owned(),
            )
        })
        .collect();
    let missing: Vec<_> = coded.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&coded).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "problem kinds in Kind::ALL but not in openapi.yaml (type, status, title): {missing:?}; \
         in openapi.yaml but not in Kind::ALL: {extra:?}"
    );
    // Each kind's schema is named after its slug.
    for kind in Kind::ALL {
        let schema = &schemas[&format!("{KIND_SCHEMA_PREFIX}{}", kind.slug())];
        assert_eq!(constant(schema, "type"), kind.type_uri().as_str());
    }

    // The generic problem's `type` names every kind, and AnyProblem is each.
    let uris: BTreeSet<String> = Kind::ALL.iter().map(|k| k.type_uri()).collect();
    let enumerated: BTreeSet<String> =
        spec["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
            .as_array()
            .expect("Problem.type enum")
            .iter()
            .map(|v| v.as_str().expect("a URI").to_owned())
            .collect();
    assert_eq!(enumerated, uris);
    let any: BTreeSet<String> = spec["components"]["schemas"]["AnyProblem"]["oneOf"]
        .as_array()
        .expect("AnyProblem.oneOf")
        .iter()
        .map(|r| r["$ref"].as_str().expect("a $ref").to_owned())
        .collect();
    let every: BTreeSet<String> = Kind::ALL
        .iter()
        .map(|k| format!("#/components/schemas/{KIND_SCHEMA_PREFIX}{}", k.slug()))
        .collect();
    assert_eq!(any, every);
}

/// The problem kinds a problem+json response's schema admits.
fn kinds_in(spec: &Value, schema: &Value, into: &mut Vec<Value>) {
    let schema = resolve(spec, schema);
    if schema["properties"]["type"].get("const").is_some() {
        into.push(schema.clone());
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for part in schema[key].as_array().into_iter().flatten() {
            kinds_in(spec, part, into);
        }
    }
}

#[test]
fn every_problem_response_admits_only_kinds_of_its_status() {
    let spec = spec();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            for (code, response) in op["responses"].as_object().expect("responses") {
                let response = resolve(&spec, response);
                let Some(media) = response["content"].get("application/problem+json") else {
                    continue;
                };
                let mut kinds = Vec::new();
                kinds_in(&spec, &media["schema"], &mut kinds);
                assert!(!kinds.is_empty(), "{method} {path} {code}: names its kinds");
                for kind in kinds {
                    assert_eq!(
                        kind["properties"]["status"]["const"].to_string(),
                        *code,
                        "{method} {path} {code}: {}",
                        kind["properties"]["type"]["const"]
                    );
                }
                for (name, example) in response["content"]["application/problem+json"]["examples"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    let example = &resolve(&spec, example)["value"];
                    assert_eq!(
                        example["status"].to_string(),
                        *code,
                        "{method} {path} {code}: example {name}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

/// `scripts/contract` cannot send a body that is not UTF-8 (cargo lambda's
/// emulator answers it with its own 500); API Gateway sends it base64-encoded,
/// and the answer is the 400 `invalid-json` the spec declares.
#[tokio::test]
async fn a_body_that_is_not_utf8_gets_the_declared_problem() {
    let spec = spec();
    let stack = support::stack();
    let mut event = support::raw_event(
        support::TOKENIZER,
        "POST",
        "/v1/tokens",
        Value::String(base64::engine::general_purpose::STANDARD.encode([b'{', 0xff, 0xfe, b'}'])),
    );
    event["isBase64Encoded"] = Value::Bool(true);
    let response = support::send(&stack.tokenize, event).await;
    let (status, body) = support::status_and_body(&response);
    assert_eq!(
        (status, &body["type"]),
        (400, &Value::from(Kind::InvalidJson.type_uri()))
    );

    let mut kinds = Vec::new();
    let declared = resolve(
        &spec,
        &operation(&spec, "post", "/v1/tokens")["responses"]["400"],
    );
    kinds_in(
        &spec,
        &declared["content"]["application/problem+json"]["schema"],
        &mut kinds,
    );
    assert!(
        kinds
            .iter()
            .any(|k| k["properties"]["type"]["const"] == body["type"]),
        "POST /v1/tokens declares 400 invalid-json"
    );
}
