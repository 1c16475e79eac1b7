#!/usr/bin/env bash
# Run client_secret, certificate (with certificate_password), access_token and (if present) mtp_aad_app_setup
# with secret_dest at -vvvv with ANSIBLE_LOG_PATH set; then count every secret in stdout+stderr and in the log.
set -eu
# ansible-test passes script targets no -e @integration_config.yml (only role targets get it as vars_files):
# it sits two levels up, in tests/integration of the copy ansible-test runs from.
config="$(cd ../.. && pwd)/integration_config.yml"
if [ -f "$config" ]; then set -- -e "@$config" "$@"; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0700 "$work"
rc=0
ANSIBLE_LOG_PATH="$work/ansible.log" ansible-playbook secrets_nolog.yml -vvvv -e "work=$work" "$@" \
  >"$work/output.txt" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
  # the run itself failed: show the failed tasks (what m365.defender returns is secret-free, the rest is no_log)
  grep -B4 -A20 -E '^(fatal|failed):' "$work/output.txt" | grep -v '^<127.0.0.1>' | head -n 150
  exit "$rc"
fi
echo "captured $(wc -l <"$work/output.txt") lines of -vvvv output and $(wc -l <"$work/ansible.log") log lines"
ansible-playbook check.yml -e "work=$work" "$@"
