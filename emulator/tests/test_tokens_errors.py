"""Every AADSTS error of the token endpoint: exact status, ``error``, ``error_codes`` and body keys."""

from __future__ import annotations

import hashlib
import time
import uuid

import jwt
import pytest

from test_tokens_common import reset_after_module  # noqa: F401 - fixture
from test_tokens_common import GRAPH, MTP, WDATP, aad_error, fixture_tenant, jwks_verify, make_certificate, \
    upload_certificate

pytestmark = pytest.mark.usefixtures("reset_after_module", "fresh_emulator")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _token(session, emulator, tenant, data, v2=True, base=None):
    path = "oauth2/v2.0/token" if v2 else "oauth2/token"
    return session.post(f"{base or emulator.base_url}/{tenant}/{path}", data=data, timeout=30)


def _cc(app, scope=f"{MTP}/.default", **extra):
    data = {"grant_type": "client_credentials", "client_id": app["app_id"], "client_secret": app["client_secret"],
            "scope": scope}
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def test_invalid_secret_7000215(emulator, requests_session):
    spec = fixture_tenant(emulator)
    app = dict(spec["hunting_app"], client_secret="not-the-secret")
    body = aad_error(_token(requests_session, emulator, spec["id"], _cc(app)), 401, "invalid_client", 7000215)
    assert body["error_uri"].endswith("code=7000215")
    assert "not-the-secret" not in body["error_description"]


def test_expired_secret_7000222(emulator, requests_session):
    spec = fixture_tenant(emulator)
    app = spec["hunting_app"]
    obj = emulator.state.tenants[spec["id"]].directory.application_by_app_id(app["app_id"])
    obj["passwordCredentials"].append({
        "keyId": str(uuid.uuid4()), "displayName": "old", "endDateTime": "2020-01-01T00:00:00Z",
        "startDateTime": "2019-01-01T00:00:00Z", "hint": "exp",
        "_secretHash": hashlib.sha256(b"an-expired-secret-value").hexdigest(), "_created": 0})
    resp = _token(requests_session, emulator, spec["id"], _cc(dict(app, client_secret="an-expired-secret-value")))
    aad_error(resp, 401, "invalid_client", 7000222)


def test_unknown_app_700016(emulator, requests_session):
    spec = fixture_tenant(emulator)
    app = {"app_id": str(uuid.uuid4()), "client_secret": "whatever"}
    body = aad_error(_token(requests_session, emulator, spec["id"], _cc(app)), 400, "unauthorized_client", 700016)
    assert app["app_id"] in body["error_description"]


def test_app_of_another_tenant_700016(emulator, requests_session):
    contoso, fabrikam = fixture_tenant(emulator, 0), fixture_tenant(emulator, 1)
    resp = _token(requests_session, emulator, fabrikam["id"], _cc(contoso["hunting_app"]))
    aad_error(resp, 400, "unauthorized_client", 700016)


def test_unknown_tenant_90002(emulator, requests_session):
    spec = fixture_tenant(emulator)
    for tenant in (str(uuid.uuid4()), "nowhere.onmicrosoft.com"):
        resp = _token(requests_session, emulator, tenant, _cc(spec["hunting_app"]))
        body = aad_error(resp, 400, "invalid_request", 90002)
        assert tenant in body["error_description"]


def test_gov_tenant_on_commercial_cloud_90038(emulator, requests_session):
    gov = next(t for t in emulator.state.fixture["tenants"] if t["cloud"] == "gcc_high")
    aad_error(_token(requests_session, emulator, gov["id"], _cc(gov["admin_app"], scope=f"{GRAPH}/.default")),
              400, "invalid_request", 90038)
    # ... and the same request on the US Government login listener succeeds, with a .us issuer
    gov_base = emulator.endpoints["gov_authority_host"]
    resp = _token(requests_session, emulator, gov["id"],
                  _cc(gov["admin_app"], scope="https://graph.microsoft.us/.default"), base=gov_base)
    assert resp.status_code == 200, resp.text
    claims = jwks_verify(emulator, resp.json()["access_token"], "https://graph.microsoft.us", gov["id"])
    assert claims["iss"] == f"https://login.microsoftonline.us/{gov['id']}/"
    # a commercial tenant on the gov cloud is refused the same way
    spec = fixture_tenant(emulator)
    aad_error(_token(requests_session, emulator, spec["id"], _cc(spec["hunting_app"]), base=gov_base),
              400, "invalid_request", 90038)


