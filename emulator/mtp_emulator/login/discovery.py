"""OIDC discovery of the token service: the v1 and v2 ``openid-configuration`` documents, the JWKS, MSAL's
instance discovery (``/common/discovery/instance``) and the user realm (``/common/userrealm/{user}``).

Documents name the host the client reached (``request.host``, a Microsoft host name through the proxy) and the
cloud of the tenant (US Government tenants get the ``.us`` names and Graph host).
"""

from __future__ import annotations

from urllib.parse import urlparse

from flask import jsonify, request

from ..app import Route, request_cloud
from ..errors import AadError
from . import keys
from .common import COMMON_TENANTS, KNOWN_LOGIN_HOSTS, base_url, tenant_cloud


def discovery_tenant(state, key: str):
    if key.lower() in COMMON_TENANTS:
        return None, key
    tenant = state.tenant(key)
    if tenant is None:
        raise AadError(400, "invalid_tenant", 90002,
                       f"Tenant '{key}' not found. Check to make sure you have the correct tenant ID and are "
                       "signing into the correct cloud.")
    return tenant, tenant.id


def cloud_names(tenant) -> dict:
    gov = tenant is not None and tenant_cloud(tenant) == "usgov" or (tenant is None and request_cloud() == "usgov")
    if gov:
        graph = "dod-graph.microsoft.us" if tenant is not None and tenant.cloud == "dod" else "graph.microsoft.us"
        return {"tenant_region_scope": "USGov", "cloud_instance_name": "microsoftonline.us",
                "cloud_graph_host_name": "graph.windows.net", "msgraph_host": graph}
    return {"tenant_region_scope": "NA" if tenant is not None else None,
            "cloud_instance_name": "microsoftonline.com", "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com"}


def login_openid_configuration_v2(state, tenant):
    tenant_obj, tid = discovery_tenant(state, tenant)
    base, path = base_url(), tid if tenant_obj is not None else tenant
    issuer_tid = tid if tenant_obj is not None else "{tenantid}"
    names = cloud_names(tenant_obj)
    return jsonify({
        "token_endpoint": f"{base}/{path}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/{path}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{issuer_tid}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"https://{names['msgraph_host']}/oidc/userinfo",
        "authorization_endpoint": f"{base}/{path}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{path}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{path}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                             "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
                             "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": f"{base}/{path}/kerberos",
        **{k: v for k, v in names.items() if v is not None},
        "rbac_url": "https://pas.windows.net",
    })


def login_openid_configuration_v1(state, tenant):
    tenant_obj, tid = discovery_tenant(state, tenant)
    base, path = base_url(), tid if tenant_obj is not None else tenant
    issuer = keys.issuer_for(tid if tenant_obj is not None else "{tenantid}", "1.0",
                               tenant_cloud(tenant_obj) if tenant_obj is not None else request_cloud())
    names = cloud_names(tenant_obj)
    return jsonify({
        "token_endpoint": f"{base}/{path}/oauth2/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/common/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": issuer,
        "microsoft_multi_refresh_token": True,
        "authorization_endpoint": f"{base}/{path}/oauth2/authorize",
        "device_authorization_endpoint": f"{base}/{path}/oauth2/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{path}/oauth2/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                             "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
                             "amr", "nonce", "email", "given_name", "family_name", "nickname"],
        "check_session_iframe": f"{base}/{path}/oauth2/checksession",
        "userinfo_endpoint": f"{base}/{path}/openid/userinfo",
        "kerberos_endpoint": f"{base}/{path}/kerberos",
        **{k: v for k, v in names.items() if v is not None},
        "rbac_url": "https://pas.windows.net",
    })


def keys_response(state, tenant: str):
    discovery_tenant(state, tenant)  # 400 for an unknown tenant
    return jsonify(keys.jwks(state))


def login_keys_v2(state, tenant):
    return keys_response(state, tenant)


def login_keys_v1(state, tenant):
    return keys_response(state, tenant)


def login_instance_discovery(state):
    endpoint = request.args.get("authorization_endpoint") or ""
    parsed = urlparse(endpoint)
    host = (parsed.netloc or request.host).lower()
    parts = [p for p in parsed.path.split("/") if p]
    tenant = parts[0] if parts else "common"
    base = f"{request.scheme}://{request.host}"
    if host in KNOWN_LOGIN_HOSTS:
        aliases = list(KNOWN_LOGIN_HOSTS)
        preferred = "login.microsoftonline.com"
    else:
        aliases, preferred = [host], host
    if host.endswith(".us"):
        aliases, preferred = ["login.microsoftonline.us", "login.usgovcloudapi.net"], "login.microsoftonline.us"
    return jsonify({
        "tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": preferred, "preferred_cache": preferred if host in aliases else host,
                      "aliases": aliases}],
    })


def login_userrealm(state, user):
    """MSAL's ROPC realm lookup (``GET /common/userrealm/{username}?api-version=1.0``): ``Managed`` for a domain
    of an emulated tenant (the token service then takes the password itself), ``Unknown`` for any other domain,
    with the same keys as Entra ID's 1.0 answer; never ``Federated`` (no WS-Trust endpoint is emulated)."""
    domain = user.rsplit("@", 1)[-1] if "@" in user else user
    tenant = state.tenant(domain)
    if tenant is None:
        return jsonify({"ver": "1.0", "account_type": "Unknown", "domain_name": domain,
                        "cloud_instance_name": "microsoftonline.com",
                        "cloud_audience_urn": "urn:federation:MicrosoftOnline"})
    gov = tenant_cloud(tenant) == "usgov"
    return jsonify({"ver": "1.0", "account_type": "Managed", "domain_name": tenant.domain,
                    "cloud_instance_name": "microsoftonline.us" if gov else "microsoftonline.com",
                    "cloud_audience_urn": "urn:federation:MicrosoftOnline.us" if gov
                    else "urn:federation:MicrosoftOnline"})


def login_userrealm_tenant(state, tenant, user):
    """The tenant form ``/{tenant}/userrealm/{username}``: the realm depends on the user's domain only."""
    return login_userrealm(state, user)


ROUTES = (
    Route("/<tenant>/v2.0/.well-known/openid-configuration", ("GET",), login_openid_configuration_v2),
    Route("/<tenant>/.well-known/openid-configuration", ("GET",), login_openid_configuration_v1),
    Route("/<tenant>/discovery/v2.0/keys", ("GET",), login_keys_v2),
    Route("/<tenant>/discovery/keys", ("GET",), login_keys_v1),
    Route("/common/discovery/instance", ("GET",), login_instance_discovery),
    Route("/common/userrealm/<path:user>", ("GET",), login_userrealm),
    Route("/<tenant>/userrealm/<path:user>", ("GET",), login_userrealm_tenant),
)
