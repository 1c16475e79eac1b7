"""The token service's parts, imported and called directly (no HTTP): grants (roles and scp), scopes, clients,
device codes, managed identities, the request form. The HTTP behaviour is in test_tokens_*.py."""

from __future__ import annotations

import base64

import pytest
from flask import Flask

from mtp_emulator.errors import AadError
from mtp_emulator.login import clients, common, device_code, grants, managed_identity
from mtp_emulator.seed import new_state
from mtp_emulator.state import EmulatorConfig

TENANT = "11111111-2222-4333-8444-555555555555"
HUNTER = "aaaaaaaa-0000-4000-8000-000000000001"
PUBLIC = "aaaaaaaa-0000-4000-8000-000000000002"
MTP_APP = "8ee8fdad-f234-4243-8f3b-15c294843740"
GRAPH_APP = "00000003-0000-0000-c000-000000000000"
FIXTURE = {"tenants": [{
    "id": TENANT, "domain": "parts.onmicrosoft.com", "display_name": "Parts", "cloud": "commercial",
    "hunting_app": {"app_id": HUNTER, "display_name": "hunter", "client_secret": "parts-secret-0001",
                    "mtp_roles": ["Incident.Read.All", "AdvancedHunting.Read.All"],
                    "graph_roles": ["ThreatHunting.Read.All"]},
    "public_client": {"app_id": PUBLIC, "display_name": "runbooks",
                      "delegated": {"mtp": ["AdvancedHunting.Read", "Incident.ReadWrite"]}},
    "users": [{"upn": "ana@parts.onmicrosoft.com", "display_name": "Ana", "password": "Ana-Passw0rd!"}],
}]}


@pytest.fixture
def state():
    return new_state(FIXTURE, EmulatorConfig())


@pytest.fixture
def tenant(state):
    return state.tenants[TENANT]


@pytest.fixture
def user(tenant):
    return tenant.directory.find("user", "userPrincipalName", "ana@parts.onmicrosoft.com")


# --- grants: roles ------------------------------------------------------------------------------------------
def test_app_roles_are_the_assigned_roles_sorted(tenant):
    assert grants.app_roles(tenant, HUNTER, MTP_APP) == ["AdvancedHunting.Read.All", "Incident.Read.All"]
    assert grants.app_roles(tenant, HUNTER, GRAPH_APP) == ["ThreatHunting.Read.All"]


def test_app_roles_are_empty_without_assignment_or_service_principal(tenant):
    assert grants.app_roles(tenant, PUBLIC, MTP_APP) == []
    assert grants.app_roles(tenant, "aaaaaaaa-0000-4000-8000-00000000ffff", MTP_APP) == []


def test_a_disabled_app_role_is_not_granted(tenant):
    mtp_sp = tenant.directory.service_principal_by_app_id(MTP_APP)
    for role in mtp_sp["appRoles"]:
        if role["value"] == "Incident.Read.All":
            role["isEnabled"] = False
    assert grants.app_roles(tenant, HUNTER, MTP_APP) == ["AdvancedHunting.Read.All"]


# --- grants: scp --------------------------------------------------------------------------------------------
def test_delegated_scp_default_is_everything_consented(tenant, user):
    app = tenant.directory.application_by_app_id(PUBLIC)
    assert grants.delegated_scp(tenant, app, PUBLIC, user["id"], MTP_APP, [".default"]) == [
        "AdvancedHunting.Read", "Incident.ReadWrite"]
    assert grants.delegated_scp(tenant, app, PUBLIC, user["id"], MTP_APP, []) == [
        "AdvancedHunting.Read", "Incident.ReadWrite"]


def test_delegated_scp_named_scopes_take_the_resource_spelling(tenant, user):
    app = tenant.directory.application_by_app_id(PUBLIC)
    assert grants.delegated_scp(tenant, app, PUBLIC, user["id"], MTP_APP, ["advancedhunting.read"]) == [
        "AdvancedHunting.Read"]


