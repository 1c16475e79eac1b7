"""Grants: what a token may do. The one place where a token's ``roles`` and ``scp`` are computed.

- :func:`app_roles`: the ``roles`` of an app-only token (client credentials, managed identity): the app roles
  assigned to the client's service principal on the resource (admin consent), sorted; empty when none are, and
  the claim is then left out, as Entra ID does.
- :func:`delegated_scp`: the ``scp`` of a user token (ROPC, refresh token, device code): the consented
  delegated scopes (oauth2PermissionGrants, for all principals or for this user) that the request asked for;
  ``.default`` or nothing asks for all of them. AADSTS65001 when one is not consented.
- :func:`parse_scope`: the v2 ``scope`` parameter -> (resource, scope names, reserved OIDC scopes).
- the grant handlers ``grant_client_credentials``, ``grant_password`` and ``grant_refresh_token`` (the device
  code grant is in :mod:`.device_code`), and :func:`user_token`, which every user flow ends in. User tokens carry
  ``scp``, ``wids`` (the user's directory role template ids), ``upn``, ``oid``, ``name``, ``idtyp: user``; the
  sign-in checks (AADSTS50053/50126/50057/50076/50173) are in :mod:`.users`.

Refresh tokens rotate: every refresh_token grant returns a new one and the redeemed one is gone at once (reuse:
AADSTS9002313). Entra ID is said to keep the old one valid until it expires (unverified); the emulator is stricter
on purpose, so a client that keeps using an old refresh token fails here first.
"""

from __future__ import annotations

import secrets
import time

from flask import jsonify

from ..errors import AadError
from ..state import hash_secret
from . import keys
from .clients import authenticate_client
from .users import check_account, check_not_revoked, check_password_sign_in, user_claims
from .common import (GRAPH_RESOURCE, REFRESH_TOKEN_LIFETIME, RESERVED_SCOPES, AadErrorExtra, base_url, missing,
                     no_store, prune, resolve_resource, tenant_cloud)


# --- roles and scp -------------------------------------------------------------------------------------------
def app_roles(tenant, client_id: str, resource_app_id: str) -> list[str]:
    """App roles granted to ``client_id``'s service principal on the resource, sorted (the ``roles`` claim)."""
    return sorted(set(tenant.directory.granted_roles(client_id, resource_app_id)))


def delegated_scp(tenant, application: dict, client_id: str, user_id: str, resource_app_id: str,
                  names: list[str]) -> list[str]:
    """The consented delegated scopes the request names (all of them for ``.default`` or none), with the
    resource's spelling; AADSTS65001 (``consent_required``) when a named one, or every one, is missing."""
    consented = tenant.directory.delegated_scopes(client_id, resource_app_id, user_id)
    by_lower = {s.lower(): s for s in consented}
    if not names or names == [".default"]:
        granted = list(consented)
        lacking = not granted
    else:
        granted = [by_lower[n.lower()] for n in names if n.lower() in by_lower]
        lacking = len(granted) != len(names)
    if lacking:
        raise AadErrorExtra(400, "invalid_grant", 65001,
                            f"The user or administrator has not consented to use the application with ID "
                            f"'{client_id}' named '{application.get('displayName')}'. Send an interactive "
                            "authorization request for this user and resource.",
                            {"suberror": "consent_required"})
    return granted


