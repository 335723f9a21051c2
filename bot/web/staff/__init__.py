"""Staff console under /staff: conversations, screenings and callbacks, NLU inbox, audit log.

Its routes are registered on the web app under /staff; its session, sign-in, CSRF and
security-header middlewares act on /staff paths only and let every other request through, and
its Jinja2 environment has an app key of its own, so the demo page's set-up is not touched.
(Not an aiohttp sub-application: sub-app routing reads `request.url`, which fails under the
pinned aiohttp 3.9.5 + yarl 1.25 for any Host header with a port.) Staff users are created with
`python -m bot staff add NAME [--role coordinator|admin]`.

Environment: STAFF_SESSION_KEY (Fernet key for the session cookie; random per start when
unset, with a warning), STAFF_COOKIE_SECURE=1 (always mark the cookie Secure; it is Secure
anyway when the request came over HTTPS or with X-Forwarded-Proto: https), STAFF_TIMEZONE
(IANA name the console shows times and reads date filters in; default UTC).
"""
from __future__ import annotations

import asyncio
import logging
import os
from datetime import timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.conversations import mask_text
from bot.nlu_inbox import domain_intents
from bot.web.staff import security, views
from bot.web.staff.keys import INDEX_STATE, STAFF_CONFIG, STAFF_JINJA

log = logging.getLogger("bot.staff")
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _timezone():
    name = os.environ.get("STAFF_TIMEZONE", "").strip() or "UTC"
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("STAFF_TIMEZONE=%r is not a known time zone; showing UTC", name)
        return ZoneInfo("UTC"), "UTC"


def _filters(zone) -> dict:
    def when(value, fmt="%Y-%m-%d %H:%M"):
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(zone).strftime(fmt)

    def pct(value):
        return "" if value is None else f"{value * 100:.0f}%"

    def label(value):
        return (value or "").replace("_", " ")

    return {"when": when, "pct": pct, "label": label, "mask": mask_text}


def setup(app: web.Application) -> None:
    """Registers the staff console's routes, middlewares and templates on the web app."""
    zone, zone_name = _timezone()
    storage = security.StaffCookieStorage(security.session_key(),
                                          always_secure=security.cookie_always_secure())
    app.middlewares.append(security.staff_sessions(storage))
    app.middlewares.append(security.make_middleware(views.load_identity))
    app.on_response_prepare.append(security.security_headers)
    aiohttp_jinja2.setup(
        app, app_key=STAFF_JINJA, loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True, filters=_filters(zone), default_helpers=False)
    app[STAFF_CONFIG] = {"tz": zone, "tz_name": zone_name, "intents": domain_intents()}
    app[INDEX_STATE] = {"lock": asyncio.Lock(), "error": None}
    views.routes(app)
