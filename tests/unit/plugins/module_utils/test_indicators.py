# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_indicators: keys, markers, planning, the limit guard, batching and pacing (pure logic, literal values)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _indicators as ind
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError

SHA1 = "220e7d15b011d7fac48f2bd61114db1022197f7f"


def params(**kw):
    base = dict((name, None) for name in ind.ITEM_OPTIONS)
    base.update(indicators=None, state="present", purge=False, source="ansible", active_limit=15000, batch_size=500)
    base.update(kw)
    return base


def listed(ident, value=SHA1, kind="FileSha1", action="Block", description="d [m365d:ansible]", **extra):
    item = {"id": ident, "indicatorValue": value, "indicatorType": kind, "action": action, "title": "t",
            "description": description, "severity": "High", "rbacGroupNames": [], "lastUpdateTime": "2026-01-01T00:00:00Z"}
    item.update(extra)
    return item


def test_value_key_ignores_case_where_the_service_does():
    assert ind.value_key("FileSha1", " ABCDEF ") == ("FileSha1", "abcdef")
    assert ind.value_key("DomainName", "Evil.Example") == ("DomainName", "evil.example")
    assert ind.value_key("Url", "https://X.example/A") == ("Url", "https://X.example/A")


def test_marker_round_trip():
    assert ind.with_marker("Blocked by the SOC", "ti-feed") == "Blocked by the SOC [m365d:ti-feed]"
    assert ind.split_marker("Blocked by the SOC [m365d:ti-feed]") == ("Blocked by the SOC", "ti-feed")
    assert ind.split_marker("no marker here") == ("no marker here", None)
    assert ind.split_marker(None) == (None, None)


@pytest.mark.parametrize("value, expected", [
    ("2026-12-31", "2026-12-31T00:00:00Z"),
    ("2026-12-31T10:00:00Z", "2026-12-31T10:00:00Z"),
    ("2026-12-31T12:00:00+02:00", "2026-12-31T10:00:00Z"),
    ("2026-12-31T10:00:00.1234567Z", "2026-12-31T10:00:00Z"),
    (None, None),
])
def test_normalize_time(value, expected):
    assert ind.normalize_time(value) == expected


def test_normalize_time_names_the_option():
    with pytest.raises(MtpConfigError) as err:
        ind.normalize_time("next tuesday", "indicators[3].expiration")
    assert err.value.option == "indicators[3].expiration"
    assert "'next tuesday' is not an ISO-8601 date" in str(err.value)


def test_desired_items_take_top_level_defaults():
    items = ind.desired_items(params(indicators=[{"value": SHA1}, {"value": "a" * 64, "type": "FileSha256",
                                                                   "action": "Alert"}],
                                     type="FileSha1", action="Block", rbac_group_names=["b", "a", "b"]))
    assert items == [
        {"indicatorType": "FileSha1", "indicatorValue": SHA1, "action": "Block", "rbacGroupNames": ["a", "b"]},
        {"indicatorType": "FileSha256", "indicatorValue": "a" * 64, "action": "Alert", "rbacGroupNames": ["a", "b"]},
    ]


@pytest.mark.parametrize("kw, text", [
    (dict(type="FileSha1", value="abc"), "'abc' is not a FileSha1 (40 hexadecimal digits)"),
    (dict(type="IpAddress", value="10.0.0.0/8"), "CIDR notation is not supported"),
    (dict(type="FileSha1", value=SHA1, action="Audit"), "action Audit requires generate_alert: true"),
    (dict(indicators=[{"value": SHA1, "colour": "red"}], type="FileSha1"), "unknown keys colour"),
    (dict(indicators=[{"value": SHA1}, {"value": SHA1.upper()}], type="FileSha1"), "repeats FileSha1"),
    (dict(indicators=[{"value": SHA1}]), "indicators[0].type must be one of"),
    (dict(), "give indicators (a list) or value and type"),
])
def test_desired_items_bad_input(kw, text):
    with pytest.raises(MtpConfigError) as err:
        ind.desired_items(params(**kw))
    assert text in str(err.value)


def test_plan_sorts_creates_updates_recreates_and_purges():
    current = ind.index_current([
        listed("1", title="old"),                                    # update: title
        listed("2", value="b" * 40, action="Alert"),                 # recreate: action
        listed("3", value="c" * 40),                                 # unchanged
        listed("4", value="d" * 40),                                 # purged: ours, not wanted
        listed("5", value="e" * 40, description="someone else's"),   # not ours: kept
        listed("6", value="f" * 40, description="x [m365d:ansible]"),  # wanted, other source name below
    ])
    desired = ind.desired_items(params(type="FileSha1", action="Block", indicators=[
        {"value": SHA1, "title": "new"}, {"value": "b" * 40}, {"value": "c" * 40, "title": "t"},
        {"value": "9" * 40}]))
    planned = ind.plan(current, desired, "present", "ansible", purge=True)
    assert [i["indicatorValue"] for i in planned.create] == ["9" * 40]
    assert [(h["id"], w["title"]) for h, w in planned.update] == [("1", "new")]
    assert [pair[0]["id"] for pair in planned.recreate] == ["2"]
    assert sorted(h["id"] for h in planned.delete) == ["4", "6"]
    assert planned.unchanged == 1
    assert ind.counts(planned) == {"created": 2, "updated": 1, "deleted": 3, "unchanged": 1}


