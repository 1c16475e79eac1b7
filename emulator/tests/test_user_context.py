"""User context at the token service, over real HTTPS and through real MSAL: directory roles in ``wids``, the
user claims, consent (AllPrincipals and Principal grants), the sign-in errors (50053, 50057, 50126, 65001,
7000218), refresh-token rotation and revocation (50173), the user realm, and the ``/_emulator/users`` control plane.

Expected values are literals: role template ids as listed in emulator/README.md "Users and directory roles", users from
fixtures/default.yaml.
"""

from __future__ import annotations

import msal
import pytest

from test_tokens_common import reset_after_module  # noqa: F401 - fixture
from test_tokens_common import GRAPH, MTP, aad_error, confidential_app, jwks_verify

pytestmark = [pytest.mark.usefixtures("reset_after_module", "fresh_emulator"),
              pytest.mark.filterwarnings("ignore:This API has been deprecated:DeprecationWarning")]

TENANT = "6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f"
PUBLIC_CLIENT = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
HUNTING_APP = "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e"
ADMIN_APP, ADMIN_SECRET = "0b5a4f8e-2c1d-4e3f-9a8b-7c6d5e4f3a21", "contoso-bootstrap-secret-0001"
MEMBER = "b79fbf4d-3ef9-4689-8143-76b194e85509"
SECURITY_READER = "5d6b6bb7-de71-4623-b4af-96380a352509"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
SECURITY_OPERATOR = "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USERS = {  # upn -> (password, wids without the member role)
    "analyst@contoso.onmicrosoft.com": ("Analyst-Passw0rd!", [SECURITY_OPERATOR]),
    "reader@contoso.onmicrosoft.com": ("Reader-Passw0rd!", [SECURITY_READER]),
    "globalreader@contoso.onmicrosoft.com": ("GlobalReader-Passw0rd!", [GLOBAL_READER]),
    "secadmin@contoso.onmicrosoft.com": ("SecAdmin-Passw0rd!", [SECURITY_ADMIN]),
    "admin@contoso.onmicrosoft.com": ("GlobalAdmin-Passw0rd!", [GLOBAL_ADMIN]),
    "norole@contoso.onmicrosoft.com": ("NoRole-Passw0rd!", []),
}


def real_pca(emulator) -> msal.PublicClientApplication:
    """MSAL at the real authority URL, tunnelled to the emulator (its ROPC realm lookup drops the port, so it
    must reach ``login.microsoftonline.com`` itself)."""
    return msal.PublicClientApplication(PUBLIC_CLIENT, authority=f"https://login.microsoftonline.com/{TENANT}",
                                        http_client=emulator.proxied_session())


def _ropc(session, emulator, upn, password, scope=f"{MTP}/AdvancedHunting.Read openid offline_access",
          client_id=PUBLIC_CLIENT, v2=True):
    path = f"/{TENANT}/oauth2/v2.0/token" if v2 else f"/{TENANT}/oauth2/token"
    data = {"grant_type": "password", "client_id": client_id, "username": upn, "password": password,
            "client_info": "1"}
    data.update({"scope": scope} if v2 else {"resource": scope})
    return session.post(emulator.url(path), data=data, timeout=30)


def _refresh(session, emulator, refresh_token, scope=f"{MTP}/AdvancedHunting.Read offline_access"):
    return session.post(emulator.url(f"/{TENANT}/oauth2/v2.0/token"), timeout=30, data={
        "grant_type": "refresh_token", "client_id": PUBLIC_CLIENT, "refresh_token": refresh_token, "scope": scope})


