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

# This machine's pip config lists extra local index folders that lack most projects; pip warns once per
# package about each. Those warnings say nothing about our install, so keep them out of the log.
quiet_pip() { grep -v -e "^WARNING: Location 'file://" -e "BuildBackendWarning" || true; }

make_venv() {  # make_venv DIR
  if [ ! -x "$1/bin/python" ]; then
    need_python
    echo "==> creating $1/"
    "$python" -m venv "$1"
    "$1/bin/python" -m pip install --quiet --upgrade "pip>=24"
  fi
}

main_hash=$(hash_of pyproject.toml src/model/pyproject.toml requirements/constraints.txt)
if [ "$(cat "$venv/.stamp" 2>/dev/null || true)" != "$main_hash" ]; then
  make_venv "$venv"
  echo "==> installing forecast-stack and demand-forecast-model into $venv/ (pinned by requirements/constraints.txt)"
  "$venv/bin/python" -m pip install --quiet --progress-bar off \
    -c requirements/constraints.txt \
    -e "src/model[bench]" -e ".[dev]" 2> >(quiet_pip >&2)
  echo "$main_hash" > "$venv/.stamp"
fi

tools_hash=$(hash_of requirements/tools.txt)
if [ "$(cat "$tools_venv/.stamp" 2>/dev/null || true)" != "$tools_hash" ]; then
  make_venv "$tools_venv"
  echo "==> installing checkov into $tools_venv/ (pinned by requirements/tools.txt)"
  "$tools_venv/bin/python" -m pip install --quiet --progress-bar off -r requirements/tools.txt 2> >(quiet_pip >&2)
  echo "$tools_hash" > "$tools_venv/.stamp"
fi
