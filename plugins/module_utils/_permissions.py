# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The permission registry: one table for what every call needs.

It holds:

* the first-party resource applications (:data:`RESOURCE_APP_IDS`) under one internal API name each
  (``graph``, ``mtp``, ``mde``); the names users type (``wdatp``, ``WindowsDefenderATP``,
  ``MicrosoftThreatProtection``, ``Microsoft Graph``, an appId) resolve through :func:`canonical_api`;
* :data:`ROWS`: the application role and delegated scope each ``(api, method, path)`` needs, and which modules
  and presets use the row. ``MtpClient``'s 403 hints (:func:`needed_permission`), ``mtp_aad_app_setup``'s
  ``presets`` (:data:`PRESETS`) and the permission doctor read it. Adding a module means adding rows here;
* :data:`FIRST_PARTY_PERMISSIONS`: the published ids of the first-party app roles and scopes the registry names
  (docs/developer/reference/graph-app-setup.md §10), used to plan offline when a resource service principal is
  missing from a tenant.

Paths are matched below the host (``/api/...``, ``/v1.0/...``); the first matching row wins.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

APIS = ("graph", "mtp", "mde")

MTP_APP_ID = "8ee8fdad-f234-4243-8f3b-15c294843740"
MDE_APP_ID = "fc780465-2017-40d4-a0c5-307022471b92"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

RESOURCE_APP_IDS = {"graph": GRAPH_APP_ID, "mtp": MTP_APP_ID, "mde": MDE_APP_ID}
API_BY_APP_ID = dict((app_id, api) for api, app_id in RESOURCE_APP_IDS.items())

# What users may type for each API (compared case-insensitively, spaces ignored).
API_ALIASES = {
    "graph": "graph", "microsoftgraph": "graph", "msgraph": "graph",
    "mtp": "mtp", "microsoftthreatprotection": "mtp", "m365d": "mtp", "defenderxdr": "mtp",
    "mde": "mde", "wdatp": "mde", "windowsdefenderatp": "mde",
}
# The name shown for each API in app-setup diffs and results: the one the module's docs ask users to type.
RESOURCE_LABELS = {"graph": "graph", "mtp": "mtp", "mde": "wdatp"}

_GRAPH = r"^/(v1\.0|beta)"

# One row per (api, method, path): the application role, the delegated scope, the modules and presets using it.
Row = namedtuple("Row", ["api", "methods", "path", "role", "scope", "modules", "presets"])

_HUNT = ("mtp_hunting_query", "mtp_hunting")
_APP = ("mtp_aad_app_setup",)
_TI = ("mtp_indicator", "mtp_indicator_info")
_DETECT = ("mtp_detection_rule",)
_RESP = ("mtp_machine_action", "mtp_machine_action_info")
_LR = ("mtp_live_response",)

