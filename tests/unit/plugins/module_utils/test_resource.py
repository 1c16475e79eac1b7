# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Resource helpers: comparison, prediction, diff and the ensure_* steps."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _resource as res


@pytest.mark.parametrize("a, b", [("truePositive", "TruePositive"), ("true_positive", "TRUEPOSITIVE"),
                                  ("in-progress", "InProgress"), ("Multi Stage Attack", "multistageattack")])
def test_enum_key_ignores_casing_and_separators(a, b):
    assert res.enum_key(a) == res.enum_key(b)


def test_values_equal():
    assert res.values_equal("Active", "active", enum=True)
    assert not res.values_equal("Active", "active")
    assert res.values_equal(["b", "a"], ["a", "b"], as_set=True)
    assert not res.values_equal(["b", "a"], ["a", "b"])
    assert res.values_equal(["A", "b"], ["a", "B"], enum=True, as_set=True)
    assert res.values_equal({"x": 1, "y": 2}, {"x": 1})
    assert not res.values_equal({"x": 1}, {"x": 2})
    assert res.values_equal(None, [], as_set=True)


def test_changes_leaves_unset_fields_untouched():
    current = {"status": "Active", "assignedTo": "ana@contoso.test", "tags": ["a", "b"]}
    desired = {"status": "active", "assignedTo": None, "tags": ["b", "a"], "classification": "truePositive"}
    assert res.changes(current, desired, enums=("status",), sets=("tags",)) == {"classification": "truePositive"}
    assert res.changes(current, {"status": "resolved"}, enums=("status",)) == {"status": "resolved"}
    assert res.changes(None, {"a": 1, "b": None}) == {"a": 1}


def test_merge_list_adds_or_replaces():
    assert res.merge_list(["a", "b"], ["c", "a"], purge=False) == ["a", "b", "c"]
    assert res.merge_list(["a", "b"], ["c", "a"], purge=True) == ["a", "c"]
    assert res.merge_list(["a"], None, purge=True) == ["a"]
    assert res.merge_list(["Phish"], ["phish", "BEC"], purge=False, enum=True) == ["Phish", "BEC"]


def test_predict_does_not_touch_current():
    current = {"status": "active", "tags": ["a"]}
    after = res.predict(current, {"tags": ["a", "b"]})
    assert after == {"status": "active", "tags": ["a", "b"]}
    assert current == {"status": "active", "tags": ["a"]}
    assert res.make_diff(None, after) == {"before": {}, "after": {"status": "active", "tags": ["a", "b"]}}


class _Recorder:
    def __init__(self):
        self.writes = []

    def create(self, wanted):
        self.writes.append(("create", wanted))
        return dict(wanted, id="new-1")

    def update(self, current, change):
        self.writes.append(("update", change))
        return dict(current, **change)

    def delete(self, current):
        self.writes.append(("delete", current["id"]))


def test_ensure_present_creates_updates_and_is_idempotent():
    rec = _Recorder()
    assert res.ensure_present(None, {"title": "x", "severity": None}, rec.create, rec.update, False) == (True, {"title": "x", "id": "new-1"})
    current = {"id": "new-1", "title": "x", "severity": "High"}
    assert res.ensure_present(current, {"title": "x", "severity": "high"}, rec.create, rec.update, False,
                              enums=("severity",)) == (False, current)
    assert res.ensure_present(current, {"title": "y"}, rec.create, rec.update, False) == (True, {"id": "new-1", "title": "y", "severity": "High"})
    assert rec.writes == [("create", {"title": "x"}), ("update", {"title": "y"})]


def test_ensure_present_in_check_mode_writes_nothing_and_predicts():
    rec = _Recorder()
    assert res.ensure_present(None, {"title": "x"}, rec.create, rec.update, True) == (True, {"title": "x"})
    assert res.ensure_present({"id": "1", "title": "x"}, {"title": "z"}, rec.create, rec.update, True) == (True, {"id": "1", "title": "z"})
    assert rec.writes == []


def test_ensure_absent():
    rec = _Recorder()
    assert res.ensure_absent(None, rec.delete, False) == (False, None)
    assert res.ensure_absent({"id": "7"}, rec.delete, True) == (True, None)
    assert rec.writes == []
    assert res.ensure_absent({"id": "7"}, rec.delete, False) == (True, None)
    assert rec.writes == [("delete", "7")]
