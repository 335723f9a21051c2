"""The staff console in headless Chromium over the real stack: a patient talks to the live
Rasa server over REST (with an HTML/script payload), a coordinator created with the CLI signs
in, filters the list, opens the transcript, marks it reviewed; the payload is shown as text and
never runs. Screenshot: test-artifacts/staff.png (git-ignored)."""

import re
import subprocess
import sys
import uuid

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import expect

from bot.config import ROOT
from bot.console.indexer import index_events
from bot.db import database

pytestmark = pytest.mark.browser

XSS = "<script>window.__xss=1</script><b>bold</b>"
PASSWORD = "monday morning coffee"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def stack(live_stack):
    return live_stack


@pytest.fixture(scope="module")
def sender(stack):
    """A real conversation over REST, the payload among the messages."""
    sender = f"staff-{uuid.uuid4().hex[:8]}"
    assert "automated assistant" in stack.say(sender, "hello")
    stack.say(sender, XSS)
    assert "recruiting" in stack.say(sender, "is the study recruiting?")
    # The web app indexes new events in the background; index now so the list has it.
    index_events(database(stack.database_url), database(stack.tracker_url).engine)
    return sender


@pytest.fixture(scope="module")
def coordinator(stack):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "staff", "add", "coord", "--role", "coordinator"],
        input=PASSWORD + "\n",
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return "coord"


@pytest.fixture(scope="module")
def web_url(stack):
    """`python -m bot web` over the same trial database and tracker store."""
    return stack.start_web(
        "web-staff", STAFF_SESSION_KEY=Fernet.generate_key().decode(), STAFF_INDEX_SECONDS="1"
    )


def test_a_coordinator_reviews_a_conversation(stack, sender, coordinator, web_url, browser):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        page.goto(f"{web_url}/staff/")
        expect(page).to_have_url(re.compile(r"/staff/login\?next="))
        page.fill("input[name=username]", coordinator)
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Sign in')")
        expect(page.locator("h1")).to_have_text("Conversations")

        # filter: the text the patient typed, on the REST channel, not reviewed yet
        page.fill("input[name=q]", "bold")
        page.select_option("select[name=channel]", "rest")
        page.select_option("select[name=review]", "unreviewed")
        page.click("button:has-text('Filter')")
        rows = page.locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first.locator("td").nth(1)).to_have_text("rest")
        expect(rows.first.locator("td").nth(2)).to_have_text("English")
        expect(rows.first.locator("td").nth(3)).to_have_text("3")  # three user messages
        rows.first.locator("a").first.click()

        # the transcript: the payload is literal text, nothing ran, no <b> element
        expect(page.locator("h1")).to_contain_text("Conversation")
        payload = page.locator(".msg.user .text", has_text="window.__xss")
        expect(payload).to_have_text(XSS)
        assert page.locator(".msg .text b").count() == 0
        assert page.evaluate("typeof window.__xss") == "undefined"
        expect(page.locator(".msg.user .text").first).to_have_text("hello")
        expect(page.locator(".msg.bot .text", has_text="recruiting").first).to_be_visible()
        expect(page.locator(".event", has_text="action_recruitment_status")).to_have_count(1)
        expect(page.locator(".msg.user .meta").first).to_contain_text("intent greet")

        page.click("button:has-text('Mark reviewed')")
        expect(page.locator("#review-status")).to_contain_text("reviewed")
        expect(page.locator("#review-status")).to_contain_text("by coord")
        expect(page.locator(".flash")).to_have_text("Marked as reviewed.")
        assert page.evaluate("typeof window.__xss") == "undefined"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "staff.png"), full_page=True)

        # the list now shows it reviewed
        page.goto(f"{web_url}/staff/conversations?review=reviewed")
        expect(page.locator("tbody tr")).to_have_count(1)
        expect(page.locator("tbody tr").first).to_contain_text("reviewed")
        page.screenshot(path=str(ARTIFACTS / "staff-list.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
