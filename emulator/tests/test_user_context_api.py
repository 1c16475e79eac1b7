"""User rights on the Defender (MTP, MDE) and Graph security APIs, and the Graph ``/me`` and ``memberOf`` routes,
with delegated tokens from real ROPC sign-ins over HTTPS.

A delegated token is checked twice: the app's scope and the user's directory role (mtp_emulator/authz.py). Users
and roles come from fixtures/default.yaml; expected bodies are literals.
"""

from __future__ import annotations

import pytest

from test_tokens_common import reset_after_module  # noqa: F401 - fixture
from test_tokens_common import GRAPH, MTP, WDATP, confidential_app
from test_user_context import ADMIN_APP, ADMIN_SECRET, PUBLIC_CLIENT, TENANT, USERS, _graph, _ropc, _sp_id

pytestmark = pytest.mark.usefixtures("reset_after_module")

GRAPH_DENIED = {"code": "Forbidden",
                "message": "Auth token does not contain valid permissions or user does not have valid roles."}
WRITERS = "Security Operator, Security Administrator, Global Administrator"
READERS = "Security Reader, Global Reader, Security Operator, Security Administrator, Global Administrator"
WDATP_SCOPES = "AdvancedQuery.Read Machine.Read Machine.Isolate Ti.ReadWrite"


@pytest.fixture(scope="module")
def api(emulator):
    """Tokens per user and resource (signed in once), and a session; the public client gets WDATP consent."""
    emulator.reset()
    emulator.set_config(quota_scale=100, hunting_rows=200)
    graph = _graph(emulator)
    resp = graph.post(emulator.url("/v1.0/oauth2PermissionGrants"), timeout=30, json={
        "clientId": _sp_id(graph, emulator, PUBLIC_CLIENT), "consentType": "AllPrincipals", "principalId": None,
        "resourceId": _sp_id(graph, emulator, "fc780465-2017-40d4-a0c5-307022471b92"), "scope": WDATP_SCOPES})
    assert resp.status_code == 201, resp.text
    session = emulator.session()
    cache: dict = {}

    class Api:
        def token(self, who: str, resource: str) -> str:
            if (who, resource) not in cache:
                upn = f"{who}@contoso.onmicrosoft.com"
                resp = _ropc(session, emulator, upn, USERS[upn][0], scope=f"{resource}/.default")
                assert resp.status_code == 200, resp.text
                cache[(who, resource)] = resp.json()["access_token"]
            return cache[(who, resource)]

        def call(self, who, method, path, body=None, resource=MTP, token=None):
            bearer = token or self.token(who, resource)
            return session.request(method, emulator.url(path), json=body, timeout=120,
                                   headers={"Authorization": f"Bearer {bearer}"})

    yield Api()
    session.close()
    emulator.reset()


def _mtp_denied(resp, needed: str, held: str):
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert error["code"] == "Forbidden"
    assert error["message"] == ("The signed-in user has no Microsoft Defender permission for this operation. "
                                f"Required Microsoft Entra role: {needed}; the user has: {held}.")


HUNT = {"Query": "DeviceInfo | take 1"}


@pytest.mark.parametrize("who", ["reader", "globalreader", "analyst", "secadmin", "admin"])
def test_every_security_role_can_read(api, who):
    assert api.call(who, "POST", "/api/advancedhunting/run", HUNT).status_code == 200
    assert api.call(who, "GET", "/api/incidents").status_code == 200
    assert api.call(who, "POST", "/v1.0/security/runHuntingQuery", HUNT, resource=GRAPH).status_code == 200
    assert api.call(who, "GET", "/v1.0/security/incidents", resource=GRAPH).status_code == 200
    assert api.call(who, "POST", "/api/advancedqueries/run", HUNT, resource=WDATP).status_code == 200


def test_a_user_without_a_security_role_is_refused_although_the_app_has_the_scope(api):
    _mtp_denied(api.call("norole", "POST", "/api/advancedhunting/run", HUNT), READERS, "none")
    _mtp_denied(api.call("norole", "GET", "/api/incidents"), READERS, "none")
    _mtp_denied(api.call("norole", "POST", "/api/advancedqueries/run", HUNT, resource=WDATP), READERS, "none")
    resp = api.call("norole", "POST", "/v1.0/security/runHuntingQuery", HUNT, resource=GRAPH)
    assert resp.status_code == 403 and {k: resp.json()["error"][k] for k in ("code", "message")} == GRAPH_DENIED


@pytest.mark.parametrize("who,role", [("reader", "Security Reader"), ("globalreader", "Global Reader")])
def test_readers_cannot_write(api, who, role):
    _mtp_denied(api.call(who, "PATCH", "/api/incidents/1001", {"comment": "reader"}), WRITERS, role)
    resp = api.call(who, "PATCH", "/v1.0/security/incidents/1001", {"status": "active"}, resource=GRAPH)
    assert resp.status_code == 403 and {k: resp.json()["error"][k] for k in ("code", "message")} == GRAPH_DENIED
    incident = api.call(who, "GET", "/api/incidents/1001").json()
    assert "reader" not in [c.get("comment") for c in incident.get("comments") or []]  # nothing changed


