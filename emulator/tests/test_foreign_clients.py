"""Clients nobody here wrote, unmodified: what they send that the emulator must take as the real services do.

- the namespace-qualified Graph action path ``/v1.0/security/microsoft.graph.security.runHuntingQuery``;
- ``servicePrincipalType`` on a service-principal create (azure.azcollection sends it);
- a token request whose form body comes without a ``Content-Type`` header;
- a doubled slash (``/v1.0//applications``), served without a redirect on every host.

At the end, the Graph SDK for Python (msgraph-sdk + azure-identity) runs unmodified against its real default
URLs (graph.microsoft.com, login.microsoftonline.com) through the CONNECT proxy.
"""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlencode

import pytest
import requests

from mtp_emulator import tokens

pytestmark = pytest.mark.usefixtures("fresh_emulator")

GRAPH = "https://graph.microsoft.com"
ADMIN_ROLES = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"]


def _graph_session(emulator, roles=tuple(ADMIN_ROLES)):
    tenant = emulator.tenant(0)
    token, _ = tokens.issue_access_token(emulator.state, tenant["id"], audience=GRAPH,
                                         app_id=tenant["admin_app"]["client_id"], roles=list(roles))
    session = emulator.session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _hunting_session(emulator):
    return _graph_session(emulator, roles=("ThreatHunting.Read.All",))


# --- the namespace-qualified action path ------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["runHuntingQuery", "microsoft.graph.security.runHuntingQuery"])
def test_run_hunting_query_answers_on_both_action_paths(emulator, action):
    with _hunting_session(emulator) as s:
        resp = s.post(emulator.url(f"/v1.0/security/{action}"), json={"Query": "DeviceInfo | take 3"}, timeout=60)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["@odata.context"] == ("https://graph.microsoft.com/v1.0/$metadata#"
                                      "microsoft.graph.security.huntingQueryResults")
    assert len(body["results"]) == 3
    assert {"name": "DeviceId", "type": "String"} in body["schema"]


def test_qualified_path_is_the_same_action_with_the_same_checks(emulator):
    assert emulator.control("DELETE", "hunting/received").status_code == 200
    # same permission check: an admin token without ThreatHunting.Read.All is refused the same way
    with _graph_session(emulator) as s:
        resp = s.post(emulator.url("/v1.0/security/microsoft.graph.security.runHuntingQuery"),
                      json={"Query": "DeviceInfo | take 1"}, timeout=60)
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == "Authorization_RequestDenied"
    # same body validation; another namespace is not this action
    with _hunting_session(emulator) as s:
        resp = s.post(emulator.url("/v1.0/security/microsoft.graph.security.runHuntingQuery"), json={}, timeout=60)
        assert resp.status_code == 400 and resp.json()["error"]["message"] == "Missing query."
        other = s.post(emulator.url("/v1.0/security/microsoft.graph.other.runHuntingQuery"),
                       json={"Query": "DeviceInfo | take 1"}, timeout=60)
    assert other.status_code == 404
    received = emulator.control("GET", "hunting/received").json()["value"]
    assert [(r["path"], r["status"]) for r in received] == [
        ("/v1.0/security/microsoft.graph.security.runHuntingQuery", 403),
        ("/v1.0/security/microsoft.graph.security.runHuntingQuery", 400)]


# --- servicePrincipalType on create -------------------------------------------------------------------------
def test_service_principal_create_accepts_service_principal_type(emulator):
    with _graph_session(emulator) as s:
        app = s.post(emulator.url("/v1.0/applications"), json={"displayName": "azcollection-app"}, timeout=30)
        assert app.status_code == 201, app.text
        app_id = app.json()["appId"]
        resp = s.post(emulator.url("/v1.0/servicePrincipals"),
                      json={"appId": app_id, "servicePrincipalType": "Application", "tags": ["azcollection"]},
                      timeout=30)
        assert resp.status_code == 201, resp.text
        sp = resp.json()
        assert sp["appId"] == app_id and sp["servicePrincipalType"] == "Application"
        assert sp["tags"] == ["azcollection"]
        # still a string property: a number is an invalid value, not silently taken
        app2 = s.post(emulator.url("/v1.0/applications"), json={"displayName": "second"}, timeout=30).json()
        bad = s.post(emulator.url("/v1.0/servicePrincipals"),
                     json={"appId": app2["appId"], "servicePrincipalType": 7}, timeout=30)
        assert bad.status_code == 400
        assert bad.json()["error"]["message"] == ("Invalid value specified for property 'servicePrincipalType' of "
                                                  "resource 'ServicePrincipal'.")


@pytest.mark.parametrize("prop, value", [("appOwnerOrganizationId", str(uuid.uuid4())), ("appRoles", []),
                                         ("servicePrincipalNames", ["api://x"])])
