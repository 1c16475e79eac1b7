#!/usr/bin/env bash
# Run the CI example of docs/testing_your_playbooks.md as a user would: the emulator installed on its own
# (`pip install ./emulator` into a fresh virtualenv, used through its `mtp-emulator` console script, outside this
# repository), the collection built and installed with ansible-galaxy, then docs/examples/emulator_ci/run_ci.sh
# (start the emulator with the example's data, run the example playbook, assert on what it found).
#   run_emulator_ci_example.sh VENV WORKDIR
# VENV provides python, ansible-core and the emulator's dependencies (the fresh virtualenv reuses them, so the
# run needs no download but the build backend). Exits non-zero when any step or assertion fails.
set -euo pipefail
venv=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$work/venv" "$work/collections" "$work/run" "$work"/m365-defender-*.tar.gz

# 1. the emulator, installed on its own (not the repository's editable copy)
"$venv/bin/python" -m venv "$work/venv"
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/_ci_example_base.pth"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$root/emulator"
cd "$work"
installed=$("$work/venv/bin/python" -c 'import mtp_emulator, os; print(os.path.dirname(mtp_emulator.__file__))')
case "$installed" in
  "$work/venv/"*) ;;
  *) echo "mtp_emulator was imported from $installed, not from the fresh install" >&2; exit 1 ;;
esac
[ -x "$work/venv/bin/mtp-emulator" ] || { echo "the mtp-emulator console script is missing" >&2; exit 1; }

# 2. the collection, built and installed as a user installs it
"$venv/bin/ansible-galaxy" collection build --force --output-path "$work" "$root" >/dev/null
ANSIBLE_COLLECTIONS_PATH="$work/collections" "$venv/bin/ansible-galaxy" collection install --force -p "$work/collections" "$work"/m365-defender-*.tar.gz >/dev/null

# 3. the documented CI steps
export PATH="$work/venv/bin:$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$work/collections"
export ANSIBLE_STDOUT_CALLBACK=default
bash "$root/docs/examples/emulator_ci/run_ci.sh" "$work/run"
echo "emulator CI example passed"
