"""The REST channel with input checking, server-side conversation ids and limits.

Rasa's stock ``RestInput`` reads ``request.json`` without checking it: an empty or malformed
body, a JSON list or a number makes Sanic raise (500 or an unhelpful 400), a ``message`` that is
a number or a list reaches the NLU pipeline and fails there (logged, empty 200), a missing
``sender`` silently becomes the shared conversation "default", a 20,000-character message
goes to NLU and is stored whole, and whatever ``sender`` and ``input_channel`` the body names
are believed: ``{"sender": "+8613800138000"}`` would write into the conversation of the Twilio
patient with that phone number. This subclass keeps the URL (``name()`` is "rest":
``POST /webhooks/rest/webhook``) and the response format, and:

* body: a JSON object, else 400 ``{"error": ...}`` (every error in the patient's language:
  Chinese when the message has Chinese characters or ``metadata.language`` is zh)
* ``sender``: required, a string (or integer) of 1-128 printable characters, else 400. It is the
  *client's* id: the conversation is ``conversation_id("rest", sender, secret)`` (channels/
  guard.py), which no other channel can produce; replies still carry the client's id as
  ``recipient_id``
* ``input_channel``: the route's ("rest"); a body naming another is refused (400)
* ``message``: a string, else 400; control characters are removed (newlines and tabs become
  spaces); empty after that -> 400
* longer than ``max_message_chars`` (default 2,000; credentials key ``max_message_chars`` or
  env ``MAX_MESSAGE_CHARS``): a 200 with a polite "please keep it shorter" reply, and the
  message is neither parsed nor stored
* ``metadata``: an object or absent, else 400; keys beyond ``MAX_METADATA_KEYS`` /
  ``MAX_METADATA_BYTES`` are dropped (logged, never stored)
* more than ``RATE_LIMIT_PER_ADDRESS`` requests from one client address or
  ``RATE_LIMIT_PER_CONVERSATION`` messages into one conversation per ``RATE_LIMIT_WINDOW``:
  429 with ``Retry-After`` and ``{"error", "message"}``
* the tracker store down, or no answer within ``CHANNEL_REPLY_TIMEOUT``: 503 with
  ``{"error", "message"}`` ("please try again in a few minutes or call the study team")

Credentials key (credentials.yml): ``bot.rasa_ext.channels.rest.CheckedRestInput``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import unicodedata
from asyncio import Queue
from typing import Any, Awaitable, Callable, Coroutine, Dict, Optional, Text, Union

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import QueueOutputChannel, RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from bot.config import get_settings
from bot.rasa_ext.channels.guard import (
    conversation_id,
    conversation_secret,
    deliver,
    request_address,
)
from bot.rasa_ext.channels.limits import cap_metadata, rate_limiter, retry_after
from bot.rasa_ext.channels.wording import BadInput, language_of, say, too_long_reply
from bot.rasa_ext.patches import require

__all__ = [
    "BadInput",
    "CheckedRestInput",
    "clean_message",
    "clean_metadata",
    "clean_sender",
    "max_message_chars",
    "too_long_reply",
]

logger = logging.getLogger(__name__)

# The webhook below replaces RestInput's; replies are collected by Rasa's own output channels,
# which keep every message in ``_persist_message``.
require(CollectingOutputChannel, "_persist_message", patched_by="bot.rasa_ext.channels.rest")

MAX_SENDER_CHARS = 128
MAX_BODY_BYTES = 256 * 1024
# C0/C1 control characters except tab and newline (which become spaces), plus unpaired
# surrogates, zero-width and bidi controls ("format" characters).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def max_message_chars(value: Any = None) -> int:
    """The configured cap: an explicit value (credentials key), else MAX_MESSAGE_CHARS."""
    if value not in (None, ""):
        try:
            number = int(value)
            if number > 0:
                return number
        except (TypeError, ValueError):
            pass
        logger.warning("ignoring invalid max_message_chars %r", value)
    return get_settings().max_message_chars


def clean_text(text: str) -> str:
    """Remove control and invisible format characters; tabs and newlines become spaces."""
    text = text.replace("\r\n", "\n").replace("\t", " ").replace("\n", " ")
    text = _CONTROL.sub("", text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cs", "Cf", "Co"))
    return re.sub(r" {2,}", " ", text).strip()


def clean_sender(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadInput("sender_missing")
    sender = str(value).strip()
    if not sender:
        raise BadInput("sender_empty")
    if len(sender) > MAX_SENDER_CHARS:
        raise BadInput("sender_too_long", limit=MAX_SENDER_CHARS)
    if clean_text(sender) != sender:
        raise BadInput("sender_control")
    return sender


def clean_message(value: Any) -> str:
    """The message text, cleaned; raises BadInput for non-strings and empty text. Length is
    checked by the caller (it gets a polite reply, not an error)."""
    if not isinstance(value, str):
        raise BadInput("message_not_string")
    text = clean_text(value)
    if not text:
        raise BadInput("message_empty")
    return text


def clean_metadata(value: Any) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    if isinstance(value, str):  # the socket.io widget may send it serialised
        try:
            value = json.loads(value)
        except ValueError:
            raise BadInput("metadata_not_object")
    if not isinstance(value, dict):
        raise BadInput("metadata_not_object")
    return value


def capped_metadata(metadata: Optional[Dict[str, Any]], where: str) -> Optional[Dict[str, Any]]:
    settings = get_settings()
    return cap_metadata(metadata, settings.max_metadata_bytes, settings.max_metadata_keys, where)


def error_response(error: BadInput, language: str, status: int = 400) -> HTTPResponse:
    return response.json({"error": error.text(language)}, status=status)


def too_many_response(wait: float, language: str) -> HTTPResponse:
    seconds = retry_after(wait)
    text = say("rate_limited", language, seconds=seconds)
    return response.json(
        {"error": text, "message": text}, status=429, headers={"Retry-After": str(seconds)}
    )


def unavailable_response(language: str) -> HTTPResponse:
    text = say("unavailable", language)
    return response.json({"error": text, "message": text}, status=503)


class ClientCollectingOutputChannel(CollectingOutputChannel):
    """Collects the replies addressed to the client's own id, not the server's conversation."""

    def __init__(self, client_id: str) -> None:
        super().__init__()
        self.client_id = client_id

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        await super()._persist_message(dict(message, recipient_id=self.client_id))


class ClientQueueOutputChannel(QueueOutputChannel):
    def __init__(self, queue: Queue, client_id: str) -> None:
        super().__init__(queue)
        self.client_id = client_id

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        await super()._persist_message(dict(message, recipient_id=self.client_id))


class CheckedRestInput(RestInput):
    """``RestInput`` that refuses malformed requests with a reason, keeps conversations on
    server-side ids, limits senders and caps message length and metadata."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(limit=(credentials or {}).get("max_message_chars"))

    def __init__(self, limit: Any = None) -> None:
        self.max_message_chars = max_message_chars(limit)
        self._secret: Optional[str] = None

    def conversation(self, client_id: str) -> str:
        """The server-side conversation of the client's id on this channel."""
        if self._secret is None:
            self._secret = conversation_secret()
        return conversation_id(self.name(), client_id, self._secret)

    def parse(self, request: Request) -> Dict[str, Any]:
        """The request's JSON object, or BadInput."""
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            raise BadInput("body_too_large", limit=MAX_BODY_BYTES)
        if not body.strip():
            raise BadInput("body_empty")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadInput("body_not_json")
        if not isinstance(data, dict):
            raise BadInput("body_not_object")
        return data

    def check_input_channel(self, value: Any) -> None:
        """The channel is the route's: a body may name it (Rasa's clients do), not another."""
        if value is not None and value != self.name():
            raise BadInput("input_channel", channel=self.name())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Union[HTTPResponse, ResponseStream]:
            data: Dict[str, Any] = {}
            problem: Optional[BadInput] = None
            try:
                data = self.parse(request)
            except BadInput as error:
                problem = error
            language = language_of(data.get("message"), data.get("metadata"))
            limiter = rate_limiter()
            # Every request counts for its address, well-formed or not.
            wait = await limiter.address(request_address(request))
            if wait:
                return too_many_response(wait, language)
            try:
                if problem is not None:
                    raise problem
                client_id = clean_sender(data.get("sender"))
                self.check_input_channel(data.get("input_channel"))
                metadata = clean_metadata(data.get("metadata"))
                raw = data.get("message")
                length = len(raw) if isinstance(raw, str) else 0
                too_long = length > self.max_message_chars
                text = "" if too_long else clean_message(raw)
            except BadInput as error:
                return error_response(error, language)
            conversation = self.conversation(client_id)
            wait = await limiter.conversation(conversation)
            if wait:
                logger.info("conversation %s: too many messages", conversation)
                return too_many_response(wait, language)
            if too_long:
                # Answered here: the text reaches neither NLU nor the tracker store.
                logger.info(
                    "message of %d characters for %s refused as too long", length, conversation
                )
                reply = too_long_reply(length, self.max_message_chars, language)
                return response.json([{"recipient_id": client_id, "text": reply}])
            metadata = capped_metadata(metadata, f"rest {conversation}")
            agent = getattr(request.app.ctx, "agent", None)

            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return response.stream(
                    self.stream(on_new_message, agent, text, conversation, client_id, metadata),
                    content_type="text/event-stream",
                )

            collector = ClientCollectingOutputChannel(client_id)
            message = UserMessage(
                text, collector, conversation, input_channel=self.name(), metadata=metadata
            )
            if await deliver(on_new_message, message, agent) == "unavailable":
                return unavailable_response(language)
            # "ok", or "failed": the user still gets what was said before the failure.
            return response.json(collector.messages)

        return webhook

    def stream(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        agent: Any,
        text: str,
        conversation: str,
        client_id: str,
        metadata: Optional[Dict[str, Any]],
    ) -> Callable[[Any], Coroutine[Any, Any, None]]:
        """``?stream=true``: each reply as a JSON line as soon as it is said; an error line
        ``{"error", "message"}`` when the message could not be handled."""

        async def write(resp: Any) -> None:
            queue: Queue = Queue()
            done = object()
            message = UserMessage(
                text,
                ClientQueueOutputChannel(queue, client_id),
                conversation,
                input_channel=self.name(),
                metadata=metadata,
            )

            async def run() -> str:
                try:
                    return await deliver(on_new_message, message, agent)
                finally:
                    await queue.put(done)

            task = asyncio.ensure_future(run())
            while True:
                item = await queue.get()
                if item is done:
                    break
                await resp.write(json.dumps(item) + "\n")
            if await task == "unavailable":
                reply = say("unavailable", language_of(text, metadata))
                await resp.write(json.dumps({"error": reply, "message": reply}) + "\n")

        return write
