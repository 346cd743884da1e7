"""schemathesis hooks for scripts/contract (loaded through SCHEMATHESIS_HOOKS).

cargo lambda's function-URL emulator answers a body that is not UTF-8 with
its own 500, before any function runs; API Gateway and Lambda function URLs
pass such a body base64-encoded, which the functions answer with 400
invalid-json (crates/lambda/tests/robustness.rs). Such bodies test the
emulator, not Tessera, so they are not sent.
"""

import schemathesis


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