@pytest.mark.parametrize("upn", sorted(USERS))
def test_msal_ropc_token_names_the_user_and_directory_roles(emulator, upn):
    password, wids = USERS[upn]
    pca = real_pca(emulator)
    result = pca.acquire_token_by_username_password(upn, password, scopes=[f"{MTP}/AdvancedHunting.Read"])
    assert "access_token" in result, result
    claims = jwks_verify(emulator, result["access_token"], MTP, TENANT)
    assert claims["wids"] == wids + [MEMBER]
    assert claims["upn"] == upn and claims["idtyp"] == "user" and claims["scp"] == "AdvancedHunting.Read"
    assert claims["appid"] == PUBLIC_CLIENT and "roles" not in claims
    assert claims["oid"] == result["id_token_claims"]["oid"]
    assert claims["name"] == result["id_token_claims"]["name"]
    accounts = pca.get_accounts(username=upn)  # id_token + client_info: MSAL built the account
    assert len(accounts) == 1 and accounts[0]["home_account_id"] == f"{claims['oid']}.{TENANT}"


def test_user_display_names_are_the_fixture_ones(emulator, requests_session):
    resp = _ropc(requests_session, emulator, "secadmin@contoso.onmicrosoft.com", "SecAdmin-Passw0rd!")
    assert resp.status_code == 200, resp.text
    assert jwks_verify(emulator, resp.json()["access_token"], MTP, TENANT)["name"] == "Security Admin"


def test_v1_token_and_refresh_keep_wids(emulator, requests_session):
    resp = _ropc(requests_session, emulator, "reader@contoso.onmicrosoft.com", "Reader-Passw0rd!", scope=MTP, v2=False)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert jwks_verify(emulator, body["access_token"], MTP, TENANT)["wids"] == [SECURITY_READER, MEMBER]
    refreshed = _refresh(requests_session, emulator, body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    claims = jwks_verify(emulator, refreshed.json()["access_token"], MTP, TENANT)
    assert claims["wids"] == [SECURITY_READER, MEMBER] and claims["scp"] == "AdvancedHunting.Read"


def test_locked_disabled_wrong_password(emulator, requests_session):
    body = aad_error(_ropc(requests_session, emulator, "locked@contoso.onmicrosoft.com", "Locked-Passw0rd!"), 400,
                     "invalid_grant", 50053)
    assert "The account is locked" in body["error_description"]
    # lockout answers before the password is looked at
    aad_error(_ropc(requests_session, emulator, "locked@contoso.onmicrosoft.com", "wrong"), 400, "invalid_grant", 50053)
    body = aad_error(_ropc(requests_session, emulator, "disabled@contoso.onmicrosoft.com", "Disabled-Passw0rd!"),
                     400, "invalid_grant", 50057)
    assert "The user account is disabled." in body["error_description"]
    # a wrong password on a disabled account is a credentials error first
    aad_error(_ropc(requests_session, emulator, "disabled@contoso.onmicrosoft.com", "nope"), 400, "invalid_grant",
              50126)
    aad_error(_ropc(requests_session, emulator, "reader@contoso.onmicrosoft.com", "Analyst-Passw0rd!"), 400,
              "invalid_grant", 50126)


def test_msal_ropc_mfa_user_gets_50076(emulator):
    pca = real_pca(emulator)
    result = pca.acquire_token_by_username_password("mfa.admin@contoso.onmicrosoft.com", "Mfa-Passw0rd!",
                                                    scopes=[f"{MTP}/AdvancedHunting.Read"])
    assert result["error"] == "invalid_grant" and result["error_codes"] == [50076], result
    assert result["suberror"] == "basic_action"


def test_public_client_flows_on_a_confidential_app_7000218(emulator, requests_session):
    resp = _ropc(requests_session, emulator, "reader@contoso.onmicrosoft.com", "Reader-Passw0rd!",
                 client_id=HUNTING_APP)
    body = aad_error(resp, 401, "invalid_client", 7000218)
    assert "'client_assertion' or 'client_secret'" in body["error_description"]
    flow = requests_session.post(emulator.url(f"/{TENANT}/oauth2/v2.0/devicecode"), timeout=30, data={
        "client_id": HUNTING_APP, "scope": f"{MTP}/AdvancedHunting.Read"}).json()
    approved = emulator.control("POST", "devicecode/approve", json={"user_code": flow["user_code"],
                                                                     "upn": "reader@contoso.onmicrosoft.com"})
    assert approved.status_code == 200
    poll = requests_session.post(emulator.url(f"/{TENANT}/oauth2/v2.0/token"), timeout=30, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": HUNTING_APP,
        "device_code": flow["device_code"]})
    aad_error(poll, 401, "invalid_client", 7000218)


