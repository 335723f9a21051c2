"""Bad input on the public endpoints: always 2xx/4xx with a reason, never 5xx, nothing corrupted.

Real HTTP and socket.io against a running Rasa server started on the checked channels
(bot.channels.rest.CheckedRestInput, bot.channels.socketio.CheckedSocketIOInput). The tracker
store is PostgreSQL when TEST_POSTGRES_URL is set, else SQLite.
"""
from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from bot.db import dispose_engines
from tests.conftest import BACKENDS, _drop_postgres_database, _fresh_postgres_database
from tests.hardened import HardenedStack, tracker_events, user_texts

pytestmark = pytest.mark.live
PHONE = "0086-18991232095"
LONG = "I have a question about my liver. " * 600  # ~20,000 characters


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bad-input")
    postgres = "postgresql" in BACKENDS
    tracker_url = _fresh_postgres_database() if postgres else f"sqlite:///{workdir / 'tracker.db'}"
    running = HardenedStack(workdir, f"sqlite:///{workdir / 'trials.db'}", tracker_url)
    seeded = running.cli("seed")
    assert seeded.returncode == 0, seeded.stderr
    running.start()
    running.tracker_url = tracker_url
    yield running
    running.stop()
    dispose_engines()
    if postgres:
        _drop_postgres_database(tracker_url)


def _sender() -> str:
    return f"bad-{uuid.uuid4().hex[:8]}"


def _bad_bodies(sender: str):
    """(name, body bytes) pairs: every one must get a status below 500."""
    as_json = lambda value: json.dumps(value).encode()  # noqa: E731
    return [
        ("empty body", b""),
        ("whitespace body", b"  \n"),
        ("malformed json", b'{"sender": "x", "message": '),
        ("not utf-8", b'{"sender": "x", "message": "\xff\xfe"}'),
        ("json list", as_json([sender, "hello"])),
        ("json number", b"42"),
        ("json string", b'"hello"'),
        ("json null", b"null"),
        ("message number", as_json({"sender": sender, "message": 42})),
        ("message list", as_json({"sender": sender, "message": ["hello"]})),
        ("message object", as_json({"sender": sender, "message": {"text": "hello"}})),
        ("message null", as_json({"sender": sender, "message": None})),
        ("message missing", as_json({"sender": sender})),
        ("message empty", as_json({"sender": sender, "message": ""})),
        ("message only controls", as_json({"sender": sender, "message": "\x00\x07\x1b"})),
        ("sender missing", as_json({"message": "hello"})),
        ("sender null", as_json({"sender": None, "message": "hello"})),
        ("sender list", as_json({"sender": [1], "message": "hello"})),
        ("sender huge", as_json({"sender": "s" * 5000, "message": "hello"})),
        ("sender control chars", as_json({"sender": "a\x00b", "message": "hello"})),
        ("metadata string", as_json({"sender": sender, "message": "hi", "metadata": "x"})),
        ("metadata list", as_json({"sender": sender, "message": "hi", "metadata": [1]})),
        ("input_channel object", as_json({"sender": sender, "message": "hi",
                                          "input_channel": {"a": 1}})),
        ("huge body", as_json({"sender": sender, "message": "x" * 400_000})),
    ]


def test_every_bad_request_gets_a_4xx_with_a_reason(stack):
    for name, body in _bad_bodies(_sender()):
        status, payload = stack.post(body)
        assert 400 <= status < 500, f"{name}: {status} {payload[:200]!r}"
        assert json.loads(payload).get("error"), f"{name}: no reason given"


def test_wrong_content_type_is_not_a_5xx(stack):
    status, _ = stack.post(b"sender=a&message=hello", "application/x-www-form-urlencoded")
    assert status < 500


def test_a_too_long_message_gets_a_polite_reply_and_is_not_stored(stack):
    sender = _sender()
    status, payload = stack.post(json.dumps({"sender": sender, "message": LONG}).encode())
    assert status == 200
    reply = json.loads(payload)
    assert "keep it shorter" in reply[0]["text"] and "2,000" in reply[0]["text"]
    assert tracker_events(stack.tracker_url, sender) == []  # never reached NLU or the store


