"""Limits of the public chat channels (REST, socket.io).

* Messages per ``RATE_LIMIT_WINDOW`` seconds from one client address and into one conversation
  (:class:`RateLimiter`): a sliding window kept in Redis when ``REDIS_URL`` is set (every replica
  counts together), else in this process. A limit of 0 is off.
* Metadata (:func:`cap_metadata`): keys beyond ``MAX_METADATA_KEYS`` or ``MAX_METADATA_BYTES``
  are dropped with a log line and never reach the tracker store.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections import deque
from typing import Any, Deque, Dict, List, Optional

from bot.config import Settings, get_settings

logger = logging.getLogger(__name__)


def cap_metadata(
    metadata: Optional[Dict[str, Any]],
    max_bytes: int,
    max_keys: int,
    where: str = "",
) -> Optional[Dict[str, Any]]:
    """The metadata within the caps: keys in order ("language" first) while at most
    ``max_keys`` and ``max_bytes`` of JSON; what exceeds is dropped and logged, never stored."""
    if not metadata:
        return metadata
    order = sorted(metadata, key=lambda key: key != "language")
    kept: Dict[str, Any] = {}
    dropped: List[str] = []
    size = 2  # "{}"
    for key in order:
        try:
            item = len(json.dumps({key: metadata[key]}, ensure_ascii=False).encode("utf-8")) - 1
        except (TypeError, ValueError):
            dropped.append(key)
            continue
        if len(kept) >= max_keys or size + item > max_bytes:
            dropped.append(key)
            continue
        kept[key] = metadata[key]
        size += item
    if dropped:
        total = len(json.dumps(metadata, ensure_ascii=False, default=str).encode("utf-8"))
        shown = ", ".join(repr(k[:40]) for k in dropped[:10]) + (
            ", ..." if len(dropped) > 10 else ""
        )
        logger.warning(
            "metadata%s: dropped %d of %d keys (%s) of %d bytes, over the cap of %d keys and "
            "%d bytes; they are not stored",
            f" from {where}" if where else "",
            len(dropped),
            len(metadata),
            shown,
            total,
            max_keys,
            max_bytes,
        )
    return kept


# -- rate limits ------------------------------------------------------------------------------

# One Lua call per message: a sorted set of the window's hits, scored by the Redis server's
# clock (every replica shares it). Returns 0 (counted) or the milliseconds until a slot frees.
_WINDOW_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', key, now, ARGV[3])
redis.call('PEXPIRE', key, window)
return 0
"""


class MemoryWindow:
    """Sliding windows in this process (no REDIS_URL)."""

    SWEEP_EVERY = 1000

    def __init__(self) -> None:
        self._hits: Dict[str, Deque[float]] = {}
        self._calls = 0

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = time.monotonic()
        self._calls += 1
        if self._calls % self.SWEEP_EVERY == 0:
            self._sweep(now, window)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return max(hits[0] + window - now, 0.001)
        hits.append(now)
        return 0.0

    def _sweep(self, now: float, window: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - window]:
            del self._hits[key]

    async def close(self) -> None:
        return None


class RedisWindow:
    """Sliding windows in Redis, ``{prefix}{key}``: every replica counts together."""

    def __init__(self, url: str, prefix: str, timeout: float = 2.0) -> None:
        from redis.asyncio import Redis

        self.prefix = prefix
        self._client: Any = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._script: Any = self._client.register_script(_WINDOW_SCRIPT)

    async def hit(self, key: str, limit: int, window: float) -> float:
        milliseconds = max(int(window * 1000), 1)
        wait = await self._script(
            keys=[self.prefix + key], args=[limit, milliseconds, uuid.uuid4().hex]
        )
        return float(wait) / 1000.0

    async def close(self) -> None:
        await self._client.close(close_connection_pool=True)


class RateLimiter:
    """Messages per window from one client address and into one conversation."""

    def __init__(self, settings: Settings, backend: Any = None) -> None:
        self.window = settings.rate_limit_window
        self.per_address = settings.rate_limit_per_address
        self.per_conversation = settings.rate_limit_per_conversation
        if backend is None:
            if settings.redis_url:
                prefix = settings.redis_lock_prefix.rstrip(":") + ":ratelimit:"
                backend = RedisWindow(settings.redis_url, prefix)
            else:
                backend = MemoryWindow()
        self.backend = backend
        self._last_error = float("-inf")

    async def _hit(self, key: str, limit: int) -> float:
        if limit <= 0:
            return 0.0
        try:
            return float(await self.backend.hit(key, limit, self.window))
        except Exception as error:  # the limiter's store down: serve rather than refuse
            if time.monotonic() - self._last_error > 60:
                self._last_error = time.monotonic()
                logger.error("rate limits not applied: %s unavailable (%s)", self.backend, error)
            return 0.0

    async def address(self, address: str) -> float:
        """0 when a message from ``address`` may go on, else seconds until it may."""
        return await self._hit(f"address:{address}", self.per_address)

    async def conversation(self, conversation: str) -> float:
        return await self._hit(f"conversation:{conversation}", self.per_conversation)


_limiter: Optional[RateLimiter] = None


def rate_limiter() -> RateLimiter:
    """This process's limiter (REST and socket.io share it), from the settings."""
    global _limiter
    if _limiter is None:
        _limiter = RateLimiter(get_settings())
    return _limiter


def use_rate_limiter(limiter: Optional[RateLimiter]) -> None:
    """Install a limiter (tests); None builds one from the settings on next use."""
    global _limiter
    _limiter = limiter


def retry_after(seconds: float) -> int:
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(seconds))
