"""Graph alerts_v2 and incident updates over real HTTPS: list filters (incidentId included), PATCH enum
validation in either casing, alert comments, typed evidence, and every determination alias of
docs/developer/reference/defender-api.md §4.6 on both APIs."""

from __future__ import annotations

import pytest

from test_hunting_api import GRAPH, MTP, WDATP, get_token


@pytest.fixture(scope="module")
def api(emulator):
    emulator.reset()
    emulator.set_config(quota_scale=100)
    tokens = {MTP: get_token(emulator, MTP), GRAPH: get_token(emulator, GRAPH)}
    session = emulator.session()

    class Api:
        def get(self, path, resource=GRAPH, **params):
            return session.get(emulator.url(path), params=params or None, timeout=60,
                               headers={"Authorization": f"Bearer {tokens[resource]}"})

        def send(self, method, path, body, resource=GRAPH):
            return session.request(method, emulator.url(path), json=body, timeout=60,
                                   headers={"Authorization": f"Bearer {tokens[resource]}"})

    yield Api()
    session.close()
    emulator.reset()


def _alerts(api, flt, **params):
    resp = api.get("/v1.0/security/alerts_v2", **{"$filter": flt}, **params)
    assert resp.status_code == 200, resp.text
    return resp.json()["value"]


def test_alert_list_filters(api):
    story = _alerts(api, "incidentId eq '1002'")
    assert sorted(a["title"] for a in story) == ["File backups were deleted",
                                                  "Ransomware behavior detected in the file system"]
    high = _alerts(api, "severity eq 'high' and incidentId eq '1001'")
    assert sorted(a["title"] for a in high) == ["Credential dumping: Mimikatz", "Suspicious PowerShell download cradle"]
    created = story[0]["createdDateTime"]
    exact = _alerts(api, f"createdDateTime ge {created} and createdDateTime le {created} and incidentId eq '1002'")
    assert [a["id"] for a in exact] == [story[0]["id"]]
    resolved = _alerts(api, "status eq 'resolved' and classification eq 'unknown'", **{"$top": "500"})
    assert resolved and all(a["status"] == "resolved" and a["resolvedDateTime"] for a in resolved)
    # the seeded fillers' alerts carry no determination (their incidents do)
    assert _alerts(api, "determination eq 'notMalicious'", **{"$top": "500"}) == []
    assert _alerts(api, "lastUpdateDateTime gt 2100-01-01T00:00:00Z") == []
    either = _alerts(api, "incidentId eq '1002' or incidentId eq '1003'")
    assert {a["incidentId"] for a in either} == {"1002", "1003"}
    bad = api.get("/v1.0/security/alerts_v2", **{"$filter": "title eq 'x'"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"


def test_alert_patch_accepts_either_casing_and_answers_camel_case(api):
    alert = _alerts(api, "incidentId eq '1003'")[0]
    resp = api.send("PATCH", f"/v1.0/security/alerts_v2/{alert['id']}",
                    {"status": "InProgress", "classification": "TruePositive", "determination": "MultiStagedAttack",
                     "assignedTo": "soc4@contoso.onmicrosoft.com"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["status"], body["classification"], body["determination"], body["assignedTo"]) == \
        ("inProgress", "truePositive", "multiStagedAttack", "soc4@contoso.onmicrosoft.com")
    assert body["lastUpdateDateTime"] > alert["lastUpdateDateTime"] and body["resolvedDateTime"] is None
    mtp = api.get("/api/incidents/1003", resource=MTP).json()["alerts"][0]
    assert (mtp["status"], mtp["classification"], mtp["determination"]) == \
        ("Active", "TruePositive", "MultiStagedAttack")  # MTP alert status enum: New, Active, Resolved
    for bad in ({"status": "active"}, {"classification": "maybe"}, {"severity": "low"},
                {"classification": "falsePositive", "determination": "malware"}):
        resp = api.send("PATCH", f"/v1.0/security/alerts_v2/{alert['id']}", bad)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "BadRequest", bad
    assert api.get(f"/v1.0/security/alerts_v2/{alert['id']}").json()["status"] == "inProgress"


def test_alert_comments_return_the_full_list(api):
    alert = _alerts(api, "incidentId eq '1001'")[0]
    for text in ("looked at it", "closing"):
        resp = api.send("POST", f"/v1.0/security/alerts_v2/{alert['id']}/comments",
                        {"@odata.type": "microsoft.graph.security.alertComment", "comment": text})
        assert resp.status_code == 200, resp.text
    value = resp.json()["value"]
    assert [c["comment"] for c in value] == ["looked at it", "closing"]
    assert all(c["createdByDisplayName"] and c["createdDateTime"].endswith("Z") for c in value)
    assert [c["comment"] for c in api.get(f"/v1.0/security/alerts_v2/{alert['id']}").json()["comments"]] == \
        ["looked at it", "closing"]
    assert api.send("POST", f"/v1.0/security/alerts_v2/{alert['id']}/comments", {"text": "x"}).status_code == 400
    assert api.send("POST", "/v1.0/security/alerts_v2/nope/comments", {"comment": "x"}).status_code == 404


def test_alert_evidence_is_typed(api):
    kinds = {e["@odata.type"] for a in _alerts(api, "incidentId eq '1001'") for e in a["evidence"]}
    assert kinds == {"#microsoft.graph.security.deviceEvidence", "#microsoft.graph.security.userEvidence",
                     "#microsoft.graph.security.fileEvidence", "#microsoft.graph.security.processEvidence",
                     "#microsoft.graph.security.ipEvidence", "#microsoft.graph.security.analyzedMessageEvidence"}


# (classification, any alias a client may send, Graph wire value, MTP value): §4.6
ALIASES = [
    ("TruePositive", "MultiStagedAttack", "multiStagedAttack", "MultiStagedAttack"),
    ("truePositive", "maliciousUserActivity", "maliciousUserActivity", "MaliciousUserActivity"),
    ("TruePositive", "CompromisedAccount", "compromisedAccount", "CompromisedAccount"),
    ("TruePositive", "CompromisedUser", "compromisedAccount", "CompromisedAccount"),
    ("truePositive", "compromisedUser", "compromisedAccount", "CompromisedAccount"),
    ("TruePositive", "Malware", "malware", "Malware"),
    ("TruePositive", "phishing", "phishing", "Phishing"),
    ("TruePositive", "UnwantedSoftware", "unwantedSoftware", "UnwantedSoftware"),
    ("TruePositive", "Other", "other", "Other"),
    ("TruePositive", "Apt", "apt", "Apt"),
    ("InformationalExpectedActivity", "SecurityTesting", "securityTesting", "SecurityTesting"),
    ("informationalExpectedActivity", "LineOfBusinessApplication", "lineOfBusinessApplication",
     "LineOfBusinessApplication"),
    ("InformationalExpectedActivity", "ConfirmedActivity", "confirmedActivity", "ConfirmedActivity"),
    ("InformationalExpectedActivity", "ConfirmedUserActivity", "confirmedActivity", "ConfirmedActivity"),
    ("InformationalExpectedActivity", "confirmedUserActivity", "confirmedActivity", "ConfirmedActivity"),
    ("InformationalExpectedActivity", "Other", "other", "Other"),
    ("InformationalExpectedActivity", "SecurityPersonnel", "securityPersonnel", "SecurityPersonnel"),
    ("FalsePositive", "Clean", "notMalicious", "Clean"),
    ("falsePositive", "notMalicious", "notMalicious", "Clean"),
    ("FalsePositive", "clean", "notMalicious", "Clean"),
    ("FalsePositive", "NoEnoughDataToValidate", "notEnoughDataToValidate", "NoEnoughDataToValidate"),
    ("FalsePositive", "InsufficientData", "notEnoughDataToValidate", "NoEnoughDataToValidate"),
    ("falsePositive", "insufficientData", "notEnoughDataToValidate", "NoEnoughDataToValidate"),
    ("FalsePositive", "notEnoughDataToValidate", "notEnoughDataToValidate", "NoEnoughDataToValidate"),
    ("FalsePositive", "Other", "other", "Other"),
]


@pytest.mark.parametrize("classification,alias,graph_value,mtp_value", ALIASES)
def test_every_determination_alias_on_both_apis(api, classification, alias, graph_value, mtp_value):
    resp = api.send("PATCH", "/v1.0/security/incidents/1004",
                    {"classification": classification, "determination": alias})
    assert resp.status_code == 200, resp.text
    assert resp.json()["determination"] == graph_value
    resp = api.send("PATCH", "/api/incidents/1005", {"classification": classification, "determination": alias},
                    resource=MTP)
    assert resp.status_code == 200, resp.text
    assert resp.json()["determination"] == mtp_value


def test_graph_incident_patch_casing(api):
    resp = api.send("PATCH", "/v1.0/security/incidents/1006", {"status": "InProgress", "classification": "Unknown",
                                                               "customTags": ["B", "a"]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["status"], body["classification"], body["determination"], body["customTags"]) == \
        ("inProgress", "unknown", "unknown", ["B", "a"])
    mtp = api.send("PATCH", "/api/incidents/1006", {"status": "resolved", "classification": "falsePositive",
                                                    "determination": "clean"}, resource=MTP).json()
    assert (mtp["status"], mtp["classification"], mtp["determination"]) == ("Resolved", "FalsePositive", "Clean")
    twice = [api.send("PATCH", "/api/incidents/1006", {"comment": "same text"}, resource=MTP) for _ in range(2)]
    assert [c["comment"] for c in twice[-1].json()["comments"]].count("same text") == 2  # never idempotent


@pytest.fixture(scope="module")
def mde(emulator_factory_module):
    """A private emulator whose seeded app also holds the WDATP Alert.ReadWrite.All role."""
    from mtp_emulator import seed

    fixture = seed.default_fixture()
    fixture["tenants"][0]["hunting_app"]["wdatp_roles"].append("Alert.ReadWrite.All")
    handle = emulator_factory_module(fixture)
    token = get_token(handle, WDATP)
    session = handle.session()

    class Mde:
        def get(self, path, **params):
            return session.get(handle.url(path), params=params or None, timeout=60,
                               headers={"Authorization": f"Bearer {token}"})

        def patch(self, path, body):
            return session.patch(handle.url(path), json=body, timeout=60, headers={"Authorization": f"Bearer {token}"})

    yield Mde()
    session.close()


@pytest.fixture(scope="module")
def emulator_factory_module(tmp_path_factory):
    from mtp_emulator.server import EmulatorServer
    from mtp_emulator.state import EmulatorConfig

    from conftest import EmulatorHandle

    servers = []

    def factory(fixture):
        server = EmulatorServer(fixture=fixture, config=EmulatorConfig(),
                                state_dir=str(tmp_path_factory.mktemp("mde-alerts")))
        server.start()
        servers.append(server)
        return EmulatorHandle(server)

    yield factory
    for server in servers:
        server.stop()


def test_mde_alerts_list_get_and_filters(mde):
    resp = mde.get("/api/alerts", **{"$filter": "incidentId eq 1002"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["@odata.context"] == "https://api.securitycenter.microsoft.com/api/$metadata#Alerts"
    titles = sorted(a["title"] for a in body["value"])
    assert titles == ["File backups were deleted", "Ransomware behavior detected in the file system"]
    first = body["value"][0]
    assert first["incidentId"] == 1002 and first["status"] == "New" and first["severity"] == "High"
    assert first["computerDnsName"].startswith("srv-file-02.") and "evidence" not in first
    one = mde.get(f"/api/alerts/{first['id']}", **{"$expand": "evidence"}).json()
    assert one["id"] == first["id"] and {e["entityType"] for e in one["evidence"]} >= {"File"}
    only_mde = mde.get("/api/alerts", **{"$top": "10000"}).json()["value"]
    assert "Password Spray attack" not in {a["title"] for a in only_mde}  # an Identity alert: not on this API
    assert len(mde.get("/api/alerts", **{"$top": "2"}).json()["value"]) == 2
    assert mde.get("/api/alerts", **{"$filter": "severity eq 'High' and status eq 'New'"}).status_code == 200
    assert mde.get("/api/alerts", **{"$filter": "title eq 'x'"}).json()["error"]["code"] == "ODataError"
    assert mde.get("/api/alerts/da-nope").status_code == 404


def test_mde_alert_patch(mde):
    alert = mde.get("/api/alerts", **{"$filter": "incidentId eq 1001"}).json()["value"][0]
    resp = mde.patch(f"/api/alerts/{alert['id']}", {"status": "inProgress", "assignedTo": "soc5@contoso.com",
                                                   "classification": "truePositive", "determination": "malware",
                                                   "comment": "triaged"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["status"], body["assignedTo"], body["classification"], body["determination"]) == \
        ("InProgress", "soc5@contoso.com", "TruePositive", "Malware")
    again = mde.patch(f"/api/alerts/{alert['id']}", {"comment": "triaged", "status": "Resolved"}).json()
    assert [c["comment"] for c in again["comments"]] == ["triaged", "triaged"] and again["resolvedTime"]
    for bad in ({"status": "Closed"}, {"severity": "Low"}, {}, {"classification": "FalsePositive",
                                                                "determination": "Malware"}):
        resp = mde.patch(f"/api/alerts/{alert['id']}", bad)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidRequestBody", bad
    assert mde.get(f"/api/alerts/{alert['id']}").json()["status"] == "Resolved"
