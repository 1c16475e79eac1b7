"""Microsoft Graph: the signed-in user and directory role memberships, so a client can tell which directory roles
(and so which Defender rights, mtp_emulator/authz.py) a user has.

| route | token | permission (any one) |
|---|---|---|
| ``GET /v1.0/me`` | delegated only (an app token: 400 ``/me request is only valid with delegated authentication flow.``) | :data:`ME_SCOPES` |
| ``GET /v1.0/me/memberOf`` | delegated only | :data:`ME_SCOPES` |
| ``GET /v1.0/users/{id or userPrincipalName}/memberOf`` | app or delegated | :data:`MEMBER_OF_PERMISSIONS` |

``memberOf`` lists the user's directory roles as ``#microsoft.graph.directoryRole`` objects (``id``,
``displayName``, ``description``, ``roleTemplateId``) from the directory as it is now (a token's ``wids`` claim is
what the roles were at sign-in). The emulator has no groups, so nothing else is listed. Missing permission: 403
``Authorization_RequestDenied`` ``Insufficient privileges to complete the operation.``; unknown user: 404
``Request_ResourceNotFound``.
"""

from __future__ import annotations

import uuid

from flask import Flask, jsonify

from .app import Route, add_routes
from .authz import verify_token
from .errors import GraphError
from .routes_defender import ALL_AUDIENCES, GRAPH_AUDIENCES
from .seed import ROLE_DESCRIPTIONS, role_name
from .state import public_view

CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#"
ME_SCOPES = {"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All",
             "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"}
MEMBER_OF_PERMISSIONS = {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All",
                         "GroupMember.Read.All", "RoleManagement.Read.Directory", "Directory.AccessAsUser.All"}
USER_PROPS = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
              "preferredLanguage", "surname", "userPrincipalName", "id")


def _caller(state, allowed: set, delegated_only: bool):
    tenant, claims = verify_token(state, "graph", GRAPH_AUDIENCES, ALL_AUDIENCES)
    delegated = "scp" in claims
    if delegated_only and not delegated:
        raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    granted = set(str(claims.get("scp") or "").split()) if delegated else set(claims.get("roles") or [])
    if not granted & allowed:
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    return tenant, claims


def _signed_in_user(tenant, claims: dict) -> dict:
    user = tenant.directory.get(str(claims.get("oid", "")), kind="user", replicated_only=False)
    if user is None:
        raise GraphError(404, "Request_ResourceNotFound",
                         f"Resource '{claims.get('oid')}' does not exist or one of its queried reference-property "
                         "objects are not present.")
    return user


def user_view(user: dict) -> dict:
    view = public_view(user)
    out = {key: view.get(key) for key in USER_PROPS}
    out["businessPhones"] = view.get("businessPhones") or []
    return out


def directory_role(tenant, template_id: str) -> dict:
    """The tenant's activated directory role of a template (its object id is stable per tenant and template)."""
    name = role_name(template_id)
    return {"@odata.type": "#microsoft.graph.directoryRole",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant.id}/directoryRoles/{template_id}")),
            "deletedDateTime": None, "description": ROLE_DESCRIPTIONS.get(name, ""), "displayName": name,
            "roleTemplateId": template_id}


def _member_of(tenant, user: dict):
    return jsonify({"@odata.context": f"{CONTEXT}directoryObjects",
                    "value": [directory_role(tenant, t) for t in user.get("_roles") or []]})


def graph_me(state):
    tenant, claims = _caller(state, ME_SCOPES, delegated_only=True)
    return jsonify(dict({"@odata.context": f"{CONTEXT}users/$entity"}, **user_view(_signed_in_user(tenant, claims))))


def graph_me_member_of(state):
    tenant, claims = _caller(state, ME_SCOPES, delegated_only=True)
    return _member_of(tenant, _signed_in_user(tenant, claims))


def graph_user_member_of(state, key):
    tenant, _ = _caller(state, MEMBER_OF_PERMISSIONS, delegated_only=False)
    user = tenant.directory.get(key.lower(), kind="user") or tenant.directory.find(
        "user", "userPrincipalName", key, case_insensitive=True)
    if user is None:
        raise GraphError(404, "Request_ResourceNotFound",
                         f"Resource '{key}' does not exist or one of its queried reference-property objects are not "
                         "present.")
    return _member_of(tenant, user)


ROUTES = (
    Route("/v1.0/me", ("GET",), graph_me),
    Route("/v1.0/me/memberOf", ("GET",), graph_me_member_of),
    Route("/v1.0/users/<key>/memberOf", ("GET",), graph_user_member_of),
)


def register(app: Flask, state) -> None:
    add_routes(app, state, ROUTES)
