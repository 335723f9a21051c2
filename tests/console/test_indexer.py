"""The console's index over Rasa's tracker store (real SQLTrackerStore rows), masking and
public contacts — on SQLite and PostgreSQL."""

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from bot.console.models import ConversationSummary, IndexerState, NluInboxItem
from bot.console.privacy import contains_contact, mask_text, mask_value, public_contacts
from bot.console.tracker import EVENTS, utc
from bot.db import database
from tests.conftest import index
from tests.support import unit_of_work
from tests.support.events import DAY, save, timed, turn
from tests.support.scenarios import EMAIL, PHONE, screen_rest3, summary, three_conversations
from tests.support.staff import XSS, now


@pytest.fixture
def screening_for_rest3(seeded):
    return screen_rest3()


async def test_indexer_builds_summaries_incrementally(
    store, database_url, tracker_url, screening_for_rest3
):
    base = now() - 10 * DAY
    await three_conversations(store, base)
    assert index() > 30
    assert index() == 0  # nothing new

    tg = summary(database_url, "tg-1")
    assert (tg.channel, tg.turns, tg.bot_turns, tg.fallback_count) == ("telegram", 2, 2, 0)
    assert tg.min_confidence == pytest.approx(0.91)
    assert tg.preview == "hello there" and not tg.handoff and tg.screening_outcome is None
    assert utc(tg.started_at) == datetime.fromtimestamp(base, timezone.utc)

    two = summary(database_url, "rest-2")
    # the nlu_fallback message counts once (not again for its action_fallback); the
    # out_of_scope one that action_fallback answered counts too
    assert two.fallback_count == 2 and two.turns == 3 and two.handoff
    assert two.min_confidence == pytest.approx(0.31)  # the model's real guess, not 0.45
    assert "<script>" in two.search_text

    three = summary(database_url, "rest-3")
    assert three.screening_outcome == "may_be_eligible" and three.callback_asked

    with unit_of_work(database_url) as session:
        inbox = {
            i.text: (i.reason, i.predicted_intent) for i in session.scalars(select(NluInboxItem))
        }
    assert inbox == {
        f"call me on {PHONE} or {EMAIL}": ("fallback", "ask_contact"),
        XSS: ("fallback", "out_of_scope"),  # low confidence, and answered by action_fallback
        "are there cabozantinib studies": ("low_confidence", "ask_related_studies"),
    }

    # the conversation goes on (the tracker as Rasa retrieves it, from the latest session):
    # only the new events are read, nothing counts twice
    tracker = await store.retrieve("tg-1")
    await save(
        store,
        "tg-1",
        timed(
            turn(
                "who do i call",
                "ask_contact",
                "Call 0086-18991232095.",
                "action_contact",
                0.4,
                channel="telegram",
            ),
            base + 3 * DAY,
        ),
        tracker,
    )
    assert index() == 4
    tg = summary(database_url, "tg-1")
    assert (tg.turns, tg.fallback_count, tg.handoff) == (3, 0, True)
    assert tg.min_confidence == pytest.approx(0.4)
    assert utc(tg.last_event_at) > utc(summary(database_url, "rest-3").last_event_at)


def test_indexer_rereads_ids_it_skipped(database_url, tracker_url, store):
    """An id below the high-water mark that was not visible yet (a transaction still open on
    PostgreSQL) is read when it appears."""
    from sqlalchemy import insert

    def event(event_id, sender, text):
        data = {
            "event": "user",
            "timestamp": now(),
            "text": text,
            "input_channel": "rest",
            "parse_data": {"intent": {"name": "greet", "confidence": 0.9}, "entities": []},
        }
        return {
            "id": event_id,
            "sender_id": sender,
            "type_name": "user",
            "timestamp": data["timestamp"],
            "intent_name": "greet",
            "action_name": None,
            "data": json.dumps(data),
        }

    engine = database(tracker_url).engine
    with engine.begin() as connection:
        connection.execute(insert(EVENTS), [event(1, "a", "hi"), event(3, "b", "hey")])
    assert index() == 2
    with unit_of_work(database_url) as session:
        state = session.get(IndexerState, "events")
        assert state.last_event_id == 3 and json.loads(state.gaps)[0][:2] == [2, 2]
    with engine.begin() as connection:
        connection.execute(insert(EVENTS), [event(2, "a", "late"), event(4, "b", "again")])
    assert index() == 2
    assert summary(database_url, "a").turns == 2 and summary(database_url, "b").turns == 2
    with unit_of_work(database_url) as session:
        assert json.loads(session.get(IndexerState, "events").gaps) == []


def test_masking():
    assert mask_text(f"call {PHONE}") == "call ••• •••• ••78"
    assert mask_text("+86 189-1234-5678.") == "+•• •••-••••-••78."
    assert mask_text("0086-18991232095") == "••••-•••••••••95"
    assert mask_text(f"mail {EMAIL} now") == "mail w•••@•••.com now"
    for kept in ("NCT05113290", "on 2026-11-24", "aged 58", "in 2021-12", "0.93", "id 1234567a"):
        assert mask_text(kept) == kept
    assert mask_value({"a": [PHONE]}) == {"a": ["••• •••• ••78"]}
    assert contains_contact(EMAIL) and not contains_contact("hello")
    keep = frozenset({"008618991232095", "team@hospital.example"})
    assert (
        mask_text(f"0086-18991232095, Team@Hospital.example, {PHONE}", keep)
        == "0086-18991232095, Team@Hospital.example, ••• •••• ••78"
    )


def test_public_contacts_come_from_the_trial_database(seeded):
    with unit_of_work(seeded) as session:
        assert "008618991232095" in public_contacts(session)


def test_no_tracker_table_yet(database_url, tracker_url):
    """No tracker store table yet (Rasa never started): nothing to index, no error."""
    assert index() == 0
    with unit_of_work(database_url) as session:
        assert session.scalar(select(func.count()).select_from(ConversationSummary)) == 0
