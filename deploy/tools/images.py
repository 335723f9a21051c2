"""Builds the images of deploy/compose.yaml (standard library only; DOCKER_HOST names the engine).

    python3 deploy/tools/images.py [--local | --official | --auto] [--env-file FILE]

The assistant's three images (deploy/docker/Dockerfile: rasa, actions, web) are built every
time: BuildKit's cache makes an unchanged build take seconds. The Rasa image gets the newest
models/*.tar.gz. Base images are built only when missing:

* --official: FROM python:3.10-slim-bookworm; PostgreSQL, Redis and nginx are the official
  images, pulled by Compose.
* --local (no registry reachable; the tests): a Debian bookworm base from debootstrap
  (trialbot-base:bookworm), this machine's pyenv CPython 3.10 on it (trialbot-python), and
  PostgreSQL, Redis and nginx from Debian's packages (deploy/docker/local/).
* --auto (default): --official when the registry answers, else --local.

--env-file writes the image variables compose.yaml reads (RASA_IMAGE, POSTGRES_IMAGE, ...).
An intercepting proxy's CA (EXTRA_CA_FILE, else /usr/local/share/ca-certificates/*.crt) goes
to pip as a BuildKit secret and into no image.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
LOCAL = DOCKER / "local"
TAG = os.environ.get("TRIALBOT_IMAGE_TAG", "local")
APP_IMAGES = {target: f"trialbot-{target}:{TAG}" for target in ("rasa", "actions", "web")}
OFFICIAL = {
    "BASE_IMAGE": "python:3.10-slim-bookworm",
    "POSTGRES_IMAGE": "postgres:16-bookworm",
    "REDIS_IMAGE": "redis:7-bookworm",
    "NGINX_IMAGE": "nginx:1.27-bookworm",
}
DEBIAN_BASE = "trialbot-base:bookworm"
DEBOOTSTRAP = "trialbot-base:bookworm-debootstrap"
LOCAL_IMAGES = {
    "BASE_IMAGE": "trialbot-python:3.10-bookworm",
    "POSTGRES_IMAGE": "trialbot-postgres:15-bookworm",
    "REDIS_IMAGE": "trialbot-redis:7-bookworm",
    "NGINX_IMAGE": "trialbot-nginx:1.22-bookworm",
}
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")


def log(message: str) -> None:
    print(f"[images] {message}", flush=True)


def run(command: List[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=True, **kwargs)


def exists(image: str) -> bool:
    found = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return found.returncode == 0


def buildkit() -> Tuple[List[str], Dict[str, str]]:
    """A build command with BuildKit (secrets, cache mounts): `docker buildx build --load` when
    the buildx plugin is there, else a docker CLI older than 23 with DOCKER_BUILDKIT=1 (Debian's
    docker.io ships one at /usr/bin/docker)."""
    candidates = [shutil.which("docker"), "/usr/bin/docker"]
    for cli in dict.fromkeys(c for c in candidates if c and Path(c).exists()):
        probe = subprocess.run([cli, "buildx", "version"], capture_output=True)
        if probe.returncode == 0:
            return [cli, "buildx", "build", "--load"], dict(os.environ)
    for cli in dict.fromkeys(c for c in candidates if c and Path(c).exists()):
        version = subprocess.run(
            [cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True
        ).stdout.strip()
        if version and int(version.split(".")[0]) < 23:
            return [cli, "build"], {**os.environ, "DOCKER_BUILDKIT": "1"}
    raise RuntimeError(
        "no docker CLI that builds with BuildKit: install the buildx plugin (docker-buildx) "
        "or Debian's docker.io"
    )


LOGS = ROOT / "deploy" / ".work" / "build"


def build(args: List[str]) -> None:
    """A BuildKit build; its output goes to deploy/.work/build/TAG.log (printed when it fails)."""
    command, env = buildkit()
    LOGS.mkdir(parents=True, exist_ok=True)
    log_file = LOGS / (args[args.index("-t") + 1].replace("/", "_").replace(":", "_") + ".log")
    with open(log_file, "w") as output:
        output.write(f"$ {' '.join([*command, *args])}\n")
        output.flush()
        done = subprocess.run(
            [*command, "--progress=plain", *args], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        print(log_file.read_text()[-6000:], file=sys.stderr)
        raise RuntimeError(f"docker build failed ({log_file}): {' '.join(args)}")


def extra_ca() -> Optional[str]:
    """The file with the extra CA certificates pip needs behind an intercepting proxy."""
    given = os.environ.get("EXTRA_CA_FILE")
    if given:
        return given
    found = sorted(glob.glob("/usr/local/share/ca-certificates/**/*.crt", recursive=True))
    if not found:
        return None
    bundle = Path(tempfile.mkdtemp(prefix="trialbot-ca-")) / "extra-ca.pem"
    bundle.write_bytes(b"\n".join(Path(f).read_bytes().strip() for f in found) + b"\n")
    return str(bundle)


# -- local base images ------------------------------------------------------------------------


def debian_base() -> None:
    """trialbot-base:bookworm: `debootstrap --variant=minbase bookworm`, imported (~35 s), then
    bookworm's updates applied (deploy/docker/local/base.Dockerfile)."""
    if exists(DEBIAN_BASE):
        return
    if not exists(DEBOOTSTRAP):
        debootstrap()
    build(
        [
            "-f",
            str(LOCAL / "base.Dockerfile"),
            "--build-arg",
            f"BASE_IMAGE={DEBOOTSTRAP}",
            "-t",
            DEBIAN_BASE,
            str(LOCAL),
        ]
    )


