#!/usr/bin/env bash
# User-context auth against the emulator: username_password (ROPC), refresh_token (rotation into the 0600
# cache), device_code with two cached accounts, and their failures. user_context.yml runs at -vvvv with
# ANSIBLE_LOG_PATH set; second_run.yml runs the same sign-ins again and must make no token request; check.yml
# then counts every password and refresh token (and JWT) in both outputs and logs.
set -eu
# ansible-test passes script targets no -e @integration_config.yml (only role targets get it as vars_files):
# it sits two levels up, in tests/integration of the copy ansible-test runs from.
config="$(cd ../.. && pwd)/integration_config.yml"
if [ -f "$config" ]; then set -- -e "@$config" "$@"; fi
work=$(mktemp -d)
trap 'ansible-playbook cleanup.yml "$@" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
chmod 0700 "$work"
run() {  # run NAME PLAYBOOK: -vvvv into $work/NAME.txt and $work/NAME.log; show the failed tasks on failure
  local rc=0
  ANSIBLE_LOG_PATH="$work/$1.log" ansible-playbook "$2" -vvvv -e "work=$work" "${@:3}" >"$work/$1.txt" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    # the end of the run: the failed task (m365.defender's messages are secret-free, the rest is no_log)
    grep -v -E '^(<127.0.0.1>|Using module file|Pipelining is|EXEC |PUT |SSH:)' "$work/$1.txt" | tail -n 60
    exit "$rc"
  fi
  echo "$2: $(wc -l <"$work/$1.txt") lines of -vvvv output"
}
run first user_context.yml "$@"
run second second_run.yml "$@"
ansible-playbook check.yml -e "work=$work" "$@"
