#!/usr/bin/env bash
# Create or refresh the project's two virtual environments, against the pinned requirements.
#   .venv/        both packages (forecast-stack glue, demand-forecast-model), editable, with dev tools
#   .venv-tools/  checkov alone: its bc-python-hcl2 would replace python-hcl2's `hcl2` module in .venv
# Each environment carries a stamp holding the hash of the files it was built from; when the hash
# still matches, nothing runs (a no-op `make setup` takes well under a second).
# Usage: scripts/setup.sh PYTHON VENV TOOLS_VENV
set -euo pipefail

python=${1:?python interpreter}
venv=${2:?venv dir}
tools_venv=${3:?tools venv dir}
cd "$(dirname "$0")/.."

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

need_python() {
  if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
    echo "error: Python 3.11 is required (torch==2.13.0 is pinned to its CPython 3.11 CPU wheel)" >&2
    echo "  found: ${python:-nothing} ($("${python:-python3}" --version 2>&1 || true))" >&2
    echo "  fix:   install Python 3.11 and run: make setup PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
}

# pip's own chatter (index warnings, build banners) goes to a log; on failure its tail is shown.
log_dir=build/setup
mkdir -p "$log_dir"
logged() {  # logged NAME COMMAND...
  local log="$log_dir/$1.log"; shift
  if ! "$@" >"$log" 2>&1; then
    echo "error: '$*' failed; the last lines of $log:" >&2
    tail -n 25 "$log" >&2
    echo "  fix: read $log; a network or registry problem usually shows there. Re-run make setup." >&2
    exit 1
  fi
}

make_venv() {  # make_venv DIR
  if [ ! -x "$1/bin/python" ]; then
    need_python
    echo "==> creating $1/"
    "$python" -m venv "$1"
    logged "pip-$(basename "$1")" "$1/bin/python" -m pip install --upgrade "pip>=24"
  fi
}

main_hash=$(hash_of pyproject.toml src/model/pyproject.toml requirements/constraints.txt)
if [ "$(cat "$venv/.stamp" 2>/dev/null || true)" != "$main_hash" ]; then
  make_venv "$venv"
  echo "==> installing forecast-stack and demand-forecast-model into $venv/ (pinned by requirements/constraints.txt)"
  logged install-venv "$venv/bin/python" -m pip install --progress-bar off \
    -c requirements/constraints.txt \
    -e "src/model[bench]" -e ".[dev]"
  echo "$main_hash" > "$venv/.stamp"
fi

tools_hash=$(hash_of requirements/tools.txt)
if [ "$(cat "$tools_venv/.stamp" 2>/dev/null || true)" != "$tools_hash" ]; then
  make_venv "$tools_venv"
  echo "==> installing checkov into $tools_venv/ (pinned by requirements/tools.txt)"
  logged install-tools "$tools_venv/bin/python" -m pip install --progress-bar off -r requirements/tools.txt
  echo "$tools_hash" > "$tools_venv/.stamp"
fi
