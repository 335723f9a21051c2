"""bot.rasa_ext.channels.guard: server-side conversation ids and their secret, client addresses,
metadata caps, the sliding-window limits (memory and Redis) and the tracker-store guard."""

from __future__ import annotations

import asyncio
import logging
import stat
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.addresses import client_address, trusted_networks
from bot.config import Settings
from bot.rasa_ext.channels import guard
from bot.rasa_ext.channels.guard import (
    TrackerStoreUnavailable,
    conversation_id,
    conversation_secret,
    deliver,
    is_store_error,
)
from bot.rasa_ext.channels.limits import MemoryWindow, RateLimiter, RedisWindow, cap_metadata
from bot.rasa_ext.channels.wording import language_of
from tests.support.databases import REDIS


def test_conversation_ids_are_namespaced_keyed_and_unguessable():
    one = conversation_id("rest", "+8613800138000", "secret-1")
    assert one.startswith("rest:") and len(one) == len("rest:") + 32
    assert one == conversation_id("rest", "+8613800138000", b"secret-1")  # stable
    assert one != conversation_id("rest", "+8613800138000", "secret-2")  # keyed
    assert one.split(":")[1] != conversation_id("rest", "+8613800138001", "secret-1").split(":")[1]
    assert conversation_id("socketio", "+8613800138000", "secret-1").startswith("socketio:")
    # No client id maps to itself or to another channel's id (a phone number, an OpenID).
    assert conversation_id("rest", one, "secret-1") != one


def test_the_secret_is_generated_once_private_and_kept(tmp_path, caplog):
    guard._secrets.clear()
    settings = Settings(var_dir=tmp_path / "var", conversation_id_secret="")
    with caplog.at_level(logging.WARNING, logger="bot.rasa_ext.channels.guard"):
        first = conversation_secret(settings)
    path = tmp_path / "var" / guard.SECRET_FILE
    assert path.read_text().strip() == first and len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "CONVERSATION_ID_SECRET is not set" in caplog.text and str(path) in caplog.text
    guard._secrets.clear()  # a restart reads the same secret
    assert conversation_secret(settings) == first
    assert conversation_secret(Settings(var_dir=tmp_path, conversation_id_secret="given")) == (
        "given"
    )


def test_replicas_starting_together_share_one_secret(tmp_path):
    path = tmp_path / guard.SECRET_FILE
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = set(pool.map(lambda _: guard._read_or_create_secret(path), range(16)))
    assert len(found) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [guard.SECRET_FILE]