def parse_scope(scope: str | None, app_only: bool) -> tuple[str, list[str], set[str]]:
    """v2 ``scope`` → (resource as requested, scope names on it, reserved OIDC scopes)."""
    if not scope or not scope.strip():
        raise AadError(400, "invalid_scope", 70011, "The provided request must include a 'scope' input parameter.")
    items = scope.split()
    reserved = {s.lower() for s in items if s.lower() in RESERVED_SCOPES}
    rest = [s for s in items if s.lower() not in RESERVED_SCOPES]
    bad = AadError(400, "invalid_scope", 70011,
                   f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.")
    if app_only:
        if len(rest) != 1 or not rest[0].endswith("/.default") or reserved:
            raise AadError(400, "invalid_scope", 70011,
                           f"The provided value for the input parameter 'scope' is not valid. The scope {scope} "
                           "is not valid. The scope must be a single resource with the '/.default' suffix.")
        resource = rest[0][: -len("/.default")]
        if not resource:
            raise bad
        return resource, [".default"], reserved
    if not rest:
        return GRAPH_RESOURCE, [], reserved  # OIDC-only request: Graph, as Entra ID does
    resources, names = set(), []
    for item in rest:
        if "/" in item and not item.startswith("/"):
            resource, _, name = item.rpartition("/")
        else:
            resource, name = GRAPH_RESOURCE, item
        if not resource or not name:
            raise bad
        resources.add(resource.rstrip("/"))
        names.append(name)
    if len({r.lower() for r in resources}) != 1 or (".default" in names and len(names) > 1):
        raise bad
    return resources.pop(), names, reserved


def user_resource(form, v2: bool) -> tuple[str, list[str], set[str]]:
    """(resource, scope names, reserved) of a user flow: v2 ``scope``, or v1 ``resource`` (everything consented)."""
    if v2:
        return parse_scope(form.get("scope"), app_only=False)
    resource = form.get("resource")
    if not resource:
        raise missing("resource")
    return resource.rstrip("/"), [".default"], {"openid", "offline_access"}


# --- token bodies ----------------------------------------------------------------------------------------------
def access_body(token: str, expires_in: int, v2: bool, resource: str) -> dict:
    if v2:
        return {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
                "access_token": token}
    now = int(time.time())
    return {"token_type": "Bearer", "expires_in": str(expires_in), "ext_expires_in": str(expires_in),
            "expires_on": str(now + expires_in), "not_before": str(now), "resource": resource,
            "access_token": token}


def token_response(body: dict):
    return no_store(jsonify(body))


def app_only_token(state, tenant, client_id: str, acr: str, resource: str, v2: bool):
    resource_app_id, _ = resolve_resource(tenant, resource)
    client_sp = tenant.directory.service_principal_by_app_id(client_id)
    if client_sp is None:
        # code unverified: Entra ID answers this when the app has no service principal in the tenant
        raise AadError(400, "invalid_client", 7000229,
                       f"The client application {client_id} is missing service principal in the tenant {tenant.id}.")
    token, expires_in = keys.issue_access_token(
        state, tenant, audience=resource, app_id=client_id, roles=app_roles(tenant, client_id, resource_app_id),
        oid=client_sp["id"], cloud=tenant_cloud(tenant), extra={"appidacr": acr, "azpacr": acr})
    state.stats.record_token(client_id)
    return token_response(access_body(token, expires_in, v2, resource))


def new_refresh_token(state, tenant, client_id: str, user_id: str) -> str:
    value = "1.A" + keys.b64url(secrets.token_bytes(48))
    now = time.time()
    with state.lock:
        store = keys.login_state(state)["refresh_tokens"]
        prune(store, now)
        store[hash_secret(value)] = {"tenant_id": tenant.id, "client_id": client_id, "user_id": user_id,
                                     "created": now, "expires_at": now + REFRESH_TOKEN_LIFETIME}
    return value


def user_token(state, tenant, application, client_id: str, acr: str, user: dict, *, resource: str,
               names: list[str], reserved: set[str], v2: bool, form):
    resource_app_id, _ = resolve_resource(tenant, resource)
    granted = delegated_scp(tenant, application, client_id, user["id"], resource_app_id, names)
    token, expires_in = keys.issue_access_token(
        state, tenant, audience=resource, app_id=client_id, scp=granted, oid=user["id"],
        upn=user.get("userPrincipalName"), cloud=tenant_cloud(tenant),
        extra=dict(user_claims(user), appidacr=acr, azpacr=acr))
    state.stats.record_token(client_id)
    body = access_body(token, expires_in, v2, resource)
    if v2:
        echoed = [f"{resource}/{s}" for s in granted]
        if names == [".default"]:
            echoed.append(f"{resource}/.default")
        body = {"token_type": "Bearer", "scope": " ".join(echoed + sorted(reserved)),
                "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token}
    else:
        body["scope"] = " ".join(granted)
    if not v2 or "offline_access" in reserved:
        body["refresh_token"] = new_refresh_token(state, tenant, client_id, user["id"])
    if not v2 or "openid" in reserved:
        issuer = f"{base_url()}/{tenant.id}/v2.0" if v2 else f"https://sts.windows.net/{tenant.id}/"
        body["id_token"] = keys.id_token(state, tenant, client_id=client_id, user=user, issuer=issuer)
    if form.get("client_info") == "1":
        body["client_info"] = keys.client_info(user["id"], tenant.id)
    return token_response(body)


# --- grant handlers: (state, tenant, form, v2) -> response ------------------------------------------------------
def grant_client_credentials(state, tenant, form, v2: bool):
    _, client_id, acr = authenticate_client(state, tenant, form, confidential_required=True)
    if v2:
        resource, _, _ = parse_scope(form.get("scope"), app_only=True)
    else:
        resource = form.get("resource")
        if not resource:
            raise missing("resource")
    return app_only_token(state, tenant, client_id, acr, resource, v2)


def grant_password(state, tenant, form, v2: bool):
    username, password = form.get("username"), form.get("password")
    if not username:
        raise missing("username")
    if not password:
        raise missing("password")
    application, client_id, acr = authenticate_client(state, tenant, form, confidential_required=None)
    resource, names, reserved = user_resource(form, v2)
    user = check_password_sign_in(
        tenant.directory.find("user", "userPrincipalName", username, case_insensitive=True), password, resource)
    return user_token(state, tenant, application, client_id, acr, user, resource=resource, names=names,
                      reserved=reserved, v2=v2, form=form)


def _refresh_record(state, tenant, value: str, client_id: str) -> dict:
    """The stored record of a refresh token, checked (tenant, age, client); AADSTS9002313/70008/70000."""
    record = keys.login_state(state)["refresh_tokens"].get(hash_secret(value))
    if record is None or record["tenant_id"] != tenant.id:
        raise AadError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if record["expires_at"] < time.time():
        raise AadError(400, "invalid_grant", 70008,
                       "The provided authorization code or refresh token has expired due to inactivity. Send a "
                       "new interactive authorization request for this user and resource.")
    if record["client_id"].lower() != client_id.lower():
        raise AadError(400, "invalid_grant", 70000,
                       "Provided grant is invalid or malformed. The refresh token was issued to a different client.")
    return record


def grant_refresh_token(state, tenant, form, v2: bool):
    value = form.get("refresh_token")
    if not value:
        raise missing("refresh_token")
    application, client_id, acr = authenticate_client(state, tenant, form, confidential_required=None)
    record = _refresh_record(state, tenant, value, client_id)
    user = tenant.directory.get(record["user_id"], kind="user")
    if user is None:
        raise AadError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    check_not_revoked(user, record)
    check_account(user)
    resource, names, reserved = user_resource(form, v2)
    response = user_token(state, tenant, application, client_id, acr, user, resource=resource, names=names,
                          reserved=reserved | {"offline_access"}, v2=v2, form=form)
    with state.lock:  # rotate: the redeemed refresh token is gone
        if keys.login_state(state)["refresh_tokens"].pop(hash_secret(value), None) is None:
            raise AadError(400, "invalid_grant", 70008,
                           "The provided authorization code or refresh token has expired due to inactivity.")
    return response