ROWS = (
    # Graph security
    Row("graph", None, _GRAPH + r"/security/(microsoft\.graph\.security\.)?runHuntingQuery", "ThreatHunting.Read.All",
        "ThreatHunting.Read.All", _HUNT, ("hunting",)),
    Row("graph", ("GET",), _GRAPH + r"/security/incidents", "SecurityIncident.Read.All", "SecurityIncident.Read.All",
        ("mtp_incident_info", "mtp_incident"), ("incidents_read",)),
    Row("graph", None, _GRAPH + r"/security/incidents", "SecurityIncident.ReadWrite.All", "SecurityIncident.ReadWrite.All",
        ("mtp_incident",), ("incidents_write",)),
    Row("graph", ("GET",), _GRAPH + r"/security/alerts_v2", "SecurityAlert.Read.All", "SecurityAlert.Read.All",
        ("mtp_alert_info", "mtp_alert", "mtp_incident_info"), ("incidents_read",)),
    Row("graph", None, _GRAPH + r"/security/alerts_v2", "SecurityAlert.ReadWrite.All", "SecurityAlert.ReadWrite.All",
        ("mtp_alert",), ("incidents_write",)),
    # Graph directory (app registration)
    Row("graph", None, r"appRoleAssign(ments|edTo)", "AppRoleAssignment.ReadWrite.All", None, _APP, ()),
    Row("graph", None, _GRAPH + r"/oauth2PermissionGrants", "DelegatedPermissionGrant.ReadWrite.All", None, _APP, ()),
    # consent.users: user principal names resolved to object ids (mtp_aad_app_setup)
    Row("graph", ("GET",), _GRAPH + r"/users", "User.Read.All", None, _APP, ()),
    Row("graph", None, _GRAPH + r"/(applications|servicePrincipals|directory/deletedItems)", "Application.ReadWrite.All",
        None, _APP, ()),
    Row("graph", None, _GRAPH + r"/\$batch", "Application.ReadWrite.All", None, _APP, ()),
    # Defender XDR (Microsoft Threat Protection) API
    Row("mtp", None, r"^/api/advancedhunting/run", "AdvancedHunting.Read.All", "AdvancedHunting.Read", _HUNT,
        ("hunting",)),
    Row("mtp", ("GET",), r"^/api/incidents", "Incident.Read.All", "Incident.Read",
        ("mtp_incident_info", "mtp_incident", "mtp_alert_info"), ("incidents_read",)),
    Row("mtp", None, r"^/api/incidents", "Incident.ReadWrite.All", "Incident.ReadWrite",
        ("mtp_incident",), ("incidents_write",)),
    Row("mtp", ("GET",), r"^/api/alerts", "Alert.Read.All", None, (), ()),
    Row("mtp", None, r"^/api/alerts", "Alert.ReadWrite.All", None, (), ()),
    # Defender for Endpoint (WindowsDefenderATP) API
    Row("mde", None, r"^/api/advancedqueries", "AdvancedQuery.Read.All", "AdvancedQuery.Read", _HUNT, ()),
    # -- machines, machine actions, live response (rows added with those modules) --
    Row("mde", None, r"^/api/machines/[^/]+/isolate$", "Machine.Isolate", "Machine.Isolate", _RESP, ("response",)),
    Row("mde", None, r"^/api/machines/[^/]+/unisolate$", "Machine.Isolate", "Machine.Isolate", _RESP, ("response",)),
    Row("mde", None, r"(?i)^/api/machines/[^/]+/runantivirusscan$", "Machine.Scan", "Machine.Scan", _RESP, ("response",)),
    Row("mde", None, r"(?i)^/api/machines/[^/]+/(un)?restrictcodeexecution$", "Machine.RestrictExecution",
        "Machine.RestrictExecution", _RESP, ("response",)),
    Row("mde", None, r"(?i)^/api/machines/[^/]+/collectinvestigationpackage$", "Machine.CollectForensics",
        "Machine.CollectForensics", _RESP, ("response",)),
    Row("mde", None, r"(?i)^/api/machines/[^/]+/stopandquarantinefile$", "Machine.StopAndQuarantine",
        "Machine.StopAndQuarantine", _RESP, ("response",)),
    Row("mde", None, r"^/api/machines/[^/]+/offboard$", "Machine.Offboard", "Machine.Offboard", _RESP, ("response",)),
    Row("mde", None, r"(?i)^/api/machines/[^/]+/runliveresponse$", "Machine.LiveResponse", "Machine.LiveResponse", _LR,
        ("response",)),
    Row("mde", None, r"^/api/libraryfiles", "Library.Manage", "Library.Manage", _LR, ("response",)),
    # Cancel takes any one of the action roles (docs/developer/reference/response-and-content.md §2.1); the hint names the most common one.
    Row("mde", ("POST",), r"^/api/machineactions/[^/]+/cancel$", "Machine.Isolate", "Machine.Isolate", _RESP, ()),
    Row("mde", None, r"^/api/machines/[^/]+/tags$", "Machine.ReadWrite.All", "Machine.ReadWrite", (), ()),
    Row("mde", ("GET",), r"^/api/(machines|machineactions)", "Machine.Read.All", "Machine.Read", _RESP + _LR,
        ("response",)),
    # -- indicators (rows added with those modules) --
    # docs/developer/reference/response-and-content.md §4.1: Ti.ReadWrite sees only the app's own indicators.
    Row("mde", None, r"^/api/indicators", "Ti.ReadWrite.All", "Ti.ReadWrite", _TI, ("indicators",)),
    # -- custom detection rules (rows added with those modules) --
    # docs/developer/reference/response-and-content.md §5.1; the pre-flight runs the rule's query (§7.4).
    Row("graph", ("GET",), _GRAPH + r"/security/rules/detectionRules", "CustomDetection.Read.All",
        "CustomDetection.Read.All", ("mtp_detection_rule_info",), ()),
    Row("graph", None, _GRAPH + r"/security/rules/detectionRules", "CustomDetection.ReadWrite.All",
        "CustomDetection.ReadWrite.All", _DETECT, ("detections",)),
    Row("graph", None, _GRAPH + r"/security/(microsoft\.graph\.security\.)?runHuntingQuery", "ThreatHunting.Read.All",
        "ThreatHunting.Read.All", _DETECT, ("detections",)),
    # The catch-all of the MDE API stays last.
    Row("mde", None, r".*", "AdvancedQuery.Read.All", "AdvancedQuery.Read", (), ()),
)