def test_a_readable_secret_file_is_made_private(tmp_path):
    path = tmp_path / guard.SECRET_FILE
    path.write_text("abc\n")
    path.chmod(0o644)
    assert guard._read_or_create_secret(path) == "abc"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_client_address_believes_only_its_own_proxies():
    proxies = trusted_networks("10.0.0.0/8", loopback=True)
    # A client on the internet: its own X-Forwarded-For is ignored.
    assert client_address("203.0.113.7", ["1.2.3.4"], proxies) == "203.0.113.7"
    # Through nginx on this host: the address nginx appended, not what the client prepended.
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.7"], proxies) == "203.0.113.7"
    # Through a trusted load balancer, then nginx.
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.7, 10.1.2.3"], proxies) == (
        "203.0.113.7"
    )
    assert client_address("127.0.0.1", [], proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", ["garbage, 203.0.113.7"], proxies) == "203.0.113.7"
    assert client_address("127.0.0.1", ["203.0.113.7, garbage"], proxies) == "127.0.0.1"


def test_metadata_beyond_the_caps_is_dropped_and_logged(caplog):
    metadata = {f"k{i:02d}": i for i in range(25)}
    metadata["blob"] = "x" * 256 * 1024
    metadata["language"] = "zh"
    with caplog.at_level(logging.WARNING, logger="bot.rasa_ext.channels.limits"):
        kept = cap_metadata(metadata, 2048, 20, "rest:abc")
    assert kept is not None and len(kept) == 20 and kept["language"] == "zh"
    assert "blob" not in kept and list(kept)[1:] == [f"k{i:02d}" for i in range(19)]
    assert "dropped 7 of 27 keys" in caplog.text and "rest:abc" in caplog.text
    assert cap_metadata({"language": "en"}, 2048, 20) == {"language": "en"}
    assert cap_metadata(None, 2048, 20) is None
    assert cap_metadata({"a": "y" * 3000}, 2048, 20) == {}


def test_the_language_of_an_error_reply():
    assert language_of("我能参加吗", None) == "zh"
    assert language_of("can I join?", {"language": "zh"}) == "zh"
    assert language_of("can I join?", {"language": "zh-CN"}) == "zh"
    assert language_of("can I join?", {"language": "en"}) == "en"
    assert language_of(None, None) == "en"
    assert language_of(42, "zh") == "en"


async def test_memory_window_slides():
    window = MemoryWindow()
    assert [await window.hit("a", 2, 0.5) for _ in range(2)] == [0.0, 0.0]
    wait = await window.hit("a", 2, 0.5)
    assert 0 < wait <= 0.5
    assert await window.hit("b", 2, 0.5) == 0.0  # another key
    await asyncio.sleep(wait + 0.05)
    assert await window.hit("a", 2, 0.5) == 0.0


@pytest.mark.skipif(not REDIS, reason="needs TEST_REDIS_URL")
async def test_redis_window_is_shared_by_replicas():
    assert REDIS
    prefix = f"test-{uuid.uuid4().hex[:8]}:ratelimit:"
    replicas = [RedisWindow(REDIS, prefix), RedisWindow(REDIS, prefix)]
    try:
        results = [await replicas[i % 2].hit("address:1.2.3.4", 3, 1.0) for i in range(4)]
        assert results[:3] == [0.0, 0.0, 0.0] and 0 < results[3] <= 1.0
        assert await replicas[0].hit("address:1.2.3.5", 3, 1.0) == 0.0
        await asyncio.sleep(results[3] + 0.05)
        assert await replicas[1].hit("address:1.2.3.4", 3, 1.0) == 0.0
    finally:
        for replica in replicas:
            await replica.close()


async def test_a_limiter_whose_redis_is_down_serves_and_says_so(caplog):
    settings = Settings(redis_url="redis://127.0.0.1:1/0", rate_limit_per_address=1)
    limiter = RateLimiter(settings, backend=RedisWindow(settings.redis_url, "x:", timeout=0.5))
    with caplog.at_level(logging.ERROR, logger="bot.rasa_ext.channels.limits"):
        assert await limiter.address("1.2.3.4") == 0.0
        assert await limiter.address("1.2.3.4") == 0.0
    assert caplog.text.count("rate limits not applied") == 1
    await limiter.backend.close()


def test_limits_of_zero_are_off():
    limiter = RateLimiter(Settings(rate_limit_per_address=0, rate_limit_per_conversation=0))

    async def run():
        return [await limiter.address("a") for _ in range(5)] + [
            await limiter.conversation("c") for _ in range(5)
        ]

    assert asyncio.run(run()) == [0.0] * 10


class BrokenSQLStore:
    """A tracker store whose database is gone (what SQLAlchemy raises then)."""

    def __init__(self):
        from tests.support.events import domain

        self.domain = domain()
        self.event_broker = None

    async def retrieve(self, sender_id):
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT", {}, Exception("connection refused"))

    retrieve_full_tracker = retrieve

    async def save(self, tracker):
        await self.retrieve(tracker.sender_id)


def test_store_errors_are_recognised():
    from sqlalchemy.exc import OperationalError

    error = OperationalError("SELECT 1", {}, Exception("gone"))
    assert is_store_error(error)
    try:
        try:
            raise error
        except OperationalError:
            raise RuntimeError("wrapped")
    except RuntimeError as wrapped:
        assert is_store_error(wrapped)
    assert is_store_error(TrackerStoreUnavailable("x"))
    assert not is_store_error(ValueError("x"))


async def test_the_failsafe_store_raises_for_our_messages_only():
    """Rasa's FailSafeTrackerStore answers a failed retrieve with None (a new, empty
    conversation) and saves into memory. Through deliver() it raises instead; for any other
    caller (another channel) Rasa's behaviour is unchanged."""
    from types import SimpleNamespace

    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.tracker_store import FailSafeTrackerStore

    store = FailSafeTrackerStore(BrokenSQLStore())
    agent = SimpleNamespace(tracker_store=store)
    seen = []

    async def on_new_message(message):
        seen.append(await store.retrieve(message.sender_id))

    message = UserMessage("hi", CollectingOutputChannel(), "rest:abc", input_channel="rest")
    assert await deliver(on_new_message, message, agent, timeout=2) == "unavailable"
    assert seen == []
    assert await store.retrieve("+8613800138000") is None  # other channels: as Rasa does
    assert await deliver(on_new_message, message, agent, timeout=2) == "unavailable"


async def test_a_message_not_answered_in_time_is_unavailable():
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    async def slow(message):
        await asyncio.sleep(5)

    message = UserMessage("hi", CollectingOutputChannel(), "rest:abc", input_channel="rest")
    started = asyncio.get_running_loop().time()
    assert await deliver(slow, message, None, timeout=0.3) == "unavailable"
    assert asyncio.get_running_loop().time() - started < 1
