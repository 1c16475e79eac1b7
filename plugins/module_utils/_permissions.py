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

ROWS = (
    # Graph security
    Row("graph", None, _GRAPH + r"/security/(microsoft\.graph\.security\.)?runHuntingQuery", "ThreatHunting.Read.All",
        "ThreatHunting.Read.All", _HUNT, ("hunting",)),
    Row("graph", ("GET",), _GRAPH + r"/security/incidents", "SecurityIncident.Read.All", "SecurityIncident.Read.All",
        (), ("incidents_read",)),
    Row("graph", None, _GRAPH + r"/security/incidents", "SecurityIncident.ReadWrite.All", "SecurityIncident.ReadWrite.All",
        (), ("incidents_write",)),
    Row("graph", ("GET",), _GRAPH + r"/security/alerts_v2", "SecurityAlert.Read.All", "SecurityAlert.Read.All",
        (), ("incidents_read",)),
    Row("graph", None, _GRAPH + r"/security/alerts_v2", "SecurityAlert.ReadWrite.All", "SecurityAlert.ReadWrite.All",
        (), ("incidents_write",)),
    # Graph directory (app registration)
    Row("graph", None, r"appRoleAssign(ments|edTo)", "AppRoleAssignment.ReadWrite.All", None, _APP, ()),
    Row("graph", None, _GRAPH + r"/oauth2PermissionGrants", "DelegatedPermissionGrant.ReadWrite.All", None, _APP, ()),
    Row("graph", None, _GRAPH + r"/(applications|servicePrincipals|directory/deletedItems)", "Application.ReadWrite.All",
        None, _APP, ()),
    Row("graph", None, _GRAPH + r"/\$batch", "Application.ReadWrite.All", None, _APP, ()),
    # Defender XDR (Microsoft Threat Protection) API
    Row("mtp", None, r"^/api/advancedhunting/run", "AdvancedHunting.Read.All", "AdvancedHunting.Read", _HUNT,
        ("hunting",)),
    Row("mtp", ("GET",), r"^/api/incidents", "Incident.Read.All", "Incident.Read", (), ("incidents_read",)),
    Row("mtp", None, r"^/api/incidents", "Incident.ReadWrite.All", "Incident.ReadWrite", (), ("incidents_write",)),
    Row("mtp", ("GET",), r"^/api/alerts", "Alert.Read.All", None, (), ()),
    Row("mtp", None, r"^/api/alerts", "Alert.ReadWrite.All", None, (), ()),
    # Defender for Endpoint (WindowsDefenderATP) API
    Row("mde", None, r"^/api/advancedqueries", "AdvancedQuery.Read.All", "AdvancedQuery.Read", _HUNT, ()),
    # -- machines, machine actions, live response (rows added with those modules) --
    # -- indicators (rows added with those modules) --
    # -- custom detection rules (rows added with those modules) --
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
            ("Ti.Read.All", "528ca142-c849-4a5b-935e-10b8b9c38a84")]],
        "oauth2PermissionScopes": [_permission("Scope", v, i) for v, i in [
            ("AdvancedQuery.Read", "1fb6e712-1bd9-4184-b1c0-5e71e759196b")]],
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
            ("SecurityIncident.ReadWrite.All", "128ca929-1a19-45e6-a3b8-435ec44a36ba")]],
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
