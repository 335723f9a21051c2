"""Conversations in the staff console over real Rasa tracker-store rows: list filters and
pagination, transcripts with masking and logged reveal, review, tags, notes, exports (CSV,
JSON, test stories) — on SQLite and PostgreSQL."""

import csv
import io
import json
from datetime import datetime, timezone

import pytest

from bot.console.listing import EXPORT_FIELDS
from bot.console.models import ConversationSummary
from bot.console.tracker import load_events
from bot.db import database
from tests.conftest import index
from tests.support import unit_of_work
from tests.support.events import DAY, action, bot, save, timed, turn
from tests.support.scenarios import (
    EMAIL,
    PHONE,
    audit_actions,
    screen_rest3,
    summary,
    three_conversations,
)
from tests.support.staff import XSS, csrf_of, now, signed_in


@pytest.fixture
def screening_for_rest3(seeded):
    return screen_rest3()


async def test_list_filters_and_pagination(client, store, database_url, screening_for_rest3):
    base = now() - 10 * DAY
    await three_conversations(store, base)
    index()
    await signed_in(client, database_url)

    async def ids(**query):
        response = await client.get("/staff/api/conversations", params=query)
        assert response.status == 200
        return [item["sender_id"] for item in (await response.json())["items"]]

    assert await ids() == ["rest-3", "rest-2", "tg-1"]  # newest first
    assert await ids(channel="telegram") == ["tg-1"]
    assert await ids(outcome="may_be_eligible") == ["rest-3"]
    assert await ids(outcome="none") == ["rest-2", "tg-1"]
    assert await ids(fallback="yes") == ["rest-2"]
    assert await ids(fallback="no") == ["rest-3", "tg-1"]
    assert await ids(callback="yes") == ["rest-3"]
    assert await ids(handoff="yes") == ["rest-2"]
    assert await ids(low_confidence="yes") == ["rest-3", "rest-2"]
    assert await ids(q="SORAFENIB") == ["rest-2"]
    assert await ids(q="100%_") == []  # LIKE wildcards are literal
    day = datetime.fromtimestamp(base + DAY, timezone.utc).date().isoformat()
    assert await ids(date_from=day, date_to=day) == ["rest-2"]
    assert await ids(date_from=day) == ["rest-3", "rest-2"]
    assert await ids(review="unreviewed") == ["rest-3", "rest-2", "tg-1"]

    row_id = summary(database_url, "tg-1").id
    token = await csrf_of(client)
    await client.post(f"/staff/conversations/{row_id}/review", data={"csrf_token": token})
    await client.post(
        f"/staff/conversations/{row_id}/tags", data={"csrf_token": token, "tag": "Follow Up"}
    )
    assert await ids(review="reviewed") == ["tg-1"]
    assert await ids(review="unreviewed") == ["rest-3", "rest-2"]
    assert await ids(tag="follow up") == ["tg-1"]
    assert await ids(tag="other") == []

    # keyset pagination
    response = await client.get("/staff/api/conversations", params={"limit": "2"})
    page = await response.json()
    assert page["total"] == 3 and [i["sender_id"] for i in page["items"]] == ["rest-3", "rest-2"]
    response = await client.get(
        "/staff/api/conversations", params={"limit": "2", "after": page["next"]}
    )
    second = await response.json()
    assert [i["sender_id"] for i in second["items"]] == ["tg-1"] and second["next"] is None

    # the HTML list: masked preview, filters kept in the links
    html = await (await client.get("/staff/conversations", params={"fallback": "yes"})).text()
    assert "call me on ••• •••• ••78 or w•••@•••.com" in html
    assert PHONE not in html and EMAIL not in html
    assert "/staff/conversations/export?fallback=yes&amp;format=csv" in html
    assert "<strong>1</strong> conversation match" in html