def _device_flow(session, emulator, scope=f"{MTP}/AdvancedHunting.Read offline_access openid"):
    resp = session.post(emulator.url(f"/{TENANT}/oauth2/v2.0/devicecode"), timeout=30,
                        data={"client_id": PUBLIC_CLIENT, "scope": scope})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _poll(session, emulator, device_code):
    return session.post(emulator.url(f"/{TENANT}/oauth2/v2.0/token"), timeout=30, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": PUBLIC_CLIENT,
        "device_code": device_code})


def test_device_code_users_locked_disabled_and_mfa(emulator, requests_session):
    flow = _device_flow(requests_session, emulator)
    for upn, code in (("locked@contoso.onmicrosoft.com", "AADSTS50053"),
                      ("disabled@contoso.onmicrosoft.com", "AADSTS50057")):
        resp = emulator.control("POST", "devicecode/approve", json={"user_code": flow["user_code"], "upn": upn})
        assert resp.status_code == 409 and code in resp.json()["error"]["message"], resp.text
    # the MFA user completes MFA in the browser: device code works where ROPC does not
    assert emulator.control("POST", "devicecode/approve", json={
        "user_code": flow["user_code"], "upn": "mfa.admin@contoso.onmicrosoft.com"}).status_code == 200
    resp = _poll(requests_session, emulator, flow["device_code"])
    assert resp.status_code == 200, resp.text
    assert jwks_verify(emulator, resp.json()["access_token"], MTP, TENANT)["wids"] == [SECURITY_ADMIN, MEMBER]
    # approved, then disabled before the client polls
    flow = _device_flow(requests_session, emulator)
    assert emulator.control("POST", "devicecode/approve", json={
        "user_code": flow["user_code"], "upn": "reader@contoso.onmicrosoft.com"}).status_code == 200
    assert emulator.control("PATCH", "users/reader@contoso.onmicrosoft.com", json={"enabled": False}).status_code == 200
    aad_error(_poll(requests_session, emulator, flow["device_code"]), 400, "invalid_grant", 50057)