def test_other_read_only_properties_are_still_refused_on_create(emulator, prop, value):
    with _graph_session(emulator) as s:
        app_id = s.post(emulator.url("/v1.0/applications"), json={"displayName": "ro"}, timeout=30).json()["appId"]
        resp = s.post(emulator.url("/v1.0/servicePrincipals"), json={"appId": app_id, prop: value}, timeout=30)
        assert resp.status_code == 400
        assert resp.json()["error"]["message"] == f"Property '{prop}' is read-only and cannot be set."
        listed = s.get(emulator.url(f"/v1.0/servicePrincipals?$filter=appId eq '{app_id}'"), timeout=30).json()
    assert listed["value"] == []  # nothing was created


def test_service_principal_type_stays_read_only_on_patch(emulator):
    with _graph_session(emulator) as s:
        app_id = s.post(emulator.url("/v1.0/applications"), json={"displayName": "p"}, timeout=30).json()["appId"]
        sp = s.post(emulator.url("/v1.0/servicePrincipals"), json={"appId": app_id}, timeout=30).json()
        resp = s.patch(emulator.url(f"/v1.0/servicePrincipals/{sp['id']}"),
                       json={"servicePrincipalType": "Legacy"}, timeout=30)
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Property 'servicePrincipalType' is read-only and cannot be set."


# --- a token request without Content-Type -------------------------------------------------------------------
def _raw_form(spec: dict, **extra) -> bytes:
    app = spec["hunting_app"]
    fields = {"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"],
              "scope": "https://api.security.microsoft.com/.default"}
    fields.update(extra)
    return urlencode(fields).encode()


@pytest.mark.parametrize("version", ["v2.0/", ""])
def test_token_form_without_content_type_is_read_as_a_form(emulator, version):
    spec = emulator.tenant(0)
    extra = {} if version else {"scope": "", "resource": "https://api.security.microsoft.com"}
    with emulator.session() as s:
        req = s.prepare_request(requests.Request(
            "POST", emulator.url(f"/{spec['id']}/oauth2/{version}token"), data=_raw_form(spec, **extra)))
        req.headers.pop("Content-Type", None)
        assert "Content-Type" not in req.headers
        resp = s.send(req, timeout=30)
    assert resp.status_code == 200, resp.text
    claims = tokens.decode_verified(emulator.state, resp.json()["access_token"],
                                    ["https://api.security.microsoft.com"])
    assert claims["appid"] == spec["hunting_app"]["client_id"]
    assert "AdvancedHunting.Read.All" in claims["roles"]
    assert emulator.stats()["token_requests"] == {"client_credentials": 1}


def test_token_body_with_another_content_type_is_not_a_form(emulator):
    spec = emulator.tenant(0)
    with emulator.session() as s:
        resp = s.post(emulator.url(f"/{spec['id']}/oauth2/v2.0/token"), data=_raw_form(spec),
                      headers={"Content-Type": "text/plain"}, timeout=30)
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] == "invalid_request" and body["error_codes"] == [900144]
    assert body["error_description"].startswith(
        "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")


def test_device_code_request_without_content_type_is_read_as_a_form(emulator):
    spec = emulator.tenant(0)
    with emulator.session() as s:
        req = s.prepare_request(requests.Request(
            "POST", emulator.url(f"/{spec['id']}/oauth2/v2.0/devicecode"),
            data=f"client_id={spec['public_client']['client_id']}&scope=openid%20offline_access".encode()))
        req.headers.pop("Content-Type", None)
        resp = s.send(req, timeout=30)
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["user_code"]) == 9
    assert resp.json()["verification_uri"] == "https://microsoft.com/devicelogin"


# --- doubled slashes ----------------------------------------------------------------------------------------
def test_doubled_slash_is_served_without_a_redirect(emulator):
    with _graph_session(emulator) as s:
        created = s.post(emulator.url("/v1.0//applications"), json={"displayName": "double"}, timeout=30,
                         allow_redirects=False)
        assert created.status_code == 201, created.text
        listed = s.get(emulator.url("/v1.0//applications?$filter=displayName eq 'double'"), timeout=30,
                       allow_redirects=False)
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()["value"]] == [created.json()["id"]]
    # one request each, recorded under the canonical rule
    requests_by_rule = emulator.stats()["requests"]
    assert requests_by_rule.get("POST /v1.0/applications") == {"201": 1}
    assert requests_by_rule.get("GET /v1.0/applications") == {"200": 1}
    log = [e for e in emulator.log() if e["path"].startswith("/v1.0")]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/v1.0/applications", 201), ("GET", "/v1.0/applications", 200)]


@pytest.mark.parametrize("host, path", [
    ("graph.microsoft.com", "/v1.0//security//runHuntingQuery"),
    ("api.security.microsoft.com", "/api//advancedhunting/run"),
    ("login.microsoftonline.com", "//{tenant}//oauth2/v2.0/token"),
])
def test_doubled_slashes_on_every_host(emulator, proxied_session, host, path):
    spec = emulator.tenant(0)
    resp = proxied_session.post(f"https://{host}{path.format(tenant=spec['id'])}", data=b"{}",
                                headers={"Content-Type": "application/json"}, timeout=30, allow_redirects=False)
    assert resp.status_code not in (301, 302, 307, 308), resp.headers
    # the route was found: an auth or body error of that route, not a 404 of an unknown path
    assert resp.status_code in (400, 401), resp.text
    assert emulator.stats()["by_host"] == {host: 1}


