"""Graph custom detection rules over real HTTPS: create, list (paged), get, patch, delete, validation through
the hunting engine, quotas, the national-cloud failure and simulated runs."""

from __future__ import annotations

import copy

import pytest

from test_hunting_api import GRAPH, get_token

QUERY = "DeviceProcessEvents\n| where FileName =~ 'powershell.exe'\n| project Timestamp, ReportId, DeviceId, DeviceName"
PATH = "/beta/security/rules/detectionRules"
RULE = {
    "displayName": "Encoded PowerShell", "isEnabled": True,
    "queryCondition": {"queryText": QUERY}, "schedule": {"period": "1H"},
    "detectionAction": {
        "alertTemplate": {"title": "Encoded PowerShell", "description": "d", "severity": "medium",
                          "category": "Execution", "mitreTechniques": ["T1059.001"],
                          "impactedAssets": [{"@odata.type": "#microsoft.graph.security.impactedDeviceAsset",
                                              "identifier": "DeviceId"}]},
        "organizationalScope": None,
        "responseActions": [{"@odata.type": "#microsoft.graph.security.isolateDeviceResponseAction",
                             "identifier": "DeviceId", "isolationType": "full"}]},
}


def rule(**changes):
    body = copy.deepcopy(RULE)
    for path, value in changes.items():
        target = body
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return body


@pytest.fixture(scope="module")
def api(emulator):
    emulator.reset()
    emulator.set_config(hunting_rows=200, quota_scale=100)
    token = get_token(emulator, GRAPH)
    session = emulator.session()

    class Api:
        def send(self, method, path, body=None, bearer=None):
            url = path if path.startswith("https://") else emulator.url(path)
            return session.request(method, url, json=body, timeout=120,
                                   headers={"Authorization": f"Bearer {bearer or token}"})

    yield Api()
    session.close()
    emulator.reset()


@pytest.fixture
def clean(api, emulator):
    for item in api.send("GET", PATH).json().get("value", []):
        api.send("DELETE", f"{PATH}/{item['id']}")
    emulator.control("PATCH", "detection_rules", json={"page_size": 100, "unavailable": False})
    emulator.set_config(quota_scale=100)
    return api


def test_create_get_patch_delete(clean):
    created = clean.send("POST", PATH, rule())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].isdigit() and body["detectorId"] and body["schedule"]["nextRunDateTime"]
    assert body["lastRunDetails"] == {"lastRunDateTime": None, "status": None, "failureReason": None, "errorCode": None}
    assert created.headers["Location"].endswith(f"{PATH}/{body['id']}")
    got = clean.send("GET", f"{PATH}/{body['id']}")
    assert got.status_code == 200 and got.json()["displayName"] == "Encoded PowerShell"
    patched = clean.send("PATCH", f"{PATH}/{body['id']}", {"displayName": "Renamed", "schedule": {"period": "3H"}})
    assert patched.status_code == 200
    assert patched.json()["displayName"] == "Renamed" and patched.json()["schedule"]["period"] == "3H"
    assert patched.json()["detectionAction"]["alertTemplate"]["title"] == "Encoded PowerShell"
    assert clean.send("DELETE", f"{PATH}/{body['id']}").status_code == 204
    assert clean.send("GET", f"{PATH}/{body['id']}").status_code == 404


def test_v1_path_serves_the_same_rules(clean):
    created = clean.send("POST", "/v1.0/security/rules/detectionRules", rule()).json()
    assert [r["id"] for r in clean.send("GET", PATH).json()["value"]] == [created["id"]]


def test_patch_of_a_read_only_field_is_a_400(clean):
    ident = clean.send("POST", PATH, rule()).json()["id"]
    resp = clean.send("PATCH", f"{PATH}/{ident}", {"detectorId": "x"})
    assert resp.status_code == 400 and "read-only" in resp.json()["error"]["message"]
    assert resp.json()["error"]["innerError"]["request-id"]


@pytest.mark.parametrize("changes, text", [
    ({"queryCondition__queryText": "DeviceProcessEvents | where | project"}, "on line [1,"),
    ({"queryCondition__queryText": "DeviceProcessEvents | project DeviceId, Timestamp"}, "missing: ReportId"),
    ({"queryCondition__queryText": "DeviceProcessEvents | project Timestamp, ReportId, FileName"},
     "impacted-entity column"),
    ({"schedule__period": "2H"}, "schedule.period must be one of"),
    ({"detectionAction__alertTemplate__severity": "critical"}, "alertTemplate.severity"),
    ({"detectionAction__responseActions": [{"@odata.type": "#microsoft.graph.security.isolateDeviceResponseAction",
                                            "identifier": "MachineGuid"}]}, "'MachineGuid' is not a column"),
    ({"schedule__period": "0", "queryCondition__queryText": QUERY + "\n| join DeviceInfo on DeviceId"}, "NRT"),
    ({"displayName": ""}, "displayName is required"),
])
def test_validation(clean, changes, text):
    resp = clean.send("POST", PATH, rule(**changes))
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "BadRequest" and text in resp.json()["error"]["message"]
    assert clean.send("GET", PATH).json()["value"] == []


def test_list_pages(clean, emulator):
    emulator.control("PATCH", "detection_rules", json={"page_size": 2})
    for n in range(3):
        clean.send("POST", PATH, rule(displayName=f"r{n}"))
    first = clean.send("GET", PATH).json()
    assert len(first["value"]) == 2 and "@odata.nextLink" in first
    second = clean.send("GET", first["@odata.nextLink"].replace("http://", "https://")).json()
    assert [r["displayName"] for r in second["value"]] == ["r2"] and "@odata.nextLink" not in second


def test_create_quota_is_10_a_minute(clean, emulator):
    emulator.state.extras.pop("defender_quota", None)  # the windows spent by the tests before this one
    emulator.set_config(quota_scale=1)
    statuses = [clean.send("POST", PATH, rule(displayName=f"q{n}")).status_code for n in range(11)]
    assert statuses == [201] * 10 + [429]
    emulator.set_config(quota_scale=100)


def test_unavailable_cloud_is_a_404(clean, emulator):
    emulator.control("PATCH", "detection_rules", json={"unavailable": True})
    resp = clean.send("GET", PATH)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "Request_ResourceNotFound"


def test_missing_role_is_a_403(clean, emulator):
    resp = clean.send("GET", PATH, bearer=get_token(emulator, GRAPH, app="admin_app"))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "Authorization_RequestDenied"


def test_simulated_run_and_auto_disable(clean, emulator):
    ident = clean.send("POST", PATH, rule()).json()["id"]
    emulator.control("POST", "detection_rules/run", json={"id": ident, "status": "autoDisabled"})
    got = clean.send("GET", f"{PATH}/{ident}").json()
    assert got["isEnabled"] is False and got["lastRunDetails"]["status"] == "failed"


def test_rules_load_through_the_data_document(clean, emulator):
    resp = emulator.control("POST", "data/detection_rules", json=[rule(displayName="Loaded")])
    assert resp.status_code == 200, resp.text
    ident = resp.json()["loaded"]["detection_rules"][0]
    assert clean.send("GET", f"{PATH}/{ident}").json()["displayName"] == "Loaded"
    bad = emulator.control("POST", "data/detection_rules", json=[rule(schedule={"period": "2H"})])
    assert bad.status_code == 400 and "detection_rules[0]: schedule.period" in bad.json()["error"]["message"]
