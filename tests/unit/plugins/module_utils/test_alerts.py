# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Alerts (``_alerts.py``): normalisation of both APIs, filters, paging and the idempotent update, against an
in-memory stand-in for the HTTP client."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _alerts as al
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError

GRAPH_ALERT = {
    "@odata.type": "#microsoft.graph.security.alert", "id": "da1", "incidentId": "1001", "title": "Cradle",
    "status": "new", "severity": "high", "classification": "unknown", "determination": "unknown",
    "assignedTo": None, "createdDateTime": "2024-05-01T10:00:00Z", "lastUpdateDateTime": "2024-05-01T10:05:00Z",
    "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "antivirus", "comments": [],
    "evidence": [
        {"@odata.type": "#microsoft.graph.security.deviceEvidence", "mdeDeviceId": "d1", "deviceDnsName": "ws1",
         "osPlatform": "Windows10", "healthStatus": "active", "riskScore": "high"},
        {"@odata.type": "#microsoft.graph.security.fileEvidence", "fileDetails": {"fileName": "a.exe", "sha256": "ab"}},
    ],
}
MTP_ALERT = {
    "alertId": "da2", "incidentId": 1002, "title": "Backups deleted", "status": "Active", "severity": "High",
    "classification": None, "determination": None, "creationTime": "2024-05-01T10:00:00Z",
    "lastUpdatedTime": "2024-05-01T10:06:00Z", "serviceSource": "MicrosoftDefenderForEndpoint",
    "detectionSource": "EDR", "devices": [{"mdatpDeviceId": "d2", "deviceDnsName": "srv1", "osPlatform": "WindowsServer2019"}],
    "entities": [{"entityType": "Process", "fileName": "vssadmin.exe", "processCommandLine": "vssadmin delete", "sha1": None}],
}


def test_normalize_graph_alert_types_evidence():
    out = al.normalize_alert(GRAPH_ALERT, "graph")
    assert (out["id"], out["incident_id"], out["status"], out["severity"]) == ("da1", "1001", "new", "high")
    assert [e["type"] for e in out["evidence"]] == ["deviceEvidence", "fileEvidence"]
    assert out["evidence"][1]["file_details"] == {"file_name": "a.exe", "sha256": "ab"}
    assert out["devices"] == [{"device_id": "d1", "device_name": "ws1", "os_platform": "Windows10",
                               "health_status": "active", "risk_score": "high", "aad_device_id": None}]


def test_normalize_mtp_alert():
    out = al.normalize_alert(MTP_ALERT, "mtp")
    assert (out["id"], out["incident_id"], out["status"], out["classification"]) == ("da2", "1002", "inProgress", "unknown")
    assert out["original"] == {"status": "Active", "severity": "High", "classification": None, "determination": None}
    assert out["evidence"][0] == {"type": "Process", "entity_type": "Process", "file_name": "vssadmin.exe",
                                  "process_command_line": "vssadmin delete"}
    assert out["evidence"][1]["type"] == "Machine"
    assert out["devices"][0]["device_id"] == "d2"


def test_alert_query_clauses_are_quoted():
    q = al.AlertQuery(status=["New"], severity=["HIGH"], assigned_to="o'neil", service_source="microsoftDefenderForEndpoint",
                      incident_id="1001", created_after="2024-05-01T00:00:00Z")
    assert q.clauses() == ["status eq 'new'", "severity eq 'high'", "assignedTo eq 'o''neil'",
                           "serviceSource eq 'microsoftDefenderForEndpoint'", "incidentId eq '1001'",
                           "createdDateTime ge 2024-05-01T00:00:00.0000000Z"]


@pytest.mark.parametrize("kwargs, option", [({"status": ["open"]}, "status"), ({"api": "mde"}, "api"),
                                            ({"api": "mtp", "odata_filter": "x eq 1"}, "filter"),
                                            ({"incident_id": "1 or 1"}, "incident_id"), ({"limit": -1}, "limit")])
def test_alert_query_validation(kwargs, option):
    with pytest.raises(MtpConfigError) as err:
        al.AlertQuery(**kwargs)
    assert err.value.option == option


class _Resp(object):
    def __init__(self, body):
        self.json = body


class FakeAlerts(object):
    def __init__(self, alerts):
        self.alerts, self.calls = alerts, []

    def get(self, api, path, params=None, **kwargs):
        self.calls.append(("GET", path, dict(params or {})))
        if path == al.ALERTS_PATH:
            match = re.search(r"lastUpdateDateTime ge (\S+)", (params or {}).get("$filter", ""))
            rows = sorted(self.alerts, key=lambda a: a["lastUpdateDateTime"])
            if match:
                rows = [r for r in rows if r["lastUpdateDateTime"].replace("Z", "") >= match.group(1)[:19]]
            skip, top = int(params.get("$skip", 0)), int(params["$top"])
            body = {"value": rows[skip:skip + top]}
            if skip + top < len(rows):
                body["@odata.nextLink"] = "next"
            return _Resp(body)
        for a in self.alerts:
            if path.endswith("/" + a["id"]):
                return _Resp(dict(a))
        raise MtpApiError("404", status=404)

    def patch(self, api, path, json=None, **kwargs):
        self.calls.append(("PATCH", path, json))
        alert = [a for a in self.alerts if path.endswith("/" + a["id"])][0]
        alert.update(json)
        return _Resp(dict(alert))

    def post(self, api, path, json=None, **kwargs):
        self.calls.append(("POST", path, json))
        alert = [a for a in self.alerts if path.endswith("/" + a["id"] + "/comments")][0]
        alert["comments"] = alert["comments"] + [{"comment": json["comment"], "createdByDisplayName": "app"}]
        return _Resp({"value": alert["comments"]})


