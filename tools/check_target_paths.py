#!/usr/bin/env python3
"""No integration target writes under a fixed path that another run could share.

``make test`` runs the Python 3.11 and the Python 3.12 suites at the same time, each with its own emulator
and its own staged collection. A target that works under a fixed directory (``/tmp/<name>``, or ``TMPDIR``,
which ansible-test does not pass to the playbook, so it is ``/tmp`` again) shares it with the other suite's
run of the same target: one run's cleanup or writes then break the other's assertions. A target works under
ansible-test's per-run ``output_dir``, or under a directory made unique for it (``tempfile``, ``mktemp -d``).

Each line of a target's tasks or scripts that names ``/tmp`` or ``TMPDIR`` must also name ``output_dir``
(``output_dir | default('/tmp')`` is the form for a target run by hand).
"""

from __future__ import annotations

import pathlib
import re
import sys

ROOT = pathlib.Path.cwd()
SUFFIXES = {".yml", ".yaml", ".sh", ".j2", ".py"}
FIXED = re.compile(r"(?<![\w.-])/tmp\b|\bTMPDIR\b")


def offending_lines(targets: pathlib.Path):
    for path in sorted(targets.rglob("*")):
        if path.suffix not in SUFFIXES or "files" in path.relative_to(targets).parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            if FIXED.search(line) and "output_dir" not in line:
                yield path.relative_to(ROOT), number, line.strip()


def main() -> int:
    found = list(offending_lines(ROOT / "tests" / "integration" / "targets"))
    for path, number, line in found:
        print(f"{path}:{number}: a fixed path shared with the other interpreter's suite; use output_dir: {line}")
    if found:
        return 1
    print("integration targets: every work path is per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
