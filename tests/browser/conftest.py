"""Fixtures of the capture browser suite (run by scripts/browser-test).

scripts/browser-test starts the local stack (moto, the functions under
`cargo lambda watch`) and two demo merchant servers on free ports, then runs
pytest with:
- TESSERA_API: the functions' base, e.g. http://127.0.0.1:PORT/lambda-url;
- DEMO_URL: the merchant checkout page (http://localhost:PORT, named in sessions);
- OTHER_URL: the same server code on another port (an origin no session names);
- STACK_DIR: where the stack keeps lambda.env (the table, the emulator); LOG_FILES: the files the log
  scan reads (colon-separated); ARTIFACTS: where screenshots and figures go.

Headless Chromium is Debian's (/usr/bin/chromium), never a downloaded build.
"""

import base64
import hashlib
import json
import os
import random
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "crates/lambda/assets/capture"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# Every PAN typed and every client secret handed out in this run: the log
# scan (test_zz_logs.py) looks for each in every log line of the stack.
SENSITIVE = {"pans": set(), "secrets": set()}


def luhn_complete(prefix, length):
    """A random card number of `length` digits starting with `prefix`, Luhn valid."""
    body = prefix + "".join(random.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    pan = body + str((10 - total % 10) % 10)
    SENSITIVE["pans"].add(pan)
    return pan


def origin_of(url):
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}"


def http(method, url, body=None, headers=None, timeout=120):
    """(status, headers, parsed JSON or raw bytes) of one plain HTTP call."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if body is not None and "content-type" not in {k.lower() for k in (headers or {})}:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, hdrs, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    try:
        return status, hdrs, json.loads(raw) if raw else None
    except ValueError:
        return status, hdrs, raw


class Stack:
    """The local stack as the tests reach it: the session API (as the merchant
    backend, through the dev principal), the capture API (as any browser
    would), detokenize (as a detokenize role) and the emulator's table."""

    def __init__(self):
        self.api = os.environ["TESSERA_API"].rstrip("/")
        self.capture = f"{self.api}/capture"
        self.vault_origin = origin_of(self.api)
        self.demo = os.environ["DEMO_URL"].rstrip("/")
        self.demo_origin = origin_of(self.demo)
        self.other = os.environ["OTHER_URL"].rstrip("/")
        self.other_origin = origin_of(self.other)
        self.artifacts = Path(os.environ.get("ARTIFACTS", ROOT / "target/browser"))
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.stack_dir = Path(os.environ["STACK_DIR"]) if os.environ.get("STACK_DIR") else None

    def loader_url(self):
        return f"{self.capture}/capture/v1/tessera-capture.js"

    def frame_url(self, session, lang=None):
        return f"{self.capture}/capture/v1/frame?session={session}" + (f"&lang={lang}" if lang else "")

    def create_session(self, **body):
        body.setdefault("origins", [self.demo_origin])
        status, _, answer = http("POST", f"{self.api}/capture-sessions/v1/capture-sessions", body)
        assert status == 201, (status, answer)
        SENSITIVE["secrets"].add(answer["client_secret"])
        return answer

    def get_session(self, session_id):
        status, _, answer = http("GET", f"{self.api}/capture-sessions/v1/capture-sessions/{session_id}")
        assert status == 200, (status, answer)
        return answer

    def post_capture(self, session_id, secret, body, origin=None):
        headers = {"authorization": f"Bearer {secret}"}
        if origin:
            headers["origin"] = origin
        return http("POST", f"{self.capture}/v1/capture?session={session_id}", body, headers)

    def detokenize(self, token):
        status, _, answer = http("POST", f"{self.api}/detokenize/v1/detokenize",
                                 {"token": token, "reason": "browser suite: capture round trip"})
        assert status == 200, (status, answer)
        return answer["pan"]

    def expire(self, session_id):
        """Moves the session's expiry into the past in the emulator's table:
        the stand-in for waiting out its 60 seconds at least."""
        import boto3  # moto's dependency, in the project venv

        settings = {}
        # The functions' settings: the table and the emulator's endpoint.
        for line in (self.stack_dir / "lambda.env").read_text().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                settings[key.strip()] = value.strip().strip("'\"")
        table = settings["TESSERA_TABLE"]
        client = boto3.client("dynamodb", endpoint_url=settings["AWS_ENDPOINT_URL"], region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        # Both ends move back: the lifetime (exp - created) stays a valid one.
        now = int(time.time())
        client.update_item(
            TableName=table,
            Key={"pk": {"S": f"s#{session_id}"}},
            UpdateExpression="SET #e = :ended, #c = :created",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#e": "exp", "#c": "created"},
            ExpressionAttributeValues={":ended": {"N": str(now - 100)}, ":created": {"N": str(now - 200)}},
        )


def sri(data):
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def wrong_secret():
    """A client secret of the right shape that no session has."""
    value = "cscs_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    SENSITIVE["secrets"].add(value)
    return value


@pytest.fixture(scope="session")
def stack():
    return Stack()


@pytest.fixture(scope="session")
def playwright_instance():
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield b
    b.close()


# Records, in the merchant page's top window only, every message it receives.
RECORD_MESSAGES = """
if (window.top === window) {
  window.__messages = [];
  window.addEventListener("message", function (e) {
    window.__messages.push({ origin: e.origin, data: e.data });
  });
}
"""


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 720, "height": 900})
    ctx.add_init_script(RECORD_MESSAGES)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    p = context.new_page()
    p.errors = []
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    return p


