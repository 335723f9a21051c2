"""The socket.io channel with the same input checks as the REST channel (bot.channels.rest).

Rasa's stock handlers trust the event payload: a ``user_uttered`` whose data is a string or a
list raises inside the handler, a ``message`` that is a number goes to NLU, metadata that is a
malformed JSON string raises, ``session_request`` with a non-object payload raises, and a
20,000-character message is parsed and stored. Also, with ``session_persistence: true`` the
stock ``session_request`` calls ``sio.enter_room`` without ``await`` (a coroutine since
python-socketio 5), so the socket never joins its session room and gets no bot replies; the
handler here awaits it. Here each payload is checked first; a bad one
gets a ``bot_uttered`` (or ``error``) event with the reason instead, and a message over the
cap gets the polite "please keep it shorter" reply without reaching NLU or the tracker store.

Credentials key (credentials.yml): ``bot.channels.socketio.CheckedSocketIOInput``, same keys as
Rasa's ``socketio`` plus ``max_message_chars``. ``name()`` stays "socketio", so the widget's
URL and the recorded input channel do not change.
"""
from __future__ import annotations

import inspect
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.channels.rest import (BadInput, clean_message, clean_metadata, clean_sender,
                               max_message_chars, too_long_reply)

logger = logging.getLogger(__name__)


class CheckedSocketIOInput(SocketIOInput):
    """``SocketIOInput`` whose event handlers check their payload."""

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

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        handlers = sio.handlers[self.namespace or "/"]
        original_message = handlers[self.user_message_evt]

        async def tell(sid: Text, text: Text) -> None:
            await sio.emit(self.bot_message_evt, {"text": text}, room=sid,
                           namespace=self.namespace)

        async def handle_message(sid: Text, data: Any = None) -> None:
            try:
                if not isinstance(data, dict):
                    raise BadInput("the message must be an object {\"message\": ...}")
                raw = data.get("message")
                if isinstance(raw, str) and len(raw) > self.max_message_chars:
                    await tell(sid, too_long_reply(len(raw), self.max_message_chars))
                    return
                checked = dict(data, message=clean_message(raw))
                if self.session_persistence:
                    if data.get("session_id") in (None, ""):
                        raise BadInput("send a session_request first (no session_id)")
                    checked["session_id"] = clean_sender(data.get("session_id"))
                metadata = clean_metadata(data.get(self.metadata_key))
                checked[self.metadata_key] = metadata or {}
            except BadInput as error:
                await sio.emit("error", {"error": str(error)}, room=sid, namespace=self.namespace)
                return
            try:
                await original_message(sid, checked)
            except Exception:  # never let one message take the connection down
                logger.exception("socket.io message from %s failed", sid)

        async def session_request(sid: Text, data: Any = None) -> None:
            if not isinstance(data, dict):
                data = {}
            session_id = data.get("session_id")
            try:
                if session_id is not None:
                    session_id = clean_sender(session_id)
            except BadInput:
                session_id = None
            session_id = session_id or uuid.uuid4().hex
            if self.session_persistence:
                # Rasa 3.6 calls enter_room without await; python-socketio 5 made it a
                # coroutine, so the stock handler never joins the room and replies are lost.
                joined = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(joined):
                    await joined
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        handlers[self.user_message_evt] = handle_message
        handlers["session_request"] = session_request
        return blueprint
