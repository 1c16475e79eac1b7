"""App role assignments (``appRoleAssignments`` / ``appRoleAssignedTo`` of a service principal) and
``/oauth2PermissionGrants`` (delegated consent)."""

from __future__ import annotations

from flask import Response, request

from .. import graph_odata as odata
from ..errors import GraphError
from .common import (ASSIGNMENT_FILTER, ASSIGNMENT_PROPS, ASSIGN_READ, ASSIGN_WRITE, GRANT_PROPS, GRANT_READ,
                     GRANT_WRITE, GUID_RE, Ctx, assignment_id, bad_request, check_props, find_sp, invalid_value,
                     json_response, list_response, method_not_allowed, no_content, not_found, now_iso, plain_view,
                     read_body, select_from_args, unknown_segment)


# --- app role assignments -----------------------------------------------------------------------------------

def assignments(ctx: Ctx, sp_key, nav: str, item: str | None, method: str) -> Response:
    side = "resourceId" if nav == "appRoleAssignedTo" else "principalId"
    if item is None and method == "GET":
        ctx.require(ASSIGN_READ)
        sp = find_sp(ctx, sp_key, primary=False)
        query = odata.parse_query(request.args, request.headers, "appRoleAssignment", ASSIGNMENT_FILTER,
                                  ASSIGNMENT_PROPS)
        items = [a for a in ctx.dir.iter("appRoleAssignment") if a.get(side) == sp["id"]]
        return list_response(ctx, items, query, f"servicePrincipals('{sp['id']}')/{nav}", plain_view)
    if item is None and method == "POST":
        ctx.require(ASSIGN_WRITE)
        body = read_body()
        sp = find_sp(ctx, sp_key, primary=False)
        return create_assignment(ctx, sp, nav, side, body)
    if item is not None and method == "GET":
        ctx.require(ASSIGN_READ)
        sp = find_sp(ctx, sp_key, primary=False)
        obj = ctx.dir.get(item, "appRoleAssignment")
        if obj is None or obj.get(side) != sp["id"]:
            raise not_found(item)
        return json_response(dict({"@odata.context": ctx.context(
            f"servicePrincipals('{sp['id']}')/{nav}/$entity")}, **plain_view(obj)))
    if item is not None and method == "DELETE":
        ctx.require(ASSIGN_WRITE)
        with ctx.state.lock:
            sp = find_sp(ctx, sp_key, primary=True)
            obj = ctx.dir.get(item, "appRoleAssignment", replicated_only=False)
            if obj is None or obj.get(side) != sp["id"]:
                raise not_found(item)
            del ctx.dir.objects[item]
        return no_content()
    raise method_not_allowed()


def create_assignment(ctx: Ctx, sp: dict, nav: str, side: str, body: dict) -> Response:
    check_props(body, ASSIGNMENT_PROPS, "appRoleAssignment")
    for prop in ("principalId", "resourceId", "appRoleId"):
        value = body.get(prop)
        if not isinstance(value, str) or not GUID_RE.match(value):
            raise invalid_value(prop, "AppRoleAssignment")
    for key in body:
        if "@odata." not in key and key not in ("principalId", "resourceId", "appRoleId"):
            raise bad_request(f"Property '{key}' is read-only and cannot be set.")
    if body[side].lower() != sp["id"].lower():
        raise bad_request("Not a valid reference update.")
    with ctx.state.lock:
        principal = ctx.dir.get(body["principalId"].lower())
        if principal is None or principal.get("_kind") not in ("servicePrincipal", "user"):
            raise not_found(body["principalId"])
        resource = ctx.dir.get(body["resourceId"].lower(), "servicePrincipal")
        if resource is None:
            raise not_found(body["resourceId"])
        role_id = body["appRoleId"].lower()
        member_type = "Application" if principal["_kind"] == "servicePrincipal" else "User"
        role = next((r for r in resource.get("appRoles") or [] if r.get("id", "").lower() == role_id), None)
        if role_id != "00000000-0000-0000-0000-000000000000" and (
                role is None or member_type not in (role.get("allowedMemberTypes") or [])
                or not role.get("isEnabled", True)):
            raise bad_request(f"Permission being assigned was not found on application '{resource.get('appId')}'.")
        for existing in ctx.dir.iter("appRoleAssignment", replicated_only=False):
            if existing["principalId"] == principal["id"] and existing["resourceId"] == resource["id"] \
                    and existing["appRoleId"].lower() == role_id:
                raise bad_request("Permission being assigned already exists on the object")
        obj = {"id": assignment_id(), "deletedDateTime": None, "appRoleId": role_id, "createdDateTime": now_iso(),
               "principalDisplayName": principal.get("displayName"), "principalId": principal["id"],
               "principalType": "ServicePrincipal" if member_type == "Application" else "User",
               "resourceDisplayName": resource.get("displayName"), "resourceId": resource["id"]}
        ctx.dir.add("appRoleAssignment", obj)
    return json_response(dict({"@odata.context": ctx.context(f"servicePrincipals('{sp['id']}')/{nav}/$entity")},
                              **plain_view(obj)), 201)


