#!/usr/bin/env bash
# Creates .venv with Python 3.10 and the pinned packages; does nothing when already up to date.
# `scripts/setup.sh` installs what the assistant needs (requirements.in); `scripts/setup.sh dev`
# adds the test and lint tools (requirements-dev.in). Both take exact versions from constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
requirements=requirements.in
[ "$mode" = dev ] && requirements=requirements-dev.in

find_python() {
  for candidate in "${PYTHON:-}" python3.10 \
      $( (command -v pyenv >/dev/null && ls -d "$(pyenv root)"/versions/3.10.*/bin/python 2>/dev/null) || true) \
      $(ls -d "$HOME"/.pyenv/versions/3.10.*/bin/python 2>/dev/null || true) /usr/bin/python3.10; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

stamp=.venv/.installed-$mode
want=$(cat requirements.in requirements-dev.in constraints.txt | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  if ! python=$(find_python); then
    cat >&2 <<'MSG'
error: Python 3.10 was not found, and Rasa 3.6.21 runs only on Python 3.8-3.10.
Install it, then run this again, with one of:
  pyenv install 3.10.13                       (pyenv; this script finds it by itself)
  apt-get install python3.10 python3.10-venv  (Debian/Ubuntu with 3.10 packages)
or point PYTHON at a Python 3.10 interpreter: make run PYTHON=/path/to/python3.10
MSG
    exit 1
  fi
  echo "creating .venv with $python"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.0"
echo "installing $requirements with the pinned versions of constraints.txt; the first time takes a few minutes"
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -r "$requirements" -c constraints.txt
echo "$want" > "$stamp"
