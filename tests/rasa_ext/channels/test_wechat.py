"""WeChat Official Account: signatures, passive and pushed replies, XML.

Every test gets a migrated SQLite trial database of its own (the replay guard's
``channel_replay`` table is in it); the replica tests run on SQLite, PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import struct
import time
import uuid
import xml.etree.ElementTree as ET
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from rasa.shared.exceptions import RasaException
from sqlalchemy import select

from bot.config import Settings, get_settings, use_settings
from bot.db import database, dispose_all
from bot.rasa_ext.channels.models import ChannelReplay
from bot.rasa_ext.channels.replay import DatabaseReplayStore, RedisReplayStore
from bot.rasa_ext.channels.verify import RecentKeys, wechat_signature_is_valid
from bot.rasa_ext.channels.wechat import DEFAULT_WELCOME_TEXT, WeChatInput
from bot.rasa_ext.channels.wechat_crypto import WeChatCrypto, WeChatCryptoError
from bot.rasa_ext.channels.wechat_messages import cdata, parse_message, render_messages
from tests.support.channels import (
    WECHAT_TOKEN,
    Bot,
    call,
    serve,
)


@pytest.fixture(autouse=True)
def trial_database(request, tmp_path, templates):
    """The settings point at a migrated SQLite trial database of the test's own (and at no
    Redis); tests asking for `database_url` get that fixture's database instead."""
    if "database_url" in request.fixturenames:
        yield None
        return
    url = templates.copy("sqlite", tmp_path)
    use_settings(Settings(database_url=url, var_dir=tmp_path, redis_url=""))
    yield url
    use_settings(None)
    dispose_all()


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
    assert [(m.text, m.sender_id, m.input_channel, m.metadata) for m in bot.messages] == [
        ("Which trials are open?", USER, "wechat", {"language": "zh"})
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
        assert fields["Content"] == "抱歉，我目前只能阅读文字消息，请您用文字输入您的问题。"
    assert reply_fields(subscribe.text)["Content"] == "Welcome to the trial assistant"
    assert (unsubscribe.status, unsubscribe.text) == (200, "success")
    assert bot.messages == []


@pytest.mark.asyncio
async def test_wechat_own_texts_are_chinese_by_default_and_overridable():
    class Broken(Bot):
        async def handle_message(self, message):
            raise RuntimeError("tracker store down")

    credentials = {"token": WECHAT_TOKEN, "app_id": "wx_app_id", "app_secret": "s"}
    default = WeChatInput.from_credentials(credentials)
    async with serve(default, Broken()) as base:
        welcome = await post_wechat(base, wechat_xml("event", Event="subscribe"))
        image = await post_wechat(base, wechat_xml("image", PicUrl="http://x/y.jpg"))
        error = await post_wechat(base, wechat_xml("text", Content="你好"))
    texts = [reply_fields(r.text)["Content"] for r in (welcome, image, error)]
    assert texts == [
        "您好，欢迎关注！我是临床试验咨询助手，可以为您介绍我们正在开展的研究。"
        "请直接用文字提问，例如：“目前有哪些试验正在招募？”",
        "抱歉，我目前只能阅读文字消息，请您用文字输入您的问题。",
        "抱歉，系统暂时出了点问题，请您稍后再试。",
    ]
    assert all("您" in text for text in texts)

    overridden = WeChatInput.from_credentials(
        {
            **credentials,
            "welcome_text": "Welcome",
            "non_text_reply": "Text only",
            "error_reply": "Oops",
        }
    )
    assert (overridden.welcome_text, overridden.non_text_reply, overridden.error_reply) == (
        "Welcome",
        "Text only",
        "Oops",
    )


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
    bot = Bot(
        reply=nasty,
        buttons=[{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
    )
    async with serve(wechat_channel(), bot) as base:
        first = await post_wechat(base, wechat_xml("text", Content="am I eligible?"))
        second = await post_wechat(base, wechat_xml("text", Content="2"))
    assert reply_fields(first.text)["Content"] == 'Results: <b>A & B</b> ]]> "done"\n1. Yes\n2. No'
    assert second.status == 200
    assert [m.text for m in bot.messages] == ["am I eligible?", "/deny"]
    assert [m.metadata for m in bot.messages] == [{"language": "zh"}] * 2


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
    expected = {
        "touser": USER,
        "msgtype": "text",
        "text": {"content": "Your pre-screening result is ready."},
    }
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
        [
            {"text": "Pick one", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
            {"image": "http://i"},
        ]
    )
    assert (text, payloads) == ("Pick one\n1. Yes\n\nhttp://i", ["/affirm"])


def test_recent_keys_forget_old_entries():
    keys = RecentKeys(ttl=10, size=2)
    assert keys.add("a", now=0) and not keys.add("a", now=5)
    assert keys.add("a", now=20)  # expired, so new again
    assert keys.add("b", now=21) and keys.add("c", now=22)
    assert len(keys) == 2 and "a" not in keys


# --- AES safe mode ------------------------------------------------------------------------
#
# The helpers below follow Tencent's WXBizMsgCrypt description, independently of
# bot.rasa_ext.channels.wechat_crypto: key = b64decode(EncodingAESKey + "="), IV = key[:16],
# AES-256-CBC over 16 random bytes + 4-byte big-endian length + XML + appid, padded to 32.

REFERENCE = Path(__file__).parent / "wechat_reference"
OFFICIAL = next(
    vector
    for vector in json.loads((REFERENCE / "signature_vectors.json").read_text())["vectors"]
    if vector["id"] == "tencent_official_sample"
)
SAFE_KEY = base64.b64encode(bytes(range(1, 33))).decode()[:-1]  # 43 characters
SAFE_APP_ID = "wx_safe_app_id_01"


def spec_msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def spec_encrypt(xml: bytes, encoding_aes_key: str, app_id: str, prefix: bytes = b"") -> str:
    key = base64.b64decode(encoding_aes_key + "=")
    plain = (prefix or os.urandom(16)) + struct.pack(">I", len(xml)) + xml + app_id.encode()
    pad = 32 - len(plain) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(
        encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
    ).decode()


def spec_decrypt(encrypt: str, encoding_aes_key: str) -> Tuple[bytes, str]:
    key = base64.b64decode(encoding_aes_key + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length], plain[20 + length :].decode()


def safe_query(token: str, timestamp: str, nonce: str, encrypt: str, **extra: str) -> str:
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return "?" + urlencode(
        {
            "signature": signature,
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": USER,
            "encrypt_type": "aes",
            "msg_signature": spec_msg_signature(token, timestamp, nonce, encrypt),
            **extra,
        }
    )


def safe_body(encrypt: str, to_user: str = ACCOUNT) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{to_user}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    ).encode()


def safe_channel(**kwargs) -> WeChatInput:
    kwargs.setdefault("api_base_url", "http://127.0.0.1:9")
    return WeChatInput(WECHAT_TOKEN, SAFE_APP_ID, "wx_app_secret", SAFE_KEY, **kwargs)


async def post_safe(base: str, xml: bytes, app_id: str = SAFE_APP_ID) -> SimpleNamespace:
    encrypt = spec_encrypt(xml, SAFE_KEY, app_id)
    query = safe_query(WECHAT_TOKEN, str(int(time.time())), uuid.uuid4().hex[:10], encrypt)
    return await post_wechat(base, safe_body(encrypt), query)


def open_reply(
    text: str, token: str = WECHAT_TOKEN, key: str = SAFE_KEY, app_id: str = SAFE_APP_ID
) -> Dict[str, str]:
    """The fields of an encrypted passive reply, after checking its signature and appid."""
    outer = reply_fields(text)
    assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert outer["MsgSignature"] == spec_msg_signature(
        token, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"]
    )
    assert abs(int(outer["TimeStamp"]) - time.time()) < 60
    inner, inner_app_id = spec_decrypt(outer["Encrypt"], key)
    assert inner_app_id == app_id
    return reply_fields(inner.decode("utf-8"))


def official_channel(**kwargs) -> WeChatInput:
    """Tencent's sample account; its timestamp is from 2014, so the freshness check is off."""
    kwargs.setdefault("app_id", OFFICIAL["appid"])
    return WeChatInput(
        OFFICIAL["token"],
        app_secret="secret",
        encoding_aes_key=OFFICIAL["encoding_aes_key"],
        max_timestamp_age=0,
        api_base_url="http://127.0.0.1:9",
        **kwargs,
    )


def official_query(**changes: str) -> str:
    params = {
        "signature": OFFICIAL["signature"],
        "timestamp": OFFICIAL["timestamp"],
        "nonce": OFFICIAL["nonce"],
        "openid": "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
        "encrypt_type": "aes",
        "msg_signature": OFFICIAL["msg_signature"],
        **changes,
    }
    return "?" + urlencode({k: v for k, v in params.items() if v is not None})


def test_wechat_crypto_against_tencents_official_sample():
    plaintext = (REFERENCE / "official_sample_decrypted_plaintext.xml").read_bytes()
    token, encrypt = OFFICIAL["token"], OFFICIAL["encrypt"]
    timestamp, nonce = OFFICIAL["timestamp"], OFFICIAL["nonce"]
    crypto = WeChatCrypto(token, OFFICIAL["encoding_aes_key"], OFFICIAL["appid"])

    assert crypto.decrypt(encrypt) == plaintext
    assert crypto.signature(timestamp, nonce, encrypt) == OFFICIAL["msg_signature"]
    assert crypto.signature_is_valid(OFFICIAL["msg_signature"], timestamp, nonce, encrypt)
    assert wechat_signature_is_valid(token, OFFICIAL["signature"], timestamp, nonce)
    tampered = encrypt[:100] + ("A" if encrypt[100] != "A" else "B") + encrypt[101:]
    assert not crypto.signature_is_valid(OFFICIAL["msg_signature"], timestamp, nonce, tampered)
    wrong = OFFICIAL["msg_signature"][:-1] + ("0" if OFFICIAL["msg_signature"][-1] != "0" else "1")
    assert not crypto.signature_is_valid(wrong, timestamp, nonce, encrypt)
    assert not crypto.signature_is_valid(None, timestamp, nonce, encrypt)
    with pytest.raises(WeChatCryptoError, match="appid"):
        WeChatCrypto(token, OFFICIAL["encoding_aes_key"], "wx0000000000000000").decrypt(encrypt)

    # encrypt -> decrypt, both ways against the spec, every padding length
    for size in [0, 1, 11, 12, 31, 32, 44, 100]:
        message = ("<xml>" + "中" * size + "</xml>").encode()
        prefix = os.urandom(16)
        sealed = crypto.encrypt(message, random_prefix=prefix)
        assert sealed == spec_encrypt(
            message, OFFICIAL["encoding_aes_key"], OFFICIAL["appid"], prefix
        )
        assert spec_decrypt(sealed, OFFICIAL["encoding_aes_key"]) == (message, OFFICIAL["appid"])
        assert crypto.decrypt(crypto.encrypt(message)) == message
    assert crypto.encrypt(plaintext) != crypto.encrypt(plaintext)  # a fresh random prefix

    for garbage in ["not base64!", base64.b64encode(b"x" * 15).decode(), ""]:
        with pytest.raises(WeChatCryptoError):
            crypto.decrypt(garbage)
    with pytest.raises(WeChatCryptoError):  # whole blocks, but the padding is not PKCS#7
        crypto.decrypt(encrypt[:-44] + base64.b64encode(os.urandom(32)).decode())


def test_wechat_safe_mode_configuration_errors():
    for bad_key in ["short", SAFE_KEY + "A", SAFE_KEY[:-1] + "!"]:
        with pytest.raises(RasaException, match="encoding_aes_key"):
            WeChatInput(WECHAT_TOKEN, SAFE_APP_ID, "secret", encoding_aes_key=bad_key)
    with pytest.raises(RasaException, match="app_id"):
        WeChatInput(WECHAT_TOKEN, None, None, encoding_aes_key=SAFE_KEY)
    channel = WeChatInput.from_credentials(
        {
            "token": WECHAT_TOKEN,
            "app_id": SAFE_APP_ID,
            "app_secret": "s",
            "encoding_aes_key": SAFE_KEY,
        }
    )
    assert isinstance(channel, WeChatInput) and channel.crypto is not None
    plain = WeChatInput.from_credentials(
        {"token": WECHAT_TOKEN, "app_id": SAFE_APP_ID, "app_secret": "s", "encoding_aes_key": ""}
    )
    assert isinstance(plain, WeChatInput) and plain.crypto is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body_file",
    ["official_sample_safe_mode_body.xml", "official_sample_compatible_mode_from_xml.xml"],
    ids=["safe", "compatible"],
)
async def test_wechat_official_sample_request_gets_an_encrypted_reply(body_file):
    bot = Bot(reply="您好，有两项研究正在招募。")
    body = (REFERENCE / body_file).read_bytes()
    async with serve(official_channel(), bot) as base:
        reply = await post_wechat(base, body, official_query())
        replay = await post_wechat(base, body, official_query())
    assert reply.status == 200 and reply.content_type.startswith("application/xml")
    fields = open_reply(
        reply.text, OFFICIAL["token"], OFFICIAL["encoding_aes_key"], OFFICIAL["appid"]
    )
    assert fields["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert fields["FromUserName"] == "gh_10f6c3c3ac5a"
    assert (fields["MsgType"], fields["Content"]) == ("text", "您好，有两项研究正在招募。")
    assert (replay.status, replay.text) == (200, "success")
    assert [(m.text, m.sender_id, m.metadata) for m in bot.messages] == [
        ("abcdteT", "oyORnuP8q7ou2gfYjqLzSIWZf0rs", {"language": "zh"})
    ]


@pytest.mark.asyncio
async def test_wechat_safe_mode_refuses_tampered_foreign_and_plaintext_messages():
    bot = Bot()
    body = (REFERENCE / "official_sample_safe_mode_body.xml").read_bytes()
    encrypt = OFFICIAL["encrypt"]
    tampered = body.replace(
        encrypt[100:104].encode(), b"AAAA" if encrypt[100:104] != "AAAA" else b"BBBB"
    )
    wrong = OFFICIAL["msg_signature"][:-1] + ("0" if OFFICIAL["msg_signature"][-1] != "0" else "1")
    async with serve(official_channel(), bot) as base:
        refused = {
            "tampered Encrypt": await post_wechat(base, tampered, official_query()),
            "tampered signature": await post_wechat(
                base, body, official_query(msg_signature=wrong)
            ),
            "no msg_signature": await post_wechat(base, body, official_query(msg_signature=None)),
            "other token": await post_wechat(
                base,
                body,
                official_query(
                    msg_signature=spec_msg_signature(
                        "other", OFFICIAL["timestamp"], OFFICIAL["nonce"], encrypt
                    )
                ),
            ),
        }
    async with serve(official_channel(app_id="wx0000000000000000"), bot) as base:
        refused["sample for another appid"] = await post_wechat(base, body, official_query())
    async with serve(safe_channel(), bot) as base:
        message = wechat_xml("text", Content="hello")
        refused["encrypted for another appid"] = await post_safe(base, message, "wx_other")
        refused["plaintext POST"] = await post_wechat(base, message)  # valid URL signature
        compatible_without_key = wechat_xml("text", Content="hi", Encrypt="x")
        refused["plaintext + bogus Encrypt"] = await post_wechat(base, compatible_without_key)
        stale = str(int(time.time()) - 3600)
        sealed = spec_encrypt(message, SAFE_KEY, SAFE_APP_ID)
        refused["stale"] = await post_wechat(
            base, safe_body(sealed), safe_query(WECHAT_TOKEN, stale, "n1", sealed)
        )
    statuses = {name: (reply.status, reply.text) for name, reply in refused.items()}
    assert statuses == {
        "tampered Encrypt": (403, "invalid signature"),
        "tampered signature": (403, "invalid signature"),
        "no msg_signature": (403, "encrypted messages only: msg_signature missing"),
        "other token": (403, "invalid signature"),
        "sample for another appid": (403, "cannot decrypt"),
        "encrypted for another appid": (403, "cannot decrypt"),
        "plaintext POST": (403, "encrypted messages only: msg_signature missing"),
        "plaintext + bogus Encrypt": (403, "encrypted messages only: msg_signature missing"),
        "stale": (403, "stale timestamp"),
    }
    assert bot.messages == []


@pytest.mark.asyncio
async def test_wechat_plaintext_post_with_a_forged_msg_signature_is_refused_in_safe_mode():
    bot = Bot()
    message = wechat_xml("text", Content="hello")
    stamp, nonce = str(int(time.time())), "n2"
    query = safe_query(WECHAT_TOKEN, stamp, nonce, "")  # msg_signature over an empty Encrypt
    async with serve(safe_channel(), bot) as base:
        reply = await post_wechat(base, message, query)
    assert (reply.status, reply.text) == (403, "encrypted messages only: Encrypt missing")
    assert bot.messages == []


@pytest.mark.asyncio
async def test_wechat_safe_mode_round_trip_through_the_channel():
    bot = Bot(reply="目前有两项研究正在招募。")
    async with serve(safe_channel(), bot) as base:
        text = await post_safe(base, wechat_xml("text", Content="哪些试验在招募？"))
        welcome = await post_safe(base, wechat_xml("event", Event="subscribe"))
        image = await post_safe(base, wechat_xml("image", PicUrl="http://x/y.jpg", MediaId="m"))
        unsubscribe = await post_safe(base, wechat_xml("event", Event="unsubscribe"))
        # compatible mode: plaintext fields and Encrypt; only the encrypted part counts
        inner = wechat_xml("text", Content="加密的问题")
        sealed = spec_encrypt(inner, SAFE_KEY, SAFE_APP_ID)
        outer = wechat_xml("text", Content="plaintext part", Encrypt=sealed)
        compatible = await post_wechat(
            base,
            outer,
            safe_query(WECHAT_TOKEN, str(int(time.time())), uuid.uuid4().hex[:10], sealed),
        )
    fields = open_reply(text.text)
    assert (fields["ToUserName"], fields["FromUserName"]) == (USER, ACCOUNT)
    assert fields["Content"] == "目前有两项研究正在招募。"
    assert open_reply(welcome.text)["Content"].startswith("您好，欢迎关注！")
    assert (
        open_reply(image.text)["Content"]
        == "抱歉，我目前只能阅读文字消息，请您用文字输入您的问题。"
    )
    assert (unsubscribe.status, unsubscribe.text) == (200, "success")
    assert open_reply(compatible.text)["Content"] == "目前有两项研究正在招募。"
    assert [(m.text, m.metadata) for m in bot.messages] == [
        ("哪些试验在招募？", {"language": "zh"}),
        ("加密的问题", {"language": "zh"}),
    ]


@pytest.mark.asyncio
async def test_wechat_safe_mode_slow_answer_is_pushed():
    bot = Bot(reply="结果已经出来了。", delay=0.6)
    async with fake_wechat_api() as api:
        async with serve(safe_channel(api_base_url=api.base, reply_timeout=0.1), bot) as base:
            reply = await post_safe(base, wechat_xml("text", Content="我的结果？"))
            assert (reply.status, reply.text) == (200, "success")
            await asyncio.wait_for(api.delivered.wait(), timeout=10)
    assert [payload["text"]["content"] for _, payload in api.sent] == ["结果已经出来了。"]


REFERENCE_MESSAGES = sorted((REFERENCE / "messages").glob("*.xml"))


@pytest.mark.asyncio
@pytest.mark.parametrize("path", REFERENCE_MESSAGES, ids=[p.stem for p in REFERENCE_MESSAGES])
async def test_wechat_reference_messages_in_safe_mode(path):
    bot = Bot(reply="收到")
    xml = path.read_bytes()
    sample = ET.fromstring(xml)
    msg_type, event = sample.findtext("MsgType"), (sample.findtext("Event") or "").lower()
    async with serve(safe_channel(), bot) as base:
        reply = await post_safe(base, xml)
    assert reply.status == 200
    if msg_type == "event" and event != "subscribe":
        assert reply.text == "success"
    else:
        fields = open_reply(reply.text)
        assert fields["ToUserName"] == sample.findtext("FromUserName")
        expected = {
            "text": "收到",
            "event": DEFAULT_WELCOME_TEXT,
        }.get(msg_type, "抱歉，我目前只能阅读文字消息，请您用文字输入您的问题。")
        assert fields["Content"] == expected
    assert [m.text for m in bot.messages] == (
        [sample.findtext("Content")] if msg_type == "text" else []
    )


# --- replays across replicas --------------------------------------------------------------

REDIS_URL = os.environ.get("TEST_REDIS_URL")


async def replayed_on_replicas() -> List[str]:
    """One signed request (and WeChat's retry of it) sent to two replicas, then to a third
    instance started after the first two stopped; the bot must see it once."""
    bot = Bot()
    body = wechat_xml("text", Content="hello")
    query = wechat_query()
    async with serve(wechat_channel(), bot) as one, serve(wechat_channel(), bot) as two:
        first = await post_wechat(one, body, query)
        replays = [
            await post_wechat(two, body, query),  # the same request, another replica
            await post_wechat(two, body),  # WeChat's retry: same MsgId, new signature
        ]
    async with serve(wechat_channel(), bot) as restarted:
        replays += [await post_wechat(restarted, body, query), await post_wechat(restarted, body)]
    assert reply_fields(first.text)["Content"] == "Hello from the trial bot"
    assert [(r.status, r.text) for r in replays] == [(200, "success")] * 4
    assert [m.text for m in bot.messages] == ["hello"]
    return [query]


@pytest.mark.asyncio
async def test_wechat_replays_fail_on_every_replica_with_the_database(database_url):
    use_settings(get_settings().copy(update={"redis_url": ""}))
    await replayed_on_replicas()
    with database(database_url).unit_of_work() as session:
        rows = session.execute(select(ChannelReplay.key, ChannelReplay.expires_at)).all()
    assert sorted(key.split(":")[2] for key, _ in rows) == ["msg", "ts", "ts", "ts"]
    assert all(expires.replace(tzinfo=None) > datetime.utcnow() for _, expires in rows)


@pytest.mark.asyncio
@pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL not set")
async def test_wechat_replays_fail_on_every_replica_with_redis(trial_database):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as error:  # a down server must fail loudly
        pytest.fail(f"TEST_REDIS_URL is set but Redis did not answer: {error}")
    prefix = f"wechattest{uuid.uuid4().hex[:8]}"
    use_settings(get_settings().copy(update={"redis_url": REDIS_URL, "redis_lock_prefix": prefix}))
    try:
        await replayed_on_replicas()
        keys = sorted(k.decode() for k in client.scan_iter(match=f"{prefix}:replay:*"))
        assert [key.split(":")[4] for key in keys] == ["msg", "ts", "ts", "ts"]
        assert all(0 < client.pttl(key) <= (300 + 120 + 60) * 1000 for key in keys)
        with database(trial_database).unit_of_work() as session:
            assert session.execute(select(ChannelReplay.key)).all() == []
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


@pytest.mark.asyncio
async def test_database_replay_store_expiry_and_clean_up(database_url):
    store = DatabaseReplayStore(database_url, purge_interval=3600)
    other = DatabaseReplayStore(database_url)
    assert await store.claim("k", 60) and not await other.claim("k", 60)
    long_key = "wechat:" + "x" * 500
    assert await store.claim(long_key, 60) and not await other.claim(long_key, 60)
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    with database(database_url).unit_of_work() as session:
        session.add_all([ChannelReplay(key=k, expires_at=past) for k in ("old", "gone")])
    assert await store.claim("old", 60)  # its record had expired: new again
    results = await asyncio.gather(*(s.claim("race", 60) for s in [store, other] * 5))
    assert sorted(results) == [False] * 9 + [True]
    assert DatabaseReplayStore(database_url, purge_interval=0).purge_now() == 1  # "gone"
    with database(database_url).unit_of_work() as session:
        keys = sorted(
            k if len(k) < 50 else "long" for k in session.scalars(select(ChannelReplay.key))
        )
    assert keys == ["k", "long", "old", "race"]


@pytest.mark.asyncio
async def test_wechat_unreachable_replay_store_refuses_the_request():
    bot = Bot()
    down = RedisReplayStore("redis://127.0.0.1:1/0", timeout=2)
    async with serve(wechat_channel(replay_store=down), bot) as base:
        reply = await post_wechat(base, wechat_xml("text", Content="hello"))
    await down.close()
    assert (reply.status, reply.text) == (503, "replay guard unavailable")
    assert bot.messages == []


def test_wechat_encoding_aes_key_comes_from_its_variable(monkeypatch, tmp_path):
    from rasa.shared.utils.io import read_config_file

    from bot.rasa_ext.channels.credentials import WECHAT, build_credentials, write_credentials

    env = {"WECHAT_TOKEN": WECHAT_TOKEN, "WECHAT_APP_ID": SAFE_APP_ID, "WECHAT_APP_SECRET": "s"}
    assert "encoding_aes_key" not in build_credentials(env)[WECHAT]  # optional: plaintext mode
    env["WECHAT_ENCODING_AES_KEY"] = SAFE_KEY
    assert build_credentials(env)[WECHAT]["encoding_aes_key"] == "${WECHAT_ENCODING_AES_KEY}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = write_credentials(tmp_path / "credentials.yml", env)
    channel = WeChatInput.from_credentials(read_config_file(str(path))[WECHAT])
    assert isinstance(channel, WeChatInput) and channel.crypto is not None
