"""The real action server and Rasa server (and web app) on free ports, for the live tests."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from sqlalchemy import create_engine, text

from bot.config import ROOT, Settings
from bot.ops.stack import action_command, rasa_command, stack_env
from bot.ops.supervisor import Supervisor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Stack:
    """Action server + Rasa server over one trial database and one tracker store.

    `endpoints`: another endpoints.yml text (e.g. the action endpoint behind nginx)."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        tracker_url: str,
        endpoints: Optional[str] = None,
        extra_env: Optional[Dict[str, str]] = None,
    ):
        if not list((ROOT / "models").glob("*.tar.gz")):
            raise RuntimeError("no trained model in models/: run `make train` first")
        self.workdir = workdir
        self.database_url, self.tracker_url = database_url, tracker_url
        self.action_port, self.rasa_port = free_port(), free_port()
        self.settings = Settings(
            database_url=database_url, tracker_store_url=tracker_url, var_dir=workdir
        )
        self.env = {
            **stack_env(self.settings),
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.action_port}/webhook",
            **(extra_env or {}),
        }
        self.endpoints = ROOT / "endpoints.yml"
        if endpoints is not None:
            self.endpoints = workdir / "endpoints.yml"
            self.endpoints.write_text(endpoints)
        self.supervisor = Supervisor(self.env, workdir)  # logs: workdir/<name>.log

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def conversation_id(self, client_id: str, channel: str = "rest") -> str:
        """The conversation the server keeps for a client's id (a REST sender, a socket.io
        session_id): what the tracker store, the console and `screenings list` show."""
        from bot.rasa_ext.channels.guard import conversation_id, conversation_secret

        settings = Settings(
            var_dir=Path(self.env["BOT_VAR_DIR"]),
            conversation_id_secret=self.env.get("CONVERSATION_ID_SECRET", ""),
        )
        return conversation_id(channel, client_id, conversation_secret(settings))

    def rasa_command(self) -> List[str]:
        command = rasa_command(self.rasa_port, self.settings)
        command[command.index("--endpoints") + 1] = str(self.endpoints)
        return command

    def start_actions(self) -> None:
        self.supervisor.start(
            "actions",
            action_command(self.action_port),
            f"http://127.0.0.1:{self.action_port}/health",
            240,
        )

    def start_rasa(self) -> None:
        self.supervisor.start(
            "rasa", self.rasa_command(), f"http://127.0.0.1:{self.rasa_port}/", 240
        )

    def start(self) -> "Stack":
        self.start_actions()
        self.start_rasa()
        return self

    def start_web(self, name: str = "web", **extra_env: str) -> str:
        """`python -m bot web` over the same databases, its widget talking to this Rasa."""
        port = free_port()
        env = {
            **self.env,
            "WEB_PORT": str(port),
            "RASA_URL": f"http://127.0.0.1:{self.rasa_port}",
            **extra_env,
        }
        self.supervisor.start(
            name,
            [sys.executable, "-m", "bot", "web"],
            f"http://127.0.0.1:{port}/health",
            60,
            env=env,
        )
        return f"http://127.0.0.1:{port}"

    def stop_actions(self) -> None:
        self.supervisor.stop("actions")

    def stop_rasa(self) -> None:
        self.supervisor.stop("rasa")

    def stop(self) -> None:
        self.supervisor.stop_all()

    def post(
        self, body: bytes, content_type: str = "application/json", timeout: float = 30
    ) -> Tuple[int, bytes]:
        """A raw POST to the REST channel: (status, body), whatever the status."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook",
            data=body,
            headers={"Content-Type": content_type},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def post_from(
        self,
        source: str,
        body: bytes,
        headers: Optional[Dict[str, str]] = None,
        timeout: float = 30,
    ) -> Tuple[int, bytes, Dict[str, str]]:
        """A POST to the REST channel from a given local address (127.0.0.2, ...: another
        client as far as the server can tell): (status, body, headers)."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.rasa_port, timeout=timeout, source_address=(source, 0)
        )
        try:
            connection.request(
                "POST",
                "/webhooks/rest/webhook",
                body=body,
                headers={"Content-Type": "application/json", **(headers or {})},
            )
            response = connection.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            connection.close()

    def send(self, sender: str, text: str, timeout: float = 30) -> List[Dict]:
        status, body = self.post(
            json.dumps({"sender": sender, "message": text}).encode(), timeout=timeout
        )
        assert status == 200, (status, body[:300])
        result: List[Dict] = json.loads(body)
        return result

    def say(self, sender: str, text: str) -> str:
        """The bot's reply texts, joined by newlines."""
        return "\n".join(m.get("text", "") for m in self.send(sender, text))


@contextmanager
def seeded_stack(workdir: Path) -> Iterator[Stack]:
    """A running stack over a freshly seeded trial database; the tracker store is PostgreSQL
    when TEST_POSTGRES_URL is set (as in CI), else SQLite."""
    from bot.db import dispose_all
    from tests.support.databases import BACKENDS, drop_postgres_database, fresh_postgres_database

    postgres = "postgresql" in BACKENDS
    tracker_url = fresh_postgres_database() if postgres else f"sqlite:///{workdir / 'tracker.db'}"
    running = Stack(workdir, f"sqlite:///{workdir / 'trials.db'}", tracker_url)
    seeded = running.cli("seed")
    assert seeded.returncode == 0, seeded.stderr
    running.start()
    try:
        yield running
    finally:
        running.stop()
        dispose_all()
        if postgres:
            drop_postgres_database(tracker_url)


def tracker_events(tracker_url: str, sender: str) -> List[Dict]:
    """The stored events of one conversation, in order, each parsed from its JSON."""
    engine = create_engine(tracker_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
            )
            return [json.loads(row[0]) for row in rows]
    finally:
        engine.dispose()


def user_texts(events: List[Dict]) -> List[str]:
    return [e.get("text") for e in events if e.get("event") == "user"]
