#!/usr/bin/env bash
# `make deploy-test`: tests/deploy (pytest -m deploy): the Helm chart offline, the images, the
# Compose stack under load and failures, a two-node Swarm. The tests start and stop their own
# dockerd (deploy/tools/engine.py) by its pid; each phase prints its time ([deploy-test] ...),
# pytest the total.
set -euo pipefail
cd "$(dirname "$0")/../.."
# One run at a time per machine: the engine, its data root, node 2's network namespace and the
# veth pair are machine-wide. The lock is held until pytest exits (it keeps descriptor 9).
lock=/run/lock/trialbot-deploy-test.lock
exec 9>"$lock"
if ! flock -n 9; then
  echo "another make deploy-test runs on this machine; waiting for it ($lock)" >&2
  flock 9
fi
exec .venv/bin/python -m pytest tests/deploy -m deploy -s -W ignore::DeprecationWarning --durations=12 "$@"
