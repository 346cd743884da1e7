#!/usr/bin/env python3
"""Writes the sample API Gateway events and their manifest.

Each event is a complete Lambda payload (REST API v1 or HTTP API v2) that
`cargo lambda invoke <function> --data-file events/<file>` replays, and
that tests/replay.rs feeds through the handlers in process. manifest.json
lists, in replay order, the function each event goes to and the response it
must produce. Run `python3 events/generate.py` after editing this file.
"""
import base64
import json
import pathlib

HERE = pathlib.Path(__file__).parent
ACCOUNT = "111122223333"
TOKENIZER = f"arn:aws:sts::{ACCOUNT}:assumed-role/payments-tokenizer/checkout-7f3a"
DETOKENIZER = f"arn:aws:sts::{ACCOUNT}:assumed-role/settlement-detokenizer/settle-2c91"
ADMIN = f"arn:aws:sts::{ACCOUNT}:assumed-role/tessera-admin/erasure-51d0"
STRANGER = f"arn:aws:sts::{ACCOUNT}:assumed-role/marketing-analytics/report-9e02"
FORWARDER = f"arn:aws:sts::{ACCOUNT}:assumed-role/payments-forwarder/charge-4b17"
CHECKOUT = f"arn:aws:sts::{ACCOUNT}:assumed-role/checkout-backend/web-3c1d"
CHECKOUT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/checkout-backend"
# The public capture API (its own API id; the IAM API is abc123/def456).
CAPTURE_API = "pub789"
SHOP = "https://shop.example"
# Capture sessions the replay test seeds (capture-fixtures.json): a known
# client secret, so the capture events can authenticate. Test values only.
FIXTURE_SESSION = "cs_aaaaaaaaaaaaaaaaaaaaaaaaaa"
FIXTURE_SECRET = "cscs_" + "A" * 43
UNKNOWN_SESSION = "cs_zzzzzzzzzzzzzzzzzzzzzzzzzz"
CAPTURE_FIXTURES = [
    {"session_id": FIXTURE_SESSION, "client_secret": FIXTURE_SECRET, "owner": CHECKOUT_ROLE,
     "origins": [SHOP], "max_cards": 1},
]
# The dev stack's stub processor (scripts/dev; tests/replay.rs starts its own).
STUB = "https://processor.localhost:18443"
# Fixture tokens the dev bootstrap and the replay test seed (fixtures.json).
FIXTURE_OPAQUE = "tok_0000000000000000000000000a"
FIXTURE_FPE = "4111110000001111"
FIXTURE_DELETE_V1 = "tok_0000000000000000000000000b"
FIXTURE_DELETE_V2 = "tok_0000000000000000000000000c"
UNKNOWN = "tok_0000000000000000000000000z"

FIXTURES = [
    {"token": FIXTURE_OPAQUE, "pan": "4111111111111111", "metadata": {"merchant": "m-001", "order": "A-1001"}},
    {"token": FIXTURE_FPE, "pan": "4111111111111111", "format": "fpe"},
    {"token": FIXTURE_DELETE_V1, "pan": "6011000990139424"},
    {"token": FIXTURE_DELETE_V2, "pan": "30569309025904"},
]

JSON = {"content-type": "application/json"}


def rest(method, path, resource, principal, body=None, headers=None, b64=False, path_params=None):
    headers = dict(headers if headers is not None else JSON)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": "Xb7ZmFq1oAMFf9Q=",
            "requestTime": "23/Nov/2026:12:00:00 +0000",
            "path": f"/prod{path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "abc123",
            "requestTimeEpoch": 1795435200000,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": ACCOUNT if principal else None,
                "cognitoIdentityId": None,
                "caller": "AROAEXAMPLEROLEID:session" if principal else None,
                "sourceIp": "203.0.113.10",
                "principalOrgId": None,
                "accessKey": "ASIAEXAMPLEKEY" if principal else None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": principal,
                "userAgent": "payments-service/2.4",
                "user": "AROAEXAMPLEROLEID:session" if principal else None,
            },
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123",
        },
        "body": (base64.b64encode(body.encode()).decode() if b64 else body) if body is not None else None,
        "isBase64Encoded": b64,
    }


