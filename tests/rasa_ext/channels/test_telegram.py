"""Telegram: the webhook secret, registration after start."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from bot.rasa_ext.channels.telegram import VerifiedTelegramInput, VerifiedTelegramOutput
from tests.support.channels import (
    TELEGRAM_SECRET,
    Bot,
    call,
    serve,
)

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
    assert telegram_api.requests[-1] == (
        "setWebhook",
        {"url": url, "secret_token": TELEGRAM_SECRET},
    )


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
