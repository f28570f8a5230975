#!/usr/bin/env bash
# Re-resolve a pin file from the unpinned requirements, in a scratch environment.
#   scripts/lock.sh PYTHON main   -> requirements/constraints.txt (both packages' dependencies)
#   scripts/lock.sh PYTHON tools  -> requirements/tools.txt (checkov)
set -euo pipefail
python=${1:?python}; which=${2:?main|tools}
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$python" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --upgrade "pip>=24"
case "$which" in
  main)
    "$scratch/venv/bin/python" -m pip install --quiet "torch==2.13.0" -e "src/model[bench]" -e ".[dev]"
    out=requirements/constraints.txt
    header="# Pinned versions for everything installed into .venv/ (both packages install against this file).
# Regenerate: make lock  (installs the unpinned requirements into a scratch venv and freezes it)." ;;
  tools)
    "$scratch/venv/bin/python" -m pip install --quiet checkov
    out=requirements/tools.txt
    header="# checkov lives in .venv-tools/: its bc-python-hcl2 replaces python-hcl2's hcl2 module when both share one environment.
# Regenerate: make lock-tools" ;;
  *) echo "usage: scripts/lock.sh PYTHON main|tools" >&2; exit 2 ;;
esac
{ echo "$header"; "$scratch/venv/bin/python" -m pip freeze --exclude-editable | sed 's/^torch==2.13.0+cpu$/torch==2.13.0/'; } > "$out"
echo "wrote $out ($(grep -vc '^#' "$out") pins)"
