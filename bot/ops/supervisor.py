"""A process supervisor: starts services in order, each healthy before the next, and stops
them all in reverse; `run_foreground` keeps them in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Dict, List, Optional

from bot.config import ROOT


def wait_until_up(url: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            args = process.args if isinstance(process.args, list) else [process.args]
            command = " ".join(str(part) for part in args[:3])
            raise RuntimeError(f"{command} exited with {process.returncode}")
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

    def start(
        self,
        name: str,
        command: List[str],
        health: Optional[str],
        seconds: float = 300,
        cwd: Path = ROOT,
        env: Optional[Dict[str, str]] = None,
    ) -> subprocess.Popen:
        """Start `command` and wait until `health` answers; `env` replaces the shared one."""
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            # The child keeps its own copy of the descriptor; ours is closed at once.
            with open(self.log_dir / f"{name}.log", "ab") as log:
                process = subprocess.Popen(
                    command, cwd=cwd, env=env or self.env, stdout=log, stderr=subprocess.STDOUT
                )
        else:
            process = subprocess.Popen(command, cwd=cwd, env=env or self.env)
        self.processes[name] = process
        self.commands[name] = (command, health, cwd, env)
        if health:
            try:
                wait_until_up(health, process, seconds)
            except RuntimeError as error:
                process.kill()
                tail = (self.log_dir / f"{name}.log").read_text()[-3000:] if self.log_dir else ""
                raise RuntimeError(f"{name}: {error}\n{tail}")
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


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_foreground(supervisor: Supervisor, start: Callable[[], str]) -> int:
    """`start()` starts the services and returns what to tell the user; then wait in the
    foreground until Ctrl-C (0) or until one of them dies (1). Everything is stopped after."""
    # `kill`, a service manager's stop and a closed terminal end it like Ctrl-C: otherwise the
    # services outlive it and the next start finds their ports taken.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
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
