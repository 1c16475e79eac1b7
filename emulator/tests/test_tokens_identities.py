"""Managed identity (IMDS and App Service shapes) and workload identity federation with azure-identity."""

from __future__ import annotations

import base64
import time

import pytest
from azure.identity import ManagedIdentityCredential, WorkloadIdentityCredential

from test_tokens_common import reset_after_module  # noqa: F401 - fixture
from test_tokens_common import (GRAPH, MTP, aad_error, confidential_app, fixture_tenant, jwks_verify,
                                make_certificate)

pytestmark = pytest.mark.usefixtures("reset_after_module", "fresh_emulator")

MI_ENV = ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET",
          "IMDS_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT", "AZURE_CLIENT_ID")


@pytest.fixture
def mi_info(emulator, monkeypatch):
    for name in MI_ENV:
        monkeypatch.delenv(name, raising=False)
    resp = emulator.control("GET", "login")
    assert resp.status_code == 200
    return resp.json()["managed_identities"]


def _roles_on(emulator, tenant_id, principal_id, resource_app_id):
    """Role values assigned to a principal, read from the directory objects (not from the token code)."""
    directory = emulator.state.tenants[tenant_id].directory
    resource = directory.service_principal_by_app_id(resource_app_id)
    by_id = {r["id"]: r["value"] for r in resource["appRoles"]}
    return sorted(by_id[a["appRoleId"]] for a in directory.iter("appRoleAssignment")
                  if a["principalId"] == principal_id and a["resourceId"] == resource["id"])


def test_imds_system_assigned(emulator, mi_info, monkeypatch):
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.endpoints["imds_url"])
    cred = ManagedIdentityCredential()
    token = cred.get_token(f"{MTP}/.default")
    assert token.expires_on > time.time() + 3000
    system = mi_info["system_assigned"]
    claims = jwks_verify(emulator, token.token, MTP, mi_info["tenant_id"])
    assert claims["appid"] == system["client_id"] and claims["oid"] == system["object_id"]
    expected = _roles_on(emulator, mi_info["tenant_id"], system["object_id"], "8ee8fdad-f234-4243-8f3b-15c294843740")
    assert expected and claims["roles"] == expected
    assert emulator.stats()["token_requests"]["managed_identity"] >= 1


def test_imds_user_assigned_by_client_id(emulator, mi_info, monkeypatch):
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.endpoints["imds_url"])
    uami = mi_info["user_assigned"][0]
    cred = ManagedIdentityCredential(client_id=uami["client_id"])
    claims = jwks_verify(emulator, cred.get_token(f"{GRAPH}/.default").token, GRAPH, mi_info["tenant_id"])
    assert claims["appid"] == uami["client_id"]
    assert claims["roles"] == _roles_on(emulator, mi_info["tenant_id"], uami["object_id"],
                                        "00000003-0000-0000-c000-000000000000")


def test_app_service_shape(emulator, mi_info, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.endpoints["imds_url"] + "/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", mi_info["identity_header"])
    cred = ManagedIdentityCredential()
    claims = jwks_verify(emulator, cred.get_token(f"{MTP}/.default").token, MTP, mi_info["tenant_id"])
    assert claims["appid"] == mi_info["system_assigned"]["client_id"]


def test_imds_refusals(emulator, mi_info):
    with emulator.session() as s:
        url = emulator.endpoints["imds_url"] + "/metadata/identity/oauth2/token"
        params = {"api-version": "2018-02-01", "resource": MTP}
        resp = s.get(url, params=params, timeout=30)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
        resp = s.get(url, params=dict(params, client_id="00000000-0000-0000-0000-00000000abcd"),
                     headers={"Metadata": "true"}, timeout=30)
        assert resp.status_code == 400 and resp.json()["error_description"] == "Identity not found"
        resp = s.get(url, params=dict(params, resource="https://nope.example"), headers={"Metadata": "true"},
                     timeout=30)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_resource"
        resp = s.get(emulator.endpoints["imds_url"] + "/msi/token", params={"api-version": "2019-08-01",
                                                                             "resource": MTP},
                     headers={"X-IDENTITY-HEADER": "wrong"}, timeout=30)
        assert resp.status_code == 401


