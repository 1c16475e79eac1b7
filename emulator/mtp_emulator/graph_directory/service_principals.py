"""Service principals: ``/servicePrincipals`` (list, create), one service principal (GET, PATCH, DELETE) and
its navigations (``appRoleAssignments``, ``appRoleAssignedTo``, ``oauth2PermissionGrants``, ``ownedObjects``)."""

from __future__ import annotations

from flask import Response, request

from .. import graph_odata as odata
from ..errors import GraphError
from ..state import new_id
from .common import (APP_PROPS, APP_READ, APP_READ_OR_OWNED, APP_WRITE, APP_WRITE_OR_OWNED, GRANT_PROPS, GRANT_READ,
                     GUID_RE, INSUFFICIENT, OWNED_BY_SP_MESSAGE, SP_CREATE_ACCEPTED, SP_FILTER, SP_PROPS, SP_WRITABLE,
                     Ctx, bad_request, check_props, find_sp, invalid_value, json_response, list_response,
                     method_not_allowed, no_content, plain_view, read_body, select_from_args, typed_view,
                     unknown_segment)
from .grants import assignments


# --- service principals -------------------------------------------------------------------------------------

def create_service_principal(ctx: Ctx, body: dict) -> Response:
    check_props(body, SP_PROPS, "servicePrincipal")
    for key in body:
        if "@odata." not in key and key not in SP_WRITABLE and key not in SP_CREATE_ACCEPTED:
            raise bad_request(f"Property '{key}' is read-only and cannot be set.")
    app_id = body.get("appId")
    if not isinstance(app_id, str) or not GUID_RE.match(app_id):
        raise invalid_value("appId", "ServicePrincipal")
    check_sp_values(body)
    from .. import seed

    no_backing = bad_request(
        f"The appId '{app_id}' of the service principal does not reference a valid application object.",
        details=[{"code": "NoBackingApplicationObject",
                  "message": "The service principal cannot be created because its appId does not reference a "
                             "valid application object.", "target": "appId"}])
    full_rights = bool(ctx.granted & APP_WRITE)
    with ctx.state.lock:
        backing = ctx.dir.application_by_app_id(app_id, replicated_only=False)
        if not full_rights and (backing is None or not ctx.owns(backing)):
            raise GraphError(403, "Authorization_RequestDenied", OWNED_BY_SP_MESSAGE)
        if ctx.dir.service_principal_by_app_id(app_id, replicated_only=False) is not None:
            raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                             "The service principal cannot be created, updated, or restored because the service "
                             f"principal name {app_id} is already in use.")
        app = ctx.dir.application_by_app_id(app_id, replicated_only=False)
        if app is None:
            if app_id.lower() in seed.first_party():
                sp = seed.create_first_party_sp(ctx.tenant, app_id.lower(), seeded=False)
                for k in ("accountEnabled", "tags", "notes", "appRoleAssignmentRequired", "description"):
                    if k in body:
                        sp[k] = body[k]
                return _sp_created(ctx, sp)
            raise no_backing
        if not ctx.dir.replicated(app):
            raise no_backing
        api = app.get("api") or {}
        sp = {
            "id": new_id(), "deletedDateTime": None, "accountEnabled": True, "alternativeNames": [],
            "appDescription": app.get("description"), "appDisplayName": app.get("displayName"),
            "appId": app["appId"], "applicationTemplateId": None, "appOwnerOrganizationId": ctx.tenant.id,
            "appRoleAssignmentRequired": False, "description": None, "disabledByMicrosoftStatus": None,
            "displayName": app.get("displayName"), "homepage": None, "loginUrl": None, "logoutUrl": None,
            "notes": None, "notificationEmailAddresses": [], "preferredSingleSignOnMode": None,
            "preferredTokenSigningKeyThumbprint": None, "replyUrls": list((app.get("web") or {}).get(
                "redirectUris") or []), "servicePrincipalNames": [app["appId"]] + list(app.get("identifierUris")
                                                                                      or []),
            "servicePrincipalType": "Application", "signInAudience": app.get("signInAudience"), "tags": [],
            "tokenEncryptionKeyId": None, "appRoles": list(app.get("appRoles") or []),
            "oauth2PermissionScopes": list(api.get("oauth2PermissionScopes") or []),
            "keyCredentials": [], "passwordCredentials": [],
            "info": app.get("info"), "verifiedPublisher": app.get("verifiedPublisher"),
        }
        for k in ("accountEnabled", "tags", "notes", "appRoleAssignmentRequired", "description", "displayName",
                  "homepage", "loginUrl", "logoutUrl", "notificationEmailAddresses", "preferredSingleSignOnMode",
                  "replyUrls"):
            if k in body:
                sp[k] = body[k]
        caller = ctx.caller_sp_id()
        sp["_owners"] = [caller] if caller else []
        ctx.dir.add("servicePrincipal", sp)
    return _sp_created(ctx, sp)


def check_sp_values(body: dict) -> None:
    for key, value in body.items():
        if key in ("accountEnabled", "appRoleAssignmentRequired"):
            ok = isinstance(value, bool)
        elif key in ("tags", "notificationEmailAddresses", "replyUrls"):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif "@odata." in key:
            ok = True
        else:
            ok = value is None or isinstance(value, str)
        if not ok:
            raise invalid_value(key, "ServicePrincipal")


def _sp_created(ctx: Ctx, sp: dict) -> Response:
    return json_response(dict({"@odata.context": ctx.context("servicePrincipals/$entity")}, **plain_view(sp)), 201,
                         {"Location": f"{ctx.base}/v1.0/directoryObjects/{sp['id']}/Microsoft.DirectoryServices."
                                      "ServicePrincipal"})


