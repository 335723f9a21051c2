"""Demo hospital page and the embeddable chat widget.

A hospital website embeds the widget with one script tag:

    <script src="http://HOST:8000/static/widget/widget.js"></script>

optionally preceded by `window.TrialChatConfig = {serverUrl, title, colors: {primary}, language}`.
The widget is static JavaScript and CSS under bot/web/static/widget/; it talks to the Rasa
server's REST channel directly (Rasa runs with `--cors "*"`), so this app only serves files.

`/` is a demo hospital page with the widget embedded and pointed at the settings' Rasa URL. It
states no trial facts: every fact comes from the assistant, which reads the trial database.
"""
from __future__ import annotations

import secrets
from pathlib import Path

import jinja2
from aiohttp import web
from yarl import URL

from bot.web.keys import SETTINGS

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
WIDGET_PREFIX = "/static/widget/"

# The demo page is the only template of this area: a private Jinja2 environment keeps it
# independent of any aiohttp_jinja2 set-up another area (the staff console) makes.
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def rasa_origin(rasa_url: str) -> str:
    """`scheme://host[:port]` of the Rasa URL, for the page's connect-src; refuses non-HTTP URLs.

    Only the origin goes into the header, so a path or anything odd in RASA_URL can never add
    a directive to the Content-Security-Policy.
    """
    url = URL(rasa_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"RASA_URL must be an http(s) URL, got {rasa_url!r}")
    return str(url.origin())


def content_security_policy(nonce: str, rasa_url: str) -> str:
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self' {rasa_origin(rasa_url)}",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


async def demo_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    nonce = secrets.token_urlsafe(16)
    config = {"serverUrl": settings.rasa_url.rstrip("/"), "title": "Clinical trial assistant",
              "language": "en"}
    body = _templates.get_template("demo.html").render(
        nonce=nonce, config=config, trial_id=settings.trial_id)
    return web.Response(text=body, content_type="text/html", charset="utf-8", headers={
        "Content-Security-Policy": content_security_policy(nonce, settings.rasa_url),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "no-cache",
    })


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers for the widget's files, which hospital pages on other origins load."""
    if request.path.startswith(WIDGET_PREFIX):
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Loadable from pages that set Cross-Origin-Embedder-Policy.
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        # Short, so a fixed widget reaches every hospital page within minutes.
        response.headers.setdefault("Cache-Control", "public, max-age=300")


def setup(app: web.Application) -> None:
    """Registers the widget's routes: the demo page at / and the static files under /static/."""
    app.router.add_get("/", demo_page, name="widget-demo")
    app.router.add_static("/static/", STATIC_DIR, name="widget-static", append_version=False)
    app.on_response_prepare.append(_static_headers)
