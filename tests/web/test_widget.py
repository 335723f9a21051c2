"""The demo page and the widget's static files, through create_app (no Rasa needed)."""

import json
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.web.app import create_app
from bot.web.widget import STATIC_DIR, content_security_policy, rasa_origin
from tests.support import SEED

RASA_URL = "http://rasa.example.org:5005"


async def client_for(rasa_url: str, tmp_path) -> TestClient:
    settings = Settings(rasa_url=rasa_url, var_dir=tmp_path)
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


@pytest.fixture
async def client(tmp_path):
    client = await client_for(RASA_URL, tmp_path)
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


def trial_facts() -> list:
    record = json.loads((SEED / "NCT05113290.json").read_text())["protocolSection"]
    status = record["statusModule"]
    contact = record["contactsLocationsModule"]["centralContacts"][0]
    facts = [
        status["overallStatus"],
        status["overallStatus"].replace("_", " "),
        status["startDateStruct"]["date"],
        status["completionDateStruct"]["date"],
        contact["name"],
        contact["name"].split(",")[0],
        contact["phone"],
        contact["phone"].split("-")[-1],
        record["identificationModule"]["briefTitle"],
        "sorafenib",
        "adenovirus",
        "hepatocellular",
    ]
    return facts + ["索拉非尼", "肝细胞癌", "腺病毒"]


@pytest.mark.parametrize("query", ["", "?lang=zh"])
async def test_demo_page_states_no_trial_facts(client, query):
    """Facts come from the assistant only: status, dates, names and phone are not in the page."""
    body = (await (await client.get("/" + query)).text()).lower()
    for fact in trial_facts():
        assert fact.lower() not in body, fact


@pytest.mark.parametrize("query", ["?lang=zh", "?lang=zh-CN", "?lang=ZH-hans"])
async def test_demo_page_in_chinese(client, query):
    """The Chinese demo page says lang="zh-CN"; the widget config leaves the language to it."""
    body = await (await client.get("/" + query)).text()
    assert '<html lang="zh-CN">' in body
    assert "<title>临床试验 | 示例医院</title>" in body and "data-trialchat-open" in body
    assert 'href="/?lang=en" lang="en"' in body  # the way back to English
    config = page_config(body)
    assert config == {"serverUrl": RASA_URL}  # no language, no title: both follow <html lang>


async def test_demo_page_defaults_to_english(client):
    for query in ("", "?lang=fr", "?lang=", "?lang=<b>"):
        body = await (await client.get("/" + query)).text()
        assert '<html lang="en">' in body, query
        assert 'href="/?lang=zh" lang="zh-CN"' in body
        assert "<b>" not in body


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


async def test_a_hostile_rasa_url_cannot_break_the_page_or_the_policy(tmp_path):
    client = await client_for(
        "http://evil.example/</script><script>alert(1)</script>; script-src *", tmp_path
    )
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
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
    ):
        assert sink not in source, sink
    assert "textContent" in source and "maxlength: String(MAX_LENGTH)" in source
    assert "var MAX_LENGTH = 2000;" in source
    css = (STATIC_DIR / "widget" / "widget.css").read_text()
    assert "white-space: pre-line" in css and "max-width: 480px" in css


CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def widget_strings(source: str) -> dict:
    """{"en": {key: text}, "zh": {...}} from widget.js's STRINGS (functions as their source)."""
    block = re.search(r"\n  var STRINGS = \{\n(.*?)\n  \};\n", source, re.S)
    assert block, "widget.js defines var STRINGS = {...};"
    languages = dict(re.findall(r"^    (\w+): \{\n(.*?)\n    \}", block.group(1), re.S | re.M))
    return {
        language: dict(re.findall(r"^      (\w+): (.*?),?$", body, re.M))
        for language, body in languages.items()
    }


async def test_widget_wording_exists_in_english_and_chinese(client):
    """Both dictionaries have exactly the same keys, in the file the app serves."""
    source = await (await client.get("/static/widget/widget.js")).text()
    assert source == (STATIC_DIR / "widget" / "widget.js").read_text()
    strings = widget_strings(source)
    assert set(strings) == {"en", "zh"}
    assert list(strings["en"]) == list(strings["zh"])
    for key in (
        "title",
        "placeholder",
        "send",
        "restart",
        "typing",
        "error",
        "unavailable",
        "tooMany",
        "launcher",
        "close",
        "inputLabel",
        "log",
        "retry",
        "used",
    ):
        assert key in strings["en"], key
    for key, text in strings["en"].items():
        assert not CJK.search(text), (key, text)
    for key, text in strings["zh"].items():
        assert CJK.search(text), (key, text)
        assert "你" not in text, (key, text)  # polite: 您
    unavailable = "The assistant is not available right now. Please try again in a few minutes."
    assert strings["en"]["unavailable"] == f'"{unavailable}"'
    assert strings["en"]["tooMany"] == '"Too many messages; please wait a moment."'
    # The language switch, labelled in the language it switches to.
    assert 'en: {label: "English", aria: "Switch to English"}' in source
    assert 'zh: {label: "中文", aria: "切换到中文"}' in source


def test_widget_sends_the_language_and_the_switch_payload():
    source = (STATIC_DIR / "widget" / "widget.js").read_text()
    assert "metadata: {language: state.language}" in source
    assert """'/switch_language{"language": "' + language + '"}'""" in source


def test_widget_states_no_trial_facts():
    source = (STATIC_DIR / "widget" / "widget.js").read_text().lower()
    for fact in trial_facts():
        assert fact.lower() not in source, fact
