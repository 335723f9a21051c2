"""The chat widget in headless Chromium against the real stack: web app, Rasa and action server.

The demo page (port: free) embeds the widget pointed at the live Rasa server (another origin,
so CORS is exercised too). Screenshots go to test-artifacts/ (git-ignored).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from bot.config import ROOT

pytestmark = pytest.mark.browser

PHONE = "0086-18991232095"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
ARTIFACTS = ROOT / "test-artifacts"
SHADOW = "document.getElementById('trialchat-root').shadowRoot"


@pytest.fixture(scope="module")
def stack(live_stack):
    return live_stack


@pytest.fixture(scope="module")
def web_url(stack):
    """`python -m bot web` with RASA_URL pointing at the live Rasa server."""
    return stack.start_web("web-widget") + "/"


class Page:
    """A fresh browser context (empty localStorage) on the demo page, with its errors kept."""

    def __init__(self, browser, url, width=1280, height=800):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on(
            "response", lambda r: r.status >= 400 and self.errors.append(f"{r.status} {r.url}")
        )
        self.page.goto(url)
        self.launcher = self.page.locator(".tc-launcher")
        self.panel = self.page.locator(".tc-panel")
        self.log = self.page.locator(".tc-log")
        self.input = self.page.locator("textarea.tc-input")
        self.typing = self.page.locator(".tc-typing")

    def open(self):
        self.launcher.click()
        expect(self.panel).to_be_visible()
        self.greeted()

    def greeted(self):
        """An empty conversation opens with the bot's greeting and its quick replies."""
        expect(self.log).to_contain_text("automated assistant", timeout=30_000)

    def ask(self, text):
        self.input.fill(text)
        self.input.press("Enter")

    def last_reply(self):
        """The newest bot message that follows a user message (not the opening greeting)."""
        return self.page.locator(".tc-msg--user ~ .tc-msg--bot").last

    def user_bubbles(self):
        return self.page.locator(".tc-msg--user .tc-bubble")

    def active(self):
        """What has keyboard focus inside the widget: 'launcher', 'input', a chip title..."""
        return self.page.evaluate(f"""() => {{
            if (document.activeElement !== document.getElementById('trialchat-root')) return null;
            const a = {SHADOW}.activeElement;
            if (!a) return null;
            if (a.classList.contains('tc-launcher')) return 'launcher';
            if (a.classList.contains('tc-input')) return 'input';
            return a.textContent;
        }}""")

    def close(self):
        self.context.close()


@pytest.fixture
def chat(browser, web_url):
    page = Page(browser, web_url)
    yield page
    page.close()
    assert page.errors == [], page.errors  # no CSP violations, no script errors


def test_questions_quick_replies_and_reload(chat):
    page = chat.page
    expect(chat.panel).to_be_hidden()
    chat.open()
    expect(chat.input).to_be_focused()

    chat.ask("is the study recruiting?")
    expect(chat.user_bubbles().last).to_have_text("You said: is the study recruiting?")
    expect(chat.log).to_contain_text('"not yet recruiting"', timeout=30_000)
    expect(chat.typing).to_be_hidden()

    chat.ask("hi")
    chip = page.get_by_role("button", name="Who do I contact?")
    expect(chip).to_have_count(1, timeout=30_000)  # only the latest quick replies are live
    chip.click()
    expect(chat.user_bubbles().last).to_have_text("You said: Who do I contact?")
    expect(chip).to_have_count(0)  # answered quick replies go away
    expect(chat.last_reply()).to_contain_text(PHONE, timeout=30_000)
    expect(chat.typing).to_be_hidden()
    expect(chat.input).to_be_focused()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget.png"))

    # The conversation, the sender id and the open panel survive a reload.
    sender = page.evaluate("() => Object.entries(localStorage)[0][1]")
    page.reload()
    expect(chat.panel).to_be_visible()
    expect(chat.log).to_contain_text("is the study recruiting?")
    expect(chat.log).to_contain_text(PHONE)
    expect(chat.log).to_contain_text('"not yet recruiting"')
    assert (
        json.loads(page.evaluate("() => Object.entries(localStorage)[0][1]"))["sender"]
        == json.loads(sender)["sender"]
    )

    # The same sender id still reaches the same conversation on the server.
    chat.ask("thank you")
    expect(chat.last_reply()).to_contain_text("You're welcome", timeout=30_000)

    # "New conversation": empty transcript, a new sender id, a fresh greeting.
    page.get_by_role("button", name="New conversation").click()
    chat.greeted()
    expect(chat.log).not_to_contain_text(PHONE)
    expect(chat.user_bubbles()).to_have_count(0)
    state = json.loads(page.evaluate("() => Object.entries(localStorage)[0][1]"))
    assert state["sender"] != json.loads(sender)["sender"]