# --- workload identity federation ------------------------------------------------------------------------------
def _federate(emulator, tenant_id, client_id, issuer, subject):
    app = emulator.state.tenants[tenant_id].directory.application_by_app_id(client_id)
    app.setdefault("_federatedIdentityCredentials", []).append({
        "id": "5f0f3b0c-0000-4000-8000-000000000001", "name": "ci", "issuer": issuer, "subject": subject,
        "audiences": ["api://AzureADTokenExchange"], "description": None})


def _external_token(emulator, subject, **extra):
    resp = emulator.control("GET", "federation/token", params=dict(subject=subject, **extra))
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_workload_identity_credential(emulator, tmp_path):
    spec = fixture_tenant(emulator)
    app = spec["hunting_app"]
    minted = _external_token(emulator, "repo:contoso/soc:ref:refs/heads/main")
    _federate(emulator, spec["id"], app["app_id"], minted["issuer"], minted["subject"])
    token_file = tmp_path / "token"
    token_file.write_text(minted["token"])
    cred = WorkloadIdentityCredential(tenant_id=spec["id"], client_id=app["app_id"], token_file_path=str(token_file),
                                      authority=emulator.base_url, connection_verify=emulator.ca_path,
                                      disable_instance_discovery=True)
    claims = jwks_verify(emulator, cred.get_token(f"{MTP}/.default").token, MTP, spec["id"])
    assert sorted(claims["roles"]) == sorted(app["mtp_roles"])


def test_federated_assertion_without_matching_credential_70021(emulator, requests_session):
    spec = fixture_tenant(emulator)
    app = spec["hunting_app"]
    minted = _external_token(emulator, "repo:contoso/soc:ref:refs/heads/main")
    _federate(emulator, spec["id"], app["app_id"], minted["issuer"], "repo:contoso/other:ref:refs/heads/main")
    resp = requests_session.post(emulator.url(f"/{spec['id']}/oauth2/v2.0/token"), timeout=30, data={
        "grant_type": "client_credentials", "client_id": app["app_id"], "scope": f"{MTP}/.default",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": minted["token"]})
    body = aad_error(resp, 400, "invalid_request", 70021)
    assert "repo:contoso/soc:ref:refs/heads/main" in body["error_description"]


# --- credentials registered through Microsoft Graph (the Graph routes' storage meets the token service) --------
def _graph_session(emulator, spec):
    admin = spec["admin_app"]
    cca = confidential_app(emulator, spec["id"], admin["app_id"], admin["client_secret"])
    token = cca.acquire_token_for_client([f"{GRAPH}/.default"])["access_token"]
    session = emulator.session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_federated_credential_created_through_graph(emulator, tmp_path):
    spec = fixture_tenant(emulator)
    app = spec["hunting_app"]
    minted = _external_token(emulator, "system:serviceaccount:soc:hunter")
    with _graph_session(emulator, spec) as graph:
        resp = graph.post(emulator.url(f"/v1.0/applications(appId='{app['app_id']}')/federatedIdentityCredentials"),
                          json={"name": "aks-hunter", "issuer": minted["issuer"], "subject": minted["subject"],
                                "audiences": ["api://AzureADTokenExchange"]}, timeout=30)
        assert resp.status_code == 201, resp.text
    token_file = tmp_path / "token"
    token_file.write_text(minted["token"])
    cred = WorkloadIdentityCredential(tenant_id=spec["id"], client_id=app["app_id"], token_file_path=str(token_file),
                                      authority=emulator.base_url, connection_verify=emulator.ca_path,
                                      disable_instance_discovery=True)
    claims = jwks_verify(emulator, cred.get_token(f"{GRAPH}/.default").token, GRAPH, spec["id"])
    assert sorted(claims["roles"]) == sorted(app["graph_roles"])


def test_certificate_uploaded_through_graph(emulator):
    spec = fixture_tenant(emulator)
    app = spec["hunting_app"]
    _, key_pem, cert_pem, der, _ = make_certificate()
    with _graph_session(emulator, spec) as graph:
        resp = graph.patch(emulator.url(f"/v1.0/applications(appId='{app['app_id']}')"), timeout=30, json={
            "keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify",
                                "key": base64.b64encode(der).decode()}]})
        assert resp.status_code == 204, resp.text
    cca = confidential_app(emulator, spec["id"], app["app_id"], {"private_key": key_pem, "public_certificate": cert_pem})
    result = cca.acquire_token_for_client([f"{MTP}/.default"])
    assert "access_token" in result, result
    assert sorted(jwks_verify(emulator, result["access_token"], MTP, spec["id"])["roles"]) == sorted(app["mtp_roles"])
