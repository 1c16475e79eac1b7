"""Graph directory features a native (public client) app with delegated consent needs, over real HTTPS:
``isFallbackPublicClient``, ``publicClient.redirectUris``, the first-party delegated scopes, ``/users`` and
``Principal`` / ``AllPrincipals`` oauth2PermissionGrants (filter, merge by PATCH, delete).

Tokens come from the token service's own ``tokens.issue_access_token`` (the unit under test is the directory).
"""

from __future__ import annotations

import pytest

from mtp_emulator import tokens

pytestmark = pytest.mark.usefixtures("fresh_emulator")

MTP = "8ee8fdad-f234-4243-8f3b-15c294843740"
GRAPH = "00000003-0000-0000-c000-000000000000"
NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"
ADMIN_ROLES = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
               "DelegatedPermissionGrant.ReadWrite.All", "User.Read.All"]
ANALYST = "analyst@contoso.onmicrosoft.com"


class Graph:
    def __init__(self, emulator, roles=tuple(ADMIN_ROLES)):
        tenant = emulator.tenant(0)
        token, _ = tokens.issue_access_token(emulator.state, tenant["id"], audience="https://graph.microsoft.com",
                                             app_id=tenant["admin_app"]["client_id"], roles=list(roles))
        self.session = emulator.session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.base = f"{emulator.base_url}/v1.0"

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, f"{self.base}{path}", **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def graph(emulator):
    return Graph(emulator)


def _error(resp, status, code):
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
    return resp.json()["error"]["message"]


def test_public_client_settings_round_trip(graph):
    body = {"displayName": "native", "isFallbackPublicClient": True, "publicClient": {"redirectUris": [NATIVE]}}
    resp = graph.patch("/applications(uniqueName='native-1')", json=body, headers={"Prefer": "create-if-missing"})
    assert resp.status_code == 201, resp.text
    got = graph.get("/applications(uniqueName='native-1')",
                    params={"$select": "isFallbackPublicClient,publicClient"}).json()
    assert got["isFallbackPublicClient"] is True
    assert got["publicClient"] == {"redirectUris": [NATIVE]}
    # switched back to confidential in place; the redirect list is replaced whole
    assert graph.patch("/applications(uniqueName='native-1')", json={
        "isFallbackPublicClient": False, "publicClient": {"redirectUris": []}}).status_code == 204
    got = graph.get("/applications(uniqueName='native-1')").json()
    assert (got["isFallbackPublicClient"], got["publicClient"]) == (False, {"redirectUris": []})


