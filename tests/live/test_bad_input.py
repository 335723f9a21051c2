"""Bad input on the public endpoints: always 2xx/4xx with a reason, never 5xx, nothing corrupted;
forged conversation ids, bursts, oversized metadata and a tracker store that goes away.

Real HTTP and socket.io against a running Rasa server started on the checked channels
(bot.rasa_ext.channels.rest.CheckedRestInput and .socketio.CheckedSocketIOInput). The
tracker store is PostgreSQL when TEST_POSTGRES_URL is set, else SQLite. Conversations are
stored under the server's ids (`stack.conversation_id(client id)`), never the client's.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from tests.support.stack import tracker_events, user_texts

pytestmark = pytest.mark.live
PHONE = "0086-18991232095"
LONG = "I have a question about my liver. " * 600  # ~20,000 characters


@pytest.fixture
def stack(live_stack):
    return live_stack


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
        (
            "input_channel object",
            as_json({"sender": sender, "message": "hi", "input_channel": {"a": 1}}),
        ),
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
    assert tracker_events(stack.tracker_url, stack.conversation_id(sender)) == []  # not stored
    status, payload = stack.post(json.dumps({"sender": sender, "message": "我" * 2001}).encode())
    assert status == 200 and "请写短一些" in json.loads(payload)[0]["text"]


def test_hostile_but_valid_text_is_answered_and_stored_verbatim(stack):
    sender = _sender()
    payloads = [
        "'; DROP TABLE events; --",
        "<script>alert(1)</script><img src=x onerror=1>",
        "1 OR 1=1; SELECT * FROM screenings",
        "{{7*7}} ${jndi:ldap://x}",
        "患者能参加吗？",
        "emoji 🙂 test",
    ]
    for text in payloads:
        status, payload = stack.post(json.dumps({"sender": sender, "message": text}).encode())
        assert status == 200, text
        assert isinstance(json.loads(payload), list)
    assert user_texts(tracker_events(stack.tracker_url, stack.conversation_id(sender))) == payloads


def test_control_characters_are_removed_before_nlu(stack):
    sender = _sender()
    status, payload = stack.post(
        json.dumps(
            {"sender": sender, "message": "what is the\x00 phone\x07 number?\r\n\t"}
        ).encode()
    )
    assert status == 200
    assert PHONE in "\n".join(m.get("text", "") for m in json.loads(payload))
    stored = tracker_events(stack.tracker_url, stack.conversation_id(sender))
    assert user_texts(stored) == ["what is the phone number?"]


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
    events = tracker_events(stack.tracker_url, stack.conversation_id(sender))
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

        await client.connect(
            f"http://127.0.0.1:{stack.rasa_port}",
            transports=["polling"],
            socketio_path="/socket.io",
            wait_timeout=10,
        )
        try:
            for bad in ("just a string", ["a", "list"], 42, None, {"session_id": [1]}):
                await client.emit("session_request", bad)
            await asyncio.wait_for(confirmed.wait(), 10)
            sid = session["id"]
            assert isinstance(sid, str) and sid
            bad_messages = [
                "string payload",
                ["list"],
                42,
                None,
                {"message": 42, "session_id": sid},
                {"message": ["x"], "session_id": sid},
                {"message": None, "session_id": sid},
                {"message": "hi"},  # no session id
                {"message": "hi", "session_id": ["x"]},
                {"message": "hi", "session_id": sid, "metadata": "{not json"},
                {"message": "hi", "session_id": sid, "metadata": [1]},
            ]
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
            await client.emit(
                "user_uttered", {"message": "what is the phone number?", "session_id": sid}
            )
            for _ in range(150):
                if any(PHONE in r.get("text", "") for r in replies):
                    break
                await asyncio.sleep(0.1)
            assert any(PHONE in r.get("text", "") for r in replies), replies
            return sid
        finally:
            # Without waiting for the pending long poll (up to the ping interval).
            reading = client.eio.read_loop_task
            await client.eio.disconnect(abort=True)
            for task in (reading, client.eio.write_loop_task):
                if task is not None:
                    task.cancel()

    sid = asyncio.run(asyncio.wait_for(run(), 60))
    stored = tracker_events(stack.tracker_url, stack.conversation_id(sid, "socketio"))
    assert user_texts(stored) == ["what is the phone number?"]


# -- conversation ids are the server's ----------------------------------------------------------


def _store_twilio_conversation(stack, phone: str) -> None:
    """A Twilio patient's conversation (Twilio's conversation id is the phone number), stored
    with Rasa's own SQLTrackerStore as the Twilio channel would have."""
    from rasa.core.tracker_store import SQLTrackerStore

    from tests.support.events import domain, save, turn

    store = SQLTrackerStore(domain(), host=stack.tracker_url)
    try:
        events = turn(
            "can I take part?",
            "ask_eligibility",
            "Do you agree?",
            "utter_consent",
            channel="twilio",
        )
        asyncio.run(save(store, phone, events))
    finally:
        store.engine.dispose()


