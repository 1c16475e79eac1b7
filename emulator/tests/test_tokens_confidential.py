"""Client-credentials flow with real clients (msal, azure-identity) over real TLS: secrets, certificates, JWKS."""

from __future__ import annotations

import hashlib
import time

import pytest
from azure.identity import CertificateCredential, ClientSecretCredential
from cryptography.hazmat.primitives.serialization import pkcs12, BestAvailableEncryption

from test_tokens_common import reset_after_module  # noqa: F401 - fixture
from test_tokens_common import (GRAPH, MTP, WDATP, confidential_app, fixture_tenant, jwks_verify, make_certificate,
                                upload_certificate)

pytestmark = pytest.mark.usefixtures("reset_after_module", "fresh_emulator")


def _hunting(emulator):
    spec = fixture_tenant(emulator)
    return spec, spec["hunting_app"]


def test_msal_client_secret_token_carries_assigned_roles(emulator):
    spec, app = _hunting(emulator)
    cca = confidential_app(emulator, spec["id"], app["app_id"], app["client_secret"])
    for resource, roles_key in ((MTP, "mtp_roles"), (GRAPH, "graph_roles"), (WDATP, "wdatp_roles")):
        result = cca.acquire_token_for_client([f"{resource}/.default"])
        assert "access_token" in result, result
        assert result["token_type"] == "Bearer" and result["expires_in"] > 3000
        claims = jwks_verify(emulator, result["access_token"], resource, spec["id"])
        assert claims["aud"] == resource
        assert claims["tid"] == spec["id"]
        assert claims["appid"] == claims["azp"] == app["app_id"]
        assert claims["iss"] == f"https://sts.windows.net/{spec['id']}/"
        assert sorted(claims["roles"]) == sorted(app[roles_key])
        assert "scp" not in claims
        assert claims["exp"] - claims["iat"] == emulator.state.config.token_lifetime
        assert claims["oid"] == claims["sub"]
        assert claims["uti"] and claims["ver"] == "1.0"
    # MSAL serves the second request from its cache: the emulator issued exactly three tokens
    assert cca.acquire_token_for_client([f"{MTP}/.default"])["token_source"] == "cache"
    stats = emulator.stats()
    assert stats["tokens_issued"] == {app["app_id"]: 3}
    assert stats["token_requests"] == {"client_credentials": 3}


def test_app_without_consent_gets_no_roles_claim(emulator):
    spec = fixture_tenant(emulator)
    admin = spec["admin_app"]  # Graph roles only, nothing consented on MTP
    cca = confidential_app(emulator, spec["id"], admin["app_id"], admin["client_secret"])
    result = cca.acquire_token_for_client([f"{MTP}/.default"])
    claims = jwks_verify(emulator, result["access_token"], MTP, spec["id"])
    assert "roles" not in claims
    graph = jwks_verify(emulator, cca.acquire_token_for_client([f"{GRAPH}/.default"])["access_token"], GRAPH,
                        spec["id"])
    assert sorted(graph["roles"]) == sorted(admin["graph_roles"])


def test_new_role_assignment_appears_in_next_token(emulator):
    from mtp_emulator.seed import assign_roles

    spec = fixture_tenant(emulator)
    admin = spec["admin_app"]
    tenant = emulator.state.tenants[spec["id"]]
    sp = tenant.directory.service_principal_by_app_id(admin["app_id"])
    assign_roles(tenant, sp, "8ee8fdad-f234-4243-8f3b-15c294843740", ["Incident.Read.All"], seeded=False)
    cca = confidential_app(emulator, spec["id"], admin["app_id"], admin["client_secret"])
    claims = jwks_verify(emulator, cca.acquire_token_for_client([f"{MTP}/.default"])["access_token"], MTP,
                         spec["id"])
    assert claims["roles"] == ["Incident.Read.All"]


def test_tenant_by_domain_and_v1_endpoint(emulator, requests_session):
    spec, app = _hunting(emulator)
    resp = requests_session.post(emulator.url(f"/{spec['domain']}/oauth2/token"), data={
        "grant_type": "client_credentials", "client_id": app["app_id"], "client_secret": app["client_secret"],
        "resource": MTP}, timeout=30)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # v1 answers numbers as strings and echoes the resource
    assert body["resource"] == MTP and body["expires_in"] == str(emulator.state.config.token_lifetime)
    assert int(body["expires_on"]) > time.time()
    claims = jwks_verify(emulator, body["access_token"], MTP, spec["id"])
    assert sorted(claims["roles"]) == sorted(app["mtp_roles"])


