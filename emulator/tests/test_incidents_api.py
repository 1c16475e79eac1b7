"""Incidents and alerts over real HTTPS: MTP /api/incidents, Graph /security/incidents and alerts_v2, the
control-plane change feed, quotas and authorization."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from test_hunting_api import GRAPH, MTP, get_token

MTP_TOTAL = 120  # 3 attack-story incidents + 117 filler (incidents.FILLER_INCIDENTS)


@pytest.fixture
def api(emulator):
    emulator.reset()
    emulator.set_config(quota_scale=100)
    tokens = {MTP: get_token(emulator, MTP), GRAPH: get_token(emulator, GRAPH)}
    session = emulator.session()

    class Api:
        def get(self, path, token=None, resource=MTP, **params):
            return session.get(emulator.url(path), params=params or None, timeout=60,
                               headers={"Authorization": f"Bearer {token or tokens[resource]}"})

        def follow(self, url, resource):
            return session.get(url.replace("http://", "https://"), timeout=60,
                               headers={"Authorization": f"Bearer {tokens[resource]}"})

        def send(self, method, path, body, token=None, resource=MTP):
            return session.request(method, emulator.url(path), json=body, timeout=60,
                                   headers={"Authorization": f"Bearer {token or tokens[resource]}"})

    yield Api()
    session.close()
    emulator.reset()


def _local(url: str, emulator) -> str:
    """A nextLink points at the host the request used; keep its path and query."""
    parts = urlsplit(url)
    return emulator.url(f"{parts.path}?{parts.query}")


def test_mtp_list_pages_to_the_last_page(emulator, api):
    seen, url, pages = [], None, 0
    resp = api.get("/api/incidents")
    while True:
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["@odata.context"] == "https://api.security.microsoft.com/api/$metadata#Incidents"
        seen += [i["incidentId"] for i in body["value"]]
        pages += 1
        url = body.get("@odata.nextLink")
        if not url:
            break
        assert len(body["value"]) == 100
        resp = api.follow(_local(url, emulator), MTP)
    assert pages == 2 and len(seen) == len(set(seen)) == MTP_TOTAL


def test_mtp_top_is_capped_at_100_and_skip_pages(api):
    assert len(api.get("/api/incidents", **{"$top": "500"}).json()["value"]) == 100
    first = api.get("/api/incidents", **{"$top": "5"}).json()["value"]
    second = api.get("/api/incidents", **{"$top": "5", "$skip": "5"}).json()["value"]
    assert len(first) == len(second) == 5
    assert not {i["incidentId"] for i in first} & {i["incidentId"] for i in second}
    last = api.get("/api/incidents", **{"$top": "100", "$skip": "100"}).json()
    assert len(last["value"]) == MTP_TOTAL - 100 and "@odata.nextLink" not in last
    assert api.get("/api/incidents", **{"$top": "x"}).status_code == 400


def test_mtp_filters(api):
    active = api.get("/api/incidents", **{"$filter": "status eq 'Active'"}).json()["value"]
    assert active and all(i["status"] == "Active" for i in active)
    cutoff = "2000-01-01T00:00:00Z"
    everything = api.get("/api/incidents", **{"$filter": f"createdTime gt {cutoff}"}).json()["value"]
    assert len(everything) == 100
    story = api.get("/api/incidents/1002").json()
    created = story["createdTime"]
    exact = api.get("/api/incidents", **{"$filter": f"createdTime ge {created} and createdTime le {created}"})
    assert [i["incidentId"] for i in exact.json()["value"]] == [1002]
    mine = api.get("/api/incidents", **{"$filter": f"assignedTo eq '{story['assignedTo']}' and status eq 'InProgress'"})
    assert 1002 in [i["incidentId"] for i in mine.json()["value"]]
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.get("/api/incidents", **{"$filter": f"lastUpdateTime gt {future}"}).json()["value"] == []
    bad = api.get("/api/incidents", **{"$filter": "severity eq 'High'"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "ODataError"


def test_mtp_story_incident_has_the_hunting_alerts(api):
    inc = api.get("/api/incidents/1001").json()
    assert inc["incidentId"] == 1001 and inc["severity"] == "High" and inc["status"] == "Active"
    titles = [a["title"] for a in inc["alerts"]]
    assert "Credential dumping: Mimikatz" in titles
    mimikatz = next(a for a in inc["alerts"] if a["title"] == "Credential dumping: Mimikatz")
    assert mimikatz["devices"][0]["deviceDnsName"].startswith("ws-fin-07.")
    hunt = api.send("POST", "/api/advancedhunting/run",
                    {"Query": f"AlertEvidence | where AlertId == '{mimikatz['alertId']}' | where EntityType == 'File'"
                              " | project FileName"})
    assert hunt.status_code == 200, hunt.text
    assert hunt.json()["Results"] == [{"FileName": "mimikatz.exe"}]
    assert api.get("/api/incidents/999999").status_code == 404


def test_mtp_patch_semantics(api):
    first = api.send("PATCH", "/api/incidents/1003", {"tags": ["a", "b"], "comment": "one"}).json()
    assert first["tags"] == ["a", "b"] and [c["comment"] for c in first["comments"]] == ["one"]
    second = api.send("PATCH", "/api/incidents/1003", {"tags": ["c"], "comment": "two", "status": "Resolved",
                                                       "classification": "TruePositive",
                                                       "determination": "CompromisedAccount",
                                                       "assignedTo": "soc2@contoso.onmicrosoft.com"}).json()
    assert second["tags"] == ["c"]  # replaced
    assert [c["comment"] for c in second["comments"]] == ["one", "two"]  # appended
    assert (second["status"], second["classification"], second["determination"]) == \
        ("Resolved", "TruePositive", "CompromisedAccount")
    assert second["lastUpdateTime"] >= first["lastUpdateTime"]
    # the Graph view of the same incident speaks camelCase
    graph = api.get("/v1.0/security/incidents/1003", resource=GRAPH).json()
    assert (graph["status"], graph["classification"], graph["determination"]) == \
        ("resolved", "truePositive", "compromisedAccount")
    assert graph["customTags"] == ["c"] and graph["assignedTo"] == "soc2@contoso.onmicrosoft.com"


@pytest.mark.parametrize("body", [{"status": "Closed"}, {"classification": "Maybe"},
                                  {"classification": "FalsePositive", "determination": "Malware"},
                                  {"tags": "not-a-list"}])
def test_mtp_patch_bad_values_are_400(api, body):
    resp = api.send("PATCH", "/api/incidents/1001", body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidRequestBody"
    assert api.send("PATCH", "/api/incidents/424242", {"status": "Active"}).status_code == 404


def test_graph_list_top_limit_exact_text(api):
    resp = api.get("/v1.0/security/incidents", resource=GRAPH, **{"$top": "100"})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "" and error["details"] == []
    assert error["message"] == ("The query specified in the URI is not valid. The limit of '50' for Top query has "
                                "been exceeded. The value from the incoming request is '100'.")
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


@pytest.mark.parametrize("path", ["/v1.0/security/incidents", "/v1.0/security/alerts_v2"])
@pytest.mark.parametrize("option,raw", [("$top", "abc"), ("$top", "-1"), ("$skip", "x"), ("$skip", "-5")])
def test_graph_list_bad_paging_values_are_400(api, path, option, raw):
    resp = api.get(path, resource=GRAPH, **{option: raw})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "BadRequest"
    assert error["message"] == f"Invalid value '{raw}' for query option {option}."


def test_graph_list_pages_with_next_link_and_expand(emulator, api):
    resp = api.get("/v1.0/security/incidents", resource=GRAPH, **{"$top": "50", "$expand": "alerts",
                                                                  "$count": "true"})
    seen = []
    while True:
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["@odata.count"] == MTP_TOTAL
        seen += [i["id"] for i in body["value"]]
        assert all(isinstance(i["id"], str) and i["alerts"] for i in body["value"])
        if "@odata.nextLink" not in body:
            break
        assert parse_qs(urlsplit(body["@odata.nextLink"]).query)["$expand"] == ["alerts"]
        resp = api.follow(_local(body["@odata.nextLink"], emulator), GRAPH)
    assert len(seen) == len(set(seen)) == MTP_TOTAL
    story = api.get("/v1.0/security/incidents/1001", resource=GRAPH, **{"$expand": "alerts"}).json()
    kinds = {e["@odata.type"] for a in story["alerts"] for e in a["evidence"]}
    assert {"#microsoft.graph.security.deviceEvidence", "#microsoft.graph.security.fileEvidence"} <= kinds


def test_graph_filters_and_enums(api):
    high = api.get("/v1.0/security/incidents", resource=GRAPH, **{"$filter": "severity eq 'high'"}).json()["value"]
    assert high and all(i["severity"] == "high" for i in high)
    resolved = api.get("/v1.0/security/incidents", resource=GRAPH,
                       **{"$filter": "status eq 'resolved' and classification eq 'falsePositive'"}).json()["value"]
    assert resolved and all(i["determination"] == "notMalicious" for i in resolved)
    bad = api.get("/v1.0/security/incidents", resource=GRAPH, **{"$filter": "displayName eq 'x'"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"


def test_graph_patch_and_comments(api):
    resp = api.send("PATCH", "/v1.0/security/incidents/1002", {"status": "Resolved", "classification": "falsePositive",
                                                               "determination": "notMalicious",
                                                               "customTags": ["x"]}, resource=GRAPH)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["status"], body["classification"], body["determination"], body["customTags"]) == \
        ("resolved", "falsePositive", "notMalicious", ["x"])
    mtp = api.get("/api/incidents/1002").json()
    assert (mtp["classification"], mtp["determination"]) == ("FalsePositive", "Clean")
    for text in ("first", "second"):
        resp = api.send("POST", "/v1.0/security/incidents/1002/comments",
                        {"@odata.type": "microsoft.graph.security.alertComment", "comment": text}, resource=GRAPH)
        assert resp.status_code == 200
    assert [c["comment"] for c in resp.json()["value"]] == ["first", "second"]
    assert api.send("PATCH", "/v1.0/security/incidents/1002", {"severity": "low"}, resource=GRAPH).status_code == 400
    assert api.send("PATCH", "/v1.0/security/incidents/1002", {"status": "bogus"}, resource=GRAPH).status_code == 400
    assert api.get("/v1.0/security/incidents/77", resource=GRAPH).status_code == 404


def test_graph_alerts_v2(api):
    resp = api.get("/v1.0/security/alerts_v2", resource=GRAPH,
                   **{"$filter": "serviceSource eq 'microsoftDefenderForIdentity'"})
    assert resp.status_code == 200
    alerts = resp.json()["value"]
    assert [a["title"] for a in alerts] == ["Password Spray attack"]
    alert_id = alerts[0]["id"]
    page = api.get("/v1.0/security/alerts_v2", resource=GRAPH, **{"$top": "3", "$skip": "1"}).json()
    assert len(page["value"]) == 3 and "@odata.nextLink" in page
    one = api.get(f"/v1.0/security/alerts_v2/{alert_id}", resource=GRAPH).json()
    assert one["incidentId"] == "1003" and one["evidence"][0]["@odata.type"].startswith("#microsoft.graph.security.")
    patched = api.send("PATCH", f"/v1.0/security/alerts_v2/{alert_id}",
                       {"status": "resolved", "classification": "truePositive", "determination": "compromisedUser"},
                       resource=GRAPH).json()
    assert (patched["status"], patched["determination"]) == ("resolved", "compromisedAccount")
    assert patched["resolvedDateTime"]
    assert api.get("/v1.0/security/alerts_v2/nope", resource=GRAPH).status_code == 404


def test_advance_creates_and_updates_incidents(emulator, api):
    cursor = api.get("/api/incidents", **{"$top": "1"}).json()["value"][0]["lastUpdateTime"]
    resp = emulator.control("POST", "incidents/advance", json={"new": 2, "update": 1})
    assert resp.status_code == 200
    change = resp.json()
    assert len(change["created"]) == 2 and len(change["updated"]) == 1
    newer = api.get("/api/incidents", **{"$filter": f"lastUpdateTime gt {cursor}"}).json()["value"]
    assert {i["incidentId"] for i in newer} >= set(change["created"]) | set(change["updated"])
    # the new alerts are huntable too
    alert_id = api.get(f"/api/incidents/{change['created'][0]}").json()["alerts"][0]["alertId"]
    hunt = api.send("POST", "/api/advancedhunting/run", {"Query": f"AlertInfo | where AlertId == '{alert_id}'"})
    assert len(hunt.json()["Results"]) == 1


def test_authorization(emulator, api):
    graph_token = get_token(emulator, GRAPH)
    resp = api.get("/api/incidents", token=graph_token)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "Unauthorized"
    no_role = get_token(emulator, MTP, app="admin_app")
    resp = api.get("/api/incidents", token=no_role)
    assert resp.status_code == 403
    assert resp.json()["error"]["message"].startswith(
        "Missing application roles. API required roles: Incident.Read.All")
    resp = api.get("/v1.0/security/incidents", token=get_token(emulator, GRAPH, app="admin_app"))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "Authorization_RequestDenied"
    resp = api.get("/v1.0/security/alerts_v2", token=get_token(emulator, MTP))
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "InvalidAuthenticationToken"


@pytest.mark.parametrize("path,limit", [("/api/incidents", 5), ("/api/incidents/1001", 10)])
def test_incident_quotas(emulator, path, limit):
    emulator.reset()
    emulator.set_config(quota_scale=0.1)  # 50/min -> 5, 100/min -> 10
    try:
        token = get_token(emulator, MTP)
        with emulator.session() as s:
            statuses = [s.get(emulator.url(path), headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code
                        for _ in range(limit + 1)]
            last = s.get(emulator.url(path), headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert statuses == [200] * limit + [429]
        assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1
        assert last.json()["error"]["message"] == f"API calls quota exceeded! maximum allowed {limit} per 00:01:00"
    finally:
        emulator.reset()


def test_orderby_sorts_both_apis(api):
    asc = api.get("/v1.0/security/incidents", resource=GRAPH,
                  **{"$orderby": "lastUpdateDateTime asc", "$top": "50"}).json()["value"]
    stamps = [i["lastUpdateDateTime"] for i in asc]
    assert stamps == sorted(stamps)
    desc = api.get("/api/incidents", **{"$orderby": "createdTime desc", "$top": "100"}).json()["value"]
    created = [i["createdTime"] for i in desc]
    assert created == sorted(created, reverse=True)
    assert api.get("/api/incidents", **{"$orderby": "nope asc"}).status_code == 400


def test_graph_quota_answers_graph_shaped_429(emulator):
    emulator.reset()
    emulator.set_config(quota_scale=0.1)  # Graph /security: 150 a minute -> 15, incidents and alerts together
    try:
        token = get_token(emulator, GRAPH)
        with emulator.session() as s:
            codes = [s.get(emulator.url(path), headers={"Authorization": f"Bearer {token}"},
                           params={"$top": "1"}, timeout=60)
                     for path in ["/v1.0/security/incidents"] * 10 + ["/v1.0/security/alerts_v2"] * 6]
        assert [r.status_code for r in codes] == [200] * 15 + [429]
        error = codes[-1].json()["error"]
        assert error["code"] == "TooManyRequests" and "innerError" in error
        assert int(codes[-1].headers["Retry-After"]) >= 1
    finally:
        emulator.reset()
