"""Starts the whole stack in the foreground: action server, Rasa server and web app.

Ctrl-C (or any one of them dying) stops all of them. Every setting has a default, so a bare
machine needs no environment variables; see the README for the list.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Dict, List, Optional

from bot.settings import ROOT, VAR_DIR, get_settings

BIN = Path(sys.executable).parent


def stack_env() -> Dict[str, str]:
    """The environment Rasa's endpoints.yml expects, with defaults filled in."""
    settings = get_settings()
    env = dict(os.environ)
    env.setdefault("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{settings.action_port}/webhook")
    env.setdefault("TRACKER_STORE_URL", settings.tracker_store_url)
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")  # nothing leaves the machine
    # rasa_sdk binds the action server to SANIC_HOST, 0.0.0.0 unless set: keep it private.
    env.setdefault("SANIC_HOST", "127.0.0.1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def rasa_command(port: int) -> List[str]:
    """`rasa run` with the channels whose environment variables are set (bot.channels)."""
    from bot.channels import write_credentials

    credentials = write_credentials(VAR_DIR / "credentials.yml")
    # bot.rasa_server is `rasa` with a fix for Rasa 3.6's per-response schema check.
    return [sys.executable, "-m", "bot.rasa_server", "run", "--port", str(port),
            "--model", str(ROOT / "models"),
            "--interface", os.environ.get("RASA_INTERFACE", "127.0.0.1"),
            "--credentials", str(credentials),
            "--endpoints", str(ROOT / "endpoints.yml"), "--cors", "*"]


def action_command(port: int) -> List[str]:
    return [str(BIN / "rasa"), "run", "actions", "--port", str(port), "--actions", "actions"]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(process.args[:3])} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


class Supervisor:
    """Starts processes in order, each healthy before the next; stops them all in reverse."""

    def __init__(self, env: Dict[str, str], log_dir: Optional[Path] = None):
        self.env = env
        self.log_dir = log_dir  # None: the processes write to this terminal
        self.processes: Dict[str, subprocess.Popen] = {}
        self.commands: Dict[str, tuple] = {}

    def start(self, name: str, command: List[str], health: Optional[str],
              seconds: float = 300, cwd: Path = ROOT,
              env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
        """Start `command` and wait until `health` answers; `env` replaces the shared one."""
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            # The child keeps its own copy of the descriptor; ours is closed at once.
            with open(self.log_dir / f"{name}.log", "ab") as log:
                process = subprocess.Popen(command, cwd=cwd, env=env or self.env, stdout=log,
                                           stderr=subprocess.STDOUT)
        else:
            process = subprocess.Popen(command, cwd=cwd, env=env or self.env)
        self.processes[name] = process
        self.commands[name] = (command, health, cwd, env)
        if health:
            try:
                wait_until_up(health, process, seconds)
            except RuntimeError as error:
                process.kill()
                log = (self.log_dir / f"{name}.log").read_text()[-3000:] if self.log_dir else ""
                raise RuntimeError(f"{name}: {error}\n{log}")
        return process

    def stop(self, name: str, sig: int = signal.SIGINT) -> None:
        process = self.processes.get(name)
        if process and process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def restart(self, name: str, seconds: float = 300) -> subprocess.Popen:
        self.stop(name)
        command, health, cwd, env = self.commands[name]
        return self.start(name, command, health, seconds, cwd, env)

    def stop_all(self) -> None:
        # SIGINT lets Rasa and aiohttp close their connections; nginx stops gracefully on QUIT.
        for name in reversed(list(self.processes)):
            self.stop(name, signal.SIGQUIT if name.startswith("nginx") else signal.SIGINT)


def run_foreground(supervisor: Supervisor, start: Callable[[], str]) -> int:
    """`start()` starts the services and returns what to tell the user; then wait in the
    foreground until Ctrl-C (0) or until one of them dies (1). Everything is stopped after."""
    try:
        print(start() + "\nCtrl-C stops everything.", flush=True)
        while all(p.poll() is None for p in supervisor.processes.values()):
            time.sleep(0.5)
        dead = [n for n, p in supervisor.processes.items() if p.poll() is not None]
        print(f"{', '.join(dead)} stopped; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop_all()


def run_stack(web: bool = True) -> int:
    settings = get_settings()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(stack_env())
    services = [
        ("action server", action_command(settings.action_port),
         f"http://127.0.0.1:{settings.action_port}/health"),
        ("Rasa server", rasa_command(settings.rasa_port), f"http://127.0.0.1:{settings.rasa_port}/"),
    ]
    if web:
        services.append(("web app", [sys.executable, "-m", "bot", "web"],
                         f"http://127.0.0.1:{settings.web_port}/health"))

    def start() -> str:
        for label, command, health in services:
            print(f"starting {label}: {' '.join(command)}", flush=True)
            supervisor.start(label, command, health, 180)
            print(f"{label} is up: {health.rsplit('/', 1)[0]}", flush=True)
        return (f"\nChat over REST: POST http://127.0.0.1:{settings.rasa_port}/webhooks/rest/webhook"
                + (f"\nDemo page with the chat widget: http://127.0.0.1:{settings.web_port}/"
                   if web else ""))

    return run_foreground(supervisor, start)


def run_shell() -> int:
    """`rasa shell` against the action server, with the same environment."""
    settings = get_settings()
    env = stack_env()
    actions = subprocess.Popen(action_command(settings.action_port), cwd=ROOT, env=env)
    try:
        wait_until_up(f"http://127.0.0.1:{settings.action_port}/health", actions, 120)
        return subprocess.call(
            [str(BIN / "rasa"), "shell", "--model", str(ROOT / "models"),
             "--endpoints", str(ROOT / "endpoints.yml")], cwd=ROOT, env=env)
    finally:
        actions.terminate()
        actions.wait(timeout=15)
