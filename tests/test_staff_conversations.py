"""Conversations in the staff console, read from a real Rasa SQLTrackerStore: the indexer,
list filters and pagination, transcripts with masking and logged reveal, review, tags, notes,
exports (CSV, JSON, test stories) — on SQLite and PostgreSQL."""
import csv
import io
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from bot import conversations as conv
from bot import screenings
from bot.console_models import AuditLog, ConversationSummary, IndexerState, NluInboxItem
from bot.db import session_scope
from tests.test_staff_support import (  # noqa: F401  (fixtures)
    DAY,
    XSS,
    action,
    bot,
    client,
    csrf_of,
    fallback_user,
    loop,
    now,
    save,
    session_start,
    signed_in,
    slot,
    store,
    timed,
    tracker_url,
    turn,
    user,
    reverted,
)

PHONE = "189 1234 5678"
EMAIL = "wang.fang@example.com"


def summary(database_url, sender):
    with session_scope(database_url) as session:
        return session.scalars(select(ConversationSummary).where(
            ConversationSummary.sender_id == sender)).one()


def audit_actions(database_url):
    with session_scope(database_url) as session:
        return [(r.action, r.target, json.loads(r.detail or "{}"))
                for r in session.scalars(select(AuditLog).order_by(AuditLog.id))]


async def three_conversations(store, base):
    """greeting-only (telegram), a fallback with contact details (rest), a screening with a
    callback (rest): one day apart."""
    await save(store, "tg-1", timed(
        session_start() + turn("hello there", "greet", "Hello! I'm an automated assistant.",
                               "utter_greet", channel="telegram")
        + turn("what is the study about", "ask_study_overview", "It tests H101.",
               "action_study_overview", 0.91, channel="telegram"), base))
    await save(store, "rest-2", timed(
        session_start()
        + [fallback_user(f"call me on {PHONE} or {EMAIL}", "ask_contact", 0.31),
           action("action_fallback"), bot("I can only help with this study. Call 0086-18991232095."),
           reverted(), action("action_listen")]
        + turn(XSS, "out_of_scope", "I can only help with questions about this study.",
               "action_fallback", 0.52)
        + turn("should i stop sorafenib", "ask_medical_advice", "Please ask your doctor.",
               "action_medical_advice", 0.88), base + DAY))
    await save(store, "rest-3", timed(
        session_start()
        + [user("can i take part", "ask_eligibility", 0.95), action("screening_form"),
           loop("screening_form"), slot("screening_consent", "yes"),
           bot("Do you agree?"), action("action_listen"),
           user("are there cabozantinib studies", "ask_related_studies", 0.58, entities=[
               {"entity": "drug", "value": "cabozantinib", "start": 10, "end": 22}]),
           action("action_related_studies"), bot("Yes: NCT01908426"), action("action_listen"),
           user("Wang Fang", "inform", 0.7), action("callback_form"),
           slot("callback_phone", f"+86 {PHONE}"), loop(None), action("action_save_callback"),
           bot(f"Thank you, Wang Fang. We will call +86 {PHONE}."), action("action_listen")],
        base + 2 * DAY))


@pytest.fixture
def screening_for_rest3(seeded):
    screening_id = screenings.start("NCT05113290", "rest-3", "rest")
    screenings.finish(screening_id, "may_be_eligible")
    screenings.add_callback(screening_id, "Wang Fang", f"+86 {PHONE}")
    return screening_id


async def test_indexer_builds_summaries_incrementally(store, database_url, tracker_url,
                                                      screening_for_rest3):
    base = now() - 10 * DAY
    await three_conversations(store, base)
    assert conv.index_events(database_url, tracker_url) > 30
    assert conv.index_events(database_url, tracker_url) == 0  # nothing new

    tg = summary(database_url, "tg-1")
    assert (tg.channel, tg.turns, tg.bot_turns, tg.fallback_count) == ("telegram", 2, 2, 0)
    assert tg.min_confidence == pytest.approx(0.91)
    assert tg.preview == "hello there" and not tg.handoff and tg.screening_outcome is None
    assert conv.utc(tg.started_at) == datetime.fromtimestamp(base, timezone.utc)

    two = summary(database_url, "rest-2")
    # the nlu_fallback message counts once (not again for its action_fallback); the
    # out_of_scope one that action_fallback answered counts too
    assert two.fallback_count == 2 and two.turns == 3 and two.handoff
    assert two.min_confidence == pytest.approx(0.31)  # the model's real guess, not 0.45
    assert "<script>" in two.search_text

    three = summary(database_url, "rest-3")
    assert three.screening_outcome == "may_be_eligible" and three.callback_asked

    with session_scope(database_url) as session:
        inbox = {i.text: (i.reason, i.predicted_intent) for i in session.scalars(
            select(NluInboxItem))}
    assert inbox == {
        f"call me on {PHONE} or {EMAIL}": ("fallback", "ask_contact"),
        XSS: ("fallback", "out_of_scope"),  # low confidence, and answered by action_fallback
        "are there cabozantinib studies": ("low_confidence", "ask_related_studies"),
    }

    # the conversation goes on (the tracker as Rasa retrieves it, from the latest session):
    # only the new events are read, nothing counts twice
    tracker = await store.retrieve("tg-1")
    await save(store, "tg-1", timed(
        turn("who do i call", "ask_contact", "Call 0086-18991232095.", "action_contact", 0.4,
             channel="telegram"), base + 3 * DAY), tracker)
    assert conv.index_events(database_url, tracker_url) == 4
    tg = summary(database_url, "tg-1")
    assert (tg.turns, tg.fallback_count, tg.handoff) == (3, 0, True)
    assert tg.min_confidence == pytest.approx(0.4)
    assert conv.utc(tg.last_event_at) > conv.utc(summary(database_url, "rest-3").last_event_at)


