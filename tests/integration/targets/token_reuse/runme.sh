#!/usr/bin/env bash
# A 20-task playbook causes exactly ONE token request: once with one host (20 tasks), once with 10 hosts and
# forks 10 (the 5 tasks tagged "fleet": 50 module processes, ten of them racing for the first token).
set -eux
export ANSIBLE_PIPELINING=true
work=$(mktemp -d)
restore() {
  if [ -s "$work/quota" ]; then ansible-playbook restore.yml -e "quota_file=$work/quota" "$@" || true; fi
  rm -rf "$work"
}
trap 'restore "$@"' EXIT
common=(-i inventory.ini -e "quota_file=$work/quota")
ansible-playbook token_reuse.yml "${common[@]}" --limit h01 -f 1 \
  -e "token_cache_dir=$work/serial" -e expected_hunts=20 "$@"
ansible-playbook token_reuse.yml "${common[@]}" -f 10 --tags fleet \
  -e "token_cache_dir=$work/forks" -e expected_hunts=50 "$@"
