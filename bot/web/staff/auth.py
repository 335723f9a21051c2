"""Sign-in and sign-out of the staff console."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from aiohttp_session import get_session, new_session
from sqlalchemy.orm import Session

from bot.console import accounts
from bot.console.audit import audit as audit_entry
from bot.web.staff.helpers import in_db, render, see_other, user_of
from bot.web.staff.security import csrf_token, public, safe_next

log = logging.getLogger("bot.staff")


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/staff/conversations")


@public
async def login_page(request: web.Request) -> web.Response:
    if request.get("user"):
        raise web.HTTPFound(safe_next(request.query.get("next")))
    return await render(
        request,
        "login.html",
        {"next": safe_next(request.query.get("next")), "error": None, "username": ""},
    )


@public
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:1024]
    target = safe_next(str(form.get("next") or ""))
    ip = request["client_ip"]

    async def page(error: str, status: int) -> web.Response:
        return await render(
            request, "login.html", {"next": target, "error": error, "username": username}, status
        )

    if not username or not password:
        return await page("Enter your user name and password.", 400)

    def attempt(session: Session) -> accounts.Attempt:
        # one transaction: checked against the lock and counted before the password is read
        found = accounts.begin_attempt(session, username, ip)
        if found.locked:
            audit_entry(
                session,
                None,
                "login_locked",
                f"staff:{username}",
                {"locked_seconds": int(found.locked.total_seconds())},
                ip,
                username=username,
            )
        return found

    started: accounts.Attempt = await in_db(request, attempt)
    if started.locked:
        locked = started.locked
        minutes = max(1, int(locked.total_seconds() // 60 + 1))
        log.warning("staff sign-in refused for %r from %s: locked for %s", username, ip, locked)
        response = await page(
            f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            429,
        )
        response.headers["Retry-After"] = str(int(locked.total_seconds()) + 1)
        return response
    user = await in_db(request, accounts.verify, username, password)
    if user is None:
        await in_db(
            request,
            audit_entry,
            None,
            "login_failed",
            f"staff:{username}",
            {"recent_failures": started.failures},
            ip,
            username=username,
        )
        log.warning(
            "failed staff sign-in for %r from %s (%d recent failures)",
            username,
            ip,
            started.failures,
        )
        await asyncio.sleep(accounts.failure_delay(started.failures))
        return await page("Wrong user name or password.", 401)

    def succeeded(session: Session) -> str:
        accounts.record_success(session, username, ip)
        audit_entry(session, user, "login", f"staff:{user.username}", None, ip)
        return accounts.start_session(session, user.id, ip)

    token = await in_db(request, succeeded)
    log.info("staff sign-in: %s (%s) from %s", user.username, user.role, ip)
    session = await new_session(request)  # a fresh session: no fixation
    now = time.time()
    session.update({"uid": user.id, "sid": token, "auth_at": now, "seen": now})
    csrf_token(session)
    raise see_other(target)


async def logout(request: web.Request) -> Any:
    """Ends the session on the server at once: its cookie, replayed later, is refused."""
    session = await get_session(request)
    user = user_of(request)

    def ended(db: Session) -> None:
        accounts.end_session(db, session.get("sid"))
        audit_entry(db, user, "logout", f"staff:{user.username}", None, request["client_ip"])

    await in_db(request, ended)
    session.invalidate()
    raise see_other("/staff/login")