def test_hostile_but_valid_text_is_answered_and_stored_verbatim(stack):
    sender = _sender()
    payloads = ["'; DROP TABLE events; --", "<script>alert(1)</script><img src=x onerror=1>",
                "1 OR 1=1; SELECT * FROM screenings", "{{7*7}} ${jndi:ldap://x}",
                "患者能参加吗？", "emoji 🙂 test"]
    for text in payloads:
        status, payload = stack.post(json.dumps({"sender": sender, "message": text}).encode())
        assert status == 200, text
        assert isinstance(json.loads(payload), list)
    assert user_texts(tracker_events(stack.tracker_url, sender)) == payloads


def test_control_characters_are_removed_before_nlu(stack):
    sender = _sender()
    status, payload = stack.post(json.dumps(
        {"sender": sender, "message": "what is the\x00 phone\x07 number?\r\n\t"}).encode())
    assert status == 200
    assert PHONE in "\n".join(m.get("text", "") for m in json.loads(payload))
    assert user_texts(tracker_events(stack.tracker_url, sender)) == ["what is the phone number?"]


def test_a_good_conversation_survives_bad_input_on_the_same_sender(stack):
    sender = _sender()
    assert "Do you agree" in stack.say(sender, "can I take part in this study?")
    assert "(1 of 5)" in stack.say(sender, "yes")
    for name, body in _bad_bodies(sender):
        status, _ = stack.post(body)
        assert status < 500, name
    status, _ = stack.post(json.dumps({"sender": sender, "message": LONG}).encode())
    assert status == 200
    # The screening continues where it was, and the stored events are exactly the good ones.
    assert "(2 of 5)" in stack.say(sender, "yes")
    events = tracker_events(stack.tracker_url, sender)
    assert user_texts(events) == ["can I take part in this study?", "yes", "yes"]
    assert all(isinstance(e, dict) and e.get("event") for e in events)


def test_socketio_bad_payloads_never_break_the_connection(stack):
    import socketio

    async def run():
        client = socketio.AsyncClient(reconnection=False)
        replies, errors, confirmed = [], [], asyncio.Event()
        session = {}

        @client.on("bot_uttered")
        async def on_reply(data):
            replies.append(data)

        @client.on("error")
        async def on_error(data):
            errors.append(data)

        @client.on("session_confirm")
        async def on_confirm(data):
            session["id"] = data
            confirmed.set()

        await client.connect(f"http://127.0.0.1:{stack.rasa_port}", transports=["polling"],
                             socketio_path="/socket.io", wait_timeout=10)
        try:
            for bad in ("just a string", ["a", "list"], 42, None, {"session_id": [1]}):
                await client.emit("session_request", bad)
            await asyncio.wait_for(confirmed.wait(), 10)
            sid = session["id"]
            assert isinstance(sid, str) and sid
            bad_messages = ["string payload", ["list"], 42, None,
                            {"message": 42, "session_id": sid},
                            {"message": ["x"], "session_id": sid},
                            {"message": None, "session_id": sid},
                            {"message": "hi"},  # no session id
                            {"message": "hi", "session_id": ["x"]},
                            {"message": "hi", "session_id": sid, "metadata": "{not json"},
                            {"message": "hi", "session_id": sid, "metadata": [1]}]
            for bad in bad_messages:
                await client.emit("user_uttered", bad)
            await client.emit("user_uttered", {"message": LONG, "session_id": sid})
            for _ in range(100):
                if len(errors) >= len(bad_messages) and replies:
                    break
                await asyncio.sleep(0.1)
            assert len(errors) == len(bad_messages), errors
            assert any("keep it shorter" in r.get("text", "") for r in replies)
            replies.clear()
            await client.emit("user_uttered", {"message": "what is the phone number?",
                                               "session_id": sid})
            for _ in range(150):
                if any(PHONE in r.get("text", "") for r in replies):
                    break
                await asyncio.sleep(0.1)
            assert any(PHONE in r.get("text", "") for r in replies), replies
            return sid
        finally:
            await client.disconnect()

    sid = asyncio.run(asyncio.wait_for(run(), 60))
    assert user_texts(tracker_events(stack.tracker_url, sid)) == ["what is the phone number?"]