@pytest.mark.parametrize("scope", [f"{MTP}/AdvancedHunting.Read", f"{MTP}/.default {GRAPH}/.default", "",
                                   f"{MTP}/.default openid"])
def test_bad_scope_70011(emulator, requests_session, scope):
    spec = fixture_tenant(emulator)
    aad_error(_token(requests_session, emulator, spec["id"], _cc(spec["hunting_app"], scope=scope or None)),
              400, "invalid_scope", 70011)


def test_unknown_resource_500011(emulator, requests_session):
    spec = fixture_tenant(emulator)
    resp = _token(requests_session, emulator, spec["id"],
                  _cc(spec["hunting_app"], scope="https://nope.example/.default"))
    body = aad_error(resp, 400, "invalid_resource", 500011)
    assert "https://nope.example" in body["error_description"]


def test_resource_principal_missing_in_tenant_500011(emulator, requests_session):
    spec = fixture_tenant(emulator)
    directory = emulator.state.tenants[spec["id"]].directory
    directory.service_principal_by_app_id("fc780465-2017-40d4-a0c5-307022471b92")["_deleted"] = time.time()
    aad_error(_token(requests_session, emulator, spec["id"], _cc(spec["hunting_app"], scope=f"{WDATP}/.default")),
              400, "invalid_resource", 500011)


def test_no_credential_7000218(emulator, requests_session):
    spec = fixture_tenant(emulator)
    resp = _token(requests_session, emulator, spec["id"], _cc(dict(spec["hunting_app"], client_secret=None)))
    aad_error(resp, 401, "invalid_client", 7000218)


@pytest.mark.parametrize("missing", ["grant_type", "client_id"])
def test_missing_parameter_900144(emulator, requests_session, missing):
    spec = fixture_tenant(emulator)
    data = _cc(spec["hunting_app"])
    del data[missing]
    body = aad_error(_token(requests_session, emulator, spec["id"], data), 400, "invalid_request", 900144)
    assert f"'{missing}'" in body["error_description"]


def test_unsupported_grant_type(emulator, requests_session):
    spec = fixture_tenant(emulator)
    resp = _token(requests_session, emulator, spec["id"], _cc(spec["hunting_app"], grant_type="implicit"))
    aad_error(resp, 400, "unsupported_grant_type", 70003)


def test_ropc_bad_password_50126_and_mfa_50076(emulator, requests_session):
    spec = fixture_tenant(emulator)
    analyst, mfa = spec["users"][0], next(u for u in spec["users"] if u.get("mfa"))
    base = {"grant_type": "password", "client_id": spec["public_client"]["app_id"],
            "scope": f"{MTP}/AdvancedHunting.Read openid offline_access"}
    aad_error(_token(requests_session, emulator, spec["id"], dict(base, username=analyst["upn"], password="wrong")),
              400, "invalid_grant", 50126)
    aad_error(_token(requests_session, emulator, spec["id"], dict(base, username="ghost@contoso.onmicrosoft.com",
                                                                  password="x")), 400, "invalid_grant", 50126)
    body = aad_error(_token(requests_session, emulator, spec["id"],
                            dict(base, username=mfa["upn"], password=mfa["password"])), 400, "invalid_grant", 50076)
    assert body["suberror"] == "basic_action"


