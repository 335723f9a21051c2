"""The Helm chart deploy/helm/trialbot, checked offline (deploy/.venv: Helm's Go SDK as a
library, helm-python-sdk, and kubernetes-validate). No Kubernetes cluster is involved.

    deploy/.venv/bin/python deploy/tools/chart.py lint [VALUES.yaml ...]
    deploy/.venv/bin/python deploy/tools/chart.py template [VALUES.yaml ...]   (to stdout)
    deploy/.venv/bin/python deploy/tools/chart.py check                       (what CI runs)

`check` lints (strict: warnings fail) and renders the chart with each value set (the default,
ci/external-databases-values.yaml, ci/autoscaling-values.yaml) and validates every rendered
manifest with `kubernetes-validate --strict` against KUBERNETES_VERSIONS.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

import helm_python as helm
import yaml

CHART = Path(__file__).resolve().parents[1] / "helm" / "trialbot"
VALUE_SETS = {
    "default": None,
    "external-databases": CHART / "ci" / "external-databases-values.yaml",
    "autoscaling": CHART / "ci" / "autoscaling-values.yaml",
}
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
RELEASE, NAMESPACE = "trialbot", "trialbot"
VALIDATE = Path(sys.executable).parent / "kubernetes-validate"


def load_values(paths: List[Path]) -> Dict[str, Any]:
    merged: Dict[str, Any] = {}
    for path in paths:
        _merge(merged, yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
    return merged


def _merge(into: Dict[str, Any], more: Dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def lint(values: Optional[Dict[str, Any]] = None) -> List[str]:
    """Findings of `helm lint --strict` (empty: clean)."""
    report = helm.lint(str(CHART), values or {}, strict=True, namespace=NAMESPACE)
    return [
        f"{m['severity']} {m['path']}: {m['error']}"
        for m in report.get("messages", [])
        if m.get("severity", 0) >= 2
    ] + list(report.get("errors") or [])


def render(values: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Every manifest `helm template` gives, parsed, in a stable order."""
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    manifests = []
    for path in sorted(files):
        if not path.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        for document in yaml.safe_load_all(files[path]):
            if document:
                manifests.append(document)
    return manifests


def validate(manifests: List[Dict[str, Any]], version: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="trialbot-chart-") as folder:
        paths = []
        for i, manifest in enumerate(manifests):
            path = Path(folder) / f"{i:02d}-{manifest['kind']}-{manifest['metadata']['name']}.yaml"
            path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
            paths.append(str(path))
        return subprocess.run(
            [str(VALIDATE), "--strict", "-k", version, *paths], capture_output=True, text=True
        )


def check() -> int:
    failed = 0
    for name, path in VALUE_SETS.items():
        values = load_values([path] if path else [])
        findings = lint(values)
        manifests = render(values)
        kinds = sorted({m["kind"] for m in manifests})
        print(
            f"{name}: lint {'clean' if not findings else findings}; "
            f"{len(manifests)} manifests ({', '.join(kinds)})"
        )
        failed += bool(findings)
        for version in KUBERNETES_VERSIONS:
            result = validate(manifests, version)
            bad = [line for line in result.stdout.splitlines() if "INFO" not in line]
            print(
                f"  kubernetes-validate --strict -k {version}: "
                + ("ok" if result.returncode == 0 else "FAILED")
            )
            if result.returncode != 0:
                failed += 1
                print("\n".join(bad or [result.stderr]))
    return 1 if failed else 0


def main(argv: List[str]) -> int:
    if argv[:1] == ["check"]:
        return check()
    if argv[:1] == ["lint"]:
        findings = lint(load_values([Path(p) for p in argv[1:]]))
        print("\n".join(findings) or "clean")
        return 1 if findings else 0
    if argv[:1] == ["template"]:
        yaml.safe_dump_all(
            render(load_values([Path(p) for p in argv[1:]])), sys.stdout, sort_keys=False
        )
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
