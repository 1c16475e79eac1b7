"""Users, read-only: ``GET /users`` (``$filter``, ``$select``, paging) and ``GET /users/{id | userPrincipalName}``.

``mtp_aad_app_setup`` resolves ``consent.users`` (user principal names) to object ids here before it writes
``Principal`` oauth2PermissionGrants. Reading users takes one of the Graph permissions in :data:`USER_READ`
(application roles or delegated scopes), as in Graph; ``Application.ReadWrite.All`` alone is not enough.
"""

from __future__ import annotations

from flask import Response, request

from .. import graph_odata as odata
from .common import (Ctx, json_response, list_response, method_not_allowed, not_found, plain_view,
                     select_from_args, unknown_segment)

USER_READ = {"User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "Directory.Read.All",
             "Directory.ReadWrite.All"}
USER_PROPS = {"id", "userPrincipalName", "displayName", "accountEnabled", "mail"}
USER_FILTER = {"id", "userPrincipalName", "displayName", "accountEnabled", "mail"}


def find_user(ctx: Ctx, key: str) -> dict | None:
    """A user by object id or by userPrincipalName (case-insensitive, like Graph)."""
    obj = ctx.dir.get(key.lower(), "user")
    if obj is not None:
        return obj
    for user in ctx.dir.iter("user"):
        if (user.get("userPrincipalName") or "").lower() == key.lower():
            return user
    return None


def users(ctx: Ctx, segs: list, method: str) -> Response:
    _name, key = segs[0]
    rest = segs[1:]
    if key is None and rest:
        if rest[0][1] is not None:
            raise unknown_segment(rest[0][0])
        key = (None, rest[0][0])
        rest = rest[1:]
    if rest:
        raise unknown_segment(rest[0][0])
    if method != "GET":
        raise method_not_allowed()
    ctx.require(USER_READ)
    if key is None:
        query = odata.parse_query(request.args, request.headers, "user", USER_FILTER, USER_PROPS,
                                  set(), {"displayName", "userPrincipalName"})
        return list_response(ctx, list(ctx.dir.iter("user")), query, "users", plain_view)
    if key[0] not in (None, "id", "userPrincipalName"):
        raise unknown_segment(key[0])
    user = find_user(ctx, key[1])
    if user is None:
        raise not_found(key[1])
    select = select_from_args(USER_PROPS, "user")
    suffix = f"users({','.join(select)})/$entity" if select else "users/$entity"
    return json_response(dict({"@odata.context": ctx.context(suffix)}, **plain_view(user, select)))