def debootstrap() -> None:
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is not installed: apt-get install -y debootstrap")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="trialbot-rootfs-", dir="/var/tmp") as rootfs:
        run(
            ["debootstrap", "--variant=minbase", "bookworm", rootfs, MIRROR],
            stdout=subprocess.DEVNULL,
        )
        sources = Path(rootfs) / "etc" / "apt" / "sources.list"
        sources.write_text(
            f"deb {MIRROR} bookworm main\n"
            f"deb {MIRROR} bookworm-updates main\n"
            f"deb {SECURITY_MIRROR} bookworm-security main\n"
        )
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (Path(rootfs) / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        run(
            ["docker", "import", "--change", 'CMD ["/bin/bash"]', "-", DEBOOTSTRAP],
            stdin=tar.stdout,
            stdout=subprocess.DEVNULL,
        )
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrap root failed")
    log(f"{DEBOOTSTRAP} from debootstrap in {time.monotonic() - start:.0f} s")


def python_prefix() -> Path:
    """The pyenv-built CPython 3.10 of this machine (PYTHON: its interpreter)."""
    candidates = [os.environ.get("PYTHON", "")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        candidates += sorted(glob.glob(f"{root}/versions/3.10.*/bin/python3.10"), reverse=True)
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10.*/bin/python3.10")))
    for candidate in filter(None, candidates):
        path = Path(candidate).resolve()
        if path.exists() and path.name.startswith("python3.10"):
            return path.parent.parent
    raise RuntimeError("no pyenv CPython 3.10 found for the local base (pyenv install 3.10.13)")


def timed_build(args: List[str]) -> None:
    start = time.monotonic()
    build(args)
    log(f"{args[args.index('-t') + 1]} in {time.monotonic() - start:.0f} s")


def python_base() -> None:
    """trialbot-python: the Debian base with this machine's CPython 3.10 (python.Dockerfile)."""
    if exists(LOCAL_IMAGES["BASE_IMAGE"]):
        return
    prefix = python_prefix()
    timed_build(
        [
            "-f",
            str(LOCAL / "python.Dockerfile"),
            "--build-arg",
            f"BASE_IMAGE={DEBIAN_BASE}",
            "--build-arg",
            f"PYTHON_PREFIX={prefix}",
            "-t",
            LOCAL_IMAGES["BASE_IMAGE"],
            str(prefix),
        ]
    )


def service_bases() -> None:
    """PostgreSQL, Redis and nginx from Debian's packages, each only when missing."""
    for name in ("postgres", "redis", "nginx"):
        image = LOCAL_IMAGES[f"{name.upper()}_IMAGE"]
        if not exists(image):
            timed_build(
                [
                    "-f",
                    str(LOCAL / f"{name}.Dockerfile"),
                    "--build-arg",
                    f"BASE_IMAGE={DEBIAN_BASE}",
                    "-t",
                    image,
                    str(LOCAL),
                ]
            )


class Background(threading.Thread):
    """A function on a thread of its own; join() raises what it raised."""

    def __init__(self, function: Callable[[], None]):
        super().__init__(daemon=True)
        self.function = function
        self.error: Optional[BaseException] = None
        self.start()

    def run(self) -> None:
        try:
            self.function()
        except BaseException as error:  # raised again by join()
            self.error = error

    def join(self, timeout: Optional[float] = None) -> None:
        super().join(timeout)
        if self.error:
            raise self.error


# -- the assistant's images -------------------------------------------------------------------


def newest_model() -> str:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise RuntimeError("no trained model in models/: run `make train` first")
    return models[-1].relative_to(ROOT).as_posix()


def app_images(base_image: str, targets: List[str]) -> None:
    ca = extra_ca()
    secret = ["--secret", f"id=extra_ca,src={ca}"] if ca else []
    model = newest_model()
    for target in targets:
        start = time.monotonic()
        build(
            [
                "-f",
                str(DOCKER / "Dockerfile"),
                "--target",
                target,
                "--build-arg",
                f"BASE_IMAGE={base_image}",
                "--build-arg",
                f"MODEL={model}",
                *secret,
                "-t",
                APP_IMAGES[target],
                str(ROOT),
            ]
        )
        log(
            f"{APP_IMAGES[target]} in {time.monotonic() - start:.0f} s"
            + (f" (model {model})" if target == "rasa" else "")
        )


def registry_reachable() -> bool:
    if exists(OFFICIAL["BASE_IMAGE"]):
        return True
    pulled = subprocess.run(
        ["docker", "pull", "--quiet", OFFICIAL["BASE_IMAGE"]], capture_output=True, timeout=600
    )
    return pulled.returncode == 0


def image_variables(local: bool) -> Dict[str, str]:
    chosen = LOCAL_IMAGES if local else OFFICIAL
    variables = {k: v for k, v in chosen.items() if k != "BASE_IMAGE"}
    variables.update({f"{t.upper()}_IMAGE": image for t, image in APP_IMAGES.items()})
    return variables


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--local", action="store_const", const="local", dest="mode")
    mode.add_argument("--official", action="store_const", const="official", dest="mode")
    mode.add_argument("--auto", action="store_const", const="auto", dest="mode")
    parser.add_argument("--env-file", type=Path, help="write the image variables here")
    parser.add_argument("--targets", default="rasa,actions,web")
    args = parser.parse_args(argv)
    mode = args.mode or os.environ.get("TRIALBOT_IMAGES", "auto")
    local = mode == "local" or (mode == "auto" and not registry_reachable())
    start = time.monotonic()
    services = None
    if local:
        log("local base images (Debian packages, this machine's Python 3.10)")
        debian_base()
        python_base()
        # PostgreSQL, Redis and nginx (apt, mostly waiting on the network) while pip fills the
        # virtualenv: a cold build a minute shorter.
        services = Background(service_bases)
    app_images((LOCAL_IMAGES if local else OFFICIAL)["BASE_IMAGE"], args.targets.split(","))
    if services:
        services.join()
    if args.env_file:
        args.env_file.parent.mkdir(parents=True, exist_ok=True)
        args.env_file.write_text(
            "".join(f"{k}={v}\n" for k, v in sorted(image_variables(local).items()))
        )
    log(f"done in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
