#!/usr/bin/env bash
# A 20-task playbook causes exactly ONE token request: once with one host (20 tasks), once with 10 hosts and
# forks 10 (200 module processes, ten of them racing for the first token).
set -eux
# ansible-test passes script targets no -e @integration_config.yml (only role targets get it as vars_files):
# it sits two levels up, in tests/integration of the copy ansible-test runs from.
config="$(cd ../.. && pwd)/integration_config.yml"
if [ -f "$config" ]; then set -- -e "@$config" "$@"; fi
export ANSIBLE_PIPELINING=true
work=$(mktemp -d)
restore() {
  ansible-playbook restore.yml "$@" || true
  rm -rf "$work"
}
trap 'restore "$@"' EXIT
common=(-i inventory.ini)
ansible-playbook token_reuse.yml "${common[@]}" --limit h01 -f 1 \
  -e "token_cache_dir=$work/serial" -e expected_hunts=20 "$@"
ansible-playbook token_reuse.yml "${common[@]}" -f 10 \
  -e "token_cache_dir=$work/forks" -e expected_hunts=200 "$@"