def test_html_in_messages_is_shown_as_text(chat):
    page = chat.page
    chat.open()
    chat.ask(XSS)
    expect(chat.user_bubbles().last).to_have_text(f"You said: {XSS}")
    expect(page.locator(".tc-msg--bot").last).to_be_visible(timeout=30_000)
    expect(chat.typing).to_be_hidden(timeout=30_000)
    assert page.evaluate("() => window.__xss") is None
    assert (
        page.evaluate(f"() => {SHADOW}.querySelectorAll('.tc-log img, .tc-log script').length") == 0
    )

    # Restored from localStorage after a reload, it is still text.
    page.reload()
    expect(chat.panel).to_be_visible()
    expect(chat.user_bubbles().last).to_have_text(f"You said: {XSS}")
    assert page.evaluate("() => window.__xss") is None

    # Bot text is text too, and its newlines are line breaks.
    page.route(
        "**/webhooks/rest/webhook",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": "*"},
            body=json.dumps(
                [
                    {
                        "text": '<b onmouseover="window.__xss=3">bold</b>\nsecond line',
                        "buttons": [{"title": "<i>chip</i>", "payload": "/greet"}],
                    }
                ]
            ),
        ),
    )
    chat.ask("show me some html")
    bubble = page.locator(".tc-msg--bot .tc-bubble").last
    expect(bubble).to_contain_text('<b onmouseover="window.__xss=3">bold</b>')
    assert bubble.evaluate("b => b.innerText").endswith("bold</b>\nsecond line")
    expect(page.get_by_role("button", name="<i>chip</i>")).to_be_visible()
    assert page.evaluate(f"() => {SHADOW}.querySelectorAll('.tc-log b, .tc-log i').length") == 0
    assert page.evaluate("() => window.__xss") is None


def test_phone_width_is_full_screen(browser, web_url):
    chat = Page(browser, web_url, width=375, height=740)
    try:
        expect(chat.launcher).to_be_visible()
        chat.open()
        assert chat.panel.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 740}
        chat.ask("who do i contact")
        expect(chat.last_reply()).to_contain_text(PHONE, timeout=30_000)
        # Nothing sticks out sideways.
        assert chat.page.evaluate(f"() => {SHADOW}.querySelector('.tc-scroll').scrollWidth") <= 375
        ARTIFACTS.mkdir(exist_ok=True)
        chat.page.screenshot(path=str(ARTIFACTS / "widget-phone.png"))
        assert chat.errors == []
    finally:
        chat.close()


def test_keyboard_only(chat):
    page = chat.page
    for _ in range(40):
        page.keyboard.press("Tab")
        if chat.active() == "launcher":
            break
    assert chat.active() == "launcher", "Tab reaches the chat button"
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()
    assert chat.active() == "input"
    chat.greeted()

    # Quick replies are reachable with Tab: the last one is just before the input.
    page.keyboard.press("Shift+Tab")
    assert chat.active() == "Who do I contact?"
    page.keyboard.press("Enter")
    expect(chat.last_reply()).to_contain_text(PHONE, timeout=30_000)
    assert chat.active() == "input"

    page.keyboard.type("is the study recruiting?")
    page.keyboard.press("Enter")
    expect(chat.log).to_contain_text('"not yet recruiting"', timeout=30_000)
    expect(chat.input).to_have_value("")

    # Shift+Enter is a new line, not a send.
    page.keyboard.type("first")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second")
    expect(chat.input).to_have_value("first\nsecond")
    expect(chat.user_bubbles()).to_have_count(2)

    page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    assert chat.active() == "launcher"
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")


def test_accessibility_attributes_and_input_cap(chat):
    chat.open()
    log = chat.page.locator("[role=log]")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(chat.panel).to_have_attribute("role", "dialog")
    expect(chat.page.get_by_role("button", name="Close chat")).to_be_visible()
    expect(chat.page.get_by_role("button", name="Send")).to_be_visible()
    expect(chat.page.get_by_label("Your message")).to_have_attribute("maxlength", "2000")
    note = chat.page.locator("#tc-note")
    expect(note).to_contain_text("Up to 2,000 characters")
    chat.input.fill("x" * 2000)
    expect(note).to_have_text("2,000 of 2,000 characters used.")


