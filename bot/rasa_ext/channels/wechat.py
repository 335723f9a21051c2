"""WeChat Official Account (公众号) connector: safe (AES), compatible or plaintext mode.

Webhook: ``https://<host>/webhooks/wechat/webhook`` (the "服务器地址(URL)" in the WeChat
console; "令牌(Token)" is our ``token``, "消息加解密密钥(EncodingAESKey)" our
``encoding_aes_key``).

* ``GET``: the server-verification handshake (the same in every mode). ``signature`` must
  equal the SHA1 hex of the sorted concatenation of token, ``timestamp`` and ``nonce``; then
  ``echostr`` is returned as text/plain, otherwise ``403``.
* ``POST``, safe mode (安全模式, recommended; on when ``encoding_aes_key`` is set): the body is
  ``<xml><ToUserName/><Encrypt/></xml>``. ``msg_signature`` (SHA1 of sorted token, timestamp,
  nonce and ``Encrypt``, so it covers the message) must match and the timestamp be fresh,
  the ``Encrypt`` must decrypt (AES-256-CBC, :mod:`bot.rasa_ext.channels.wechat_crypto`) to
  a message for our ``app_id``, otherwise ``403``. Compatible mode (兼容模式: plaintext fields
  and ``Encrypt``) is handled the same way, from the encrypted part only. Plaintext POSTs
  (no ``Encrypt``) are refused with ``403``. Passive replies are encrypted
  (``<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>``).
* ``POST``, plaintext mode (明文模式, only without ``encoding_aes_key``): the URL
  ``signature`` as in the handshake (``403`` when wrong or when the timestamp is older than
  ``max_timestamp_age``); it does not cover the body.

In every mode: a body of at most ``max_body_bytes`` (``413``; DTDs/entities and malformed XML
``400``). Text messages go to Rasa with ``metadata={"language": "zh"}`` (WeChat users write
Chinese); the answer is a passive XML reply if Rasa answers within ``reply_timeout`` (WeChat
waits 5 s), otherwise we answer ``success`` at once and push the answer later through the
customer-service message API (``/cgi-bin/message/custom/send``, access token from
``/cgi-bin/token``, cached until it expires). Other message types get a polite "text only"
reply, ``subscribe`` events a welcome text (in Chinese unless the credentials say otherwise),
other events ``success``.

Replays: a used (timestamp, nonce) pair is recorded until its timestamp could no longer pass
the freshness check, and a MsgId (WeChat's retries) likewise, in a store all replicas share
(:mod:`bot.rasa_ext.channels.replay`: Redis when ``REDIS_URL`` is set, else the trial
database's ``channel_replay`` table). A replay gets ``success`` and never reaches Rasa, on
any replica and after a restart; when the store cannot be reached the request gets ``503``.

Replies are plain text; buttons are rendered as numbered lines ("1. Yes") and a reply of just
that number is sent to Rasa as the button's payload.

credentials.yml::

    bot.rasa_ext.channels.wechat.WeChatInput:
      token: ${WECHAT_TOKEN}
      app_id: ${WECHAT_APP_ID}
      app_secret: ${WECHAT_APP_SECRET}
      encoding_aes_key: ${WECHAT_ENCODING_AES_KEY}
      # optional: api_base_url, reply_timeout, max_timestamp_age, max_body_bytes,
      #           welcome_text, non_text_reply, error_reply
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Text

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.rasa_ext.channels.replay import ReplayStore, replay_store_from_settings
from bot.rasa_ext.channels.verify import (
    forbidden,
    timestamp_is_fresh,
    wechat_signature_is_valid,
)
from bot.rasa_ext.channels.wechat_api import DEFAULT_API_BASE_URL, WeChatClient, WeChatOutput
from bot.rasa_ext.channels.wechat_crypto import WeChatCrypto, WeChatCryptoError
from bot.rasa_ext.channels.wechat_messages import (
    ButtonMemory,
    WeChatXMLError,
    parse_message,
    render_messages,
    text_reply,
)

logger = logging.getLogger(__name__)

DEFAULT_REPLY_TIMEOUT = 4.5  # WeChat gives up (and retries) after 5 seconds
DEFAULT_MAX_TIMESTAMP_AGE = 300.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_WELCOME_TEXT = (
    "您好，欢迎关注！我是临床试验咨询助手，可以为您介绍我们正在开展的研究。"
    "请直接用文字提问，例如：“目前有哪些试验正在招募？”"
)
DEFAULT_NON_TEXT_REPLY = "抱歉，我目前只能阅读文字消息，请您用文字输入您的问题。"
DEFAULT_ERROR_REPLY = "抱歉，系统暂时出了点问题，请您稍后再试。"
# WeChat users write Chinese: every message to Rasa carries this language hint.
LANGUAGE_METADATA: Dict[Text, Any] = {"language": "zh"}

# Replay records outlive the freshness window by this much (clocks of replicas differ).
CLOCK_SKEW = 60.0
# How long a record lives when the freshness check is off (max_timestamp_age <= 0).
NO_FRESHNESS_TTL = 24 * 3600.0
# WeChat retries a message three times within about 15 seconds, each with a new signature.
RETRY_WINDOW = 60.0


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
        credentials = credentials or {}  # (the call above raises when it is empty)
        optional = {
            key: credentials[key]
            for key in (
                "encoding_aes_key",
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
        encoding_aes_key: Optional[Text] = None,
        api_base_url: Text = DEFAULT_API_BASE_URL,
        reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
        max_timestamp_age: float = DEFAULT_MAX_TIMESTAMP_AGE,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        welcome_text: Text = DEFAULT_WELCOME_TEXT,
        non_text_reply: Text = DEFAULT_NON_TEXT_REPLY,
        error_reply: Text = DEFAULT_ERROR_REPLY,
        replay_store: Optional[ReplayStore] = None,
    ) -> None:
        if not token:
            raise RasaException("The WeChat channel needs `token` (the console's 令牌/Token).")
        self.token = str(token)
        self.crypto: Optional[WeChatCrypto] = None
        if encoding_aes_key:
            if not app_id:
                raise RasaException("WeChat safe mode (encoding_aes_key) needs `app_id`.")
            try:
                self.crypto = WeChatCrypto(self.token, str(encoding_aes_key), str(app_id))
            except ValueError as error:
                raise RasaException(f"WeChat encoding_aes_key: {error}")
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
        # replay keys are per account, in case several share one store
        self._replay_prefix = f"wechat:{app_id or '-'}:"
        self._replay_store = replay_store
        self._owns_replay_store = replay_store is None  # closed when the server stops
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

    def replay_store(self) -> ReplayStore:
        """The shared replay store (from the settings, on first use, unless one was given)."""
        if self._replay_store is None:
            self._replay_store = replay_store_from_settings()
        return self._replay_store

    def _nonce_ttl(self, timestamp: Optional[Text]) -> float:
        """Seconds until a request with this (fresh) timestamp fails the freshness check."""
        if self.max_timestamp_age <= 0:
            return NO_FRESHNESS_TTL
        return float(timestamp or 0) + self.max_timestamp_age + CLOCK_SKEW - time.time()

    def _message_ttl(self) -> float:
        window = self.max_timestamp_age if self.max_timestamp_age > 0 else NO_FRESHNESS_TTL
        return window + RETRY_WINDOW + CLOCK_SKEW

    async def _first_time(self, key: Text, ttl: float) -> Optional[bool]:
        """True for a new key, False for a replay, None when the store cannot be reached."""
        try:
            return await self.replay_store().claim(self._replay_prefix + key, ttl)
        except Exception:
            logger.exception("WeChat replay store unavailable: refusing the request")
            return None

    @staticmethod
    def _unavailable() -> HTTPResponse:
        return response.text("replay guard unavailable", status=503)

    # -- replies

    @staticmethod
    def _success() -> HTTPResponse:
        """WeChat's "received, no reply" answer (plain in every mode)."""
        return response.text("success")

    def _xml(self, fields: Dict[Text, Text], content: Text, encrypted: bool) -> HTTPResponse:
        body = text_reply(fields["FromUserName"], fields["ToUserName"], content)
        if encrypted and self.crypto is not None:
            body = self.crypto.reply(body)
        return response.text(body, content_type="application/xml; charset=utf-8")

    def _answer(
        self, fields: Dict[Text, Text], messages: List[Dict[Text, Any]], encrypted: bool
    ) -> HTTPResponse:
        text, payloads = render_messages(messages)
        if not text:
            return self._success()
        self.buttons.remember(fields["FromUserName"], payloads)
        return self._xml(fields, text, encrypted)

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
        encrypted: bool,
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
            metadata={**(self.get_metadata(request) or {}), **LANGUAGE_METADATA},
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
            return self._xml(fields, self.error_reply, encrypted)
        return self._answer(fields, collector.messages, encrypted)

    # -- receiving

    async def _receive(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        args = request.args
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
        if self.crypto is None:
            refused = self._check_signature(request)
            if refused is not None:
                return refused
        elif not args.get("msg_signature"):
            return forbidden("encrypted messages only: msg_signature missing")
        elif not timestamp_is_fresh(timestamp, self.max_timestamp_age):
            return forbidden("stale timestamp")
        body = request.body or b""
        if len(body) > self.max_body_bytes:
            return response.text("payload too large", status=413)
        try:
            fields = parse_message(body)
        except WeChatXMLError as error:
            return response.text(str(error), status=400)

        encrypt = fields.get("Encrypt")
        if self.crypto is not None:
            if not encrypt:
                return forbidden("encrypted messages only: Encrypt missing")
            if not self.crypto.signature_is_valid(
                args.get("msg_signature"), timestamp, nonce, encrypt
            ):
                return forbidden("invalid signature")

        first = await self._first_time(f"ts:{timestamp}:{nonce}", self._nonce_ttl(timestamp))
        if first is None:
            return self._unavailable()
        if not first:
            return self._success()  # a replayed (timestamp, nonce): ignore it

        encrypted = self.crypto is not None
        if self.crypto is not None and encrypt:
            try:
                fields = parse_message(self.crypto.decrypt(encrypt))
            except WeChatCryptoError as error:
                logger.warning("WeChat message refused: %s", error)
                return forbidden("cannot decrypt")
            except WeChatXMLError as error:
                return response.text(str(error), status=400)
        if not all(fields.get(key) for key in ("ToUserName", "FromUserName", "MsgType")):
            if "Encrypt" in fields:
                return response.text(
                    "encrypted (safe mode) message, but encoding_aes_key is not set", 400
                )
            return response.text("not a WeChat message", status=400)

        msg_type = fields["MsgType"].lower()
        message_key = fields.get("MsgId") or ":".join(
            (fields["FromUserName"], fields.get("CreateTime", ""), fields.get("Event", ""))
        )
        first = await self._first_time(f"msg:{message_key}", self._message_ttl())
        if first is None:
            return self._unavailable()
        if not first:
            return self._success()  # WeChat's retry of a message we already have

        if msg_type == "text":
            return await self._handle_text(request, fields, encrypted, on_new_message)
        if msg_type == "event":
            if fields.get("Event", "").lower() == "subscribe":
                return self._xml(fields, self.welcome_text, encrypted)
            return self._success()
        # image, voice, video, shortvideo, location, link, file and any newer type
        return self._xml(fields, self.non_text_reply, encrypted)

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
            return await self._receive(request, on_new_message)

        @wechat_webhook.listener("after_server_stop")
        async def close_replay_store(*_: Any) -> None:
            if self._owns_replay_store and self._replay_store is not None:
                store, self._replay_store = self._replay_store, None
                await store.close()

        return wechat_webhook
