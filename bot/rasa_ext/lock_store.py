"""A Redis lock store that is atomic across Rasa replicas.

Rasa's own ``RedisLockStore`` keeps each conversation's ticket queue as one JSON value and
changes it with GET, modify in Python, SET: two replicas issuing tickets for the same
conversation at the same moment both read the same queue, both append "ticket n+1" and the
second SET wins, so two requests hold the "same" ticket and run at once (interleaved events in
the tracker store). Here every read-modify-write is one Lua script, which Redis runs atomically:

* ``{prefix}{conversation}:seq``  ticket counter (INCR), never reused while tickets are queued
* ``{prefix}{conversation}:q``    sorted set of waiting tickets, score = ticket number (FIFO)
* ``{prefix}{conversation}:exp``  hash ticket -> expiry (milliseconds, Redis server clock)

A ticket is served when it is the lowest unexpired ticket in the queue. Expired tickets (a
replica that died holding or waiting for the lock) are dropped by every script call, so they
never block for longer than their lifetime. Expiry uses the Redis server's clock, so replicas
with skewed clocks agree. The keys themselves expire a while after the last use.

Same interface and semantics as Rasa's lock stores: ``lock(conversation_id, lock_lifetime,
wait_time_in_seconds)`` is an async context manager that waits its turn in FIFO order and
raises ``LockError`` when its ticket expired before being served. Configure in endpoints.yml::

    lock_store:
      type: bot.rasa_ext.lock_store.AtomicRedisLockStore
      url: ${REDIS_HOST}        # or a redis:// URL
      port: ${REDIS_PORT}
      db: ${REDIS_DB}
      password: ${REDIS_PASSWORD}
      key_prefix: ${REDIS_LOCK_PREFIX}

Rasa builds a custom lock store as ``cls(endpoint_config=EndpointConfig)``; the constructor
also accepts plain keyword arguments (tests). Unset values fall back to ``REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Dict, Optional, Text

import redis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from redis.asyncio import Redis as AsyncRedis

from bot.config import get_settings
from bot.rasa_ext.patches import require

# Rasa's LockStore contract, which AtomicRedisLockStore keeps (same names, same arguments).
for _name, _params in {
    "lock": ["self", "conversation_id", "lock_lifetime", "wait_time_in_seconds"],
    "issue_ticket": ["self", "conversation_id", "lock_lifetime"],
    "finish_serving": ["self", "conversation_id", "ticket_number"],
    "cleanup": ["self", "conversation_id", "ticket_number"],
    "get_lock": ["self", "conversation_id"],
    "delete_lock": ["self", "conversation_id"],
    "save_lock": ["self", "lock"],
}.items():
    require(LockStore, _name, params=_params, patched_by="bot.rasa_ext.lock_store")

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "trialbot:lock:"
# The keys of an idle conversation disappear after this long (the counter restarts then,
# which is safe: no ticket of the old numbering is still queued).
IDLE_KEY_TTL_MS = 24 * 3600 * 1000
# Only `lock()` is on Rasa's request path, and it uses the asyncio client alone: no blocking
# Redis call on the event loop. The synchronous methods keep Rasa's LockStore contract for
# other callers (tools, tests).
# Rasa polls every `wait_time_in_seconds` (1 s by default); waiting that long for a lock that
# is usually held for ~50 ms adds a second of latency to a second message. We poll faster,
# never more slowly than the caller asked for.
MAX_POLL_SECONDS = 0.02

_PRUNE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function prune(q, exp, now)
  local all = redis.call('HGETALL', exp)
  for i = 1, #all, 2 do
    if tonumber(all[i + 1]) <= now then
      redis.call('ZREM', q, all[i])
      redis.call('HDEL', exp, all[i])
    end
  end
end
local function touch(keys)
  for _, k in ipairs(keys) do redis.call('PEXPIRE', k, tonumber(ARGV[#ARGV])) end
end
"""

# KEYS: seq, q, exp   ARGV: lifetime_ms, idle_ttl_ms  ->  ticket number
ISSUE = (
    _PRUNE
    + """
local now = now_ms()
prune(KEYS[2], KEYS[3], now)
local t = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], t, t)
redis.call('HSET', KEYS[3], t, now + tonumber(ARGV[1]))
touch(KEYS)
return t
"""
)

# KEYS: seq, q, exp   ARGV: ticket, idle_ttl_ms  ->  1 served, 0 wait, -1 ticket gone (expired)
ACQUIRE = (
    _PRUNE
    + """
local now = now_ms()
prune(KEYS[2], KEYS[3], now)
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return -1 end
local head = redis.call('ZRANGE', KEYS[2], 0, 0)
if head[1] == ARGV[1] then return 1 end
return 0
"""
)

# KEYS: seq, q, exp   ARGV: ticket, idle_ttl_ms  ->  tickets still queued
FINISH = (
    _PRUNE
    + """
local now = now_ms()
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
prune(KEYS[2], KEYS[3], now)
local left = redis.call('ZCARD', KEYS[2])
if left == 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
end
touch({KEYS[1]})
return left
"""
)

# KEYS: q, exp  ->  flat list ticket, expiry_ms, ... in FIFO order, and the server time
SNAPSHOT = (
    _PRUNE
    + """
local now = now_ms()
prune(KEYS[1], KEYS[2], now)
local out = {}
for _, t in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  table.insert(out, t)
  table.insert(out, redis.call('HGET', KEYS[2], t))
end
return out
"""
)


def _setting(config: Dict[str, Any], key: str, default: Any = None) -> Any:
    value = config.get(key)
    if value in (None, "", "None", "null"):
        return default
    return value


