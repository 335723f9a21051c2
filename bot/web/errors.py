"""Errors on the web app: bad input is a 4xx with a reason; a bug is a logged 500.

aiohttp already answers unknown routes (404), wrong methods (405) and bodies over
`client_max_size` (413), and handlers raise `web.HTTPBadRequest` for values they refuse. What
remains is input the request parser itself cannot decode (a body that is not UTF-8, malformed
JSON or form data): a 400 with a reason, logged at INFO. Any other exception is a programming
error: a 500 logged at ERROR with its traceback and a request id, which the answer carries so
staff can quote it; the body never carries the traceback. Every answer has `X-Request-Id`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Awaitable, Callable

from aiohttp import web

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id(request: web.Request) -> str:
    """The proxy's X-Request-Id when it is a sane token, else a new one."""
    given = request.headers.get("X-Request-Id", "")
    return given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]


def _wants_json(request: web.Request) -> bool:
    return (
        "application/json" in request.headers.get("Accept", "")
        or request.content_type == "application/json"
        or "/api/" in request.path
    )


def _reply(request: web.Request, status: int, reason: str, rid: str) -> web.Response:
    if _wants_json(request):
        return web.json_response({"error": reason, "request_id": rid}, status=status)
    return web.Response(status=status, text=f"{reason}\n(request id {rid})")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request_id(request)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        error.headers["X-Request-Id"] = rid
        raise
    except UnicodeDecodeError:
        logger.info("%s %s [%s]: body is not UTF-8", request.method, request.path, rid)
        response = _reply(request, 400, "the request is not valid UTF-8 text", rid)
    except json.JSONDecodeError:
        logger.info("%s %s [%s]: malformed JSON", request.method, request.path, rid)
        response = _reply(request, 400, "the request body is not valid JSON", rid)
    except Exception:
        logger.exception("%s %s [%s] failed", request.method, request.path, rid)
        response = _reply(request, 500, "something went wrong on our side; please try again", rid)
    if not response.prepared:
        response.headers["X-Request-Id"] = rid
    return response


def setup(app: web.Application) -> None:
    """Install the middleware first, so it wraps every other middleware and handler."""
    app.middlewares.insert(0, error_middleware)
