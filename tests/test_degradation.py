"""Graceful degradation: the bot answers within 2 s, politely and with the study phone, when the
action server or the trial database is down, and works normally again when it is back.

The action endpoint goes through nginx configured by bot.prod (as in the production profile):
when no action server answers, nginx returns a valid action-server response whose text was
rendered from the trial database at start-up. The trial database is PostgreSQL when
TEST_POSTGRES_URL is set (connections refused mid-run), else SQLite (file moved away).
"""
from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import dispose_engines
from tests.conftest import BACKENDS, POSTGRES, _drop_postgres_database, _fresh_postgres_database
from tests.hardened import HardenedStack
from tests.live import free_port

pytestmark = pytest.mark.live
PHONE = "0086-18991232095"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from bot import prod

    workdir = tmp_path_factory.mktemp("degradation")
    postgres = "postgresql" in BACKENDS
    trials_url = _fresh_postgres_database() if postgres else f"sqlite:///{workdir / 'trials.db'}"
    tracker_url = f"sqlite:///{workdir / 'tracker.db'}"
    nginx_port = free_port()
    running = HardenedStack(workdir, trials_url, tracker_url, extra_env={
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{nginx_port}/webhook"})
    seeded = running.cli("seed")
    assert seeded.returncode == 0, seeded.stderr
    running.start_actions()
    profile = prod.Profile(var_dir=workdir / "prod", public_port=free_port(),
                           action_port=nginx_port, rasa_port_list=[running.rasa_port],
                           action_port_list=[running.action_port])
    previous = os.environ.get("TRIAL_DATABASE_URL")
    os.environ["TRIAL_DATABASE_URL"] = trials_url
    try:
        config = prod.write_nginx_config(profile, prod.fallback_text())
    finally:
        os.environ.pop("TRIAL_DATABASE_URL") if previous is None else os.environ.update(
            TRIAL_DATABASE_URL=previous)
        dispose_engines()
    try:
        running.supervisor.start("nginx", prod.nginx_command(config),
                                 f"http://127.0.0.1:{nginx_port}/health", 30)
        running.start_rasa()
        running.trials_url, running.postgres = trials_url, postgres
        yield running
    finally:
        running.stop()
        dispose_engines()
        if postgres:
            _drop_postgres_database(trials_url)


def timed(stack, text_: str):
    start = time.monotonic()
    reply = stack.say(f"deg-{uuid.uuid4().hex[:8]}", text_)
    return reply, time.monotonic() - start


def _set_database_down(stack, down: bool) -> None:
    if stack.postgres:
        name = make_url(stack.trials_url).database
        engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT", future=True)
        with engine.connect() as connection:
            connection.execute(text(
                f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if down else "true"}'))
            if down:
                connection.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
        engine.dispose()
    else:
        path = Path(make_url(stack.trials_url).database)
        away = path.with_suffix(".away")
        if down:
            path.rename(away)
        else:
            path.unlink(missing_ok=True)  # the empty file SQLite created meanwhile
            away.rename(path)


def test_trial_database_down_then_back(stack):
    reply, _ = timed(stack, "what is the phone number of the study?")
    assert PHONE in reply  # also: the action server has read the phone once
    _set_database_down(stack, True)
    try:
        for question in ("is the study recruiting?", "what is the phone number?"):
            reply, seconds = timed(stack, question)
            assert "can't look that up right now" in reply, reply
            assert PHONE in reply and seconds < 2, (reply, seconds)
    finally:
        _set_database_down(stack, False)
    reply, _ = timed(stack, "is the study recruiting?")
    assert '"not yet recruiting"' in reply and PHONE in reply


def test_action_server_down_then_back(stack):
    reply, _ = timed(stack, "is the study recruiting?")
    assert '"not yet recruiting"' in reply
    stack.stop_actions()
    try:
        for question in ("is the study recruiting?", "what's the phone number",
                         "can I take part in this study?"):
            reply, seconds = timed(stack, question)
            assert "can't answer that right now" in reply and PHONE in reply, reply
            assert seconds < 2, seconds
    finally:
        stack.start_actions()
    time.sleep(3.5)  # nginx retries a failed server after fail_timeout (3 s)
    reply, _ = timed(stack, "is the study recruiting?")
    assert '"not yet recruiting"' in reply and PHONE in reply


def test_a_long_conversation_still_reaches_the_action_server(stack):
    """Rasa sends the whole conversation with every action call; nginx must pass a long one
    (here ~400 kB of events) to the action server, not refuse it with 413 Payload Too Large."""
    events = [{"event": "user", "timestamp": 1.0 + i, "text": "is it recruiting? " * 20,
               "parse_data": {"intent": {"name": "ask_status", "confidence": 0.9}}}
              for i in range(1000)]
    body = json.dumps({
        "next_action": "action_recruitment_status", "sender_id": "long", "version": "3.6.21",
        "tracker": {"sender_id": "long", "slots": {}, "latest_message": {}, "events": events,
                    "paused": False, "followup_action": None, "active_loop": {},
                    "latest_action_name": None}, "domain": {}}).encode()
    assert len(body) > 300_000
    request = urllib.request.Request(stack.env["ACTION_ENDPOINT_URL"], data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        texts = " ".join(r.get("text", "") for r in json.loads(response.read())["responses"])
    assert '"not yet recruiting"' in texts and "can't answer that right now" not in texts