def http(method, path, route, principal, body=None, headers=None, b64=False, path_params=None):
    headers = dict(headers if headers is not None else JSON)
    authorizer = {"iam": {
        "accessKey": "ASIAEXAMPLEKEY",
        "accountId": ACCOUNT,
        "callerId": "AROAEXAMPLEROLEID:session",
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": principal,
        "userId": "AROAEXAMPLEROLEID:session",
    }} if principal else {}
    event = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {**headers, "x-amzn-trace-id": "Root=1-6742a1b0-0123456789abcdef01234567"},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "def456",
            "authorizer": authorizer,
            "domainName": "def456.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "def456",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "198.51.100.7", "userAgent": "payments-service/2.4"},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": "23/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795435200000,
        },
        "body": (base64.b64encode(body.encode()).decode() if b64 else body) if body is not None else None,
        "isBase64Encoded": b64,
    }
    if path_params:
        event["pathParameters"] = path_params
    return event


def body(obj):
    return json.dumps(obj, separators=(",", ":"))


EVENTS = []  # (name, function, event, expectation)


def add(name, function, event, status, problem=None, fields=None, equals=None, items=None, correlation=None):
    expect = {"status": status}
    if correlation:
        expect["correlation_id"] = correlation
    if problem:
        expect["problem"] = problem
    if fields:
        expect["fields"] = fields
    if equals:
        expect["equals"] = equals
    if items:
        expect["items"] = items
    EVENTS.append((name, function, event, expect))
    return event


TOKEN_FIELDS = ["token", "format", "bin", "last4", "brand", "pan_length", "created_at"]


def both(name, function, method, path, route, principal, status, *, pan_v1=None, pan_v2=None, payload=None,
         problem=None, fields=None, equals=None, items=None, headers=None, b64=False, raw=None, path_params=None,
         mark_b64=False, correlation=None):
    """One event per payload format; tokenize PANs differ so dedup does not blur them."""
    for kind, build, pan in (("rest", rest, pan_v1), ("http", http, pan_v2)):
        data = raw
        if payload is not None:
            p = dict(payload)
            if pan is not None:
                p["pan"] = pan
            data = body(p)
        hdrs = dict(headers if headers is not None else JSON)
        if correlation:
            hdrs["x-correlation-id"] = correlation
        ev = build(method, path, route, principal, data, hdrs, b64, path_params)
        if mark_b64:
            ev["isBase64Encoded"] = True
        eq = dict(equals or {})
        if pan is not None and "last4" in eq:
            eq["last4"] = pan[-4:]
        add(f"{kind}-{name}", function, ev, status, problem, fields, eq or None, items, correlation)


# Tokenize function
both("tokenize-opaque", "tokenize", "POST", "/v1/tokens", "/v1/tokens", TOKENIZER, 201,
     pan_v1="4242 4242 4242 4242", pan_v2="4000056655665556",
     payload={"metadata": {"order": "A-2001"}}, fields=TOKEN_FIELDS,
     equals={"format": "opaque", "brand": "visa", "last4": None}, correlation="order-A-2001")
both("tokenize-base64-body", "tokenize", "POST", "/v1/tokens", "/v1/tokens", TOKENIZER, 201,
     pan_v1="6200000000000005", pan_v2="3566002020360505", payload={}, b64=True, fields=TOKEN_FIELDS,
     equals={"last4": None})
both("tokenize-fpe", "tokenize", "POST", "/v1/tokens", "/v1/tokens", TOKENIZER, 201,
     pan_v1="5555555555554444", pan_v2="5200828282828210",
     payload={"format": "fpe", "expires": "12/30"}, fields=TOKEN_FIELDS + ["expires_at"],
     equals={"format": "fpe", "brand": "mastercard", "last4": None})
