#!/usr/bin/env bash
# Print what each `make test` suite did, and for each one that failed its failure lines and the end of its log, so
# the last screen of a CI run names the failing suite and shows why.
#   tools/suite_report.sh LOGDIR
set -uo pipefail
logdir=$1
echo "== make test: suites (result, wall time)"
[ -f "$logdir/summary" ] && sed 's/^/   /' "$logdir/summary"
[ -s "$logdir/failed" ] || exit 0
while read -r name; do
  log="$logdir/$name.log"
  echo "== $name FAILED; its failure lines (first 60):"
  grep -nE 'FAILED|ERROR|Error|fatal:|failed=[1-9]|Traceback|AssertionError|assert ' "$log" | head -60
  echo "== $name: the last 80 lines of its log ($log)"
  tail -n 80 "$log"
done < "$logdir/failed"
echo "== failed suites: $(tr '\n' ' ' < "$logdir/failed")"
exit 1
