"""Sessions, sign-in requirement, CSRF tokens, client address and security headers of the
staff console (its sub-application's middlewares, so they act on /staff requests only).

Sessions live in an encrypted cookie (aiohttp-session EncryptedCookieStorage, Fernet) keyed by
STAFF_SESSION_KEY, and on the server (staff_session, checked on every request: signing out,
disabling the user or a new password end a session at once, so a replayed cookie is refused);
the cookie is HttpOnly, SameSite=Lax, limited to /staff, and Secure when the request came
over HTTPS (directly or X-Forwarded-Proto: https) or STAFF_COOKIE_SECURE=1.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Sequence
from urllib.parse import quote

from aiohttp import web
from aiohttp_session import Session, get_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from bot import addresses
from bot.addresses import Network

log = logging.getLogger("bot.staff")

COOKIE_NAME = "trialbot_staff"
IDLE_SECONDS = 2 * 3600  # a session unused this long is gone (the cookie's Fernet TTL)
ABSOLUTE_SECONDS = 12 * 3600  # sign in again after this, however busy
SEEN_REFRESH_SECONDS = 300
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_key(configured: str) -> bytes:
    """STAFF_SESSION_KEY (a urlsafe-base64 32-byte Fernet key), or a fresh one with a warning."""
    raw = configured.strip()
    if raw:
        try:
            Fernet(raw.encode())
        except (ValueError, TypeError):
            raise ValueError(
                "STAFF_SESSION_KEY must be a urlsafe base64-encoded 32-byte key; make one with "
                "python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from None
        return raw.encode()
    log.warning(
        "STAFF_SESSION_KEY is not set: using a random key, so staff sessions will not "
        "survive a restart of the web app (and are not shared between processes)"
    )
    return Fernet.generate_key()


def client_address(request: web.Request, proxies: Sequence[Network]) -> str:
    """The real client of a staff request (bot/addresses.py: only our proxies are believed)."""
    return addresses.client_address(
        request.remote or "", request.headers.getall("X-Forwarded-For", []), proxies
    )


def is_https(request: web.Request) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


class StaffCookieStorage(EncryptedCookieStorage):
    """EncryptedCookieStorage whose Secure flag follows the request's scheme, and whose cookie
    ends with the browser session (the server side expiry is the Fernet TTL)."""

    def __init__(self, key: bytes, always_secure: bool = False):
        super().__init__(
            Fernet(key),
            cookie_name=COOKIE_NAME,
            path="/staff",
            httponly=True,
            samesite="Lax",
            max_age=IDLE_SECONDS,
        )
        self._always_secure = always_secure

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        params: Dict[str, Any] = dict(self.cookie_params)
        params.pop("max_age", None)
        params.pop("expires", None)
        params["secure"] = self._always_secure or is_https(request)
        if session.empty:
            response.del_cookie(
                self.cookie_name, domain=params.get("domain"), path=params.get("path") or "/"
            )
            return
        data = self._encoder(self._get_session_data(session)).encode("utf-8")
        response.set_cookie(self.cookie_name, self._fernet.encrypt(data).decode("utf-8"), **params)


# --------------------------------------------------------------------------- route flags


def public(handler: Handler) -> Handler:
    """Answers without a signed-in user (the login page)."""
    handler.staff_public = True  # type: ignore[attr-defined]
    return handler


def admin_only(handler: Handler) -> Handler:
    handler.staff_admin = True  # type: ignore[attr-defined]
    return handler


# --------------------------------------------------------------------------- CSRF


def csrf_token(session: Session) -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/staff/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def refuse(request: web.Request, status: int, reason: str) -> web.HTTPException:
    """401/403 with the reason, as JSON for API clients and plain text otherwise."""
    cls = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden}[status]
    if wants_json(request):
        return cls(text=json.dumps({"error": reason}), content_type="application/json")
    return cls(text=f"{status} {cls.reason}: {reason}\n", content_type="text/plain")


async def check_csrf(request: web.Request, session: Session) -> None:
    supplied: Optional[str] = request.headers.get(CSRF_HEADER)
    if supplied is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()  # cached: the handler reads it again for free
        value = form.get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    if not supplied:
        log.warning(
            "CSRF token missing: %s %s from %s",
            request.method,
            request.path,
            request.get("client_ip"),
        )
        raise refuse(request, 403, "CSRF token missing; reload the page and try again")
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(supplied.encode(), expected.encode()):
        log.warning(
            "CSRF token invalid: %s %s from %s",
            request.method,
            request.path,
            request.get("client_ip"),
        )
        raise refuse(request, 403, "CSRF token invalid; reload the page and try again")


def safe_next(target: Optional[str]) -> str:
    """Only a path inside the console: never another host (open redirect)."""
    if (
        target
        and target.startswith("/staff/")
        and not target.startswith("//")
        and "\\" not in target
        and "://" not in target
        and "\n" not in target
        and "\r" not in target
    ):
        return target
    return "/staff/conversations"


# --------------------------------------------------------------------------- middleware


def make_middleware(
    load_identity: Callable[..., Awaitable[Any]], proxies: Sequence[Network] = ()
) -> Callable:
    """`load_identity(request, user_id, signed_in_at, token)` -> StaffIdentity or None; the
    token names the server-side session (bot.console.accounts), so a cookie of a session that
    was signed out or ended is refused."""

    @web.middleware
    async def staff_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        request["client_ip"] = client_address(request, proxies)
        request["nonce"] = secrets.token_urlsafe(16)
        session = await get_session(request)
        route_handler = getattr(request.match_info, "handler", None)
        is_public = getattr(route_handler, "staff_public", False)
        user = None
        user_id, signed_in_at = session.get("uid"), session.get("auth_at")
        if user_id is not None:
            fresh = isinstance(signed_in_at, (int, float)) and (
                time.time() - signed_in_at < ABSOLUTE_SECONDS
            )
            token = session.get("sid")
            user = (
                await load_identity(request, user_id, signed_in_at, token)
                if fresh and isinstance(token, str)
                else None
            )
            if user is None:
                session.invalidate()
        request["user"] = user
        unsafe = request.method in UNSAFE_METHODS
        if user is None and not is_public:
            if unsafe or wants_json(request):
                raise refuse(request, 401, "sign-in required")
            raise web.HTTPFound(f"/staff/login?next={quote(request.path_qs, safe='')}")
        if unsafe:
            await check_csrf(request, session)
        if user is not None:
            if getattr(route_handler, "staff_admin", False) and not user.is_admin:
                log.warning(
                    "%s (%s) refused %s %s: admins only",
                    user.username,
                    user.role,
                    request.method,
                    request.path,
                )
                raise refuse(request, 403, "administrators only")
            if time.time() - session.get("seen", 0) > SEEN_REFRESH_SECONDS:
                session["seen"] = time.time()  # re-sealing the cookie slides the idle expiry
        return await handler(request)

    return staff_guard


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src 'nonce-{nonce}'",
            "img-src 'self' data:",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare of the console: every /staff answer, streamed exports too."""
    nonce = request.get("nonce") or secrets.token_urlsafe(16)
    response.headers.setdefault("Content-Security-Policy", content_security_policy(nonce))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
