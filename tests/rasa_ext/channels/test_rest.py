"""The checked REST channel over real HTTP (a Sanic server with a fake agent): server-side
conversation ids, the route's input channel, limits, metadata caps, both languages, 503s."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from types import SimpleNamespace
from typing import Any, Dict, Optional

import aiohttp
import pytest

from bot.config import Settings, use_settings
from bot.rasa_ext.channels.guard import TrackerStoreUnavailable, conversation_id
from bot.rasa_ext.channels.limits import MemoryWindow, RateLimiter, use_rate_limiter
from bot.rasa_ext.channels.rest import CheckedRestInput
from tests.support.channels import Bot, serve

SECRET = "rest-test-secret"
PATH = "/webhooks/rest/webhook"
PHONE_ID = "+8613800138000"  # what Twilio uses as the conversation id of that patient


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


async def post(base: str, body: Any, headers: Optional[Dict[str, str]] = None, raw: bool = False):
    data = body if raw else json.dumps(body)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            base + PATH,
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
        ) as reply:
            text = await reply.text()
            return SimpleNamespace(
                status=reply.status,
                json=json.loads(text) if text else None,
                headers=dict(reply.headers),
            )


async def test_a_forged_sender_gets_its_own_server_side_conversation(settings):
    """A Twilio patient's conversation id is their phone number; a REST client naming that
    number reaches a conversation of its own, never the patient's."""
    bot = Bot("ok")
    async with serve(CheckedRestInput(), bot) as base:
        reply = await post(base, {"sender": PHONE_ID, "message": "stop"})
    assert reply.status == 200
    assert reply.json == [{"recipient_id": PHONE_ID, "text": "ok"}]  # the client's own id
    [message] = bot.messages
    assert message.sender_id == conversation_id("rest", PHONE_ID, SECRET) != PHONE_ID
    assert message.sender_id.startswith("rest:") and message.input_channel == "rest"


async def test_the_input_channel_is_the_routes(settings):
    bot = Bot("ok")
    async with serve(CheckedRestInput(), bot) as base:
        forged = await post(base, {"sender": "a", "message": "hi", "input_channel": "twilio"})
        own = await post(base, {"sender": "a", "message": "hi", "input_channel": "rest"})
    assert forged.status == 400 and "input_channel" in forged.json["error"]
    assert own.status == 200
    assert [m.input_channel for m in bot.messages] == ["rest"]


async def test_the_same_client_id_continues_its_conversation(settings):
    bot = Bot("ok")
    async with serve(CheckedRestInput(), bot) as base:
        for text in ("first", "after a reload"):
            await post(base, {"sender": "web-1234", "message": text})
        await post(base, {"sender": "web-5678", "message": "someone else"})
    ids = [m.sender_id for m in bot.messages]
    assert ids[0] == ids[1] == conversation_id("rest", "web-1234", SECRET) != ids[2]


async def test_a_burst_from_one_address_gets_429_while_another_is_served(settings):
    settings(rate_limit_per_address=3, rate_limit_window=30)
    bot = Bot("ok")
    burst = {"X-Forwarded-For": "203.0.113.5"}  # through a proxy on this host (loopback)
    async with serve(CheckedRestInput(), bot) as base:
        served = [await post(base, {"sender": f"s{i}", "message": "hi"}, burst) for i in range(3)]
        limited = await post(base, {"sender": "s9", "message": "hi"}, burst)
        chinese = await post(base, {"sender": "s9", "message": "你好"}, burst)
        invalid = await post(base, b"not json", burst, raw=True)
        other = await post(
            base, {"sender": "t1", "message": "hi"}, {"X-Forwarded-For": "203.0.113.6"}
        )
    assert [r.status for r in served] == [200, 200, 200]
    assert limited.status == 429 and 1 <= int(limited.headers["Retry-After"]) <= 30
    assert "too quickly" in limited.json["message"]
    assert chinese.status == 429 and "太快" in chinese.json["message"]
    assert invalid.status == 429  # malformed requests count too
    assert other.status == 200
    assert len(bot.messages) == 4


async def test_too_many_messages_into_one_conversation_get_429(settings):
    settings(rate_limit_per_conversation=2)
    bot = Bot("ok")
    async with serve(CheckedRestInput(), bot) as base:
        replies = [await post(base, {"sender": "chatty", "message": "hi"}) for _ in range(3)]
        zh = await post(base, {"sender": "chatty", "message": "hi", "metadata": {"language": "zh"}})
        other = await post(base, {"sender": "quiet", "message": "hi"})
    assert [r.status for r in replies] == [200, 200, 429]
    assert "Retry-After" in replies[2].headers and "too quickly" in replies[2].json["message"]
    assert zh.status == 429 and "太快" in zh.json["message"]
    assert other.status == 200


