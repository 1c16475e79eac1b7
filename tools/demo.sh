#!/usr/bin/env bash
# make demo: build and install the collection into a local path, start the emulator, run playbooks/demo.yml.
# Everything it writes stays under $build (collections, emulator, secrets, token cache): the user's own token
# cache (~/.cache/m365.defender) and collections are left alone.
set -euo pipefail
venv=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
build="${TMPDIR:-/tmp}/m365.defender-demo-$(printf %s "$root" | md5sum | cut -c1-8)"
export PATH="$venv/bin:$PATH"
rm -rf "$build"; mkdir -p "$build/collections"
cd "$root"
ansible-galaxy collection build --force --output-path "$build" . >/dev/null
ANSIBLE_COLLECTIONS_PATH="$build/collections" ansible-galaxy collection install --force -p "$build/collections" "$build"/m365-defender-*.tar.gz >/dev/null
echo "installed m365.defender into $build/collections"
emu="$build/emulator"
trap 'bash "$root/tools/emulator_ctl.sh" stop "$emu"' EXIT
bash "$root/tools/emulator_ctl.sh" start "$venv" "$emu"
echo "emulator up: $(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["base_url"])' "$emu/endpoints.json")"
mkdir -m 0700 -p "$build/secrets" "$build/token-cache"
ANSIBLE_COLLECTIONS_PATH="$build/collections" ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_LOCALHOST_WARNING=false \
  ansible-playbook -i localhost, -c local "$root/playbooks/demo.yml" \
  -e "emulator_endpoints_file=$emu/endpoints.json" -e "demo_secret_dir=$build/secrets" \
  -e "demo_token_cache=$build/token-cache" \
  -e "ansible_python_interpreter=$venv/bin/python"