def test_indexer_rereads_ids_it_skipped(database_url, tracker_url, store):
    """An id below the high-water mark that was not visible yet (a transaction still open on
    PostgreSQL) is read when it appears."""
    from sqlalchemy import insert

    def event(event_id, sender, text):
        data = {"event": "user", "timestamp": now(), "text": text, "input_channel": "rest",
                "parse_data": {"intent": {"name": "greet", "confidence": 0.9}, "entities": []}}
        return {"id": event_id, "sender_id": sender, "type_name": "user",
                "timestamp": data["timestamp"], "intent_name": "greet", "action_name": None,
                "data": json.dumps(data)}

    engine = conv.tracker_engine(tracker_url)
    with engine.begin() as connection:
        connection.execute(insert(conv.EVENTS), [event(1, "a", "hi"), event(3, "b", "hey")])
    assert conv.index_events(database_url, tracker_url) == 2
    with session_scope(database_url) as session:
        state = session.get(IndexerState, "events")
        assert state.last_event_id == 3 and json.loads(state.gaps)[0][:2] == [2, 2]
    with engine.begin() as connection:
        connection.execute(insert(conv.EVENTS), [event(2, "a", "late"), event(4, "b", "again")])
    assert conv.index_events(database_url, tracker_url) == 2
    assert summary(database_url, "a").turns == 2 and summary(database_url, "b").turns == 2
    with session_scope(database_url) as session:
        assert json.loads(session.get(IndexerState, "events").gaps) == []


def test_masking():
    assert conv.mask_text(f"call {PHONE}") == "call ••• •••• ••78"
    assert conv.mask_text("+86 189-1234-5678.") == "+•• •••-••••-••78."
    assert conv.mask_text("0086-18991232095") == "••••-•••••••••95"
    assert conv.mask_text(f"mail {EMAIL} now") == "mail w•••@•••.com now"
    for kept in ("NCT05113290", "on 2026-11-24", "aged 58", "in 2021-12", "0.93", "id 1234567a"):
        assert conv.mask_text(kept) == kept
    assert conv.mask_value({"a": [PHONE]}) == {"a": ["••• •••• ••78"]}
    assert conv.contains_contact(EMAIL) and not conv.contains_contact("hello")
    keep = frozenset({"008618991232095", "team@hospital.example"})
    assert conv.mask_text(f"0086-18991232095, Team@Hospital.example, {PHONE}", keep) == \
        "0086-18991232095, Team@Hospital.example, ••• •••• ••78"


def test_public_contacts_come_from_the_trial_database(seeded):
    with session_scope(seeded) as session:
        assert "008618991232095" in conv.public_contacts(session)


async def test_list_filters_and_pagination(client, store, database_url, screening_for_rest3):
    base = now() - 10 * DAY
    await three_conversations(store, base)
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
    await client.post(f"/staff/conversations/{row_id}/tags",
                      data={"csrf_token": token, "tag": "Follow Up"})
    assert await ids(review="reviewed") == ["tg-1"]
    assert await ids(review="unreviewed") == ["rest-3", "rest-2"]
    assert await ids(tag="follow up") == ["tg-1"]
    assert await ids(tag="other") == []

    # keyset pagination
    response = await client.get("/staff/api/conversations", params={"limit": "2"})
    page = await response.json()
    assert page["total"] == 3 and [i["sender_id"] for i in page["items"]] == ["rest-3", "rest-2"]
    response = await client.get("/staff/api/conversations",
                                params={"limit": "2", "after": page["next"]})
    second = await response.json()
    assert [i["sender_id"] for i in second["items"]] == ["tg-1"] and second["next"] is None

    # the HTML list: masked preview, filters kept in the links
    html = await (await client.get("/staff/conversations", params={"fallback": "yes"})).text()
    assert "call me on ••• •••• ••78 or w•••@•••.com" in html
    assert PHONE not in html and EMAIL not in html
    assert "/staff/conversations/export?fallback=yes&amp;format=csv" in html
    assert "<strong>1</strong> conversation match" in html