def test_delegated_without_consent_65001(emulator, requests_session):
    spec = fixture_tenant(emulator)
    analyst = spec["users"][0]
    data = {"grant_type": "password", "client_id": spec["public_client"]["app_id"], "username": analyst["upn"],
            "password": analyst["password"], "scope": f"{WDATP}/AdvancedQuery.Read"}  # WDATP never consented
    aad_error(_token(requests_session, emulator, spec["id"], data), 400, "invalid_grant", 65001)
    data["scope"] = f"{MTP}/CustomDetections.ReadWrite"  # a scope of MTP that was not consented
    aad_error(_token(requests_session, emulator, spec["id"], data), 400, "invalid_grant", 65001)


# --- hand-made client assertions: the specific aud / exp / iss errors ------------------------------------------
def _assertion(key, der, client_id, aud, *, exp_delta=600, iss=None, alg="RS256"):
    now = int(time.time())
    claims = {"aud": aud, "iss": iss or client_id, "sub": client_id, "jti": str(uuid.uuid4()), "nbf": now,
              "iat": now, "exp": now + exp_delta}
    x5t = jwt.utils.base64url_encode(hashlib.sha1(der).digest()).decode()
    return jwt.encode(claims, key, algorithm=alg, headers={"x5t": x5t})


@pytest.fixture
def cert_app(emulator):
    spec = fixture_tenant(emulator)
    key, _, _, der, _ = make_certificate()
    upload_certificate(emulator, spec["id"], spec["hunting_app"]["app_id"], der)
    return spec, spec["hunting_app"]["app_id"], key, der


def _assertion_request(client_id, assertion, scope=f"{MTP}/.default"):
    return {"grant_type": "client_credentials", "client_id": client_id, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion, "scope": scope}


def test_assertion_accepted_for_v1_url_and_domain(emulator, requests_session, cert_app):
    spec, client_id, key, der = cert_app
    for aud in (emulator.url(f"/{spec['id']}/oauth2/token"), emulator.url(f"/{spec['domain']}/oauth2/v2.0/token")):
        assertion = _assertion(key, der, client_id, aud)
        resp = _token(requests_session, emulator, spec["id"], _assertion_request(client_id, assertion))
        assert resp.status_code == 200, resp.text


def test_assertion_wrong_audience_700023(emulator, requests_session, cert_app):
    spec, client_id, key, der = cert_app
    aud = f"https://login.microsoftonline.com/{spec['id']}/oauth2/v2.0/token"  # not this host
    assertion = _assertion(key, der, client_id, aud)
    resp = _token(requests_session, emulator, spec["id"], _assertion_request(client_id, assertion))
    aad_error(resp, 401, "invalid_client", 700023)


def test_assertion_expired_700024(emulator, requests_session, cert_app):
    spec, client_id, key, der = cert_app
    aud = emulator.url(f"/{spec['id']}/oauth2/v2.0/token")
    assertion = _assertion(key, der, client_id, aud, exp_delta=-3600)
    aad_error(_token(requests_session, emulator, spec["id"], _assertion_request(client_id, assertion)),
              401, "invalid_client", 700024)


def test_assertion_wrong_issuer_700021(emulator, requests_session, cert_app):
    spec, client_id, key, der = cert_app
    aud = emulator.url(f"/{spec['id']}/oauth2/v2.0/token")
    assertion = _assertion(key, der, client_id, aud, iss=str(uuid.uuid4()))
    aad_error(_token(requests_session, emulator, spec["id"], _assertion_request(client_id, assertion)),
              401, "invalid_client", 700021)


def test_assertion_not_a_jwt_50027(emulator, requests_session, cert_app):
    spec, client_id, _, _ = cert_app
    aad_error(_token(requests_session, emulator, spec["id"], _assertion_request(client_id, "not-a-jwt")),
              400, "invalid_request", 50027)


def test_assertion_hs256_is_refused(emulator, requests_session, cert_app):
    spec, client_id, _, der = cert_app
    forged = _assertion("shared-secret-attempt-xxxxxxxxxxxxxxx", der, client_id,
                        emulator.url(f"/{spec['id']}/oauth2/v2.0/token"), alg="HS256")
    aad_error(_token(requests_session, emulator, spec["id"], _assertion_request(client_id, forged)),
              401, "invalid_client", 700027)
