#!/usr/bin/env bash
# `make test`: every stage in order, each timed into results/stages.txt; the first failure stops
# the run. pytest comes last and prints the stage times just before its own summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p results
: > results/stages.txt

stage() {
  local name=$1; shift
  local start=$SECONDS
  echo "== $name"
  "$@"
  local status=$?
  echo "$name $((SECONDS - start)) $status" >> results/stages.txt
  if [ "$status" -ne 0 ]; then
    echo "== $name failed after $((SECONDS - start)) s" >&2
    exit "$status"
  fi
}

stage lint make --no-print-directory lint
stage validate make --no-print-directory validate
stage train make --no-print-directory train
stage core-test scripts/core-test.sh
echo "== pytest"
exec .venv/bin/python -m pytest
