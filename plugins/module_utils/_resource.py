# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Resource helpers shared by every stateful module.

The idempotency contract (docs/developer/domain-layer.md): an option left unset leaves its field untouched, a
set option replaces the field, ``purge_*`` picks additive or replacing list semantics. Pieces:

* :func:`enum_key` / :func:`values_equal`: comparison with case-insensitive enums (``truePositive`` ==
  ``TruePositive`` == ``true_positive``), lists compared as sets where the field is a set, dicts recursively;
* :func:`changes`: the fields of a desired state that differ from the current state;
* :func:`merge_list`: a tag-style set merge (``purge`` replaces, else adds), keeping the current order;
* :func:`predict`: the object as it would be after the change (check mode's answer);
* :func:`make_diff`: ``{"before": ..., "after": ...}`` for ``--diff``;
* :func:`ensure_present` / :func:`ensure_absent`: ``(changed, result)`` steps after amazon.aws
  ``ensure_present``/``ensure_absent``: read, compare, then write only what differs, and in check mode write
  nothing and return the prediction.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

_ENUM_NOISE = re.compile(r"[\s_-]+")


def enum_key(value):
    """A comparison key for an enum value: lower case, without spaces, ``_`` and ``-``."""
    if not isinstance(value, str):
        return value
    return _ENUM_NOISE.sub("", value).lower()


def _set_key(items, enum):
    keys = []
    for item in items or []:
        key = enum_key(item) if enum else item
        if isinstance(key, (dict, list)):
            key = repr(sorted(key.items()) if isinstance(key, dict) else key)
        keys.append(key)
    return frozenset(keys)


def values_equal(current, desired, enum=False, as_set=False):
    """Whether ``desired`` equals ``current``: enums case-insensitively, lists as sets when ``as_set``,
    dicts key by key (only the keys ``desired`` names)."""
    if isinstance(desired, dict) and isinstance(current, dict):
        return all(values_equal(current.get(k), v, enum=enum, as_set=as_set) for k, v in desired.items() if v is not None)
    if isinstance(desired, (list, tuple)) and isinstance(current, (list, tuple, type(None))):
        if as_set:
            return _set_key(current, enum) == _set_key(desired, enum)
        current = list(current or [])
        return len(current) == len(desired) and all(values_equal(c, d, enum=enum) for c, d in zip(current, desired))
    if enum:
        return enum_key(current) == enum_key(desired)
    return current == desired


def changes(current, desired, enums=(), sets=()):
    """``{field: desired value}`` for every field of ``desired`` that is set (not ``None``) and differs from
    ``current`` (a dict, or ``None`` for an object that does not exist yet: then every set field differs).
    ``enums`` names the fields compared case-insensitively, ``sets`` the list fields compared as sets."""
    current = current or {}
    out = {}
    for field, value in desired.items():
        if value is None:
            continue
        if field not in current or not values_equal(current.get(field), value, enum=field in enums, as_set=field in sets):
            out[field] = value
    return out


def merge_list(current, desired, purge, enum=False):
    """The list a set-like field gets: ``desired`` alone when ``purge``, else ``current`` plus the new items
    of ``desired``. Current order is kept and new items are appended; ``None`` leaves the field as it is."""
    current = list(current or [])
    if desired is None:
        return current
    if purge:
        kept = [item for item in current if _set_key([item], enum) <= _set_key(desired, enum)]
    else:
        kept = list(current)
    have = _set_key(kept, enum)
    for item in desired:
        key = _set_key([item], enum)
        if not key <= have:
            kept.append(item)
            have = have | key
    return kept


def predict(current, change):
    """The object after ``change`` is applied to ``current`` (a deep copy; ``current`` is not modified)."""
    after = copy.deepcopy(current) if current else {}
    for field, value in (change or {}).items():
        after[field] = copy.deepcopy(value)
    return after


def make_diff(before, after):
    """The ``diff`` a module returns: ``{"before": before or {}, "after": after or {}}``."""
    return {"before": before if before is not None else {}, "after": after if after is not None else {}}


def ensure_present(current, desired, create, update, check_mode, enums=(), sets=()):
    """Make the object exist with ``desired`` (a dict of set fields). ``create(desired)`` and
    ``update(current, change)`` write and return the object as the service answered. Returns
    ``(changed, result)``; in check mode nothing is written and ``result`` is the prediction."""
    if current is None:
        wanted = dict((k, v) for k, v in desired.items() if v is not None)
        if check_mode:
            return True, predict(None, wanted)
        return True, create(wanted)
    change = changes(current, desired, enums=enums, sets=sets)
    if not change:
        return False, current
    if check_mode:
        return True, predict(current, change)
    return True, update(current, change)


def ensure_absent(current, delete, check_mode):
    """Make the object not exist: ``delete(current)`` when it does (not in check mode). ``(changed, None)``."""
    if current is None:
        return False, None
    if not check_mode:
        delete(current)
    return True, None
