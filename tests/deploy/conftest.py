"""`make deploy-test` (pytest -m deploy): the containers, for real, on an engine of their own.

The engine (deploy/tools/engine.py) is a dockerd started here and stopped here by its pid (a
running one started by `make deploy-up` is used and left running). The images are built with
the local base (debootstrap + this machine's Python; no registry is reachable). Without
`-m deploy` the tests marked `deploy` are deselected, so `make test` and `make test-unit` never
run them (test_generated.py, which needs no Docker, runs there).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Dict, Iterator, List, Optional

import pytest

from bot.config import ROOT
from bot.rasa_ext.channels import guard
from tests.support.rest import post

TOOLS = ROOT / "deploy" / "tools"


def _tool(name: str) -> ModuleType:
    """deploy/tools/NAME.py (standard library only), imported under a name of its own."""
    spec = importlib.util.spec_from_file_location(f"trialbot_deploy_{name}", TOOLS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


engines = _tool("engine")
image_builder = _tool("images")

DEPLOY_VENV = ROOT / "deploy" / ".venv" / "bin"
COMPOSE = DEPLOY_VENV / "docker-compose"
DEPLOY_UP_ENGINE = ROOT / "deploy" / ".work" / "engine.pid"  # written by `make deploy-up`
PHONE = "0086-18991232095"


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    expression = config.getoption("markexpr") or ""
    if "deploy" in expression and "not deploy" not in expression:
        return
    deploy = [item for item in items if item.get_closest_marker("deploy")]
    if deploy:
        config.hook.pytest_deselected(items=deploy)
        items[:] = [item for item in items if not item.get_closest_marker("deploy")]


def timed(label: str, started: float) -> None:
    print(f"\n[deploy-test] {label}: {time.monotonic() - started:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def run(command: List[str], env: Optional[Dict[str, str]] = None, timeout: float = 600, **kw):
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[engines.Engine]:
    """This project's dockerd, started here and stopped here by its pid; one that `make
    deploy-up` started (deploy/.work/engine.pid) is used and left running, one a crashed run
    left behind is used and stopped."""
    if not COMPOSE.exists():
        pytest.fail("deploy/.venv is missing: run `make deploy-tools` (make deploy-test does)")
    started = time.monotonic()
    pid = engines.start(engines.ENGINE)
    os.environ["DOCKER_HOST"] = engines.ENGINE.host  # for the tools this process runs
    timed(f"dockerd pid {pid}", started)
    yield engines.ENGINE
    deploy_up = DEPLOY_UP_ENGINE.read_text().strip() if DEPLOY_UP_ENGINE.exists() else ""
    if deploy_up != str(pid):
        started = time.monotonic()
        engines.stop(engines.ENGINE, pid)
        timed("dockerd stopped", started)


class Node2:
    """The second Swarm node, started and given the images in the background while the Compose
    tests run (no registry: `docker save | docker load`, a minute when they changed)."""

    def __init__(self, images: List[str]):
        self.pid: Optional[int] = None
        self.error: Optional[BaseException] = None
        self.copied = False
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._prepare, args=(images,), daemon=True)
        self.thread.start()

    def _prepare(self, images: List[str]) -> None:
        started = time.monotonic()
        try:
            self.pid = engines.start_node()
            self.copied = engines.copy_images(engines.ENGINE, engines.NODE2, images)
        except BaseException as error:  # raised again by ready()
            self.error = error
        self.seconds = time.monotonic() - started

    def ready(self) -> int:
        self.thread.join(timeout=900)
        if self.error:
            raise self.error
        assert self.pid, "node 2 did not start"
        print(
            f"\n[deploy-test] node 2 up, images {'copied' if self.copied else 'already there'}: "
            f"{self.seconds:.0f} s (in the background)",
            flush=True,
        )
        return self.pid

    def stop(self) -> None:
        self.thread.join(timeout=900)
        started = time.monotonic()
        engines.stop_node(self.pid)
        timed("node 2 stopped", started)


_node2: List[Node2] = []


@pytest.fixture(scope="session")
def built_images(docker_engine, tmp_path_factory) -> Iterator[Dict[str, str]]:
    """The local base images when missing, and the three images (cached when unchanged); then
    node 2 of the Swarm test is prepared in the background."""
    started = time.monotonic()
    env_file = tmp_path_factory.mktemp("images") / "images.env"
    assert image_builder.main(["--local", "--env-file", str(env_file)]) == 0
    timed("images", started)
    built = dict(line.split("=", 1) for line in env_file.read_text().split())
    _node2.append(Node2([built[f"{name}_IMAGE"] for name in ("RASA", "ACTIONS", "WEB")]))
    yield built
    _node2.pop().stop()


@pytest.fixture(scope="session")
def node2(built_images) -> Node2:
    return _node2[0]


# -- talking to the assistant -----------------------------------------------------------------


def say(port: int, sender: str, text: str) -> str:
    status, replies = post(port, sender, text, timeout=60)
    assert status == 200, (status, text)
    return "\n".join(r.get("text", "") for r in replies)


def conversation_id(sender: str, secret: str) -> str:
    """The tracker's id of a REST sender (the channel keys conversations by an HMAC of it)."""
    return guard.conversation_id("rest", sender, secret)


def wait_for(predicate, seconds: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what} not within {seconds:.0f} s (last: {last!r})")


def gateway_without_limits(folder: Path) -> Path:
    """deploy/nginx/nginx.conf as generated with the public API's per-address limits off (every
    test sender shares one address); the Swarm test checks the shipped limits."""
    config = folder / "nginx-no-limits.conf"
    env = {**os.environ, "PROD_PUBLIC_RATE": "0", "PROD_PUBLIC_CONNECTIONS": "0"}
    done = run(
        [sys.executable, "-m", "bot.ops.nginx", "compose", "--from-environment"], env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    config.write_text(done.stdout)
    return config


def write_env_file(path: Path, **extra: str) -> Dict[str, str]:
    """A deploy/.env for a test stack: fresh secrets; rate limits off, since every test sender
    comes from this one host and the load tests' senders talk far faster than a person (the
    limits have their own tests: tests/rasa_ext/channels, the Swarm test); a shorter lock
    lifetime."""
    values = {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "STAFF_SESSION_KEY": fernet_key(),
        "CONVERSATION_ID_SECRET": secrets.token_hex(32),
        "RATE_LIMIT_PER_ADDRESS": "0",
        "RATE_LIMIT_PER_CONVERSATION": "0",
        # Rasa's lock lifetime (60 s by default): how long a conversation whose message died
        # with a replica stays locked. Shorter here, so the kill test waits less.
        "TICKET_LOCK_LIFETIME": "20",
        "TRIALBOT_ENV_FILE": str(path),
        **extra,
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return values