for kind, good, bad in (("rest", "378282246310005", "378282246310006"), ("http", "2223003122003222", "2223003122003223")):
    builder = rest if kind == "rest" else http
    add(f"{kind}-tokenize-batch-one-bad", "tokenize",
        builder("POST", "/v1/tokens/batch", "/v1/tokens/batch", TOKENIZER,
                body({"items": [{"pan": good}, {"pan": bad}, {"pan": good, "format": "fpe"}]})),
        200, fields=["results"],
        items=[{"status": 201, "fields": TOKEN_FIELDS},
               {"status": 400, "problem": "luhn-check-failed"},
               {"status": 201, "fields": TOKEN_FIELDS}])
both("lookup-hit", "tokenize", "POST", "/v1/tokens/lookup", "/v1/tokens/lookup", TOKENIZER, 200,
     payload={"pan": "4111111111111111"}, fields=TOKEN_FIELDS, equals={"token": FIXTURE_OPAQUE})
both("lookup-miss", "tokenize", "POST", "/v1/tokens/lookup", "/v1/tokens/lookup", TOKENIZER, 404,
     payload={"pan": "3530111333300000"}, problem="token-not-found")
both("describe", "tokenize", "GET", f"/v1/tokens/{FIXTURE_OPAQUE}", "/v1/tokens/{token}", TOKENIZER, 200,
     fields=TOKEN_FIELDS + ["metadata"], equals={"token": FIXTURE_OPAQUE, "last4": "1111", "brand": "visa"},
     headers={}, path_params={"token": FIXTURE_OPAQUE})
both("tokenize-invalid-pan", "tokenize", "POST", "/v1/tokens", "/v1/tokens", TOKENIZER, 400,
     raw=body({"pan": "4111-1111-abcd-1111"}), problem="invalid-pan")
both("tokenize-luhn-failure", "tokenize", "POST", "/v1/tokens", "/v1/tokens", TOKENIZER, 400,
     raw=body({"pan": "4111111111111112"}), problem="luhn-check-failed")
both("tokenize-cvv", "tokenize", "POST", "/v1/tokens", "/v1/tokens", TOKENIZER, 400,
     raw=body({"pan": "4111111111111111", "cvv": "123"}), problem="forbidden-field")
both("tokenize-unknown-field", "tokenize", "POST", "/v1/tokens", "/v1/tokens", TOKENIZER, 400,
     raw=body({"pan": "4111111111111111", "colour": "blue"}), problem="unknown-field")
both("tokenize-wrong-content-type", "tokenize", "POST", "/v1/tokens", "/v1/tokens", TOKENIZER, 415,
     raw="pan=4111111111111111", headers={"content-type": "application/x-www-form-urlencoded"},
     problem="unsupported-media-type")
both("tokenize-oversized", "tokenize", "POST", "/v1/tokens", "/v1/tokens", TOKENIZER, 413,
     raw=body({"pan": "4111111111111111", "metadata": {"note": "x" * (66 * 1024)}}), problem="payload-too-large")
both("tokenize-invalid-base64", "tokenize", "POST", "/v1/tokens", "/v1/tokens", TOKENIZER, 400,
     raw="eyJwYW4iOi!!!not-base64", mark_b64=True, problem="invalid-base64")
both("tokenize-method-not-allowed", "tokenize", "GET", "/v1/tokens", "/v1/tokens", TOKENIZER, 405,
     headers={}, problem="method-not-allowed")
both("tokenize-unknown-route", "tokenize", "POST", "/v1/cards", "/v1/cards", TOKENIZER, 404,
     raw=body({}), problem="route-not-found")
both("tokenize-not-listed", "tokenize", "POST", "/v1/tokens", "/v1/tokens", STRANGER, 403,
     raw=body({"pan": "4111111111111111"}), problem="forbidden")

# A Lambda function URL with AWS_IAM auth: payload 2.0 with the $default route.
url = http("POST", "/v1/tokens", "/v1/tokens", TOKENIZER, body({"pan": "4012888888881881"}))
url["routeKey"] = url["requestContext"]["routeKey"] = "$default"
url["requestContext"]["domainName"] = "abcdefghijklmnop.lambda-url.us-east-1.on.aws"
add("url-tokenize", "tokenize", url, 201, fields=TOKEN_FIELDS, equals={"last4": "1881"})

