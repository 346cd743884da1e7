//! Forward end to end on the emulator: the function built from its
//! environment like a deployed one (vault table, KMS key, destinations and
//! grants), sending a PAN read from DynamoDB and opened with a KMS data key
//! to the stub processor over TLS, and the caller getting only the masked
//! answer. The stub's test CA reaches the function only through the dev
//! setting, which exists only in builds with the dev feature.

use std::sync::Arc;

use serde_json::{Value, json};
use tessera_core::{Clock, Pan, SystemClock, TokenizeRequest};
use tessera_e2e::{FUNCTION_ARN, env_reader, stack};
use tessera_lambda::{Forward, build_app};
use tessera_testkit::find_card_numbers;
use tessera_testkit::stub::StubProcessor;

const FORWARDER: &str = "arn:aws:iam::111122223333:role/payments-forwarder";

fn event(body: &Value) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/v1/forward",
        "rawQueryString": "",
        "headers": { "content-type": "application/json" },
        "requestContext": {
            "accountId": "111122223333",
            "apiId": "def456",
            "authorizer": { "iam": { "userArn": "arn:aws:sts::111122223333:assumed-role/payments-forwarder/s" } },
            "domainName": "example.com",
            "http": { "method": "POST", "path": "/v1/forward", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t" },
            "requestId": "r",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:12:00:00 +0000",
            "timeEpoch": 0
        },
        "body": body.to_string(),
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn forwards_a_vault_pan_to_the_stub_and_returns_only_the_masked_answer() {
    let s = stack().await;
    let stub = StubProcessor::start(
        "127.0.0.1:0".parse().expect("addr"),
        &["processor.localhost"],
    )
    .await
    .expect("stub");
    let ca = std::env::temp_dir().join(format!("tessera-stub-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, &stub.ca_pem).expect("write CA");
    let port = stub.addr.port();
    let mut env = s.env();
    env.insert("TESSERA_FORWARD_ROLES".into(), FORWARDER.into());
    env.insert(
        "TESSERA_FORWARD_DESTINATIONS".into(),
        format!(r#"[{{"name":"stub","host":"processor.localhost","port":{port},"methods":["POST"],"body_format":"json","paths":[{{"prefix":"/v1/charges","card_fields":["/number"]}}]}}]"#),
    );
    env.insert("TESSERA_FORWARD_GRANTS".into(), format!("{FORWARDER}=stub"));
    env.insert("TESSERA_FORWARD_DEV_CA".into(), ca.display().to_string());

    // Configuration errors are named at start-up.
    let mut bad = env.clone();
    bad.insert(
        "TESSERA_FORWARD_GRANTS".into(),
        format!("{FORWARDER}=nowhere"),
    );
    let err = build_app::<Forward>(env_reader(bad), &s.sdk, Arc::new(|_| {}))
        .await
        .err()
        .expect("a grant of an unknown destination");
    assert!(
        err.to_string().contains("TESSERA_FORWARD_DESTINATIONS"),
        "{err}"
    );
    assert!(err.to_string().contains("nowhere"), "{err}");

    let app = build_app::<Forward>(env_reader(env), &s.sdk, Arc::new(|_| {}))
        .await
        .expect("forward starts");
    let tokenizer = s.tokenizer(Arc::new(SystemClock) as Arc<dyn Clock>).await;
    let token = tokenizer
        .tokenize(&TokenizeRequest::new(
            Pan::parse("4111111111111111").expect("pan"),
        ))
        .await
        .expect("tokenize")
        .token;

    let call = |body: Value| {
        let app = &app;
        async move {
            let mut context = lambda_http::Context::default();
            context.invoked_function_arn = FUNCTION_ARN.into();
            app.handle_event(event(&body), context)
                .await
                .expect("an HTTP event")
        }
    };
    let response = call(json!({
        "url": format!("https://processor.localhost:{port}/v1/charges"),
        "method": "POST",
        "headers": {"content-type": "application/json"},
        "body": format!(r#"{{"amount":1000,"number":"{{{{{}}}}}"}}"#, token.as_str()),
        "reason": "e2e charge",
    }))
    .await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let received = stub.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].body,
        r#"{"amount":1000,"number":"4111111111111111"}"#
    );
    let text = response.to_string();
    assert_eq!(
        find_card_numbers(&text),
        vec![],
        "a card number reached the caller"
    );
    let answer: Value =
        serde_json::from_str(response["body"].as_str().expect("body")).expect("json");
    assert_eq!(answer["status"], 201);
    assert!(
        answer["body"]
            .as_str()
            .expect("text")
            .contains("411111******1111")
    );

    // An unknown token: 404, and nothing is sent.
    let response = call(json!({
        "url": format!("https://processor.localhost:{port}/v1/charges"),
        "method": "POST",
        "body": r#"{"number":"{{tok_0000000000000000000000000z}}"}"#,
        "reason": "e2e charge",
    }))
    .await;
    assert_eq!(response["statusCode"], 404, "{response}");
    assert_eq!(stub.received().len(), 1);
    let _ = std::fs::remove_file(ca);
}
