#!/usr/bin/env bash
# Copy the collection (the files git tracks or would track, minus what galaxy.yml build_ignore leaves out)
# to a physical ansible_collections/m365/defender path, as ansible-test requires (no symlinks).
# Usage: stage_collection.sh DEST_ROOT   -> DEST_ROOT/ansible_collections/m365/defender
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$1/ansible_collections/m365/defender"
rm -rf "$dest"
mkdir -p "$dest"
cd "$root"
git ls-files -co --exclude-standard -z \
  | grep -zEv '^(emulator|benchmarks|tools|\.ci)/|^Makefile$' \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$dest"
# ansible-test wants to see a source-controlled tree or none: give it none, it then takes every file.
echo "$dest"
