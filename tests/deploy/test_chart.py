"""The Helm chart, offline: `helm lint --strict` and `helm template` (Helm v4's Go SDK through
helm-python-sdk, no cluster) with three value sets, every manifest through
`kubernetes-validate --strict`; and the chart agrees with deploy/compose.yaml and the images on
environment variables, ports, probes and commands. Nothing here runs on a Kubernetes cluster."""

from __future__ import annotations

import re
import subprocess
from typing import Any, Dict, List

import pytest
import yaml

from bot.config import ROOT
from tests.deploy.conftest import DEPLOY_VENV

pytestmark = pytest.mark.deploy
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "trialbot"
APPS = {"rasa": (5005, "/"), "actions": (5055, "/health"), "web": (8000, "/health")}
# What deploy/.env.example holds for Compose itself, not for the assistant's processes.
DEPLOYMENT_ONLY = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "RASA_REPLICAS",
    "ACTION_REPLICAS",
    "PUBLISH_ADDRESS",
    "PUBLISH_RASA_PORT",
    "PUBLISH_WEB_PORT",
    "PUBLIC_RASA_URL",
}


def chart_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(DEPLOY_VENV / "python"), str(DEPLOY / "tools" / "chart.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def compose() -> Dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def manifests() -> List[Dict[str, Any]]:
    rendered = chart_tool("template")
    assert rendered.returncode == 0, rendered.stderr
    return [m for m in yaml.safe_load_all(rendered.stdout) if m]


def deployment(manifests, component: str) -> Dict[str, Any]:
    return next(
        m
        for m in manifests
        if m["kind"] == "Deployment" and m["metadata"]["name"] == f"trialbot-{component}"
    )


def seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)s", str(value))
    assert match, value
    return int(match.group(1))


def dockerfile_healthchecks() -> Dict[str, Dict[str, Any]]:
    """HEALTHCHECK of each target of deploy/docker/Dockerfile: timings and URL."""
    found, target = {}, None
    lines = (DEPLOY / "docker" / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    for line in lines:
        if line.startswith("FROM "):
            target = line.split()[-1]
        elif line.startswith("HEALTHCHECK"):
            options = dict(re.findall(r"--([a-z-]+)=(\S+)", line))
            found[target] = {**options, "url": re.findall(r'"(http://[^"]+)"', line)[0]}
    return found


def test_lint_render_and_strict_validation_with_every_value_set():
    checked = chart_tool("check")
    print(checked.stdout)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for name in ("default", "external-databases", "autoscaling"):
        assert f"{name}: lint clean" in checked.stdout
    assert checked.stdout.count("--strict") == 6 and "FAILED" not in checked.stdout
    assert "HorizontalPodAutoscaler" in checked.stdout  # autoscaling on renders one


def test_chart_and_compose_give_the_same_environment(compose, manifests):
    x_app = compose["x-app"]["environment"]
    example = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if re.match(r"^[A-Z][A-Z0-9_]*=", line)
    }
    compose_names = set(x_app) | (example - DEPLOYMENT_ONLY)
    configmap = next(
        m for m in manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "trialbot"
    )
    secret = next(
        m for m in manifests if m["kind"] == "Secret" and m["metadata"]["name"] == "trialbot"
    )
    for component in APPS:
        container = deployment(manifests, component)["spec"]["template"]["spec"]["containers"][0]
        explicit = {e["name"]: e.get("value") for e in container["env"]}
        chart_names = set(explicit) | set(configmap["data"]) | set(secret["data"])
        assert chart_names == compose_names, (component, chart_names ^ compose_names)
        for name in (
            "RASA_PORT",
            "ACTION_PORT",
            "WEB_PORT",
            "RASA_INTERFACE",
            "SANIC_HOST",
            "BOT_VAR_DIR",
            "HOME",
        ):
            assert explicit[name] == str(x_app[name]), name
        assert [
            r.get("configMapRef", r.get("secretRef"))["name"] for r in container["envFrom"]
        ] == ["trialbot", "trialbot"]


def test_chart_compose_and_images_agree_on_ports_probes_and_commands(compose, manifests):
    images = dockerfile_healthchecks()
    for component, (port, path) in APPS.items():
        service = compose["services"][component]
        check = service["healthcheck"]
        url = f"http://127.0.0.1:{port}{path}"
        assert check["test"][-1] == url and images[component]["url"] == url
        for option, key in (
            ("interval", "interval"),
            ("timeout", "timeout"),
            ("start-period", "start_period"),
        ):
            assert seconds(images[component][option]) == seconds(check[key]), (component, key)
        assert int(images[component]["retries"]) == check["retries"]

        pod = deployment(manifests, component)["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        assert container["args"] == service["command"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": path, "port": port}, probe
            assert container[probe]["periodSeconds"] == seconds(check["interval"])
            assert container[probe]["timeoutSeconds"] == seconds(check["timeout"])
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["failureThreshold"] == check["retries"]
        startup = container["startupProbe"]
        assert startup["failureThreshold"] * startup["periodSeconds"] == seconds(
            check["start_period"]
        )
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert service["read_only"] is True
        assert {"type": "tmpfs", "target": "/tmp"} in service["volumes"]
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        svc = next(
            m
            for m in manifests
            if m["kind"] == "Service" and m["metadata"]["name"] == f"trialbot-{component}"
        )
        assert svc["spec"]["ports"][0]["port"] == port
    gateway = deployment(manifests, "action-gateway")["spec"]["template"]["spec"]
    assert gateway["containers"][0]["ports"][0]["containerPort"] == 5055
    assert compose["x-app"]["environment"]["ACTION_ENDPOINT_URL"].endswith(":5055/webhook")


def test_the_chart_renders_the_generated_gateway_config(manifests):
    rendered = next(
        m
        for m in manifests
        if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "trialbot-action-gateway"
    )["data"]["nginx.conf"]
    assert "set $actions trialbot-actions-pods.trialbot.svc.cluster.local;" in rendered
    assert "{{" not in rendered and "error_page 500 502 503 504 =200" in rendered


def render(values_file: str) -> List[Dict[str, Any]]:
    rendered = chart_tool("template", str(CHART / "ci" / values_file))
    assert rendered.returncode == 0, rendered.stderr
    return [m for m in yaml.safe_load_all(rendered.stdout) if m]


def test_external_databases_replace_the_bundled_ones():
    manifests = render("external-databases-values.yaml")
    names = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    assert not {kind for kind, _ in names} & {"StatefulSet", "PersistentVolumeClaim"}
    assert not {n for _, n in names if "postgres" in n or "redis" in n}, names
    urls = next(m for m in manifests if m["kind"] == "Secret")["stringData"]
    assert urls["TRIAL_DATABASE_URL"].startswith("postgresql://trialbot:secret@db.hospital")
    assert urls["REDIS_URL"] == "redis://redis.hospital.example:6379/0"
    for component in APPS:
        container = deployment(manifests, component)["spec"]["template"]["spec"]["containers"][0]
        assert container["image"].startswith(f"registry.hospital.example/trialbot-{component}:")
        assert {"secretRef": {"name": "trialbot-secrets"}} in container["envFrom"]


def test_autoscaling_gives_rasa_a_horizontal_pod_autoscaler():
    manifests = render("autoscaling-values.yaml")
    hpa = next(m for m in manifests if m["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "trialbot-rasa"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    # The autoscaler owns the replica count; the Deployment does not reset it on an upgrade.
    assert "replicas" not in deployment(manifests, "rasa")["spec"]
