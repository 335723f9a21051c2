"""The socket.io channel with the REST channel's checks, server-side conversation ids and limits.

Rasa's stock handlers trust the event payload: a ``user_uttered`` whose data is a string or a
list raises inside the handler, a ``message`` that is a number goes to NLU, metadata that is a
malformed JSON string raises, ``session_request`` with a non-object payload raises, and a
20,000-character message is parsed and stored. Worse, the ``session_id`` a message names is
believed: any socket could write into (and, with ``session_request``, listen to) any
conversation, a Twilio patient's phone number included. Also, with ``session_persistence: true``
the stock ``session_request`` calls ``sio.enter_room`` without ``await`` (a coroutine since
python-socketio 5), so the socket never joins its session room and gets no bot replies.

Here:

* ``session_request {"session_id": <client id>}`` (a new random id when absent) joins the room
  of that client's *server-side* conversation, ``conversation_id("socketio", client id)``
  (channels/guard.py), and confirms with the client's own id (rasa-webchat and the like keep
  working). An id taken from elsewhere (another channel's, a stored conversation's) names a
  different conversation, so its room is a different one.
* ``user_uttered`` must name a ``session_id`` this very connection requested; its message goes
  to that conversation and the replies to that room only. Another one is refused.
* every payload is checked as on the REST channel; a bad one gets an ``error`` event with the
  reason (in the patient's language); a message over the cap gets the polite "please keep it
  shorter" reply without reaching NLU or the tracker store; metadata is capped.
* limits per client address and per conversation (429: an ``error`` event with ``status``,
  ``retry_after`` and ``message``, and the message as a ``bot_uttered`` text); a frame larger
  than ``SOCKETIO_MAX_FRAME_BYTES`` is refused by python-socketio (``max_http_buffer_size``).
* the tracker store down or no answer within ``CHANNEL_REPLY_TIMEOUT``: ``status`` 503, "please
  try again in a few minutes or call the study team".

Credentials key (credentials.yml): ``bot.rasa_ext.channels.socketio.CheckedSocketIOInput``, the
same keys as Rasa's ``socketio`` plus ``max_message_chars``. ``name()`` stays "socketio", so the
widget's URL and the recorded input channel do not change.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from bot.config import get_settings
from bot.rasa_ext.channels.guard import (
    conversation_id,
    conversation_secret,
    deliver,
    request_address,
)
from bot.rasa_ext.channels.limits import rate_limiter, retry_after
from bot.rasa_ext.channels.rest import (
    capped_metadata,
    clean_message,
    clean_metadata,
    clean_sender,
    max_message_chars,
)
from bot.rasa_ext.channels.wording import BadInput, language_of, say, too_long_reply
from bot.rasa_ext.patches import require, require_keys

logger = logging.getLogger(__name__)


require(
    SocketIOInput,
    "blueprint",
    params=["self", "on_new_message"],
    patched_by="bot.rasa_ext.channels.socketio",
)

MAX_SESSIONS_PER_CONNECTION = 20


class CheckedSocketIOInput(SocketIOInput):
    """``SocketIOInput`` whose event handlers check their payload and keep each connection to
    the conversations it asked for."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = dict(credentials or {})
        limit = credentials.pop("max_message_chars", None)
        channel = super().from_credentials(credentials)
        channel.max_message_chars = max_message_chars(limit)
        return channel

    max_message_chars: int = max_message_chars()
    _secret: Optional[str] = None

    def conversation(self, client_id: str) -> str:
        """The server-side conversation (and room) of the client's id on this channel."""
        if self._secret is None:
            self._secret = conversation_secret()
        return conversation_id(self.name(), client_id, self._secret)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        sio.eio.max_http_buffer_size = get_settings().socketio_max_frame_bytes
        namespace = self.namespace
        handlers = sio.handlers[namespace or "/"]
        # Rasa's handlers are replaced by checked ones below; they must be where we expect.
        require_keys(
            handlers,
            [self.user_message_evt, "session_request"],
            what="Rasa's socket.io handler table",
            patched_by="bot.rasa_ext.channels.socketio",
        )

        def request_of(sid: Text) -> Any:
            environ = sio.get_environ(sid, namespace=namespace) or {}
            return environ.get("sanic.request")

        def joined(sid: Text) -> set:
            return set(sio.rooms(sid, namespace=namespace)) - {sid}

        async def join(sid: Text, room: Text) -> None:
            # Rasa 3.6 calls enter_room without await; python-socketio 5 made it a coroutine.
            entered = sio.enter_room(sid, room, namespace=namespace)
            if inspect.isawaitable(entered):
                await entered

        async def tell(sid: Text, text: Text) -> None:
            await sio.emit(self.bot_message_evt, {"text": text}, room=sid, namespace=namespace)

        async def refuse(sid: Text, error: BadInput, language: str) -> None:
            await sio.emit("error", {"error": error.text(language)}, room=sid, namespace=namespace)

        async def status(sid: Text, code: int, text: Text, wait: Optional[float] = None) -> None:
            event: Dict[str, Any] = {"error": text, "message": text, "status": code}
            if wait is not None:
                event["retry_after"] = retry_after(wait)
            await sio.emit("error", event, room=sid, namespace=namespace)
            await tell(sid, text)

        async def handle_message(sid: Text, data: Any = None) -> None:
            language = "en"
            limiter = rate_limiter()
            try:
                if not isinstance(data, dict):
                    raise BadInput("payload_not_object")
                hint = data.get(self.metadata_key)
                language = language_of(
                    data.get("message"), hint if isinstance(hint, dict) else None
                )
                request = request_of(sid)
                address = request_address(request) if request is not None else f"socket:{sid}"
                wait = await limiter.address(address)
                if wait:
                    await status(
                        sid, 429, say("rate_limited", language, seconds=retry_after(wait)), wait
                    )
                    return
                session_id = data.get("session_id")
                if session_id in (None, "") and not self.session_persistence:
                    client_id = sid  # Rasa's behaviour without session persistence
                    conversation = self.conversation(client_id)
                    await join(sid, conversation)
                elif session_id in (None, ""):
                    raise BadInput("no_session")
                else:
                    client_id = clean_sender(session_id)
                    conversation = self.conversation(client_id)
                    if conversation not in joined(sid):
                        raise BadInput("session_not_requested")
                metadata = clean_metadata(data.get(self.metadata_key))
                raw = data.get("message")
                length = len(raw) if isinstance(raw, str) else 0
                too_long = length > self.max_message_chars
                text = "" if too_long else clean_message(raw)
            except BadInput as error:
                await refuse(sid, error, language)
                return
            wait = await limiter.conversation(conversation)
            if wait:
                logger.info("conversation %s: too many messages", conversation)
                await status(
                    sid, 429, say("rate_limited", language, seconds=retry_after(wait)), wait
                )
                return
            if too_long:
                logger.info(
                    "message of %d characters for %s refused as too long", length, conversation
                )
                await tell(sid, too_long_reply(length, self.max_message_chars, language))
                return
            message = UserMessage(
                text,
                SocketIOOutput(sio, self.bot_message_evt),
                conversation,
                input_channel=self.name(),
                metadata=capped_metadata(metadata, f"socketio {conversation}") or {},
            )
            agent = getattr(request.app.ctx, "agent", None) if request is not None else None
            try:
                outcome = await deliver(on_new_message, message, agent)
                if outcome == "unavailable":
                    await status(sid, 503, say("unavailable", language))
            except Exception:  # never let one message take the connection down
                logger.exception("socket.io message for %s failed", conversation)

        async def session_request(sid: Text, data: Any = None) -> None:
            if not isinstance(data, dict):
                data = {}
            client_id = data.get("session_id")
            try:
                if client_id is not None:
                    client_id = clean_sender(client_id)
            except BadInput:
                client_id = None
            client_id = client_id or uuid.uuid4().hex
            room = self.conversation(client_id)
            rooms = joined(sid)
            if room not in rooms and len(rooms) >= MAX_SESSIONS_PER_CONNECTION:
                hint = data.get(self.metadata_key)
                await refuse(
                    sid,
                    BadInput("too_many_sessions", limit=MAX_SESSIONS_PER_CONNECTION),
                    language_of(None, hint if isinstance(hint, dict) else None),
                )
                return
            await join(sid, room)
            await sio.emit("session_confirm", client_id, room=sid, namespace=namespace)

        handlers[self.user_message_evt] = handle_message
        handlers["session_request"] = session_request
        return blueprint
