#!/usr/bin/env bash
# The EDA source tests (tests/eda): the collection staged, then pytest against an emulator each test session starts.
#   tools/run_eda_tests.sh [VENV] [pytest args...]     (VENV default: .venv; it needs ansible-core and mtp_emulator)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$(cd "${1:-$root/.venv}" && pwd)
[ $# -gt 0 ] && shift
stage=$(mktemp -d /tmp/eda-tests.XXXXXX)
trap 'rm -rf "$stage"' EXIT
coll=$(bash "$root/tools/stage_collection.sh" "$stage" | tail -1)
cd "$coll"
PYTHONPATH="$stage" HOME="$stage" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/eda "$@"
