"""Seeding a tenant's directory from the fixture: first-party resource SPs, the bootstrap admin app, users.

Seeded objects are created with ``_created = 0`` so that replication lag never hides them.
"""

from __future__ import annotations

import json
import os
from importlib import resources

import yaml

from .state import (GRAPH_APP_ID, MTP_APP_ID, WDATP_APP_ID, EmulatorState, Tenant, hash_secret, new_id)

RESOURCE_ALIASES = {"mtp": MTP_APP_ID, "wdatp": WDATP_APP_ID, "graph": GRAPH_APP_ID}

# Built-in Microsoft Entra directory roles a fixture user may hold: display name -> role template id (the same
# in every tenant; a token's ``wids`` claim lists them). Listed in emulator/README.md "Users and directory roles".
DIRECTORY_ROLES = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "Security Operator": "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",
    "Security Reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
}
ROLE_DESCRIPTIONS = {
    "Global Administrator": "Can manage all aspects of Microsoft Entra ID and Microsoft services that use "
                            "Microsoft Entra identities.",
    "Global Reader": "Can read everything that a Global Administrator can, but not update anything.",
    "Security Administrator": "Can read security information and reports, and manage configuration in Microsoft "
                              "Entra ID and Office 365.",
    "Security Operator": "Creates and manages security events.",
    "Security Reader": "Can read security information and reports in Microsoft Entra ID and Office 365.",
}
# Every member user's token carries the template id of the implicit "User" role in ``wids`` too.
MEMBER_ROLE_TEMPLATE = "b79fbf4d-3ef9-4689-8143-76b194e85509"
USER_FIELDS = {"upn", "password", "display_name", "id", "roles", "mfa", "enabled", "locked", "tenant"}


def role_template_ids(names) -> list[str]:
    """Role display names (or template ids) -> template ids, in the given order; ValueError names an unknown one."""
    by_lower = {k.lower(): v for k, v in DIRECTORY_ROLES.items()}
    ids = set(DIRECTORY_ROLES.values())
    if names is None:
        return []
    if isinstance(names, str) or not isinstance(names, list):
        raise ValueError("'roles' must be a list of directory role names, e.g. [Security Reader]")
    out = []
    for name in names:
        key = str(name).strip()
        template = by_lower.get(key.lower()) or (key.lower() if key.lower() in ids else None)
        if template is None:
            raise ValueError(f"unknown directory role '{name}'. Known: {', '.join(sorted(DIRECTORY_ROLES))}")
        if template not in out:
            out.append(template)
    return out


def role_name(template_id: str) -> str:
    return next((n for n, t in DIRECTORY_ROLES.items() if t == template_id), template_id)


def user_object(spec: dict) -> dict:
    """A fixture user (``upn``, ``password``; optional ``display_name``, ``id``, ``roles``, ``mfa``, ``enabled``,
    ``locked``) -> the directory user object. ValueError names a bad field."""
    if not isinstance(spec, dict) or not spec.get("upn") or "@" not in str(spec["upn"]):
        raise ValueError("a user needs 'upn' (name@domain)")
    if not isinstance(spec.get("password"), str) or not spec["password"]:
        raise ValueError(f"user {spec['upn']}: 'password' is required")
    unknown = sorted(set(spec) - USER_FIELDS)
    if unknown:
        raise ValueError(f"user {spec['upn']}: unknown field(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(USER_FIELDS))}")
    try:
        roles = role_template_ids(spec.get("roles"))
    except ValueError as exc:
        raise ValueError(f"user {spec['upn']}: {exc}") from None
    upn = str(spec["upn"])
    return {
        "id": spec.get("id") or new_id(), "userPrincipalName": upn, "mail": upn,
        "displayName": spec.get("display_name", upn), "accountEnabled": spec.get("enabled", True) is not False,
        "_password": hash_secret(spec["password"]), "_mfa": bool(spec.get("mfa")), "_locked": bool(spec.get("locked")),
        "_roles": roles, "_tokensValidFrom": 0.0,
    }


