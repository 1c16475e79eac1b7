"""Users at the token service: who may sign in, which directory roles a token names, refresh-token revocation,
and the control plane that manages test users.

Sign-in checks (:func:`check_password_sign_in`, :func:`check_account`), with the Entra ID errors:

| condition | AADSTS | ``error`` | where |
|---|---|---|---|
| ``locked: true`` (smart lockout) | 50053 | ``invalid_grant`` | ROPC (before the password is checked, as lockout does) |
| unknown user or wrong password | 50126 | ``invalid_grant`` | ROPC |
| ``enabled: false`` | 50057 | ``invalid_grant`` | ROPC, device code, refresh token |
| ``mfa: true`` | 50076 | ``invalid_grant`` + ``suberror: basic_action`` | ROPC only (the browser of a device-code sign-in does MFA) |
| refresh token issued before the user's revocation | 50173 | ``invalid_grant`` | refresh token |

Control plane (``/_emulator/users``; the tenant is ``?tenant=`` or the body's ``tenant``, id or domain, default
the first tenant):

| route | what |
|---|---|
| ``GET /_emulator/users`` | ``id``, ``upn``, ``display_name``, ``roles``, ``wids``, ``mfa``, ``enabled``, ``locked``, ``refresh_tokens`` |
| ``POST /_emulator/users`` | add or replace users: one user object or a list, with the fixture's user fields |
| ``PATCH /_emulator/users/<upn>`` | change ``roles``, ``mfa``, ``enabled``, ``locked``, ``password``, ``display_name`` |
| ``POST /_emulator/users/<upn>/revoke`` | revoke every refresh token of the user (as ``revokeSignInSessions``) |

Users added here last until the next reset or fixture load, like loaded data.
"""

from __future__ import annotations

import datetime as dt
import time

from flask import jsonify, request

from ..app import Route
from ..errors import AadError, MtpError
from ..seed import MEMBER_ROLE_TEMPLATE, role_name, role_template_ids, user_object
from ..state import hash_secret
from . import keys
from .common import AadErrorExtra

PATCHABLE = {"roles", "mfa", "enabled", "locked", "password", "display_name"}


# --- what a token says about the user --------------------------------------------------------------------------
def user_wids(user: dict) -> list[str]:
    """The ``wids`` claim: the template ids of the user's directory roles, then the member ("User") template."""
    return list(user.get("_roles") or []) + [MEMBER_ROLE_TEMPLATE]


def user_claims(user: dict) -> dict:
    return {"name": user.get("displayName"), "wids": user_wids(user), "idtyp": "user"}


# --- sign-in checks ----------------------------------------------------------------------------------------------
def check_account(user: dict) -> None:
    """A disabled account cannot get tokens by any grant (AADSTS50057)."""
    if user.get("accountEnabled") is False:
        raise AadError(400, "invalid_grant", 50057,
                       "The user account is disabled. The account has been disabled by an administrator.")


