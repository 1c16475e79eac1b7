#!/usr/bin/env bash
# Plugin docs render and lint clean, the changelog lints, the action group is complete, and no integration
# target works under a fixed path the other interpreter's suite would share.
set -euo pipefail
venv=$(cd "$1" && pwd); build="$2"
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$venv/bin:$PATH"
coll=$(bash "$root/tools/stage_collection.sh" "$build")
cd "$coll"
python "$root/tools/check_action_group.py"
python "$root/tools/check_target_paths.py"
echo "== antsibull-docs lint-collection-docs --plugin-docs"
antsibull-docs lint-collection-docs --plugin-docs .
echo "== antsibull-changelog lint"
antsibull-changelog lint
echo "== ansible-doc renders every plugin"
export ANSIBLE_COLLECTIONS_PATH="$build"
for m in plugins/modules/*.py; do n=$(basename "$m" .py); ansible-doc "m365.defender.$n" >/dev/null; done
for l in plugins/lookup/*.py; do [ -e "$l" ] || continue; n=$(basename "$l" .py); ansible-doc -t lookup "m365.defender.$n" >/dev/null; done
echo "docs checks passed"