_COMPILED = tuple((row, re.compile(row.path)) for row in ROWS)


def _permission(kind, value, ident):
    return {"id": ident, "value": value, "isEnabled": True,
            "allowedMemberTypes": ["Application"] if kind == "Role" else None}


# Published ids of the first-party permissions (docs/developer/reference/graph-app-setup.md §10).
FIRST_PARTY_PERMISSIONS = {
    MTP_APP_ID: {
        "appRoles": [_permission("Role", v, i) for v, i in [
            ("AdvancedHunting.Read.All", "7734e8e5-8dde-42fc-b5ae-6eafea078693"),
            ("CustomDetections.ReadWrite.All", "a7deff90-e2f5-4e4e-83a3-2c74e7002e28"),
            ("Incident.Read.All", "a9790345-4595-42e4-971a-ccdc79f19b7c"),
            ("Incident.ReadWrite.All", "8d90f441-09cf-4fdc-ab45-e874fa3a28e8")]],
        "oauth2PermissionScopes": [_permission("Scope", v, i) for v, i in [
            ("AdvancedHunting.Read", "15f11de4-5113-4268-a2d1-0bad43d781f9"),
            ("CustomDetections.ReadWrite", "ddbb8d0c-c86b-4ece-bcb7-0f031a9cf103"),
            ("Incident.Read", "12c153a4-4204-4224-aa3c-4626e2f47c2b"),
            ("Incident.ReadWrite", "2af415cc-88cf-4146-a0c8-444c3a80d5db")]],
    },
    MDE_APP_ID: {
        "appRoles": [_permission("Role", v, i) for v, i in [
            ("AdvancedQuery.Read.All", "93489bf5-0fbc-4f2d-b901-33f2fe08ff05"),
            ("Alert.Read.All", "71fe6b80-7034-4028-9ed8-0f316df9c3ff"),
            ("Machine.Read.All", "ea8291d3-4b9a-44b5-bc3a-6cea3026dc79"),
            ("Machine.ReadWrite.All", "aa027352-232b-4ed4-b963-a705fc4d6d2c"),
            ("Machine.Isolate", "7e4e1300-e1b9-4102-88ba-f0cb6e6d5974"),
            ("Machine.Scan", "a86d9824-b2b6-45f8-b042-16bc4922ed4e"),
            ("Machine.LiveResponse", "1629b959-c0af-42a1-92f0-f6162060bdf1"),
            ("Machine.CollectForensics", "15405ab2-2103-4a3c-ad80-e829841cedcc"),
            ("Machine.RestrictExecution", "96b6b35d-074d-4e2d-b167-8d68d9269648"),
            ("Machine.StopAndQuarantine", "96e72b5e-7e68-4171-aad1-3937599e4751"),
            ("Machine.Offboard", "594435bf-36dd-4548-83bd-1bdafe157d7a"),
            ("Library.Manage", "41d209c7-2511-4fc9-b899-8008a3976f09"),
            ("Ti.Read.All", "528ca142-c849-4a5b-935e-10b8b9c38a84"),
            ("Ti.ReadWrite", "a8bc2240-f96a-46a1-bad5-6a960b7327a1"),
            ("Ti.ReadWrite.All", "fc511a58-3adf-4d71-af24-00f13e35e479")]],
        "oauth2PermissionScopes": [_permission("Scope", v, i) for v, i in [
            ("AdvancedQuery.Read", "1fb6e712-1bd9-4184-b1c0-5e71e759196b"),
            ("Ti.ReadWrite", "650ff1f9-dd5f-48ee-8c58-7beef332c818"),
            ("Machine.Read", "fbd3d33a-b1f5-4573-906c-51b39682fbcf"),
            ("Machine.ReadWrite", "f6846c57-9e3c-4a65-81aa-2f5e09ff4f0b"),
            ("Machine.Isolate", "479231ef-3b86-4933-ae6b-1fa84bba9e31"),
            ("Machine.Scan", "b4618115-647e-42a5-bd0d-0ea9878fb376"),
            ("Machine.RestrictExecution", "abddfa88-80bb-4aef-81ff-18cbf29363a9"),
            ("Machine.CollectForensics", "5eb7b9dc-cbce-4c7e-9d73-5be248260ae6"),
            ("Machine.StopAndQuarantine", "69e036b7-3f10-4d4c-a85e-82295629eca8"),
            ("Machine.Offboard", "29d1c73a-07f6-495f-b62b-1554a954d0a3"),
            ("Machine.LiveResponse", "25fb0c21-5877-492a-8d0c-e7893a9585cc"),
            ("Library.Manage", "5998a3da-2c9b-4bf3-99bd-44c9fe337ad2")]],
    },
    GRAPH_APP_ID: {
        "appRoles": [_permission("Role", v, i) for v, i in [
            ("ThreatHunting.Read.All", "dd98c7f5-2d42-42d3-a0e4-633161547251"),
            ("SecurityIncident.Read.All", "45cc0394-e837-488b-a098-1918f48d186c"),
            ("SecurityIncident.ReadWrite.All", "34bf0e97-1971-4929-b999-9e2442d941d7"),
            ("SecurityAlert.Read.All", "472e4a4d-bb4a-4026-98d1-0b0d74cb74a5"),
            ("SecurityAlert.ReadWrite.All", "ed4fca05-be46-441f-9803-1873825f8fdb")]],
        "oauth2PermissionScopes": [_permission("Scope", v, i) for v, i in [
            ("ThreatHunting.Read.All", "b152eca8-ea73-4a48-8c98-1a6742673d99"),
            ("SecurityIncident.Read.All", "b9abcc4f-94fc-4457-9141-d20ce80ec952"),
            ("SecurityIncident.ReadWrite.All", "128ca929-1a19-45e6-a3b8-435ec44a36ba"),
            ("SecurityAlert.Read.All", "bc257fb8-46b4-4b15-8713-01e91bfbe4ea"),
            ("SecurityAlert.ReadWrite.All", "471f2a7f-2a42-4d45-a2bf-594d0838070d")]],
    },
}