def _graph(emulator):
    """A Graph caller with the seeded admin app's own token (client credentials through MSAL)."""
    cca = confidential_app(emulator, TENANT, ADMIN_APP, ADMIN_SECRET)
    token = cca.acquire_token_for_client([f"{GRAPH}/.default"])["access_token"]
    session = emulator.session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _sp_id(graph, emulator, app_id):
    resp = graph.get(emulator.url(f"/v1.0/servicePrincipals(appId='{app_id}')"), timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def _user_id(upn, emulator, session):
    resp = _ropc(session, emulator, upn, USERS[upn][0])
    assert resp.status_code == 200, resp.text
    return jwks_verify(emulator, resp.json()["access_token"], MTP, TENANT)["oid"]


def test_principal_grant_consents_for_one_user_only(emulator, requests_session):
    graph = _graph(emulator)
    reader_id = _user_id("reader@contoso.onmicrosoft.com", emulator, requests_session)
    grant = graph.post(emulator.url("/v1.0/oauth2PermissionGrants"), timeout=30, json={
        "clientId": _sp_id(graph, emulator, PUBLIC_CLIENT), "consentType": "Principal", "principalId": reader_id,
        "resourceId": _sp_id(graph, emulator, "00000003-0000-0000-c000-000000000000"),
        "scope": "SecurityAlert.Read.All"})
    assert grant.status_code == 201, grant.text
    resp = _ropc(requests_session, emulator, "reader@contoso.onmicrosoft.com", "Reader-Passw0rd!",
                 scope=f"{GRAPH}/SecurityAlert.Read.All {GRAPH}/ThreatHunting.Read.All")
    assert resp.status_code == 200, resp.text
    claims = jwks_verify(emulator, resp.json()["access_token"], GRAPH, TENANT)
    assert sorted(claims["scp"].split()) == ["SecurityAlert.Read.All", "ThreatHunting.Read.All"]
    # .default: everything consented for this user (AllPrincipals + the Principal grant)
    resp = _ropc(requests_session, emulator, "reader@contoso.onmicrosoft.com", "Reader-Passw0rd!",
                 scope=f"{GRAPH}/.default")
    assert sorted(jwks_verify(emulator, resp.json()["access_token"], GRAPH, TENANT)["scp"].split()) == [
        "SecurityAlert.Read.All", "SecurityIncident.ReadWrite.All", "ThreatHunting.Read.All", "User.Read"]
    # another user asking for the same scope: no consent
    body = aad_error(_ropc(requests_session, emulator, "secadmin@contoso.onmicrosoft.com", "SecAdmin-Passw0rd!",
                           scope=f"{GRAPH}/SecurityAlert.Read.All"), 400, "invalid_grant", 65001)
    assert body["error_description"].startswith(
        "AADSTS65001: The user or administrator has not consented to use the application with ID "
        f"'{PUBLIC_CLIENT}' named 'SOC runbooks (public client, seeded)'. Send an interactive authorization "
        "request for this user and resource.")
    assert body["suberror"] == "consent_required"


def test_refresh_tokens_rotate_and_the_redeemed_one_is_gone(emulator, requests_session):
    first = _ropc(requests_session, emulator, "analyst@contoso.onmicrosoft.com", "Analyst-Passw0rd!").json()
    second = _refresh(requests_session, emulator, first["refresh_token"])
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["refresh_token"] not in ("", first["refresh_token"])
    aad_error(_refresh(requests_session, emulator, first["refresh_token"]), 400, "invalid_grant", 9002313)
    third = _refresh(requests_session, emulator, second["refresh_token"])
    assert third.status_code == 200 and third.json()["refresh_token"] != second["refresh_token"]


def test_revoking_a_users_refresh_tokens_50173(emulator, requests_session):
    upn = "globalreader@contoso.onmicrosoft.com"
    tokens = [_ropc(requests_session, emulator, upn, "GlobalReader-Passw0rd!").json()["refresh_token"]
              for _ in range(2)]
    other = _ropc(requests_session, emulator, "reader@contoso.onmicrosoft.com", "Reader-Passw0rd!").json()
    listed = {u["upn"]: u for u in emulator.control("GET", "users").json()["value"]}
    assert listed[upn]["refresh_tokens"] == 2
    resp = emulator.control("POST", f"users/{upn}/revoke")
    assert resp.status_code == 200 and resp.json()["revoked"] == 2, resp.text
    for value in tokens:
        body = aad_error(_refresh(requests_session, emulator, value), 400, "invalid_grant", 50173)
        assert "The provided grant has expired due to it being revoked" in body["error_description"]
    assert _refresh(requests_session, emulator, other["refresh_token"]).status_code == 200  # other users keep theirs
    fresh = _ropc(requests_session, emulator, upn, "GlobalReader-Passw0rd!").json()  # a new sign-in works again
    assert _refresh(requests_session, emulator, fresh["refresh_token"]).status_code == 200
    assert emulator.control("POST", "users/ghost@contoso.onmicrosoft.com/revoke").status_code == 404


def test_refresh_for_a_user_disabled_since_sign_in_50057(emulator, requests_session):
    first = _ropc(requests_session, emulator, "secadmin@contoso.onmicrosoft.com", "SecAdmin-Passw0rd!").json()
    assert emulator.control("PATCH", "users/SECADMIN@contoso.onmicrosoft.com", json={"enabled": False}).status_code == 200
    aad_error(_refresh(requests_session, emulator, first["refresh_token"]), 400, "invalid_grant", 50057)


def test_userrealm_managed_unknown_and_tenant_form(emulator, requests_session):
    for path in ("/common/userrealm/reader@contoso.onmicrosoft.com",
                 f"/{TENANT}/userrealm/reader@contoso.onmicrosoft.com"):
        resp = requests_session.get(emulator.url(path), params={"api-version": "1.0"}, timeout=30)
        assert resp.json() == {"ver": "1.0", "account_type": "Managed", "domain_name": "contoso.onmicrosoft.com",
                               "cloud_instance_name": "microsoftonline.com",
                               "cloud_audience_urn": "urn:federation:MicrosoftOnline"}
    resp = requests_session.get(emulator.url("/common/userrealm/someone@example.invalid"),
                                params={"api-version": "1.0"}, timeout=30)
    assert resp.status_code == 200
    assert resp.json() == {"ver": "1.0", "account_type": "Unknown", "domain_name": "example.invalid",
                           "cloud_instance_name": "microsoftonline.com",
                           "cloud_audience_urn": "urn:federation:MicrosoftOnline"}


def test_msal_ropc_asks_the_user_realm_first(emulator):
    pca = real_pca(emulator)
    result = pca.acquire_token_by_username_password("globalreader@contoso.onmicrosoft.com", "GlobalReader-Passw0rd!",
                                                    scopes=[f"{MTP}/AdvancedHunting.Read"])
    assert "access_token" in result, result
    paths = [entry["path"] for entry in emulator.log(50)]
    assert "/common/userrealm/globalreader@contoso.onmicrosoft.com" in paths


def test_control_plane_adds_and_changes_users(emulator, requests_session):
    resp = emulator.control("POST", "users", json={"upn": "temp@contoso.onmicrosoft.com", "password": "Temp-Passw0rd!",
                                                    "display_name": "Temp", "roles": ["security reader"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["value"][0]["roles"] == ["Security Reader"]
    token = _ropc(requests_session, emulator, "temp@contoso.onmicrosoft.com", "Temp-Passw0rd!").json()
    assert jwks_verify(emulator, token["access_token"], MTP, TENANT)["wids"] == [SECURITY_READER, MEMBER]
    resp = emulator.control("PATCH", "users/temp@contoso.onmicrosoft.com",
                            json={"roles": ["Global Administrator", "Security Operator"], "mfa": True})
    assert resp.json()["wids"] == [GLOBAL_ADMIN, SECURITY_OPERATOR, MEMBER] and resp.json()["mfa"] is True
    aad_error(_ropc(requests_session, emulator, "temp@contoso.onmicrosoft.com", "Temp-Passw0rd!"), 400,
              "invalid_grant", 50076)
    listed = emulator.control("GET", "users").text
    assert "Temp-Passw0rd!" not in listed and "_password" not in listed and "temp@contoso.onmicrosoft.com" in listed


@pytest.mark.parametrize("method,path,body,text", [
    ("POST", "users", {"upn": "x@contoso.onmicrosoft.com", "password": "p", "roles": ["Root"]},
     "unknown directory role 'Root'"),
    ("POST", "users", {"upn": "x@contoso.onmicrosoft.com"}, "'password' is required"),
    ("POST", "users", {"upn": "x@contoso.onmicrosoft.com", "password": "p", "admin": True}, "unknown field(s) admin"),
    ("PATCH", "users/reader@contoso.onmicrosoft.com", {"colour": "red"}, "unknown field(s) colour"),
    ("PATCH", "users/reader@contoso.onmicrosoft.com", {"roles": "Security Reader"}, "'roles' must be a list"),
])
def test_control_plane_refuses_bad_users(emulator, method, path, body, text):
    resp = emulator.control(method, path, json=body)
    assert resp.status_code == 400 and text in resp.json()["error"]["message"], resp.text
    assert emulator.control("PATCH", "users/ghost@contoso.onmicrosoft.com", json={"mfa": True}).status_code == 404
