"""bot.web.errors: bad input on every web-app route gets a 4xx, never a 5xx.

Without the middleware, a non-UTF-8 form body on POST /staff/login is a 500 (aiohttp's
request.post() raises UnicodeDecodeError inside the CSRF check).
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from bot.web.app import create_app
from tests.support.staff import all_routes

BODIES = [
    b"",
    b"{bad",
    b"\xff\xfe",
    b"null",
    b"[1]",
    b'{"a": 1}',
    b"x" * 70_000,
    b"a=1&b=%ff",
    b"<script>alert(1)</script>",
    b"'; DROP TABLE studies; --",
]
TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain"]


async def _statuses(app):
    routes = sorted(
        {
            (r.method, r.resource.canonical)
            for r in all_routes(app)
            if r.resource and "static" not in r.resource.canonical
        }
    )
    found = []
    async with TestClient(TestServer(app)) as client:
        for method, path in routes:
            path = path.replace("{", "").replace("}", "")
            for body in BODIES:
                for content_type in TYPES:
                    response = await client.request(
                        "POST" if method == "*" else method,
                        path + "?page=abc&id=-1&q=%00",
                        data=body,
                        headers={"Content-Type": content_type},
                    )
                    found.append((response.status, method, path, body[:12], content_type))
    return found


async def test_no_route_answers_bad_input_with_a_5xx(seeded, web_settings):
    app = create_app(web_settings)
    server_errors = [r for r in await _statuses(app) if r[0] >= 500]
    assert server_errors == []


async def test_a_non_utf8_login_form_is_a_400_with_a_reason(seeded, web_settings):
    app = create_app(web_settings)
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/staff/login",
            data=b"\xff\xfe",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status == 400
        assert "UTF-8" in await response.text()
