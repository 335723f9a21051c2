"""What the containers run (deploy/docker/Dockerfile); tini is PID 1 and forwards signals.

    entry.py rasa        the Rasa server on RASA_PORT, all interfaces, deploy/endpoints.prod.yml,
                         the channels whose variables are set (as `make run-prod`; it execs, so
                         Rasa itself gets tini's signals)
    entry.py actions     the action server on ACTION_PORT (binds SANIC_HOST, 0.0.0.0 here)
    entry.py web         the web app on WEB_PORT, all interfaces
    entry.py migrate     `python -m bot db upgrade` and `python -m bot seed`, then, with
                         --fallback FILE, the action gateway's outage answer (below)
    entry.py fallback FILE   the answer nginx gives when no action server can: a valid action
                         response with the study phone read from the trial database now
    entry.py health URL  exit 0 when URL answers 2xx within 3 s (the HEALTHCHECKs)

Every setting comes from the environment through bot.config, as everywhere else.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path
from typing import List


def _exec(command: List[str]) -> None:
    """Become `command`, with the environment `make run-prod` gives its replicas."""
    from bot.config import get_settings
    from bot.ops.stack import stack_env

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    env = stack_env(settings)
    env["REDIS_LOCK_PREFIX"] = settings.redis_lock_prefix  # deploy/endpoints.prod.yml reads it
    sys.stdout.flush()
    os.execve(command[0], command, env)


def rasa() -> None:
    from bot.config import get_settings
    from bot.ops.prod import rasa_replica_command

    get_settings().var_dir.mkdir(parents=True, exist_ok=True)  # credentials.yml goes there
    _exec(rasa_replica_command(get_settings().rasa_port))


def actions() -> None:
    from bot.config import get_settings
    from bot.ops.stack import action_command

    _exec(action_command(get_settings().action_port))


def web() -> None:
    from aiohttp import web as aiohttp_web

    from bot.config import get_settings
    from bot.web.app import create_app

    settings = get_settings()
    # bot.web.app.run binds 127.0.0.1; in a container the proxy reaches it on its network.
    aiohttp_web.run_app(create_app(settings), host="0.0.0.0", port=settings.web_port)


def fallback(path: str) -> int:
    from bot.config import get_settings
    from bot.ops.prod import fallback_response, fallback_text

    settings = get_settings()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tmp")
    text = fallback_text(settings.database_url, settings.trial_id)
    partial.write_text(fallback_response(text), encoding="utf-8")
    partial.replace(target)  # nginx never reads a half-written file
    print(f"{target}: {text}")
    return 0


def migrate(args: List[str]) -> int:
    from bot.cli import main

    if args and not (args[0] == "--fallback" and len(args) == 2):
        print(__doc__, file=sys.stderr)
        return 2
    for command in (["db", "upgrade"], ["seed"]):
        status = main(command)
        if status:
            return status
    return fallback(args[1]) if args else 0


def health(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if 200 <= response.status < 300 else 1
    except OSError as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


def main(argv: List[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    if command == "rasa" and not args:
        rasa()
    elif command == "actions" and not args:
        actions()
    elif command == "web" and not args:
        web()
        return 0
    elif command == "migrate":
        return migrate(args)
    elif command == "fallback" and len(args) == 1:
        return fallback(args[0])
    elif command == "health" and len(args) == 1:
        return health(args[0])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
