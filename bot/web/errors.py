"""Bad input on the web app gets a 4xx with a reason, never a 5xx; call `setup(app)`.

aiohttp already answers unknown routes (404), wrong methods (405) and bodies over
`client_max_size` (413). What it does not cover is a handler that trips over input it did
not expect: `await request.json()` on malformed JSON or a wrong Content-Type, `int()` of a
query parameter, a missing form field, bytes that are not UTF-8. Those raise ValueError,
KeyError, TypeError or UnicodeDecodeError and would become a 500 with no reason. This
middleware turns them into a 400 (JSON for API-like requests, plain text otherwise) and logs
them; any other exception is still a 500, logged with its traceback, but the body never
carries one.
"""
from __future__ import annotations

import json
import logging
from typing import Awaitable, Callable

from aiohttp import web

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BAD_INPUT = (ValueError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError)


def _wants_json(request: web.Request) -> bool:
    return ("application/json" in request.headers.get("Accept", "")
            or request.content_type == "application/json"
            or request.path.startswith("/api") or "/api/" in request.path)


def _reply(request: web.Request, status: int, reason: str) -> web.Response:
    if _wants_json(request):
        return web.json_response({"error": reason}, status=status)
    return web.Response(status=status, text=reason)


@web.middleware
async def bad_input_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except UnicodeDecodeError:
        logger.info("%s %s: body is not UTF-8", request.method, request.path)
        return _reply(request, 400, "the request is not valid UTF-8 text")
    except json.JSONDecodeError:
        logger.info("%s %s: malformed JSON", request.method, request.path)
        return _reply(request, 400, "the request body is not valid JSON")
    except BAD_INPUT as error:
        logger.info("%s %s: bad input: %r", request.method, request.path, error)
        return _reply(request, 400, "the request has a missing or invalid value")
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return _reply(request, 500, "something went wrong on our side; please try again")


def setup(app: web.Application) -> None:
    """Install the middleware first, so it wraps every other middleware and handler."""
    app.middlewares.insert(0, bad_input_middleware)
