use super::*;

const ROLE: &str = "arn:aws:iam::111122223333:role/tok";

#[test]
fn the_config_digest_covers_names_and_values() {
    // sha256 of "a=1\nb=2\n"
    assert_eq!(
        config_digest(&[("a", "1".into()), ("b", "2".into())]),
        "SnOFD940qtQP-GSbk6ZlI6X-dENXo5McrqDxBgnQ2TA"
    );
}

#[test]
fn no_config_digest_reads_as_a_card_number() {
    // In hex, about one digest in a hundred holds a Luhn-valid run of digits.
    for i in 0..5_000 {
        let digest = config_digest(&[("TESSERA_FORWARD_DESTINATIONS", format!("port {i}"))]);
        assert!(!tessera_core::contains_card_number(&digest), "{digest}");
    }
}

#[test]
fn sources_and_decisions_read_as_the_audit_trail_records_them() {
    assert_eq!(Source::Iam.to_string(), "iam");
    assert_eq!(Source::DevSetting.to_string(), "dev-setting");
    let principal = Principal::parse(ROLE).expect("role");
    let allow = |source| Decision::Allow {
        principal: principal.clone(),
        source,
    };
    assert_eq!(allow(Source::Iam).reason(), "principal on allow-list");
    assert_eq!(
        allow(Source::DevSetting).reason(),
        "dev principal on allow-list"
    );
    assert_eq!(
        Decision::Unauthenticated.reason(),
        "no IAM principal in request context"
    );
}

/// An event of `version` ("1.0", "2.0") from API `api`, stage `prod`,
/// account 111122223333, with `arn` as the SigV4 caller if given, invoking
/// a function of `function_account`.
fn request(version: &str, arn: Option<&str>, function_account: &str) -> Request {
    let mut event = if version == "1.0" {
        serde_json::json!({
            "resource": "/v1/tokens", "path": "/v1/tokens", "httpMethod": "POST",
            "headers": {}, "body": null, "isBase64Encoded": false,
            "requestContext": {
                "accountId": "111122223333", "apiId": "api", "stage": "prod",
                "resourcePath": "/v1/tokens", "httpMethod": "POST", "path": "/prod/v1/tokens",
                "requestId": "r", "identity": {"userArn": arn, "sourceIp": "127.0.0.1"}
            }
        })
    } else {
        serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/v1/tokens",
            "rawQueryString": "", "headers": {}, "isBase64Encoded": false,
            "requestContext": {
                "accountId": "111122223333", "apiId": "api", "stage": "prod",
                "domainName": "example.com", "requestId": "r", "routeKey": "$default",
                "time": "23/Nov/2026:12:00:00 +0000", "timeEpoch": 0,
                "http": {"method": "POST", "path": "/v1/tokens", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "t"},
                "authorizer": {"iam": {"userArn": arn}}
            }
        })
    };
    if version == "2.0-no-authorizer" {
        event["requestContext"]
            .as_object_mut()
            .expect("context")
            .remove("authorizer");
    }
    let request = crate::event::decode(event).expect("decodes").request;
    let mut context = lambda_http::Context::default();
    context.invoked_function_arn =
        format!("arn:aws:lambda:eu-west-1:{function_account}:function:tokenize");
    request.with_lambda_context(context)
}

#[test]
fn the_caller_is_read_from_either_payload_format() {
    for version in ["1.0", "2.0"] {
        assert_eq!(
            caller_arn(&request(version, Some(ROLE), "111122223333")).as_deref(),
            Some(ROLE),
            "{version}"
        );
        assert_eq!(
            caller_arn(&request(version, Some(""), "111122223333")),
            None
        );
        assert_eq!(caller_arn(&request(version, None, "111122223333")), None);
    }
}

#[test]
fn an_origin_is_its_api_its_stage_and_the_functions_own_account() {
    let origin = ApiOrigin::parse("api", "prod").expect("origin");
    for version in ["1.0", "2.0"] {
        assert!(origin.accepts(&request(version, Some(ROLE), "111122223333"), true));
        let foreign = request(version, Some(ROLE), "999922223333");
        assert!(!origin.accepts(&foreign, true), "{version}");
        assert!(origin.accepts(&foreign, false), "{version}");
        for other in [
            ApiOrigin::parse("other", "prod").expect("origin"),
            ApiOrigin::parse("api", "dev").expect("origin"),
        ] {
            let same = request(version, Some(ROLE), "111122223333");
            assert!(!other.accepts(&same, true), "{version} {other:?}");
            assert!(!other.accepts(&same, false), "{version} {other:?}");
        }
    }
    // No function ARN (no Lambda context) proves no account.
    let no_context = crate::event::decode(serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/v1/tokens",
        "rawQueryString": "", "headers": {}, "isBase64Encoded": false,
        "requestContext": {"accountId": "111122223333", "apiId": "api", "stage": "prod",
            "http": {"method": "POST", "path": "/v1/tokens", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "t"}}
    }))
    .expect("decodes")
    .request;
    assert!(!origin.accepts(&no_context, true));
}

#[test]
fn authorization_decides_from_the_verified_caller_alone() {
    let list = AllowList::parse(ROLE).expect("list");
    let other = AllowList::parse("arn:aws:iam::111122223333:role/other").expect("list");
    let dev = Some("arn:aws:iam::111122223333:role/other");
    let session = "arn:aws:sts::111122223333:assumed-role/tok/s";
    for version in ["1.0", "2.0"] {
        let listed = request(version, Some(session), "111122223333");
        assert!(matches!(
            authorize(&listed, &[&other, &list], dev),
            Decision::Allow {
                source: Source::Iam,
                ..
            }
        ));
        assert_eq!(
            authorize(&listed, &[&other], None).reason(),
            "principal not on this function's allow-lists"
        );
        let malformed = request(version, Some("role/tok"), "111122223333");
        assert_eq!(
            authorize(&malformed, &[&list], None).reason(),
            "caller is not an IAM role or user"
        );
        // A gateway request without a principal is not the dev caller.
        let anonymous = request(version, None, "111122223333");
        assert_eq!(
            authorize(&anonymous, &[&other], dev),
            Decision::Unauthenticated
        );
    }
    let local = request("2.0-no-authorizer", None, "111122223333");
    assert!(has_no_authorizer_context(&local));
    assert!(!has_no_authorizer_context(&request(
        "2.0",
        None,
        "111122223333"
    )));
    assert!(matches!(
        authorize(&local, &[&other], dev),
        Decision::Allow {
            source: Source::DevSetting,
            ..
        }
    ));
    assert_eq!(
        authorize(&local, &[&other], None),
        Decision::Unauthenticated
    );
}