# Detokenize function
both("detokenize-allowed", "detokenize", "POST", "/v1/detokenize", "/v1/detokenize", DETOKENIZER, 200,
     raw=body({"token": FIXTURE_OPAQUE, "reason": "settlement batch 2026-11-23"}),
     fields=TOKEN_FIELDS + ["pan"], equals={"pan": "4111111111111111", "token": FIXTURE_OPAQUE})
both("detokenize-fpe", "detokenize", "POST", "/v1/detokenize", "/v1/detokenize", DETOKENIZER, 200,
     raw=body({"token": FIXTURE_FPE, "reason": "chargeback CB-7781"}),
     fields=TOKEN_FIELDS + ["pan"], equals={"pan": "4111111111111111", "format": "fpe"})
both("detokenize-not-listed", "detokenize", "POST", "/v1/detokenize", "/v1/detokenize", TOKENIZER, 403,
     raw=body({"token": FIXTURE_OPAQUE, "reason": "curiosity"}), problem="forbidden")
both("detokenize-no-principal", "detokenize", "POST", "/v1/detokenize", "/v1/detokenize", None, 401,
     raw=body({"token": FIXTURE_OPAQUE, "reason": "settlement"}), problem="unauthenticated")
both("detokenize-unknown-token", "detokenize", "POST", "/v1/detokenize", "/v1/detokenize", DETOKENIZER, 404,
     raw=body({"token": UNKNOWN, "reason": "settlement"}), problem="token-not-found")
both("detokenize-missing-reason", "detokenize", "POST", "/v1/detokenize", "/v1/detokenize", DETOKENIZER, 400,
     raw=body({"token": FIXTURE_OPAQUE}), problem="invalid-reason")
both("detokenize-batch", "detokenize", "POST", "/v1/detokenize/batch", "/v1/detokenize/batch", DETOKENIZER, 200,
     raw=body({"tokens": [FIXTURE_OPAQUE, UNKNOWN, "not-a-token", FIXTURE_FPE], "reason": "settlement"}),
     fields=["results"],
     items=[{"status": 200, "equals": {"pan": "4111111111111111"}},
            {"status": 404, "problem": "token-not-found"},
            {"status": 400, "problem": "invalid-token"},
            {"status": 200, "equals": {"pan": "4111111111111111"}}])

# Admin function
for kind, builder, token in (("rest", rest, FIXTURE_DELETE_V1), ("http", http, FIXTURE_DELETE_V2)):
    add(f"{kind}-delete", "admin",
        builder("DELETE", f"/v1/tokens/{token}", "/v1/tokens/{token}", ADMIN, None, {}, False, {"token": token}),
        204)
    add(f"{kind}-delete-not-listed", "admin",
        builder("DELETE", f"/v1/tokens/{FIXTURE_OPAQUE}", "/v1/tokens/{token}", DETOKENIZER, None, {}, False,
                {"token": FIXTURE_OPAQUE}),
        403, problem="forbidden")


# Forward function: the stub processor receives the fixture's PAN; the
# caller gets the stub's answer with the echoed card number masked.
FORWARD_FIELDS = ["status", "headers", "body"]
both("forward-stub", "forward", "POST", "/v1/forward", "/v1/forward", FORWARDER, 200,
     payload={"url": f"{STUB}/v1/charges", "method": "POST",
              "headers": {"content-type": "application/json", "idempotency-key": "order-A-1001"},
              "body": body({"amount": 1000, "currency": "EUR", "card": {"number": "{{" + FIXTURE_OPAQUE + "}}"}}),
              "reason": "charge order A-1001"},
     fields=FORWARD_FIELDS, equals={"status": 201})
both("forward-not-granted", "forward", "POST", "/v1/forward", "/v1/forward", FORWARDER, 403,
     payload={"url": f"{STUB}/v2/payouts", "method": "POST",
              "body": body({"card": "{{" + FIXTURE_OPAQUE + "}}"}), "reason": "payout"},
     problem="destination-not-allowed")
