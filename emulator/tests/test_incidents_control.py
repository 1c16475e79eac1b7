"""The incident control plane over real HTTPS: create, update, merge, add alerts, bulk generation, the failure
switches, user data with merges, and time-boundary paging over thousands of incidents on both APIs."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from test_hunting_api import GRAPH, MTP, get_token

SEEDED = 120  # incidents.FILLER_INCIDENTS + 3 attack stories


@pytest.fixture
def api(emulator):
    emulator.reset()
    emulator.set_config(quota_scale=100)
    tokens = {MTP: get_token(emulator, MTP), GRAPH: get_token(emulator, GRAPH)}
    session = emulator.session()

    class Api:
        def get(self, path, resource=MTP, **params):
            return session.get(emulator.url(path), params=params or None, timeout=60,
                               headers={"Authorization": f"Bearer {tokens[resource]}"})

        def follow(self, url, resource):
            parts = urlsplit(url)
            return session.get(emulator.url(f"{parts.path}?{parts.query}"), timeout=60,
                               headers={"Authorization": f"Bearer {tokens[resource]}"})

        def send(self, method, path, body, resource=MTP):
            return session.request(method, emulator.url(path), json=body, timeout=60,
                                   headers={"Authorization": f"Bearer {tokens[resource]}"})

    yield Api()
    session.close()
    emulator.reset()


NEW_INCIDENT = {
    "title": "Lateral movement from a build server", "severity": "High", "status": "Active",
    "assignedTo": "soc3@contoso.onmicrosoft.com", "tags": ["ci"], "systemTags": ["Defender Experts"],
    "created": "-2h",
    "alerts": [
        {"title": "Suspicious remote service creation", "category": "LateralMovement", "severity": "high",
         "devices": ["build-01.contoso.local"],
         "evidence": [{"EntityType": "File", "FileName": "psexesvc.exe", "SHA256": "ab" * 32},
                      {"EntityType": "RegistryKey", "RegistryKey": "HKLM\\SYSTEM\\CurrentControlSet\\Services\\x"}]},
        {"title": "Credential theft", "serviceSource": "MicrosoftDefenderForIdentity", "status": "Active",
         "evidence": [{"EntityType": "User", "AccountName": "svc-build", "AccountDomain": "contoso"}]},
    ],
}


def test_create_incident_with_alerts_devices_and_evidence(emulator, api):
    resp = emulator.control("POST", "incidents", json=NEW_INCIDENT)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["id"] == 1121 and len(created["alertIds"]) == 2
    mtp = api.get(f"/api/incidents/{created['id']}").json()
    assert (mtp["incidentName"], mtp["severity"], mtp["status"]) == \
        ("Lateral movement from a build server", "High", "Active")
    assert mtp["tags"] == ["ci"] and mtp["systemTags"] == ["Defender Experts"]
    first, second = mtp["alerts"]
    assert first["devices"][0]["deviceDnsName"] == "build-01.contoso.local"
    assert {e["entityType"] for e in first["entities"]} == {"File", "Registry"}
    assert second["serviceSource"] == "MicrosoftDefenderForIdentity" and second["status"] == "Active"
    graph = api.get(f"/v1.0/security/incidents/{created['id']}", resource=GRAPH, **{"$expand": "alerts"}).json()
    kinds = {e["@odata.type"] for a in graph["alerts"] for e in a["evidence"]}
    assert kinds == {"#microsoft.graph.security.deviceEvidence", "#microsoft.graph.security.fileEvidence",
                     "#microsoft.graph.security.registryKeyEvidence", "#microsoft.graph.security.userEvidence"}
    assert graph["alerts"][1]["status"] == "inProgress"


@pytest.mark.parametrize("body,field", [({"severity": "Extreme", "title": "x"}, "severity"),
                                        ({"title": ""}, "title"),
                                        ({"title": "x", "alerts": [{"title": "a", "devices": "ws"}]}, "devices"),
                                        ({"title": "x", "status": "Redirected"}, "redirected")])
def test_create_rejects_bad_input_and_changes_nothing(emulator, api, body, field):
    resp = emulator.control("POST", "incidents", json=body)
    assert resp.status_code == 400 and field in resp.json()["error"]["message"]
    assert emulator.control("GET", "incidents").json()["count"] == SEEDED


def test_update_bumps_last_update_and_shows_in_incremental_reads(emulator, api):
    before = api.get("/api/incidents/1003").json()
    cursor = before["lastUpdateTime"]
    resp = emulator.control("PATCH", "incidents/1003", json={
        "status": "inProgress", "severity": "HIGH", "tags": ["escalated"], "assignedTo": "soc9@contoso.onmicrosoft.com",
        "classification": "truePositive", "determination": "CompromisedUser", "comment": "Escalated by the SOC"})
    assert resp.status_code == 200, resp.text
    after = api.get("/api/incidents/1003").json()
    assert (after["status"], after["severity"], after["tags"], after["assignedTo"]) == \
        ("InProgress", "High", ["escalated"], "soc9@contoso.onmicrosoft.com")
    assert (after["classification"], after["determination"]) == ("TruePositive", "CompromisedAccount")
    assert after["comments"][-1]["comment"] == "Escalated by the SOC"
    assert after["lastUpdateTime"] > cursor
    newer = api.get("/v1.0/security/incidents", resource=GRAPH,
                    **{"$filter": f"lastUpdateDateTime gt {cursor}"}).json()["value"]
    assert "1003" in [i["id"] for i in newer]
    fixed = emulator.control("PATCH", "incidents/1003", json={"updated": "2030-01-02T03:04:05Z"}).json()
    assert fixed["incident"]["lastUpdateDateTime"] == "2030-01-02T03:04:05.0000000Z"
    bad = emulator.control("PATCH", "incidents/1003", json={"status": "Closed", "severity": "low"})
    assert bad.status_code == 400
    assert api.get("/api/incidents/1003").json()["severity"] == "High"  # nothing changed
    assert emulator.control("PATCH", "incidents/1003", json={"colour": "red"}).status_code == 400
    assert emulator.control("PATCH", "incidents/99999", json={"status": "active"}).status_code == 404


def test_merge_redirects_the_source_and_moves_its_alerts(emulator, api):
    source_alerts = [a["alertId"] for a in api.get("/api/incidents/1003").json()["alerts"]]
    target_before = api.get("/api/incidents/1001").json()
    resp = emulator.control("POST", "incidents/merge", json={"sources": [1003], "target": 1001})
    assert resp.status_code == 200, resp.text
    assert resp.json()["sources"] == [1003] and resp.json()["target"] == 1001
    source = api.get("/api/incidents/1003").json()
    assert (source["status"], source["redirectIncidentId"], source["alerts"]) == ("Redirected", 1001, [])
    target = api.get("/api/incidents/1001").json()
    assert set(source_alerts) <= {a["alertId"] for a in target["alerts"]}
    assert all(a["incidentId"] == 1001 for a in target["alerts"])
    assert target["lastUpdateTime"] > target_before["lastUpdateTime"]
    assert source["lastUpdateTime"] == target["lastUpdateTime"]
    graph = api.get("/v1.0/security/incidents/1003", resource=GRAPH).json()
    assert (graph["status"], graph["redirectIncidentId"]) == ("redirected", "1001")
    redirected = api.get("/v1.0/security/incidents", resource=GRAPH, **{"$filter": "status eq 'redirected'"})
    assert [i["id"] for i in redirected.json()["value"]] == ["1003"]
    moved = api.get("/v1.0/security/alerts_v2", resource=GRAPH,
                    **{"$filter": f"incidentId eq '1001' and id eq '{source_alerts[0]}'"})
    assert moved.status_code == 400  # id is not a filterable alert property here
    per_incident = api.get("/v1.0/security/alerts_v2", resource=GRAPH, **{"$filter": "incidentId eq '1001'"})
    assert {a["id"] for a in per_incident.json()["value"]} == {a["alertId"] for a in target["alerts"]}
    again = emulator.control("POST", "incidents/merge", json={"source": 1003, "target": 1002})
    assert again.status_code == 400 and "already redirected" in again.json()["error"]["message"]
    into_redirected = emulator.control("POST", "incidents/merge", json={"sources": [1002], "target": 1003})
    assert into_redirected.status_code == 400
    assert emulator.control("POST", "incidents/merge", json={"sources": [1002]}).status_code == 400
    assert emulator.control("POST", "incidents/merge", json={"sources": [1002], "target": 1002}).status_code == 400


def test_add_alerts_to_an_incident(emulator, api):
    resp = emulator.control("POST", "incidents/1002/alerts", json={"alerts": [
        {"title": "Exfiltration over web service", "severity": "high", "category": "Exfiltration",
         "evidence": [{"EntityType": "Url", "RemoteUrl": "https://exfil.example/upload"}]}]})
    assert resp.status_code == 201, resp.text
    alert_id = resp.json()["alertIds"][0]
    graph = api.get(f"/v1.0/security/alerts_v2/{alert_id}", resource=GRAPH).json()
    assert graph["incidentId"] == "1002" and graph["evidence"][0]["url"] == "https://exfil.example/upload"
    hunt = api.send("POST", "/api/advancedhunting/run", {"Query": f"AlertInfo | where AlertId == '{alert_id}'"})
    assert len(hunt.json()["Results"]) == 1
    assert emulator.control("POST", "incidents/1002/alerts", json={"alerts": []}).status_code == 400


def test_user_data_loads_incidents_alerts_and_merges(emulator, api):
    doc = {"incidents": [{"id": 7001, "title": "Phish wave A", "severity": "low", "created": "-3h",
                          "comments": ["seen by tier 1"]},
                         {"id": 7002, "title": "Phish wave B", "severity": "high", "created": "-2h", "tags": ["b"]}],
           "alerts": [{"incidentId": 7001, "title": "User clicked a link", "devices": ["ws-7.contoso.local"]}],
           "incident_merges": [{"sources": [7002], "target": 7001}]}
    resp = emulator.control("POST", "data", json=doc)
    assert resp.status_code == 200, resp.text
    loaded = resp.json()["loaded"]
    assert loaded["incidents"] == [7001, 7002] and len(loaded["alerts"]) == 1
    target = api.get("/api/incidents/7001").json()
    assert target["severity"] == "High" and target["tags"] == ["b"]
    assert [c["comment"] for c in target["comments"]] == ["seen by tier 1"]
    assert {a["title"] for a in target["alerts"]} == {"Phish wave A", "User clicked a link", "Phish wave B"}
    assert api.get("/api/incidents/7002").json()["redirectIncidentId"] == 7001
    count = emulator.control("GET", "incidents").json()["count"]
    bad = emulator.control("POST", "data", json={"incidents": [{"id": 7003, "title": "new"}],
                                                 "incident_merges": [{"sources": [7002], "target": 7001}]})
    assert bad.status_code == 400 and "incident_merges[0]" in bad.json()["error"]["message"]
    taken = emulator.control("POST", "data", json={"incidents": [{"id": 7001, "title": "dup"}]})
    assert taken.status_code == 400 and "already taken" in taken.json()["error"]["message"]
    unknown = emulator.control("POST", "data/alerts", json=[{"incidentId": 424242, "title": "x"}])
    assert unknown.status_code == 400
    assert emulator.control("GET", "incidents").json()["count"] == count  # nothing changed


def test_expand_alerts_fault_and_per_incident_alerts(emulator, api):
    assert emulator.control("PATCH", "incidents/config", json={"expand_alerts_error": "filter"}).status_code == 200
    failing = api.get("/v1.0/security/incidents", resource=GRAPH,
                      **{"$expand": "alerts", "$filter": "status eq 'active'"})
    assert failing.status_code == 500 and failing.json()["error"]["code"] == "UnknownError"
    assert api.get("/v1.0/security/incidents", resource=GRAPH, **{"$expand": "alerts"}).status_code == 200
    plain = api.get("/v1.0/security/incidents", resource=GRAPH, **{"$filter": "status eq 'active'"})
    assert plain.status_code == 200
    per_incident = api.get("/v1.0/security/alerts_v2", resource=GRAPH, **{"$filter": "incidentId eq '1001'"})
    assert sorted(a["title"] for a in per_incident.json()["value"]) == [
        "Credential dumping: Mimikatz", "Email messages containing malicious file removed after delivery",
        "Suspicious PowerShell download cradle"]
    emulator.control("PATCH", "incidents/config", json={"expand_alerts_error": "always"})
    assert api.get("/v1.0/security/incidents/1001", resource=GRAPH, **{"$expand": "alerts"}).status_code == 500
    assert api.get("/v1.0/security/incidents/1001", resource=GRAPH).status_code == 200
    assert emulator.stats()["counters"]["incidents.expand_failed"] == 2
    assert emulator.control("PATCH", "incidents/config", json={"expand_alerts_error": "sometimes"}).status_code == 400
    assert emulator.control("PATCH", "incidents/config", json={"other": 1}).status_code == 400
    emulator.reset()
    assert emulator.control("GET", "incidents/config").json() == {"expand_alerts_error": None,
                                                                 "deep_skip_after": None}


def test_deep_skip_switch_answers_504_on_both_apis(emulator, api):
    emulator.control("PATCH", "incidents/config", json={"deep_skip_after": 100})
    assert api.get("/v1.0/security/incidents", resource=GRAPH, **{"$skip": "100"}).status_code == 200
    deep = api.get("/v1.0/security/incidents", resource=GRAPH, **{"$skip": "101"})
    assert deep.status_code == 504 and "innerError" in deep.json()["error"]
    mtp = api.get("/api/incidents", **{"$skip": "150"})
    assert mtp.status_code == 504 and mtp.json()["error"]["code"] == "GatewayTimeout"
    assert emulator.control("PATCH", "incidents/config", json={"deep_skip_after": -1}).status_code == 400


def _time_paged(api, resource, path, top, time_field, id_field):
    """Page by time boundary (ge cursor, ascending, $skip=0), dedupe (id, lastUpdate) pairs at the boundary."""
    seen, cursor, calls = {}, None, 0
    while True:
        params = {"$top": str(top), "$orderby": f"{time_field} asc"}
        if cursor:
            params["$filter"] = f"{time_field} ge {cursor}"
        resp = api.get(path, resource=resource, **params)
        calls += 1
        assert resp.status_code == 200, resp.text
        page = resp.json()["value"]
        fresh = [i for i in page if (i[id_field], i[time_field]) not in seen]
        for item in page:
            seen[(item[id_field], item[time_field])] = True
        if not fresh or len(page) < top:
            return seen, calls
        cursor = page[-1][time_field]


def test_generate_5000_and_page_by_time_on_both_apis(emulator, api):
    resp = emulator.control("POST", "incidents/generate", json={"count": 5000, "start": "-30d", "end": "-1m",
                                                                "ties": 3})
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert (made["count"], made["first"], made["last"]) == (5000, 1121, 6120)
    total = SEEDED + 5000
    graph_seen, graph_calls = _time_paged(api, GRAPH, "/v1.0/security/incidents", 50, "lastUpdateDateTime", "id")
    assert len({k[0] for k in graph_seen}) == total and graph_calls >= total // 50
    mtp_seen, _ = _time_paged(api, MTP, "/api/incidents", 100, "lastUpdateTime", "incidentId")
    assert len({k[0] for k in mtp_seen}) == total
    stamps = [i["lastUpdateDateTime"] for i in api.get("/v1.0/security/incidents", resource=GRAPH, **{
        "$filter": "createdDateTime ge 2000-01-01T00:00:00Z", "$orderby": "createdDateTime asc",
        "$top": "9"}).json()["value"]]
    assert len(set(stamps)) < len(stamps)  # runs of 3 share one last-update time
    assert api.get("/v1.0/security/incidents", resource=GRAPH, **{"$count": "true", "$top": "1"}).json()[
        "@odata.count"] == total
    bulk_alert = api.get(f"/api/incidents/{made['last']}").json()["alerts"][0]["alertId"]
    hunt = api.send("POST", "/api/advancedhunting/run", {"Query": f"AlertInfo | where AlertId == '{bulk_alert}'"})
    assert hunt.json()["Results"] == []  # bulk alerts stay out of the hunting tables unless huntable
    assert emulator.control("POST", "incidents/generate", json={"count": 0}).status_code == 400
    assert emulator.control("POST", "incidents/generate", json={"count": 5, "start": "now", "end": "-1d"}
                            ).status_code == 400


def test_benchmark_needs_the_quota_switch(emulator):
    emulator.reset()
    try:
        emulator.control("POST", "incidents/generate", json={"count": 100, "end": "-1m"})
        token = get_token(emulator, MTP)
        with emulator.session() as s:
            codes = [s.get(emulator.url("/api/incidents"), headers={"Authorization": f"Bearer {token}"},
                           params={"$top": "1", "$skip": str(k)}, timeout=60).status_code for k in range(51)]
        assert codes == [200] * 50 + [429]  # 50 MTP list calls a minute at the default quota_scale
        emulator.set_config(quota_scale=1000)
        with emulator.session() as s:
            more = [s.get(emulator.url("/api/incidents"), headers={"Authorization": f"Bearer {token}"},
                          params={"$top": "1"}, timeout=60).status_code for _ in range(5)]
        assert more == [200] * 5
    finally:
        emulator.reset()


def test_api_writes_are_counted_and_control_writes_are_not(emulator, api):
    emulator.control("POST", "stats/reset")
    emulator.control("PATCH", "incidents/1001", json={"status": "inProgress"})
    api.get("/api/incidents/1001")
    api.get("/v1.0/security/incidents", resource=GRAPH)
    assert emulator.stats()["counters"].get("incidents.writes", 0) == 0
    alert_id = api.get("/api/incidents/1001").json()["alerts"][0]["alertId"]
    assert api.send("PATCH", "/api/incidents/1001", {"comment": "a"}).status_code == 200
    assert api.send("PATCH", "/v1.0/security/incidents/1001", {"assignedTo": "x@contoso.com"},
                    resource=GRAPH).status_code == 200
    assert api.send("POST", "/v1.0/security/incidents/1001/comments", {"comment": "b"},
                    resource=GRAPH).status_code == 200
    assert api.send("PATCH", f"/v1.0/security/alerts_v2/{alert_id}", {"status": "inProgress"},
                    resource=GRAPH).status_code == 200
    assert api.send("POST", f"/v1.0/security/alerts_v2/{alert_id}/comments", {"comment": "c"},
                    resource=GRAPH).status_code == 200
    assert api.send("PATCH", "/api/incidents/1001", {"status": "Closed"}).status_code == 400  # not a write
    assert emulator.stats()["counters"]["incidents.writes"] == 5


def test_view_counts_by_status(emulator, api):
    view = emulator.control("GET", "incidents").json()
    assert view["count"] == SEEDED and sum(view["by_status"].values()) == SEEDED
    assert view["next_id"] == 1121
    other = emulator.control("GET", "incidents", params={"tenant": "no-such-tenant"})
    assert other.status_code == 404


def test_the_readme_data_document_loads(emulator, api):
    import pathlib

    import yaml

    text = (pathlib.Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    start = text.index("hunting:                               # table -> rows")
    document = yaml.safe_load(text[start:text.index("```", start)])
    resp = emulator.control("POST", "data", json=document)
    assert resp.status_code == 200, resp.text
    assert resp.json()["loaded"]["incident_merges"] == [{"sources": ["5002"], "target": "5001"}]
    merged = api.get("/api/incidents/5002").json()
    assert (merged["status"], merged["redirectIncidentId"]) == ("Redirected", 5001)
    assert len(api.get("/api/incidents/5001").json()["alerts"]) == 3