def check_password_sign_in(user: dict | None, password: str, resource: str) -> dict:
    """ROPC: lockout (50053), credentials (50126), disabled (50057), MFA (50076); returns the user."""
    if user is not None and user.get("_locked"):
        raise AadError(400, "invalid_grant", 50053,
                       "The account is locked because the user tried to sign in too many times with an incorrect "
                       "user ID or password.")
    if user is None or user.get("_password") != hash_secret(password):
        raise AadError(400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
    check_account(user)
    if user.get("_mfa"):
        raise AadErrorExtra(400, "invalid_grant", 50076,
                            "Due to a configuration change made by your administrator, or because you moved to "
                            f"a new location, you must use multi-factor authentication to access '{resource}'.",
                            {"suberror": "basic_action",
                             "claims": '{"access_token":{"capolids":{"essential":true,"values":'
                                       '["00000000-0000-0000-0000-000000000000"]}}}'})
    return user


def _stamp(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%m/%d/%Y %H:%M:%S")


def check_not_revoked(user: dict, record: dict) -> None:
    """A refresh token issued before the user's ``tokens valid from`` time is revoked (AADSTS50173)."""
    valid_from = float(user.get("_tokensValidFrom") or 0)
    if record["created"] < valid_from:
        raise AadError(400, "invalid_grant", 50173,
                       "The provided grant has expired due to it being revoked, a fresh auth token is needed. The "
                       "user might have changed or reset their password. The grant was issued on "
                       f"'{_stamp(record['created'])}' and the TokensValidFrom date (before which tokens are not "
                       f"valid) for this user is '{_stamp(valid_from)}'.")


def revoke_refresh_tokens(state, tenant, user: dict) -> int:
    """Revoke every refresh token of ``user`` (call with ``state.lock`` held); returns how many there were."""
    user["_tokensValidFrom"] = time.time()
    store = keys.login_state(state)["refresh_tokens"]
    return sum(1 for r in store.values() if r["tenant_id"] == tenant.id and r["user_id"] == user["id"])


# --- control plane -----------------------------------------------------------------------------------------------
def _tenant(state, body: dict | None = None):
    key = request.args.get("tenant") or (body or {}).get("tenant")
    tenant = state.tenant(str(key)) if key else next(iter(state.tenants.values()), None)
    if tenant is None:
        raise MtpError(404, "NotFound", f"Tenant '{key}' not found.")
    return tenant


def _find(tenant, upn: str) -> dict:
    user = tenant.directory.find("user", "userPrincipalName", upn, case_insensitive=True, replicated_only=False)
    if user is None:
        raise MtpError(404, "NotFound", f"No user '{upn}' in tenant {tenant.domain}.")
    return user


def user_view(state, tenant, user: dict) -> dict:
    tokens = sum(1 for r in keys.login_state(state)["refresh_tokens"].values()
                 if r["tenant_id"] == tenant.id and r["user_id"] == user["id"]
                 and r["created"] >= float(user.get("_tokensValidFrom") or 0))
    return {"id": user["id"], "upn": user["userPrincipalName"], "display_name": user.get("displayName"),
            "roles": [role_name(t) for t in user.get("_roles") or []], "wids": user_wids(user),
            "mfa": bool(user.get("_mfa")), "enabled": user.get("accountEnabled") is not False,
            "locked": bool(user.get("_locked")), "refresh_tokens": tokens}


def _json_body():
    body = request.get_json(silent=True)
    if body is None:
        raise MtpError(400, "BadRequest", "The body must be JSON: a user object or a list of them.")
    return body


def control_users_list(state):
    tenant = _tenant(state)
    with state.lock:
        users = [user_view(state, tenant, u) for u in tenant.directory.iter("user", replicated_only=False)]
    return jsonify({"tenant": tenant.id, "value": users})


def control_users_add(state):
    body = _json_body()
    specs = body if isinstance(body, list) else [body]
    tenant = _tenant(state, body if isinstance(body, dict) else None)
    try:
        objects = [user_object({k: v for k, v in spec.items() if k != "tenant"}) if isinstance(spec, dict)
                   else user_object(spec) for spec in specs]
    except ValueError as exc:
        raise MtpError(400, "BadRequest", str(exc)) from None
    with state.lock:
        added = []
        for obj in objects:
            old = tenant.directory.find("user", "userPrincipalName", obj["userPrincipalName"],
                                        case_insensitive=True, replicated_only=False)
            if old is not None:  # replace, keeping the object id (grants and tokens name it)
                obj["id"] = old["id"]
            tenant.directory.add("user", obj)["_created"] = 0
            added.append(user_view(state, tenant, obj))
    return jsonify({"tenant": tenant.id, "value": added})


def _patch(user: dict, body: dict) -> None:
    unknown = sorted(set(body) - PATCHABLE - {"tenant"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(PATCHABLE))}")
    if "roles" in body:
        user["_roles"] = role_template_ids(body["roles"])
    if "password" in body:
        if not isinstance(body["password"], str) or not body["password"]:
            raise ValueError("'password' must be a non-empty string")
        user["_password"] = hash_secret(body["password"])
    for key, attr in (("mfa", "_mfa"), ("locked", "_locked")):
        if key in body:
            user[attr] = bool(body[key])
    if "enabled" in body:
        user["accountEnabled"] = bool(body["enabled"])
    if "display_name" in body:
        user["displayName"] = str(body["display_name"])


def control_user_patch(state, upn):
    body = _json_body()
    if not isinstance(body, dict):
        raise MtpError(400, "BadRequest", "The body must be a JSON object.")
    tenant = _tenant(state, body)
    with state.lock:
        user = _find(tenant, upn)
        try:
            _patch(user, body)
        except ValueError as exc:
            raise MtpError(400, "BadRequest", f"user {upn}: {exc}") from None
        return jsonify(user_view(state, tenant, user))


def control_user_revoke(state, upn):
    tenant = _tenant(state, request.get_json(silent=True) if request.is_json else None)
    with state.lock:
        user = _find(tenant, upn)
        revoked = revoke_refresh_tokens(state, tenant, user)
        return jsonify({"upn": user["userPrincipalName"], "revoked": revoked,
                        "tokens_valid_from": _stamp(user["_tokensValidFrom"])})


ROUTES = (
    Route("/_emulator/users", ("GET",), control_users_list),
    Route("/_emulator/users", ("POST",), control_users_add),
    Route("/_emulator/users/<upn>", ("PATCH",), control_user_patch),
    Route("/_emulator/users/<upn>/revoke", ("POST",), control_user_revoke),
)
