"""Starts the whole stack in the foreground: action server, Rasa server and web app.

Ctrl-C (or any one of them dying) stops all of them. Every setting has a default, so a bare
machine needs no environment variables; see the README for the list.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

from bot.config import ROOT, Settings, environment, get_settings
from bot.ops.supervisor import Supervisor, run_foreground, wait_until_up

BIN = Path(sys.executable).parent


def stack_env(settings: Optional[Settings] = None) -> Dict[str, str]:
    """The environment for Rasa, the action server and the web app: this process's, with the
    settings' values filled in for the variables Rasa's endpoints.yml and rasa_sdk read."""
    settings = settings or get_settings()
    env = environment()
    env.update(
        TRIAL_DATABASE_URL=settings.database_url,
        TRACKER_STORE_URL=settings.tracker_store_url,
        ACTION_ENDPOINT_URL=settings.action_endpoint_url,
        # rasa_sdk binds the action server to SANIC_HOST, 0.0.0.0 unless set: keep it private.
        SANIC_HOST=settings.sanic_host,
        # Rasa's anonymous usage telemetry: nothing about a hospital's chats leaves the machine.
        RASA_TELEMETRY_ENABLED="true" if settings.rasa_telemetry_enabled else "false",
        BOT_VAR_DIR=str(settings.var_dir),
    )
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def rasa_command(port: int, settings: Optional[Settings] = None) -> List[str]:
    """`rasa run` with the channels whose environment variables are set."""
    from bot.rasa_ext.channels.credentials import write_credentials

    settings = settings or get_settings()
    credentials = write_credentials(settings.var_dir / "credentials.yml", environment())
    # bot.rasa_ext.server is `rasa` with a fix for Rasa 3.6's per-response schema check.
    return [
        sys.executable,
        "-m",
        "bot.rasa_ext.server",
        "run",
        "--port",
        str(port),
        "--model",
        str(ROOT / "models"),
        "--interface",
        settings.rasa_interface,
        "--credentials",
        str(credentials),
        "--endpoints",
        str(ROOT / "endpoints.yml"),
        "--cors",
        "*",
    ]


def action_command(port: int) -> List[str]:
    return [str(BIN / "rasa"), "run", "actions", "--port", str(port), "--actions", "actions"]


def run_stack(web: bool = True) -> int:
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(stack_env(settings))
    services = [
        (
            "action server",
            action_command(settings.action_port),
            f"http://127.0.0.1:{settings.action_port}/health",
        ),
        (
            "Rasa server",
            rasa_command(settings.rasa_port),
            f"http://127.0.0.1:{settings.rasa_port}/",
        ),
    ]
    if web:
        services.append(
            (
                "web app",
                [sys.executable, "-m", "bot", "web"],
                f"http://127.0.0.1:{settings.web_port}/health",
            )
        )

    def start() -> str:
        for label, command, health in services:
            print(f"starting {label}: {' '.join(command)}", flush=True)
            supervisor.start(label, command, health, 180)
            print(f"{label} is up: {health.rsplit('/', 1)[0]}", flush=True)
        return (
            f"\nChat over REST: POST http://127.0.0.1:{settings.rasa_port}/webhooks/rest/webhook"
            + (
                f"\nDemo page with the chat widget: http://127.0.0.1:{settings.web_port}/"
                if web
                else ""
            )
        )

    return run_foreground(supervisor, start)


def run_shell() -> int:
    """`rasa shell` against the action server, with the same environment."""
    settings = get_settings()
    env = stack_env()
    actions = subprocess.Popen(action_command(settings.action_port), cwd=ROOT, env=env)
    try:
        wait_until_up(f"http://127.0.0.1:{settings.action_port}/health", actions, 120)
        return subprocess.call(
            [
                str(BIN / "rasa"),
                "shell",
                "--model",
                str(ROOT / "models"),
                "--endpoints",
                str(ROOT / "endpoints.yml"),
            ],
            cwd=ROOT,
            env=env,
        )
    finally:
        actions.terminate()
        actions.wait(timeout=15)