class Checkout:
    """The demo merchant page with the card frame in it."""

    def __init__(self, page, stack):
        self.page, self.stack = page, stack

    def open(self, query="", session=None, wait_ready=True):
        """Opens the checkout; with `session` ({session_id, client_secret})
        the merchant backend's answer is replaced by that session."""
        if session is not None:
            body = json.dumps({"session_id": session["session_id"], "client_secret": session["client_secret"]})
            self.page.route(lambda url: urlparse(url).path == "/api/session", lambda route: route.fulfill(
                status=201, content_type="application/json", body=body))
        self.page.goto(f"{self.stack.demo}/{query}")
        if wait_ready:
            try:
                self.page.wait_for_selector("#pay:not([disabled])", timeout=60000)
            except Exception as e:
                raise AssertionError(
                    f"the checkout never got ready: message {self.page.inner_text('#message')!r}, "
                    f"events {self.events()}, page errors {getattr(self.page, 'errors', None)}, "
                    f"frames {[f.url for f in self.page.frames]}") from e
        return self

    @property
    def frame(self):
        return self.page.frame_locator("#card iframe")

    def child(self):
        """The card frame as a Playwright Frame (for evaluate in the test-only contexts)."""
        for f in self.page.frames:
            if f.url.startswith(f"{self.stack.capture}/capture/v1/frame"):
                return f
        raise AssertionError(f"no card frame among {[f.url for f in self.page.frames]}")

    def type_card(self, pan, expiry="12/30", name=None):
        self.frame.locator("#number").press_sequentially(pan)
        self.frame.locator("#expiry").press_sequentially(expiry.replace("/", ""))
        if name is not None:
            self.frame.locator("#name").fill(name)

    def messages(self):
        return self.page.evaluate("window.__messages")

    def events(self):
        return self.page.locator("#events li").all_inner_texts()

    def wait_event(self, name, timeout=60000):
        self.page.wait_for_function(
            "name => Array.from(document.querySelectorAll('#events li')).some(li => li.textContent.startsWith(name + ' '))",
            arg=name, timeout=timeout)

    def pay_and_wait(self):
        self.page.click("#pay")
        self.page.wait_for_selector("#result:not([hidden])", timeout=60000)


@pytest.fixture
def checkout(page, stack):
    return Checkout(page, stack)
