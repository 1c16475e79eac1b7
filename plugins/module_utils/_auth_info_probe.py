# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The permission doctor's reads: one token per API, then what Graph lets it see.

:func:`gather` returns the *facts* that ``_auth_info`` classifies (see its docstring) plus the report of who the
identity is and what each token carries. It only reads the tokens' claims: a token value never leaves
``MtpAuthenticator`` and never reaches a result. Graph reads that are refused (403) or absent (404) make the
fact unknown, never a failure:

* the app's service principal (``GET /servicePrincipals(appId=...)``): the app's name;
* the app registration (``GET /applications(appId=...)``): what it declares in ``requiredResourceAccess``, to
  tell a missing admin consent from a missing permission; ids are named from the first-party table of
  ``_permissions.py`` or, failing that, from the resource service principal;
* user context: ``GET /me/memberOf`` (directoryRole objects), else the token's ``wids`` claim, mapped to role
  names by ``_permissions.DIRECTORY_ROLES``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.plugins.module_utils import _permissions as perm
from ansible_collections.m365.defender.plugins.module_utils._auth_info import CONSENT_MISSING, RESOURCE_MISSING
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpAuthError

# Token errors the doctor reports per API; any other error on every API fails the task (bad secret, wrong tenant).
EXPLAINED = (CONSENT_MISSING, RESOURCE_MISSING)
NOT_READABLE = (400, 401, 403, 404)


def token_facts(authenticator, api, cloud):
    """``{available, claims, error}`` for one API (``claims`` is ``None`` when no token came)."""
    if api not in perm.apis_in_cloud(cloud):
        return {"available": False, "claims": None, "error": None}
    try:
        token = authenticator.get_token(api)
    except MtpAuthError as exc:
        return {"available": True, "claims": None, "exception": exc,
                "error": {"aadsts": exc.aadsts, "error": exc.error, "message": exc.msg}}
    return {"available": True, "claims": token.claims(), "error": None}


def _first_claims(apis):
    for api in perm.APIS:
        claims = (apis.get(api) or {}).get("claims")
        if claims:
            return claims
    return {}


def _api_report(facts, endpoints):
    report = {"available": facts["available"], "checked": facts.get("checked", True), "audience": None, "roles": [],
              "scopes": [], "error": None}
    if facts["available"]:
        report["audience"] = endpoints.resource_uri(facts.get("api"))
    claims = facts.get("claims") or {}
    if claims:
        report["audience"] = claims.get("aud") or report["audience"]
        report["roles"] = sorted(claims.get("roles") or [])
        report["scopes"] = sorted(str(claims.get("scp") or "").split())
        report["expires_on"] = claims.get("exp")
    if facts.get("error"):
        report["error"] = facts["error"]["message"]
        report["aadsts"] = facts["error"]["aadsts"]
    return report


def _get(client, path, params=None):
    """The JSON of a Graph GET, or ``None`` when Graph does not let this identity read it."""
    try:
        return client.get("graph", path, params=params).json or {}
    except MtpApiError as exc:
        if exc.status in NOT_READABLE:
            return None
        raise


def _names_of(resource_app_id, ids, client):
    """``{"application": [names], "delegated": [names]}`` for ``[(id, type)]`` declared on one resource."""
    known = perm.FIRST_PARTY_PERMISSIONS.get(resource_app_id) or {}
    roles = dict((r["id"], r["value"]) for r in known.get("appRoles", []))
    scopes = dict((s["id"], s["value"]) for s in known.get("oauth2PermissionScopes", []))
    if any(i not in (roles if t == "Role" else scopes) for i, t in ids):
        doc = _get(client, "/servicePrincipals(appId='%s')" % resource_app_id,
                   params={"$select": "appId,appRoles,oauth2PermissionScopes"}) or {}
        roles.update((r.get("id"), r.get("value")) for r in doc.get("appRoles") or [])
        scopes.update((s.get("id"), s.get("value")) for s in doc.get("oauth2PermissionScopes") or [])
    out = {"application": [], "delegated": []}
    for ident, kind in ids:
        name = (roles if kind == "Role" else scopes).get(ident)
        if name:
            out["application" if kind == "Role" else "delegated"].append(name)
    return out