def test_a_forged_sender_never_reaches_another_channels_conversation(stack):
    phone = f"+86138{uuid.uuid4().int % 10**8:08d}"
    _store_twilio_conversation(stack, phone)
    before = tracker_events(stack.tracker_url, phone)
    assert user_texts(before) == ["can I take part?"]

    status, payload = stack.post(json.dumps({"sender": phone, "message": "stop"}).encode())
    assert status == 200
    assert {m["recipient_id"] for m in json.loads(payload)} == {phone}  # the client's own id
    forged = {"sender": phone, "message": "stop", "input_channel": "twilio"}
    status, payload = stack.post(json.dumps(forged).encode())
    assert status == 400 and "input_channel" in json.loads(payload)["error"]

    assert tracker_events(stack.tracker_url, phone) == before  # untouched
    own = tracker_events(stack.tracker_url, stack.conversation_id(phone))
    assert user_texts(own) == ["stop"]
    assert [e["input_channel"] for e in own if e.get("event") == "user"] == ["rest"]


def test_the_widget_keeps_its_conversation_with_its_own_id(stack):
    """The widget keeps a random id in localStorage and sends it after every reload."""
    client = f"web-{uuid.uuid4().hex}"
    assert "Do you agree" in stack.say(client, "can I take part in this study?")
    assert "(1 of 5)" in stack.say(client, "yes")
    replies = stack.send(client, "yes")  # after a reload: the same id
    assert "(2 of 5)" in "\n".join(r.get("text", "") for r in replies)
    assert {r["recipient_id"] for r in replies} == {client}
    assert tracker_events(stack.tracker_url, client) == []
    stored = tracker_events(stack.tracker_url, stack.conversation_id(client))
    assert user_texts(stored) == ["can I take part in this study?", "yes", "yes"]


class _SocketClient:
    def __init__(self, stack) -> None:
        import socketio

        self.stack = stack
        self.sio = socketio.AsyncClient(reconnection=False)
        self.replies: list = []
        self.errors: list = []
        self.confirmed: list = []
        self.sio.on("bot_uttered", self.replies.append)
        self.sio.on("error", self.errors.append)
        self.sio.on("session_confirm", self.confirmed.append)

    async def connect(self, session_id: str) -> "_SocketClient":
        await self.sio.connect(
            f"http://127.0.0.1:{self.stack.rasa_port}",
            transports=["polling"],
            socketio_path="/socket.io",
            wait_timeout=10,
        )
        await self.session(session_id)
        return self

    async def session(self, session_id: str) -> None:
        count = len(self.confirmed)
        await self.sio.emit("session_request", {"session_id": session_id})
        await _until(lambda: len(self.confirmed) > count)

    async def say(self, text: str, session_id: str) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": session_id})

    async def close(self) -> None:
        # Without waiting for the pending long poll (up to the ping interval).
        eio = self.sio.eio
        reading = eio.read_loop_task
        await eio.disconnect(abort=True)
        for task in (reading, eio.write_loop_task):
            if task is not None:
                task.cancel()


