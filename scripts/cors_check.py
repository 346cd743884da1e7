"""Checks that the local stack adds no CORS of its own (run by scripts/contract).

`cargo lambda watch` wraps every function in a CORS layer unless started with
`--disable-cors`: it answers a preflight from any Origin with that origin and
`access-control-allow-credentials: true`, so any page the developer's browser
opens could call the dev stack as the dev principal and read the answer
(detokenized PANs included). The IAM functions send no CORS headers
themselves, so a cross-origin preflight and a cross-origin request to each
must come back with no `access-control-allow-origin`.

Usage: cors_check.py BASE (e.g. http://127.0.0.1:9000/lambda-url). Exits 1
and names each response that carried a CORS grant.
"""

import json
import sys
import urllib.error
import urllib.request

ORIGIN = "https://attacker.example"
# (function, method, path, body): one operation of each function.
CALLS = [
    ("tokenize", "POST", "/v1/tokens", {"pan": "4242424242424242", "format": "opaque"}),
    ("detokenize", "POST", "/v1/detokenize", {"token": "tok_0000000000000000000000000a", "reason": "cors check"}),
    ("admin", "DELETE", "/v1/tokens/tok_0000000000000000000000000z", None),
    ("forward", "POST", "/v1/forward", {"url": "https://processor.localhost:1/v1/charges", "method": "POST", "reason": "cors check"}),
]
GRANTS = ("access-control-allow-origin", "access-control-allow-credentials")


def call(method, url, headers, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def main(base):
    failures = []
    for function, method, path, body in CALLS:
        url = f"{base}/{function}{path}"
        preflight = {
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        }
        actual = {"Origin": ORIGIN}
        if body is not None:
            actual["Content-Type"] = "application/json"
        for kind, status, headers in [
            ("preflight", *call("OPTIONS", url, preflight)),
            ("cross-origin " + method, *call(method, url, actual, body)),
        ]:
            granted = {h: headers[h] for h in GRANTS if headers.get(h) is not None}
            if granted:
                failures.append(f"{kind} {url}: {status} with {granted}")
            else:
                print(f"ok: {kind} {url}: {status}, no CORS grant")
    for failure in failures:
        print(f"CORS granted to {ORIGIN}: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1].rstrip("/")))
