"""What the staff console's views share: database calls off the event loop, rendering,
flash messages, audit entries, revealed contact details, parameter parsing."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Dict, Optional

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from bot.console import audit as audit_log
from bot.console.accounts import StaffIdentity
from bot.web.keys import INDEX_STATE, STAFF_CONFIG, STAFF_JINJA, TRIAL_DB
from bot.web.staff.security import csrf_token, safe_next

REVEAL_SECONDS = 600
MAX_REVEALED = 50


async def in_db(request: web.Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(session, ...) in one unit of work, in a worker thread."""
    db = request.config_dict[TRIAL_DB]

    def work() -> Any:
        with db.unit_of_work() as session:
            return fn(session, *args, **kwargs)

    return await asyncio.to_thread(work)


def user_of(request: web.Request) -> StaffIdentity:
    user: StaffIdentity = request["user"]
    return user


async def audit(
    request: web.Request, action: str, target: str = "", detail: Optional[Dict[str, Any]] = None
) -> None:
    await in_db(
        request, audit_log.audit, request.get("user"), action, target, detail, request["client_ip"]
    )


def wake_indexer(request: web.Request) -> None:
    """Ask the background indexer for a run now; the page does not wait for it."""
    request.config_dict[INDEX_STATE]["wake"].set()


async def render(
    request: web.Request, template: str, context: Dict[str, Any], status: int = 200
) -> web.Response:
    session = await get_session(request)
    state = request.config_dict[INDEX_STATE]
    base = {
        "user": request.get("user"),
        "csrf": csrf_token(session),
        "nonce": request.get("nonce"),
        "flash": session.pop("flash", None),
        "tz_name": request.config_dict[STAFF_CONFIG]["tz_name"],
        "index_error": state.get("error"),
        "path_qs": request.path_qs,
    }
    return aiohttp_jinja2.render_template(
        template, request, {**base, **context}, app_key=STAFF_JINJA, status=status
    )


async def flash(request: web.Request, message: str) -> None:
    session = await get_session(request)
    session["flash"] = message


def tz(request: web.Request) -> Any:
    return request.config_dict[STAFF_CONFIG]["tz"]


def int_param(value: Optional[str], default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def back_to(value: Optional[str], area: str) -> str:
    """A return path inside one area of the console (e.g. /staff/queue?page=2), else its root."""
    if value and value.startswith(area) and safe_next(value) == value:
        return value
    return area


async def revealed(request: web.Request) -> Dict[str, float]:
    """The contact details this staff session revealed, still within their time."""
    session = await get_session(request)
    now = time.time()
    current = {k: v for k, v in (session.get("revealed") or {}).items() if v > now}
    if current != (session.get("revealed") or {}):
        session["revealed"] = current
    return current


async def add_revealed(request: web.Request, key: str) -> None:
    session = await get_session(request)
    current = await revealed(request)
    current[key] = time.time() + REVEAL_SECONDS
    session["revealed"] = dict(sorted(current.items(), key=lambda kv: kv[1])[-MAX_REVEALED:])


def wants_unmasked(request: web.Request, form: Any) -> bool:
    """Unmasked exports: an explicit POST by an administrator."""
    if form is None or form.get("unmasked") != "1":
        return False
    if not user_of(request).is_admin:
        raise web.HTTPForbidden(text="403 Forbidden: unmasked exports are for administrators\n")
    return True
