"""Signature checks shared by the verified messaging channels.

Every check here is pure (no I/O) and compares in constant time. The channel modules turn a
failed check into ``HTTP 403`` with a short reason via :func:`forbidden`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from typing import Any, Mapping, Optional, Sequence, Union
from urllib.parse import parse_qs, urlsplit, urlunsplit

from sanic import response
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

Text = Union[str, bytes]

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _as_bytes(value: Text) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def constant_time_equals(expected: Optional[Text], given: Optional[Text]) -> bool:
    """True when both are set and equal; never short-circuits on the first differing byte."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(_as_bytes(expected), _as_bytes(given))


def forbidden(reason: str) -> HTTPResponse:
    """The answer to an unauthenticated webhook call: 403 and a short, secret-free reason."""
    return response.text(reason, status=403)


def is_health_check(request: Any) -> bool:
    """The stock blueprints' ``GET /`` handler is called ``health`` and only says "ok"; it is
    the one route the verified channels leave open (for load-balancer probes)."""
    route = getattr(request, "route", None)
    return (
        request.method in ("GET", "HEAD")
        and route is not None
        and str(route.name).rsplit(".", 1)[-1] == "health"
    )


# --- Twilio -------------------------------------------------------------------------------


def twilio_signed_url(request_url: str, webhook_url: Optional[str]) -> str:
    """The URL Twilio signed: the configured public ``webhook_url`` (behind a proxy the URL
    Sanic sees differs), plus the request's query string when the configured URL has none."""
    if not webhook_url:
        return request_url
    query = urlsplit(request_url).query
    configured = urlsplit(webhook_url)
    if query and not configured.query:
        return urlunsplit(configured._replace(query=query))
    return webhook_url


def twilio_form_params(body: bytes) -> dict:
    """POST parameters as Twilio signs them: blank values included (Sanic's ``request.form``
    drops them, which would break the signature of e.g. a media message with ``Body=``)."""
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


class _MultiDict(dict):
    """``parse_qs`` output with the ``getlist`` the Twilio validator looks for."""

    def getlist(self, key: str) -> Sequence[str]:
        return self[key]


def twilio_signature_is_valid(
    auth_token: str, url: str, params: Union[Mapping[str, Any], str], signature: Optional[str]
) -> bool:
    """``X-Twilio-Signature`` = base64(HMAC-SHA1(auth_token, URL + sorted key+value pairs)).

    ``params`` is the form dict (values may be lists) or, for JSON webhooks signed with a
    ``bodySHA256`` query parameter, the raw body text. Uses Twilio's own RequestValidator,
    which also accepts the URL with and without an explicit default port."""
    if not auth_token or not signature:
        return False
    from twilio.request_validator import RequestValidator

    if isinstance(params, Mapping):
        params = _MultiDict(
            {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in params.items()}
        )
    try:
        return bool(RequestValidator(auth_token).validate(url, params, signature))
    except Exception:  # a malformed header or URL is simply not a valid signature
        logger.debug("Twilio signature check failed with an error", exc_info=True)
        return False


# --- WeChat -------------------------------------------------------------------------------


def wechat_signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's server signature: SHA1 hex of the sorted concatenation of token, timestamp
    and nonce."""
    joined = "".join(sorted([token, timestamp, nonce]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def wechat_signature_is_valid(
    token: str, signature: Optional[str], timestamp: Optional[str], nonce: Optional[str]
) -> bool:
    if not token or not signature or timestamp is None or nonce is None:
        return False
    return constant_time_equals(wechat_signature(token, timestamp, nonce), signature.lower())


def wechat_msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """The ``msg_signature`` of WeChat's AES (safe and compatible) modes: SHA1 hex of the
    sorted concatenation of token, timestamp, nonce and the ``Encrypt`` text. It covers the
    encrypted body, unlike the URL ``signature``."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def wechat_msg_signature_is_valid(
    token: str,
    msg_signature: Optional[str],
    timestamp: Optional[str],
    nonce: Optional[str],
    encrypt: Optional[str],
) -> bool:
    if not token or not msg_signature or timestamp is None or nonce is None or not encrypt:
        return False
    return constant_time_equals(
        wechat_msg_signature(token, timestamp, nonce, encrypt), msg_signature.lower()
    )


def timestamp_is_fresh(
    timestamp: Optional[str], max_age: float, now: Optional[float] = None
) -> bool:
    """True when ``timestamp`` (unix seconds) is within ``max_age`` of now; ``max_age`` <= 0
    disables the check."""
    if max_age <= 0:
        return True
    try:
        value = float(timestamp)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return abs((time.time() if now is None else now) - value) <= max_age


class RecentKeys:
    """A bounded, time-limited set: remembers keys for ``ttl`` seconds, at most ``size`` of
    them. ``add`` returns False when the key was already there (a replay or a retry)."""

    def __init__(self, ttl: float = 300.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._keys: "OrderedDict[str, float]" = OrderedDict()

    def add(self, key: str, now: Optional[float] = None) -> bool:
        now = time.monotonic() if now is None else now
        while self._keys:
            oldest, seen = next(iter(self._keys.items()))
            if now - seen <= self.ttl and len(self._keys) < self.size:
                break
            self._keys.popitem(last=False)
        if key in self._keys:
            return False
        self._keys[key] = now
        return True

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)
