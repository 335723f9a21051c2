"""Request bodies on the web app: refused before any handler (or the console's CSRF check)
parses them, so aiohttp 3.9.5's body-parsing weaknesses stay out of reach, before sign-in too.

aiohttp 3.9.5 inflates gzip/deflate/br request bodies as they arrive, without a size limit (a
few kB of gzip become gigabytes: a "zip bomb"), parses multipart bodies with known
denial-of-service bugs, and keeps reading (and parsing) an unread chunked body for up to ten
seconds after the answer. Nothing here needs any of that: forms are urlencoded and small.

* The app never inflates bodies (`HANDLER_ARGS`: auto_decompress off, for every server the
  app runs on: `run_app`, test servers), and a body with a Content-Encoding other than
  identity is refused (415), unread.
* A declared Content-Length over MAX_BODY_BYTES is refused (413) before a byte is read.
* multipart/* bodies are refused (415): no route takes uploads.
* A Transfer-Encoding other than chunked is refused (400); a chunked body is read here, up to
  MAX_BODY_BYTES, and refused (413) the moment it grows past it (the handler then gets what
  was read, from aiohttp's cache).

Every refusal closes the connection right after its answer, so aiohttp does not go on reading
(or parsing) the rest of the body.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Dict

from aiohttp import web

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
HANDLER_ARGS: Dict[str, object] = {"auto_decompress": False}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ClosingResponse(web.Response):
    """An answer after which the connection is closed, the rest of the body unread."""

    async def write_eof(self, data: bytes = b"") -> None:
        request = self._req  # gone once the answer is written
        await super().write_eof(data)
        protocol = request.protocol if request is not None else None
        if protocol is not None:
            protocol.force_close()


def refuse(request: web.Request, status: int, reason: str) -> ClosingResponse:
    log.info(
        "%s %s from %s refused (%s): %s",
        request.method,
        request.path,
        request.remote,
        status,
        reason,
    )
    response = ClosingResponse(status=status, text=f"{reason}\n", content_type="text/plain")
    response.force_close()
    return response


def _refusal(request: web.Request) -> "tuple[int, str] | None":
    headers = request.headers
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding and encoding != "identity":
        return 415, "compressed request bodies are not accepted"
    if request.content_type.lower().startswith("multipart/"):
        return 415, "multipart request bodies are not accepted"
    transfer = headers.get("Transfer-Encoding", "").strip().lower()
    if transfer and transfer != "chunked":
        return 400, "unsupported Transfer-Encoding"
    length = headers.get("Content-Length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            return 400, "invalid Content-Length"
        if declared > MAX_BODY_BYTES:
            return 413, f"request bodies are limited to {MAX_BODY_BYTES} bytes"
    return None


@web.middleware
async def body_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refuse(request, *refusal)
    if request.body_exists and request.headers.get("Content-Length") is None:
        # chunked: read it here, bounded (request.read() stops past client_max_size)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return refuse(request, 413, f"request bodies are limited to {MAX_BODY_BYTES} bytes")
        if len(body) > MAX_BODY_BYTES:
            return refuse(request, 413, f"request bodies are limited to {MAX_BODY_BYTES} bytes")
    return await handler(request)


def setup(app: web.Application) -> None:
    """After the error middleware (which stays outermost), before everything else."""
    app.middlewares.append(body_guard)