def test_an_unmarked_match_takes_the_marker():
    current = ind.index_current([listed("1", description="from the portal")])
    planned = ind.plan(current, ind.desired_items(params(type="FileSha1", value=SHA1)), "present", "ansible")
    assert [pair[0]["id"] for pair in planned.update] == ["1"]


def test_absent_deletes_any_source():
    current = ind.index_current([listed("7", description="portal")])
    planned = ind.plan(current, ind.desired_items(params(type="FileSha1", value=SHA1.upper())), "absent", "ansible")
    assert [h["id"] for h in planned.delete] == ["7"] and planned.create == []


def test_submission_keeps_current_fields_and_marks():
    have = ind.current_view(listed("1", severity="Low", recommendedActions="re-image"))
    body = ind.submission({"indicatorType": "FileSha1", "indicatorValue": SHA1, "title": "new"}, have, "feed")
    assert body == {"indicatorValue": SHA1, "indicatorType": "FileSha1", "action": "Block", "title": "new",
                    "description": "d [m365d:feed]", "severity": "Low", "recommendedActions": "re-image",
                    "rbacGroupNames": []}
    fresh = ind.submission({"indicatorType": "DomainName", "indicatorValue": "evil.example", "action": "Block"}, None, "x")
    assert fresh["title"] == "evil.example" and fresh["description"] == "Managed by Ansible (m365.defender) [m365d:x]"


def test_limit_guard():
    planned = ind.Plan(create=[{}] * 500, update=[], recreate=[], delete=[{}] * 100, unchanged=0)
    assert ind.check_limit(14600, planned, 15000) == 15000
    with pytest.raises(MtpConfigError) as err:
        ind.check_limit(14601, planned, 15000)
    assert str(err.value).startswith("Refusing to write: 14601 active indicators + 500 to create - 100 to delete = 15001")
    assert err.value.option == "active_limit"
    assert ind.check_limit(20000, ind.Plan([], [], [], [{}], 0), 15000) == 19999  # deletes only: never refused


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_pacer_waits_for_the_window():
    clock = Clock()
    pacer = ind.Pacer(((3, 60),), clock=clock, sleep=clock.sleep)
    for dummy in range(3):
        pacer.wait()
        clock.now += 1
    pacer.wait()
    assert clock.slept == [57.0]
    assert pacer.waited == 57.0


class RecordingClient:
    """Stands in for MtpClient: answers like the service and records the calls (the unit is the Writer)."""

    def __init__(self, missing_once=False):
        self.calls = []
        self.missing_once = missing_once

    def post(self, api, path, json=None):
        self.calls.append((path, len(json.get("Indicators") or json.get("IndicatorIds"))))
        if path.endswith("BatchDelete") and self.missing_once:
            self.missing_once = False
            raise MtpApiError("404 Not Found", status=404)

        class Resp:
            pass
        resp = Resp()
        resp.json = {"value": [{"isFailed": False}] * len(json.get("Indicators") or [])}
        return resp

    def paginate(self, api, path, params=None):
        self.calls.append((path, "list"))
        return iter([{"id": "2"}, {"id": "3"}])


def fast_writer(client, batch_size=500):
    clock = Clock()
    return ind.Writer(client, "feed", batch_size=batch_size, import_pacer=ind.Pacer(ind.IMPORT_RATE, clock, clock.sleep),
                      delete_pacer=ind.Pacer(ind.DELETE_RATE, clock, clock.sleep))


def test_writer_imports_2000_in_4_calls():
    client = RecordingClient()
    creates = [{"indicatorType": "FileSha1", "indicatorValue": "%040x" % n, "action": "Block"} for n in range(2000)]
    writer = fast_writer(client)
    writer.apply(ind.Plan(creates, [], [], [], 0))
    assert client.calls == [("/api/indicators/import", 500)] * 4
    assert writer.calls == {"list": 0, "import": 4, "batch_delete": 0}


def test_writer_retries_a_batch_delete_after_a_404_with_what_is_left():
    client = RecordingClient(missing_once=True)
    writer = fast_writer(client)
    writer.delete(["1", "2", "3"])
    assert client.calls == [("/api/indicators/BatchDelete", 3), ("/api/indicators", "list"),
                            ("/api/indicators/BatchDelete", 2)]
