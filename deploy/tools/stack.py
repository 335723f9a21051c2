"""deploy/compose.yaml as `docker stack deploy` takes it (needs PyYAML: deploy/.venv).

    deploy/.venv/bin/python deploy/tools/stack.py deploy/compose.yaml > stack.yaml
    set -a; . deploy/.env; set +a      # stack deploy interpolates from the environment only
    docker stack deploy --resolve-image never -c stack.yaml trialbot

The Swarm CLI's loader rejects three things Compose needs or allows, so they are dropped, and
nothing else is changed: the long `depends_on` with conditions (moby/moby#46827; Swarm orders
nothing, services restart until what they need answers), the top-level `name` (the stack's name
is the argument), and a port's `host_ip` (Swarm publishes host-mode ports on every address of
the node). Relative paths (env_file, configs) are made absolute, since the output may be read
from another folder. Variables are left for `docker stack deploy` to interpolate.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict

import yaml

DROPPED_TOP = ("name",)
DROPPED_SERVICE = ("depends_on",)
DROPPED_PORT = ("host_ip",)


def _absolute(value: str, base: Path) -> str:
    if "${" in value:
        # `${TRIALBOT_ENV_FILE:-.env}`: anchor the default, keep the variable.
        head, _, rest = value.partition(":-")
        if rest.endswith("}") and not rest.startswith("/"):
            return f"{head}:-{base / rest[:-1]}}}"
        return value
    return value if value.startswith("/") else str(base / value)


def for_swarm(compose: Dict[str, Any], base: Path) -> Dict[str, Any]:
    stack = {k: v for k, v in compose.items() if k not in DROPPED_TOP and not k.startswith("x-")}
    for service in stack.get("services", {}).values():
        for key in DROPPED_SERVICE:
            service.pop(key, None)
        for port in service.get("ports", []):
            if isinstance(port, dict):
                for key in DROPPED_PORT:
                    port.pop(key, None)
        if "env_file" in service:
            files = service["env_file"]
            files = [files] if isinstance(files, str) else files
            service["env_file"] = [_absolute(f, base) for f in files]
    for config in stack.get("configs", {}).values():
        if "file" in config:
            config["file"] = _absolute(config["file"], base)
    return stack


def main(argv: list) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[0]).resolve()
    compose = yaml.safe_load(path.read_text(encoding="utf-8"))
    # Anchors and merge keys are resolved by the loader; the output has neither.
    yaml.safe_dump(for_swarm(compose, path.parent), sys.stdout, sort_keys=False, width=120)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
