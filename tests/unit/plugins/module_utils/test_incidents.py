# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Incidents (``_incidents.py``): filters, time-boundary paging, cursors, normalisation, redirects and the
idempotent update, against an in-memory stand-in for the HTTP client (the collaborator, not the unit)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _incidents as inc
from ansible_collections.m365.defender.plugins.module_utils import _time_paging as tp
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError


class _Resp(object):
    def __init__(self, body):
        self.json = body


class FakeService(object):
    """Incidents in the wire shape of one API; list calls honour ``<time field> ge <t>``, ``$top``, ``$skip``
    (ascending, stable); ``between`` runs before every list call so a test can change data mid-read."""

    def __init__(self, api, items, between=None, expand_error=False):
        self.api, self.items, self.between, self.expand_error = api, items, between, expand_error
        self.calls = []
        f = inc.SURFACES[api]
        self.id_field, self.time_field = f["id"], f["updated"]

    def get(self, api, path, params=None, **kwargs):
        params = dict(params or {})
        self.calls.append(("GET", path, params))
        if self.expand_error and "$expand" in params:
            raise MtpApiError("500 Internal Server Error", status=500)
        if path == inc.SURFACES[api]["path"]:
            if self.between:
                self.between(self)
            return _Resp(self._list(params))
        if path.startswith("/security/alerts_v2"):
            return _Resp({"value": []})
        wanted = path.rsplit("/", 1)[1]
        for item in self.items:
            if str(item[self.id_field]) == wanted:
                return _Resp(dict(item))
        raise MtpApiError("404 Not Found", status=404)

    def paginate(self, api, path, params=None, **kwargs):
        self.calls.append(("GET", path, dict(params or {})))
        return iter([])

    def _list(self, params):
        match = re.search(r"%s ge (\S+)" % self.time_field, params.get("$filter", ""))
        rows = sorted(self.items, key=lambda i: tp.time_key(i[self.time_field]))
        if match:
            rows = [r for r in rows if tp.time_key(r[self.time_field]) >= match.group(1)]
        skip, top = int(params.get("$skip", 0)), int(params["$top"])
        body = {"value": [dict(r) for r in rows[skip:skip + top]]}
        if skip + top < len(rows):
            body["@odata.nextLink"] = "next"
        return body

    def patch(self, api, path, json=None, **kwargs):
        self.calls.append(("PATCH", path, json))
        item = self.get(api, path).json
        item.update(json)
        return _Resp(item)

    def post(self, api, path, json=None, **kwargs):
        self.calls.append(("POST", path, json))
        return _Resp({"value": [{"comment": json["comment"], "createdByDisplayName": "app", "createdDateTime": "t"}]})

    def lists(self):
        return [c for c in self.calls if c[0] == "GET" and c[1] == inc.SURFACES[self.api]["path"]]


