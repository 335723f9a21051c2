"""`make deploy-build`, `make deploy-up`, `make deploy-down` (standard library only).

    python3 deploy/tools/deploy.py build   the images (deploy/tools/images.py, --auto)
    python3 deploy/tools/deploy.py up      build, then `docker compose up --wait`: Rasa's REST
                                           channel on localhost:5005, the web app on :8000
    python3 deploy/tools/deploy.py down    stop and remove the containers (volumes are kept;
                                           DEPLOY_DOWN_VOLUMES=1 removes them too)

The Docker engine: DOCKER_HOST, else the system's (/var/run/docker.sock), else one started here
(deploy/tools/engine.py, stopped again by `down`). deploy/.env holds the settings and secrets; a
missing one is made from deploy/.env.example with fresh random secrets.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine  # noqa: E402
import images  # noqa: E402

DEPLOY = Path(__file__).resolve().parents[1]
WORK = DEPLOY / ".work"
ENV_FILE = DEPLOY / ".env"
IMAGES_ENV = WORK / "images.env"
STARTED = WORK / "engine.pid"  # the engine `up` started, for `down`
COMPOSE = DEPLOY / ".venv" / "bin" / "docker-compose"


def use_engine() -> None:
    """Point DOCKER_HOST at a running engine, starting this project's own if there is none."""
    if os.environ.get("DOCKER_HOST"):
        return
    system = Path("/var/run/docker.sock")
    if (
        system.exists()
        and subprocess.run(
            ["docker", "version"],
            capture_output=True,
            env={**os.environ, "DOCKER_HOST": f"unix://{system}"},
        ).returncode
        == 0
    ):
        return
    was_running = engine.running_pid(engine.ENGINE)
    pid = engine.start(engine.ENGINE)
    if not was_running:
        WORK.mkdir(parents=True, exist_ok=True)
        STARTED.write_text(str(pid))
        print(f"started dockerd (pid {pid}) on {engine.ENGINE.host}")
    os.environ["DOCKER_HOST"] = engine.ENGINE.host


def fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def ensure_env_file() -> None:
    if ENV_FILE.exists():
        return
    fresh = {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "STAFF_SESSION_KEY": fernet_key(),
        "CONVERSATION_ID_SECRET": secrets.token_hex(32),
    }
    lines = []
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={fresh[name]}" if name in fresh else line)
    ENV_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ENV_FILE.chmod(0o600)
    print(f"wrote {ENV_FILE.relative_to(DEPLOY.parent)} with fresh secrets")


def compose(*args: str) -> int:
    command = [
        str(COMPOSE),
        "--project-directory",
        str(DEPLOY),
        "-f",
        str(DEPLOY / "compose.yaml"),
        "--env-file",
        str(ENV_FILE),
    ]
    if IMAGES_ENV.exists():
        command += ["--env-file", str(IMAGES_ENV)]
    return subprocess.call([*command, *args])


def build() -> int:
    use_engine()
    return images.main(["--env-file", str(IMAGES_ENV)])


def up() -> int:
    ensure_env_file()
    status = build()
    if status:
        return status
    status = compose("up", "--detach", "--wait", "--remove-orphans")
    if status == 0:
        print(
            "\nREST channel: POST http://localhost:5005/webhooks/rest/webhook"
            "\nweb app:      http://localhost:8000/  (make deploy-down stops it)"
        )
    return status


def down() -> int:
    use_engine()
    args: List[str] = ["down", "--remove-orphans"]
    if os.environ.get("DEPLOY_DOWN_VOLUMES") == "1":
        args.append("--volumes")
    status = compose(*args) if ENV_FILE.exists() else 0
    if STARTED.exists():
        engine.stop(engine.ENGINE, int(STARTED.read_text()))
        STARTED.unlink()
        print("stopped the dockerd `make deploy-up` started")
    return status


def main(argv: List[str]) -> int:
    commands = {"build": build, "up": up, "down": down}
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
