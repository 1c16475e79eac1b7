#!/usr/bin/env bash
# Run client_secret, certificate (with certificate_password), access_token and (if present) mtp_aad_app_setup
# with secret_dest at -vvvv with ANSIBLE_LOG_PATH set; then count every secret in stdout+stderr and in the log.
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0700 "$work"
rc=0
ANSIBLE_LOG_PATH="$work/ansible.log" ansible-playbook secrets_nolog.yml -vvvv -e "work=$work" "$@" \
  >"$work/output.txt" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
  # the run itself failed: show the end of it (test-only secrets; the leak check below is what guards them)
  tail -n 60 "$work/output.txt"
  exit "$rc"
fi
echo "captured $(wc -l <"$work/output.txt") lines of -vvvv output and $(wc -l <"$work/ansible.log") log lines"
ansible-playbook check.yml -e "work=$work" "$@"