def test_delegated_scp_without_consent_is_65001(tenant, user):
    app = tenant.directory.application_by_app_id(PUBLIC)
    with pytest.raises(AadError) as info:
        grants.delegated_scp(tenant, app, PUBLIC, user["id"], MTP_APP, ["AdvancedHunting.Read", "Machine.Isolate"])
    assert (info.value.status, info.value.error, info.value.code) == (400, "invalid_grant", 65001)
    assert info.value.extra == {"suberror": "consent_required"}
    assert "'runbooks'" in info.value.message
    with pytest.raises(AadError) as info:  # nothing consented on Graph for this client
        grants.delegated_scp(tenant, app, PUBLIC, user["id"], GRAPH_APP, [".default"])
    assert info.value.code == 65001


# --- grants: scope parameter --------------------------------------------------------------------------------
@pytest.mark.parametrize("scope, app_only, expected", [
    ("https://api.security.microsoft.com/.default", True, ("https://api.security.microsoft.com", [".default"], set())),
    ("openid offline_access", False, ("https://graph.microsoft.com", [], {"openid", "offline_access"})),
    ("User.Read profile", False, ("https://graph.microsoft.com", ["User.Read"], {"profile"})),
    ("https://api.security.microsoft.com/AdvancedHunting.Read https://api.security.microsoft.com/Incident.Read "
     "offline_access", False, ("https://api.security.microsoft.com", ["AdvancedHunting.Read", "Incident.Read"],
                               {"offline_access"})),
])
def test_parse_scope(scope, app_only, expected):
    assert grants.parse_scope(scope, app_only=app_only) == expected


@pytest.mark.parametrize("scope, app_only", [
    (None, True), ("  ", False),
    ("https://api.security.microsoft.com/.default openid", True),  # app-only: no OIDC scopes
    ("https://a.example/.default https://b.example/.default", True),
    ("https://api.security.microsoft.com/Incident.Read", True),  # app-only needs /.default
    ("https://a.example/x https://b.example/y", False),  # one resource per request
    ("https://a.example/.default https://a.example/x", False),
])
def test_parse_scope_refusals_are_70011(scope, app_only):
    with pytest.raises(AadError) as info:
        grants.parse_scope(scope, app_only=app_only)
    assert (info.value.error, info.value.code) == ("invalid_scope", 70011)


# --- clients --------------------------------------------------------------------------------------------------
def test_verify_secret(tenant):
    app = tenant.directory.application_by_app_id(HUNTER)
    assert clients.verify_secret(tenant, app, HUNTER, "parts-secret-0001") is None
    with pytest.raises(AadError) as info:
        clients.verify_secret(tenant, app, HUNTER, "not-the-secret")
    assert (info.value.status, info.value.code) == (401, 7000215)
    app["passwordCredentials"][0]["endDateTime"] = "2020-01-01T00:00:00Z"
    with pytest.raises(AadError) as info:
        clients.verify_secret(tenant, app, HUNTER, "parts-secret-0001")
    assert info.value.code == 7000222


def test_find_application_unknown_is_700016(state, tenant):
    with pytest.raises(AadError) as info:
        clients.find_application(state, tenant, "aaaaaaaa-0000-4000-8000-00000000ffff")
    assert (info.value.error, info.value.code) == ("unauthorized_client", 700016)
    assert clients.find_application(state, tenant, HUNTER)["displayName"] == "hunter"


def test_authenticate_client_by_basic_header_and_public_fallback(state, tenant):
    app = Flask("parts")
    with app.test_request_context("/t/oauth2/v2.0/token", method="POST",
                                  headers={"Authorization": "Basic " + base64.b64encode(
                                      f"{HUNTER}:parts-secret-0001".encode()).decode()}):
        _, client_id, acr = clients.authenticate_client(state, tenant, {}, confidential_required=True)
        assert (client_id, acr) == (HUNTER, "1")
    with app.test_request_context("/t/oauth2/v2.0/token", method="POST"):
        _, client_id, acr = clients.authenticate_client(state, tenant, {"client_id": PUBLIC},
                                                        confidential_required=None)
        assert (client_id, acr) == (PUBLIC, "0")
        with pytest.raises(AadError) as info:
            clients.authenticate_client(state, tenant, {"client_id": HUNTER}, confidential_required=None)
        assert info.value.code == 7000218


