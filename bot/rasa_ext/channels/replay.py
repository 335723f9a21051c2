"""A replay guard shared by every replica: keys of webhook requests already handled.

A verified channel claims a key (e.g. WeChat's timestamp + nonce, or a MsgId) before it acts
on a request; :meth:`ReplayStore.claim` is True only for the first claim of a key while the
key lives, on every replica and across restarts. Keys live until the request could no longer
pass the channel's timestamp freshness check, then disappear.

* With ``REDIS_URL`` set (:func:`replay_store_from_settings`): Redis, ``SET key NX PX ttl``
  (atomic; Redis expires the key), through ``redis.asyncio``.
* Otherwise the ``channel_replay`` table of the trial database: an INSERT, a duplicate key
  being a replay (the primary key makes concurrent claims safe on SQLite and PostgreSQL). An
  expired row of the same key is deleted first, and all expired rows now and then. The
  blocking database calls run in a worker thread (``asyncio.to_thread``).

A store that cannot be reached raises; channels refuse the request then (fail closed).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.config import get_settings
from bot.db import database, utcnow
from bot.rasa_ext.channels.models import ChannelReplay

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200  # channel_replay.key
PURGE_INTERVAL = 300.0  # seconds between deletions of expired rows (per process)


def _bounded(key: str) -> str:
    """Keys longer than the column are replaced by a digest (same key, same digest)."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return key[:100] + "#" + hashlib.sha256(key.encode("utf-8")).hexdigest()


class ReplayStore(Protocol):
    async def claim(self, key: str, ttl: float) -> bool:
        """Record ``key`` for ``ttl`` seconds; False when it is already recorded (a replay)."""

    async def close(self) -> None:
        """Release connections (the server stops)."""


class DatabaseReplayStore:
    """The ``channel_replay`` table of a database (the trial database by default)."""

    def __init__(self, url: str, purge_interval: float = PURGE_INTERVAL) -> None:
        self.url = url
        self.purge_interval = purge_interval
        self._last_purge = float("-inf")

    async def claim(self, key: str, ttl: float) -> bool:
        return await asyncio.to_thread(self.claim_now, key, ttl)

    def claim_now(self, key: str, ttl: float) -> bool:
        """The blocking claim (call it from a worker thread)."""
        key = _bounded(key)
        now = utcnow()
        db = database(self.url)
        if time.monotonic() - self._last_purge >= self.purge_interval:
            self._last_purge = time.monotonic()
            self.purge_now()
        try:
            with db.unit_of_work() as session:
                session.execute(
                    delete(ChannelReplay)
                    .where(ChannelReplay.key == key, ChannelReplay.expires_at <= now)
                    .execution_options(synchronize_session=False)
                )
                session.add(
                    ChannelReplay(key=key, expires_at=now + timedelta(seconds=max(ttl, 1.0)))
                )
        except IntegrityError:
            return False
        return True

    def purge_now(self) -> int:
        """Delete the expired rows; their number."""
        try:
            with database(self.url).unit_of_work() as session:
                result: Any = session.execute(
                    delete(ChannelReplay)
                    .where(ChannelReplay.expires_at <= utcnow())
                    .execution_options(synchronize_session=False)
                )
                return int(result.rowcount or 0)
        except Exception:  # a failed clean-up must not refuse the request
            logger.exception("could not delete expired channel_replay rows")
            return 0

    async def close(self) -> None:
        return None


class RedisReplayStore:
    """Keys in Redis, ``{prefix}{key}``, set with NX and an expiry."""

    def __init__(self, url: str, prefix: str = "trialbot:replay:", timeout: float = 5.0) -> None:
        from redis.asyncio import Redis

        self.prefix = prefix
        self._client: Any = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    async def claim(self, key: str, ttl: float) -> bool:
        milliseconds = max(int(ttl * 1000), 1000)
        return bool(
            await self._client.set(self.prefix + _bounded(key), b"1", nx=True, px=milliseconds)
        )

    async def close(self) -> None:
        await self._client.close(close_connection_pool=True)


def replay_store_from_settings() -> ReplayStore:
    """Redis when ``REDIS_URL`` is set, else the trial database."""
    settings = get_settings()
    if settings.redis_url:
        prefix = settings.redis_lock_prefix.rstrip(":") + ":replay:"
        return RedisReplayStore(settings.redis_url, prefix)
    return DatabaseReplayStore(settings.database_url)