async def test_oversized_metadata_is_dropped_before_rasa(settings, caplog):
    bot = Bot("ok")
    metadata = {"language": "en", "blob": "x" * 200_000}
    metadata.update({f"k{i}": i for i in range(30)})
    async with serve(CheckedRestInput(), bot) as base:
        with caplog.at_level(logging.WARNING, logger="bot.rasa_ext.channels.limits"):
            reply = await post(base, {"sender": "m", "message": "hi", "metadata": metadata})
    assert reply.status == 200
    kept = bot.messages[0].metadata
    assert len(kept) == 20 and "blob" not in kept and kept["language"] == "en"
    assert len(json.dumps(kept)) <= 2048
    assert "dropped 12 of 32 keys" in caplog.text


async def test_errors_and_the_too_long_reply_are_in_the_patients_language(settings):
    bot = Bot("ok")
    async with serve(CheckedRestInput(), bot) as base:
        long_zh = await post(base, {"sender": "z", "message": "我" * 2001})
        long_en = await post(base, {"sender": "e", "message": "a" * 2001})
        empty_zh = await post(base, {"sender": "z", "message": "", "metadata": {"language": "zh"}})
        empty_en = await post(base, {"sender": "e", "message": ""})
        no_sender_zh = await post(base, {"message": "我能参加吗"})
    assert "请写短一些" in long_zh.json[0]["text"] and "2,000" in long_zh.json[0]["text"]
    assert long_zh.json[0]["recipient_id"] == "z"
    assert "keep it shorter" in long_en.json[0]["text"]
    assert empty_zh.status == 400 and empty_zh.json["error"] == "'message' 为空"
    assert empty_en.status == 400 and empty_en.json["error"] == "'message' is empty"
    assert no_sender_zh.status == 400 and "缺少 'sender'" in no_sender_zh.json["error"]
    assert bot.messages == []


class DownAgent:
    """An agent whose tracker store is down (what Rasa raises through the guard)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.messages: list = []

    async def handle_message(self, message) -> None:
        self.messages.append(message)
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        TrackerStoreUnavailable("tracker store unavailable"),
        pytest.param("sqlalchemy", id="OperationalError"),
    ],
)
async def test_the_tracker_store_down_is_a_503_in_both_languages(settings, error):
    if error == "sqlalchemy":
        from sqlalchemy.exc import OperationalError

        error = OperationalError("SELECT", {}, Exception("connection refused"))
    agent = DownAgent(error)
    async with serve(CheckedRestInput(), agent) as base:
        started = time.monotonic()
        en = await post(base, {"sender": "d", "message": "is it recruiting?"})
        zh = await post(base, {"sender": "d", "message": "还在招募吗"})
        elapsed = time.monotonic() - started
    assert en.status == 503 and zh.status == 503 and elapsed < 2
    assert "try again in a few minutes or call the study team" in en.json["message"]
    assert "请过几分钟再试，或致电研究团队" in zh.json["message"]


async def test_a_message_not_answered_in_time_is_a_503(settings):
    settings(channel_reply_timeout=0.5)
    async with serve(CheckedRestInput(), Bot("late", delay=5)) as base:
        started = time.monotonic()
        reply = await post(base, {"sender": "slow", "message": "hi"})
    assert reply.status == 503 and time.monotonic() - started < 2
    assert "try again" in reply.json["message"]


async def test_streamed_replies_carry_the_clients_id(settings):
    async with serve(CheckedRestInput(), Bot("streamed")) as base:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                base + PATH + "?stream=true", json={"sender": "web-1", "message": "hi"}
            ) as reply:
                lines = [json.loads(line) for line in (await reply.text()).splitlines()]
    assert lines == [{"recipient_id": "web-1", "text": "streamed"}]


async def test_concurrent_clients_do_not_share_replies(settings):
    bot = Bot("ok", delay=0.1)
    async with serve(CheckedRestInput(), bot) as base:
        replies = await asyncio.gather(
            *(post(base, {"sender": f"c{i}", "message": "hi"}) for i in range(5))
        )
    assert [r.json[0]["recipient_id"] for r in replies] == [f"c{i}" for i in range(5)]
