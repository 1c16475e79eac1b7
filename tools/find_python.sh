#!/usr/bin/env bash
# Print the path of a working python X.Y: on PATH, else the newest pyenv install of that version.
set -u
ver="$1"
if command -v "python$ver" >/dev/null 2>&1 && "python$ver" -c 'import sys' >/dev/null 2>&1; then
  command -v "python$ver"; exit 0
fi
root="${PYENV_ROOT:-$HOME/.pyenv}"
for p in $(ls -d "$root"/versions/"$ver".*/bin/python"$ver" 2>/dev/null | sort -V -r); do
  "$p" -c 'import sys' >/dev/null 2>&1 && { echo "$p"; exit 0; }
done
echo "python$ver not found (install it, for example with pyenv)" >&2
exit 1