# --- oauth2PermissionGrants ---------------------------------------------------------------------------------

def permission_grants(ctx: Ctx, segs: list, method: str) -> Response:
    name, key = segs[0]
    rest = segs[1:]
    if key is None and rest:
        if rest[0][1] is not None or len(rest) > 1:
            raise unknown_segment(rest[0][0])
        key = (None, rest[0][0])
    elif key is not None and rest:
        raise unknown_segment(rest[0][0])
    if key is not None and key[0] not in (None, "id"):
        raise GraphError(400, "BadRequest",
                         f"'{key[0]}' is not a valid alternate key of 'microsoft.graph.oAuth2PermissionGrant'.")
    if key is None:
        if method == "GET":
            ctx.require(GRANT_READ)
            query = odata.parse_query(request.args, request.headers, "oAuth2PermissionGrant", GRANT_PROPS,
                                      GRANT_PROPS)
            return list_response(ctx, list(ctx.dir.iter("oauth2PermissionGrant")), query,
                                 "oauth2PermissionGrants", plain_view)
        if method == "POST":
            ctx.require(GRANT_WRITE)
            return create_grant(ctx, read_body())
        raise method_not_allowed()
    grant_id = key[1]
    if method == "GET":
        ctx.require(GRANT_READ)
        grant = ctx.dir.get(grant_id, "oauth2PermissionGrant")
        if grant is None:
            raise not_found(grant_id)
        select = select_from_args(GRANT_PROPS, "oAuth2PermissionGrant")
        return json_response(dict({"@odata.context": ctx.context("oauth2PermissionGrants/$entity")},
                                  **plain_view(grant, select)))
    if method == "PATCH":
        ctx.require(GRANT_WRITE)
        body = read_body()
        check_props(body, GRANT_PROPS, "oAuth2PermissionGrant")
        with ctx.state.lock:
            grant = ctx.dir.get(grant_id, "oauth2PermissionGrant", replicated_only=False)
            if grant is None:
                raise not_found(grant_id)
            for k, v in body.items():
                if "@odata." in k:
                    continue
                if k != "scope" and v != grant.get(k):
                    raise bad_request("Property cannot be updated")
            if "scope" in body:
                if not isinstance(body["scope"], str):
                    raise invalid_value("scope", "OAuth2PermissionGrant")
                grant["scope"] = body["scope"]
        return no_content()
    if method == "DELETE":
        ctx.require(GRANT_WRITE)
        with ctx.state.lock:
            if ctx.dir.get(grant_id, "oauth2PermissionGrant", replicated_only=False) is None:
                raise not_found(grant_id)
            del ctx.dir.objects[grant_id]
        return no_content()
    raise method_not_allowed()


def create_grant(ctx: Ctx, body: dict) -> Response:
    check_props(body, GRANT_PROPS, "oAuth2PermissionGrant")
    if "id" in body:
        raise bad_request("Property 'id' is read-only and cannot be set.")
    for prop in ("clientId", "resourceId"):
        if not isinstance(body.get(prop), str) or not GUID_RE.match(body[prop]):
            raise invalid_value(prop, "OAuth2PermissionGrant")
    consent = body.get("consentType")
    if consent not in ("AllPrincipals", "Principal"):
        raise invalid_value("consentType", "OAuth2PermissionGrant")
    principal_id = body.get("principalId")
    if consent == "AllPrincipals" and principal_id is not None:
        raise invalid_value("principalId", "OAuth2PermissionGrant")
    if consent == "Principal" and (not isinstance(principal_id, str) or not GUID_RE.match(principal_id)):
        raise invalid_value("principalId", "OAuth2PermissionGrant")
    scope = body.get("scope", "")
    if not isinstance(scope, str):
        raise invalid_value("scope", "OAuth2PermissionGrant")
    with ctx.state.lock:
        client = ctx.dir.get(body["clientId"].lower(), "servicePrincipal")
        if client is None:
            raise not_found(body["clientId"])
        resource = ctx.dir.get(body["resourceId"].lower(), "servicePrincipal")
        if resource is None:
            raise not_found(body["resourceId"])
        if consent == "Principal" and ctx.dir.get(principal_id.lower(), "user") is None:
            raise not_found(principal_id)
        pid = principal_id.lower() if principal_id else None
        for g in ctx.dir.iter("oauth2PermissionGrant", replicated_only=False):
            if (g.get("clientId"), g.get("resourceId"), g.get("consentType"), g.get("principalId")) == (
                    client["id"], resource["id"], consent, pid):
                raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists.")
        grant = {"id": assignment_id(), "clientId": client["id"], "consentType": consent, "principalId": pid,
                 "resourceId": resource["id"], "scope": scope}
        ctx.dir.add("oauth2PermissionGrant", grant)
    return json_response(dict({"@odata.context": ctx.context("oauth2PermissionGrants/$entity")},
                              **plain_view(grant)), 201)