# --- msgraph-sdk + azure-identity through the CONNECT proxy, real default URLs --------------------------------
@pytest.fixture
def sdk_env(emulator, monkeypatch):
    """HTTPS_PROXY and the emulator's CA for httpx (SSL_CERT_FILE), requests and aiohttp (REQUESTS_CA_BUNDLE)."""
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY",
                 "http_proxy", "CURL_CA_BUNDLE", "AZURE_AUTHORITY_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", emulator.proxy_url)
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_path)
    return emulator


async def _sdk_directory_run(tenant: dict, name: str) -> dict:
    from azure.identity.aio import ClientSecretCredential
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph import GraphServiceClient
    from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder
    from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
        AddPasswordPostRequestBody)
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.password_credential import PasswordCredential
    from msgraph.generated.models.service_principal import ServicePrincipal

    admin = tenant["admin_app"]
    credential = ClientSecretCredential(tenant["id"], admin["client_id"], admin["client_secret"])
    try:
        client = GraphServiceClient(credential, scopes=["https://graph.microsoft.com/.default"])
        app = await client.applications.post(Application(display_name=name))
        sp = await client.service_principals.post(ServicePrincipal(app_id=app.app_id))
        secret = await client.applications.by_application_id(app.id).add_password.post(
            AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="sdk")))
        query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
            filter=f"displayName eq '{name}'", count=True)
        config = RequestConfiguration(query_parameters=query)
        config.headers.add("ConsistencyLevel", "eventual")
        listed = await client.applications.get(request_configuration=config)
    finally:
        await credential.close()
    return {"app": app, "sp": sp, "secret": secret, "listed": listed}


async def _sdk_hunting_run(tenant: dict, query: str):
    from azure.identity.aio import ClientSecretCredential
    from msgraph import GraphServiceClient
    from msgraph.generated.security.microsoft_graph_security_run_hunting_query.run_hunting_query_post_request_body \
        import RunHuntingQueryPostRequestBody

    hunter = tenant["hunting_app"]
    credential = ClientSecretCredential(tenant["id"], hunter["client_id"], hunter["client_secret"])
    try:
        client = GraphServiceClient(credential, scopes=["https://graph.microsoft.com/.default"])
        return await client.security.microsoft_graph_security_run_hunting_query.post(
            RunHuntingQueryPostRequestBody(query=query))
    finally:
        await credential.close()


def test_msgraph_sdk_directory_calls_through_the_proxy(sdk_env):
    emulator = sdk_env
    tenant = emulator.tenant(0)
    out = asyncio.run(_sdk_directory_run(tenant, "sdk-made-app"))
    app, sp, secret, listed = out["app"], out["sp"], out["secret"], out["listed"]
    assert app.display_name == "sdk-made-app" and len(app.app_id) == 36
    assert sp.app_id == app.app_id and sp.service_principal_type == "Application"
    assert secret.secret_text and secret.display_name == "sdk"
    assert listed.odata_count == 1 and [a.id for a in listed.value] == [app.id]
    stats = emulator.stats()
    assert stats["proxy_refused"] == []
    assert set(stats["by_host"]) == {"login.microsoftonline.com", "graph.microsoft.com"}
    # every SDK call reached its route once: no 308 round trips
    graph_calls = [(e["method"], e["path"], e["status"]) for e in emulator.log() if e["host"] == "graph.microsoft.com"]
    assert graph_calls == [("POST", "/v1.0/applications", 201), ("POST", "/v1.0/servicePrincipals", 201),
                           ("POST", f"/v1.0/applications/{app.id}/addPassword", 200),
                           ("GET", "/v1.0/applications", 200)]
    # the new secret works at the token endpoint, through the proxy as well
    with requests.Session() as s:
        s.trust_env = False
        s.verify = emulator.ca_path
        s.proxies = {"https": emulator.proxy_url}
        resp = s.post(f"https://login.microsoftonline.com/{tenant['id']}/oauth2/v2.0/token", timeout=30, data={
            "grant_type": "client_credentials", "client_id": app.app_id, "client_secret": secret.secret_text,
            "scope": "https://graph.microsoft.com/.default"})
    assert resp.status_code == 200, resp.text


def test_msgraph_sdk_generated_hunting_call_through_the_proxy(sdk_env):
    emulator = sdk_env
    assert emulator.control("DELETE", "hunting/received").status_code == 200
    result = asyncio.run(_sdk_hunting_run(emulator.tenant(0), "DeviceInfo | take 4 | project DeviceId, DeviceName"))
    assert [(c.name, c.type) for c in result.schema] == [("DeviceId", "String"), ("DeviceName", "String")]
    assert len(result.results) == 4
    assert all(set(r.additional_data) == {"DeviceId", "DeviceName"} for r in result.results)
    received = emulator.control("GET", "hunting/received").json()["value"]
    assert [(r["host"], r["path"], r["status"], r["query"]) for r in received] == [
        ("graph.microsoft.com", "/v1.0/security/microsoft.graph.security.runHuntingQuery", 200,
         "DeviceInfo | take 4 | project DeviceId, DeviceName")]
