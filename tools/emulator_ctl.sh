#!/usr/bin/env bash
# Start or stop an emulator for a test run.
#   emulator_ctl.sh start VENV DIR [extra emulator flags...]  -> DIR/endpoints.json, DIR/emulator.pid
#   emulator_ctl.sh stop DIR
set -euo pipefail
cmd="$1"; shift
case "$cmd" in
  start)
    venv="$1"; dir="$2"; shift 2
    mkdir -p "$dir"
    rm -f "$dir/endpoints.json"
    "$venv/bin/python" -m mtp_emulator --port 0 --state-dir "$dir/state" \
        --endpoints-file "$dir/endpoints.json" --request-log "$dir/requests.jsonl" "$@" \
        >"$dir/emulator.log" 2>&1 &
    echo $! >"$dir/emulator.pid"
    for _ in $(seq 1 300); do
      [ -s "$dir/endpoints.json" ] && exit 0
      if ! kill -0 "$(cat "$dir/emulator.pid")" 2>/dev/null; then
        echo "emulator exited early:" >&2; cat "$dir/emulator.log" >&2; exit 1
      fi
      sleep 0.1
    done
    echo "emulator did not write $dir/endpoints.json in 30 s" >&2; cat "$dir/emulator.log" >&2; exit 1
    ;;
  stop)
    dir="$1"
    if [ -f "$dir/emulator.pid" ]; then
      pid=$(cat "$dir/emulator.pid")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$dir/emulator.pid"
    fi
    ;;
  *) echo "usage: $0 start VENV DIR [flags] | stop DIR" >&2; exit 2 ;;
esac
