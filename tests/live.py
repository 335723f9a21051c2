"""Starts the real action server and Rasa server on free ports, for the live tests."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List

from bot.settings import ROOT
from bot.stack import Supervisor, action_command, rasa_command, stack_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """Action server + Rasa server over one trial database and one tracker store."""

    def __init__(self, workdir: Path, database_url: str, tracker_url: str):
        if not list((ROOT / "models").glob("*.tar.gz")):
            raise RuntimeError("no trained model in models/: run `make train` first")
        self.workdir = workdir
        self.action_port, self.rasa_port = free_port(), free_port()
        self.env = {**stack_env(), "TRIAL_DATABASE_URL": database_url,
                    "TRACKER_STORE_URL": tracker_url,
                    "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.action_port}/webhook"}
        self.supervisor = Supervisor(self.env, workdir)  # logs: workdir/<name>.log

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)

    def rasa_command(self) -> List[str]:
        return rasa_command(self.rasa_port)

    def start_actions(self) -> None:
        self.supervisor.start("actions", action_command(self.action_port),
                              f"http://127.0.0.1:{self.action_port}/health", 240)

    def start_rasa(self) -> None:
        self.supervisor.start("rasa", self.rasa_command(),
                              f"http://127.0.0.1:{self.rasa_port}/", 240)

    def start(self) -> "Stack":
        self.start_actions()
        self.start_rasa()
        return self

    def start_web(self, **extra_env: str) -> str:
        """`python -m bot web` over the same databases, its widget talking to this Rasa."""
        port = free_port()
        env = {**self.env, "WEB_PORT": str(port),
               "RASA_URL": f"http://127.0.0.1:{self.rasa_port}", **extra_env}
        self.supervisor.start("web", [sys.executable, "-m", "bot", "web"],
                              f"http://127.0.0.1:{port}/health", 60, env=env)
        return f"http://127.0.0.1:{port}"

    def stop_actions(self) -> None:
        self.supervisor.stop("actions")

    def stop_rasa(self) -> None:
        self.supervisor.stop("rasa")

    def stop(self) -> None:
        self.supervisor.stop_all()

    def send(self, sender: str, text: str, timeout: float = 30) -> List[Dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook",
            data=json.dumps({"sender": sender, "message": text}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def say(self, sender: str, text: str) -> str:
        """The bot's reply texts, joined by newlines."""
        return "\n".join(m.get("text", "") for m in self.send(sender, text))


@contextmanager
def seeded_stack(workdir: Path) -> Iterator[Stack]:
    """A running stack over a freshly seeded trial database; the tracker store is PostgreSQL
    when TEST_POSTGRES_URL is set (as in CI), else SQLite."""
    from bot.db import dispose_engines
    from tests.conftest import BACKENDS, _drop_postgres_database, _fresh_postgres_database

    postgres = "postgresql" in BACKENDS
    tracker_url = _fresh_postgres_database() if postgres else f"sqlite:///{workdir / 'tracker.db'}"
    running = Stack(workdir, f"sqlite:///{workdir / 'trials.db'}", tracker_url)
    seeded = running.cli("seed")
    assert seeded.returncode == 0, seeded.stderr
    running.start()
    try:
        yield running
    finally:
        running.stop()
        dispose_engines()
        if postgres:
            _drop_postgres_database(tracker_url)
