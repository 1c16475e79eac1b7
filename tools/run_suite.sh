#!/usr/bin/env bash
# Run one `make test` suite. Its output goes to the terminal and to LOGDIR/NAME.log; its result is appended to
# LOGDIR/summary, and a failure to LOGDIR/failed, so tools/suite_report.sh can name the failing suite last.
#   tools/run_suite.sh NAME LOGDIR COMMAND [ARG...]
set -uo pipefail
name=$1 logdir=$2
shift 2
mkdir -p "$logdir"
start=$(date +%s)
"$@" 2>&1 | tee "$logdir/$name.log"
rc=${PIPESTATUS[0]}
echo "$name rc=$rc $(( $(date +%s) - start ))s" >> "$logdir/summary"
[ "$rc" -eq 0 ] || echo "$name" >> "$logdir/failed"
exit "$rc"
