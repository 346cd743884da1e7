"""The capture assets as files: what they may and may not contain (no
browser needed). The frame's rules that a browser run cannot see fail
here: a postMessage to "*", inline script or style, a URL to anywhere."""

import re

from conftest import ASSETS

FILES = ["frame.html", "frame.js", "frame.css", "tessera-capture.js"]


def read(name):
    return (ASSETS / name).read_text()


def test_every_post_message_names_an_exact_origin():
    calls = 0
    for name in ("frame.js", "tessera-capture.js"):
        for call in re.finditer(r"postMessage\(([^;]*)\)", read(name)):
            calls += 1
            target = call.group(1).rsplit(",", 1)[-1].strip()
            assert target in ("parentOrigin", "frameOrigin", "origin"), (name, call.group(0))
            if target == "origin":
                # The frame's hello: to each of the session's exact origins, carrying nothing.
                assert name == "frame.js" and "ORIGINS.forEach(function (origin)" in read(name)
                assert call.group(1).startswith('{ tessera: 1, type: "hello" }'), call.group(0)
    assert calls == 3


def test_no_inline_code_or_style_and_nothing_from_elsewhere():
    html = read("frame.html")
    # Scripts and styles only by src/href to the frame's own directory.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="frame.js" defer>']
    assert re.findall(r"<link[^>]*>", html) == ['<link rel="stylesheet" href="frame.css">']
    assert "<style" not in html and " style=" not in html and not re.search(r"\son\w+=", html)
    # The only placeholders are the root element's four attributes.
    assert re.findall(r"\{\{(\w+)\}\}", html) == ["lang", "session", "origins", "state"]
    assert html.count("{{") == 4 and html.index("{{state}}") < html.index(">", html.index("<html"))
    for name in FILES:
        text = read(name)
        assert not re.search(r"https?://", text), f"{name} names a URL"
        assert not re.search(r"\beval\(|new Function|innerHTML|outerHTML|insertAdjacentHTML|document\.write", text), name
        assert "setAttribute(\"style\"" not in text and "cssText" not in text, name
        assert "@import" not in text and "url(" not in text.replace("url\\(", ""), name


def test_card_inputs_autofill_together():
    html = read("frame.html")
    for field, token in (("number", "cc-number"), ("expiry", "cc-exp"), ("name", "cc-name")):
        tag = re.search(r'<input id="%s"[^>]*>' % field, html).group(0)
        assert f'autocomplete="{token}"' in tag
        assert re.search(r'<label for="%s"' % field, html)
        assert 'aria-describedby="%s-error' % field in tag
    assert html.count("<form") == 1  # one frame, one form: autofill fills every field at once


def test_frame_weight_budget():
    total = sum(len((ASSETS / n).read_bytes()) for n in ("frame.html", "frame.js", "frame.css"))
    assert total < 30_000, total
