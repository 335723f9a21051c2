"""The WeChat API: customer-service messages, with the access token kept until it expires."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Dict, Optional, Text

import aiohttp
from rasa.core.channels.channel import OutputChannel
from rasa.shared.exceptions import RasaException

from bot.rasa_ext.channels.wechat_messages import ButtonMemory, render_messages

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.weixin.qq.com"
# errcodes meaning "this access token is no longer valid": fetch a new one and retry once
TOKEN_ERRORS = {40001, 40014, 42001}
API_TIMEOUT = 10.0


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
