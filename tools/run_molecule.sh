#!/usr/bin/env bash
# Molecule scenarios of the collection (extensions/molecule/*) against a fresh emulator.
set -euo pipefail
venv=$(cd "$1" && pwd); build="$2"
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$venv/bin:$PATH"
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
coll=$(bash "$root/tools/stage_collection.sh" "$build")
export ANSIBLE_COLLECTIONS_PATH="$build"
emu="$build/emulator"
trap 'bash "$root/tools/emulator_ctl.sh" stop "$emu"' EXIT
bash "$root/tools/emulator_ctl.sh" start "$venv" "$emu"
export MTP_EMULATOR_ENDPOINTS_FILE="$emu/endpoints.json"
# The scenarios' own files (secrets) under this build, not their /tmp default that other runs would share.
export MTP_EMULATOR_STATE="$build/scenario-state"
cd "$coll/extensions"
found=0
for scenario in molecule/*/molecule.yml; do
  [ -e "$scenario" ] || continue
  name=$(basename "$(dirname "$scenario")")
  echo "== molecule test -s $name"
  molecule test -s "$name"
  found=$((found + 1))
done
if [ "$found" -eq 0 ]; then
  echo "molecule: no scenario found under $coll/extensions/molecule/*/molecule.yml" >&2
  exit 1
fi
echo "molecule: $found scenario(s) passed"
