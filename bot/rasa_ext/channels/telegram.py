"""Telegram with a webhook secret.

Rasa 3.6's ``TelegramInput`` accepts any POST to ``/webhooks/telegram/webhook`` (its only
check, the bot username from ``getMe``, says nothing about who sent the update) and calls
Telegram's ``setWebhook`` from ``get_output_channel()`` -- i.e. while the blueprint is built,
so start-up fails without network access, and ``asyncio.run`` breaks when Rasa later asks
for the output channel from inside the running loop.

This subclass:

* registers the webhook with a ``secret_token`` (Bot API 6.1+); Telegram then sends it in
  ``X-Telegram-Bot-Api-Secret-Token`` on every update, and a blueprint middleware rejects
  any request to ``/webhook`` or ``/set_webhook`` without the right header with ``403``
  (compared with ``hmac.compare_digest``) before the stock handler runs;
* never calls Telegram while being constructed: the webhook is registered after the server
  has started (a failure is logged, not fatal) or on demand with
  ``POST /webhooks/telegram/set_webhook`` carrying the secret header;
* caches ``getMe`` (the stock handler asked Telegram on every single update);
* answers ``200`` to update types the stock handler cannot read (e.g. ``my_chat_member``
  when a user blocks the bot) instead of crashing with ``500`` and making Telegram retry.

The channel keeps the name ``telegram`` (drop-in replacement; configure it *instead of* the
built-in ``telegram:`` key -- configuring both fails at start-up).

credentials.yml::

    bot.rasa_ext.channels.telegram.VerifiedTelegramInput:
      access_token: ${TELEGRAM_TOKEN}
      verify: ${TELEGRAM_BOT_USERNAME}
      webhook_url: ${TELEGRAM_WEBHOOK_URL}   # https://<host>/webhooks/telegram/webhook
      secret_token: ${TELEGRAM_SECRET_TOKEN} # 16-256 of A-Z a-z 0-9 _ -
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request

from bot.rasa_ext.channels.verify import (
    TELEGRAM_SECRET_HEADER,
    constant_time_equals,
    forbidden,
    is_health_check,
)
from bot.rasa_ext.patches import require

logger = logging.getLogger(__name__)

# aiogram 2.15's Bot, which Rasa's TelegramOutput is: the overrides below replace set_webhook
# and get_me and call request() directly.
require(
    TelegramOutput,
    "request",
    params=["self", "method", "data", "files", "kwargs"],
    patched_by="bot.rasa_ext.channels.telegram",
)
require(TelegramOutput, "get_me", params=["self"], patched_by="bot.rasa_ext.channels.telegram")
require(
    TelegramInput,
    "get_output_channel",
    params=["self"],
    patched_by="bot.rasa_ext.channels.telegram",
)

# Telegram allows 1-256 characters of this alphabet; we require 16+ so it cannot be guessed.
SECRET_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
# Update fields the stock handler knows how to read.
HANDLED_UPDATES = ("message", "edited_message", "callback_query")
WEBHOOK_REGISTRATION_TIMEOUT = 15.0


class VerifiedTelegramOutput(TelegramOutput):
    """``TelegramOutput`` that registers its webhook with a secret and caches ``getMe``."""

    def __init__(self, access_token: Optional[Text], secret_token: Text) -> None:
        super().__init__(access_token)
        self._webhook_secret = secret_token
        self._cached_me: Any = None

    async def set_webhook(
        self, url: Optional[Text], allowed_updates: Optional[List[Text]] = None, **_: Any
    ) -> bool:
        """``setWebhook`` with ``secret_token`` (aiogram 2.15 predates that parameter)."""
        if not url:
            # an empty URL would *remove* the webhook at Telegram
            raise RasaException("Telegram webhook_url is not configured.")
        payload: Dict[Text, Any] = {"url": url, "secret_token": self._webhook_secret}
        if allowed_updates is not None:
            payload["allowed_updates"] = allowed_updates
        return bool(await self.request("setWebhook", payload))

    async def get_me(self) -> Any:
        if self._cached_me is None:
            self._cached_me = await super().get_me()
        return self._cached_me


class VerifiedTelegramInput(TelegramInput):
    """``TelegramInput`` that only accepts updates carrying the configured webhook secret."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        credentials = credentials or {}  # (the call above raises when it is empty)
        return cls(
            credentials.get("access_token"),
            credentials.get("verify"),
            credentials.get("webhook_url") or None,
            secret_token=credentials.get("secret_token"),
            register_webhook=bool(credentials.get("register_webhook", True)),
        )

    def __init__(
        self,
        access_token: Optional[Text],
        verify: Optional[Text],
        webhook_url: Optional[Text],
        debug_mode: bool = True,
        secret_token: Optional[Text] = None,
        register_webhook: bool = True,
    ) -> None:
        if not secret_token or not SECRET_TOKEN_PATTERN.match(str(secret_token)):
            raise RasaException(
                "The verified Telegram channel needs `secret_token`: 16-256 characters of "
                "A-Z, a-z, 0-9, '_' and '-' (e.g. `openssl rand -hex 32`)."
            )
        if not verify:
            raise RasaException(
                "The Telegram channel needs `verify`: the bot's username (the stock handler "
                "drops every update whose bot username differs)."
            )
        super().__init__(access_token, verify, webhook_url, debug_mode)
        self.secret_token = str(secret_token)
        self.register_webhook = register_webhook

    def get_output_channel(self) -> VerifiedTelegramOutput:
        """The output channel, without any call to Telegram (the stock one sets the webhook
        here, with ``asyncio.run``)."""
        return VerifiedTelegramOutput(self.access_token, self.secret_token)

    def request_has_secret(self, request: Request) -> bool:
        return constant_time_equals(self.secret_token, request.headers.get(TELEGRAM_SECRET_HEADER))

    async def register(self) -> bool:
        """Point Telegram at ``webhook_url`` with our secret; True on success."""
        bot = self.get_output_channel()
        try:
            return await bot.set_webhook(self.webhook_url)
        finally:
            # aiogram 2.15's Bot.close() is deprecated; close the HTTP session it opened, if any
            session = getattr(bot, "_session", None)
            if session is not None and not session.closed:
                await session.close()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook = super().blueprint(on_new_message)

        @telegram_webhook.on_request
        async def verify_telegram_secret(request: Request) -> Any:
            if is_health_check(request):
                return None
            if not request.headers.get(TELEGRAM_SECRET_HEADER):
                return forbidden("missing X-Telegram-Bot-Api-Secret-Token")
            if not self.request_has_secret(request):
                logger.warning("Rejected a Telegram webhook call with a wrong secret token.")
                return forbidden("invalid X-Telegram-Bot-Api-Secret-Token")
            route_name = str(request.route.name).rsplit(".", 1)[-1] if request.route else ""
            if route_name == "message":
                if request.method != "POST":
                    return response.text("method not allowed", status=405)
                update = request.json
                if not isinstance(update, dict) or not any(
                    update.get(kind) for kind in HANDLED_UPDATES
                ):
                    return response.text("success")  # e.g. my_chat_member: nothing to answer
            return None

        if self.webhook_url and self.register_webhook:

            @telegram_webhook.listener("after_server_start")
            async def register_telegram_webhook(_app: Any, _loop: Any) -> None:
                try:
                    ok = await asyncio.wait_for(self.register(), WEBHOOK_REGISTRATION_TIMEOUT)
                except Exception as error:  # offline or refused: keep serving, say so
                    logger.error(
                        "Could not register the Telegram webhook (%s). Retry with "
                        "POST /webhooks/telegram/set_webhook and the secret header.",
                        type(error).__name__,
                    )
                    return
                if ok:
                    logger.info("Telegram webhook registered with a secret token.")
                else:
                    logger.error("Telegram refused the webhook registration.")

        return telegram_webhook
