"""The three images: non-root, tini as PID 1, health checks, exactly the pinned packages of
requirements.in (no test or development tool), one model, and no trace of the extra CA
certificate that pip needed during the build (it went in as a BuildKit secret)."""

from __future__ import annotations

import glob
import json
import re
import time
from pathlib import Path
from typing import Dict, List

import pytest

from bot.config import ROOT
from tests.deploy.conftest import image_builder, run

pytestmark = pytest.mark.deploy
TARGETS = ("rasa", "actions", "web")
DEV_TOOLS = {"pytest", "pytest-asyncio", "pytest-timeout", "playwright", "ruff", "mypy"}


def inspect(image: str) -> Dict:
    found = run(["docker", "image", "inspect", image])
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout)[0]


def in_image(image: str, *command: str, user: str = "") -> str:
    args = ["docker", "run", "--rm", "--network", "none", "--entrypoint", command[0]]
    if user:
        args += ["--user", user]
    done = run([*args, image, *command[1:]], timeout=300)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def ca_markers() -> List[str]:
    """One line of base64 from the middle of each extra CA certificate of this machine."""
    markers = []
    for path in sorted(glob.glob("/usr/local/share/ca-certificates/**/*.crt", recursive=True)):
        body = [
            line for line in Path(path).read_text().splitlines() if line and "-----" not in line
        ]
        if body:
            markers.append(body[len(body) // 2])
    return markers


def pins() -> Dict[str, str]:
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pinned[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pinned


@pytest.mark.parametrize("target", TARGETS)
def test_non_root_tini_healthcheck(built_images, target):
    config = inspect(built_images[f"{target.upper()}_IMAGE"])["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/usr/bin/tini", "--"]
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert not any(e.startswith(("PIP_CERT", "REQUESTS_CA", "SSL_CERT")) for e in config["Env"])


def test_only_the_pinned_runtime_packages(built_images):
    image = built_images["ACTIONS_IMAGE"]
    frozen = in_image(
        image, "/opt/venv/bin/pip", "list", "--format=json", "--disable-pip-version-check"
    )
    installed = {
        re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"] for p in json.loads(frozen)
    }
    assert not DEV_TOOLS & set(installed), DEV_TOOLS & set(installed)
    pinned = pins()
    differ = {n: (v, pinned[n]) for n, v in installed.items() if n in pinned and pinned[n] != v}
    assert differ == {}
    assert {"rasa", "rasa-sdk", "psycopg2-binary", "jieba"} <= set(installed)
    # One virtualenv, one layer, shared by the three images: they have the base image's layers,
    # the runtime packages' and the virtualenv's in common (code layers differ when the code
    # changed between two builds).
    layers = [inspect(built_images[f"{t.upper()}_IMAGE"])["RootFS"]["Layers"] for t in TARGETS]
    base = inspect(image_builder.LOCAL_IMAGES["BASE_IMAGE"])["RootFS"]["Layers"]
    common = 0
    while all(len(ls) > common for ls in layers) and len({ls[common] for ls in layers}) == 1:
        common += 1
    assert layers[0][: len(base)] == base and common >= len(base) + 2, (common, len(base))


def test_the_rasa_image_has_the_newest_model_only(built_images):
    image = built_images["RASA_IMAGE"]
    listed = in_image(image, "sh", "-c", "cd /app/models && stat -c '%n %s' *").split("\n")
    models = [line.split() for line in listed if line.strip()]
    assert len(models) == 1, models
    name, size = models[0]
    assert (ROOT / "models" / name).stat().st_size == int(size)
    # The newest of models/ when the image was built (others may train meanwhile).
    built = inspect(image)["Metadata"]["LastTagTime"][:19]
    older = [
        p
        for p in (ROOT / "models").glob("*.tar.gz")
        if time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(p.stat().st_mtime)) <= built
    ]
    assert name == max(older, key=lambda p: p.stat().st_mtime).name
    assert "tests" not in in_image(image, "ls", "/app").split()


@pytest.mark.parametrize("target", TARGETS)
def test_the_extra_ca_certificate_is_in_no_image(built_images, target):
    markers = ca_markers()
    if not markers:
        pytest.skip("this machine has no extra CA certificate")
    image = built_images[f"{target.upper()}_IMAGE"]
    history = run(["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image]).stdout
    metadata = json.dumps(inspect(image))
    for marker in markers:
        assert marker not in history and marker not in metadata
    # The file system: every file, one pass. An image whose layers are all the Rasa image's
    # (built from the same runtime stage) is covered by the Rasa image's scan.
    rasa_layers = set(inspect(built_images["RASA_IMAGE"])["RootFS"]["Layers"])
    if target != "rasa" and set(inspect(image)["RootFS"]["Layers"]) <= rasa_layers:
        return
    patterns = " ".join(f"-e '{m}'" for m in markers)
    script = (
        "grep -rlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev "
        f"{patterns} / 2>/dev/null; true"
    )
    found = in_image(image, "sh", "-c", script, user="0")
    assert found.strip() == "", f"the extra CA is in {image}: {found}"
