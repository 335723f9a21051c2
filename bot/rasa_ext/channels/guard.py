"""What the public chat channels (REST, socket.io) share to protect conversations.

* **Conversation ids are the server's.** A client names its conversation with its own id (the
  widget's random id, a socket.io ``session_id``); the conversation Rasa stores is
  :func:`conversation_id`: ``"<channel>:" + HMAC-SHA256(secret, client id)``, 32 hex digits.
  No other channel produces such an id (Twilio's is a phone number, Telegram's a number,
  WeChat's an OpenID), and nobody can compute it without the client's own id and the secret.
  The secret is ``CONVERSATION_ID_SECRET``, else one generated once and kept in
  ``var_dir/conversation_id_secret`` (mode 0600) so that restarts keep the conversations.
* **Client address** (:func:`request_address`): the peer, or behind a proxy on this host
  (loopback) or in ``TRUSTED_PROXIES``, what that proxy says (bot/addresses.py).
* **Tracker store down** (:func:`deliver`): Rasa's ``FailSafeTrackerStore`` would answer from
  an empty, in-memory conversation (a patient midway through a screening would start over and
  nothing would be stored). For messages of these channels the store error is raised instead
  (:func:`guard_tracker_store`), the message is answered "unavailable" (503), and so is one
  that takes longer than ``CHANNEL_REPLY_TIMEOUT``. Other channels keep Rasa's behaviour.

Limits are in limits.py, the channels' own replies in wording.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import logging
import os
import secrets
import stat
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union

from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore

from bot.addresses import client_address, trusted_networks
from bot.config import Settings, get_settings
from bot.rasa_ext.patches import require

logger = logging.getLogger(__name__)

# deliver() makes Rasa's FailSafeTrackerStore raise for our messages through its error callback.
require(
    FailSafeTrackerStore,
    "__init__",
    params=["self", "tracker_store", "on_tracker_store_error", "fallback_tracker_store"],
    patched_by="bot.rasa_ext.channels.guard",
)
for _method in ("on_tracker_store_retrieve_error", "on_tracker_store_error"):
    require(FailSafeTrackerStore, _method, patched_by="bot.rasa_ext.channels.guard")

# -- conversation ids -------------------------------------------------------------------------

SECRET_FILE = "conversation_id_secret"
DIGEST_CHARS = 32  # 128 bits of HMAC-SHA256
_secrets: Dict[str, str] = {}


def conversation_id(channel: str, client_id: str, secret: Union[str, bytes]) -> str:
    """The server-side conversation id of ``client_id`` on ``channel`` ("rest", "socketio")."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, client_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{channel}:{digest[:DIGEST_CHARS]}"


def conversation_secret(settings: Optional[Settings] = None) -> str:
    """CONVERSATION_ID_SECRET, else the generated one in var_dir (created on first use)."""
    settings = settings or get_settings()
    if settings.conversation_id_secret:
        return settings.conversation_id_secret
    path = Path(settings.var_dir) / SECRET_FILE
    cached = _secrets.get(str(path))
    if cached:
        return cached
    secret = _read_or_create_secret(path)
    logger.warning(
        "CONVERSATION_ID_SECRET is not set: REST and socket.io conversation ids use the secret "
        "generated in %s. Keep that file (a new secret starts every conversation anew) and set "
        "CONVERSATION_ID_SECRET when replicas do not share this folder.",
        path,
    )
    _secrets[str(path)] = secret
    return secret


def _read_secret(path: Path) -> Optional[str]:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("%s was readable by others (mode %o): now 0600", path, mode)
        os.chmod(path, 0o600)
    return text or None


def _read_or_create_secret(path: Path) -> str:
    existing = _read_secret(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a temporary name, then linked into place: a replica starting at the
    # same moment reads either nothing or the complete secret, and the first link wins.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: use its secret
    finally:
        temporary.unlink(missing_ok=True)
    found = _read_secret(path)
    if not found:
        raise RuntimeError(f"{path} is empty: delete it or set CONVERSATION_ID_SECRET")
    return found


def request_address(request: Any, settings: Optional[Settings] = None) -> str:
    """The client address of a Sanic request."""
    settings = settings or get_settings()
    headers = getattr(request, "headers", None)
    forwarded: List[str] = list(headers.getall("x-forwarded-for", [])) if headers else []
    proxies = trusted_networks(settings.trusted_proxies, loopback=True)
    return client_address(getattr(request, "ip", "") or "", forwarded, proxies)


# -- the tracker store and slow messages ------------------------------------------------------


class TrackerStoreUnavailable(RuntimeError):
    """The tracker store failed while one of our channels' messages was handled."""


_STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar("trialbot_strict", default=False)
_STORE_ERRORS: Tuple[str, ...] = (
    "sqlalchemy.exc.OperationalError",
    "sqlalchemy.exc.InterfaceError",
    "sqlalchemy.exc.DisconnectionError",
    "sqlalchemy.exc.TimeoutError",
    "psycopg2.OperationalError",
    "psycopg2.InterfaceError",
    "redis.exceptions.ConnectionError",
    "redis.exceptions.TimeoutError",
)


def _qualified(error: BaseException) -> List[str]:
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in type(error).__mro__]


def is_store_error(error: BaseException) -> bool:
    """The error (or one it came from) is a tracker store that cannot be reached."""
    seen = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TrackerStoreUnavailable):
            return True
        if any(name in _STORE_ERRORS for name in _qualified(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


def guard_tracker_store(agent: Any) -> None:
    """Make the agent's FailSafeTrackerStore raise, for our messages only, where it would fall
    back to an empty in-memory conversation (idempotent; other channels are unchanged)."""
    store = getattr(agent, "tracker_store", None)
    if not isinstance(store, FailSafeTrackerStore) or getattr(store, "_trialbot_guard", False):
        return
    original: Optional[Callable[[Exception], None]] = store._on_tracker_store_error

    def on_error(error: Exception) -> None:
        if _STRICT.get():
            raise TrackerStoreUnavailable(f"tracker store unavailable: {error}") from error
        if original is not None:
            original(error)
        else:  # Rasa's own message
            logger.error(
                "Error happened with the tracker store %s; falling back to the "
                "InMemoryTrackerStore: %s",
                type(store._tracker_store).__name__,
                error,
            )

    store._on_tracker_store_error = on_error
    store._trialbot_guard = True


async def deliver(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    message: UserMessage,
    agent: Any = None,
    timeout: Optional[float] = None,
) -> str:
    """Hand the message to Rasa: "ok", "unavailable" (the tracker store failed, or no answer
    within ``timeout``: nothing more was stored) or "failed" (another error, logged; what was
    said before it still goes out, as in Rasa's own REST channel)."""
    if agent is not None:
        guard_tracker_store(agent)
    timeout = timeout or get_settings().channel_reply_timeout
    token = _STRICT.set(True)
    try:
        await asyncio.wait_for(on_new_message(message), timeout)
    except asyncio.TimeoutError:
        logger.error(
            "message for %s not answered within %.1f s: answered 'unavailable'",
            message.sender_id,
            timeout,
        )
        return "unavailable"
    except Exception as error:
        if is_store_error(error):
            logger.error("tracker store unavailable for %s: %s", message.sender_id, error)
            return "unavailable"
        logger.exception("message for %s failed", message.sender_id)
        return "failed"
    finally:
        _STRICT.reset(token)
    return "ok"
