"""Managed identity: the seeded identities of the first tenant and their two token endpoints.

- :func:`seed_login` creates a system-assigned and a user-assigned identity (service principals of type
  ``ManagedIdentity``, ids derived from the tenant id) with app roles on Defender and Graph (:data:`MI_ROLES`);
- IMDS ``GET /metadata/identity/oauth2/token`` (``Metadata: true``, ``api-version``, ``resource``, and
  ``client_id`` / ``object_id`` / ``msi_res_id`` to pick a user-assigned identity);
- App Service ``GET /msi/token`` (``X-IDENTITY-HEADER``).

Both are served on the plain-HTTP IMDS listener (see :mod:`mtp_emulator.server`). The token's ``roles`` come
from :func:`mtp_emulator.login.grants.app_roles`, as for client credentials.
"""

from __future__ import annotations

import hashlib
import time
import uuid

from flask import jsonify, request

from ..app import Route
from ..errors import AadError
from ..seed import assign_roles, resource_sp
from ..state import GRAPH_APP_ID, MTP_APP_ID
from . import keys
from .common import count, no_store, resolve_resource, tenant_cloud
from .grants import app_roles

MI_ROLES = {  # resource appId -> app roles of the seeded managed identities
    "system": {MTP_APP_ID: ["AdvancedHunting.Read.All"], GRAPH_APP_ID: ["ThreatHunting.Read.All"]},
    "user": {MTP_APP_ID: ["AdvancedHunting.Read.All", "Incident.Read.All"],
             GRAPH_APP_ID: ["ThreatHunting.Read.All"]},
}
_SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-mtp-emulator/providers/"
MI_SPECS = (
    ("system", "mtp-emulator-vm", _SUBSCRIPTION + "Microsoft.Compute/virtualMachines/mtp-emulator-vm"),
    ("user", "mtp-emulator-uami",
     _SUBSCRIPTION + "Microsoft.ManagedIdentity/userAssignedIdentities/mtp-emulator-uami"),
)


# --- seeding: managed identities in the first tenant ------------------------------------------------------------
def _seed_identity(tenant, kind: str, name: str, res_id: str) -> dict:
    client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mtp-emulator/{tenant.id}/mi/{kind}/app"))
    object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mtp-emulator/{tenant.id}/mi/{kind}/sp"))
    if tenant.directory.objects.get(object_id) is None:
        sp = tenant.directory.add("servicePrincipal", {
            "id": object_id, "accountEnabled": True, "appId": client_id, "appDisplayName": None,
            "displayName": name, "servicePrincipalType": "ManagedIdentity",
            "alternativeNames": [f"isExplicit={'True' if kind == 'user' else 'False'}", res_id],
            "servicePrincipalNames": [client_id, f"https://identity.azure.net/{name}"],
            "appRoles": [], "oauth2PermissionScopes": [], "tags": [],
            "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        })
        sp["_created"] = 0
        for resource_app_id, roles in MI_ROLES[kind].items():
            if resource_sp(tenant, resource_app_id) is not None:
                assign_roles(tenant, sp, resource_app_id, roles, seeded=True)
    return {"client_id": client_id, "object_id": object_id, "principal_id": object_id, "msi_res_id": res_id,
            "name": name}


def seed_login(state) -> None:
    """Create the login extras and the managed identities (idempotent; ids are derived from the tenant id)."""
    login = keys.login_state(state)
    tenant = next(iter(state.tenants.values()), None)
    if tenant is None:
        return
    kid = login["signing_key"]["kid"]
    info = {"tenant_id": tenant.id,
            "identity_header": hashlib.sha256(f"identity-header/{kid}".encode()).hexdigest()[:32],
            "system_assigned": None, "user_assigned": []}
    for kind, name, res_id in MI_SPECS:
        entry = _seed_identity(tenant, kind, name, res_id)
        if kind == "system":
            info["system_assigned"] = entry
        else:
            info["user_assigned"].append(entry)
    login["managed_identities"] = info


# --- tokens -------------------------------------------------------------------------------------------------
def mi_error(status: int, error: str, description: str):
    resp = jsonify({"error": error, "error_description": description})
    resp.status_code = status
    return resp


def mi_select(state, args) -> dict | None:
    """The identity a request names (client_id, object_id/principal_id, msi_res_id/mi_res_id), else the
    system-assigned one; None when a named one does not exist."""
    info = keys.login_state(state).get("managed_identities") or {}
    identities = ([info["system_assigned"]] if info.get("system_assigned") else []) + \
        list(info.get("user_assigned") or [])
    for param, field in (("client_id", "client_id"), ("object_id", "object_id"), ("principal_id", "object_id"),
                         ("msi_res_id", "msi_res_id"), ("mi_res_id", "msi_res_id")):
        value = args.get(param)
        if value:
            for ident in identities:
                if ident[field].lower() == value.lower():
                    return ident
            return None
    return info.get("system_assigned")


def mi_token(state, args):
    """(token body, None) or (None, (status, error, description))."""
    count(state, "managed_identity")
    resource = args.get("resource")
    if not resource:
        return None, (400, "invalid_request", "Required audience parameter not specified")
    ident = mi_select(state, args)
    info = keys.login_state(state).get("managed_identities") or {}
    if ident is None or info.get("tenant_id") not in state.tenants:
        return None, (400, "invalid_request", "Identity not found")
    tenant = state.tenants[info["tenant_id"]]
    try:
        resource_app_id, _ = resolve_resource(tenant, resource)
    except AadError as exc:
        return None, (400, "invalid_resource", f"AADSTS{exc.code}: {exc.message}")
    token, expires_in = keys.issue_access_token(
        state, tenant, audience=resource.rstrip("/"), app_id=ident["client_id"],
        roles=app_roles(tenant, ident["client_id"], resource_app_id), oid=ident["object_id"],
        cloud=tenant_cloud(tenant), extra={"appidacr": "2", "azpacr": "2", "xms_mirid": ident["msi_res_id"]})
    state.stats.record_token(ident["client_id"])
    now = int(time.time())
    return {"access_token": token, "client_id": ident["client_id"], "expires_in": str(expires_in),
            "expires_on": str(now + expires_in), "ext_expires_in": str(expires_in), "not_before": str(now),
            "resource": resource, "token_type": "Bearer"}, None


def imds_token(state):
    if request.headers.get("Metadata", "").lower() != "true":
        return mi_error(400, "invalid_request", "Required metadata header not specified")
    if not request.args.get("api-version"):
        return mi_error(400, "invalid_request", "Required query variable 'api-version' is missing")
    body, err = mi_token(state, request.args)
    if err:
        return mi_error(*err)
    return no_store(jsonify(body))


def app_service_token(state):
    info = keys.login_state(state).get("managed_identities") or {}
    header = request.headers.get("X-IDENTITY-HEADER")
    if not header or header != info.get("identity_header"):
        resp = jsonify({"statusCode": 401, "message": "Unauthorized request: X-IDENTITY-HEADER missing or invalid."})
        resp.status_code = 401
        return resp
    body, err = mi_token(state, request.args)
    if err:
        resp = jsonify({"statusCode": err[0], "message": err[2], "correlationId": str(uuid.uuid4())})
        resp.status_code = err[0]
        return resp
    body = {k: body[k] for k in ("access_token", "expires_on", "resource", "token_type", "client_id")}
    return no_store(jsonify(body))


ROUTES = (
    Route("/metadata/identity/oauth2/token", ("GET",), imds_token),
    Route("/msi/token", ("GET",), app_service_token),
)