def canonical_api(name):
    """The internal API name (``graph``, ``mtp``, ``mde``) for what a user typed, or ``None``."""
    if not isinstance(name, str):
        return None
    key = re.sub(r"[\s_.-]+", "", name).lower()
    if key in API_ALIASES:
        return API_ALIASES[key]
    return API_BY_APP_ID.get(name.strip().lower())


def needed_permission(api, method, path):
    """The :class:`Row` that ``method path`` on ``api`` needs (``path`` below the host), or ``None``."""
    api = canonical_api(api) or api
    method = (method or "").upper()
    for row, pattern in _COMPILED:
        if row.api == api and (row.methods is None or method in row.methods) and pattern.search(path or ""):
            return row
    return None


def needed_role(api, method, path):
    """The application role that ``method path`` on ``api`` needs, or ``None``."""
    row = needed_permission(api, method, path)
    return row.role if row else None


def _group(rows, kind):
    """``[{"resource": api, kind: [names]}]`` in the order graph, mtp, mde, names in row order, no repeats."""
    entries = []
    for api in APIS:
        names = []
        for row in rows:
            name = getattr(row, "role" if kind == "application" else "scope")
            if row.api == api and name and name not in names:
                names.append(name)
        if names:
            entries.append({"resource": api, kind: names})
    return entries


def _presets():
    names = []
    for row in ROWS:
        for preset in row.presets:
            if preset not in names:
                names.append(preset)
    return dict((name, _group([row for row in ROWS if name in row.presets], "application")) for name in names)


# preset name -> [{"resource": "graph"|"mtp"|"mde", "application": [role, ...]}], derived from ROWS.
PRESETS = _presets()


def rows_for_module(module):
    """The rows a module or plugin (short name or FQCN) uses."""
    short = (module or "").split(".")[-1]
    return [row for row in ROWS if short in row.modules]


def permissions_for(module_or_preset, kind="application"):
    """``[{"resource": api, kind: [names]}]`` for a preset name or a module name; ``None`` when unknown."""
    if module_or_preset in PRESETS:
        rows = [row for row in ROWS if module_or_preset in row.presets]
    else:
        rows = rows_for_module(module_or_preset)
        if not rows:
            return None
    return _group(rows, kind)


# -- who may use a row: the delegated side (user tokens) and the clouds -------------------------------------------

READ = "read"
WRITE = "write"

_READ_ONLY = re.compile(r"\.Read(\.All)?$")


