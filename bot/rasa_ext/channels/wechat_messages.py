"""WeChat's message XML in and out, and Rasa's answers rendered as plain text for it."""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple
from xml.parsers import expat

# characters XML 1.0 cannot carry at all
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class WeChatXMLError(ValueError):
    """The body is not a WeChat message we are willing to parse."""


def parse_message(body: bytes) -> Dict[Text, Text]:
    """The text of each child of the ``<xml>`` root, e.g. ``{"MsgType": "text", ...}``.

    Uses expat directly so DOCTYPE and entity declarations can be refused outright (no
    entity expansion, no external entities); WeChat never sends them. Nested elements (some
    events have them) are skipped."""
    fields: Dict[Text, Text] = {}
    depth = 0
    buffer: List[Text] = []

    def forbid(*_: Any) -> Any:
        raise WeChatXMLError("DTDs and entity declarations are not allowed")

    def start(name: Text, _attrs: Any) -> None:
        nonlocal depth
        depth += 1
        if depth == 1 and name != "xml":
            raise WeChatXMLError("the root element must be <xml>")
        if depth == 2:
            buffer.clear()

    def end(name: Text) -> None:
        nonlocal depth
        if depth == 2:
            fields.setdefault(name, "".join(buffer))
        depth -= 1

    def characters(data: Text) -> None:
        if depth == 2:
            buffer.append(data)

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = forbid
    parser.EntityDeclHandler = forbid
    parser.UnparsedEntityDeclHandler = forbid
    parser.ExternalEntityRefHandler = forbid
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(body, True)
    except expat.ExpatError as error:
        raise WeChatXMLError(f"malformed XML: {expat.ErrorString(error.code)}") from None
    return fields


def cdata(text: Text) -> Text:
    """``text`` as CDATA: characters XML cannot carry dropped, ``]]>`` split across two
    sections."""
    clean = _XML_INVALID.sub("", text)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: Text, from_user: Text, content: Text, now: Optional[int] = None) -> Text:
    """A passive reply: the message's FromUserName becomes our ToUserName and vice versa."""
    created = int(time.time()) if now is None else now
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{created}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )


def render_messages(messages: Iterable[Dict[Text, Any]]) -> Tuple[Text, List[Text]]:
    """The bot messages as one plain text, and the button payloads in the order they are
    numbered ("1. Yes", "2. No", numbered across the whole answer)."""
    parts: List[Text] = []
    payloads: List[Text] = []
    for message in messages:
        lines: List[Text] = []
        text = message.get("text")
        custom = message.get("custom")
        if text:
            lines.append(str(text))
        elif isinstance(custom, dict) and isinstance(custom.get("text"), str):
            lines.append(custom["text"])
        for button in message.get("buttons") or message.get("quick_replies") or []:
            title = str(button.get("title") or button.get("payload") or "")
            payloads.append(str(button.get("payload") or title))
            lines.append(f"{len(payloads)}. {title}")
        if message.get("image"):
            lines.append(str(message["image"]))
        if message.get("attachment"):
            lines.append(str(message["attachment"]))
        if lines:
            parts.append("\n".join(lines))
    return "\n\n".join(parts), payloads


class ButtonMemory:
    """The last numbered buttons shown to each user, so "2" can become the second payload."""

    def __init__(self, ttl: float = 3600.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: "OrderedDict[Text, Tuple[float, List[Text]]]" = OrderedDict()

    def remember(self, sender_id: Text, payloads: List[Text]) -> None:
        self._entries.pop(sender_id, None)
        if payloads:
            self._entries[sender_id] = (time.monotonic(), payloads)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def resolve(self, sender_id: Text, text: Text) -> Text:
        entry = self._entries.get(sender_id)
        candidate = text.strip().rstrip(".。)")
        if not entry or not candidate.isdigit():
            return text
        stored, payloads = entry
        if time.monotonic() - stored > self.ttl:
            self._entries.pop(sender_id, None)
            return text
        number = int(candidate)
        if 1 <= number <= len(payloads):
            self._entries.pop(sender_id, None)
            return payloads[number - 1]
        return text
