#!/usr/bin/env bash
# ansible-test sanity, units and integration for one interpreter / ansible-core pair.
# Usage: run_collection_tests.sh VENV PYVER BUILD_DIR
set -euo pipefail
venv=$(cd "$1" && pwd); pyver="$2"; build="$3"
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$venv/bin:$PATH"
"$venv/bin/python" "$root/tools/ansible_test_pip_bootstrap.py"
coll=$(bash "$root/tools/stage_collection.sh" "$build")
cd "$coll"
echo "== ansible-test sanity (python $pyver, $(ansible --version | head -1))"
ansible-test sanity --venv --python "$pyver" --color no
# The emulator is not part of the collection: unit tests that need a live peer install it from a wheel built
# here (ansible-test filters the environment, so the staged requirements file names the wheel itself).
rm -rf "$build/wheels"
"$venv/bin/pip" wheel -q --no-deps -w "$build/wheels" "$root/emulator" >/dev/null
wheel=$(ls "$build"/wheels/mtp_emulator-*.whl)
echo "mtp-emulator @ file://$wheel" >> tests/unit/requirements.txt
echo "== ansible-test units (python $pyver)"
ansible-test units --venv --python "$pyver" --color no
echo "== integration against the emulator (python $pyver)"
emu="$build/emulator"
trap 'bash "$root/tools/emulator_ctl.sh" stop "$emu"' EXIT
bash "$root/tools/emulator_ctl.sh" start "$venv" "$emu"
# The shared corpus of real hunting queries sits beside the repository (never copied into the collection).
corpus="$(cd "$root/.." && pwd)/shared/corpus/m365d-hunting-queries.jsonl"
"$venv/bin/python" - "$emu/endpoints.json" tests/integration/integration_config.yml "$corpus" <<'PY'
import json, sys
endpoints = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as fh:
    json.dump({"emulator_endpoints": endpoints, "emulator_endpoints_file": sys.argv[1],
               "hunting_corpus_path": sys.argv[3]}, fh, indent=1)
PY
ansible-test integration --local --python "$pyver" --color no
