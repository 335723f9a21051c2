"""The credentials file Rasa starts with: channels turned on by their variables."""

from __future__ import annotations

import uuid

import pytest
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.rasa_ext.channels.credentials import (
    ChannelConfigError,
    build_credentials,
    write_credentials,
)
from tests.support.channels import TELEGRAM_SECRET, TWILIO_TOKEN, WECHAT_TOKEN, twilio_channel

TELEGRAM_ENV = {
    "TELEGRAM_TOKEN": "123456:ABC-test-token",
    "TELEGRAM_BOT_USERNAME": "trial_bot",
    "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
}


def test_credentials_without_channel_variables_are_rest_and_socketio_only():
    assert list(build_credentials({})) == [
        "bot.rasa_ext.channels.rest.CheckedRestInput",
        "bot.rasa_ext.channels.socketio.CheckedSocketIOInput",
    ]


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
        "bot.rasa_ext.channels.rest.CheckedRestInput",
        "bot.rasa_ext.channels.socketio.CheckedSocketIOInput",
        "bot.rasa_ext.channels.telegram.VerifiedTelegramInput",
        "bot.rasa_ext.channels.twilio.VerifiedTwilioInput",
    ]
    assert credentials["bot.rasa_ext.channels.telegram.VerifiedTelegramInput"] == {
        "access_token": "${TELEGRAM_TOKEN}",
        "verify": "${TELEGRAM_BOT_USERNAME}",
        "secret_token": "${TELEGRAM_SECRET_TOKEN}",
    }
    assert "twilio_number" not in credentials["bot.rasa_ext.channels.twilio.VerifiedTwilioInput"]


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
    assert (
        expanded["bot.rasa_ext.channels.telegram.VerifiedTelegramInput"]["secret_token"]
        == TELEGRAM_SECRET
    )

    from rasa.shared.utils.common import class_from_module_path

    app = Sanic(f"channels_{uuid.uuid4().hex[:12]}")
    channels = []
    for key, section in expanded.items():
        if key.startswith("bot.rasa_ext.channels."):
            channels.append(class_from_module_path(key).from_credentials(section))
    register(channels, app, route="/webhooks/")
    assert sorted(channel.name() for channel in channels) == [
        "rest",
        "socketio",
        "telegram",
        "twilio",
        "wechat",
    ]
    paths = {route.path for route in app.router.routes}
    assert {
        "webhooks/telegram/webhook",
        "webhooks/twilio/webhook",
        "webhooks/wechat/webhook",
    } <= paths


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
