"""OIDC discovery, JWKS, instance discovery and user realm, directly and through the CONNECT proxy; MSAL at the
real login URL through the proxy (its ROPC path calls userrealm without the port); replication lag."""

from __future__ import annotations

import hashlib
import time
import uuid

import msal
import pytest

from test_tokens_common import reset_after_module  # noqa: F401 - fixture
from test_tokens_common import (GRAPH, MTP, aad_error, confidential_app, fixture_tenant, jwks_verify,
                                make_certificate, upload_certificate)

pytestmark = pytest.mark.usefixtures("reset_after_module", "fresh_emulator")
REAL_LOGIN = "https://login.microsoftonline.com"


def test_openid_configuration_follows_the_host(emulator, requests_session, proxied_session):
    spec = fixture_tenant(emulator)
    for session, base in ((requests_session, emulator.base_url), (proxied_session, REAL_LOGIN)):
        for key in (spec["id"], spec["domain"]):
            resp = session.get(f"{base}/{key}/v2.0/.well-known/openid-configuration", timeout=30)
            assert resp.status_code == 200, resp.text
            doc = resp.json()
            assert doc["issuer"] == f"{base}/{spec['id']}/v2.0"
            assert doc["token_endpoint"] == f"{base}/{spec['id']}/oauth2/v2.0/token"
            assert doc["device_authorization_endpoint"] == f"{base}/{spec['id']}/oauth2/v2.0/devicecode"
            keys = session.get(doc["jwks_uri"], timeout=30).json()["keys"]
            assert keys and {"kty", "kid", "n", "e", "x5c"} <= set(keys[0])
        v1 = session.get(f"{base}/{spec['id']}/.well-known/openid-configuration", timeout=30).json()
        assert v1["token_endpoint"] == f"{base}/{spec['id']}/oauth2/token"
        assert v1["issuer"] == f"https://sts.windows.net/{spec['id']}/"
        common = session.get(f"{base}/common/discovery/keys", timeout=30).json()
        assert common["keys"][0]["kid"] == keys[0]["kid"]


def test_unknown_tenant_discovery_is_400(emulator, requests_session):
    resp = requests_session.get(emulator.url(f"/{uuid.uuid4()}/v2.0/.well-known/openid-configuration"), timeout=30)
    aad_error(resp, 400, "invalid_tenant", 90002)


def test_instance_discovery_and_userrealm(emulator, proxied_session):
    spec = fixture_tenant(emulator)
    resp = proxied_session.get(f"{REAL_LOGIN}/common/discovery/instance", timeout=30, params={
        "api-version": "1.1", "authorization_endpoint": f"{REAL_LOGIN}/{spec['id']}/oauth2/v2.0/authorize"})
    body = resp.json()
    assert body["tenant_discovery_endpoint"] == f"{REAL_LOGIN}/{spec['id']}/v2.0/.well-known/openid-configuration"
    assert "login.microsoftonline.com" in body["metadata"][0]["aliases"]
    realm = proxied_session.get(f"{REAL_LOGIN}/common/userrealm/{spec['users'][0]['upn']}",
                                params={"api-version": "1.0"}, timeout=30).json()
    assert realm["account_type"] == "Managed" and realm["domain_name"] == spec["domain"]


@pytest.mark.filterwarnings("ignore:This API has been deprecated:DeprecationWarning")
def test_msal_at_real_authority_through_proxy(emulator):
    """MSAL with its default instance discovery and the real authority URL, tunnelled to the emulator."""
    spec = fixture_tenant(emulator)
    user = spec["users"][0]
    with emulator.proxied_session() as session:
        pca = msal.PublicClientApplication(spec["public_client"]["app_id"], authority=f"{REAL_LOGIN}/{spec['id']}",
                                           http_client=session)
        result = pca.acquire_token_by_username_password(user["upn"], user["password"],
                                                        scopes=[f"{MTP}/AdvancedHunting.Read"])
        assert "access_token" in result, result
        assert jwks_verify(emulator, result["access_token"], MTP, spec["id"])["scp"] == "AdvancedHunting.Read"
        hunting = spec["hunting_app"]
        cca = msal.ConfidentialClientApplication(hunting["app_id"], client_credential=hunting["client_secret"],
                                                 authority=f"{REAL_LOGIN}/{spec['domain']}", http_client=session)
        result = cca.acquire_token_for_client([f"{MTP}/.default"])
        assert sorted(jwks_verify(emulator, result["access_token"], MTP, spec["id"])["roles"]) == \
            sorted(hunting["mtp_roles"])
        # a certificate assertion whose aud is the real token endpoint URL, as MSAL builds it
        _, key_pem, cert_pem, der, _ = make_certificate()
        upload_certificate(emulator, spec["id"], hunting["app_id"], der)
        cca = msal.ConfidentialClientApplication(
            hunting["app_id"], client_credential={"private_key": key_pem, "public_certificate": cert_pem},
            authority=f"{REAL_LOGIN}/{spec['id']}", http_client=session)
        result = cca.acquire_token_for_client([f"{MTP}/.default"])
        assert "access_token" in result, result
    assert "login.microsoftonline.com" in emulator.stats()["by_host"]
    paths = [entry["path"] for entry in emulator.log(200)]
    assert f"/common/userrealm/{user['upn']}" in paths  # MSAL's ROPC realm lookup reached the emulator


# --- replication lag -------------------------------------------------------------------------------------------
LAG = 1.5


def _wait_until(deadline):
    time.sleep(max(0.0, deadline - time.time()))


