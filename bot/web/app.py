"""Application factory for the web app; tests call `create_app` directly."""
from __future__ import annotations

from aiohttp import web

from bot.settings import Settings, get_settings

SETTINGS = web.AppKey("settings", Settings)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Settings | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[SETTINGS] = settings or get_settings()
    app.router.add_get("/health", health)
    return app


def run() -> None:
    settings = get_settings()
    web.run_app(create_app(settings), host="127.0.0.1", port=settings.web_port)
