#!/usr/bin/env bash
# Conversation tests: every test story must be predicted exactly (intents and actions).
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/core
rm -rf "$out"
.venv/bin/rasa test core --stories tests/stories --fail-on-prediction-errors --out "$out" --quiet \
  || { echo "conversation tests failed; see $out/failed_test_stories.yml:" >&2;
       cat "$out/failed_test_stories.yml" >&2 2>/dev/null || true; exit 1; }
echo "conversation tests passed: $(grep -c '^- story:\|^  - story:' tests/stories/*.yml | awk -F: '{s+=$2} END {print s}') stories"