async def test_transcript_masks_escapes_and_reveals_with_an_audit_entry(
    client, store, database_url, tracker_url, screening_for_rest3
):
    await three_conversations(store, now() - 10 * DAY)
    index()
    await signed_in(client, database_url)
    row = summary(database_url, "rest-2")
    response = await client.get(f"/staff/conversations/{row.id}")
    assert response.status == 200
    html = await response.text()
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script>" not in html and "<b>bold" not in html
    assert PHONE not in html and EMAIL not in html and "••• •••• ••78" in html
    assert "intent <code>ask_contact</code> 31%" in html and "fallback" in html
    assert "action <code>action_medical_advice</code>" in html
    assert "the fallback reverted this user turn" in html
    # the study's published phone number (trial database contacts) is not personal data
    assert "I can only help with this study. Call 0086-18991232095." in html
    assert (
        "view_conversation",
        f"conversation:{row.id}",
        {"sender_id": "rest-2"},
    ) in audit_actions(database_url)

    events = load_events(database(tracker_url).engine, "rest-2")
    event_id = next(e["_id"] for e in events if e.get("text", "").startswith("call me"))
    token = await csrf_of(client)
    response = await client.post(
        f"/staff/conversations/{row.id}/reveal",
        data={"csrf_token": token, "event_id": str(event_id)},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/staff/conversations/{row.id}#e{event_id}"
    html = await (await client.get(f"/staff/conversations/{row.id}")).text()
    assert f"call me on {PHONE} or {EMAIL}" in html  # revealed for this user's session
    assert (
        "reveal",
        f"conversation:{row.id}",
        {"sender_id": "rest-2", "event_id": event_id},
    ) in audit_actions(database_url)
    missing = await client.post(
        f"/staff/conversations/{row.id}/reveal", data={"csrf_token": token, "event_id": "999999"}
    )
    assert missing.status == 404

    # slots and entities
    three = summary(database_url, "rest-3")
    html = await (await client.get(f"/staff/conversations/{three.id}")).text()
    assert "slot <code>callback_phone</code> = <code>+•• ••• •••• ••78</code>" in html
    assert "drug: cabozantinib" in html and "form <code>screening_form</code> active" in html

    api = await (await client.get(f"/staff/api/conversations/{row.id}")).json()
    texts = [e.get("text") for e in api["events"] if e["kind"] == "user"]
    assert texts[0] == "call me on ••• •••• ••78 or w•••@•••.com" and texts[1] == XSS


async def test_review_tags_and_notes(client, store, database_url):
    await three_conversations(store, now() - 10 * DAY)
    index()
    await signed_in(client, database_url)
    row = summary(database_url, "tg-1")
    token = await csrf_of(client)
    url = f"/staff/conversations/{row.id}"
    response = await client.post(
        url + "/review", data={"csrf_token": token, "reviewed": "1"}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == url
    html = await (await client.get(url)).text()
    assert "Marked as reviewed." in html and "by coord" in html and "Mark not reviewed" in html
    await client.post(url + "/tags", data={"csrf_token": token, "tag": "  Needs  FAQ "})
    await client.post(url + "/tags", data={"csrf_token": token, "tag": "<b>"})
    await client.post(
        url + "/notes", data={"csrf_token": token, "text": "Asked twice; <i>add</i> to FAQ"}
    )
    html = await (await client.get(url)).text()
    assert '<span class="badge">needs faq' in html
    assert "Tags are up to 40 letters" not in html  # the flash was shown once already
    assert "Asked twice; &lt;i&gt;add&lt;/i&gt; to FAQ" in html
    await client.post(
        url + "/tags", data={"csrf_token": token, "tag": "needs faq", "action": "remove"}
    )
    await client.post(url + "/review", data={"csrf_token": token, "reviewed": "0"})
    html = await (await client.get(url)).text()
    assert "needs faq" not in html and "Mark reviewed" in html
    actions = [a for a, _, _ in audit_actions(database_url)]
    for expected in ("review", "tag_add", "note", "tag_remove", "unreview"):
        assert expected in actions
    assert (await client.get("/staff/conversations/99999")).status == 404
    assert (await client.get("/staff/conversations/abc")).status == 404


async def test_exports_csv_json_masked_and_unmasked(
    client, store, database_url, screening_for_rest3
):
    await three_conversations(store, now() - 10 * DAY)
    index()
    token = await signed_in(client, database_url, "coord", "coordinator")

    response = await client.get(
        "/staff/conversations/export", params={"format": "csv", "channel": "rest"}
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["sender_id"] for r in rows] == ["rest-3", "rest-2"]
    assert tuple(rows[0]) == EXPORT_FIELDS
    two = rows[1]
    assert two["preview"] == "call me on ••• •••• ••78 or w•••@•••.com"
    assert (two["turns"], two["fallback_count"], two["handoff"], two["channel"]) == (
        "3",
        "2",
        "True",
        "rest",
    )
    assert rows[0]["screening_outcome"] == "may_be_eligible" and rows[0]["callback_asked"] == "True"

    response = await client.get("/staff/conversations/export", params={"format": "json"})
    data = json.loads(await response.text())
    assert [d["sender_id"] for d in data] == ["rest-3", "rest-2", "tg-1"]
    assert data[1]["preview"] == "call me on ••• •••• ••78 or w•••@•••.com"
    assert data[1]["min_confidence"] == pytest.approx(0.31)

    # unmasked: administrators only, by POST
    response = await client.post(
        "/staff/conversations/export", data={"csrf_token": token, "format": "csv", "unmasked": "1"}
    )
    assert response.status == 403
    response = await client.post(
        "/staff/conversations/export", data={"csrf_token": token, "format": "json"}
    )
    assert PHONE not in await response.text()

    await client.post("/staff/logout", data={"csrf_token": token})
    token = await signed_in(client, database_url, "boss", "admin")
    response = await client.post(
        "/staff/conversations/export",
        data={"csrf_token": token, "format": "json", "unmasked": "1", "fallback": "yes"},
    )
    data = json.loads(await response.text())
    assert [d["preview"] for d in data] == [f"call me on {PHONE} or {EMAIL}"]

    exports = [d for a, _, d in audit_actions(database_url) if a == "export"]
    assert [(d["format"], d["unmasked"], d["rows"]) for d in exports] == [
        ("csv", False, 2),
        ("json", False, 3),
        ("json", False, 3),
        ("json", True, 1),
    ]
    assert exports[0]["filters"] == {"channel": "rest"}


async def test_export_streams_many_conversations(client, store, database_url):
    from sqlalchemy import insert

    with unit_of_work(database_url) as session:
        session.execute(
            insert(ConversationSummary),
            [
                {
                    "sender_id": f"bulk-{i:05d}",
                    "started_at": datetime.fromtimestamp(1.7e9 + i, timezone.utc),
                    "last_event_at": datetime.fromtimestamp(1.7e9 + i, timezone.utc),
                    "channel": "rest",
                    "turns": 1,
                    "bot_turns": 1,
                    "fallback_count": 0,
                    "callback_asked": False,
                    "handoff": False,
                    "last_user_fallback": False,
                    "preview": f"=cmd{i}",
                }
                for i in range(2500)
            ],
        )
    await signed_in(client, database_url)
    text = await (await client.get("/staff/conversations/export?format=csv")).text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2500 and rows[0]["sender_id"] == "bulk-02499"
    assert rows[0]["preview"] == "'=cmd2499"  # no spreadsheet formulas
    data = json.loads(await (await client.get("/staff/conversations/export?format=json")).text())
    assert len(data) == 2500 and len({d["id"] for d in data}) == 2500


async def test_conversation_as_rasa_test_stories(client, store, database_url, tmp_path):
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    from tests.support.events import domain

    await three_conversations(store, now() - 10 * DAY)

    index()
    token = await signed_in(client, database_url)
    row = summary(database_url, "rest-3")
    response = await client.get(f"/staff/conversations/{row.id}/stories.yml")
    assert response.status == 200
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="conversation-{row.id}.yml"'
    )
    text = await response.text()
    path = tmp_path / "test_conversation.yml"
    path.write_text(text)
    assert YAMLStoryReader.is_test_stories_file(path)
    steps = YAMLStoryReader(domain()).read_from_file(path)
    assert len(steps) == 1
    import yaml

    story = yaml.safe_load(text)["stories"][0]["steps"]
    assert story[0] == {"user": "can i take part", "intent": "ask_eligibility"}
    assert {
        "user": "are there [cabozantinib](drug) studies",
        "intent": "ask_related_studies",
    } in story
    assert {"action": "action_save_callback"} in story and {"active_loop": None} in story
    assert {"slot_was_set": [{"callback_phone": "+•• ••• •••• ••78"}]} in story
    assert not any(s.get("action") in ("action_listen", "action_session_start") for s in story)

    # masked for coordinators; an admin may ask for it unmasked
    assert (
        await client.post(
            f"/staff/conversations/{row.id}/stories.yml",
            data={"csrf_token": token, "unmasked": "1"},
        )
    ).status == 403
    await client.post("/staff/logout", data={"csrf_token": token})
    token = await signed_in(client, database_url, "boss", "admin")
    text = await (
        await client.post(
            f"/staff/conversations/{row.id}/stories.yml",
            data={"csrf_token": token, "unmasked": "1"},
        )
    ).text()
    assert f"+86 {PHONE}" in text
    exports = [d for a, _, d in audit_actions(database_url) if a == "export"]
    assert [(d["format"], d["unmasked"]) for d in exports] == [
        ("stories", False),
        ("stories", True),
    ]


async def test_the_conversations_language_is_shown_and_filtered(client, store, database_url):
    from tests.support.events import session_start, slot, user

    base = now() - DAY
    await save(
        store,
        "zh-1",
        timed(
            session_start()
            + [
                user("试验现在招人吗", "ask_status", 0.9),
                action("action_recruitment_status"),
                slot("language", "zh"),
                bot("NCT05113290目前的状态为“尚未招募”。"),
                action("action_listen"),
            ],
            base,
        ),
    )
    await save(
        store,
        "en-1",
        timed(
            session_start()
            + turn(
                "is it recruiting",
                "ask_status",
                "It is not yet recruiting.",
                "action_recruitment_status",
            )
            + [slot("language", "en")],
            base + 10,
        ),
    )
    index()
    await signed_in(client, database_url)

    async def ids(**query):
        response = await client.get("/staff/api/conversations", params=query)
        return [(i["sender_id"], i["language"]) for i in (await response.json())["items"]]

    assert await ids(language="zh") == [("zh-1", "zh")]
    assert await ids(language="en") == [("en-1", "en")]
    html = await (await client.get("/staff/conversations", params={"language": "zh"})).text()
    assert "<td>Chinese</td>" in html and "试验现在招人吗" in html
