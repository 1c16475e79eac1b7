#!/usr/bin/env bash
# Build the EDA venv (ansible-rulebook + the collection's requirements + the emulator) for tools/run_rulebook_e2e.sh.
#   tools/make_eda_venv.sh [VENV]        (default: .venv-eda next to this repository's Makefile)
# ansible-rulebook needs Java 17 or later: JAVA_HOME, or java on PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root/.venv-eda}
py=${PYTHON:-$(bash "$root/tools/find_python.sh" 3.11)}
if ! command -v java >/dev/null && [ -z "${JAVA_HOME:-}" ]; then
  echo "ansible-rulebook needs a Java 17+ runtime: install one or set JAVA_HOME" >&2; exit 1
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -r "$root/requirements-eda.txt" -e "$root/emulator" pytest
"$venv/bin/ansible-rulebook" --version