def delete_service_principal(ctx: Ctx, sp: dict) -> None:
    d = ctx.dir
    for obj_id, obj in list(d.objects.items()):
        kind = obj.get("_kind")
        if kind == "appRoleAssignment" and sp["id"] in (obj.get("principalId"), obj.get("resourceId")):
            del d.objects[obj_id]
        elif kind == "oauth2PermissionGrant" and sp["id"] in (obj.get("clientId"), obj.get("resourceId")):
            del d.objects[obj_id]
    d.objects.pop(sp["id"], None)


def service_principals(ctx: Ctx, segs: list, method: str) -> Response:
    """``/servicePrincipals``, ``/servicePrincipals/{key}`` and ``/servicePrincipals(appId='…')/<navigation>``."""
    name, key = segs[0]
    rest = segs[1:]
    if key is None and rest:
        if rest[0][1] is not None:
            raise unknown_segment(rest[0][0])
        key = (None, rest[0][0])
        rest = rest[1:]
    if key is None:
        return sp_collection(ctx, method)
    if not rest:
        return sp_item(ctx, key, method)
    return sp_navigation(ctx, key, rest, method)


def sp_collection(ctx: Ctx, method: str) -> Response:
    if method == "GET":
        ctx.require(APP_READ_OR_OWNED)
        query = odata.parse_query(request.args, request.headers, "servicePrincipal", SP_FILTER, SP_PROPS,
                                  {"servicePrincipalNames", "tags"}, {"displayName"})
        return list_response(ctx, list(ctx.dir.iter("servicePrincipal")), query, "servicePrincipals", plain_view)
    if method == "POST":
        ctx.require(APP_WRITE_OR_OWNED)
        return create_service_principal(ctx, read_body())
    raise method_not_allowed()


def sp_item(ctx: Ctx, key, method: str) -> Response:
    if method == "GET":
        ctx.require(APP_READ_OR_OWNED)
        select = select_from_args(SP_PROPS, "servicePrincipal")
        sp = find_sp(ctx, key, primary=False)
        suffix = f"servicePrincipals({','.join(select)})/$entity" if select else "servicePrincipals/$entity"
        return json_response(dict({"@odata.context": ctx.context(suffix)}, **plain_view(sp, select)))
    if method == "PATCH":
        ctx.require(APP_WRITE_OR_OWNED)
        body = read_body()
        check_props(body, SP_PROPS, "servicePrincipal")
        with ctx.state.lock:
            sp = find_sp(ctx, key, primary=True)
            ctx.require_object(sp, write=True)
            for k, v in body.items():
                if "@odata." in k:
                    continue
                if k not in SP_WRITABLE or (k == "appId" and v != sp["appId"]):
                    raise bad_request(f"Property '{k}' is read-only and cannot be set.")
            check_sp_values(body)
            sp.update({k: v for k, v in body.items() if "@odata." not in k})
        return no_content()
    if method == "DELETE":
        ctx.require(APP_WRITE_OR_OWNED)
        with ctx.state.lock:
            sp = find_sp(ctx, key, primary=True)
            ctx.require_object(sp, write=True)
            delete_service_principal(ctx, sp)
        return no_content()
    raise method_not_allowed()


def sp_navigation(ctx: Ctx, key, rest: list, method: str) -> Response:
    nav, nav_key = rest[0]
    if nav in ("appRoleAssignedTo", "appRoleAssignments"):
        item = None
        if nav_key is not None:
            item = nav_key[1]
            if len(rest) > 1:
                raise unknown_segment(rest[1][0])
        elif len(rest) == 2 and rest[1][1] is None:
            item = rest[1][0]
        elif len(rest) > 1:
            raise unknown_segment(rest[1][0])
        return assignments(ctx, key, nav, item, method)
    if len(rest) == 1 and nav_key is None and nav in ("oauth2PermissionGrants", "ownedObjects"):
        if method != "GET":
            raise method_not_allowed()
        return sp_grants(ctx, key) if nav == "oauth2PermissionGrants" else sp_owned_objects(ctx, key)
    raise unknown_segment(nav)


def sp_grants(ctx: Ctx, key) -> Response:
    ctx.require(GRANT_READ)
    sp = find_sp(ctx, key, primary=False)
    query = odata.parse_query(request.args, request.headers, "oAuth2PermissionGrant", GRANT_PROPS, GRANT_PROPS)
    items = [g for g in ctx.dir.iter("oauth2PermissionGrant") if g.get("clientId") == sp["id"]]
    return list_response(ctx, items, query, "oauth2PermissionGrants", plain_view)


def sp_owned_objects(ctx: Ctx, key) -> Response:
    ctx.require(APP_READ_OR_OWNED)
    sp = find_sp(ctx, key, primary=False)
    if not ctx.granted & APP_READ and sp["id"] != ctx.caller_sp_id():
        raise GraphError(403, "Authorization_RequestDenied", INSUFFICIENT)
    query = odata.parse_query(request.args, request.headers, "directoryObject", {"id", "appId", "displayName"},
                              APP_PROPS | SP_PROPS)
    items = [o for o in ctx.dir.objects.values() if o.get("_kind") in ("application", "servicePrincipal")
             and "_deleted" not in o and ctx.dir.replicated(o) and sp["id"] in (o.get("_owners") or [])]
    return list_response(ctx, items, query, "directoryObjects", typed_view)
