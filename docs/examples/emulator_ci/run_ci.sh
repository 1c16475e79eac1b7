#!/usr/bin/env bash
# The CI steps of docs/testing_your_playbooks.md: start the emulator with the test data, run the playbook under
# test against it, stop the emulator. Needs `mtp-emulator` and `ansible-playbook` on PATH and the m365.defender
# collection installed (ANSIBLE_COLLECTIONS_PATH). Exits non-zero when the playbook's assertions fail.
#   run_ci.sh WORKDIR [PLAYBOOK [DATA]]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$1
playbook=${2:-$here/hunt_certutil.yml}
data=${3:-$here/emulator-data.yml}
mkdir -p "$work"
endpoints="$work/endpoints.json"
rm -f "$endpoints"

# 1. start the emulator (any free port) with the test data; it writes the endpoints file once listening
mtp-emulator --port 0 --no-proxy --state-dir "$work/state" --data "$data" --endpoints-file "$endpoints" \
  >"$work/emulator.log" 2>&1 &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  [ -s "$endpoints" ] && break
  kill -0 "$emulator_pid" 2>/dev/null || { echo "the emulator exited:" >&2; cat "$work/emulator.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$endpoints" ] || { echo "the emulator did not start in 30 s" >&2; cat "$work/emulator.log" >&2; exit 1; }

# 2. run the playbook under test against it; its assertions decide the job
ANSIBLE_LOCALHOST_WARNING=false ansible-playbook -i localhost, -c local "$playbook" \
  -e "emulator_endpoints_file=$endpoints" -e "ansible_python_interpreter=$(command -v python3)"