def ts(n):
    return "2024-05-01T10:%02d:%02d.0000000Z" % (n // 60, n % 60)


def graph_item(i, minute, **extra):
    item = {"id": str(i), "displayName": "inc %d" % i, "status": "active", "severity": "medium",
            "classification": "unknown", "determination": "unknown", "assignedTo": None,
            "createdDateTime": ts(0), "lastUpdateDateTime": ts(minute), "customTags": [], "systemTags": [],
            "comments": [], "redirectIncidentId": None, "incidentWebUrl": "https://portal/%d" % i}
    item.update(extra)
    return item


def mtp_item(i, minute, **extra):
    item = {"incidentId": i, "incidentName": "inc %d" % i, "status": "Active", "severity": "Medium",
            "classification": "Unknown", "determination": "NotAvailable", "assignedTo": None,
            "createdTime": ts(0), "lastUpdateTime": ts(minute), "tags": [], "systemTags": [], "comments": [],
            "redirectIncidentId": None, "incidentUri": "https://portal/%d" % i, "alerts": []}
    item.update(extra)
    return item


# -- the query ---------------------------------------------------------------------------------------------------

def test_filters_are_quoted_so_options_cannot_inject():
    q = inc.IncidentQuery(api="graph", status=["Active"], severity=["HIGH"], assigned_to="o'brien@contoso.com",
                          created_after="2024-05-01T00:00:00Z", created_before="2024-06-01", odata_filter="a eq 1 or b eq 2")
    assert q.base_filter() == ["status eq 'active'", "severity eq 'high'", "assignedTo eq 'o''brien@contoso.com'",
                               "createdDateTime ge 2024-05-01T00:00:00.0000000Z",
                               "createdDateTime lt 2024-06-01T00:00:00.0000000Z", "(a eq 1 or b eq 2)"]


def test_mtp_filters_severity_after_retrieval_and_renders_pascal_case():
    q = inc.IncidentQuery(api="mtp", status=["in_progress"], severity=["High"])
    assert q.base_filter() == ["status eq 'InProgress'"]
    assert q.matches({"status": "inProgress", "severity": "high", "tags": [], "system_tags": []}) is True
    assert q.matches({"status": "inProgress", "severity": "low", "tags": [], "system_tags": []}) is False


@pytest.mark.parametrize("kwargs, option", [({"api": "mde"}, "api"), ({"status": ["closed"]}, "status"),
                                            ({"severity": ["critical"]}, "severity"), ({"page_size": 51}, "page_size"),
                                            ({"limit": 0}, "limit"), ({"updated_since": "soon"}, "updated_since")])
def test_query_validation_names_the_option(kwargs, option):
    with pytest.raises(MtpConfigError) as err:
        inc.IncidentQuery(**kwargs)
    assert err.value.option == option


# -- normalisation ----------------------------------------------------------------------------------------------

def test_normalize_mtp_incident():
    raw = mtp_item(924565, 3, status="InProgress", classification="FalsePositive", determination="Clean",
                   severity="UnSpecified", tags=["x"], redirectIncidentId=None,
                   comments=[{"comment": "c", "createdBy": "soc1", "createdTime": ts(1)}])
    out = inc.normalize_incident(raw, "mtp")
    assert out["id"] == "924565"
    assert (out["status"], out["severity"], out["classification"], out["determination"]) == (
        "inProgress", "unknown", "falsePositive", "notMalicious")
    assert out["original"] == {"status": "InProgress", "severity": "UnSpecified", "classification": "FalsePositive",
                               "determination": "Clean"}
    assert out["comments"] == [{"comment": "c", "created_by": "soc1", "created_time": "2024-05-01T10:00:01.0000000Z"}]
    assert out["tags"] == ["x"]
    assert out["web_url"] == "https://portal/924565"


def test_normalize_graph_incident_and_devices():
    raw = graph_item(7, 1, redirectIncidentId="8", alerts=[
        {"id": "a1", "incidentId": "7", "evidence": [
            {"@odata.type": "#microsoft.graph.security.deviceEvidence", "mdeDeviceId": "d1",
             "deviceDnsName": "ws1", "osPlatform": "Windows10"}]},
        {"id": "a2", "incidentId": "7", "evidence": [
            {"@odata.type": "#microsoft.graph.security.deviceEvidence", "mdeDeviceId": "d1", "deviceDnsName": "ws1"}]}])
    out = inc.normalize_incident(raw, "graph")
    assert out["redirect_incident_id"] == "8"
    assert inc.incident_devices(out) == [{"device_id": "d1", "device_name": "ws1", "os_platform": "Windows10",
                                          "health_status": None, "risk_score": None, "aad_device_id": None,
                                          "alert_ids": ["a1", "a2"]}]


# -- paging -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("api, make, cap", [("graph", graph_item, 50), ("mtp", mtp_item, 100)])
def test_paging_reads_every_incident_once_within_the_cap(api, make, cap):
    service = FakeService(api, [make(i, i // 3) for i in range(1, 331)])  # ties of 3 across page boundaries
    q = inc.IncidentQuery(api=api)
    ids = [i["id"] for page in inc.iter_pages(service, q) for i in page]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 331)]
    assert all(int(c[2]["$top"]) == cap for c in service.lists())
    assert all(int(c[2].get("$skip", 0)) < cap for c in service.lists())
    assert len(service.lists()) == {50: 7, 100: 4}[cap]
    assert q.cursor == "2024-05-01T10:01:50.0000000Z|330"


def test_a_tie_larger_than_a_page_is_read_with_skip_inside_the_tie():
    service = FakeService("graph", [graph_item(i, 5) for i in range(1, 121)] + [graph_item(121, 6)])
    q = inc.IncidentQuery(api="graph")
    ids = [i["id"] for page in inc.iter_pages(service, q) for i in page]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 122)]
    assert [c[2].get("$skip", 0) for c in service.lists()] == [0, 49, 98]


