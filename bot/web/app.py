"""Application factory for the web app; tests call `create_app(settings)` directly.

One area per module: `widget` (demo page and chat widget) on the root app, and the staff
console as a sub-application at /staff (`bot.web.staff`). The databases are opened once here
and shared by both areas. `errors` and `body_guard` (request bodies refused before any handler
parses them) act on every request.
"""

from __future__ import annotations

from typing import Optional

from aiohttp import web

from bot.config import Settings, get_settings
from bot.db import database
from bot.web import body_guard, errors, widget
from bot.web.keys import SETTINGS, TRACKER, TRIAL_DB
from bot.web.staff import create_staff_app


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Optional[Settings] = None) -> web.Application:
    settings = settings or get_settings()
    app = web.Application(
        client_max_size=body_guard.MAX_BODY_BYTES, handler_args=body_guard.HANDLER_ARGS
    )
    app[SETTINGS] = settings
    app[TRIAL_DB] = database(settings.database_url)
    app[TRACKER] = database(settings.tracker_store_url).engine
    app.router.add_get("/health", health)
    widget.setup(app)
    errors.setup(app)
    body_guard.setup(app)  # before the console's middlewares read any body
    app.add_subapp("/staff", create_staff_app(settings, app))
    return app


def run(settings: Settings) -> None:
    web.run_app(create_app(settings), host="127.0.0.1", port=settings.web_port)