both("forward-unknown-token", "forward", "POST", "/v1/forward", "/v1/forward", FORWARDER, 404,
     payload={"url": f"{STUB}/v1/charges", "method": "POST",
              "body": body({"card": "{{" + UNKNOWN + "}}"}), "reason": "charge"},
     problem="token-not-found")
both("forward-placeholder-in-url", "forward", "POST", "/v1/forward", "/v1/forward", FORWARDER, 400,
     payload={"url": f"{STUB}/v1/charges?card={{{{{FIXTURE_OPAQUE}}}}}", "method": "POST", "reason": "charge"},
     problem="invalid-destination")
both("forward-not-listed", "forward", "POST", "/v1/forward", "/v1/forward", STRANGER, 403,
     payload={"url": f"{STUB}/v1/charges", "method": "POST", "reason": "charge"}, problem="forbidden")


# Capture sessions function (IAM API)
for kind, builder in (("rest", rest), ("http", http)):
    add(f"{kind}-capture-sessions-create", "capture-sessions",
        builder("POST", "/v1/capture-sessions", "/v1/capture-sessions", CHECKOUT,
                body({"origins": [SHOP], "max_cards": 2, "metadata": {"order": "A-3001"}})),
        201, fields=["session_id", "client_secret", "expires_at"])
add("rest-capture-sessions-get", "capture-sessions",
    rest("GET", f"/v1/capture-sessions/{FIXTURE_SESSION}", "/v1/capture-sessions/{id}", CHECKOUT, None, {}, False,
         {"id": FIXTURE_SESSION}),
    200, fields=["session_id", "state", "expires_at", "max_cards", "failed_attempts", "cards"],
    equals={"session_id": FIXTURE_SESSION, "state": "open", "cards": []})
add("rest-capture-sessions-get-other-role", "capture-sessions",
    rest("GET", f"/v1/capture-sessions/{FIXTURE_SESSION}", "/v1/capture-sessions/{id}", TOKENIZER, None, {}, False,
         {"id": FIXTURE_SESSION}),
    404, problem="capture-session-not-found")
add("rest-capture-sessions-bad-origin", "capture-sessions",
    rest("POST", "/v1/capture-sessions", "/v1/capture-sessions", CHECKOUT,
         body({"origins": ["https://*.shop.example"]})),
    400, problem="invalid-origin")
add("rest-capture-sessions-pan-in-metadata", "capture-sessions",
    rest("POST", "/v1/capture-sessions", "/v1/capture-sessions", CHECKOUT,
         body({"origins": [SHOP], "metadata": {"note": "4111 1111 1111 1111"}})),
    400, problem="invalid-metadata")


def expect_headers(headers):
    """The response headers the last added event must carry (names lower case)."""
    EVENTS[-1][3]["headers"] = headers


FRAME_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
             "img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors " + SHOP)


