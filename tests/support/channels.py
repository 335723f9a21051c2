"""A harness for the messaging channels' tests, over real HTTP.

Each test builds the channel's blueprint into a real Sanic app (through Rasa's own
``register``, with a fake agent whose ``handle_message`` records the UserMessage and answers
through the message's output channel), serves it on a free 127.0.0.1 port in the test's
event loop and sends real requests with aiohttp. Nothing talks to Telegram, Twilio or
WeChat: their APIs are replaced by recorders or by a local aiohttp server.

Signatures are computed here from the providers' specifications, independently of
``bot.rasa_ext.channels.verify``.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import List

import aiohttp
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from bot.rasa_ext.channels.twilio import VerifiedTwilioInput


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


# --- channels and secrets shared by the channel tests

TWILIO_TOKEN = "twilio-auth-token-for-tests"
TELEGRAM_SECRET = "telegram_secret_for_tests_0123456789"
WECHAT_TOKEN = "wechatTestToken2024"


def twilio_channel(**kwargs) -> VerifiedTwilioInput:
    return VerifiedTwilioInput(
        "ACtest", TWILIO_TOKEN, "+15005550006", whatsapp_number="+14155238886", **kwargs
    )
