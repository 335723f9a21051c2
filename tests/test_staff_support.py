"""Fixtures and helpers of the staff console tests (imported by the other test_staff_* files).

Conversations are written with Rasa's own SQLTrackerStore from real DialogueStateTrackers and
real events, so the `events` rows are exactly what a running Rasa server stores.
"""
from __future__ import annotations

import re
import time
from typing import Dict, Iterable, List, Optional, Sequence

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.db import session_scope
from bot.settings import ROOT, Settings
from tests.conftest import _drop_postgres_database, _fresh_postgres_database

PASSWORD = "correct horse battery"
XSS = "<script>window.__xss=1</script><b>bold</b>"
DAY = 86400.0

_domain = None


def domain():
    global _domain
    if _domain is None:
        from rasa.shared.core.domain import Domain

        _domain = Domain.load(str(ROOT / "domain.yml"))
    return _domain


@pytest.fixture
def tracker_url(database_url, tmp_path):
    """Rasa's tracker store on the same kind of server as the trial database."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'tracker.db'}"
    else:
        url = _fresh_postgres_database()
        yield url
        _drop_postgres_database(url)


@pytest.fixture
def store(tracker_url):
    from rasa.core.tracker_store import SQLTrackerStore

    tracker_store = SQLTrackerStore(domain(), host=tracker_url)
    yield tracker_store
    tracker_store.engine.dispose()


# --------------------------------------------------------------------------- Rasa events

def user(text: str, intent: str, confidence: float = 0.97, entities: Sequence[Dict] = (),
         channel: str = "rest", ranking: Optional[List[Dict]] = None, at: Optional[float] = None):
    from rasa.shared.core.events import UserUttered

    parse = {"intent": {"name": intent, "confidence": confidence}, "entities": list(entities),
             "text": text, "message_id": None, "metadata": {},
             "intent_ranking": ranking or [{"name": intent, "confidence": confidence}]}
    return UserUttered(text, parse["intent"], list(entities), parse_data=parse, timestamp=at,
                       input_channel=channel)


def fallback_user(text: str, guess: str, guess_confidence: float, at: Optional[float] = None,
                  channel: str = "rest"):
    """What Rasa stores when the FallbackClassifier replaced the intent by nlu_fallback."""
    ranking = [{"name": "nlu_fallback", "confidence": 0.45},
               {"name": guess, "confidence": guess_confidence}]
    return user(text, "nlu_fallback", 0.45, ranking=ranking, at=at, channel=channel)


def action(name: str, at: Optional[float] = None, policy: str = "RulePolicy"):
    from rasa.shared.core.events import ActionExecuted

    return ActionExecuted(name, policy=policy if name != "action_listen" else None,
                          confidence=1.0, timestamp=at)


def bot(text: str, at: Optional[float] = None, buttons: Sequence[Dict] = ()):
    from rasa.shared.core.events import BotUttered

    return BotUttered(text, {"buttons": list(buttons)} if buttons else {}, {}, timestamp=at)


def slot(name: str, value, at: Optional[float] = None):
    from rasa.shared.core.events import SlotSet

    return SlotSet(name, value, timestamp=at)


def loop(name: Optional[str], at: Optional[float] = None):
    from rasa.shared.core.events import ActiveLoop

    return ActiveLoop(name, timestamp=at)


def session_start(at: Optional[float] = None):
    from rasa.shared.core.events import SessionStarted

    return [action("action_session_start", at), SessionStarted(timestamp=at),
            action("action_listen", at)]


def reverted(at: Optional[float] = None):
    from rasa.shared.core.events import UserUtteranceReverted

    return UserUtteranceReverted(timestamp=at)


def timed(events: Iterable, start: float, step: float = 1.0) -> List:
    """Gives the events consecutive timestamps from `start` (Rasa stamps them as they happen)."""
    out = []
    for i, event in enumerate(events):
        event.timestamp = start + i * step
        out.append(event)
    return out


async def save(store, sender: str, events: Iterable, tracker=None):
    """Stores the events as Rasa does after a turn; returns the tracker to add more turns to."""
    from rasa.shared.core.trackers import DialogueStateTracker

    if tracker is None:
        tracker = DialogueStateTracker(sender, domain().slots)
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker


def turn(text: str, intent: str, reply: str, action_name: str, confidence: float = 0.97,
         **user_kwargs) -> List:
    return [user(text, intent, confidence, **user_kwargs), action(action_name), bot(reply),
            action("action_listen")]


# --------------------------------------------------------------------------- web app

def add_staff(database_url: str, name: str, role: str = "coordinator",
              password: str = PASSWORD) -> None:
    from bot.staff_accounts import add_user

    with session_scope(database_url) as session:
        add_user(session, name, password, role)


@pytest.fixture
async def client(database_url, tracker_url, monkeypatch):
    from bot.web.app import create_app

    monkeypatch.setenv("STAFF_SESSION_KEY", "")
    app = create_app(Settings(database_url=database_url, tracker_store_url=tracker_url,
                              rasa_url="http://127.0.0.1:5005"))
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    yield test_client
    await test_client.close()


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_of(client, path: str = "/staff/conversations") -> str:
    response = await client.get(path)
    assert response.status == 200, (path, response.status)
    return CSRF_INPUT.search(await response.text()).group(1)


async def login(client, name: str, password: str = PASSWORD, expect: int = 303):
    token = await csrf_of(client, "/staff/login")
    response = await client.post("/staff/login", data={
        "username": name, "password": password, "csrf_token": token},
        allow_redirects=False)
    assert response.status == expect, (response.status, await response.text())
    return response


async def signed_in(client, database_url: str, name: str = "coord",
                    role: str = "coordinator") -> str:
    """Creates the user, signs in; returns the session's CSRF token."""
    add_staff(database_url, name, role)
    await login(client, name)
    return await csrf_of(client)


def now() -> float:
    return time.time()