def test_new_secret_refused_until_replicated(emulator, requests_session):
    spec = fixture_tenant(emulator)
    app = spec["hunting_app"]
    emulator.set_config(replication_lag=LAG)
    obj = emulator.state.tenants[spec["id"]].directory.application_by_app_id(app["app_id"])
    created = time.time()
    obj["passwordCredentials"].append({
        "keyId": str(uuid.uuid4()), "displayName": "rotated", "endDateTime": "2099-01-01T00:00:00Z",
        "startDateTime": "2024-01-01T00:00:00Z", "hint": "new",
        "_secretHash": hashlib.sha256(b"brand-new-secret-value").hexdigest(), "_created": created})
    data = {"grant_type": "client_credentials", "client_id": app["app_id"], "client_secret": "brand-new-secret-value",
            "scope": f"{MTP}/.default"}
    url = emulator.url(f"/{spec['id']}/oauth2/v2.0/token")
    aad_error(requests_session.post(url, data=data, timeout=30), 401, "invalid_client", 7000215)
    _wait_until(created + LAG + 0.1)
    resp = requests_session.post(url, data=data, timeout=30)
    assert resp.status_code == 200, resp.text


def test_new_app_and_new_role_assignment_under_lag(emulator, requests_session):
    from mtp_emulator.seed import assign_roles

    spec = fixture_tenant(emulator)
    emulator.set_config(replication_lag=LAG)
    tenant = emulator.state.tenants[spec["id"]]
    client_id = str(uuid.uuid4())
    created = time.time()
    tenant.directory.add("application", {
        "appId": client_id, "displayName": "lagging app", "signInAudience": "AzureADMyOrg",
        "isFallbackPublicClient": False, "keyCredentials": [], "requiredResourceAccess": [],
        "passwordCredentials": [{"keyId": str(uuid.uuid4()), "endDateTime": "2099-01-01T00:00:00Z",
                                 "_secretHash": hashlib.sha256(b"lagging-secret").hexdigest(),
                                 "_created": created}]})
    sp = tenant.directory.add("servicePrincipal", {"appId": client_id, "displayName": "lagging app",
                                                   "servicePrincipalType": "Application", "appRoles": []})
    assign_roles(tenant, sp, "8ee8fdad-f234-4243-8f3b-15c294843740", ["AdvancedHunting.Read.All"], seeded=False)
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "lagging-secret",
            "scope": f"{MTP}/.default"}
    url = emulator.url(f"/{spec['id']}/oauth2/v2.0/token")
    aad_error(requests_session.post(url, data=data, timeout=30), 400, "unauthorized_client", 700016)
    _wait_until(created + LAG + 0.1)
    resp = requests_session.post(url, data=data, timeout=30)
    assert resp.status_code == 200, resp.text
    assert jwks_verify(emulator, resp.json()["access_token"], MTP, spec["id"])["roles"] == ["AdvancedHunting.Read.All"]
    # an assignment made now is missing from tokens until it has replicated
    assigned = time.time()
    assign_roles(tenant, sp, "8ee8fdad-f234-4243-8f3b-15c294843740", ["Incident.Read.All"], seeded=False)
    resp = requests_session.post(url, data=data, timeout=30)
    assert jwks_verify(emulator, resp.json()["access_token"], MTP, spec["id"])["roles"] == ["AdvancedHunting.Read.All"]
    _wait_until(assigned + LAG + 0.1)
    resp = requests_session.post(url, data=data, timeout=30)
    assert jwks_verify(emulator, resp.json()["access_token"], MTP, spec["id"])["roles"] == \
        ["AdvancedHunting.Read.All", "Incident.Read.All"]


def test_new_certificate_refused_until_replicated(emulator):
    spec = fixture_tenant(emulator)
    app = spec["hunting_app"]
    emulator.set_config(replication_lag=LAG)
    _, key_pem, cert_pem, der, _ = make_certificate()
    created = time.time()
    upload_certificate(emulator, spec["id"], app["app_id"], der, created=created)
    credential = {"private_key": key_pem, "public_certificate": cert_pem}
    result = confidential_app(emulator, spec["id"], app["app_id"], credential).acquire_token_for_client(
        [f"{MTP}/.default"])
    assert result.get("error_codes") == [700027], result
    _wait_until(created + LAG + 0.1)
    result = confidential_app(emulator, spec["id"], app["app_id"], credential).acquire_token_for_client(
        [f"{MTP}/.default"])
    assert "access_token" in result, result


def test_organizations_authority_resolves_tenant(emulator, requests_session):
    spec = fixture_tenant(emulator, 1)  # Fabrikam: resolved from the user's domain
    user = spec["users"][0]
    admin = spec["admin_app"]
    doc = requests_session.get(emulator.url("/organizations/v2.0/.well-known/openid-configuration"), timeout=30).json()
    assert doc["issuer"] == f"{emulator.base_url}/{{tenantid}}/v2.0"
    resp = requests_session.post(doc["token_endpoint"], timeout=30, data={
        "grant_type": "password", "client_id": admin["app_id"], "client_secret": admin["client_secret"],
        "username": user["upn"], "password": user["password"], "scope": "https://graph.microsoft.com/.default"})
    # the admin app has no delegated consent: the tenant was found, consent is what is missing
    aad_error(resp, 400, "invalid_grant", 65001)
    resp = requests_session.post(doc["token_endpoint"], timeout=30, data={
        "grant_type": "client_credentials", "client_id": admin["app_id"], "client_secret": admin["client_secret"],
        "scope": "https://graph.microsoft.com/.default"})
    assert resp.status_code == 200, resp.text
    assert jwks_verify(emulator, resp.json()["access_token"], GRAPH, spec["id"])["tid"] == spec["id"]
