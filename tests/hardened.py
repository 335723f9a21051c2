"""Live-test helpers for the hardened channels, the lock store and the degradation tests.

`HardenedStack` is tests.live.Stack with Rasa started on the checked channels
(bot.channels.rest / bot.channels.socketio) and, optionally, other endpoints.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from sqlalchemy import create_engine, text

from bot.settings import ROOT
from tests.live import Stack

CREDENTIALS = """\
bot.channels.rest.CheckedRestInput:
  max_message_chars: 2000
bot.channels.socketio.CheckedSocketIOInput:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: true
"""


class HardenedStack(Stack):
    def __init__(self, workdir: Path, database_url: str, tracker_url: str,
                 endpoints: Optional[str] = None, extra_env: Optional[Dict[str, str]] = None):
        super().__init__(workdir, database_url, tracker_url)
        (workdir / "credentials.yml").write_text(CREDENTIALS)
        self.endpoints = workdir / "endpoints.yml"
        self.endpoints.write_text(endpoints or (ROOT / "endpoints.yml").read_text())
        self.env.update(extra_env or {})

    def rasa_command(self) -> List[str]:
        command = super().rasa_command()
        command[command.index("--credentials") + 1] = str(self.workdir / "credentials.yml")
        command[command.index("--endpoints") + 1] = str(self.endpoints)
        return command

    def post(self, body: bytes, content_type: str = "application/json",
             timeout: float = 30) -> Tuple[int, bytes]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook", data=body,
            headers={"Content-Type": content_type}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def tracker_events(tracker_url: str, sender: str) -> List[Dict]:
    """The stored events of one conversation, in order, each parsed from its JSON."""
    engine = create_engine(tracker_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender})
            return [json.loads(row[0]) for row in rows]
    finally:
        engine.dispose()


def user_texts(events: List[Dict]) -> List[str]:
    return [e.get("text") for e in events if e.get("event") == "user"]


def env_flag(name: str) -> Optional[str]:
    return os.environ.get(name) or None
