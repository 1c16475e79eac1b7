# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_detection_rules and _detection_rule_files: shapes, markers, plans, pre-flight checks, YAML round trip."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _detection_rule_files as files
from ansible_collections.m365.defender.plugins.module_utils import _detection_rules as dr
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError

RULE = {
    "key": "encoded-powershell",
    "display_name": "Encoded PowerShell",
    "enabled": True,
    "schedule": "1H",
    "query": "DeviceProcessEvents\n| project Timestamp, ReportId, DeviceId\n",
    "alert": {"title": "Encoded PowerShell", "description": "Encoded command line.", "severity": "high",
              "category": "Execution", "mitre_techniques": ["T1059.001"],
              "impacted_assets": [{"type": "device", "identifier": "DeviceId"}]},
    "response_actions": [{"type": "isolateDevice", "identifier": "DeviceId", "isolation_type": "selective"}],
}

GRAPH = {
    "displayName": "Encoded PowerShell", "isEnabled": True,
    "queryCondition": {"queryText": "DeviceProcessEvents\n| project Timestamp, ReportId, DeviceId"},
    "schedule": {"period": "1H"},
    "detectionAction": {
        "alertTemplate": {"title": "Encoded PowerShell", "description": "Encoded command line. [m365d:soc/encoded-powershell]",
                          "severity": "high", "category": "Execution", "recommendedActions": None,
                          "mitreTechniques": ["T1059.001"],
                          "impactedAssets": [{"@odata.type": "#microsoft.graph.security.impactedDeviceAsset",
                                              "identifier": "DeviceId"}]},
        "organizationalScope": None,
        "responseActions": [{"@odata.type": "#microsoft.graph.security.isolateDeviceResponseAction",
                             "identifier": "DeviceId", "isolationType": "selective"}]},
}


def test_case_conversions_are_inverse():
    assert dr.camel("device_group_names") == "deviceGroupNames"
    assert dr.snake("deviceGroupNames") == "device_group_names"
    assert dr.snake("isolationType") == "isolation_type" and dr.camel("isolation_type") == "isolationType"


def test_marker():
    assert dr.with_marker("Text", "soc", "k1") == "Text [m365d:soc/k1]"
    assert dr.with_marker(None, "soc", "k1") == "[m365d:soc/k1]"
    assert dr.split_marker("Text [m365d:soc/k1]") == ("Text", "soc", "k1")
    assert dr.split_marker("[m365d:soc/k1]") == (None, "soc", "k1")
    assert dr.split_marker("plain") == ("plain", None, None)


def test_to_graph_builds_the_documented_body():
    assert dr.to_graph(RULE, "soc") == ("encoded-powershell", GRAPH)


def test_from_graph_is_the_inverse():
    rule = dr.from_graph(copy.deepcopy(GRAPH), "encoded-powershell")
    assert dict(rule) == RULE
    assert list(rule) == ["key", "display_name", "enabled", "schedule", "query", "alert", "response_actions"]


def test_defaults_of_a_minimal_rule():
    key, body = dr.to_graph({"key": "k", "display_name": "Minimal", "query": "DeviceInfo\r\n| take 1  \r\n"}, "ansible")
    assert key == "k"
    assert body["isEnabled"] is True and body["schedule"] == {"period": "24H"}
    assert body["queryCondition"]["queryText"] == "DeviceInfo\n| take 1"
    assert body["detectionAction"]["alertTemplate"] == {
        "title": "Minimal", "description": "[m365d:ansible/k]", "severity": "medium", "category": None,
        "recommendedActions": None, "mitreTechniques": [], "impactedAssets": []}


@pytest.mark.parametrize("change, text", [
    ({"key": "has space"}, "key is required: letters, digits"),
    ({"schedule": "2H"}, "schedule must be one of 0, 1H, 3H, 12H, 24H"),
    ({"alert": {"severity": "critical"}}, "alert.severity must be one of informational, low, medium, high"),
    ({"alert": {"impacted_assets": [{"type": "printer", "identifier": "X"}]}}, "impacted_assets items need type"),
    ({"alert": {"mitre_techniques": ["Execution"]}}, "mitre_techniques must be technique ids"),
    ({"alert": {"colour": "red"}}, "alert has unknown keys colour"),
    ({"response_actions": [{"type": "nukeDevice"}]}, "response_actions type must be one of"),
    ({"query": ""}, ".query is required"),
    ({"owner": "me"}, "has unknown keys owner"),
])
def test_bad_rules_are_named(change, text):
    rule = dict(copy.deepcopy(RULE), **change)
    with pytest.raises(MtpConfigError) as err:
        dr.to_graph(rule, "soc", where="rules[2]")
    assert text in str(err.value) and "rules[2]" in str(err.value)


def test_repeated_key():
    with pytest.raises(MtpConfigError) as err:
        dr.desired_rules([RULE, RULE], "soc")
    assert "rules[1]: the key 'encoded-powershell' is used twice" in str(err.value)


def current(rule_id="35079", **template):
    body = copy.deepcopy(GRAPH)
    body["id"] = rule_id
    body["detectionAction"]["alertTemplate"].update(template)
    return body


def test_patch_body_sends_only_what_changed():
    desired = dr.to_graph(dict(RULE, display_name="Renamed", schedule="3H"), "soc")[1]
    assert dr.patch_body(current(), desired) == {"displayName": "Renamed", "schedule": {"period": "3H"}}
    assert dr.patch_body(current(), dr.to_graph(RULE, "soc")[1]) == {}
    severity = dr.to_graph(dict(RULE, alert=dict(RULE["alert"], severity="low")), "soc")[1]
    assert dr.patch_body(current(), severity) == {"detectionAction": {"alertTemplate": {"severity": "low"}}}
    mitre = dr.to_graph(dict(RULE, alert=dict(RULE["alert"], mitre_techniques=["T1027"])), "soc")[1]
    assert dr.patch_body(current(), mitre) is None


