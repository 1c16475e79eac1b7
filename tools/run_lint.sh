#!/usr/bin/env bash
# ansible-lint at the production profile over the roles, playbooks and Molecule scenarios.
set -euo pipefail
venv=$(cd "$1" && pwd); build="$2"
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$venv/bin:$PATH"
coll=$(bash "$root/tools/stage_collection.sh" "$build")
cd "$coll"
export ANSIBLE_COLLECTIONS_PATH="$build"
ansible-lint --offline --profile production
