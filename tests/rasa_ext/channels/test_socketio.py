"""The checked socket.io channel over a real server (a fake agent): each connection reaches only
the conversations it asked for, by server-side ids; limits, frame size, both languages."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest
import socketio

from bot.config import Settings, use_settings
from bot.rasa_ext.channels.guard import conversation_id
from bot.rasa_ext.channels.limits import MemoryWindow, RateLimiter, use_rate_limiter
from bot.rasa_ext.channels.socketio import CheckedSocketIOInput
from tests.support.channels import Bot, serve

SECRET = "socketio-test-secret"


@pytest.fixture
def settings(tmp_path):
    def install(**values: Any) -> Settings:
        installed = Settings(var_dir=tmp_path, conversation_id_secret=SECRET, **values)
        use_settings(installed)
        use_rate_limiter(RateLimiter(installed, backend=MemoryWindow()))
        return installed

    install()
    yield install
    use_settings(None)
    use_rate_limiter(None)


def channel() -> CheckedSocketIOInput:
    return CheckedSocketIOInput.from_credentials(  # type: ignore[return-value]
        {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
         "session_persistence": True}
    )  # fmt: skip


class Client:
    """A socket.io client that records what it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.replies: List[Dict] = []
        self.errors: List[Dict] = []
        self.confirmed: List[str] = []
        self.sio.on("bot_uttered", self.replies.append)
        self.sio.on("error", self.errors.append)
        self.sio.on("session_confirm", self.confirmed.append)

    async def connect(self, base: str, session_id: Any = None) -> "Client":
        await self.sio.connect(base, transports=["polling"], socketio_path="/socket.io")
        if session_id is not None:
            await self.session(session_id)
        return self

    async def session(self, session_id: Any) -> None:
        count = len(self.confirmed)
        await self.sio.emit("session_request", {"session_id": session_id})
        await until(lambda: len(self.confirmed) > count)

    async def close(self) -> None:
        """Disconnect without waiting for the pending long poll (up to the ping interval)."""
        eio = self.sio.eio
        reading = eio.read_loop_task
        await eio.disconnect(abort=True)
        for task in (reading, eio.write_loop_task):
            if task is not None:
                task.cancel()

    async def say(self, text: str, session_id: str, **extra: Any) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": session_id, **extra})


async def until(check, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_connection_gets_only_the_conversation_it_asked_for(settings):
    bot = Bot("answer")
    async with serve(channel(), bot) as base:
        alice = await Client().connect(base, "alice-0123456789")
        mallory = Client()
        await mallory.connect(base, "mallory-1")
        try:
            server_id = conversation_id("socketio", "alice-0123456789", SECRET)
            # The id the console shows for Alice's conversation names another room.
            await mallory.session(server_id)
            assert mallory.confirmed[-1] == server_id
            # Alice's own id, not requested on this connection: refused.
            await mallory.say("what is her phone?", "alice-0123456789")
            await until(lambda: mallory.errors)
            assert "session_request" in mallory.errors[0]["error"]
            await alice.say("hello", "alice-0123456789")
            await until(lambda: alice.replies)
            await mallory.say("anyone there?", server_id)
            await until(lambda: len(bot.messages) == 2)
            await asyncio.sleep(0.3)
        finally:
            await alice.close()
            await mallory.close()
    assert [(m.text, m.sender_id, m.input_channel) for m in bot.messages] == [
        ("hello", server_id, "socketio"),
        ("anyone there?", conversation_id("socketio", server_id, SECRET), "socketio"),
    ]
    assert alice.confirmed == ["alice-0123456789"]
    assert alice.replies == [{"text": "answer"}]  # one reply: its own
    assert mallory.replies == [{"text": "answer"}]  # only the answer to its own message


async def test_a_reconnecting_client_continues_its_conversation(settings):
    bot = Bot("answer")
    async with serve(channel(), bot) as base:
        for text in ("first", "after a reload"):
            client = await Client().connect(base, "web-widget-1")
            await client.say(text, "web-widget-1")
            await until(lambda c=client: c.replies)  # type: ignore[misc]
            await client.close()
    ids = {m.sender_id for m in bot.messages}
    assert ids == {conversation_id("socketio", "web-widget-1", SECRET)}


async def test_limits_and_the_too_long_reply_in_both_languages(settings):
    settings(rate_limit_per_conversation=2)
    bot = Bot("answer")
    async with serve(channel(), bot) as base:
        client = await Client().connect(base, "s1")
        try:
            await client.say("我" * 2001, "s1")
            await until(lambda: client.replies)
            assert "请写短一些" in client.replies[-1]["text"]
            await client.say("hi", "s1")
            await until(lambda: len(client.replies) == 2)
            await client.say("你好", "s1")
            await until(lambda: client.errors)
            [limited] = client.errors
            assert limited["status"] == 429 and limited["retry_after"] >= 1
            assert "太快" in limited["message"]
            await client.say("", "s1", metadata={"language": "zh"})
            await until(lambda: len(client.errors) == 2)
        finally:
            await client.close()
    assert client.errors[1] == {"error": "'message' 为空"}  # checked before it counts
    assert [m.text for m in bot.messages] == ["hi"]


async def test_errors_in_chinese_when_the_patient_writes_chinese(settings):
    async with serve(channel(), Bot()) as base:
        client = await Client().connect(base, "s2")
        try:
            await client.say("", "s2", metadata={"language": "zh"})
            await client.sio.emit("user_uttered", {"message": "你好"})
            await until(lambda: len(client.errors) == 2)
        finally:
            await client.close()
    assert sorted(e["error"] for e in client.errors) == sorted(
        ["'message' 为空", "请先发送 session_request（缺少 session_id）"]
    )


async def test_frames_over_the_cap_are_refused(settings):
    settings(socketio_max_frame_bytes=4096)
    bot = Bot()
    sio_channel = channel()
    async with serve(sio_channel, bot) as base:
        assert sio_channel.sio is not None and sio_channel.sio.eio.max_http_buffer_size == 4096
        client = await Client().connect(base, "s3")
        try:
            await client.say("hi", "s3", metadata={"blob": "x" * 8000})
            await asyncio.sleep(1.0)
        finally:
            await client.close()
        assert bot.messages == []
        again = await Client().connect(base, "s3")  # the server still serves
        try:
            await again.say("hi", "s3")
            await until(lambda: again.replies)
        finally:
            await again.close()
    assert [m.text for m in bot.messages] == ["hi"]
