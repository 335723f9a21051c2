"""The REST channel with input checking: bad input gets a 4xx with a reason, never a 5xx.

Rasa's stock ``RestInput`` reads ``request.json`` without checking it: an empty or malformed
body, a JSON list or a number makes Sanic raise (500 or an unhelpful 400), a ``message`` that is
a number or a list reaches the NLU pipeline and fails there (logged, empty 200), a missing
``sender`` silently becomes the shared conversation "default", and a 20,000-character message
goes to NLU and is stored whole. This subclass keeps the URL (``name()`` is "rest":
``POST /webhooks/rest/webhook``) and the response format, and checks first:

* body: a JSON object, else 400 ``{"error": ...}``
* ``sender``: required, a string (or integer) of 1-128 printable characters, else 400
* ``message``: a string, else 400; control characters are removed (newlines and tabs become
  spaces); empty after that -> 400
* longer than ``max_message_chars`` (default 2,000; credentials key ``max_message_chars`` or
  env ``MAX_MESSAGE_CHARS``): a 200 with a polite "please keep it shorter" reply, and the
  message is neither parsed nor stored
* ``metadata``: an object or absent, else 400; ``input_channel``: a short string or absent

Credentials key (credentials.yml): ``bot.channels.rest.CheckedRestInput``.
"""
from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, Optional, Text, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
import rasa.utils.endpoints
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128
MAX_BODY_BYTES = 256 * 1024
TOO_LONG_REPLY = (
    "Sorry, that message is too long for me to read ({length} characters; I can take up to "
    "{limit}). Please keep it shorter: one question at a time works best. If it is urgent, "
    "please call the study team or your doctor."
)
# C0/C1 control characters except tab and newline (which become spaces), plus unpaired
# surrogates, zero-width and bidi controls ("format" characters).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class BadInput(ValueError):
    """The request cannot be answered; the message says why (sent back with a 400)."""


def max_message_chars(value: Any = None) -> int:
    """The configured cap: an explicit value, else MAX_MESSAGE_CHARS, else 2,000."""
    for candidate in (value, os.environ.get("MAX_MESSAGE_CHARS")):
        try:
            if candidate not in (None, ""):
                number = int(candidate)
                if number > 0:
                    return number
        except (TypeError, ValueError):
            logger.warning("ignoring invalid max_message_chars %r", candidate)
    return DEFAULT_MAX_MESSAGE_CHARS


def clean_text(text: str) -> str:
    """Remove control and invisible format characters; tabs and newlines become spaces."""
    text = text.replace("\r\n", "\n").replace("\t", " ").replace("\n", " ")
    text = _CONTROL.sub("", text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cs", "Cf", "Co"))
    return re.sub(r" {2,}", " ", text).strip()


def clean_sender(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadInput("'sender' is required: a string naming the conversation")
    sender = str(value).strip()
    if not sender:
        raise BadInput("'sender' is empty")
    if len(sender) > MAX_SENDER_CHARS:
        raise BadInput(f"'sender' is longer than {MAX_SENDER_CHARS} characters")
    if clean_text(sender) != sender:
        raise BadInput("'sender' contains control characters")
    return sender


def clean_message(value: Any) -> str:
    """The message text, cleaned; raises BadInput for non-strings and empty text. Length is
    checked by the caller (it gets a polite reply, not an error)."""
    if not isinstance(value, str):
        raise BadInput("'message' must be a string")
    text = clean_text(value)
    if not text:
        raise BadInput("'message' is empty")
    return text


def clean_metadata(value: Any) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    if isinstance(value, str):  # the socket.io widget may send it serialised
        try:
            value = json.loads(value)
        except ValueError:
            raise BadInput("'metadata' must be a JSON object")
    if not isinstance(value, dict):
        raise BadInput("'metadata' must be an object")
    return value


def too_long_reply(length: int, limit: int) -> str:
    return TOO_LONG_REPLY.format(length=f"{length:,}", limit=f"{limit:,}")


def _error(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


class CheckedRestInput(RestInput):
    """``RestInput`` that refuses malformed requests with a reason and caps message length."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(limit=(credentials or {}).get("max_message_chars"))

    def __init__(self, limit: Any = None) -> None:
        self.max_message_chars = max_message_chars(limit)

    def parse(self, request: Request) -> Tuple[str, Any, Optional[str], Optional[Dict]]:
        """(sender, raw message, input channel, metadata) or BadInput."""
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            raise BadInput(f"the request body is larger than {MAX_BODY_BYTES} bytes")
        if not body.strip():
            raise BadInput("the request body is empty: send a JSON object "
                           '{"sender": "...", "message": "..."}')
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadInput("the request body is not valid JSON")
        if not isinstance(data, dict):
            raise BadInput('the request body must be a JSON object {"sender": ..., "message": ...}')
        sender = clean_sender(data.get("sender"))
        channel = data.get("input_channel")
        if channel is not None and (not isinstance(channel, str) or len(channel) > 64
                                    or clean_text(channel) != channel):
            raise BadInput("'input_channel' must be a short string")
        return sender, data.get("message"), channel or None, clean_metadata(data.get("metadata"))

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[None]]
    ) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, raw, channel, metadata = self.parse(request)
                if isinstance(raw, str) and len(raw) > self.max_message_chars:
                    # Answered here: the text reaches neither NLU nor the tracker store.
                    logger.info("message of %d characters from %s refused as too long",
                                len(raw), sender)
                    return response.json([{"recipient_id": sender,
                                           "text": too_long_reply(len(raw),
                                                                  self.max_message_chars)}])
                text = clean_message(raw)
            except BadInput as error:
                return _error(400, str(error))
            input_channel = channel or self.name()

            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return response.stream(
                    self.stream_response(on_new_message, text, sender, input_channel, metadata),
                    content_type="text/event-stream")

            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender,
                                                 input_channel=input_channel,
                                                 metadata=metadata))
            except CancelledError:
                logger.error("message from %s timed out", sender)
            except Exception:  # the user still gets what was said before the failure
                logger.exception("message from %s failed", sender)
            return response.json(collector.messages)

        return webhook
