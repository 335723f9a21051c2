#!/usr/bin/env bash
# deploy/.venv: the deployment tools of deploy/requirements.in at the versions of
# deploy/constraints.txt (Compose v2, Helm's SDK, kubernetes-validate); nothing when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.installed
want=$(cat requirements.in constraints.txt | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python=${DEPLOY_PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.in -c constraints.txt
echo "$want" > "$stamp"
for tool in docker dockerd debootstrap ip nsenter unshare; do
  command -v "$tool" >/dev/null 2>&1 || echo "note: $tool is missing (apt-get install -y docker.io debootstrap iproute2)" >&2
done
