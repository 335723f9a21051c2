"""Twilio SMS and WhatsApp: signed requests only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from types import SimpleNamespace
from typing import Dict, List

import pytest

from bot.rasa_ext.channels.twilio import VerifiedTwilioInput, VerifiedTwilioOutput
from tests.support.channels import (
    TWILIO_TOKEN,
    Bot,
    call,
    serve,
    twilio_channel,
)

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
            headers = {
                "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, base + TWILIO_PATH, params)
            }
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
            headers={
                "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, base + TWILIO_PATH, params)
            },
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