async def test_transcript_masks_escapes_and_reveals_with_an_audit_entry(
        client, store, database_url, screening_for_rest3):
    await three_conversations(store, now() - 10 * DAY)
    await signed_in(client, database_url)
    await client.get("/staff/conversations")  # indexes
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
    assert ("view_conversation", f"conversation:{row.id}", {"sender_id": "rest-2"}) in \
        audit_actions(database_url)

    events = conv.load_events("rest-2", summary_tracker(client))
    event_id = next(e["_id"] for e in events if e.get("text", "").startswith("call me"))
    token = await csrf_of(client)
    response = await client.post(f"/staff/conversations/{row.id}/reveal",
                                 data={"csrf_token": token, "event_id": str(event_id)},
                                 allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/staff/conversations/{row.id}#e{event_id}"
    html = await (await client.get(f"/staff/conversations/{row.id}")).text()
    assert f"call me on {PHONE} or {EMAIL}" in html  # revealed for this user's session
    assert ("reveal", f"conversation:{row.id}", {"sender_id": "rest-2", "event_id": event_id}) \
        in audit_actions(database_url)
    missing = await client.post(f"/staff/conversations/{row.id}/reveal",
                                data={"csrf_token": token, "event_id": "999999"})
    assert missing.status == 404

    # slots and entities
    three = summary(database_url, "rest-3")
    html = await (await client.get(f"/staff/conversations/{three.id}")).text()
    assert "slot <code>callback_phone</code> = <code>+•• ••• •••• ••78</code>" in html
    assert "drug: cabozantinib" in html and "form <code>screening_form</code> active" in html

    api = await (await client.get(f"/staff/api/conversations/{row.id}")).json()
    texts = [e.get("text") for e in api["events"] if e["kind"] == "user"]
    assert texts[0] == "call me on ••• •••• ••78 or w•••@•••.com" and texts[1] == XSS


def summary_tracker(client):
    from bot.web.keys import SETTINGS

    return client.server.app[SETTINGS].tracker_store_url


async def test_review_tags_and_notes(client, store, database_url):
    await three_conversations(store, now() - 10 * DAY)
    await signed_in(client, database_url)
    await client.get("/staff/conversations")
    row = summary(database_url, "tg-1")
    token = await csrf_of(client)
    url = f"/staff/conversations/{row.id}"
    response = await client.post(url + "/review", data={"csrf_token": token, "reviewed": "1"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == url
    html = await (await client.get(url)).text()
    assert "Marked as reviewed." in html and "by coord" in html and "Mark not reviewed" in html
    await client.post(url + "/tags", data={"csrf_token": token, "tag": "  Needs  FAQ "})
    await client.post(url + "/tags", data={"csrf_token": token, "tag": "<b>"})
    await client.post(url + "/notes", data={"csrf_token": token,
                                            "text": "Asked twice; <i>add</i> to FAQ"})
    html = await (await client.get(url)).text()
    assert '<span class="badge">needs faq' in html
    assert "Tags are up to 40 letters" not in html  # the flash was shown once already
    assert "Asked twice; &lt;i&gt;add&lt;/i&gt; to FAQ" in html
    await client.post(url + "/tags", data={"csrf_token": token, "tag": "needs faq",
                                           "action": "remove"})
    await client.post(url + "/review", data={"csrf_token": token, "reviewed": "0"})
    html = await (await client.get(url)).text()
    assert "needs faq" not in html and "Mark reviewed" in html
    actions = [a for a, _, _ in audit_actions(database_url)]
    for expected in ("review", "tag_add", "note", "tag_remove", "unreview"):
        assert expected in actions
    assert (await client.get("/staff/conversations/99999")).status == 404
    assert (await client.get("/staff/conversations/abc")).status == 404


async def test_exports_csv_json_masked_and_unmasked(client, store, database_url,
                                                    screening_for_rest3):
    await three_conversations(store, now() - 10 * DAY)
    token = await signed_in(client, database_url, "coord", "coordinator")

    response = await client.get("/staff/conversations/export",
                                params={"format": "csv", "channel": "rest"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["sender_id"] for r in rows] == ["rest-3", "rest-2"]
    assert tuple(rows[0]) == conv.EXPORT_FIELDS
    two = rows[1]
    assert two["preview"] == "call me on ••• •••• ••78 or w•••@•••.com"
    assert (two["turns"], two["fallback_count"], two["handoff"], two["channel"]) == (
        "3", "2", "True", "rest")
    assert rows[0]["screening_outcome"] == "may_be_eligible" and rows[0]["callback_asked"] == "True"

    response = await client.get("/staff/conversations/export", params={"format": "json"})
    data = json.loads(await response.text())
    assert [d["sender_id"] for d in data] == ["rest-3", "rest-2", "tg-1"]
    assert data[1]["preview"] == "call me on ••• •••• ••78 or w•••@•••.com"
    assert data[1]["min_confidence"] == pytest.approx(0.31)

    # unmasked: administrators only, by POST
    response = await client.post("/staff/conversations/export", data={
        "csrf_token": token, "format": "csv", "unmasked": "1"})
    assert response.status == 403
    response = await client.post("/staff/conversations/export", data={
        "csrf_token": token, "format": "json"})
    assert PHONE not in await response.text()

    await client.post("/staff/logout", data={"csrf_token": token})
    token = await signed_in(client, database_url, "boss", "admin")
    response = await client.post("/staff/conversations/export", data={
        "csrf_token": token, "format": "json", "unmasked": "1", "fallback": "yes"})
    data = json.loads(await response.text())
    assert [d["preview"] for d in data] == [f"call me on {PHONE} or {EMAIL}"]

    exports = [d for a, _, d in audit_actions(database_url) if a == "export"]
    assert [(d["format"], d["unmasked"], d["rows"]) for d in exports] == [
        ("csv", False, 2), ("json", False, 3), ("json", False, 3), ("json", True, 1)]
    assert exports[0]["filters"] == {"channel": "rest"}


async def test_export_streams_many_conversations(client, store, database_url):
    from sqlalchemy import insert

    with session_scope(database_url) as session:
        session.execute(insert(ConversationSummary), [
            {"sender_id": f"bulk-{i:05d}", "started_at": datetime.fromtimestamp(
                1.7e9 + i, timezone.utc), "last_event_at": datetime.fromtimestamp(
                1.7e9 + i, timezone.utc), "channel": "rest", "turns": 1, "bot_turns": 1,
             "fallback_count": 0, "callback_asked": False, "handoff": False,
             "last_user_fallback": False, "preview": f"=cmd{i}"} for i in range(2500)])
    await signed_in(client, database_url)
    text = await (await client.get("/staff/conversations/export?format=csv")).text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2500 and rows[0]["sender_id"] == "bulk-02499"
    assert rows[0]["preview"] == "'=cmd2499"  # no spreadsheet formulas
    data = json.loads(await (await client.get("/staff/conversations/export?format=json")).text())
    assert len(data) == 2500 and len({d["id"] for d in data}) == 2500


async def test_conversation_as_rasa_test_stories(client, store, database_url, tmp_path):
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    from tests.test_staff_support import domain

    await three_conversations(store, now() - 10 * DAY)
    token = await signed_in(client, database_url)
    await client.get("/staff/conversations")
    row = summary(database_url, "rest-3")
    response = await client.get(f"/staff/conversations/{row.id}/stories.yml")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="conversation-{row.id}.yml"'
    text = await response.text()
    path = tmp_path / "test_conversation.yml"
    path.write_text(text)
    assert YAMLStoryReader.is_test_stories_file(path)
    steps = YAMLStoryReader(domain()).read_from_file(path)
    assert len(steps) == 1
    import yaml

    story = yaml.safe_load(text)["stories"][0]["steps"]
    assert story[0] == {"user": "can i take part", "intent": "ask_eligibility"}
    assert {"user": "are there [cabozantinib](drug) studies",
            "intent": "ask_related_studies"} in story
    assert {"action": "action_save_callback"} in story and {"active_loop": None} in story
    assert {"slot_was_set": [{"callback_phone": "+•• ••• •••• ••78"}]} in story
    assert not any(s.get("action") in ("action_listen", "action_session_start") for s in story)

    # masked for coordinators; an admin may ask for it unmasked
    assert (await client.post(f"/staff/conversations/{row.id}/stories.yml",
                              data={"csrf_token": token, "unmasked": "1"})).status == 403
    await client.post("/staff/logout", data={"csrf_token": token})
    token = await signed_in(client, database_url, "boss", "admin")
    text = await (await client.post(f"/staff/conversations/{row.id}/stories.yml",
                                    data={"csrf_token": token, "unmasked": "1"})).text()
    assert f"+86 {PHONE}" in text
    exports = [d for a, _, d in audit_actions(database_url) if a == "export"]
    assert [(d["format"], d["unmasked"]) for d in exports] == [("stories", False),
                                                              ("stories", True)]


def test_no_tracker_table_yet(database_url, tracker_url):
    """No tracker store table yet (Rasa never started): nothing to index, no error."""
    assert conv.index_events(database_url, tracker_url) == 0
    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(ConversationSummary)) == 0
