"""Who may call the Defender (MTP, MDE) and Graph security routes: the bearer check behind
``routes_defender.authorize``.

1. The token: signature, expiry, audience, tenant -> 401 (``Unauthorized`` / ``InvalidAuthenticationToken``).
2. The app's permission: one of the route's accepted app roles (``roles`` claim, app-only token) or delegated
   scopes (``scp`` claim) -> 403 otherwise, as before.
3. A delegated token is checked a second time, for the signed-in user's own rights, as Defender and Graph do
   ("no portal right, no API right": docs/developer/reference/defender-api.md §6.2). App-only tokens skip this.

User rights come from the user's Microsoft Entra directory roles (seed.DIRECTORY_ROLES): Graph reads the token's
``wids`` claim (as the Graph security API documents), MTP/MDE read the user's current roles in the directory (the
portal's live permissions). Rights per role (basic permissions; emulator model, partly unverified):

| role | read | write: incidents, alerts, machine actions, tags, detection rules | write: indicators, live-response library |
|---|---|---|---|
| Security Reader, Global Reader | yes | no | no |
| Security Operator | yes | yes | no (unverified) |
| Security Administrator, Global Administrator | yes | yes | yes |
| no security role | no | no | no |

A request is a **write** when its method is POST, PUT, PATCH or DELETE and none of the permissions the route
accepts is a read permission (a name with a ``Read`` part and no ``Write`` part: ``Incident.Read``,
``AdvancedHunting.Read.All``, ``Machine.Read.All``). So hunting POSTs (``AdvancedHunting.Read``,
``ThreatHunting.Read.All``, ``AdvancedQuery.Read``) are reads, and a GET is always a read. A write whose accepted
permissions are all ``Ti.*`` or ``Library.*`` is a settings write (Security Administrator / Global Administrator).

Error bodies for a user without the right (all unverified; Microsoft does not publish them):

- MTP/MDE: 403 ``Forbidden``, ``"The signed-in user has no Microsoft Defender permission for this operation. Required
  Microsoft Entra role: <roles>; the user has: <roles or none>."``
- Graph: 403 ``Forbidden``, ``"Auth token does not contain valid permissions or user does not have valid roles."``
  (the text users report: defender-api.md §3).
"""

from __future__ import annotations

from flask import request

from .errors import GraphError, MtpError
from .seed import DIRECTORY_ROLES, role_name

READ_ROLES = ("Security Reader", "Global Reader", "Security Operator", "Security Administrator",
              "Global Administrator")
WRITE_ROLES = ("Security Operator", "Security Administrator", "Global Administrator")
SETTINGS_ROLES = ("Security Administrator", "Global Administrator")
SETTINGS_PREFIXES = ("Ti.", "Library.")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
GRAPH_USER_DENIED = "Auth token does not contain valid permissions or user does not have valid roles."


# --- what the route asks -------------------------------------------------------------------------------------
def is_read_permission(name: str) -> bool:
    parts = str(name).split(".")
    return "Read" in parts and not any("Write" in p for p in parts)


def required_roles(method: str, names) -> tuple[str, ...]:
    """The directory roles (any one of them) a user needs for a request accepting permission ``names``."""
    names = [n for n in names if n]
    if method.upper() not in WRITE_METHODS or not names or any(is_read_permission(n) for n in names):
        return READ_ROLES
    if all(n.startswith(SETTINGS_PREFIXES) for n in names):
        return SETTINGS_ROLES
    return WRITE_ROLES


# --- the token -----------------------------------------------------------------------------------------------
def _unauthorized(api: str, graph_message: str, mtp_reason: str):
    if api == "graph":
        return GraphError(401, "InvalidAuthenticationToken", graph_message)
    return MtpError(401, "Unauthorized", f"Unauthorized request - reason of failure: {mtp_reason}")


def verify_token(state, api: str, audiences: tuple, all_audiences: tuple):
    """The verified claims and tenant of the bearer token for *api*; 401 for a bad token, audience or tenant."""
    from . import tokens

    try:
        claims = tokens.verify_bearer(state, all_audiences)
    except tokens.TokenRejected as exc:
        reason = str(exc.reason if hasattr(exc, "reason") else exc)
        raise _unauthorized(api, reason, reason) from None
    aud = str(claims.get("aud", "")).rstrip("/").lower()
    if aud not in {a.rstrip("/").lower() for a in audiences}:
        raise _unauthorized(api, "Access token validation failure. Invalid audience.", "Account mode is inactive")
    tenant = state.tenant(str(claims.get("tid", "")))
    if tenant is None:
        raise _unauthorized(api, "Access token validation failure. Invalid tenant.", "unknown tenant")
    return tenant, claims


def check_app_permission(api: str, claims: dict, roles: tuple, scopes: tuple) -> None:
    """403 when the token holds none of the accepted app roles / delegated scopes (unchanged behaviour)."""
    granted = set(claims.get("roles") or []) | set(str(claims.get("scp") or "").split())
    if granted & (set(roles) | set(scopes)):
        return
    if api == "graph":
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    kind = "application roles" if "scp" not in claims else "delegated scopes"
    wanted = ", ".join(roles if "scp" not in claims else scopes)
    raise MtpError(403, "Forbidden", f"Missing {kind}. API required {kind.split()[-1]}: {wanted}, {kind}")


# --- the signed-in user --------------------------------------------------------------------------------------
def user_role_names(api: str, tenant, claims: dict) -> list[str]:
    """Graph: the token's ``wids``; MTP/MDE: the user's current directory roles (none for an unknown user)."""
    if api == "graph":
        templates = [str(w).lower() for w in claims.get("wids") or []]
    else:
        user = tenant.directory.get(str(claims.get("oid", "")), kind="user", replicated_only=False)
        templates = list(user.get("_roles") or []) if user is not None else []
    known = set(DIRECTORY_ROLES.values())
    return [role_name(t) for t in templates if t in known]


def check_user_rights(api: str, tenant, claims: dict, roles: tuple, scopes: tuple, method: str) -> None:
    needed = required_roles(method, tuple(scopes) or tuple(roles))
    held = user_role_names(api, tenant, claims)
    if set(held) & set(needed):
        return
    if api == "graph":
        raise GraphError(403, "Forbidden", GRAPH_USER_DENIED)
    raise MtpError(403, "Forbidden",
                   "The signed-in user has no Microsoft Defender permission for this operation. Required Microsoft "
                   f"Entra role: {', '.join(needed)}; the user has: {', '.join(held) or 'none'}.")


def authorize(state, api: str, audiences: tuple, roles: tuple, scopes: tuple, all_audiences: tuple):
    """Token, app permission, then (delegated tokens only) the user's rights; returns ``(tenant, claims)``."""
    tenant, claims = verify_token(state, api, audiences, all_audiences)
    check_app_permission(api, claims, roles, scopes)
    if "scp" in claims:
        check_user_rights(api, tenant, claims, roles, scopes, request.method)
    return tenant, claims
