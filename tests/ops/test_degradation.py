"""Graceful degradation: the bot answers within 2 s, politely and with the study phone, when the
action server or the trial database is down, and works normally again when it is back.

The action endpoint goes through nginx configured by bot.ops.prod (as in the production profile):
when no action server answers, nginx returns a valid action-server response whose text was
rendered from the trial database at start-up. Each test runs over an SQLite trial database
(the file moved away mid-run) and, when TEST_POSTGRES_URL is set, over PostgreSQL (connections
refused and cut mid-run).
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.config import get_settings
from bot.db import dispose_all
from bot.ops import nginx, prod
from tests.support.databases import (
    BACKENDS,
    POSTGRES,
    drop_postgres_database,
    fresh_postgres_database,
)
from tests.support.stack import Stack, free_port

pytestmark = pytest.mark.live
PHONE = "0086-18991232095"


@pytest.fixture(scope="module", params=BACKENDS)
def stack(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("degradation")
    postgres = request.param == "postgresql"
    trials_url = fresh_postgres_database() if postgres else f"sqlite:///{workdir / 'trials.db'}"
    tracker_url = f"sqlite:///{workdir / 'tracker.db'}"
    nginx_port = free_port()
    running = Stack(
        workdir,
        trials_url,
        tracker_url,
        extra_env={"ACTION_ENDPOINT_URL": f"http://127.0.0.1:{nginx_port}/webhook"},
    )
    seeded = running.cli("seed")
    assert seeded.returncode == 0, seeded.stderr
    running.start_actions()
    profile = prod.Profile.from_settings(get_settings())
    profile.var_dir, profile.public_port, profile.action_port = (
        workdir / "prod",
        free_port(),
        nginx_port,
    )
    profile.rasa_port_list, profile.action_port_list = [running.rasa_port], [running.action_port]
    text_ = prod.fallback_text(trials_url, "NCT05113290")
    dispose_all()
    config = nginx.write_nginx_config(profile, prod.fallback_response(text_))
    try:
        running.supervisor.start(
            "nginx", nginx.nginx_command(config), f"http://127.0.0.1:{nginx_port}/health", 30
        )
        running.start_rasa()
        running.trials_url, running.postgres = trials_url, postgres
        yield running
    finally:
        running.stop()
        dispose_all()
        if postgres:
            drop_postgres_database(trials_url)


def timed(stack, text_: str):
    start = time.monotonic()
    reply = stack.say(f"deg-{uuid.uuid4().hex[:8]}", text_)
    return reply, time.monotonic() - start


def _set_database_down(stack, down: bool) -> None:
    if stack.postgres:
        name = make_url(stack.trials_url).database
        engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT", future=True)
        with engine.connect() as connection:
            connection.execute(
                text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if down else "true"}')
            )
            if down:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
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


UNAVAILABLE = {"en": "I can't look that up right now", "zh": "我现在暂时查不到这项信息"}
SCREENING = {
    # consent, its answer, the answers to questions 1-5, then yes to a callback
    "en": ("can I take part in this study?", "yes", ["yes", "no", "yes", "yes", "yes"], "yes"),
    "zh": ("我父亲是肝癌，能参加吗", "同意", ["是的", "没有", "对", "嗯", "稳定的"], "好的"),
}
PROGRESS = {"en": "({} of 5)", "zh": "（{}/5）"}


def _one_polite_outage_reply(reply: str, language: str) -> None:
    assert reply.count(UNAVAILABLE[language]) == 1, reply  # said once, never an empty reply
    assert reply.count(PHONE) == 1, reply


@pytest.mark.parametrize("language", ["en", "zh"])
def test_trial_database_down_mid_screening_and_callback_form(stack, language):
    """The pre-screening and the callback form keep their place through an outage: the answer
    given while the database is down gets the polite reply and the last known phone, and the
    same answer once it is back moves on as if nothing happened."""
    who = f"deg-{language}-{uuid.uuid4().hex[:8]}"
    start, consent, answers, callback = SCREENING[language]
    assert PHONE in stack.say(who, "what is the phone number of the study?")  # read once
    stack.say(who, start)
    assert PROGRESS[language].format(1) in stack.say(who, consent)
    _set_database_down(stack, True)
    try:
        reply = stack.say(who, answers[0])
        _one_polite_outage_reply(reply, language)
        assert PROGRESS[language].format(2) not in reply
    finally:
        _set_database_down(stack, False)
    for step, answer in enumerate(answers[:-1], start=2):
        assert PROGRESS[language].format(step) in stack.say(who, answer)
    outcome = stack.say(who, answers[-1])
    assert PHONE in outcome
    stack.say(who, callback)  # asks for the name
    letters = random.choices("abcdefghijklmnopqrstuvwxyz", k=6)
    name = (
        f"Outage {''.join(letters).title()}"
        if language == "en"
        else "欧" + "".join(random.choices("芳伟敏静丽强磊军洋勇", k=2))
    )
    stack.say(who, name)  # asks for the phone
    _set_database_down(stack, True)
    try:
        _one_polite_outage_reply(stack.say(who, "13912345678"), language)
    finally:
        _set_database_down(stack, False)
    saved = stack.say(who, callback)  # "shall the team call you?" yes: saved now
    assert name in saved and "+86 139 1234 5678" in saved, saved
    listing = stack.cli("screenings", "list").stdout
    assert listing.count(f"callback: {name} ") == 1, listing


def test_action_server_down_then_back(stack):
    reply, _ = timed(stack, "is the study recruiting?")
    assert '"not yet recruiting"' in reply
    stack.stop_actions()
    try:
        for question in (
            "is the study recruiting?",
            "what's the phone number",
            "can I take part in this study?",
        ):
            reply, seconds = timed(stack, question)
            # nginx cannot tell the conversation's language: both, the default (zh) first
            assert reply.index("暂时无法回答") < reply.index("can't answer that right now"), reply
            assert f"研究团队：Chang Liu, MD（电话：{PHONE}）" in reply, reply
            assert seconds < 2, seconds
    finally:
        stack.start_actions()
    time.sleep(3.5)  # nginx retries a failed server after fail_timeout (3 s)
    reply, _ = timed(stack, "is the study recruiting?")
    assert '"not yet recruiting"' in reply and PHONE in reply


def test_a_long_conversation_still_reaches_the_action_server(stack):
    """Rasa sends the whole conversation with every action call; nginx must pass a long one
    (here ~400 kB of events) to the action server, not refuse it with 413 Payload Too Large."""
    events = [
        {
            "event": "user",
            "timestamp": 1.0 + i,
            "text": "is it recruiting? " * 20,
            "parse_data": {"intent": {"name": "ask_status", "confidence": 0.9}},
        }
        for i in range(1000)
    ]
    body = json.dumps(
        {
            "next_action": "action_recruitment_status",
            "sender_id": "long",
            "version": "3.6.21",
            "tracker": {
                "sender_id": "long",
                "slots": {"language": "en"},
                "latest_message": {},
                "events": events,
                "paused": False,
                "followup_action": None,
                "active_loop": {},
                "latest_action_name": None,
            },
            "domain": {},
        }
    ).encode()
    assert len(body) > 300_000
    request = urllib.request.Request(
        stack.env["ACTION_ENDPOINT_URL"], data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        texts = " ".join(r.get("text", "") for r in json.loads(response.read())["responses"])
    assert '"not yet recruiting"' in texts and "can't answer that right now" not in texts