def test_unreachable_server_gets_a_polite_error_and_a_retry(browser, web_url):
    chat = Page(browser, web_url)
    try:
        chat.page.route("**/webhooks/rest/webhook", lambda route: route.abort())
        chat.launcher.click()
        error = chat.page.locator(".tc-msg--error")
        expect(error).to_contain_text("can't be reached right now")
        expect(chat.typing).to_be_hidden()
        chat.page.unroute("**/webhooks/rest/webhook")
        chat.page.get_by_role("button", name="Try again").click()
        chat.greeted()
        expect(error).to_have_count(0)
    finally:
        chat.close()


def test_typing_indicator_shows_while_waiting(browser, web_url):
    chat = Page(browser, web_url)
    held = []
    try:
        chat.page.route("**/webhooks/rest/webhook", lambda route: held.append(route))  # held
        chat.launcher.click()
        expect(chat.typing).to_be_visible()
        expect(chat.typing).to_have_attribute("role", "status")
        assert len(held) == 1
        held[0].fulfill(
            status=200,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": "*"},
            body=json.dumps([{"text": "Hello from a held reply"}]),
        )
        expect(chat.log).to_contain_text("Hello from a held reply")
        expect(chat.typing).to_be_hidden()
        assert chat.errors == []
    finally:
        chat.close()


@pytest.fixture
def hospital_site():
    """Serves one HTML page from its own origin (localhost:PORT, loopback like the widget's host,
    so Chromium's local-network-access rules allow it to load the widget from 127.0.0.1)."""
    pages = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 204)  # 204: no favicon, no console error
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield pages, f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_embedded_on_another_sites_page_with_a_config(browser, web_url, stack, hospital_site):
    """A hospital page on its own origin: one script tag plus window.TrialChatConfig."""
    pages, origin = hospital_site
    pages["/trials.html"] = f"""<!doctype html><html lang="en"><head><title>Hospital</title>
        <style>* {{ font-size: 40px !important; color: red !important; }}
               button {{ background: lime !important; }}</style></head>
        <body><h1>Our trials</h1>
        <script>window.TrialChatConfig = {{serverUrl: "http://127.0.0.1:{stack.rasa_port}/",
          title: "Trial helper", colors: {{primary: "#ffcc00"}}, language: "zh",
          initPayload: ""}};</script>
        <script src="{web_url}static/widget/widget.js"></script></body></html>"""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        page.goto(f"{origin}/trials.html")
        launcher = page.locator(".tc-launcher")
        expect(launcher).to_have_text("咨询助手")
        # The page's CSS does not reach into the widget; the configured color does.
        style = launcher.evaluate("""b => {
            const s = getComputedStyle(b);
            return [s.fontSize, s.backgroundColor, s.color];
        }""")
        assert style == ["16px", "rgb(255, 204, 0)", "rgb(17, 17, 17)"]  # dark text on yellow
        launcher.click()
        expect(page.locator(".tc-title")).to_have_text("Trial helper")
        expect(page.get_by_label("您的消息")).to_be_focused()
        page.wait_for_timeout(500)
        expect(page.locator(".tc-msg")).to_have_count(0)  # initPayload "": nothing sent
        page.get_by_label("您的消息").fill("who do i contact")
        page.keyboard.press("Enter")
        expect(page.locator(".tc-msg--bot").last).to_contain_text(PHONE, timeout=30_000)
        assert errors == []
    finally:
        context.close()


def test_the_widget_in_chinese_through_rasa_and_the_actions(browser, web_url):
    """The Chinese demo page (<html lang="zh-CN">): the greeting, a question and its answer from
    the trial database all in Chinese, through the real Rasa server and action server."""
    page = Page(browser, web_url + "?lang=zh")
    try:
        page.launcher.click()
        expect(page.panel).to_be_visible()
        expect(page.log).to_contain_text("自动问答助手", timeout=30_000)
        page.ask("试验现在招人吗")
        # the answer is several messages (status, when verified, related studies, the phone)
        expect(page.log).to_contain_text("尚未招募", timeout=30_000)
        expect(page.log).to_contain_text("0086-18991232095")
        ARTIFACTS.mkdir(exist_ok=True)
        page.page.screenshot(path=str(ARTIFACTS / "widget-zh-live.png"))
        assert page.errors == [], page.errors
    finally:
        page.close()