def access_of(permission):
    """``read`` for a read-only permission name (``*.Read``, ``*.Read.All``), else ``write``."""
    return READ if _READ_ONLY.search(permission or "") else WRITE


def row_access(row):
    """What a signed-in user must be allowed to do for ``row``: ``read`` or ``write``; ``None`` for a row without a
    delegated scope (a user token cannot make that call)."""
    if not row.scope:
        return None
    return access_of(row.role or row.scope)


# An Entra ID built-in role that opens the Defender APIs to a signed-in user, with what it allows
# (docs/developer/reference/defender-api.md §6.2). ``template_id`` is what the token's ``wids`` claim and a
# directoryRole's ``roleTemplateId`` carry.
DirectoryRole = namedtuple("DirectoryRole", ["name", "template_id", "access"])

DIRECTORY_ROLES = (
    DirectoryRole("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509", (READ,)),
    DirectoryRole("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451", (READ,)),
    DirectoryRole("Security Operator", "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f", (READ, WRITE)),
    DirectoryRole("Security Administrator", "194ae4cb-b126-40b2-bd5b-6091b380977d", (READ, WRITE)),
    DirectoryRole("Global Administrator", "62e90394-69f5-4237-9190-012177145e10", (READ, WRITE)),
)


def directory_role(value):
    """The :class:`DirectoryRole` named ``value`` or with that template id (case-insensitive), or ``None``."""
    key = (value or "").strip().lower() if isinstance(value, str) else ""
    for role in DIRECTORY_ROLES:
        if key in (role.name.lower(), role.template_id):
            return role
    return None


def roles_allowing(access):
    """The names of the directory roles that allow ``access`` (``read`` or ``write``), least privileged first."""
    return [role.name for role in DIRECTORY_ROLES if access in role.access]


# The APIs each cloud offers (docs/developer/reference/defender-api.md §5); a cloud not listed has all of them.
CLOUD_APIS = {"china": ("graph",)}


def apis_in_cloud(cloud):
    return CLOUD_APIS.get(cloud, APIS)


def permission_sources(name):
    """``[(api, role, scope)]`` for a permission name (case-insensitive) known to the rows or the first-party ids:
    ``role`` is the application permission of that name (or ``None``), ``scope`` the delegated one (or ``None``)."""
    key = (name or "").lower()
    found = {}
    for row in ROWS:
        for kind, value in (("role", row.role), ("scope", row.scope)):
            if value and value.lower() == key:
                found.setdefault(row.api, {})[kind] = value
    for app_id, doc in FIRST_PARTY_PERMISSIONS.items():
        for kind, items in (("role", doc["appRoles"]), ("scope", doc["oauth2PermissionScopes"])):
            for item in items:
                if item["value"].lower() == key:
                    found.setdefault(API_BY_APP_ID[app_id], {})[kind] = item["value"]
    return [(api, found[api].get("role"), found[api].get("scope")) for api in APIS if api in found]


def permission_names():
    """Every application and delegated permission name the rows and the first-party ids know, sorted."""
    names = set(n for row in ROWS for n in (row.role, row.scope) if n)
    for doc in FIRST_PARTY_PERMISSIONS.values():
        names.update(item["value"] for kind in ("appRoles", "oauth2PermissionScopes") for item in doc[kind])
    return sorted(names)


def module_names():
    """Every module and plugin name the rows mention, sorted."""
    return sorted(set(name for row in ROWS for name in row.modules))


def user_403_hint(row, claims):
    """What a 403 on a signed-in user's token means for ``row`` (from the token's ``scp`` and ``wids``), or ``None``
    when the token is not a user token. Meant for the 403 message of ``_api_errors.api_error``."""
    if row is None or not isinstance(claims, dict) or "scp" not in claims:
        return None
    if not row.scope:
        return ("%s has no delegated permission: a user token cannot make this call; run it with an application "
                "identity" % row.role)
    if row.scope.lower() not in set(s.lower() for s in str(claims.get("scp") or "").split()):
        return ("the user token lacks the delegated scope %s: declare and consent it for the app "
                "(m365.defender.mtp_aad_app_setup, permissions[].delegated and consent)" % row.scope)
    held = [r.name for r in (directory_role(w) for w in claims.get("wids") or []) if r]
    return ("the token carries the delegated scope %s, so the signed-in user lacks a Defender role: assign one of "
            "the Entra ID roles %s (the user has %s)" % (row.scope, ", ".join(roles_allowing(row_access(row))),
                                                         ", ".join(held) or "none of them"))