def _alert(i, minute):
    return dict(GRAPH_ALERT, id="a%03d" % i, lastUpdateDateTime="2024-05-01T10:%02d:00Z" % minute, comments=[])


def test_read_alerts_pages_by_time_and_returns_a_cursor():
    service = FakeAlerts([_alert(i, i // 10) for i in range(250)])
    q = al.AlertQuery(page_size=100)
    out = al.read_alerts(service, q)
    assert sorted(a["id"] for a in out) == ["a%03d" % i for i in range(250)]
    assert q.cursor.startswith("2024-05-01T10:24:00.0000000Z|")
    assert all(c[2].get("$skip", 0) < 100 for c in service.calls)


def test_update_alert_is_idempotent_and_dedupes_comments():
    service = FakeAlerts([_alert(1, 1)])
    params = {"status": "Resolved", "classification": "TruePositive", "determination": "Malware", "comment": "done"}
    changed, after, diff = al.update_alert(service, "a001", params, check_mode=False)
    assert changed is True
    assert [c for c in service.calls if c[0] != "GET"] == [
        ("PATCH", "/security/alerts_v2/a001", {"status": "resolved", "classification": "truePositive",
                                               "determination": "malware"}),
        ("POST", "/security/alerts_v2/a001/comments", {"@odata.type": "microsoft.graph.security.alertComment",
                                                       "comment": "done"})]
    assert (after["status"], after["determination"]) == ("resolved", "malware")
    assert diff["before"]["status"] == "new"
    service.calls = []
    changed, _after, _diff = al.update_alert(service, "a001", dict(params, status="resolved", determination="malware"),
                                             check_mode=False)
    assert (changed, [c for c in service.calls if c[0] != "GET"]) == (False, [])


def test_update_alert_check_mode_and_bad_combination():
    service = FakeAlerts([_alert(1, 1)])
    changed, after, _diff = al.update_alert(service, "a001", {"assigned_to": "soc@contoso.com"}, check_mode=True)
    assert (changed, after["assigned_to"], [c for c in service.calls if c[0] != "GET"]) == (True, "soc@contoso.com", [])
    with pytest.raises(MtpConfigError) as err:
        al.update_alert(service, "a001", {"classification": "falsePositive", "determination": "phishing"}, False)
    assert err.value.option == "determination"


def test_update_of_a_missing_alert_returns_none():
    assert al.update_alert(FakeAlerts([]), "zz", {"status": "new"}, False) == (False, None, None)


class FakeMtp(object):
    """MTP incidents holding alerts; records the calls."""

    def __init__(self, incidents):
        self.incidents, self.calls = incidents, []

    def get(self, api, path, params=None, **kwargs):
        self.calls.append((path, dict(params or {})))
        if path == "/incidents":
            return _Resp({"value": [dict(i) for i in self.incidents[int(params.get("$skip", 0)):]]})
        wanted = path.rsplit("/", 1)[1]
        return _Resp(dict([i for i in self.incidents if str(i["incidentId"]) == wanted][0]))


def _mtp_incident(i, minute, alerts):
    return {"incidentId": i, "lastUpdateTime": "2024-05-01T10:%02d:00Z" % minute, "status": "Active",
            "severity": "High", "tags": [], "systemTags": [], "comments": [], "alerts": alerts}


def test_mtp_alerts_of_one_incident_read_only_that_incident():
    service = FakeMtp([_mtp_incident(1002, 6, [MTP_ALERT]), _mtp_incident(1003, 7, [dict(MTP_ALERT, alertId="x")])])
    out = al.read_alerts(service, al.AlertQuery(api="mtp", incident_id="1002"))
    assert [a["id"] for a in out] == ["da2"]
    assert [c[0] for c in service.calls] == ["/incidents/1002"]


def test_mtp_alerts_since_a_cursor_list_incidents_from_that_time():
    service = FakeMtp([_mtp_incident(1002, 6, [MTP_ALERT])])
    q = al.AlertQuery(api="mtp", updated_since="2024-05-01T10:06:00Z|da2")
    assert al.read_alerts(service, q) == []
    assert service.calls[0][1]["$filter"] == "lastUpdateTime ge 2024-05-01T10:06:00.0000000Z"
