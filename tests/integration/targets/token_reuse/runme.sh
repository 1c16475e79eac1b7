#!/usr/bin/env bash
# A 20-task playbook causes exactly ONE token request: once with one host, once with 10 hosts and forks 10.
set -eux
cache_dir=$(mktemp -d)
trap 'rm -rf "$cache_dir"' EXIT
ansible-playbook token_reuse.yml -i inventory.ini --limit h01 -f 1 -e "token_cache_dir=$cache_dir/serial" "$@"
ansible-playbook token_reuse.yml -i inventory.ini -f 10 -e "token_cache_dir=$cache_dir/forks" "$@"
