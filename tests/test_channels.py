"""The authenticated messaging channels, over real HTTP.

Each test builds the channel's blueprint into a real Sanic app (through Rasa's own
``register``, with a fake agent whose ``handle_message`` records the UserMessage and answers
through the message's output channel), serves it on a free 127.0.0.1 port in the test's
event loop and sends real requests with aiohttp. Nothing talks to Telegram, Twilio or
WeChat: their APIs are replaced by recorders or by a local aiohttp server.

Signatures are computed here from the providers' specifications, independently of
``bot.channels.verify``.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Dict, List, Optional
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sanic import Sanic

from rasa.core.channels.channel import UserMessage, register

from bot.channels import ChannelConfigError, build_credentials, write_credentials
from bot.channels.telegram import VerifiedTelegramInput, VerifiedTelegramOutput
from bot.channels.twilio import VerifiedTwilioInput, VerifiedTwilioOutput
from bot.channels.verify import RecentKeys
from bot.channels.wechat import WeChatInput, cdata, parse_message, render_messages

# --- harness -----------------------------------------------------------------------------


class Bot:
    """The fake agent: records every UserMessage and answers through its output channel."""

    def __init__(
        self, reply: str = "Hello from the trial bot", delay: float = 0.0, buttons=None
    ) -> None:
        self.reply = reply
        self.delay = delay
        self.buttons = buttons
        self.messages: List[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.buttons:
            await message.output_channel.send_text_with_buttons(
                message.sender_id, self.reply, self.buttons
            )
        else:
            await message.output_channel.send_text_message(message.sender_id, self.reply)


@asynccontextmanager
async def serve(channel, bot: Bot):
    """Rasa's channel registration on a real Sanic server; yields its base URL.

    Sanic 21.12 rewrites its HTTP internals ("TouchUp") whenever an app starts, which fails
    on the second app in one process unless Sanic is in test mode (then it keeps and reuses
    the originals)."""
    test_mode, Sanic.test_mode = Sanic.test_mode, True
    try:
        async with _serve(channel, bot) as base:
            yield base
    finally:
        Sanic.test_mode = test_mode


@asynccontextmanager
async def _serve(channel, bot: Bot):
    app = Sanic(f"channels_{uuid.uuid4().hex[:12]}")
    app.ctx.agent = bot
    register([channel], app, route="/webhooks/")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    # create_server already listens; nothing is sent before the start-up events have run
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()


async def call(method: str, url: str, **kwargs) -> SimpleNamespace:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, **kwargs) as reply:
            return SimpleNamespace(
                status=reply.status,
                text=await reply.text(),
                content_type=reply.headers.get("Content-Type", ""),
            )


# --- Twilio ------------------------------------------------------------------------------

TWILIO_TOKEN = "twilio-auth-token-for-tests"
TWILIO_PATH = "/webhooks/twilio/webhook"


def twilio_signature(token: str, url: str, params: Dict[str, str]) -> str:
    """Twilio's spec: base64(HMAC-SHA1(token, url + sorted key+value pairs))."""
    signed = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sms(body: str = "Is the asthma study recruiting?", sender: str = "+15550001111") -> dict:
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": "ACtest",
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
    }


@pytest.fixture
def twilio_sent(monkeypatch) -> List[dict]:
    """Messages the Twilio output would send (the REST client is replaced)."""
    sent: List[dict] = []

    class Messages:
        def create(self, **data):
            sent.append(data)
            return SimpleNamespace(sid="SMreply")

    monkeypatch.setattr(VerifiedTwilioOutput, "messages", property(lambda self: Messages()))
    return sent


def twilio_channel(**kwargs) -> VerifiedTwilioInput:
    return VerifiedTwilioInput(
        "ACtest", TWILIO_TOKEN, "+15005550006", whatsapp_number="+14155238886", **kwargs
    )


@pytest.mark.asyncio
async def test_twilio_signed_request_reaches_the_bot(twilio_sent):
    bot = Bot()
    async with serve(twilio_channel(), bot) as base:
        params = sms()
        signature = twilio_signature(TWILIO_TOKEN, base + TWILIO_PATH, params)
        reply = await call(
            "POST", base + TWILIO_PATH, data=params, headers={"X-Twilio-Signature": signature}
        )
    assert reply.status == 204
    assert [(m.text, m.sender_id, m.input_channel) for m in bot.messages] == [
        ("Is the asthma study recruiting?", "+15550001111", "twilio")
    ]
    assert twilio_sent == [
        {"to": "+15550001111", "from_": "+15005550006", "body": "Hello from the trial bot"}
    ]