def test_plan_with_adoption_and_purge():
    unmarked = current("1", description="Made in the portal")
    unmarked["displayName"] = "ENCODED POWERSHELL"
    other = current("2", description="x [m365d:soc/old-rule]")
    foreign = current("3", description="x [m365d:other/encoded-powershell]")
    marked, loose = dr.index_current([unmarked, other, foreign], "soc")
    assert sorted(marked) == ["old-rule"] and [r["id"] for r in loose] == ["1"]
    desired = dr.desired_rules([RULE], "soc")
    adopted = dr.plan(marked, loose, desired, "present", purge=True, adopt=True)
    assert [(k, h["id"], sorted(p)) for k, h, dummy, p in adopted.update] == [
        ("encoded-powershell", "1", ["detectionAction", "displayName"])]
    assert [(k, h["id"]) for k, h in adopted.delete] == [("old-rule", "2")]
    fresh = dr.plan(marked, loose, desired, "present")
    assert [pair[0] for pair in fresh.create] == ["encoded-powershell"] and fresh.delete == []
    assert dr.summary(fresh)[0] == {"create": 1, "update": 0, "delete": 0, "unchanged": 0}


def test_required_columns():
    body = dr.to_graph(RULE, "soc")[1]
    assert dr.required_columns(["Timestamp", "ReportId", "DeviceId"], body) == []
    assert dr.required_columns(["Timestamp", "FileName"], body) == [
        "ReportId",
        "an impacted-asset column (one of %s)" % ", ".join(dr.ENTITY_COLUMNS),
        "DeviceId (named as an identifier)",
        "DeviceId (named as an identifier)",
    ]


class HuntingClient:
    """Stands in for MtpClient's runHuntingQuery: a parse error or a schema, as the service answers."""

    def __init__(self, error=None, columns=()):
        self.error = error
        self.columns = columns
        self.sent = []

    def post(self, api, path, json=None, idempotent=None):
        self.sent.append((api, path, json))
        if self.error:
            raise MtpApiError("400 Bad Request from graph POST %s: BadRequest: %s" % (path, self.error), status=400,
                              code="BadRequest", service_message=self.error)

        class Resp:
            pass
        resp = Resp()
        resp.json = {"schema": [{"name": c, "type": "String"} for c in self.columns], "results": []}
        return resp


def test_preflight_reports_line_and_column():
    client = HuntingClient(error="Query could not be parsed at '|' on line [3,1]")
    body = dr.to_graph(RULE, "soc")[1]
    with pytest.raises(MtpConfigError) as err:
        dr.preflight(client, "encoded-powershell", body, "PT1H")
    assert (err.value.line, err.value.column) == (3, 1)
    assert str(err.value) == ("rule encoded-powershell: the query failed the pre-flight (line 3, column 1): "
                              "Query could not be parsed at '|' on line [3,1]")
    assert client.sent == [("graph", "/v1.0/security/runHuntingQuery",
                            {"Query": "DeviceProcessEvents\n| project Timestamp, ReportId, DeviceId\n| take 1",
                             "Timespan": "PT1H"})]


def test_preflight_names_missing_columns():
    with pytest.raises(MtpConfigError) as err:
        dr.preflight(HuntingClient(columns=["Timestamp", "DeviceId"]), "k", dr.to_graph(RULE, "soc")[1], "PT1H")
    assert "missing: ReportId (returned: Timestamp, DeviceId)" in str(err.value)
    assert dr.preflight(HuntingClient(columns=["Timestamp", "ReportId", "DeviceId"]), "k",
                        dr.to_graph(RULE, "soc")[1], "PT1H") == ["Timestamp", "ReportId", "DeviceId"]


class Endpoints:
    cloud = "gcc_high"


class GovClient:
    endpoints = Endpoints()


def test_no_rule_api_in_us_government_clouds():
    with pytest.raises(MtpConfigError) as err:
        dr.Rules(GovClient()).check_cloud()
    assert err.value.option == "cloud" and "global cloud only; cloud gcc_high" in str(err.value)


def test_yaml_file_round_trip(tmp_path):
    text = files.dump_rule(dr.from_graph(copy.deepcopy(GRAPH), "encoded-powershell"))
    assert text.startswith("---\nkey: encoded-powershell\ndisplay_name: Encoded PowerShell\n")
    assert "query: |\n  DeviceProcessEvents\n  | project Timestamp, ReportId, DeviceId\n" in text
    path = tmp_path / "encoded-powershell.yml"
    assert files.write_file(str(path), text, check_mode=True) is True and not path.exists()
    assert files.write_file(str(path), text, check_mode=False) is True
    assert files.write_file(str(path), text, check_mode=False) is False
    assert files.read_rules(str(tmp_path)) == [RULE]
    assert dr.to_graph(files.read_rules(str(path))[0], "soc") == ("encoded-powershell", GRAPH)


def test_read_rules_names_bad_files(tmp_path):
    (tmp_path / "bad.yml").write_text("key: [unclosed\n")
    with pytest.raises(MtpConfigError) as err:
        files.read_rules(str(tmp_path))
    assert err.value.option == "src" and "bad.yml" in str(err.value)
    with pytest.raises(MtpConfigError) as err:
        files.read_rules(str(tmp_path / "missing.yml"))
    assert "missing.yml does not exist" in str(err.value)
