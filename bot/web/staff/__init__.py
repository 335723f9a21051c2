"""The staff console: an aiohttp sub-application mounted at /staff.

Conversations, screenings and callbacks, NLU inbox, studies, audit log. Its middlewares (session,
sign-in, CSRF, client address) and security headers act on its own routes only; its Jinja2
environment is its own. The conversation index over Rasa's tracker store is kept up to date
by a background task (every STAFF_INDEX_SECONDS, and at once when a page asks), so a page view
never waits for it. Staff users are created with `python -m bot staff add NAME`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import session_middleware

from bot import addresses
from bot.config import Settings
from bot.console.accounts import StaffIdentity, identity
from bot.console.indexer import index_events
from bot.console.nlu_inbox import domain_intents
from bot.console.privacy import mask_text
from bot.web.keys import INDEX_STATE, SETTINGS, STAFF_CONFIG, STAFF_JINJA, TRACKER, TRIAL_DB
from bot.web.staff import security
from bot.web.staff.helpers import in_db
from bot.web.staff.routes import add_routes

log = logging.getLogger("bot.staff")
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _timezone(name: str) -> Any:
    name = name.strip() or "UTC"
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("STAFF_TIMEZONE=%r is not a known time zone; showing UTC", name)
        return ZoneInfo("UTC"), "UTC"


def _filters(zone: Any) -> Dict[str, Any]:
    def when(value: Optional[datetime], fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(zone).strftime(fmt)

    def pct(value: Optional[float]) -> str:
        return "" if value is None else f"{value * 100:.0f}%"

    def label(value: Optional[str]) -> str:
        return (value or "").replace("_", " ")

    @jinja2.pass_context
    def mask(context: Any, value: Optional[str]) -> Optional[str]:
        """Masked; the studies' public contacts stay visible when the view passed `keep`."""
        return mask_text(value, context.get("keep") or frozenset())

    return {"when": when, "pct": pct, "label": label, "mask": mask}


async def load_identity(
    request: web.Request, user_id: int, signed_in_at: Optional[float], token: Optional[str]
) -> Optional[StaffIdentity]:
    result: Optional[StaffIdentity] = await in_db(request, identity, user_id, signed_in_at, token)
    return result


async def _index_in_background(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: index the tracker store's new events every few seconds, or when woken."""
    state = app[INDEX_STATE]
    settings = app[SETTINGS]

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(index_events, app[TRIAL_DB], app[TRACKER])
                state["error"], state["at"] = None, datetime.now(timezone.utc)
            except Exception as error:  # the console still shows what it has
                log.exception("indexing the tracker store failed")
                state["error"] = type(error).__name__
            state["wake"].clear()
            try:
                await asyncio.wait_for(state["wake"].wait(), settings.staff_index_seconds)
            except asyncio.TimeoutError:
                pass

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def create_staff_app(settings: Settings, parent: web.Application) -> web.Application:
    """The console, sharing the parent app's databases; mount with add_subapp("/staff", ...)."""
    zone, zone_name = _timezone(settings.staff_timezone)
    storage = security.StaffCookieStorage(
        security.session_key(settings.staff_session_key),
        always_secure=settings.staff_cookie_secure,
    )
    proxies = addresses.trusted_networks(settings.trusted_proxies)
    app = web.Application(
        middlewares=[
            session_middleware(storage),
            security.make_middleware(load_identity, proxies),
        ]
    )
    app[SETTINGS] = settings
    app[TRIAL_DB] = parent[TRIAL_DB]
    app[TRACKER] = parent[TRACKER]
    app.on_response_prepare.append(security.security_headers)  # type: ignore[arg-type]  # aiosignal
    aiohttp_jinja2.setup(
        app,
        app_key=STAFF_JINJA,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        filters=_filters(zone),
        default_helpers=False,
    )
    app[STAFF_CONFIG] = {"tz": zone, "tz_name": zone_name, "intents": domain_intents()}
    app[INDEX_STATE] = {"error": None, "at": None, "wake": asyncio.Event()}
    app.cleanup_ctx.append(_index_in_background)
    add_routes(app)
    return app
