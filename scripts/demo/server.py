"""The demo checkout page: a merchant's web server on its own origin.

It plays both merchant parts of a card capture:
- the page (GET /): a checkout that loads Tessera's loader from the vault's
  origin, pinned by its SRI hash, and mounts the card frame;
- the backend (POST /api/session, GET /api/session/<id>): asks the vault for
  a capture session naming this origin, and later reads the session back to
  learn the token (a merchant must not trust a token handed over by the
  browser).

Locally the session API is the `capture-sessions` function under `cargo
lambda watch`, reached with plain HTTP: the dev principal stands in for the
SigV4 signature a real backend sends to the IAM API. Nothing here sees a card
number; the client secret passes through once (to the page) and is never
logged. Standard library only.

Usage: server.py --port 8080 --api http://127.0.0.1:9000/lambda-url
       [--host localhost] [--capture-base URL] [--loader-file PATH]
"""

import argparse
import base64
import hashlib
import html
import json
import re
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LOADER = ROOT / "crates/lambda/assets/capture/tessera-capture.js"
SESSION_ID = re.compile(r"^cs_[a-z2-7]{26}$")
STATIC = {
    "/checkout.js": ("checkout.js", "text/javascript; charset=utf-8"),
    "/checkout.css": ("checkout.css", "text/css; charset=utf-8"),
}
LANGS = ("en", "de")


def sri(path):
    """The loader's integrity value: what a merchant publishes and pins (scripts/sri)."""
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def origin_of(url):
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}"


class Demo:
    """What the handler needs: where the vault is and what this origin is."""

    def __init__(self, args):
        self.api = args.api.rstrip("/")
        # The capture function's public base: the loader, the frame and POST /v1/capture.
        self.capture = (args.capture_base or f"{self.api}/capture").rstrip("/")
        self.origin = f"http://{args.host}:{args.port}"
        self.loader_url = f"{self.capture}/capture/v1/tessera-capture.js"
        self.integrity = sri(Path(args.loader_file))
        self.vault_origin = origin_of(self.capture)

    def call(self, method, path, body=None):
        """Calls the session API; returns (status, parsed JSON or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api}/capture-sessions{path}", data=data, method=method,
            headers={"content-type": "application/json", "accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"null")
            except ValueError:
                return error.code, None
        except (urllib.error.URLError, OSError):
            return 502, {"title": "the vault did not answer"}


class Handler(BaseHTTPRequestHandler):
    server_version = "tessera-demo"
    demo: Demo = None  # set by main

    def log_message(self, fmt, *args):
        # The request line only (paths and statuses; no bodies, no headers).
        sys.stderr.write("demo: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, status, body, ctype, csp=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.send_header("cache-control", "no-store")
        self.send_header("x-content-type-options", "nosniff")
        self.send_header("referrer-policy", "no-referrer")
        if csp:
            self.send_header("content-security-policy", csp)
        self.end_headers()
        self.wfile.write(data)

    def json(self, status, body):
        self.reply(status, json.dumps(body), "application/json")

    def page_csp(self):
        # The merchant page's own strict CSP: its scripts, the vault's loader
        # and frame, nothing inline. The frame needs no more than frame-src.
        vault = self.demo.vault_origin
        return (
            "default-src 'none'; "
            f"script-src 'self' {vault}; style-src 'self'; frame-src {vault}; "
            "connect-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
        )

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/":
            page = (HERE / "checkout.html").read_text()
            for key, value in (
                ("loader", self.demo.loader_url),
                ("integrity", self.demo.integrity),
                ("vault", self.demo.vault_origin),
            ):
                page = page.replace("{{%s}}" % key, html.escape(value, quote=True))
            return self.reply(200, page, "text/html; charset=utf-8", self.page_csp())
        if url.path == "/blank":
            # A bare page of this origin with no CSP (the browser suite runs
            # scripts in it as a page the session does not name).
            return self.reply(200, "<!doctype html><html lang=\"en\"><title>blank</title><p>blank</p></html>",
                              "text/html; charset=utf-8")
        if url.path in STATIC:
            name, ctype = STATIC[url.path]
            return self.reply(200, (HERE / name).read_bytes(), ctype)
        match = re.match(r"^/api/session/([^/]+)$", url.path)
        if match:
            session = match.group(1)
            if not SESSION_ID.match(session):
                return self.json(400, {"error": "not a session id"})
            status, body = self.demo.call("GET", f"/v1/capture-sessions/{session}")
            if status != 200 or not isinstance(body, dict):
                return self.json(502, {"error": "the vault refused", "status": status})
            # The backend's view of the order: state and token facts.
            return self.json(200, {"state": body.get("state"), "cards": body.get("cards", [])})
        self.reply(404, "not found", "text/plain")

    def do_POST(self):
        url = urlparse(self.path)
        if url.path != "/api/session":
            return self.reply(404, "not found", "text/plain")
        # A real backend would check its own CSRF defences here; the body is
        # the page's choice of language and whether it shows the name field.
        query = parse_qs(url.query)
        request = {"origins": [self.demo.origin]}
        lang = query.get("lang", [""])[0]
        if lang in LANGS:
            request["lang"] = lang
        # The page shows the cardholder name field only if the session takes
        # a name: the vault refuses a name the session did not ask for.
        if query.get("name", [""])[0] == "1":
            request["fields"] = {"name": True}
        status, body = self.demo.call("POST", "/v1/capture-sessions", request)
        if status != 201 or not isinstance(body, dict):
            return self.json(502, {"error": "the vault refused the session", "status": status, "problem": body})
        self.json(201, {"session_id": body["session_id"], "client_secret": body["client_secret"]})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="localhost", help="the host name of this origin (bound on 127.0.0.1)")
    parser.add_argument("--api", default="http://127.0.0.1:9000/lambda-url",
                        help="base of the functions (capture-sessions/ and capture/ below it)")
    parser.add_argument("--capture-base", help="the capture function's base URL (default: API/capture)")
    parser.add_argument("--loader-file", default=str(LOADER), help="the loader whose SRI hash the page pins")
    args = parser.parse_args()
    Handler.demo = Demo(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    sys.stderr.write(f"demo: checkout page on {Handler.demo.origin}/ (loader {Handler.demo.loader_url})\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