def test_operator_and_admins_write_incidents(api):
    for who in ("analyst", "secadmin", "admin"):
        resp = api.call(who, "PATCH", "/api/incidents/1002", {"comment": f"by {who}"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["comments"][-1] == {**resp.json()["comments"][-1], "comment": f"by {who}",
                                               "createdBy": f"{who}@contoso.onmicrosoft.com"}
    resp = api.call("analyst", "PATCH", "/v1.0/security/incidents/1002", {"status": "active"}, resource=GRAPH)
    assert resp.status_code == 200, resp.text


def _machine(api) -> str:
    resp = api.call("admin", "GET", "/api/machines", resource=WDATP)
    assert resp.status_code == 200, resp.text
    return resp.json()["value"][0]["id"]


def test_machine_actions_and_indicators_by_role(api):
    machine = _machine(api)
    isolate = {"Comment": "contain", "IsolationType": "Full"}
    assert api.call("reader", "GET", f"/api/machines/{machine}", resource=WDATP).status_code == 200
    _mtp_denied(api.call("reader", "POST", f"/api/machines/{machine}/isolate", isolate, resource=WDATP),
                WRITERS, "Security Reader")
    resp = api.call("analyst", "POST", f"/api/machines/{machine}/isolate", isolate, resource=WDATP)
    assert resp.status_code == 201, resp.text
    indicator = {"indicatorValue": "220e7d15b011d7fac48f2bd61114db1022197f7f", "indicatorType": "FileSha1",
                 "action": "Block", "title": "t", "description": "d"}
    # indicators are a settings write: Security Administrator or Global Administrator (emulator model)
    _mtp_denied(api.call("analyst", "POST", "/api/indicators", indicator, resource=WDATP),
                "Security Administrator, Global Administrator", "Security Operator")
    assert api.call("secadmin", "POST", "/api/indicators", indicator, resource=WDATP).status_code == 200


def test_rights_follow_a_role_change_on_mtp(api, emulator):
    """MTP/MDE read the user's roles as they are now; Graph trusts the token's wids claim."""
    token = api.token("reader", MTP)
    graph_token = api.token("reader", GRAPH)
    emulator.control("PATCH", "users/reader@contoso.onmicrosoft.com", json={"roles": []})
    try:
        _mtp_denied(api.call("reader", "GET", "/api/incidents", token=token), READERS, "none")
        resp = api.call("reader", "GET", "/v1.0/security/incidents", resource=GRAPH, token=graph_token)
        assert resp.status_code == 200
    finally:
        emulator.control("PATCH", "users/reader@contoso.onmicrosoft.com", json={"roles": ["Security Reader"]})


def test_app_tokens_are_not_checked_for_user_roles(api, emulator):
    hunting = emulator.tenant(0)["hunting_app"]
    cca = confidential_app(emulator, TENANT, hunting["client_id"], hunting["client_secret"])
    token = cca.acquire_token_for_client([f"{MTP}/.default"])["access_token"]
    resp = api.call(None, "PATCH", "/api/incidents/1003", {"comment": "by the app"}, token=token)
    assert resp.status_code == 200, resp.text
    assert resp.json()["comments"][-1]["createdBy"] == f"API-App:{hunting['client_id']}"


# --- Graph /me and memberOf -------------------------------------------------------------------------------------
def test_me_and_my_directory_roles(api):
    me = api.call("reader", "GET", "/v1.0/me", resource=GRAPH)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["userPrincipalName"] == "reader@contoso.onmicrosoft.com" and body["displayName"] == "Security Reader"
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    roles = api.call("reader", "GET", "/v1.0/me/memberOf", resource=GRAPH).json()
    assert roles["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#directoryObjects"
    [role] = roles["value"]
    assert role["@odata.type"] == "#microsoft.graph.directoryRole"
    assert role["roleTemplateId"] == "5d6b6bb7-de71-4623-b4af-96380a352509" and role["displayName"] == "Security Reader"
    assert api.call("norole", "GET", "/v1.0/me/memberOf", resource=GRAPH).json()["value"] == []
    # the token for another resource is refused by Graph
    assert api.call("reader", "GET", "/v1.0/me", resource=MTP).status_code == 401


def test_me_needs_a_delegated_token_and_a_user_scope(api, emulator):
    cca = confidential_app(emulator, TENANT, ADMIN_APP, ADMIN_SECRET)
    app_token = cca.acquire_token_for_client([f"{GRAPH}/.default"])["access_token"]
    resp = api.call(None, "GET", "/v1.0/me", token=app_token)
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "/me request is only valid with delegated authentication flow."
    upn = "secadmin@contoso.onmicrosoft.com"
    with emulator.session() as session:
        narrow = _ropc(session, emulator, upn, USERS[upn][0], scope=f"{GRAPH}/ThreatHunting.Read.All").json()
    resp = api.call(None, "GET", "/v1.0/me/memberOf", token=narrow["access_token"])
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "Authorization_RequestDenied"


def test_users_member_of_with_an_app_token(api, emulator):
    hunting = emulator.tenant(0)["hunting_app"]  # Graph hunting and security roles: no user read permission
    cca = confidential_app(emulator, TENANT, hunting["client_id"], hunting["client_secret"])
    token = cca.acquire_token_for_client([f"{GRAPH}/.default"])["access_token"]
    denied = api.call(None, "GET", "/v1.0/users/admin@contoso.onmicrosoft.com/memberOf", token=token)
    assert denied.status_code == 403
    graph = _graph(emulator)  # the fixture's admin app holds User.Read.All (for mtp_aad_app_setup consent.users)
    resp = graph.get(emulator.url("/v1.0/users/ADMIN@contoso.onmicrosoft.com/memberOf"), timeout=30)
    assert resp.status_code == 200, resp.text
    assert [r["roleTemplateId"] for r in resp.json()["value"]] == ["62e90394-69f5-4237-9190-012177145e10"]
    user_id = graph.get(emulator.url("/v1.0/users/analyst@contoso.onmicrosoft.com"), timeout=30).json()["id"]
    by_id = graph.get(emulator.url(f"/v1.0/users/{user_id}/memberOf"), timeout=30).json()["value"]
    assert [r["displayName"] for r in by_id] == ["Security Operator"]
    missing = graph.get(emulator.url("/v1.0/users/ghost@contoso.onmicrosoft.com/memberOf"), timeout=30)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"
