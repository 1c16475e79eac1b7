#!/usr/bin/env python3
"""Every ``mtp_*`` module is in the ``mtp`` action group (kept alphabetical) and documents the
``m365.defender.attributes.action_group`` fragment; the group names no module that does not exist.

A module missing from the group silently ignores ``module_defaults: group/m365.defender.mtp``.
"""

from __future__ import annotations

import ast
import pathlib
import sys

import yaml

ROOT = pathlib.Path.cwd()


def documentation(path: pathlib.Path) -> dict:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value))
    raise SystemExit(f"{path}: no DOCUMENTATION")


def main() -> int:
    runtime = yaml.safe_load((ROOT / "meta/runtime.yml").read_text())
    group = runtime.get("action_groups", {}).get("mtp", [])
    modules = sorted(p.stem for p in (ROOT / "plugins/modules").glob("mtp_*.py"))
    errors = []
    if group != sorted(group):
        errors.append(f"meta/runtime.yml action group mtp is not sorted: {group}")
    for name in modules:
        if name not in group:
            errors.append(f"module {name} is missing from the mtp action group in meta/runtime.yml")
        fragments = documentation(ROOT / "plugins/modules" / f"{name}.py").get("extends_documentation_fragment", [])
        if "m365.defender.attributes.action_group" not in fragments:
            errors.append(f"module {name} does not extend m365.defender.attributes.action_group")
    for name in group:
        if name not in modules:
            errors.append(f"action group mtp names {name}, which is not a module")
    for e in errors:
        print(e)
    print(f"action group check: {len(modules)} modules, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