def public(method, path, resource, query=None, body_text=None, headers=None):
    """A REST API event of the public capture API: no IAM principal."""
    ev = rest(method, path, resource, None, body_text, headers if headers is not None else {})
    ev["requestContext"]["apiId"] = CAPTURE_API
    ev["requestContext"]["domainName"] = f"{CAPTURE_API}.execute-api.us-east-1.amazonaws.com"
    if query:
        ev["queryStringParameters"] = query
        ev["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return ev


CAPTURE_JSON = {"content-type": "application/json", "origin": SHOP,
                "authorization": f"Bearer {FIXTURE_SECRET}"}
SESSION = {"session": FIXTURE_SESSION}
add("rest-capture-frame", "capture",
    public("GET", "/capture/v1/frame", "/capture/v1/frame", SESSION), 200)
expect_headers({"content-type": "text/html; charset=utf-8", "content-security-policy": FRAME_CSP,
                "referrer-policy": "no-referrer", "cache-control": "no-store"})
add("rest-capture-frame-unknown", "capture",
    public("GET", "/capture/v1/frame", "/capture/v1/frame", {"session": UNKNOWN_SESSION}),
    404, problem="capture-session-not-found")
expect_headers({"content-security-policy": "default-src 'none'; frame-ancestors 'none'"})
add("rest-capture-loader", "capture",
    public("GET", "/capture/v1/tessera-capture.js", "/capture/v1/tessera-capture.js"), 200)
expect_headers({"content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=300",
                "access-control-allow-origin": "*", "cross-origin-resource-policy": "cross-origin"})
add("rest-capture-preflight", "capture",
    public("OPTIONS", "/v1/capture", "/v1/capture", SESSION, None,
           {"origin": SHOP, "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type"}), 204)
expect_headers({"access-control-allow-origin": SHOP, "access-control-allow-methods": "POST",
                "access-control-allow-headers": "authorization, content-type", "vary": "Origin"})
add("rest-capture-wrong-secret", "capture",
    public("POST", "/v1/capture", "/v1/capture", SESSION, body({"pan": "4111111111111111"}),
           {**CAPTURE_JSON, "authorization": "Bearer cscs_" + "B" * 43}),
    401, problem="capture-unauthorized")
add("rest-capture-unknown-session", "capture",
    public("POST", "/v1/capture", "/v1/capture", {"session": UNKNOWN_SESSION}, body({"pan": "4111111111111111"}),
           CAPTURE_JSON),
    401, problem="capture-unauthorized")
add("rest-capture-cvv", "capture",
    public("POST", "/v1/capture", "/v1/capture", SESSION, body({"pan": "4111111111111111", "cvv": "123"}),
           CAPTURE_JSON),
    400, problem="forbidden-field")
add("rest-capture-pan-in-name", "capture",
    public("POST", "/v1/capture", "/v1/capture", SESSION,
           body({"pan": "4111111111111111", "cardholder_name": "4111 1111 1111 1111"}), CAPTURE_JSON),
    400, problem="invalid-cardholder-name")
add("rest-capture", "capture",
    public("POST", "/v1/capture", "/v1/capture", SESSION,
           body({"pan": "5105105105105100", "expiry": "12/30", "cardholder_name": "Jane Doe"}), CAPTURE_JSON),
    201, fields=["token", "bin", "last4", "brand"], equals={"last4": "5100", "brand": "mastercard"})
expect_headers({"access-control-allow-origin": SHOP, "vary": "Origin"})
add("rest-capture-used", "capture",
    public("POST", "/v1/capture", "/v1/capture", SESSION, body({"pan": "4111111111111111"}), CAPTURE_JSON),
    410, problem="capture-session-closed")
expect_headers({"access-control-allow-origin": SHOP})
# The API-origin check both ways: capture refuses the IAM API's events, and
# the IAM functions refuse the capture API's.
iam_capture = public("POST", "/v1/capture", "/v1/capture", SESSION, body({"pan": "4111111111111111"}),
                     CAPTURE_JSON)
iam_capture["requestContext"]["apiId"] = "abc123"
add("rest-capture-from-iam-api", "capture", iam_capture, 403, problem="untrusted-origin")
# The public API carries no IAM principal.
public_tokenize = rest("POST", "/v1/tokens", "/v1/tokens", None, body({"pan": "4111111111111111"}))
public_tokenize["requestContext"]["apiId"] = CAPTURE_API
add("rest-tokenize-from-capture-api", "tokenize", public_tokenize, 403, problem="untrusted-origin")


def main():
    for old in HERE.glob("*.json"):
        old.unlink()
    manifest = []
    for name, function, event, expect in EVENTS:
        (HERE / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")
        manifest.append({"event": f"{name}.json", "function": function, **expect})
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (HERE / "fixtures.json").write_text(json.dumps(FIXTURES, indent=2) + "\n")
    (HERE / "capture-fixtures.json").write_text(json.dumps(CAPTURE_FIXTURES, indent=2) + "\n")
    print(f"wrote {len(manifest)} events")


if __name__ == "__main__":
    main()
