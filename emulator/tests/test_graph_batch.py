"""Graph ``$batch`` of the emulator, over real HTTPS."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_graph_directory import MTP, Graph, error_of

pytestmark = pytest.mark.usefixtures("fresh_emulator")


@pytest.fixture
def graph(emulator):
    return Graph(emulator)


def by_id(resp):
    assert resp.status_code == 200, resp.text
    return {r["id"]: r for r in resp.json()["responses"]}


def test_batch_reads_like_the_first_run_sequence(graph):
    graph.upsert("batch-app", {"displayName": "Batch app"})
    resp = graph.post("/$batch", json={"requests": [
        {"id": "app", "method": "GET",
         "url": "/applications(uniqueName='batch-app')?$select=id,appId,displayName,requiredResourceAccess"},
        {"id": "mtp", "method": "GET",
         "url": f"/servicePrincipals(appId='{MTP}')?$select=id,appId,appRoles,oauth2PermissionScopes"},
        {"id": "missing", "method": "GET", "url": "applications(uniqueName='nope')"},
        {"id": "list", "method": "GET", "url": "/applications?$filter=displayName eq 'Batch app'&$select=id"},
    ]})
    items = by_id(resp)
    assert set(items) == {"app", "mtp", "missing", "list"}
    assert items["app"]["status"] == 200 and items["app"]["body"]["displayName"] == "Batch app"
    assert set(items["app"]["body"]) == {"@odata.context", "id", "appId", "displayName", "requiredResourceAccess"}
    assert items["mtp"]["body"]["appId"] == MTP and items["mtp"]["body"]["appRoles"]
    assert items["missing"]["status"] == 404
    assert items["missing"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert [a["id"] for a in items["list"]["body"]["value"]] == [items["app"]["body"]["id"]]
    assert items["app"]["headers"]["Content-Type"].startswith("application/json")


def test_batch_writes_and_depends_on(graph):
    resp = graph.post("/$batch", json={"requests": [
        {"id": "get", "method": "GET", "url": "/applications(uniqueName='dep-app')", "dependsOn": ["create"]},
        {"id": "create", "method": "PATCH", "url": "/applications(uniqueName='dep-app')",
         "headers": {"Content-Type": "application/json", "Prefer": "create-if-missing"},
         "body": {"displayName": "Dep app"}},
        {"id": "patch", "method": "PATCH", "url": "/applications(uniqueName='dep-app')",
         "headers": {"Content-Type": "application/json"}, "body": {"notes": "second"}, "dependsOn": ["create"]},
    ]})
    items = by_id(resp)
    assert items["create"]["status"] == 201 and items["create"]["body"]["uniqueName"] == "dep-app"
    assert items["get"]["status"] == 200 and items["get"]["body"]["id"] == items["create"]["body"]["id"]
    assert items["patch"]["status"] == 204 and "body" not in items["patch"]
    assert graph.get("/applications(uniqueName='dep-app')").json()["notes"] == "second"


def test_failed_dependency_gives_424(graph):
    resp = graph.post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": f"/applications/{uuid.uuid4()}"},
        {"id": "2", "method": "PATCH", "url": "/applications(uniqueName='never')",
         "headers": {"Content-Type": "application/json", "Prefer": "create-if-missing"},
         "body": {"displayName": "never"}, "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": "/applications(uniqueName='never')", "dependsOn": ["2"]},
        {"id": "4", "method": "GET", "url": "/applications?$top=1"},
    ]})
    items = by_id(resp)
    assert [items[i]["status"] for i in "1234"] == [404, 424, 424, 200]
    assert items["2"]["body"]["error"]["code"] == "FailedDependency"
    error_of(graph.get("/applications(uniqueName='never')"), 404)


def test_twenty_requests_is_the_limit(graph):
    twenty = [{"id": str(i), "method": "GET", "url": "/applications?$top=1&$select=id"} for i in range(20)]
    items = by_id(graph.post("/$batch", json={"requests": twenty}))
    assert len(items) == 20 and all(r["status"] == 200 for r in items.values())
    more = twenty + [{"id": "20", "method": "GET", "url": "/applications"}]
    err = error_of(graph.post("/$batch", json={"requests": more}), 400, "BadRequest")
    assert "exceeds the limit" in err["message"]


@pytest.mark.parametrize("payload", [
    {"requests": [{"id": "1", "method": "POST", "url": "/applications", "body": {"displayName": "x"}}]},
    {"requests": [{"id": "1", "method": "GET", "url": "/applications"},
                  {"id": "1", "method": "GET", "url": "/applications"}]},
    {"requests": [{"id": "1", "method": "GET", "url": "/applications", "dependsOn": ["9"]}]},
    {"requests": [{"id": "1", "method": "GET", "url": "/applications", "dependsOn": ["2"]},
                  {"id": "2", "method": "GET", "url": "/applications", "dependsOn": ["1"]}]},
    {"requests": [{"id": "1", "method": "TRACE", "url": "/applications"}]},
    {"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/applications"}]},
    {"requests": [{"id": "1", "method": "POST", "url": "/$batch", "headers": {"Content-Type": "application/json"},
                   "body": {"requests": []}}]},
    {"requests": []},
    {"nothing": 1},
])
def test_bad_batch_payloads_are_400(graph, payload):
    error_of(graph.post("/$batch", json=payload), 400, "BadRequest")
    # nothing was created by a refused batch
    assert [a for a in graph.get("/applications").json()["value"] if a["displayName"] == "x"] == []


def test_batch_auth(emulator):
    s = emulator.session()
    body = {"requests": [{"id": "1", "method": "GET", "url": "/applications"}]}
    error_of(s.post(f"{emulator.base_url}/v1.0/$batch", json=body, timeout=30), 401, "InvalidAuthenticationToken")
    no_roles = Graph(emulator, roles=())
    items = by_id(no_roles.post("/$batch", json=body))
    assert items["1"]["status"] == 403
    assert items["1"]["body"]["error"]["code"] == "Authorization_RequestDenied"


ITEM = st.fixed_dictionaries(
    {"id": st.one_of(st.text(alphabet="12ab", min_size=0, max_size=2), st.integers(0, 3)),
     "method": st.sampled_from(["GET", "POST", "PATCH", "DELETE", "get", "BREW", 1]),
     "url": st.sampled_from(["/applications", "applications?$top=1", "/applications(uniqueName='q')", "",
                             "/nope", "/servicePrincipals?$filter=appId eq 'x'", "/applications/ü"])},
    optional={"headers": st.one_of(st.dictionaries(st.sampled_from(["Content-Type", "Prefer", "X y", "é"]),
                                                   st.sampled_from(["application/json", "text/plain", "é",
                                                                    "create-if-missing"]), max_size=2),
                                   st.integers()),
              "body": st.one_of(st.none(), st.just({"displayName": "b"}), st.just("raw"), st.just([1])),
              "dependsOn": st.one_of(st.lists(st.sampled_from(["1", "2", "a", "zz"]), max_size=2), st.just("1"))})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(ITEM, min_size=0, max_size=4))
def test_batch_payloads_never_500(emulator, items):
    graph = Graph(emulator)
    resp = graph.post("/$batch", json={"requests": items})
    assert resp.status_code in (200, 400), resp.text
    if resp.status_code == 200:
        statuses = [r["status"] for r in resp.json()["responses"]]
        assert len(statuses) == len(items) and all(s < 500 for s in statuses), resp.text


def test_items_are_throttled_and_reset_on_their_own(graph, emulator):
    emulator.set_faults(throttle={"GET /v1.0/applications": 1}, reset={"PATCH /v1.0/applications*": "after"})
    items = by_id(graph.post("/$batch", json={"requests": [
        {"id": "a", "method": "GET", "url": "/applications?$top=1"},
        {"id": "b", "method": "GET", "url": "/applications?$top=1", "dependsOn": ["a"]},
        {"id": "d", "method": "GET", "url": "/applications?$top=2"},
        {"id": "c", "method": "PATCH", "url": "/applications(uniqueName='reset-me')",
         "headers": {"Content-Type": "application/json", "Prefer": "create-if-missing"},
         "body": {"displayName": "Reset me"}},
    ]}))
    assert items["a"]["status"] == 429 and items["a"]["headers"]["Retry-After"]
    assert items["b"]["status"] == 424  # its dependency failed
    assert items["d"]["status"] == 200  # the throttle budget (one 429) was spent on "a" alone
    assert items["c"]["status"] == 504
    emulator.set_faults(throttle={}, reset={})
    # the reset came after the commit: the app exists
    assert graph.get("/applications(uniqueName='reset-me')").json()["displayName"] == "Reset me"