def test_updates_during_the_read_neither_lose_nor_repeat():
    items = [graph_item(i, i) for i in range(1, 201)]
    state = {"n": 0}

    def between(service):
        state["n"] += 1
        if state["n"] == 2:  # one already read and one not yet read move to the end
            for item in service.items:
                if item["id"] in ("10", "150"):
                    item["lastUpdateDateTime"] = ts(900)
                    item["status"] = "resolved"

    service = FakeService("graph", items, between=between)
    q = inc.IncidentQuery(api="graph")
    latest = inc.read_incidents(service, q)
    assert sorted(i["id"] for i in latest) == sorted(str(i) for i in range(1, 201))
    by_id = dict((i["id"], i) for i in latest)
    assert by_id["10"]["status"] == "resolved" and by_id["150"]["status"] == "resolved"


def test_a_tie_shift_during_the_read_is_detected_and_nothing_is_lost():
    items = [graph_item(i, 5) for i in range(1, 81)] + [graph_item(81, 7)]
    state = {"n": 0}

    def between(service):
        state["n"] += 1
        if state["n"] == 2:
            for item in service.items:
                if item["id"] in ("1", "2", "3"):
                    item["lastUpdateDateTime"] = ts(900)

    service = FakeService("graph", items, between=between)
    latest = inc.read_incidents(service, inc.IncidentQuery(api="graph"))
    assert sorted(i["id"] for i in latest) == sorted(str(i) for i in range(1, 82))


def test_the_cursor_skips_what_was_read_at_the_boundary_and_nothing_else():
    items = [graph_item(i, 1) for i in range(1, 4)]
    service = FakeService("graph", items)
    q = inc.IncidentQuery(api="graph")
    assert [i["id"] for i in inc.read_incidents(service, q)] == ["1", "2", "3"]
    assert q.cursor == "2024-05-01T10:00:01.0000000Z|1,2,3"
    service.items.append(graph_item(4, 1))  # arrives late with the same time
    q2 = inc.IncidentQuery(api="graph", updated_since=q.cursor)
    assert [i["id"] for i in inc.read_incidents(service, q2)] == ["4"]
    assert service.lists()[-1][2]["$filter"] == "lastUpdateDateTime ge 2024-05-01T10:00:01.0000000Z"
    assert q2.cursor == "2024-05-01T10:00:01.0000000Z|1,2,3,4"


def test_seen_pairs_are_skipped_and_limit_sets_the_cursor():
    service = FakeService("mtp", [mtp_item(i, i) for i in range(1, 6)])
    q = inc.IncidentQuery(api="mtp", seen=[("1", ts(1))], limit=2)
    assert [i["id"] for i in inc.read_incidents(service, q)] == ["2", "3"]
    assert q.cursor == "2024-05-01T10:00:03.0000000Z|3"


def test_expand_failure_falls_back_to_alert_reads_with_a_warning():
    service = FakeService("graph", [graph_item(1, 1), graph_item(2, 2)], expand_error=True)
    warnings = []
    q = inc.IncidentQuery(api="graph", include_alerts=True, warn=warnings.append)
    out = inc.read_incidents(service, q)
    assert [i["alerts"] for i in out] == [[], []]
    assert warnings == ["GET /security/incidents with $expand=alerts answered 500; reading each incident's alerts "
                        "from /security/alerts_v2 instead"]
    filters = [c[2]["$filter"] for c in service.calls if c[1] == "/security/alerts_v2"]
    assert filters == ["incidentId eq '1'", "incidentId eq '2'"]


def test_redirected_incidents_are_followed_once():
    items = [graph_item(1, 1, status="redirected", redirectIncidentId="3"),
             graph_item(2, 2, status="redirected", redirectIncidentId="3"), graph_item(3, 3)]
    service = FakeService("graph", items)
    out = inc.read_incidents(service, inc.IncidentQuery(api="graph"))
    assert [(i["id"], i.get("redirected_from")) for i in out] == [("3", ["1", "2"])]
    one = inc.get_incident(service, "graph", "1")
    assert (one["id"], one["redirected_from"]) == ("3", ["1"])
    raw = inc.IncidentQuery(api="graph", follow_redirects=False)
    assert [i["id"] for i in inc.read_incidents(service, raw)] == ["1", "2", "3"]


def test_redirect_loop_fails():
    service = FakeService("mtp", [mtp_item(1, 1, redirectIncidentId=2), mtp_item(2, 2, redirectIncidentId=1)])
    with pytest.raises(MtpApiError) as err:
        inc.get_incident(service, "mtp", "1")
    assert "redirects in a loop (1 -> 2)" in str(err.value)