@pytest.mark.parametrize("body", [
    {"isFallbackPublicClient": "yes"},
    {"publicClient": {"redirectUris": "https://x"}},
    {"publicClient": {"redirectUris": ["https://*.contoso.com/cb"]}},
    {"publicClient": {"redirectUris": ["http://contoso.com/cb"]}},
    {"publicClient": {"replyUrls": [NATIVE]}},
])
def test_bad_public_client_settings_are_400(graph, body):
    resp = graph.patch("/applications(uniqueName='native-bad')", json=dict(body, displayName="bad"),
                       headers={"Prefer": "create-if-missing"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] in ("Request_BadRequest", "BadRequest")
    assert graph.get("/applications(uniqueName='native-bad')").status_code == 404


def test_first_party_delegated_scope_ids(graph):
    mtp = graph.get(f"/servicePrincipals(appId='{MTP}')", params={"$select": "id,oauth2PermissionScopes"}).json()
    scopes = dict((s["value"], s["id"]) for s in mtp["oauth2PermissionScopes"])
    assert scopes["AdvancedHunting.Read"] == "15f11de4-5113-4268-a2d1-0bad43d781f9"
    assert scopes["Incident.Read"] == "12c153a4-4204-4224-aa3c-4626e2f47c2b"
    ms_graph = graph.get(f"/servicePrincipals(appId='{GRAPH}')", params={"$select": "oauth2PermissionScopes,appRoles"})
    doc = ms_graph.json()
    assert dict((s["value"], s["id"]) for s in doc["oauth2PermissionScopes"])["SecurityIncident.Read.All"] \
        == "b9abcc4f-94fc-4457-9141-d20ce80ec952"
    assert dict((r["value"], r["id"]) for r in doc["appRoles"])["User.Read.All"] \
        == "df021288-bdef-4463-88db-98f22de89214"


def test_users_by_upn_by_id_and_filter(graph, emulator):
    user = graph.get(f"/users/{ANALYST}", params={"$select": "id,userPrincipalName"})
    assert user.status_code == 200, user.text
    doc = user.json()
    assert set(doc) == {"@odata.context", "id", "userPrincipalName"}
    assert doc["userPrincipalName"] == ANALYST
    assert graph.get(f"/users/{doc['id']}").json()["displayName"] == "SOC Analyst"
    assert graph.get("/users/ANALYST@contoso.onmicrosoft.com").json()["id"] == doc["id"]
    listed = graph.get("/users", params={"$filter": f"userPrincipalName eq '{ANALYST}'"}).json()["value"]
    assert [u["id"] for u in listed] == [doc["id"]]
    assert "_password" not in graph.get(f"/users/{doc['id']}").text
    _error(graph.get("/users/nobody@contoso.onmicrosoft.com"), 404, "Request_ResourceNotFound")
    assert graph.post("/users", json={}).status_code == 405
    # Application.ReadWrite.All alone cannot read users
    weak = Graph(emulator, roles=["Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"])
    _error(weak.get(f"/users/{ANALYST}"), 403, "Authorization_RequestDenied")


def test_principal_grants_filter_merge_and_delete(graph):
    app = graph.patch("/applications(uniqueName='native-2')", json={"displayName": "native 2"},
                      headers={"Prefer": "create-if-missing"}).json()
    client = graph.post("/servicePrincipals", json={"appId": app["appId"]}).json()
    mtp = graph.get(f"/servicePrincipals(appId='{MTP}')").json()
    user_id = graph.get(f"/users/{ANALYST}").json()["id"]
    body = {"clientId": client["id"], "consentType": "Principal", "principalId": user_id, "resourceId": mtp["id"],
            "scope": "Incident.Read"}
    resp = graph.post("/oauth2PermissionGrants", json=body)
    assert resp.status_code == 201, resp.text
    grant = resp.json()
    assert {k: grant[k] for k in ("clientId", "consentType", "principalId", "resourceId", "scope")} == {
        "clientId": client["id"], "consentType": "Principal", "principalId": user_id, "resourceId": mtp["id"],
        "scope": "Incident.Read"}
    everyone = graph.post("/oauth2PermissionGrants", json=dict(body, consentType="AllPrincipals", principalId=None,
                                                               scope="AdvancedHunting.Read"))
    assert everyone.status_code == 201, everyone.text
    # the same user twice: 409; a user that does not exist: 404
    assert _error(graph.post("/oauth2PermissionGrants", json=body), 409,
                  "Request_MultipleObjectsWithSameKeyValue") == "Permission entry already exists."
    _error(graph.post("/oauth2PermissionGrants", json=dict(body, principalId="11111111-2222-3333-4444-555555555555")),
           404, "Request_ResourceNotFound")
    by_user = graph.get("/oauth2PermissionGrants", params={
        "$filter": f"clientId eq '{client['id']}' and principalId eq '{user_id}'"}).json()["value"]
    assert [g["id"] for g in by_user] == [grant["id"]]
    by_client = graph.get("/oauth2PermissionGrants", params={"$filter": f"clientId eq '{client['id']}'"}).json()
    assert sorted(g["consentType"] for g in by_client["value"]) == ["AllPrincipals", "Principal"]
    assert graph.patch(f"/oauth2PermissionGrants/{grant['id']}",
                       json={"scope": "Incident.Read Incident.ReadWrite"}).status_code == 204
    assert graph.get(f"/oauth2PermissionGrants/{grant['id']}").json()["scope"] == "Incident.Read Incident.ReadWrite"
    assert _error(graph.patch(f"/oauth2PermissionGrants/{grant['id']}", json={"consentType": "AllPrincipals"}),
                  400, "Request_BadRequest") == "Property cannot be updated"
    assert graph.delete(f"/oauth2PermissionGrants/{grant['id']}").status_code == 204
    left = graph.get("/oauth2PermissionGrants", params={"$filter": f"clientId eq '{client['id']}'"}).json()["value"]
    assert [g["id"] for g in left] == [everyone.json()["id"]]