def read_app(client, app_id):
    """``(app {app_id, display_name, unique_name, service_principal_id}, declared or None)``."""
    app = {"app_id": app_id, "display_name": None, "unique_name": None, "service_principal_id": None}
    sp = _get(client, "/servicePrincipals(appId='%s')" % app_id, params={"$select": "id,appId,displayName"})
    if sp:
        app["display_name"] = sp.get("displayName")
        app["service_principal_id"] = sp.get("id")
    reg = _get(client, "/applications(appId='%s')" % app_id,
               params={"$select": "id,appId,displayName,uniqueName,requiredResourceAccess,isFallbackPublicClient"})
    if reg is None:
        return app, None
    app["display_name"] = reg.get("displayName") or app["display_name"]
    app["unique_name"] = reg.get("uniqueName")
    app["client_type"] = "public" if reg.get("isFallbackPublicClient") else "confidential"
    declared = {}
    for entry in reg.get("requiredResourceAccess") or []:
        api = perm.API_BY_APP_ID.get(str(entry.get("resourceAppId") or "").lower())
        if api:
            ids = [(a.get("id"), a.get("type")) for a in entry.get("resourceAccess") or []]
            declared[api] = _names_of(perm.RESOURCE_APP_IDS[api], ids, client)
    return app, declared


def user_roles(client, claims, graph_ok):
    """``(role names, source)``: from ``/me/memberOf`` when readable, else the ``wids`` claim, else ``(None, None)``."""
    if graph_ok:
        listing = _get(client, "/me/memberOf", params={"$select": "id,displayName,roleTemplateId"})
        if listing is not None:
            names = []
            for item in listing.get("value") or []:
                if item.get("@odata.type", "").lower() != "#microsoft.graph.directoryrole":
                    continue
                role = perm.directory_role(item.get("roleTemplateId") or "")
                name = role.name if role else item.get("displayName")
                if name and name not in names:
                    names.append(name)
            return names, "memberOf"
    wids = claims.get("wids")
    if isinstance(wids, list):
        names = []
        for wid in wids:
            role = perm.directory_role(wid)
            if role and role.name not in names:
                names.append(role.name)
        return names, "wids"
    return None, None


def _identity(claims, user, adapter):
    identity = {"type": "user" if user else "application",
                "app_id": claims.get("appid") or claims.get("azp") or adapter.value("client_id"),
                "app_name": None, "object_id": claims.get("oid")}
    if user:
        identity["upn"] = claims.get("upn") or claims.get("unique_name") or claims.get("preferred_username") \
            or adapter.value("username")
        identity["name"] = claims.get("name")
    return identity


def _fail_when_blind(apis):
    """Raise the token error when no API gave a token and the reason is not one the doctor explains."""
    if any(a.get("claims") for a in apis.values()):
        return
    for api in perm.APIS:
        exc = (apis.get(api) or {}).get("exception")
        if exc is not None and exc.aadsts not in EXPLAINED:
            raise exc


def gather(client, adapter, endpoints, wanted=None):
    """``(facts, report)``: see the module docstring. ``wanted``: the APIs to ask a token for (default all; Graph
    is always asked, it names the identity), so that a run asks for no token it does not need."""
    cloud = endpoints.cloud
    apis = {}
    for api in perm.APIS:
        if wanted is None or api in wanted or api == "graph":
            apis[api] = token_facts(client.authenticator, api, cloud)
        else:
            apis[api] = {"available": api in perm.apis_in_cloud(cloud), "claims": None, "error": None,
                         "checked": False}
        apis[api]["api"] = api
    _fail_when_blind(apis)
    claims = _first_claims(apis)
    user = bool(claims.get("scp")) or claims.get("idtyp") == "user" or any(
        (a.get("error") or {}).get("aadsts") == CONSENT_MISSING for a in apis.values())
    identity = _identity(claims, user, adapter)
    graph_ok = bool(apis["graph"].get("claims"))
    app, declared = ({"app_id": identity["app_id"]}, None)
    if graph_ok and identity["app_id"]:
        app, declared = read_app(client, identity["app_id"])
    identity["app_name"] = app.get("display_name") or "unknown"
    if user and not app.get("client_type"):
        app["client_type"] = "public"  # a user signs in through a native app (device code, password)
    if not user:
        identity["object_id"] = identity["object_id"] or app.get("service_principal_id")
    roles, source = user_roles(client, claims, graph_ok) if user else (None, None)
    facts = {"cloud": cloud, "user": user, "apis": apis, "user_roles": roles, "declared": declared, "app": app,
             "identity": identity}
    report = {"identity": identity, "tenant_id": claims.get("tid") or adapter.value("tenant_id"), "cloud": cloud,
              "auth_method": adapter.value("auth_method"),
              "apis": dict((api, _api_report(apis[api], endpoints)) for api in perm.APIS)}
    if user:
        report["user_roles"] = roles
        report["user_roles_source"] = source
    report["app_registration"] = {"readable": declared is not None, "unique_name": app.get("unique_name"),
                                  "declared": declared}
    return facts, report