async def _until(check, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


def test_a_socketio_client_with_another_clients_session_id_gets_none_of_its_replies(stack):
    alice_id, mallory_id = f"alice-{uuid.uuid4().hex}", f"mallory-{uuid.uuid4().hex}"
    alice_conversation = stack.conversation_id(alice_id, "socketio")

    async def run():
        alice = await _SocketClient(stack).connect(alice_id)
        mallory = await _SocketClient(stack).connect(mallory_id)
        try:
            # The id staff see for Alice's conversation names another room...
            await mallory.session(alice_conversation)
            # ...and Alice's id, not requested on this connection, is refused.
            await mallory.say("what is the phone number?", alice_id)
            await _until(lambda: mallory.errors)
            await alice.say("what is the phone number?", alice_id)
            await _until(lambda: any(PHONE in r.get("text", "") for r in alice.replies))
            await mallory.say("hello", alice_conversation)
            await _until(lambda: mallory.replies)
            await asyncio.sleep(2)  # time for any stray reply to arrive
            return alice, mallory
        finally:
            await alice.close()
            await mallory.close()

    alice, mallory = asyncio.run(asyncio.wait_for(run(), 90))
    assert "session_request" in mallory.errors[0]["error"]
    assert not any(PHONE in r.get("text", "") for r in mallory.replies), mallory.replies
    assert not any("automated assistant" in r.get("text", "") for r in alice.replies)
    assert user_texts(tracker_events(stack.tracker_url, alice_conversation)) == [
        "what is the phone number?"
    ]
    assert tracker_events(stack.tracker_url, alice_id) == []
    other = stack.conversation_id(alice_conversation, "socketio")
    assert user_texts(tracker_events(stack.tracker_url, other)) == ["hello"]


# -- limits ---------------------------------------------------------------------------------------


def test_a_burst_from_one_address_gets_429_while_another_is_served(stack):
    from bot.config import Settings

    limit = int(
        stack.env.get("RATE_LIMIT_PER_ADDRESS")
        or Settings.__fields__["rate_limit_per_address"].default
    )
    # Cheap requests (too long: answered before NLU), each from a new sender, so only the
    # address limit applies; the server sees 127.0.0.2 and 127.0.0.3 as two clients.
    body = lambda n: json.dumps({"sender": f"burst-{n}", "message": "x" * 2001}).encode()  # noqa: E731
    statuses = [stack.post_from("127.0.0.2", body(n))[0] for n in range(limit)]
    assert statuses == [200] * limit
    status, payload, headers = stack.post_from("127.0.0.2", body(limit))
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert "too quickly" in json.loads(payload)["message"]
    chinese = json.dumps({"sender": "burst-zh", "message": "还在招募吗"}).encode()
    status, payload, _ = stack.post_from("127.0.0.2", chinese)
    assert status == 429 and "太快" in json.loads(payload)["message"]

    question = json.dumps({"sender": _sender(), "message": "what is the phone number?"})
    status, payload, _ = stack.post_from("127.0.0.3", question.encode())
    assert status == 200 and PHONE in payload.decode()


def _row_sizes(stack, conversation: str):
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.tracker_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT length(data) FROM events WHERE sender_id = :s"), {"s": conversation}
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def test_oversized_metadata_is_never_stored(stack):
    sender = _sender()
    metadata = {"language": "en", "blob": "x" * 200_000, **{f"k{i}": i for i in range(30)}}
    body = {"sender": sender, "message": "what is the phone number?", "metadata": metadata}
    status, payload = stack.post(json.dumps(body).encode())
    assert status == 200 and PHONE in payload.decode()
    huge = {"sender": sender, "message": "hello", "metadata": {"blob": "y" * 256 * 1024}}
    status, payload = stack.post(json.dumps(huge).encode())
    assert status == 400 and json.loads(payload)["error"]
    conversation = stack.conversation_id(sender)
    events = tracker_events(stack.tracker_url, conversation)
    assert user_texts(events) == ["what is the phone number?"]
    [user] = [e for e in events if e.get("event") == "user"]
    sent = [key for key in user["metadata"] if key in metadata]  # Rasa adds assistant_id
    assert len(sent) <= 20 and "language" in sent and "blob" not in sent
    assert max(_row_sizes(stack, conversation)) < 20_000


# -- the tracker store goes away and comes back ----------------------------------------------------


def _tracker_store_down(stack, down: bool) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tests.support.databases import POSTGRES

    name = make_url(stack.tracker_url).database
    engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT", future=True)
    try:
        with engine.connect() as connection:
            flag = "false" if down else "true"
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {flag}'))
            if down:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
    finally:
        engine.dispose()


def test_the_tracker_store_down_is_a_503_in_time_and_the_conversation_continues(stack):
    if not stack.tracker_url.startswith("postgresql"):
        pytest.skip("needs the PostgreSQL tracker store (TEST_POSTGRES_URL)")
    sender = _sender()
    assert "Do you agree" in stack.say(sender, "can I take part in this study?")
    assert "(1 of 5)" in stack.say(sender, "yes")
    _tracker_store_down(stack, True)
    try:
        for text_, expected in (
            ("yes", "Please try again in a few minutes or call the study team."),
            ("是的", "请过几分钟再试，或致电研究团队。"),
        ):
            started = time.monotonic()
            status, payload = stack.post(
                json.dumps({"sender": sender, "message": text_}).encode(), timeout=10
            )
            elapsed = time.monotonic() - started
            assert status == 503 and elapsed < 2, (status, elapsed, payload[:200])
            assert expected in json.loads(payload)["message"]
    finally:
        _tracker_store_down(stack, False)
    # Back: the screening continues where it was; the refused messages were not stored.
    assert "(2 of 5)" in stack.say(sender, "yes")
    events = tracker_events(stack.tracker_url, stack.conversation_id(sender))
    assert user_texts(events) == ["can I take part in this study?", "yes", "yes"]
