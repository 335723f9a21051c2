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
from bot.stack import action_command, rasa_command, stack_env, wait_until_up


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
        self.actions = self.rasa = None

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)

    def _start(self, name: str, command: List[str], health: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            wait_until_up(health, process, 240)
        except RuntimeError:
            process.kill()
            raise RuntimeError(f"{name} did not start; log:\n"
                               + (self.workdir / f"{name}.log").read_text()[-3000:])
        return process

    def start_actions(self) -> None:
        self.actions = self._start("actions", action_command(self.action_port),
                                   f"http://127.0.0.1:{self.action_port}/health")

    def start_rasa(self) -> None:
        self.rasa = self._start("rasa", rasa_command(self.rasa_port),
                                f"http://127.0.0.1:{self.rasa_port}/")

    def start(self) -> "Stack":
        self.start_actions()
        self.start_rasa()
        return self

    @staticmethod
    def _stop(process) -> None:
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def stop_rasa(self) -> None:
        self._stop(self.rasa)

    def stop(self) -> None:
        self._stop(self.rasa)
        self._stop(self.actions)

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
