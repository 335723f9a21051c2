"""A Docker engine of this project's own, started and stopped by its pid (standard library only).

    python3 deploy/tools/engine.py start     dockerd on unix:///run/trialbot-docker/docker.sock
    python3 deploy/tools/engine.py stop      stops the one `start` started (its pid file)
    python3 deploy/tools/engine.py env       prints `export DOCKER_HOST=...` for a shell

Data under /var/lib/trialbot-docker (overlay2), so images survive for the next run. A second
engine, a second Swarm node, runs in the network namespace `trialbot-node2`, joined to this
host by a veth pair (192.168.213.1 here, .2 there): `start_node()` / `stop_node()`.

Where a Docker engine is already serving (DOCKER_HOST, or /var/run/docker.sock), `make deploy-up`
uses it; the tests always use this one.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional


@dataclass(frozen=True)
class Engine:
    name: str
    data_root: Path
    exec_root: Path
    netns: Optional[str] = None  # None: this host's network

    @property
    def socket(self) -> Path:
        return self.exec_root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.exec_root / "dockerd.pid"

    @property
    def log(self) -> Path:
        return self.exec_root / "dockerd.log"

    def env(self) -> Dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}


ENGINE = Engine(
    "trialbot",
    Path(os.environ.get("TRIALBOT_DOCKER_ROOT", "/var/lib/trialbot-docker")),
    Path("/run/trialbot-docker"),
)
NODE2 = Engine(
    "trialbot-node2",
    Path(os.environ.get("TRIALBOT_DOCKER_ROOT", "/var/lib/trialbot-docker") + "-node2"),
    Path("/run/trialbot-docker-node2"),
    netns="trialbot-node2",
)
# The veth pair between this host (node 1) and node 2; a /30 of its own.
NODE1_ADDRESS, NODE2_ADDRESS, PREFIX = "192.168.213.1", "192.168.213.2", 30
VETH_HOST, VETH_NODE = "tb-node1", "tb-node2"
# Swarm's overlay networks, away from Docker's bridges (172.17.0.0/16 and up).
SWARM_POOL = "10.213.0.0/16"


def docker(engine: Engine, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args],
        env=engine.env(),
        check=check,
        text=True,
        capture_output=kwargs.pop("capture_output", True),
        **kwargs,
    )


def alive(pid: int) -> bool:
    """Whether `pid` runs; a dead child of this process is reaped (a zombie answers kill 0)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:  # not our child: its parent reaps it
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def running_pid(engine: Engine) -> Optional[int]:
    """The pid of this engine's dockerd when it is alive, else None."""
    try:
        pid = int(engine.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def answers(engine: Engine) -> bool:
    return docker(engine, "version", "--format", "{{.Server.Version}}", check=False).returncode == 0


def start(engine: Engine = ENGINE, timeout: float = 60) -> int:
    """Starts the engine unless it runs; returns its pid. Never touches another dockerd."""
    pid = running_pid(engine)
    if pid and answers(engine):
        return pid
    if pid:  # this engine's own dockerd (its pid file), hung: replaced
        stop(engine, pid)
    if not shutil.which("dockerd"):
        raise RuntimeError("dockerd is not installed: apt-get install -y docker.io")
    engine.exec_root.mkdir(parents=True, exist_ok=True)
    engine.data_root.mkdir(parents=True, exist_ok=True)
    command = [
        "dockerd",
        f"--data-root={engine.data_root}",
        f"--exec-root={engine.exec_root / 'exec'}",
        f"--pidfile={engine.pidfile}",
        f"--host={engine.host}",
        "--storage-driver=overlay2",
        "--log-driver=json-file",
        "--log-opt=max-size=10m",
    ]
    if engine.netns:
        # Its own network and host name (Swarm tells nodes apart by it); exec keeps the pid.
        command = [
            "nsenter",
            f"--net=/var/run/netns/{engine.netns}",
            "unshare",
            "--uts",
            "sh",
            "-c",
            f"hostname {engine.name} && exec {shlex.join(command)}",
        ]
    with open(engine.log, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = engine.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"dockerd ({engine.name}) exited with {process.returncode}:\n{tail}")
        if answers(engine):
            return process.pid
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"dockerd ({engine.name}) did not answer within {timeout:.0f} s")


def stop(engine: Engine = ENGINE, pid: Optional[int] = None, timeout: float = 60) -> None:
    """Stops this engine's dockerd by its pid (SIGTERM, then SIGKILL after `timeout`)."""
    pid = pid or running_pid(engine)
    if not pid:
        return
    if not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    while alive(pid) and time.monotonic() < deadline + 10:
        time.sleep(0.3)


# -- node 2 of the Swarm ----------------------------------------------------------------------


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def _network_up() -> None:
    if NODE2.netns not in _ip("netns", "list").stdout.split():
        _ip("netns", "add", str(NODE2.netns))
    if _ip("link", "show", VETH_HOST, check=False).returncode != 0:
        _ip("link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NODE)
        _ip("link", "set", VETH_NODE, "netns", str(NODE2.netns))
        _ip("addr", "add", f"{NODE1_ADDRESS}/{PREFIX}", "dev", VETH_HOST)
        inside = ["-n", str(NODE2.netns)]
        _ip(*inside, "addr", "add", f"{NODE2_ADDRESS}/{PREFIX}", "dev", VETH_NODE)
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "link", "set", VETH_NODE, "up")
    _ip("link", "set", VETH_HOST, "up")


def _network_down() -> None:
    _ip("link", "del", VETH_HOST, check=False)  # removes its peer too
    _ip("netns", "del", str(NODE2.netns), check=False)


def start_node(timeout: float = 60) -> int:
    """Node 2: its namespace, the veth pair, its dockerd; returns the dockerd's pid."""
    _network_up()
    return start(NODE2, timeout)


def stop_node(pid: Optional[int] = None) -> None:
    stop(NODE2, pid)
    _network_down()


def image_ids(engine: Engine, images: List[str]) -> Dict[str, str]:
    found = docker(engine, "image", "inspect", *images, check=False)
    if found.returncode != 0:
        return {}
    return {tag: item["Id"] for item in json.loads(found.stdout) for tag in item["RepoTags"]}


def copy_images(source: Engine, target: Engine, images: List[str]) -> bool:
    """`docker save | docker load` of the images the target lacks (no registry here); False when
    it had them all already."""
    have = image_ids(target, images)
    want = image_ids(source, images)
    missing = [image for image in images if have.get(image) != want.get(image)]
    if not missing:
        return False
    save = subprocess.Popen(["docker", "save", *missing], env=source.env(), stdout=subprocess.PIPE)
    load = subprocess.run(
        ["docker", "load", "--quiet"], env=target.env(), stdin=save.stdout, capture_output=True
    )
    assert save.stdout is not None
    save.stdout.close()
    if save.wait() != 0 or load.returncode != 0:
        raise RuntimeError(f"copying {missing} to {target.name} failed: {load.stderr!r}")
    return True


def main(argv: List[str]) -> int:
    command = argv[0] if argv else ""
    if command == "start":
        print(f"dockerd pid {start()} on {ENGINE.host}")
    elif command == "stop":
        stop()
    elif command == "env":
        print(f"export DOCKER_HOST={ENGINE.host}")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
