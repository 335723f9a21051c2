"""Application factory for the web app; tests call `create_app` directly.

Routes are registered in one place per area: `widget.setup` (demo page and chat widget) and
`staff.setup` (the staff console under /staff).
"""
from __future__ import annotations

from aiohttp import web

from bot.settings import Settings, get_settings
from bot.web.keys import SETTINGS


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Settings | None = None) -> web.Application:
    from bot.web import errors, staff, widget

    app = web.Application(client_max_size=64 * 1024)
    app[SETTINGS] = settings or get_settings()
    app.router.add_get("/health", health)
    widget.setup(app)
    staff.setup(app)
    errors.setup(app)
    return app


def run() -> None:
    settings = get_settings()
    web.run_app(create_app(settings), host="127.0.0.1", port=settings.web_port)