def first_party() -> dict:
    """appId -> {displayName, audiences, appRoles, oauth2PermissionScopes} of the seeded resource apps."""
    with resources.files(__package__).joinpath("fixtures/first_party.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def default_fixture() -> dict:
    with resources.files(__package__).joinpath("fixtures/default.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def merge_data(fixture: dict, document: dict) -> dict:
    """*fixture* with a data document (hunting/userdata.py; ``tenant``: id or domain, default the first tenant)
    added to that tenant's ``data`` section, so every reset loads it again. Raises ValueError."""
    if not isinstance(document, dict):
        raise ValueError("a data file holds an object with any of: hunting, incidents, devices (and tenant)")
    key = document.get("tenant")
    tenants = fixture.get("tenants", [])
    match = [t for t in tenants if key is None or str(key).lower() in (str(t.get("id")).lower(),
                                                                        str(t.get("domain")).lower())]
    if not match:
        raise ValueError(f"the data file names tenant '{key}', which the fixture lacks")
    section = match[0].setdefault("data", {})
    for kind, value in document.items():
        if kind == "tenant":
            continue
        if kind == "hunting" and isinstance(value, dict) and isinstance(section.get("hunting"), dict):
            for table, rows in value.items():
                section["hunting"].setdefault(table, []).extend(rows if isinstance(rows, list) else [rows])
        elif isinstance(value, list) and isinstance(section.get(kind), list):
            section[kind].extend(value)
        else:
            section[kind] = value
    return fixture


def load_fixture_file(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        if path.endswith(".json"):
            return json.load(fh)
        return yaml.safe_load(fh)


def _seed_obj(tenant: Tenant, kind: str, obj: dict) -> dict:
    obj = tenant.directory.add(kind, obj)
    obj["_created"] = 0
    return obj


def resource_sp(tenant: Tenant, app_id: str) -> dict | None:
    return tenant.directory.service_principal_by_app_id(app_id, replicated_only=False)


def create_first_party_sp(tenant: Tenant, app_id: str, seeded: bool = True) -> dict:
    """The service principal of a first-party app, as POST /servicePrincipals {appId} creates it."""
    spec = first_party()[app_id]
    obj = {
        "id": new_id(),
        "accountEnabled": True,
        "appId": app_id,
        "appDisplayName": spec["displayName"],
        "displayName": spec["displayName"],
        "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        "servicePrincipalType": "Application",
        "servicePrincipalNames": [app_id] + spec.get("audiences", []),
        "appRoles": spec["appRoles"],
        "oauth2PermissionScopes": spec["oauth2PermissionScopes"],
        "tags": [],
        "_firstParty": True,
    }
    if seeded:
        return _seed_obj(tenant, "servicePrincipal", obj)
    return tenant.directory.add("servicePrincipal", obj)


def _seed_app(tenant: Tenant, spec: dict, public_client: bool = False) -> tuple[dict, dict]:
    app = {
        "id": new_id(),
        "appId": spec["app_id"],
        "displayName": spec["display_name"],
        "uniqueName": None,
        "signInAudience": "AzureADMyOrg",
        "isFallbackPublicClient": public_client,
        "requiredResourceAccess": [],
        "passwordCredentials": [],
        "keyCredentials": [],
        "tags": [],
        "notes": "Seeded by mtp_emulator.",
        "createdDateTime": "2024-01-01T00:00:00Z",
        "publisherDomain": tenant.domain,
    }
    if spec.get("client_secret"):
        secret = spec["client_secret"]
        app["passwordCredentials"].append({
            "customKeyIdentifier": None, "displayName": "seeded", "endDateTime": "2099-01-01T00:00:00Z",
            "hint": secret[:3], "keyId": new_id(), "secretText": None, "startDateTime": "2024-01-01T00:00:00Z",
            "_secretHash": hash_secret(secret), "_created": 0,
        })
    app = _seed_obj(tenant, "application", app)
    sp = _seed_obj(tenant, "servicePrincipal", {
        "id": new_id(), "accountEnabled": True, "appId": app["appId"], "appDisplayName": app["displayName"],
        "displayName": app["displayName"], "appOwnerOrganizationId": tenant.id,
        "servicePrincipalType": "Application", "servicePrincipalNames": [app["appId"]],
        "appRoles": [], "oauth2PermissionScopes": [], "tags": [],
    })
    return app, sp


def assign_roles(tenant: Tenant, client_sp: dict, resource_app_id: str, role_values: list[str],
                 seeded: bool = True) -> None:
    res = resource_sp(tenant, resource_app_id)
    by_value = {r["value"]: r for r in res["appRoles"]}
    rra = {"resourceAppId": resource_app_id, "resourceAccess": []}
    for value in role_values:
        role = by_value[value]
        obj = {
            "id": new_id(), "appRoleId": role["id"], "createdDateTime": "2024-01-01T00:00:00Z",
            "deletedDateTime": None, "principalDisplayName": client_sp["displayName"],
            "principalId": client_sp["id"], "principalType": "ServicePrincipal",
            "resourceDisplayName": res["displayName"], "resourceId": res["id"],
        }
        if seeded:
            _seed_obj(tenant, "appRoleAssignment", obj)
        else:
            tenant.directory.add("appRoleAssignment", obj)
        rra["resourceAccess"].append({"id": role["id"], "type": "Role"})
    app = tenant.directory.application_by_app_id(client_sp["appId"], replicated_only=False)
    if app is not None and rra["resourceAccess"]:
        app["requiredResourceAccess"].append(rra)


def grant_delegated(tenant: Tenant, client_sp: dict, resource_app_id: str, scopes: list[str]) -> None:
    res = resource_sp(tenant, resource_app_id)
    _seed_obj(tenant, "oauth2PermissionGrant", {
        "id": new_id(), "clientId": client_sp["id"], "consentType": "AllPrincipals", "principalId": None,
        "resourceId": res["id"], "scope": " ".join(scopes),
    })


def seed_tenant(state: EmulatorState, tenant: Tenant) -> None:
    spec = tenant.spec
    skip = set(spec.get("without_first_party", []))  # e.g. [mtp] for a tenant lacking the MTP SP
    for alias, app_id in RESOURCE_ALIASES.items():
        if alias not in skip:
            create_first_party_sp(tenant, app_id)
    for key in ("admin_app", "hunting_app"):
        app_spec = spec.get(key)
        if not app_spec:
            continue
        _, sp = _seed_app(tenant, app_spec)
        for alias, field in (("graph", "graph_roles"), ("mtp", "mtp_roles"), ("wdatp", "wdatp_roles")):
            if app_spec.get(field) and resource_sp(tenant, RESOURCE_ALIASES[alias]) is not None:
                assign_roles(tenant, sp, RESOURCE_ALIASES[alias], app_spec[field])
    pc = spec.get("public_client")
    if pc:
        _, sp = _seed_app(tenant, pc, public_client=True)
        for alias, scopes in (pc.get("delegated") or {}).items():
            if resource_sp(tenant, RESOURCE_ALIASES[alias]) is not None:
                grant_delegated(tenant, sp, RESOURCE_ALIASES[alias], scopes)
    for user in spec.get("users", []):
        _seed_obj(tenant, "user", user_object(user))


def seed_all(state: EmulatorState) -> None:
    for tenant in state.tenants.values():
        seed_tenant(state, tenant)


def new_state(fixture: dict | None = None, config=None) -> EmulatorState:
    """A seeded state from a fixture (the built-in default when None)."""
    from types import SimpleNamespace

    from .hunting import userdata

    for spec in (fixture or {}).get("tenants", []) if fixture is not None else []:
        if spec.get("data") is not None:  # users' own test data: refuse a bad section before anything starts
            try:
                userdata.validate(spec["data"], SimpleNamespace(id=spec.get("id"), domain=spec.get("domain")))
            except ValueError as exc:
                raise ValueError(f"tenant {spec.get('domain') or spec.get('id')}: data: {exc}") from None
    state = EmulatorState(config)
    state.seeders.append(seed_all)
    state.load_fixture(fixture if fixture is not None else default_fixture())
    if state.config.state_file and os.path.exists(state.config.state_file):
        state.restore(state.config.state_file)
    return state
