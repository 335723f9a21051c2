"""The widget in English and Chinese, in headless Chromium, against a fake Rasa REST endpoint.

The demo page comes from create_app (the real web app); the Rasa server is a small aiohttp app
here that records every request and answers canned replies: Chinese for Chinese text and for
the switch to zh, English otherwise. No Rasa, no model. A screenshot of the widget in Chinese
goes to test-artifacts/widget-zh.png (git-ignored).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import pytest
from aiohttp import web
from playwright.sync_api import expect

from bot.config import ROOT, Settings
from bot.web.app import create_app

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
SHADOW = "document.getElementById('trialchat-root').shadowRoot"
CJK = re.compile(r"[\u4e00-\u9fff]")

ZH_GREETING = "您好！我是临床试验自动助手。请问有什么可以帮您？"
EN_GREETING = "Hello! I am the clinical trial automated assistant. How can I help you?"
ZH_BUTTONS = [{"title": "我应该联系谁？", "payload": "/ask_contact"}]
EN_BUTTONS = [{"title": "Who do I contact?", "payload": "/ask_contact"}]
SWITCH_ZH = '/switch_language{"language": "zh"}'
SWITCH_EN = '/switch_language{"language": "en"}'
RASA_URL = web.AppKey("rasa_url", str)


@dataclass
class FakeRasa:
    """Records each POST body; answers in Chinese or English, or with a queued failure."""

    requests: List[Dict[str, Any]] = field(default_factory=list)
    failures: List[Tuple[int, str, str]] = field(default_factory=list)  # status, type, body
    url: str = ""

    def fail_next(self, status: int, body: Any, content_type: str = "application/json") -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.failures.append((status, content_type, text))

    def messages(self) -> List[str]:
        return [r["message"] for r in self.requests]

    @staticmethod
    def reply_language(body: Dict[str, Any]) -> str:
        message = body.get("message", "")
        if message.startswith("/switch_language"):
            return json.loads(message[len("/switch_language") :])["language"]
        if CJK.search(message):
            return "zh"
        if message.startswith("/"):  # /greet: the widget's hint decides
            return (body.get("metadata") or {}).get("language", "en")
        return "en"

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.failures:
            status, content_type, text = self.failures.pop(0)
            return web.Response(status=status, text=text, content_type=content_type)
        if self.reply_language(body) == "zh":
            replies = [{"recipient_id": body["sender"], "text": ZH_GREETING, "buttons": ZH_BUTTONS}]
        else:
            replies = [{"recipient_id": body["sender"], "text": EN_GREETING, "buttons": EN_BUTTONS}]
        return web.json_response(replies)

    def app(self) -> web.Application:
        @web.middleware
        async def cors(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.method == "OPTIONS":
                response: web.StreamResponse = web.Response(status=204)
                response.headers["Access-Control-Allow-Methods"] = "POST"
                response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            else:
                response = await handler(request)
            response.headers["Access-Control-Allow-Origin"] = "*"
            return response

        app = web.Application(middlewares=[cors])
        app.router.add_route("*", "/webhooks/rest/webhook", self.webhook)
        return app


async def host_page(request: web.Request) -> web.Response:
    """A hospital page of the test's own: `?lang=` for <html lang>, `?config=` (JSON) merged
    into window.TrialChatConfig. Served without a CSP, next to the demo page."""
    lang = request.query.get("lang")
    config = {"serverUrl": request.app[RASA_URL], **json.loads(request.query.get("config", "{}"))}
    attribute = "" if lang is None else f' lang="{lang}"'
    body = f"""<!doctype html><html{attribute}><head><meta charset="utf-8">
        <title>Hospital</title><link rel="icon" href="data:,"></head><body><h1>Hospital</h1>
        <script>window.TrialChatConfig = {json.dumps(config)};</script>
        <script src="/static/widget/widget.js"></script></body></html>"""
    return web.Response(text=body, content_type="text/html")


class Servers:
    """The fake Rasa server and the web app, on their own event loop in a thread."""

    def __init__(self, tmp_path: Any) -> None:
        self.rasa = FakeRasa()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners: List[web.AppRunner] = []
        self.rasa.url = self.run(self.serve(self.rasa.app()))
        app = create_app(Settings(rasa_url=self.rasa.url, var_dir=tmp_path))
        app[RASA_URL] = self.rasa.url
        app.router.add_get("/host.html", host_page)
        self.web_url = self.run(self.serve(app))

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    async def serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    def close(self) -> None:
        for runner in reversed(self.runners):
            self.run(runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    running = Servers(tmp_path_factory.mktemp("widget-zh"))
    yield running
    running.close()


@pytest.fixture
def rasa(servers):
    servers.rasa.requests.clear()
    servers.rasa.failures.clear()
    return servers.rasa


class Widget:
    """A fresh browser context (empty localStorage) on one page, with its errors kept."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.errors: List[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        # Error statuses the tests ask for are logged as "Failed to load resource": not ours.
        self.page.on(
            "console",
            lambda m: (
                m.type == "error"
                and "Failed to load resource" not in m.text
                and self.errors.append(m.text)
            ),
        )
        self.page.goto(url)
        self.root = self.page.locator(".tc")
        self.launcher = self.page.locator(".tc-launcher")
        self.panel = self.page.locator(".tc-panel")
        self.log = self.page.locator(".tc-log")
        self.input = self.page.locator("textarea.tc-input")
        self.switch = self.page.locator("button.tc-language")
        self.error = self.page.locator(".tc-msg--error .tc-bubble")

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()

    def ask(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def expect_chinese(self) -> None:
        expect(self.root).to_have_attribute("lang", "zh-CN")
        expect(self.launcher).to_have_text("咨询助手")
        expect(self.page.locator(".tc-title")).to_have_text("临床试验助手")
        expect(self.input).to_have_attribute("placeholder", "请输入您的问题…")
        expect(self.page.get_by_label("您的消息")).to_have_count(1)
        expect(self.page.locator(".tc-send")).to_have_attribute("aria-label", "发送")
        expect(self.switch).to_have_text("English")
        expect(self.switch).to_have_attribute("aria-label", "Switch to English")
        expect(self.switch).to_have_attribute("lang", "en")

    def expect_english(self) -> None:
        expect(self.root).to_have_attribute("lang", "en")
        expect(self.launcher).to_have_text("Ask our assistant")
        expect(self.page.locator(".tc-title")).to_have_text("Clinical trial assistant")
        expect(self.input).to_have_attribute("placeholder", "Type your question…")
        expect(self.page.locator(".tc-send")).to_have_attribute("aria-label", "Send")
        expect(self.switch).to_have_text("中文")
        expect(self.switch).to_have_attribute("aria-label", "切换到中文")
        expect(self.switch).to_have_attribute("lang", "zh-CN")

    def stored(self) -> Dict[str, Any]:
        return json.loads(self.page.evaluate("() => Object.entries(localStorage)[0][1]"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_widget(browser, servers, rasa):
    opened: List[Widget] = []

    def make(path: str = "/") -> Widget:
        widget = Widget(browser, servers.web_url + path)
        opened.append(widget)
        return widget

    yield make
    for widget in opened:
        widget.close()
        assert widget.errors == [], widget.errors  # no CSP violations, no script errors


def host(lang: Optional[str] = None, **config: Any) -> str:
    from urllib.parse import urlencode

    query: Dict[str, str] = {"config": json.dumps({"initPayload": "", **config})}
    if lang is not None:
        query["lang"] = lang
    return "/host.html?" + urlencode(query)


def test_zh_cn_page_starts_in_chinese_and_says_so_to_the_server(open_widget, rasa):
    chat = open_widget("/?lang=zh")  # the demo page: <html lang="zh-CN">, no language in config
    expect(chat.launcher).to_have_text("咨询助手")
    chat.open()
    chat.expect_chinese()
    expect(chat.page.get_by_role("button", name="开始新对话")).to_be_visible()
    expect(chat.page.get_by_role("button", name="关闭对话")).to_be_visible()
    expect(chat.page.locator("#tc-note")).to_have_text("最多 2000 字。请勿填写个人医疗信息。")
    expect(chat.log).to_contain_text(ZH_GREETING)
    assert rasa.requests[0]["message"] == "/greet"
    assert rasa.requests[0]["metadata"] == {"language": "zh"}

    chat.page.get_by_role("button", name="我应该联系谁？").click()
    expect(chat.page.locator(".tc-msg--user .tc-bubble").last).to_have_text("您说： 我应该联系谁？")
    expect(chat.page.locator(".tc-msg--bot")).to_have_count(2)
    assert rasa.requests[-1]["message"] == "/ask_contact"
    assert rasa.requests[-1]["metadata"] == {"language": "zh"}
    chat.expect_chinese()
    assert chat.stored()["language"] == "zh"
    ARTIFACTS.mkdir(exist_ok=True)
    chat.page.screenshot(path=str(ARTIFACTS / "widget-zh.png"))


@pytest.mark.parametrize(
    "lang, chinese",
    [
        ("zh", True),
        ("zh-CN", True),
        ("zh-Hans", True),
        ("zh-TW", True),
        ("ZH_cn", True),
        ("en-GB", False),
        ("fr", False),
        ("", False),
        (None, False),
    ],
)
def test_the_page_lang_picks_the_starting_language(open_widget, rasa, lang, chinese):
    chat = open_widget(host(lang))
    chat.open()
    if chinese:
        chat.expect_chinese()
    else:
        chat.expect_english()
    assert rasa.requests == []  # initPayload "": nothing sent


def test_the_configured_language_overrides_the_page(open_widget):
    chat = open_widget(host("zh-CN", language="en"))
    chat.open()
    chat.expect_english()
    chat = open_widget(host("en", language="zh"))
    chat.open()
    chat.expect_chinese()
    # A title per language follows the UI language too.
    chat = open_widget(host("en", title={"en": "Study helper", "zh": "研究助手"}))
    chat.open()
    expect(chat.page.locator(".tc-title")).to_have_text("Study helper")
    chat.switch.click()
    expect(chat.page.locator(".tc-title")).to_have_text("研究助手")


def test_every_message_carries_the_language(open_widget, rasa):
    chat = open_widget("/")
    chat.open()
    chat.expect_english()
    expect(chat.log).to_contain_text(EN_GREETING)
    chat.ask("is the study recruiting?")
    expect(chat.page.locator(".tc-msg--bot")).to_have_count(2)
    assert [r["metadata"] for r in rasa.requests] == [{"language": "en"}] * 2
    assert rasa.messages() == ["/greet", "is the study recruiting?"]
    sender = rasa.requests[0]["sender"]
    assert sender.startswith("web-") and rasa.requests[1]["sender"] == sender


def test_the_switch_sends_the_payload_and_changes_the_wording(open_widget, rasa):
    chat = open_widget("/")
    chat.open()
    expect(chat.log).to_contain_text(EN_GREETING)
    chat.expect_english()

    chat.page.get_by_role("button", name="切换到中文").click()
    chat.expect_chinese()  # at once, before the reply
    expect(chat.log).to_contain_text(ZH_GREETING)
    assert rasa.requests[-1]["message"] == SWITCH_ZH
    assert rasa.requests[-1]["metadata"] == {"language": "zh"}
    # The transcript shows the button's label, never the payload.
    expect(chat.page.locator(".tc-msg--user .tc-bubble").last).to_have_text("您说： 中文")
    expect(chat.log).not_to_contain_text("switch_language")
    expect(chat.page.get_by_role("button", name="我应该联系谁？")).to_be_visible()
    expect(chat.page.get_by_role("button", name="Who do I contact?")).to_have_count(0)

    # The language is kept with the conversation: a reload (of an English page) stays Chinese.
    assert chat.stored()["language"] == "zh"
    chat.page.reload()
    expect(chat.panel).to_be_visible()
    chat.expect_chinese()
    expect(chat.log).not_to_contain_text("switch_language")
    chat.ask("你好")
    expect(chat.page.locator(".tc-msg--bot")).to_have_count(3)
    assert rasa.requests[-1]["metadata"] == {"language": "zh"}

    # "New conversation" keeps the language the patient chose.
    chat.page.get_by_role("button", name="开始新对话").click()
    expect(chat.page.locator(".tc-msg--bot")).to_have_count(1)
    chat.expect_chinese()
    assert rasa.requests[-1]["message"] == "/greet"
    assert rasa.requests[-1]["metadata"] == {"language": "zh"}

    # And back.
    chat.switch.click()
    chat.expect_english()
    expect(chat.log).to_contain_text(EN_GREETING)
    assert rasa.requests[-1]["message"] == SWITCH_EN
    assert rasa.requests[-1]["metadata"] == {"language": "en"}
    expect(chat.page.locator(".tc-msg--user .tc-bubble").last).to_have_text("You said: English")
    assert chat.stored()["language"] == "en"


def test_the_widget_follows_the_language_of_the_replies(open_widget, rasa):
    chat = open_widget("/")
    chat.open()
    expect(chat.log).to_contain_text(EN_GREETING)
    chat.expect_english()

    chat.ask("请问这个研究在招募吗？")  # the server answers in Chinese...
    expect(chat.log).to_contain_text(ZH_GREETING)
    chat.expect_chinese()  # ...and the widget follows
    assert rasa.requests[-1]["metadata"] == {"language": "en"}  # the hint at the time
    bubbles = chat.page.locator(".tc-msg--bot .tc-bubble")
    expect(bubbles.last).to_have_attribute("lang", "zh-CN")
    expect(bubbles.first).to_have_attribute("lang", "en")  # earlier text keeps its language
    expect(bubbles.first.locator(".tc-who")).to_have_text("助手说：")  # the UI's wording

    chat.ask("who do I contact")  # an English reply of three words or more: back to English
    expect(chat.page.locator(".tc-msg--bot")).to_have_count(3)
    chat.expect_english()
    assert rasa.requests[-1]["metadata"] == {"language": "zh"}
    assert chat.stored()["language"] == "en"


def test_short_replies_without_chinese_do_not_switch(open_widget, rasa):
    chat = open_widget(host("zh-CN"))
    chat.page.route(
        "**/webhooks/rest/webhook",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": "*"},
            body=json.dumps([{"text": "OK 👍"}, {"text": "NCT05113290"}]),
        ),
    )
    chat.open()
    chat.ask("好的")
    expect(chat.log).to_contain_text("NCT05113290")
    chat.expect_chinese()


def test_a_503_with_a_message_shows_that_message(open_widget, rasa):
    chat = open_widget("/?lang=zh")
    message = "系统正在维护，请您十分钟后再试。"
    rasa.fail_next(503, {"message": message})
    chat.open()
    expect(chat.error).to_have_text(message)
    expect(chat.page.get_by_role("button", name="重试")).to_be_visible()
    expect(chat.page.locator(".tc-typing")).to_be_hidden()
    chat.page.get_by_role("button", name="重试").click()
    expect(chat.log).to_contain_text(ZH_GREETING)
    expect(chat.error).to_have_count(0)

    # In English, with the server's English message.
    chat = open_widget("/")
    rasa.fail_next(503, {"message": "We are updating the assistant. Back in ten minutes."})
    chat.open()
    expect(chat.error).to_have_text("We are updating the assistant. Back in ten minutes.")


def test_other_failures_show_a_localized_generic_message(open_widget, rasa):
    generic_zh = "抱歉，助手暂时无法使用，请您过几分钟再试。"
    generic_en = "The assistant is not available right now. Please try again in a few minutes."
    chat = open_widget("/?lang=zh")
    chat.open()
    expect(chat.log).to_contain_text(ZH_GREETING)
    failures = [
        (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
        (500, {"error": 'Traceback (most recent call last):\n  File "x.py", line 1'}, None),
        (500, {"message": 'Traceback (most recent call last):\n  File "x.py", line 1'}, None),
        (500, {"message": "<b>down</b>"}, None),
        # Sanic's own error body: English, technical, not for patients.
        (500, {"description": "Internal Server Error", "status": 500, "message": "boom"}, None),
        (400, {"error": "'message' is empty"}, None),
    ]
    for status, body, content_type in failures:
        rasa.fail_next(status, body, content_type or "application/json")
        chat.ask("你好")
        expect(chat.error).to_have_text(generic_zh)
        for leak in ("<", "Traceback", "boom", "Bad Gateway", "empty"):
            expect(chat.log).not_to_contain_text(leak)

    # The generic message follows the UI language.
    chat.switch.click()
    expect(chat.log).to_contain_text(EN_GREETING)
    rasa.fail_next(503, "")
    chat.ask("hello")
    expect(chat.error).to_have_text(generic_en)
    chat.switch.click()
    expect(chat.error).to_have_count(0)  # a new message clears the old error
    expect(chat.log).to_contain_text(ZH_GREETING)


def test_429_asks_the_patient_to_wait(open_widget, rasa):
    chat = open_widget("/?lang=zh")
    rasa.fail_next(429, {})
    chat.open()
    expect(chat.error).to_have_text("消息发送过于频繁，请您稍候片刻。")
    expect(chat.page.get_by_role("button", name="重试")).to_be_visible()

    chat = open_widget("/")
    rasa.fail_next(429, "Too Many Requests", "text/plain")
    chat.open()
    expect(chat.error).to_have_text("Too many messages; please wait a moment.")

    # A message from the server wins over the generic one.
    chat = open_widget("/")
    rasa.fail_next(429, {"message": "Please wait 30 seconds before sending another message."})
    chat.open()
    expect(chat.error).to_have_text("Please wait 30 seconds before sending another message.")


def test_a_server_that_cannot_be_reached_gets_the_connection_message(open_widget):
    chat = open_widget("/?lang=zh")
    chat.page.route("**/webhooks/rest/webhook", lambda route: route.abort())
    chat.open()
    expect(chat.error).to_have_text("抱歉，暂时无法连接助手。请检查网络后稍后再试。")
