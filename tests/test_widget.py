"""The demo page and the widget's static files, through create_app (no Rasa needed)."""
import json
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.settings import Settings
from bot.web.app import create_app
from bot.web.widget import STATIC_DIR, content_security_policy, rasa_origin
from tests.conftest import SEED

RASA_URL = "http://rasa.example.org:5005"


async def client_for(rasa_url: str = RASA_URL) -> TestClient:
    client = TestClient(TestServer(create_app(Settings(rasa_url=rasa_url))))
    await client.start_server()
    return client


@pytest.fixture
async def client():
    client = await client_for()
    yield client
    await client.close()


def csp_directives(header: str) -> dict:
    return {part.split()[0]: part.split()[1:] for part in header.split("; ")}


def page_config(body: str) -> dict:
    match = re.search(r"<script nonce=\"[^\"]+\">window\.TrialChatConfig = (.*?);</script>", body)
    assert match, "the page sets window.TrialChatConfig"
    return json.loads(match.group(1))


async def test_demo_page_embeds_the_widget_pointed_at_rasa(client):
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    body = await response.text()
    assert '<script src="/static/widget/widget.js" defer></script>' in body
    assert page_config(body)["serverUrl"] == RASA_URL
    assert 'lang="en"' in body and "<title>" in body and "data-trialchat-open" in body


async def test_demo_page_security_headers(client):
    response = await client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    directives = csp_directives(response.headers["Content-Security-Policy"])
    assert directives["default-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'", RASA_URL]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'self'"]
    # The one inline script (the config) runs by nonce; the nonce changes per response.
    nonce = re.search(r'<script nonce="([^"]+)">', await response.text()).group(1)
    assert directives["script-src"] == ["'self'", f"'nonce-{nonce}'"]
    again = await client.get("/")
    assert again.headers["Content-Security-Policy"] != response.headers["Content-Security-Policy"]


async def test_demo_page_states_no_trial_facts(client):
    """Facts come from the assistant only: status, dates, names and phone are not in the page."""
    body = (await (await client.get("/")).text()).lower()
    record = json.loads((SEED / "NCT05113290.json").read_text())["protocolSection"]
    status = record["statusModule"]
    contact = record["contactsLocationsModule"]["centralContacts"][0]
    facts = [status["overallStatus"], status["overallStatus"].replace("_", " "),
             status["startDateStruct"]["date"], status["completionDateStruct"]["date"],
             contact["name"], contact["name"].split(",")[0], contact["phone"],
             contact["phone"].split("-")[-1], record["identificationModule"]["briefTitle"],
             "sorafenib", "adenovirus", "hepatocellular"]
    for fact in facts:
        assert fact.lower() not in body, fact


async def test_widget_script_and_stylesheet_are_served(client):
    script = await client.get("/static/widget/widget.js")
    assert script.status == 200
    assert "javascript" in script.content_type
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert script.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "/webhooks/rest/webhook" in await script.text()
    style = await client.get("/static/widget/widget.css")
    assert style.status == 200 and style.content_type == "text/css"
    assert (await client.get("/static/demo/demo.css")).status == 200


async def test_static_route_serves_nothing_outside_the_static_folder(client):
    for path in ("/static/../widget.py", "/static/%2e%2e/widget.py", "/static/widget/nope.js"):
        response = await client.get(path)
        assert response.status in (403, 404), path


async def test_health_still_answers(client):
    assert (await client.get("/health")).status == 200


async def test_a_hostile_rasa_url_cannot_break_the_page_or_the_policy():
    client = await client_for("http://evil.example/</script><script>alert(1)</script>; script-src *")
    try:
        response = await client.get("/")
        body = await response.text()
        assert "<script>alert(1)" not in body
        assert page_config(body)["serverUrl"].startswith("http://evil.example/")
        directives = csp_directives(response.headers["Content-Security-Policy"])
        assert directives["connect-src"] == ["'self'", "http://evil.example"]
        assert "*" not in directives["script-src"]
    finally:
        await client.close()


def test_rasa_origin():
    assert rasa_origin("http://127.0.0.1:5005") == "http://127.0.0.1:5005"
    assert rasa_origin("https://chat.hospital.example/rasa/") == "https://chat.hospital.example"
    for bad in ("javascript:alert(1)", "127.0.0.1:5005", "ftp://host", ""):
        with pytest.raises(ValueError):
            rasa_origin(bad)
    assert "connect-src 'self' http://h:1;" in content_security_policy("n", "http://h:1/x")


def test_widget_source_renders_text_only():
    """A guard against regressions: the widget never parses HTML from strings."""
    source = (STATIC_DIR / "widget" / "widget.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function"):
        assert sink not in source, sink
    assert "textContent" in source and 'maxlength: String(MAX_LENGTH)' in source
    assert "var MAX_LENGTH = 2000;" in source
    css = (STATIC_DIR / "widget" / "widget.css").read_text()
    assert "white-space: pre-line" in css and "max-width: 480px" in css