def test_http_basic_client_authentication(emulator, requests_session):
    spec, app = _hunting(emulator)
    resp = requests_session.post(emulator.url(f"/{spec['id']}/oauth2/v2.0/token"),
                                 auth=(app["app_id"], app["client_secret"]),
                                 data={"grant_type": "client_credentials", "scope": f"{WDATP}/.default"}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store, no-cache"
    claims = jwks_verify(emulator, resp.json()["access_token"], WDATP, spec["id"])
    assert claims["roles"] == app["wdatp_roles"]


def test_scope_by_resource_app_id_sets_aud_to_app_id(emulator):
    spec, app = _hunting(emulator)
    cca = confidential_app(emulator, spec["id"], app["app_id"], app["client_secret"])
    mtp_app_id = "8ee8fdad-f234-4243-8f3b-15c294843740"
    result = cca.acquire_token_for_client([f"{mtp_app_id}/.default"])
    claims = jwks_verify(emulator, result["access_token"], mtp_app_id, spec["id"])
    assert sorted(claims["roles"]) == sorted(app["mtp_roles"])


@pytest.mark.parametrize("variant", ["thumbprint_rs256", "thumbprint_x5c", "public_certificate_ps256"])
def test_msal_certificate_assertion(emulator, variant):
    spec, app = _hunting(emulator)
    _, key_pem, cert_pem, der, _ = make_certificate()
    upload_certificate(emulator, spec["id"], app["app_id"], der)
    credential = {"private_key": key_pem}
    if variant.startswith("thumbprint"):
        credential["thumbprint"] = hashlib.sha1(der).hexdigest()
    if variant != "thumbprint_rs256":
        credential["public_certificate"] = cert_pem
    cca = confidential_app(emulator, spec["id"], app["app_id"], credential)
    result = cca.acquire_token_for_client([f"{MTP}/.default"])
    assert "access_token" in result, result
    claims = jwks_verify(emulator, result["access_token"], MTP, spec["id"])
    assert sorted(claims["roles"]) == sorted(app["mtp_roles"])
    assert claims["appidacr"] == "2"  # certificate authentication


def test_msal_certificate_from_pfx(emulator, tmp_path):
    spec, app = _hunting(emulator)
    key, _, _, der, cert = make_certificate()
    upload_certificate(emulator, spec["id"], app["app_id"], der)
    pfx = tmp_path / "client.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"client", key, cert, None,
                                                          BestAvailableEncryption(b"pfx-pass")))
    cca = confidential_app(emulator, spec["id"], app["app_id"],
                           {"private_key_pfx_path": str(pfx), "passphrase": "pfx-pass"})
    result = cca.acquire_token_for_client([f"{GRAPH}/.default"])
    assert "access_token" in result, result
    assert sorted(jwks_verify(emulator, result["access_token"], GRAPH, spec["id"])["roles"]) == \
        sorted(app["graph_roles"])


def test_msal_certificate_not_registered_is_700027(emulator):
    spec, app = _hunting(emulator)
    _, key_pem, _, der, _ = make_certificate()
    cca = confidential_app(emulator, spec["id"], app["app_id"],
                           {"private_key": key_pem, "thumbprint": hashlib.sha1(der).hexdigest()})
    result = cca.acquire_token_for_client([f"{MTP}/.default"])
    assert result["error"] == "invalid_client" and result["error_codes"] == [700027], result


def test_msal_certificate_wrong_private_key_is_700027(emulator):
    spec, app = _hunting(emulator)
    _, _, _, der, _ = make_certificate()
    _, other_key_pem, _, _, _ = make_certificate()
    upload_certificate(emulator, spec["id"], app["app_id"], der)
    cca = confidential_app(emulator, spec["id"], app["app_id"],
                           {"private_key": other_key_pem, "thumbprint": hashlib.sha1(der).hexdigest()})
    result = cca.acquire_token_for_client([f"{MTP}/.default"])
    assert result["error_codes"] == [700027], result
    assert "signature" in result["error_description"]


def test_msal_expired_certificate_is_refused(emulator):
    spec, app = _hunting(emulator)
    _, key_pem, _, der, _ = make_certificate()
    upload_certificate(emulator, spec["id"], app["app_id"], der, end="2020-01-01T00:00:00Z")
    cca = confidential_app(emulator, spec["id"], app["app_id"],
                           {"private_key": key_pem, "thumbprint": hashlib.sha1(der).hexdigest()})
    result = cca.acquire_token_for_client([f"{MTP}/.default"])
    assert result["error_codes"] == [700027] and "expired" in result["error_description"], result


def test_azure_identity_client_secret_credential(emulator):
    spec, app = _hunting(emulator)
    cred = ClientSecretCredential(spec["id"], app["app_id"], app["client_secret"], authority=emulator.base_url,
                                  connection_verify=emulator.ca_path, disable_instance_discovery=True)
    token = cred.get_token(f"{MTP}/.default")
    assert token.expires_on > time.time() + 3000
    claims = jwks_verify(emulator, token.token, MTP, spec["id"])
    assert sorted(claims["roles"]) == sorted(app["mtp_roles"])


def test_azure_identity_certificate_credential_with_chain(emulator):
    spec, app = _hunting(emulator)
    _, key_pem, cert_pem, der, _ = make_certificate()
    upload_certificate(emulator, spec["id"], app["app_id"], der)
    cred = CertificateCredential(spec["id"], app["app_id"], certificate_data=(key_pem + cert_pem).encode(),
                                 send_certificate_chain=True, authority=emulator.base_url,
                                 connection_verify=emulator.ca_path, disable_instance_discovery=True)
    claims = jwks_verify(emulator, cred.get_token(f"{GRAPH}/.default").token, GRAPH, spec["id"])
    assert sorted(claims["roles"]) == sorted(app["graph_roles"])