def test_missing_incident_is_none():
    assert inc.get_incident(FakeService("graph", []), "graph", "404") is None


# -- updating ---------------------------------------------------------------------------------------------------

def writes(service):
    return [c for c in service.calls if c[0] != "GET"]


def test_mtp_update_sends_only_the_difference_in_pascal_case():
    service = FakeService("mtp", [mtp_item(5, 1, tags=["old"])])
    changed, before, after = inc.update_incident(service, "mtp", "5", {
        "status": "resolved", "classification": "false_positive", "determination": "notMalicious",
        "assigned_to": None, "tags": ["new"], "purge_tags": False, "comment": "done"})
    assert changed is True
    body = {"status": "Resolved", "classification": "FalsePositive", "determination": "Clean", "tags": ["old", "new"],
            "comment": "done"}
    assert writes(service) == [("PATCH", "/incidents/5", body)]
    assert (after["status"], after["determination"], after["tags"]) == ("resolved", "notMalicious", ["old", "new"])


def test_graph_update_uses_custom_tags_and_posts_the_comment():
    service = FakeService("graph", [graph_item(5, 1, customTags=["old", "keep"])])
    changed, _before, after = inc.update_incident(service, "graph", "5", {
        "status": "InProgress", "tags": ["keep"], "purge_tags": True, "comment": "hi"})
    assert changed is True
    assert writes(service) == [
        ("PATCH", "/security/incidents/5", {"status": "inProgress", "customTags": ["keep"]}),
        ("POST", "/security/incidents/5/comments", {"@odata.type": "microsoft.graph.security.alertComment",
                                                    "comment": "hi"})]
    assert after["comments"] == [{"comment": "hi", "created_by": "app", "created_time": "t"}]


def test_second_run_changes_nothing_and_adds_no_comment():
    service = FakeService("mtp", [mtp_item(5, 1, status="Resolved", classification="TruePositive",
                                           determination="CompromisedAccount", tags=["a", "b"],
                                           comments=[{"comment": "done", "createdBy": "x", "createdTime": ts(1)}])])
    changed, before, after = inc.update_incident(service, "mtp", "5", {
        "status": "RESOLVED", "classification": "TruePositive", "determination": "CompromisedUser",
        "tags": ["b", "a"], "purge_tags": True, "comment": "done"})
    assert (changed, writes(service)) == (False, [])
    assert after == before


def test_check_mode_predicts_and_writes_nothing():
    service = FakeService("graph", [graph_item(5, 1)])
    changed, _before, after = inc.update_incident(service, "graph", "5", {"assigned_to": "soc2@contoso.com",
                                                                          "comment": "x"}, check_mode=True)
    assert (changed, writes(service)) == (True, [])
    assert after["assigned_to"] == "soc2@contoso.com"
    assert after["comments"] == [{"comment": "x", "created_by": None, "created_time": None}]


def test_invalid_combination_fails_before_any_request():
    service = FakeService("graph", [graph_item(5, 1)])
    with pytest.raises(MtpConfigError) as err:
        inc.update_incident(service, "graph", "5", {"classification": "FalsePositive", "determination": "Malware"})
    assert err.value.option == "determination"
    assert service.calls == []


def test_determination_alone_is_checked_against_the_current_classification():
    service = FakeService("graph", [graph_item(5, 1, classification="truePositive", determination="malware")])
    with pytest.raises(MtpConfigError) as err:
        inc.update_incident(service, "graph", "5", {"determination": "clean"})
    assert "does not go with classification 'truePositive'" in str(err.value)
    assert writes(service) == []


def test_a_new_classification_clears_the_old_determination_in_the_prediction():
    service = FakeService("graph", [graph_item(5, 1, classification="truePositive", determination="malware")])
    changed, _b, after = inc.update_incident(service, "graph", "5", {"classification": "falsePositive"}, check_mode=True)
    assert (changed, after["classification"], after["determination"]) == (True, "falsePositive", "unknown")


def test_update_of_a_missing_incident_is_a_404():
    with pytest.raises(MtpApiError) as err:
        inc.update_incident(FakeService("graph", []), "graph", "9", {"status": "active"})
    assert err.value.status == 404


def test_bad_incident_id_is_named():
    with pytest.raises(MtpConfigError) as err:
        tp.check_id("1/../../x")
    assert err.value.option == "incident_id"