class AtomicRedisLockStore(LockStore):
    """Ticket locks in Redis, every state change one atomic Lua script."""

    def __init__(
        self,
        endpoint_config: Any = None,
        *,
        url: Optional[Text] = None,
        host: Optional[Text] = None,
        port: Optional[int] = None,
        db: Optional[int] = None,
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        key_prefix: Optional[Text] = None,
        socket_timeout: float = 10,
        max_poll_seconds: float = MAX_POLL_SECONDS,
    ) -> None:
        config: Dict[str, Any] = {}
        if endpoint_config is not None:
            config.update(endpoint_config.kwargs or {})
            if endpoint_config.url:
                config["url"] = endpoint_config.url
        explicit = dict(
            url=url,
            host=host,
            port=port,
            db=db,
            username=username,
            password=password,
            key_prefix=key_prefix,
        )
        config.update({k: v for k, v in explicit.items() if v is not None})

        target = _setting(config, "url") or get_settings().redis_url or "localhost"
        options = dict(
            db=int(_setting(config, "db", 0)),
            username=_setting(config, "username"),
            password=_setting(config, "password"),
            socket_timeout=float(_setting(config, "socket_timeout", socket_timeout)),
        )
        if "://" in str(target):
            # A URL names host, port and db; explicit db/password settings override it.
            overrides = {
                k: v
                for k, v in options.items()
                if v is not None and not (k == "db" and _setting(config, "db") is None)
            }
            self._sync = redis.Redis.from_url(target, **overrides)
            self._async = AsyncRedis.from_url(target, **overrides)
        else:
            host = _setting(config, "host", target)
            port = int(_setting(config, "port", 6379))
            self._sync = redis.Redis(host=host, port=port, **options)
            self._async = AsyncRedis(host=host, port=port, **options)

        prefix = str(_setting(config, "key_prefix", DEFAULT_KEY_PREFIX))
        self.key_prefix = prefix if prefix.endswith(":") else prefix + ":"
        self.max_poll_seconds = float(max_poll_seconds)
        self._issue = self._async.register_script(ISSUE)
        self._acquire = self._async.register_script(ACQUIRE)
        self._finish = self._async.register_script(FINISH)
        self._snapshot = self._async.register_script(SNAPSHOT)
        self._issue_sync = self._sync.register_script(ISSUE)
        self._finish_sync = self._sync.register_script(FINISH)
        self._snapshot_sync = self._sync.register_script(SNAPSHOT)
        self._sync.ping()  # fail at start-up, not at the first message
        super().__init__()

    # -- keys -----------------------------------------------------------------------------

    def _keys(self, conversation_id: Text):
        base = self.key_prefix + conversation_id
        # The hash tag keeps the three keys in one slot (Redis Cluster runs scripts per slot).
        return [f"{{{base}}}:seq", f"{{{base}}}:q", f"{{{base}}}:exp"]

    # -- the Rasa interface, atomic ---------------------------------------------------------

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        keys = self._keys(conversation_id)
        try:
            ticket = int(
                await self._issue(keys=keys, args=[int(lock_lifetime * 1000), IDLE_KEY_TTL_MS])
            )
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        try:
            yield await self._wait_for_turn(conversation_id, keys, ticket, wait_time_in_seconds)
        finally:
            try:
                await self._finish(keys=keys, args=[ticket, IDLE_KEY_TTL_MS])
            except redis.RedisError:
                # The ticket expires on its own; nothing waits on it for longer than that.
                logger.exception("could not release lock ticket %s of %s", ticket, conversation_id)

    async def _wait_for_turn(
        self, conversation_id: Text, keys, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        poll = min(self.max_poll_seconds, wait_time_in_seconds) or self.max_poll_seconds
        while True:
            state = int(await self._acquire(keys=keys, args=[ticket, IDLE_KEY_TTL_MS]))
            if state == 1:
                logger.debug(
                    "Acquired lock for conversation '%s' (ticket %s).", conversation_id, ticket
                )
                flat = await self._snapshot(keys=keys[1:], args=[IDLE_KEY_TTL_MS])
                return _ticket_lock(conversation_id, flat)
            if state == -1:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            await asyncio.sleep(poll)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(
                self._issue_sync(
                    keys=self._keys(conversation_id),
                    args=[int(lock_lifetime * 1000), IDLE_KEY_TTL_MS],
                )
            )
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._finish_sync(keys=self._keys(conversation_id), args=[ticket_number, IDLE_KEY_TTL_MS])

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        """A read-only snapshot of the queue (for inspection; never saved back)."""
        keys = self._keys(conversation_id)
        flat = self._snapshot_sync(keys=keys[1:], args=[IDLE_KEY_TTL_MS])
        return _ticket_lock(conversation_id, flat) if flat else None

    def is_someone_waiting(self, conversation_id: Text) -> bool:
        return self.get_lock(conversation_id) is not None

    def delete_lock(self, conversation_id: Text) -> None:
        self._sync.delete(*self._keys(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:
        raise NotImplementedError(
            "AtomicRedisLockStore changes locks only through its atomic scripts"
        )

    def update_lock(self, conversation_id: Text) -> None:
        """Expired tickets are pruned by every script call; nothing to do."""


def _ticket_lock(conversation_id: Text, flat: Any) -> TicketLock:
    """Rasa's TicketLock from the SNAPSHOT script's flat [ticket, expiry_ms, ...] list."""
    lock = TicketLock(conversation_id)
    for number, expires in zip(flat[0::2], flat[1::2], strict=True):
        lock.tickets.append(Ticket(int(number), int(expires) / 1000.0))
    return lock
