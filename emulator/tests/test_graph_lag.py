"""Replication lag in the Graph directory (``replication_lag`` set through the control plane, real HTTPS)."""

from __future__ import annotations

import time

import pytest

from test_graph_directory import ADVANCED_HUNTING_ROLE, MTP, Graph, error_of

pytestmark = pytest.mark.usefixtures("fresh_emulator")

LAG = 1.5


@pytest.fixture
def graph(emulator):
    emulator.set_config(replication_lag=LAG)
    return Graph(emulator)


def poll(fn, timeout=LAG * 4):
    """Call ``fn`` until it returns a truthy value; return (value, seconds waited)."""
    start = time.monotonic()
    while True:
        value = fn()
        if value:
            return value, time.monotonic() - start
        assert time.monotonic() - start < timeout, "still not replicated"
        time.sleep(0.1)


def test_new_app_is_invisible_but_never_duplicated(graph, emulator):
    created = graph.upsert("lag-app", {"displayName": "Lag app"})
    assert created.status_code == 201
    app = created.json()
    t0 = time.monotonic()
    error_of(graph.get("/applications(uniqueName='lag-app')"), 404, "Request_ResourceNotFound")
    error_of(graph.get(f"/applications/{app['id']}"), 404)
    error_of(graph.get(f"/applications(appId='{app['appId']}')"), 404)
    assert all(a["id"] != app["id"] for a in graph.get("/applications?$top=999").json()["value"])
    # writes reach the primary: a replayed upsert updates, a POST with the name conflicts
    assert graph.upsert("lag-app", {"displayName": "Lag app", "notes": "replayed"}).status_code == 204
    err = error_of(graph.post("/applications", json={"displayName": "dup", "uniqueName": "lag-app"}), 400)
    assert "uniqueName already exists" in err["message"]
    # the SP cannot be created until the app has replicated
    err = error_of(graph.post("/servicePrincipals", json={"appId": app["appId"]}), 400, "Request_BadRequest")
    assert err["details"][0]["code"] == "NoBackingApplicationObject"
    assert time.monotonic() - t0 < LAG, "the checks above must run inside the lag window"
    got, waited = poll(lambda: (r := graph.get("/applications(uniqueName='lag-app')")).status_code == 200 and r)
    assert got.json()["notes"] == "replayed"
    objects = emulator.state.tenant(graph.tenant["id"]).directory.objects.values()
    assert [o["id"] for o in objects if o.get("uniqueName") == "lag-app"] == [app["id"]]
    sp, _ = poll(lambda: (r := graph.post("/servicePrincipals", json={"appId": app["appId"]})).status_code == 201
                 and r)
    assert sp.json()["appId"] == app["appId"]


def test_new_references_and_assignments_lag(graph):
    app = graph.upsert("lag-ref", {"displayName": "Lag ref"}).json()
    sp, _ = poll(lambda: (r := graph.post("/servicePrincipals", json={"appId": app["appId"]})).status_code == 201
                 and r.json())
    mtp = graph.sp_by_app_id(MTP)  # seeded: always replicated
    body = {"principalId": sp["id"], "resourceId": mtp["id"], "appRoleId": ADVANCED_HUNTING_ROLE}
    # the brand-new SP is not yet a valid reference
    error_of(graph.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo", json=body), 404,
             "Request_ResourceNotFound")
    error_of(graph.post("/oauth2PermissionGrants", json={
        "clientId": sp["id"], "consentType": "AllPrincipals", "resourceId": mtp["id"], "scope": "Incident.Read"}),
        404, "Request_ResourceNotFound")
    error_of(graph.get(f"/servicePrincipals(appId='{app['appId']}')"), 404)
    created, _ = poll(lambda: (r := graph.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo",
                                               json=body)).status_code == 201 and r.json())
    t0 = time.monotonic()
    # the duplicate check sees the unreplicated assignment; lists do not show it yet
    err = error_of(graph.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo", json=body), 400)
    assert "already exists" in err["message"]
    assert graph.get(f"/servicePrincipals/{sp['id']}/appRoleAssignments").json()["value"] == []
    assert time.monotonic() - t0 < LAG
    listed, waited = poll(lambda: graph.get(f"/servicePrincipals/{sp['id']}/appRoleAssignments").json()["value"])
    assert [a["id"] for a in listed] == [created["id"]] and waited > 0.5
