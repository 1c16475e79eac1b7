#!/usr/bin/env bash
# The example playbooks as a user runs them, against a fresh emulator: playbooks/contain_and_block.yml twice
# (the second run must report changed=0), then the emulator CI example of docs/testing_your_playbooks.md.
# Usage: run_examples.sh VENV BUILD_DIR
set -euo pipefail
venv=$(cd "$1" && pwd)
mkdir -p "$2"
build=$(cd "$2" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$venv/bin:$PATH"
rm -rf "$build/collections" "$build"/m365-defender-*.tar.gz
ansible-galaxy collection build --force --output-path "$build" "$root" >/dev/null
ansible-galaxy collection install --force -p "$build/collections" "$build"/m365-defender-*.tar.gz >/dev/null
emu="$build/emulator"
trap 'bash "$root/tools/emulator_ctl.sh" stop "$emu"' EXIT
bash "$root/tools/emulator_ctl.sh" start "$venv" "$emu"
run() {
  ANSIBLE_COLLECTIONS_PATH="$build/collections" ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_LOCALHOST_WARNING=false \
    ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
    ansible-playbook -i localhost, -c local "$root/playbooks/contain_and_block.yml" \
    -e "emulator_endpoints_file=$emu/endpoints.json" -e "ansible_python_interpreter=$venv/bin/python"
}
echo "== contain_and_block.yml, first run"
run | tee "$build/contain-1.log"
grep -Eq 'localhost +: ok=[0-9]+ +changed=[1-9]' "$build/contain-1.log" \
  || { echo "contain_and_block: the first run changed nothing" >&2; exit 1; }
echo "== contain_and_block.yml, second run (must change nothing)"
run | tee "$build/contain-2.log"
grep -Eq 'localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$build/contain-2.log" \
  || { echo "contain_and_block: the second run was not a no-op" >&2; exit 1; }
bash "$root/tools/emulator_ctl.sh" stop "$emu"
trap - EXIT
echo "== emulator CI example (docs/testing_your_playbooks.md)"
bash "$root/tools/run_emulator_ci_example.sh" "$venv" "$build/emulator-ci"
echo "examples passed"