# --- device codes ---------------------------------------------------------------------------------------------
def test_device_code_pending_then_approved_then_gone(state, tenant, user):
    code = device_code.new_device_code(state, tenant, PUBLIC, "https://api.security.microsoft.com", [".default"],
                                       {"openid"}, "scope text")
    assert len(code["user_code"]) == 9 and set(code["user_code"]) <= set(device_code.USER_CODE_ALPHABET)
    with pytest.raises(AadError) as info:
        device_code._redeem(state, tenant, code["device_code"], PUBLIC)
    assert (info.value.error, info.value.code) == ("authorization_pending", 70016)
    record = device_code.find_device_code(state, code["user_code"].lower())
    record["status"], record["user_id"] = "approved", user["id"]
    assert device_code._redeem(state, tenant, code["device_code"], PUBLIC)["user_id"] == user["id"]
    with pytest.raises(AadError) as info:
        device_code._redeem(state, tenant, code["device_code"], PUBLIC)
    assert (info.value.error, info.value.code) == ("bad_verification_code", 70018)


def test_device_code_for_another_client_is_not_valid(state, tenant):
    code = device_code.new_device_code(state, tenant, PUBLIC, "https://graph.microsoft.com", [], set(), None)
    with pytest.raises(AadError) as info:
        device_code._redeem(state, tenant, code["device_code"], HUNTER)
    assert info.value.code == 70018


# --- managed identity -----------------------------------------------------------------------------------------
def test_seeded_managed_identities_and_their_roles(state, tenant):
    managed_identity.seed_login(state)
    managed_identity.seed_login(state)  # idempotent: same ids, no second service principal
    info = state.extras["login"]["managed_identities"]
    assert sum(1 for sp in tenant.directory.iter("servicePrincipal")
               if sp.get("servicePrincipalType") == "ManagedIdentity") == 2
    assert info["tenant_id"] == TENANT
    system, user_assigned = info["system_assigned"], info["user_assigned"][0]
    assert managed_identity.mi_select(state, {}) == system
    assert managed_identity.mi_select(state, {"client_id": user_assigned["client_id"].upper()}) == user_assigned
    assert managed_identity.mi_select(state, {"mi_res_id": user_assigned["msi_res_id"]}) == user_assigned
    assert managed_identity.mi_select(state, {"object_id": "nope"}) is None
    assert grants.app_roles(tenant, system["client_id"], MTP_APP) == ["AdvancedHunting.Read.All"]
    assert grants.app_roles(tenant, user_assigned["client_id"], MTP_APP) == [
        "AdvancedHunting.Read.All", "Incident.Read.All"]
    sp = tenant.directory.get(system["object_id"], "servicePrincipal")
    assert sp["servicePrincipalType"] == "ManagedIdentity"


# --- the request form and resolution --------------------------------------------------------------------------
@pytest.mark.parametrize("content_type, expected", [
    (None, "client_credentials"),
    ("application/x-www-form-urlencoded", "client_credentials"),
    ("application/json", None),
])
def test_request_form(content_type, expected):
    app = Flask("parts")
    headers = {"Content-Type": content_type} if content_type else {}
    with app.test_request_context("/t/oauth2/v2.0/token", method="POST", data=b"grant_type=client_credentials&x=",
                                  headers=headers):
        form = common.request_form()
        assert form.get("grant_type") == expected
        if expected:
            assert form.get("x") == ""


def test_resolve_resource_by_uri_app_id_and_unknown(tenant):
    assert common.resolve_resource(tenant, "https://api.security.microsoft.com/")[0] == MTP_APP
    assert common.resolve_resource(tenant, MTP_APP.upper())[0] == MTP_APP
    with pytest.raises(AadError) as info:
        common.resolve_resource(tenant, "https://nothing.example")
    assert (info.value.error, info.value.code) == ("invalid_resource", 500011)
