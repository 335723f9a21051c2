"""WeChat Official Account (公众号) connector, plaintext or compatible message mode.

Webhook: ``https://<host>/webhooks/wechat/webhook`` (the "服务器地址(URL)" in the WeChat
console; "令牌(Token)" is our ``token``).

* ``GET``: the server-verification handshake. ``signature`` must equal the SHA1 hex of the
  sorted concatenation of token, ``timestamp`` and ``nonce``; then ``echostr`` is returned
  as text/plain, otherwise ``403``.
* ``POST``: the same signature in the query string (``403`` when wrong or when the
  timestamp is older than ``max_timestamp_age``), an XML body of at most ``max_body_bytes``
  (``413``; DTDs/entities and malformed XML ``400``). Text messages go to Rasa; the answer is
  a passive XML reply if Rasa answers within ``reply_timeout`` (WeChat waits 5 s), otherwise
  we answer ``success`` at once and push the answer later through the customer-service
  message API (``/cgi-bin/message/custom/send``, access token from ``/cgi-bin/token``, cached
  until it expires). Other message types get a polite "text only" reply, ``subscribe``
  events a welcome text, other events ``success``.

Note: in plaintext mode WeChat signs only token/timestamp/nonce, not the body. We therefore
also refuse stale timestamps and ignore a (timestamp, nonce) pair seen before, and dedupe
retries by ``MsgId``. The AES "safe mode" (which signs the body) is not implemented; pick
"明文模式" or "兼容模式" in the console.

Replies are plain text; buttons are rendered as numbered lines ("1. Yes") and a reply of just
that number is sent to Rasa as the button's payload.

credentials.yml::

    bot.channels.wechat.WeChatInput:
      token: ${WECHAT_TOKEN}
      app_id: ${WECHAT_APP_ID}
      app_secret: ${WECHAT_APP_SECRET}
      # optional: api_base_url, reply_timeout, max_timestamp_age, max_body_bytes,
      #           welcome_text, non_text_reply, error_reply
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Set, Text, Tuple
from xml.parsers import expat

import aiohttp
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from rasa.shared.exceptions import RasaException

from bot.channels.verify import (
    RecentKeys,
    forbidden,
    timestamp_is_fresh,
    wechat_signature_is_valid,
)

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.weixin.qq.com"
DEFAULT_REPLY_TIMEOUT = 4.5  # WeChat gives up (and retries) after 5 seconds
DEFAULT_MAX_TIMESTAMP_AGE = 300.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_WELCOME_TEXT = (
    "Welcome! I am the clinical-trial assistant. Ask me about our studies, for example "
    "\"Which trials are recruiting?\""
)
DEFAULT_NON_TEXT_REPLY = (
    "Sorry, I can only read text messages. Please type your question."
)
DEFAULT_ERROR_REPLY = "Sorry, something went wrong. Please try again in a moment."
# errcodes meaning "this access token is no longer valid": fetch a new one and retry once
TOKEN_ERRORS = {40001, 40014, 42001}
API_TIMEOUT = 10.0
# characters XML 1.0 cannot carry at all
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# --- XML in and out ----------------------------------------------------------------------


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

    def forbid(*_: Any) -> None:
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


# --- Rendering Rasa's answers as plain text ----------------------------------------------


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


# --- The WeChat API (customer-service messages) ------------------------------------------


class WeChatAPIError(RasaException):
    def __init__(self, errcode: Any, errmsg: Any) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatClient:
    """Sends customer-service text messages; keeps the access token until it expires."""

    def __init__(
        self,
        app_id: Optional[Text],
        app_secret: Optional[Text],
        api_base_url: Text = DEFAULT_API_BASE_URL,
        timeout: float = API_TIMEOUT,
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.api_base_url = api_base_url.rstrip("/")
        self.timeout = timeout
        self._token: Optional[Text] = None
        self._expires_at = 0.0
        self._lock: Optional[asyncio.Lock] = None

    @property
    def configured(self) -> bool:
        return bool(self.app_id and self.app_secret)

    def invalidate(self) -> None:
        self._token = None
        self._expires_at = 0.0

    async def access_token(self, session: aiohttp.ClientSession) -> Text:
        if self._token and time.monotonic() < self._expires_at:
            return self._token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token and time.monotonic() < self._expires_at:
                return self._token
            async with session.get(
                f"{self.api_base_url}/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.app_id or "",
                    "secret": self.app_secret or "",
                },
            ) as reply:
                result = await reply.json(content_type=None)
            token = result.get("access_token") if isinstance(result, dict) else None
            if not token:
                result = result if isinstance(result, dict) else {}
                raise WeChatAPIError(result.get("errcode"), result.get("errmsg"))
            lifetime = float(result.get("expires_in") or 7200)
            self._token = str(token)
            # renew a little early: 5 minutes, or a tenth of a short lifetime
            self._expires_at = time.monotonic() + lifetime - min(300.0, lifetime / 10)
            return self._token

    async def send_text(self, open_id: Text, content: Text) -> bool:
        """Push ``content`` to ``open_id``; True when WeChat accepted it."""
        if not self.configured:
            logger.error("WeChat app_id/app_secret not set: cannot send a delayed answer.")
            return False
        payload = {"touser": open_id, "msgtype": "text", "text": {"content": content}}
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in (1, 2):
                token = await self.access_token(session)
                async with session.post(
                    f"{self.api_base_url}/cgi-bin/message/custom/send",
                    params={"access_token": token},
                    data=body,
                    headers={"Content-Type": "application/json; charset=utf-8"},
                ) as reply:
                    result = await reply.json(content_type=None)
                errcode = result.get("errcode", 0) if isinstance(result, dict) else -1
                if errcode == 0:
                    return True
                if errcode in TOKEN_ERRORS and attempt == 1:
                    self.invalidate()
                    continue
                logger.error(
                    "WeChat refused a customer-service message: errcode %s (%s)",
                    errcode,
                    result.get("errmsg") if isinstance(result, dict) else result,
                )
                return False
        return False


class WeChatOutput(OutputChannel):
    """Pushes messages through the customer-service API (used when Rasa sends on its own,
    e.g. a reminder or ``trigger_intent`` with ``output_channel=wechat``)."""

    @classmethod
    def name(cls) -> Text:
        return "wechat"

    def __init__(self, client: WeChatClient, buttons: ButtonMemory) -> None:
        self.client = client
        self.buttons = buttons

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        text, payloads = render_messages([message])
        if text:
            self.buttons.remember(recipient_id, payloads)
            await self.client.send_text(recipient_id, text)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})


# --- The input channel -------------------------------------------------------------------


class WeChatInput(InputChannel):
    """WeChat Official Account webhook at ``/webhooks/wechat/webhook``."""

    @classmethod
    def name(cls) -> Text:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        optional = {
            key: credentials[key]
            for key in (
                "api_base_url",
                "reply_timeout",
                "max_timestamp_age",
                "max_body_bytes",
                "welcome_text",
                "non_text_reply",
                "error_reply",
            )
            if credentials.get(key) not in (None, "")
        }
        return cls(
            credentials.get("token"),
            credentials.get("app_id"),
            credentials.get("app_secret"),
            **optional,
        )

    def __init__(
        self,
        token: Optional[Text],
        app_id: Optional[Text] = None,
        app_secret: Optional[Text] = None,
        api_base_url: Text = DEFAULT_API_BASE_URL,
        reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
        max_timestamp_age: float = DEFAULT_MAX_TIMESTAMP_AGE,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        welcome_text: Text = DEFAULT_WELCOME_TEXT,
        non_text_reply: Text = DEFAULT_NON_TEXT_REPLY,
        error_reply: Text = DEFAULT_ERROR_REPLY,
    ) -> None:
        if not token:
            raise RasaException("The WeChat channel needs `token` (the console's 令牌/Token).")
        self.token = str(token)
        self.client = WeChatClient(app_id, app_secret, str(api_base_url))
        if not self.client.configured:
            logger.warning(
                "WeChat app_id/app_secret are not set: answers slower than %.1f s are lost.",
                float(reply_timeout),
            )
        self.reply_timeout = float(reply_timeout)
        self.max_timestamp_age = float(max_timestamp_age)
        self.max_body_bytes = int(max_body_bytes)
        self.welcome_text = welcome_text
        self.non_text_reply = non_text_reply
        self.error_reply = error_reply
        self.buttons = ButtonMemory()
        self._seen_nonces = RecentKeys(ttl=max(self.max_timestamp_age, 60.0) * 2)
        self._seen_messages = RecentKeys(ttl=300.0)
        self._background: Set["asyncio.Task[Any]"] = set()

    def get_output_channel(self) -> OutputChannel:
        return WeChatOutput(self.client, self.buttons)

    # -- checks

    def _check_signature(self, request: Request) -> Optional[HTTPResponse]:
        args = request.args
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
        if not wechat_signature_is_valid(self.token, args.get("signature"), timestamp, nonce):
            return forbidden("invalid signature")
        if not timestamp_is_fresh(timestamp, self.max_timestamp_age):
            return forbidden("stale timestamp")
        return None

    # -- replies

    @staticmethod
    def _success() -> HTTPResponse:
        """WeChat's "received, no reply" answer."""
        return response.text("success")

    @staticmethod
    def _xml(fields: Dict[Text, Text], content: Text) -> HTTPResponse:
        body = text_reply(fields["FromUserName"], fields["ToUserName"], content)
        return response.text(body, content_type="application/xml; charset=utf-8")

    def _answer(self, fields: Dict[Text, Text], messages: List[Dict[Text, Any]]) -> HTTPResponse:
        text, payloads = render_messages(messages)
        if not text:
            return self._success()
        self.buttons.remember(fields["FromUserName"], payloads)
        return self._xml(fields, text)

    # -- delayed answers

    def _deliver_later(
        self, task: "asyncio.Future[Any]", collector: CollectingOutputChannel, open_id: Text
    ) -> None:
        background = asyncio.ensure_future(self._deliver(task, collector, open_id))
        self._background.add(background)
        background.add_done_callback(self._background.discard)

    async def _deliver(
        self, task: "asyncio.Future[Any]", collector: CollectingOutputChannel, open_id: Text
    ) -> None:
        try:
            await task
            text, payloads = render_messages(collector.messages)
        except Exception:
            logger.exception("Rasa failed on a WeChat message")
            text, payloads = self.error_reply, []
        if not text:
            return
        self.buttons.remember(open_id, payloads)
        try:
            await self.client.send_text(open_id, text)
        except Exception as error:
            logger.error("Could not push a delayed WeChat answer: %s", error)

    async def _handle_text(
        self,
        request: Request,
        fields: Dict[Text, Text],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> HTTPResponse:
        open_id = fields["FromUserName"]
        text = self.buttons.resolve(open_id, fields.get("Content", ""))
        collector = CollectingOutputChannel()
        message = UserMessage(
            text,
            collector,
            sender_id=open_id,
            input_channel=self.name(),
            metadata=self.get_metadata(request),
        )
        task = asyncio.ensure_future(on_new_message(message))
        try:
            await asyncio.wait({task}, timeout=self.reply_timeout)
        except asyncio.CancelledError:  # WeChat hung up: still deliver the answer
            self._deliver_later(task, collector, open_id)
            raise
        if not task.done():
            self._deliver_later(task, collector, open_id)
            return self._success()
        if task.exception() is not None:
            logger.error("Rasa failed on a WeChat message", exc_info=task.exception())
            return self._xml(fields, self.error_reply)
        return self._answer(fields, collector.messages)

    # -- the blueprint

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        wechat_webhook = Blueprint("wechat_webhook", __name__)

        @wechat_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @wechat_webhook.route("/webhook", methods=["GET"])
        async def handshake(request: Request) -> HTTPResponse:
            refused = self._check_signature(request)
            if refused is not None:
                return refused
            echostr = request.args.get("echostr")
            if echostr is None:
                return response.text("missing echostr", status=400)
            return response.text(echostr, content_type="text/plain; charset=utf-8")

        @wechat_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refused = self._check_signature(request)
            if refused is not None:
                return refused
            body = request.body or b""
            if len(body) > self.max_body_bytes:
                return response.text("payload too large", status=413)
            if not self._seen_nonces.add(
                f"{request.args.get('timestamp')}:{request.args.get('nonce')}"
            ):
                return self._success()  # a replayed (timestamp, nonce): ignore it
            try:
                fields = parse_message(body)
            except WeChatXMLError as error:
                return response.text(str(error), status=400)
            if not all(fields.get(key) for key in ("ToUserName", "FromUserName", "MsgType")):
                if "Encrypt" in fields:
                    return response.text("encrypted (safe mode) messages not supported", 400)
                return response.text("not a WeChat message", status=400)

            msg_type = fields["MsgType"].lower()
            message_key = fields.get("MsgId") or ":".join(
                (fields["FromUserName"], fields.get("CreateTime", ""), fields.get("Event", ""))
            )
            if not self._seen_messages.add(message_key):
                return self._success()  # WeChat's retry of a message we already have

            if msg_type == "text":
                return await self._handle_text(request, fields, on_new_message)
            if msg_type == "event":
                if fields.get("Event", "").lower() == "subscribe":
                    return self._xml(fields, self.welcome_text)
                return self._success()
            # image, voice, video, shortvideo, location, link, file and any newer type
            return self._xml(fields, self.non_text_reply)

        return wechat_webhook
