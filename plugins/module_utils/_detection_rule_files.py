# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Detection-rule YAML files: read ``src``, and ``gather`` to ``dest``.

A file holds one rule (a mapping) or a list of rules; a directory is every ``*.yml`` / ``*.yaml`` in it, in
name order. ``gather`` writes ``<dest>/<key>.yml`` per rule, the query as a literal block, each file written
to a temporary file beside it and renamed over it (``os.replace``) only when its content changes (``_export.py``
writes rows as JSON/CSV only, so YAML files are written here).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import glob
import os
import tempfile
import traceback

from ansible_collections.m365.defender.plugins.module_utils._detection_rules import Rules, gathered
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError, MtpDependencyError

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()


def _yaml():
    if not HAS_YAML:
        raise MtpDependencyError("PyYAML")
    return yaml


def rule_paths(src):
    if os.path.isdir(src):
        return sorted(glob.glob(os.path.join(src, "*.yml")) + glob.glob(os.path.join(src, "*.yaml")))
    if not os.path.isfile(src):
        raise MtpConfigError("src: %s does not exist" % src, option="src")
    return [src]


def read_rules(src):
    """The rule dicts of a file or a directory of files; each bad file is named."""
    lib = _yaml()
    out = []
    for path in rule_paths(src):
        try:
            with open(path, "rb") as handle:
                data = lib.safe_load(handle.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, lib.YAMLError) as exc:
            raise MtpConfigError("src: cannot read %s: %s" % (path, str(exc).splitlines()[0]), option="src")
        if data is None:
            continue
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, dict):
                raise MtpConfigError("src: %s must hold a rule (a mapping) or a list of rules" % path, option="src")
            out.append(item)
    return out


def dump_rule(rule):
    """The YAML text of one rule: keys in file order, multi-line strings as literal blocks."""
    lib = _yaml()

    class Dumper(lib.SafeDumper):
        pass

    def _str(dumper, value):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    def _dict(dumper, value):
        return dumper.represent_mapping("tag:yaml.org,2002:map", list(value.items()))

    Dumper.add_representer(str, _str)
    Dumper.add_representer(dict, _dict)
    Dumper.add_representer(collections.OrderedDict, _dict)
    return "---\n" + lib.dump(rule, Dumper=Dumper, default_flow_style=False, allow_unicode=True, sort_keys=False, width=120)


def write_file(path, text, check_mode):
    """Write ``text`` to ``path`` atomically when it differs; ``True`` when it did (or would)."""
    data = text.encode("utf-8")
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except OSError:
        pass
    if check_mode:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise MtpConfigError("dest: cannot write %s: %s" % (path, exc.strerror or exc), option="dest")
    return True


def gather(client, params, check_mode, api=None):
    """``state: gathered``: every rule of the tenant to ``<dest>/<key>.yml`` (or only returned, without ``dest``)."""
    dest = params.get("dest")
    if dest and not os.path.isdir(dest):
        raise MtpConfigError("dest: the directory %s does not exist" % dest, option="dest")
    api = api or Rules(client, params["api_version"])
    api.check_cloud()
    rules, ids, files, written = [], {}, [], []
    for rule, rule_id, mark_source in gathered(api.list(), params["source"]):
        rules.append(rule)
        ids[rule["key"]] = {"id": rule_id, "marker_source": mark_source}
        if dest:
            path = os.path.join(dest, "%s.yml" % rule["key"])
            files.append(path)
            if write_file(path, dump_rule(rule), check_mode):
                written.append(path)
    return {"changed": bool(written), "gathered": rules, "rule_ids": ids, "files": files, "written": written}