@pytest.mark.asyncio
async def test_twilio_whatsapp_is_answered_from_the_whatsapp_sender(twilio_sent):
    bot = Bot()
    async with serve(twilio_channel(), bot) as base:
        params = sms(body="hello", sender="whatsapp:+15550002222")
        params["ProfileName"] = ""  # a blank value is part of the signature too
        signature = twilio_signature(TWILIO_TOKEN, base + TWILIO_PATH, params)
        reply = await call(
            "POST", base + TWILIO_PATH, data=params, headers={"X-Twilio-Signature": signature}
        )
    assert reply.status == 204
    assert [m.sender_id for m in bot.messages] == ["whatsapp:+15550002222"]
    assert twilio_sent[0]["from_"] == "whatsapp:+14155238886"
    assert twilio_sent[0]["to"] == "whatsapp:+15550002222"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers, reason",
    [
        ({}, "missing X-Twilio-Signature"),
        ({"X-Twilio-Signature": "not-a-signature"}, "invalid X-Twilio-Signature"),
        ("wrong-token", "invalid X-Twilio-Signature"),
        ("tampered", "invalid X-Twilio-Signature"),
    ],
)
async def test_twilio_unsigned_or_wrongly_signed_is_refused(twilio_sent, headers, reason):
    bot = Bot()
    async with serve(twilio_channel(), bot) as base:
        params = sms()
        if headers == "wrong-token":
            headers = {"X-Twilio-Signature": twilio_signature("other", base + TWILIO_PATH, params)}
        elif headers == "tampered":
            headers = {"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, base + TWILIO_PATH, params)}
            params = {**params, "Body": "something else"}
        reply = await call("POST", base + TWILIO_PATH, data=params, headers=headers)
        health = await call("GET", base + "/webhooks/twilio/")
    assert (reply.status, reply.text) == (403, reason)
    assert bot.messages == [] and twilio_sent == []
    assert health.status == 200  # only the health check is left open


@pytest.mark.asyncio
async def test_twilio_checks_the_configured_public_url(twilio_sent):
    """Behind a proxy Twilio signs the public URL, not the one Sanic sees."""
    public = "https://trials.example.org/webhooks/twilio/webhook"
    bot = Bot()
    async with serve(twilio_channel(webhook_url=public), bot) as base:
        params = sms()
        local = await call(
            "POST",
            base + TWILIO_PATH,
            data=params,
            headers={"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, base + TWILIO_PATH, params)},
        )
        proxied = await call(
            "POST",
            base + TWILIO_PATH,
            data=params,
            headers={"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, public, params)},
        )
    assert (local.status, proxied.status) == (403, 204)
    assert len(bot.messages) == 1


def test_twilio_without_auth_token_refuses_to_start():
    from rasa.shared.exceptions import RasaException

    with pytest.raises(RasaException):
        VerifiedTwilioInput.from_credentials({"account_sid": "AC", "twilio_number": "+1"})


# --- Telegram ----------------------------------------------------------------------------

TELEGRAM_SECRET = "telegram_secret_for_tests_0123456789"
TELEGRAM_PATH = "/webhooks/telegram/webhook"


@pytest.fixture
def telegram_api(monkeypatch) -> SimpleNamespace:
    """Replaces every call to the Telegram Bot API with a recorder."""
    import aiogram
    from aiogram.types import User

    api = SimpleNamespace(requests=[], sent=[], get_me_calls=0)

    async def request(self, method, data=None, files=None, **kwargs):
        api.requests.append((method, dict(data or {})))
        return True

    async def get_me(self):
        api.get_me_calls += 1
        return User(id=123456, is_bot=True, first_name="Trials", username="trial_bot")

    async def send_message(self, chat_id, text, **kwargs):
        api.sent.append((chat_id, text))

    monkeypatch.setattr(aiogram.Bot, "request", request)
    monkeypatch.setattr(aiogram.Bot, "get_me", get_me)
    monkeypatch.setattr(VerifiedTelegramOutput, "send_message", send_message)
    return api


def telegram_channel(**kwargs) -> VerifiedTelegramInput:
    kwargs.setdefault("webhook_url", None)
    return VerifiedTelegramInput(
        "123456:ABC-test-token", "trial_bot", secret_token=TELEGRAM_SECRET, **kwargs
    )


def telegram_update(text: str = "hello", chat_id: int = 42) -> dict:
    return {
        "update_id": 1,
        "message": {
            "message_id": 7,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Pat"},
            "text": text,
        },
    }


@pytest.mark.asyncio
async def test_telegram_update_with_the_secret_reaches_the_bot(telegram_api):
    bot = Bot()
    async with serve(telegram_channel(), bot) as base:
        for text in ("hello", "which trials?"):
            reply = await call(
                "POST",
                base + TELEGRAM_PATH,
                json=telegram_update(text),
                headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
            )
            assert (reply.status, reply.text) == (200, "success")
    assert [(m.text, m.sender_id, m.input_channel) for m in bot.messages] == [
        ("hello", "42", "telegram"),
        ("which trials?", "42", "telegram"),
    ]
    assert telegram_api.sent == [("42", "Hello from the trial bot")] * 2
    assert telegram_api.get_me_calls == 1  # cached, not once per update
    assert telegram_api.requests == []  # no webhook_url: nothing registered


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers, reason",
    [
        ({}, "missing X-Telegram-Bot-Api-Secret-Token"),
        ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, "invalid X-Telegram-Bot-Api-Secret-Token"),
        (
            {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET[:-1] + "X"},
            "invalid X-Telegram-Bot-Api-Secret-Token",
        ),
    ],
)
async def test_telegram_update_without_the_secret_is_refused(telegram_api, headers, reason):
    bot = Bot()
    async with serve(telegram_channel(), bot) as base:
        reply = await call("POST", base + TELEGRAM_PATH, json=telegram_update(), headers=headers)
        set_webhook = await call("POST", base + "/webhooks/telegram/set_webhook", headers=headers)
    assert (reply.status, reply.text) == (403, reason)
    assert set_webhook.status == 403
    assert bot.messages == [] and telegram_api.sent == [] and telegram_api.requests == []
    assert telegram_api.get_me_calls == 0


@pytest.mark.asyncio
async def test_telegram_update_types_the_stock_handler_cannot_read_are_acknowledged(telegram_api):
    bot = Bot()
    blocked = {"update_id": 2, "my_chat_member": {"chat": {"id": 42, "type": "private"}}}
    async with serve(telegram_channel(), bot) as base:
        reply = await call(
            "POST",
            base + TELEGRAM_PATH,
            json=blocked,
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
    assert (reply.status, reply.text) == (200, "success")
    assert bot.messages == []


@pytest.mark.asyncio
async def test_telegram_webhook_is_registered_with_the_secret_after_start_not_before(
    telegram_api,
):
    url = "https://trials.example.org/webhooks/telegram/webhook"
    channel = telegram_channel(webhook_url=url)
    channel.blueprint(Bot().handle_message)  # building the blueprint calls nobody
    assert telegram_api.requests == []
    async with serve(channel, Bot()) as base:
        assert telegram_api.requests == [
            ("setWebhook", {"url": url, "secret_token": TELEGRAM_SECRET})
        ]
        reply = await call(
            "POST",
            base + "/webhooks/telegram/set_webhook",
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
    assert (reply.status, reply.text) == (200, "Webhook setup successful")
    assert telegram_api.requests[-1] == ("setWebhook", {"url": url, "secret_token": TELEGRAM_SECRET})


@pytest.mark.asyncio
async def test_telegram_start_survives_an_unreachable_api(monkeypatch):
    """Offline, the stock channel fails to start; ours logs and serves."""
    import aiogram
    from aiogram.utils.exceptions import NetworkError

    async def offline(self, *args, **kwargs):
        raise NetworkError("Cannot connect to host api.telegram.org")

    monkeypatch.setattr(aiogram.Bot, "request", offline)
    channel = telegram_channel(webhook_url="https://trials.example.org/webhooks/telegram/webhook")
    async with serve(channel, Bot()) as base:
        health = await call("GET", base + "/webhooks/telegram/")
    assert health.status == 200


@pytest.mark.parametrize("secret", [None, "", "short", "has spaces in it, 0123456789"])
def test_telegram_needs_a_proper_secret(secret):
    from rasa.shared.exceptions import RasaException

    with pytest.raises(RasaException):
        VerifiedTelegramInput("123456:ABC", "trial_bot", None, secret_token=secret)


# --- WeChat ------------------------------------------------------------------------------

WECHAT_TOKEN = "wechatTestToken2024"
WECHAT_PATH = "/webhooks/wechat/webhook"
ACCOUNT = "gh_trials_account"
USER = "oUserOpenId_123"


def wechat_query(token: str = WECHAT_TOKEN, timestamp: Optional[int] = None, **extra) -> str:
    """WeChat's spec: signature = sha1(sorted([token, timestamp, nonce]) joined)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = uuid.uuid4().hex[:10]
    signature = hashlib.sha1("".join(sorted([token, stamp, nonce])).encode()).hexdigest()
    return "?" + urlencode({"signature": signature, "timestamp": stamp, "nonce": nonce, **extra})


def wechat_xml(msg_type: str, **fields: str) -> bytes:
    fields = {"MsgType": msg_type, **fields}
    if msg_type != "event":
        fields.setdefault("MsgId", str(uuid.uuid4().int % 10**18))
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{USER}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>{inner}</xml>"
    ).encode()


def reply_fields(text: str) -> Dict[str, str]:
    root = ET.fromstring(text)
    assert root.tag == "xml"
    return {child.tag: child.text or "" for child in root}


def wechat_channel(**kwargs) -> WeChatInput:
    kwargs.setdefault("api_base_url", "http://127.0.0.1:9")  # never reached unless overridden
    return WeChatInput(WECHAT_TOKEN, "wx_app_id", "wx_app_secret", **kwargs)


async def post_wechat(base: str, body: bytes, query: Optional[str] = None) -> SimpleNamespace:
    return await call(
        "POST",
        base + WECHAT_PATH + (wechat_query() if query is None else query),
        data=body,
        headers={"Content-Type": "text/xml"},
    )


@pytest.mark.asyncio
async def test_wechat_handshake():
    async with serve(wechat_channel(), Bot()) as base:
        good = await call("GET", base + WECHAT_PATH + wechat_query(echostr="echo-4711"))
        bad = await call("GET", base + WECHAT_PATH + wechat_query("not-our-token", echostr="x"))
        unsigned = await call("GET", base + WECHAT_PATH + "?echostr=x")
        stale = await call(
            "GET", base + WECHAT_PATH + wechat_query(timestamp=int(time.time()) - 3600, echostr="x")
        )
    assert (good.status, good.text) == (200, "echo-4711")
    assert good.content_type.startswith("text/plain")
    assert (bad.status, bad.text) == (403, "invalid signature")
    assert unsigned.status == 403
    assert (stale.status, stale.text) == (403, "stale timestamp")


@pytest.mark.asyncio
async def test_wechat_text_message_gets_a_passive_xml_reply():
    bot = Bot(reply="Two studies are recruiting.")
    async with serve(wechat_channel(), bot) as base:
        reply = await post_wechat(base, wechat_xml("text", Content="Which trials are open?"))
    assert reply.status == 200
    fields = reply_fields(reply.text)
    assert fields["ToUserName"] == USER and fields["FromUserName"] == ACCOUNT
    assert fields["MsgType"] == "text"
    assert fields["Content"] == "Two studies are recruiting."
    assert abs(int(fields["CreateTime"]) - time.time()) < 60
    assert [(m.text, m.sender_id, m.input_channel) for m in bot.messages] == [
        ("Which trials are open?", USER, "wechat")
    ]


@pytest.mark.asyncio
async def test_wechat_bad_signature_is_refused():
    bot = Bot()
    async with serve(wechat_channel(), bot) as base:
        wrong = await post_wechat(base, wechat_xml("text", Content="hi"), wechat_query("other"))
        missing = await post_wechat(base, wechat_xml("text", Content="hi"), "")
    assert (wrong.status, wrong.text) == (403, "invalid signature")
    assert missing.status == 403
    assert bot.messages == []


@pytest.mark.asyncio
async def test_wechat_non_text_messages_and_events():
    bot = Bot()
    async with serve(wechat_channel(welcome_text="Welcome to the trial assistant"), bot) as base:
        image = await post_wechat(base, wechat_xml("image", PicUrl="http://x/y.jpg", MediaId="m"))
        voice = await post_wechat(base, wechat_xml("voice", MediaId="m", Format="amr"))
        location = await post_wechat(base, wechat_xml("location", Label="Shanghai"))
        subscribe = await post_wechat(base, wechat_xml("event", Event="subscribe"))
        unsubscribe = await post_wechat(base, wechat_xml("event", Event="unsubscribe"))
    for reply in (image, voice, location):
        fields = reply_fields(reply.text)
        assert fields["ToUserName"] == USER and fields["MsgType"] == "text"
        assert "only read text" in fields["Content"]
    assert reply_fields(subscribe.text)["Content"] == "Welcome to the trial assistant"
    assert (unsubscribe.status, unsubscribe.text) == (200, "success")
    assert bot.messages == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body, status",
    [
        (b"<xml><ToUserName>broken", 400),
        (b"", 400),
        (b"not xml at all", 400),
        (b"<html><body>hi</body></html>", 400),
        (b"<xml><Content>no user names</Content></xml>", 400),
        (
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">]>'
            b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
            b"<MsgType>text</MsgType><Content>&a;</Content></xml>",
            400,
        ),
        (b"<xml><Content><![CDATA[" + b"x" * 70_000 + b"]]></Content></xml>", 413),
    ],
    ids=["truncated", "empty", "text", "wrong-root", "incomplete", "entities", "oversized"],
)
async def test_wechat_malformed_or_oversized_body(body, status):
    bot = Bot()
    async with serve(wechat_channel(), bot) as base:
        reply = await post_wechat(base, body)
    assert reply.status == status
    assert bot.messages == []


@pytest.mark.asyncio
async def test_wechat_reply_text_is_escaped_and_buttons_are_numbered():
    nasty = 'Results: <b>A & B</b> ]]> "done"\x01'
    bot = Bot(reply=nasty, buttons=[{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}])
    async with serve(wechat_channel(), bot) as base:
        first = await post_wechat(base, wechat_xml("text", Content="am I eligible?"))
        second = await post_wechat(base, wechat_xml("text", Content="2"))
    assert reply_fields(first.text)["Content"] == 'Results: <b>A & B</b> ]]> "done"\n1. Yes\n2. No'
    assert second.status == 200
    assert [m.text for m in bot.messages] == ["am I eligible?", "/deny"]


@pytest.mark.asyncio
async def test_wechat_retries_and_replays_are_not_processed_twice():
    bot = Bot()
    body = wechat_xml("text", Content="hello")
    query = wechat_query()
    async with serve(wechat_channel(), bot) as base:
        first = await post_wechat(base, body, query)
        replay = await post_wechat(base, body, query)
        retry = await post_wechat(base, body)  # WeChat retry: same MsgId, new signature
    assert reply_fields(first.text)["Content"] == "Hello from the trial bot"
    assert (replay.text, retry.text) == ("success", "success")
    assert len(bot.messages) == 1


@pytest.mark.asyncio
async def test_wechat_bot_failure_gets_an_apology_not_a_500():
    class Broken(Bot):
        async def handle_message(self, message):
            self.messages.append(message)
            raise RuntimeError("tracker store down")

    bot = Broken()
    async with serve(wechat_channel(error_reply="Sorry, try again later."), bot) as base:
        reply = await post_wechat(base, wechat_xml("text", Content="hello"))
    assert reply.status == 200
    assert reply_fields(reply.text)["Content"] == "Sorry, try again later."
    assert len(bot.messages) == 1


@asynccontextmanager
async def fake_wechat_api(expire_first_token: bool = False):
    """The WeChat API on 127.0.0.1: /cgi-bin/token and /cgi-bin/message/custom/send."""
    api = SimpleNamespace(token_calls=[], sent=[], delivered=asyncio.Event(), base="")
    tokens = iter(["ACCESS_TOKEN_1", "ACCESS_TOKEN_2", "ACCESS_TOKEN_3"])

    async def token(request: web.Request) -> web.Response:
        api.token_calls.append(dict(request.query))
        return web.json_response({"access_token": next(tokens), "expires_in": 7200})

    async def send(request: web.Request) -> web.Response:
        payload = await request.json()
        access_token = request.query.get("access_token")
        api.sent.append((access_token, payload))
        if expire_first_token and access_token == "ACCESS_TOKEN_1":
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        api.delivered.set()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    app = web.Application()
    app.router.add_get("/cgi-bin/token", token)
    app.router.add_post("/cgi-bin/message/custom/send", send)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    api.base = str(server.make_url("")).rstrip("/")
    try:
        yield api
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_wechat_slow_answer_is_pushed_through_the_customer_service_api():
    bot = Bot(reply="Your pre-screening result is ready.", delay=0.8)
    async with fake_wechat_api() as api:
        channel = wechat_channel(api_base_url=api.base, reply_timeout=0.2)
        async with serve(channel, bot) as base:
            started = time.monotonic()
            reply = await post_wechat(base, wechat_xml("text", Content="my result?"))
            elapsed = time.monotonic() - started
            assert (reply.status, reply.text) == (200, "success")
            assert elapsed < 0.7  # answered within the window, long before the bot finished
            assert api.sent == []
            await asyncio.wait_for(api.delivered.wait(), timeout=10)

            # a second slow answer reuses the cached access token
            api.delivered.clear()
            await post_wechat(base, wechat_xml("text", Content="and the next step?"))
            await asyncio.wait_for(api.delivered.wait(), timeout=10)

    assert api.token_calls == [
        {"grant_type": "client_credential", "appid": "wx_app_id", "secret": "wx_app_secret"}
    ]
    expected = {"touser": USER, "msgtype": "text", "text": {"content": "Your pre-screening result is ready."}}
    assert api.sent == [("ACCESS_TOKEN_1", expected), ("ACCESS_TOKEN_1", expected)]
    assert [m.text for m in bot.messages] == ["my result?", "and the next step?"]


@pytest.mark.asyncio
async def test_wechat_expired_access_token_is_renewed_once():
    bot = Bot(reply="Later answer", delay=0.5)
    async with fake_wechat_api(expire_first_token=True) as api:
        channel = wechat_channel(api_base_url=api.base, reply_timeout=0.1)
        async with serve(channel, bot) as base:
            reply = await post_wechat(base, wechat_xml("text", Content="hi"))
            assert reply.text == "success"
            await asyncio.wait_for(api.delivered.wait(), timeout=10)
    assert [token for token, _ in api.sent] == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"]
    assert len(api.token_calls) == 2


def test_wechat_xml_helpers():
    assert parse_message(
        b"<xml><A><![CDATA[x]]]]><![CDATA[>y]]></A><B>1</B><C><D>nested</D></C></xml>"
    ) == {"A": "x]]>y", "B": "1", "C": ""}
    for text in ["plain", "a]]>b", "]]>]]>", "<&>\"'", "中文 ]]]]>"]:
        wrapped = ET.fromstring(f"<xml>{cdata(text)}</xml>").text
        assert wrapped == text
    text, payloads = render_messages(
        [{"text": "Pick one", "buttons": [{"title": "Yes", "payload": "/affirm"}]}, {"image": "http://i"}]
    )
    assert (text, payloads) == ("Pick one\n1. Yes\n\nhttp://i", ["/affirm"])


def test_recent_keys_forget_old_entries():
    keys = RecentKeys(ttl=10, size=2)
    assert keys.add("a", now=0) and not keys.add("a", now=5)
    assert keys.add("a", now=20)  # expired, so new again
    assert keys.add("b", now=21) and keys.add("c", now=22)
    assert len(keys) == 2 and "a" not in keys


# --- credentials -------------------------------------------------------------------------

TELEGRAM_ENV = {
    "TELEGRAM_TOKEN": "123456:ABC-test-token",
    "TELEGRAM_BOT_USERNAME": "trial_bot",
    "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
}


def test_credentials_without_channel_variables_are_rest_and_socketio_only():
    assert list(build_credentials({})) == [
        "bot.channels.rest.CheckedRestInput", "bot.channels.socketio.CheckedSocketIOInput"]


def test_credentials_include_configured_channels_as_placeholders(tmp_path):
    env = {
        **TELEGRAM_ENV,
        "TWILIO_ACCOUNT_SID": "ACtest",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_NUMBER": "whatsapp:+14155238886",
    }
    path = write_credentials(tmp_path / "credentials.yml", env)
    text = path.read_text()
    assert TELEGRAM_SECRET not in text and TWILIO_TOKEN not in text  # no secret on disk
    credentials = build_credentials(env)
    assert list(credentials) == [
        "bot.channels.rest.CheckedRestInput",
        "bot.channels.socketio.CheckedSocketIOInput",
        "bot.channels.telegram.VerifiedTelegramInput",
        "bot.channels.twilio.VerifiedTwilioInput",
    ]
    assert credentials["bot.channels.telegram.VerifiedTelegramInput"] == {
        "access_token": "${TELEGRAM_TOKEN}",
        "verify": "${TELEGRAM_BOT_USERNAME}",
        "secret_token": "${TELEGRAM_SECRET_TOKEN}",
    }
    assert "twilio_number" not in credentials["bot.channels.twilio.VerifiedTwilioInput"]


def test_generated_credentials_start_the_channels_without_network(tmp_path, monkeypatch):
    """Rasa expands the placeholders and builds every channel; nothing calls a provider."""
    import aiogram
    from rasa.shared.utils.io import read_config_file

    async def no_network(*args, **kwargs):
        raise AssertionError("no Telegram call while starting")

    monkeypatch.setattr(aiogram.Bot, "request", no_network)
    env = {
        **TELEGRAM_ENV,
        "TELEGRAM_WEBHOOK_URL": "https://trials.example.org/webhooks/telegram/webhook",
        "TWILIO_ACCOUNT_SID": "ACtest",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_NUMBER": "+15005550006",
        "WECHAT_TOKEN": WECHAT_TOKEN,
        "WECHAT_APP_ID": "wx_app_id",
        "WECHAT_APP_SECRET": "wx_app_secret",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = write_credentials(tmp_path / "credentials.yml", env)
    expanded = read_config_file(str(path))
    assert expanded["bot.channels.telegram.VerifiedTelegramInput"]["secret_token"] == TELEGRAM_SECRET

    from rasa.shared.utils.common import class_from_module_path

    app = Sanic(f"channels_{uuid.uuid4().hex[:12]}")
    channels = []
    for key, section in expanded.items():
        if key.startswith("bot.channels."):
            channels.append(class_from_module_path(key).from_credentials(section))
    register(channels, app, route="/webhooks/")
    assert sorted(channel.name() for channel in channels) == [
        "rest", "socketio", "telegram", "twilio", "wechat"]
    paths = {route.path for route in app.router.routes}
    assert {"webhooks/telegram/webhook", "webhooks/twilio/webhook", "webhooks/wechat/webhook"} <= paths


@pytest.mark.parametrize(
    "env, missing",
    [
        ({"TELEGRAM_TOKEN": "123456:ABC"}, "TELEGRAM_SECRET_TOKEN"),
        ({"TWILIO_ACCOUNT_SID": "AC", "TWILIO_AUTH_TOKEN": "t"}, "TWILIO_NUMBER"),
        ({"SLACK_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"FACEBOOK_APP_SECRET": "s"}, "FACEBOOK_PAGE_ACCESS_TOKEN"),
        ({"WECHAT_TOKEN": "t"}, "WECHAT_APP_SECRET"),
    ],
)
def test_partly_configured_channel_is_an_error(env, missing):
    with pytest.raises(ChannelConfigError, match=missing):
        build_credentials(env)


def test_stock_and_verified_twilio_cannot_both_be_configured():
    from rasa.core.channels.twilio import TwilioInput

    app = Sanic(f"channels_{uuid.uuid4().hex[:12]}")
    with pytest.raises(Exception, match="twilio_webhook"):
        register([TwilioInput("AC", "t", "+1"), twilio_channel()], app, route="/webhooks/")
