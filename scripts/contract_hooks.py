"""schemathesis hooks for scripts/contract (loaded through SCHEMATHESIS_HOOKS).

cargo lambda's function-URL emulator answers a body that is not UTF-8 with
its own 500, before any function runs; API Gateway and Lambda function URLs
pass such a body base64-encoded, which the functions answer with 400
invalid-json (crates/lambda/tests/robustness.rs). Such bodies test the
emulator, not Tessera, so they are not sent.

The spec's forward example names the dev stack's stub processor
(processor.localhost:18443); scripts/contract runs its own on a free port
(CONTRACT_STUB_PORT), so each request's forward URL is pointed there.
"""

import os

import schemathesis

DEV_STUB = "https://processor.localhost:18443"


def _is_utf8(body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    if isinstance(body, str):
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


@schemathesis.hook
def filter_body(ctx, body):
    return _is_utf8(body)


@schemathesis.hook
def before_call(ctx, case, kwargs):
    port = os.environ.get("CONTRACT_STUB_PORT")
    body = case.body
    if port and isinstance(body, dict) and isinstance(body.get("url"), str):
        body["url"] = body["url"].replace(DEV_STUB, f"https://processor.localhost:{port}")
