"""Twilio (SMS and WhatsApp) with signed webhooks.

Rasa 3.6's ``TwilioInput`` accepts any POST to ``/webhooks/twilio/webhook``. This subclass
keeps its handler but puts a blueprint middleware in front of it that checks
``X-Twilio-Signature`` (base64 HMAC-SHA1 of the public URL + sorted POST parameters, keyed
with the account's auth token). Unsigned or wrongly signed requests get ``403`` and never
reach ``on_new_message``. Only the health check ``GET /webhooks/twilio/`` is left open.

The channel keeps the name ``twilio`` (same webhook URL, same ``input_channel`` in trackers,
same ``channel: twilio`` response variants), so it is a drop-in replacement: configure it
*instead of* the built-in ``twilio:`` key. Configuring both fails at start-up (Sanic refuses
two blueprints called ``twilio_webhook``), so the unsigned endpoint cannot stay open by
accident.

credentials.yml::

    bot.rasa_ext.channels.twilio.VerifiedTwilioInput:
      account_sid: ${TWILIO_ACCOUNT_SID}
      auth_token: ${TWILIO_AUTH_TOKEN}
      twilio_number: ${TWILIO_NUMBER}             # SMS sender, e.g. +15005550006
      whatsapp_number: ${TWILIO_WHATSAPP_NUMBER}  # optional, e.g. whatsapp:+14155238886
      webhook_url: ${TWILIO_WEBHOOK_URL}          # the exact URL entered in the Twilio console
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.twilio import TwilioInput, TwilioOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint
from sanic.request import Request
from twilio.base.exceptions import TwilioRestException

from bot.rasa_ext.channels.verify import (
    TWILIO_SIGNATURE_HEADER,
    forbidden,
    is_health_check,
    twilio_form_params,
    twilio_signature_is_valid,
    twilio_signed_url,
)
from bot.rasa_ext.patches import require

logger = logging.getLogger(__name__)

# VerifiedTwilioOutput replaces _send_message, which TwilioOutput's send methods call.
require(
    TwilioOutput,
    "_send_message",
    params=["self", "message_data"],
    patched_by="bot.rasa_ext.channels.twilio",
)

WHATSAPP_PREFIX = "whatsapp:"


class VerifiedTwilioOutput(TwilioOutput):
    """Twilio output that answers WhatsApp users from the WhatsApp sender and SMS users from
    the SMS number, and sends without blocking the event loop (the stock output calls the
    synchronous Twilio REST client on the loop)."""

    def __init__(
        self,
        account_sid: Optional[Text],
        auth_token: Optional[Text],
        twilio_number: Optional[Text],
        whatsapp_number: Optional[Text] = None,
    ) -> None:
        super().__init__(account_sid, auth_token, twilio_number)
        self.whatsapp_number = whatsapp_number

    def _sender_for(self, recipient: Text) -> Optional[Text]:
        if recipient.startswith(WHATSAPP_PREFIX) and self.whatsapp_number:
            return self.whatsapp_number
        return self.twilio_number

    async def _send_message(self, message_data: Dict[Text, Any]) -> Any:
        data = dict(message_data)
        if not data.get("messaging_service_sid") and data.get("from_") == self.twilio_number:
            data["from_"] = self._sender_for(str(data.get("to") or ""))
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, functools.partial(self.messages.create, **data))
        except TwilioRestException as error:
            logger.error("Twilio refused the message: %s (code %s)", error.msg, error.code)
        return None


class VerifiedTwilioInput(TwilioInput):
    """``TwilioInput`` whose webhook only accepts requests signed by Twilio."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        credentials = credentials or {}  # (the call above raises when it is empty)
        return cls(
            credentials.get("account_sid"),
            credentials.get("auth_token"),
            credentials.get("twilio_number"),
            webhook_url=credentials.get("webhook_url") or None,
            whatsapp_number=credentials.get("whatsapp_number") or None,
        )

    def __init__(
        self,
        account_sid: Optional[Text],
        auth_token: Optional[Text],
        twilio_number: Optional[Text],
        debug_mode: bool = True,
        webhook_url: Optional[Text] = None,
        whatsapp_number: Optional[Text] = None,
    ) -> None:
        if not auth_token:
            raise RasaException(
                "The verified Twilio channel needs `auth_token`: without it no webhook "
                "signature can be checked."
            )
        if whatsapp_number and not whatsapp_number.startswith(WHATSAPP_PREFIX):
            whatsapp_number = WHATSAPP_PREFIX + whatsapp_number
        super().__init__(account_sid, auth_token, twilio_number, debug_mode)
        self.webhook_url = webhook_url
        self.whatsapp_number = whatsapp_number

    def request_is_signed(self, request: Request) -> bool:
        """True when ``X-Twilio-Signature`` matches the request."""
        signature = request.headers.get(TWILIO_SIGNATURE_HEADER)
        if not signature:
            return False
        url = twilio_signed_url(request.url, self.webhook_url)
        if "bodySHA256" in request.args:  # JSON webhooks sign a hash of the raw body
            params: Any = (request.body or b"").decode("utf-8", "replace")
        else:
            params = twilio_form_params(request.body or b"")
        valid = twilio_signature_is_valid(self.auth_token, url, params, signature)
        if not valid:
            logger.warning(
                "Rejected a Twilio webhook with a wrong signature (checked against %s). "
                "Behind a proxy, set `webhook_url` to the URL configured at Twilio.",
                url.split("?", 1)[0],
            )
        return valid

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        twilio_webhook = super().blueprint(on_new_message)

        @twilio_webhook.on_request
        async def verify_twilio_signature(request: Request) -> Any:
            if is_health_check(request):
                return None
            if not request.headers.get(TWILIO_SIGNATURE_HEADER):
                return forbidden("missing X-Twilio-Signature")
            if not self.request_is_signed(request):
                return forbidden("invalid X-Twilio-Signature")
            return None

        return twilio_webhook

    def get_output_channel(self) -> VerifiedTwilioOutput:
        return VerifiedTwilioOutput(
            self.account_sid, self.auth_token, self.twilio_number, self.whatsapp_number
        )
