#!/usr/bin/env bash
# Create (or reuse) the Python environment for tools/ at <repo>/.venv-tools.
#
# Idempotent: the sha256 of requirements.txt (plus the interpreter version) is
# stored inside the venv; if it matches, nothing is reinstalled. Any change to
# the pins rebuilds the venv from scratch so stale packages cannot linger.
#
# Usage: tools/setup_venv.sh            # prints the venv's python path last
#        PYTHON=python3.11 tools/setup_venv.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$root/.venv-tools"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

want="$( { sha256sum "$req" | cut -d' ' -f1; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "reusing $venv (requirements unchanged)" >&2
else
    echo "creating $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # Self-ignoring venv (as Python >= 3.13 does), so the repo needs no entry.
    echo '*' > "$venv/.gitignore"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    # Plain PyPI only: torch==2.13.0 resolves to a CPU wheel there.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    # Written last, so an interrupted install is never mistaken for a good one.
    echo "$want" > "$stamp"
fi

echo "$venv/bin/python"
