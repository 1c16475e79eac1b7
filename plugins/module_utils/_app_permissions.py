# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``mtp_aad_app_setup``'s permissions, all pure.

* names and keys: :func:`default_unique_name`, :func:`validate_unique_name`;
* resolution: presets (from the registry in ``_permissions.py``) and explicit permissions merged per resource
  (:func:`merge_requests`) and resolved against the resource service principal's ``appRoles`` /
  ``oauth2PermissionScopes`` (:func:`resolve_permissions`), every problem explained at once;
* plans: the ``requiredResourceAccess`` set diff (:func:`desired_rra`), the app role assignments to add and
  remove (:func:`assignment_changes`) and the delegated grant actions (:func:`grant_changes`);
* the diff view of permissions with readable labels (:func:`permission_view`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._permissions import (
    API_BY_APP_ID,
    PRESETS,
    RESOURCE_APP_IDS,
    RESOURCE_LABELS,
    canonical_api,
    permissions_for,
)

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# uniqueName: the module keeps to a conservative alphabet that is safe inside an OData key literal.
UNIQUE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


# ---------------------------------------------------------------------------------------------------
# Names and keys
# ---------------------------------------------------------------------------------------------------

def slugify(text):
    slug = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")
    return slug[:100] or "app"


def default_unique_name(display_name):
    """The key derived from ``display_name`` when ``unique_name`` is not given: ``mtp-<slug>``."""
    return "mtp-" + slugify(display_name)


def validate_unique_name(name):
    if not isinstance(name, str) or not UNIQUE_NAME_RE.match(name):
        raise MtpConfigError(
            "unique_name %r is invalid: use 1-120 characters from A-Z a-z 0-9 . _ - starting with a letter or "
            "digit (it becomes the app's immutable uniqueName key)" % (name,), option="unique_name")
    return name


# ---------------------------------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------------------------------

def resource_app_id(resource):
    """``mtp``/``wdatp``/``graph`` (or another name of the registry's APIs) or an appId GUID -> appId."""
    key = (resource or "").strip()
    api = canonical_api(key)
    if api:
        return RESOURCE_APP_IDS[api]
    if GUID_RE.match(key):
        return key.lower()
    raise MtpConfigError(
        "permissions: resource %r is neither one of mtp, wdatp, graph nor an application id (GUID)" % (resource,),
        option="permissions")


def _preset_entries(presets, option, kind):
    entries = []
    for preset in presets or []:
        if preset not in PRESETS:
            raise MtpConfigError("%s: unknown preset %r; valid presets: %s"
                                 % (option, preset, ", ".join(sorted(PRESETS))), option=option)
        entries.extend(permissions_for(preset, kind))
    return entries


def merge_requests(permissions, presets, delegated_presets=None):
    """Presets (application permissions), delegated presets (the registry rows' ``scope``) + explicit
    permissions -> ordered ``[(app_id, {"application": [...], "delegated": [...]})]``."""
    merged = {}
    order = []
    entries = _preset_entries(presets, "presets", "application")
    entries.extend(_preset_entries(delegated_presets, "delegated_presets", "delegated"))
    entries.extend(permissions or [])
    for entry in entries:
        app_id = resource_app_id(entry.get("resource"))
        if app_id not in merged:
            merged[app_id] = {"application": [], "delegated": []}
            order.append(app_id)
        for kind in ("application", "delegated"):
            for name in entry.get(kind) or []:
                if name not in merged[app_id][kind]:
                    merged[app_id][kind].append(name)
    return [(app_id, merged[app_id]) for app_id in order]


def first_party_api(app_id):
    """The registry's API name (``graph``, ``mtp``, ``mde``) of a first-party resource appId, or ``None``."""
    return API_BY_APP_ID.get(app_id)


def resource_label(app_id, sp_doc=None):
    """How a resource is shown: ``mtp``, ``wdatp``, ``graph``, else ``Display Name (appId)`` or the appId."""
    api = first_party_api(app_id)
    if api:
        return RESOURCE_LABELS[api]
    if sp_doc and sp_doc.get("displayName"):
        return "%s (%s)" % (sp_doc["displayName"], app_id)
    return app_id


def _enabled(items):
    return [i for i in items or [] if i.get("isEnabled", True)]


def _app_roles(sp_doc):
    return [r for r in _enabled(sp_doc.get("appRoles"))
            if "Application" in (r.get("allowedMemberTypes") or ["Application"])]


def _by_guid(name, kind, label, own, other):
    for item in own:
        if item.get("id", "").lower() == name.lower():
            return {"id": item["id"], "name": item.get("value") or item["id"]}
    if any(item.get("id", "").lower() == name.lower() for item in other):
        raise MtpConfigError(
            "permissions: %s id %s on %s is a %s, not a%s" % (
                "application" if kind == "application" else "delegated", name, label,
                "delegated scope" if kind == "application" else "application role",
                "n application role (list it under delegated)" if kind == "application"
                else " delegated scope (list it under application)"), option="permissions")
    raise MtpConfigError("permissions: %s has no %s permission with id %s" % (label, kind, name), option="permissions")


def _wrong_kind(name, kind, label, roles, scopes):
    if kind == "application":
        return MtpConfigError(
            "permissions: %s on %s is a delegated permission (scope), not an application permission; "
            "list it under delegated, or pick one of the application permissions: %s"
            % (name, label, ", ".join(sorted(r.get("value") for r in roles))), option="permissions")
    return MtpConfigError(
        "permissions: %s on %s is an application permission (app role), not a delegated permission; "
        "list it under application, or pick one of the delegated permissions: %s"
        % (name, label, ", ".join(sorted(s.get("value") for s in scopes))), option="permissions")


def resolve_one(app_id, sp_doc, kind, name):
    """One requested permission -> ``{"id", "name"}`` from the resource SP document; explains every failure."""
    label = resource_label(app_id, sp_doc)
    roles = _app_roles(sp_doc)
    scopes = _enabled(sp_doc.get("oauth2PermissionScopes"))
    own, other = (roles, scopes) if kind == "application" else (scopes, roles)
    if GUID_RE.match(name or ""):
        return _by_guid(name, kind, label, own, other)
    for item in own:
        if item.get("value") == name:
            return {"id": item["id"], "name": name}
    if any(item.get("value") == name for item in other):
        raise _wrong_kind(name, kind, label, roles, scopes)
    raise MtpConfigError(
        "permissions: unknown %s permission %r on %s; valid values: %s"
        % (kind, name, label, ", ".join(sorted(i.get("value") for i in own if i.get("value")))),
        option="permissions")


def resolve_permissions(requests, sp_docs):
    """``merge_requests`` output + ``{app_id: resource SP doc}`` -> list of resolved permissions.

    Each entry: ``{resource, resource_app_id, type ("application"|"delegated"), name, id}``.
    Every problem is collected and raised together so one run shows all of them.
    """
    resolved = []
    problems = []
    for app_id, wanted in requests:
        sp_doc = sp_docs.get(app_id)
        if sp_doc is None:
            problems.append("permissions: resource application %s was not found in the tenant (no service "
                            "principal with that appId)" % app_id)
            continue
        for kind in ("application", "delegated"):
            for name in wanted[kind]:
                try:
                    item = resolve_one(app_id, sp_doc, kind, name)
                except MtpConfigError as exc:
                    problems.append(exc.msg)
                    continue
                resolved.append({"resource": resource_label(app_id, sp_doc), "resource_app_id": app_id,
                                 "type": kind, "name": item["name"], "id": item["id"]})
    if problems:
        raise MtpConfigError("; ".join(problems), option="permissions")
    return resolved


# ---------------------------------------------------------------------------------------------------
# Plans: requiredResourceAccess, app role assignments, delegated grants
# ---------------------------------------------------------------------------------------------------

def rra_to_sets(rra):
    """``requiredResourceAccess`` -> ``{app_id: set((id, type))}`` (order-insensitive form)."""
    out = {}
    for entry in rra or []:
        key = (entry.get("resourceAppId") or "").lower()
        bucket = out.setdefault(key, set())
        for access in entry.get("resourceAccess") or []:
            bucket.add((access.get("id", "").lower(), access.get("type")))
    return dict((k, v) for k, v in out.items() if v)


def sets_to_rra(sets):
    return [{"resourceAppId": app_id,
             "resourceAccess": [{"id": i, "type": t} for i, t in sorted(sets[app_id], key=lambda x: (x[1], x[0]))]}
            for app_id in sorted(sets) if sets[app_id]]


def desired_rra(current_rra, resolved, purge):
    """Full desired ``requiredResourceAccess`` (sets form): current ∪ desired, or exactly desired with purge."""
    wanted = {}
    for perm in resolved:
        wanted.setdefault(perm["resource_app_id"], set()).add(
            (perm["id"].lower(), "Role" if perm["type"] == "application" else "Scope"))
    if purge:
        return wanted
    merged = dict((k, set(v)) for k, v in rra_to_sets(current_rra).items())
    for app_id, items in wanted.items():
        merged.setdefault(app_id, set()).update(items)
    return merged


def _resource_sp_id(perm, sp_docs):
    return (sp_docs.get(perm["resource_app_id"]) or {"id": "<%s>" % perm["resource"]})["id"]


def wanted_assignments(resolved, sp_docs):
    """``set((resource_sp_id, app_role_id))`` of the application permissions (a placeholder id for a resource
    SP that is not created yet)."""
    return set((_resource_sp_id(p, sp_docs), p["id"]) for p in resolved if p["type"] == "application")


def wanted_scopes(resolved, sp_docs):
    """``{resource_sp_id: [scope names]}`` of the delegated permissions."""
    out = {}
    for perm in resolved:
        if perm["type"] == "delegated":
            out.setdefault(_resource_sp_id(perm, sp_docs), []).append(perm["name"])
    return out


def assignment_changes(current, wanted_pairs, purge):
    """``current``: appRoleAssignments (``id``, ``appRoleId``, ``resourceId``); ``wanted_pairs``: set of
    ``(resource_sp_id, app_role_id)``. Returns ``(to_add_pairs, to_remove_assignments)``."""
    have = {}
    for assignment in current or []:
        have[(assignment.get("resourceId", "").lower(), assignment.get("appRoleId", "").lower())] = assignment
    wanted = set((r.lower(), a.lower()) for r, a in wanted_pairs)
    to_add = sorted(wanted - set(have))
    to_remove = [have[k] for k in sorted(set(have) - wanted)] if purge else []
    return to_add, to_remove


def split_scope(scope):
    return [s for s in (scope or "").split(" ") if s]


def merged_scope(current, names, purge):
    """The scope list a grant gets: current order kept, new names appended; with ``purge`` only ``names``."""
    if purge:
        return [s for s in current if s in names] + [s for s in names if s not in current]
    return current + [s for s in names if s not in current]


def _grant_of(grant, principal_id):
    """Whether ``grant`` is the ``AllPrincipals`` grant (``principal_id`` None) or the user's Principal grant."""
    if principal_id is None:
        return grant.get("consentType", "AllPrincipals") == "AllPrincipals"
    return grant.get("consentType") == "Principal" and (grant.get("principalId") or "").lower() == principal_id.lower()


def grant_changes(current_grants, wanted, purge, principal_id=None):
    """``wanted``: ``{resource_sp_id: [scope names]}``. Returns a list of actions:
    ``("create", resource_id, scope)``, ``("update", grant, scope)``, ``("delete", grant, None)``.

    Only the grants for ``principal_id`` (``None``: the ``AllPrincipals`` grants) are looked at. Grants are
    merged, never deleted and recreated; scope order of existing grants is kept.
    """
    actions = []
    by_resource = {}
    for grant in current_grants or []:
        if not _grant_of(grant, principal_id):
            continue
        by_resource.setdefault(grant.get("resourceId", "").lower(), grant)
    for resource_id in sorted(wanted):
        names = wanted[resource_id]
        grant = by_resource.get(resource_id.lower())
        if grant is None:
            if names:
                actions.append(("create", resource_id, " ".join(names)))
            continue
        current = split_scope(grant.get("scope"))
        target = merged_scope(current, names, purge)
        if not target:
            actions.append(("delete", grant, None))
        elif target != current:
            actions.append(("update", grant, " ".join(target)))
    if purge:
        wanted_ids = set(r.lower() for r in wanted)
        for resource_id, grant in sorted(by_resource.items()):
            if resource_id not in wanted_ids:
                actions.append(("delete", grant, None))
    return actions


def consented(resolved, sp_docs, assignments):
    """Whether every requested application permission is held as an app role assignment."""
    held = set((a.get("resourceId"), a.get("appRoleId")) for a in assignments)
    return all((sp_docs.get(p["resource_app_id"], {}).get("id"), p["id"]) in held
               for p in resolved if p["type"] == "application")


# ---------------------------------------------------------------------------------------------------
# The diff view of permissions
# ---------------------------------------------------------------------------------------------------

def permission_labels(sp_docs):
    """``{(kind, resource app_id, id lower): "label:Value"}`` of every role and scope of ``sp_docs``."""
    by_id = {}
    for app_id, doc in sp_docs.items():
        label = resource_label(app_id, doc)
        for role in doc.get("appRoles") or []:
            by_id[("Role", app_id, role["id"].lower())] = "%s:%s" % (label, role.get("value"))
        for scope in doc.get("oauth2PermissionScopes") or []:
            by_id[("Scope", app_id, scope["id"].lower())] = "%s:%s" % (label, scope.get("value"))
    return by_id


def role_name(sp_docs, resource_id, role_id):
    """``label:Value`` of an app role given by resource SP id and role id (for plan reasons)."""
    for app_id, doc in sp_docs.items():
        if doc.get("id") == resource_id:
            for role in doc.get("appRoles") or []:
                if role.get("id") == role_id:
                    return "%s:%s" % (resource_label(app_id, doc), role.get("value"))
            return "%s:%s" % (resource_label(app_id, doc), role_id)
    return "%s:%s" % (resource_id, role_id)


def permission_view(app, assignments, grants, sp_docs, principals=None):
    """The permission part of the diff: sorted ``required_resource_access`` and ``app_role_assignments``
    labels, and ``delegated_grants`` as ``{resource label: sorted scopes}`` (a user's Principal grant as
    ``"<resource label> for <user>"``, the user as ``principals`` names it: ``{object id: upn}``)."""
    by_id = permission_labels(sp_docs)
    rra = []
    for app_id, items in rra_to_sets(app.get("requiredResourceAccess")).items():
        for ident, kind in items:
            rra.append("%s %s" % ("application" if kind == "Role" else "delegated",
                                  by_id.get((kind, app_id, ident), "%s:%s" % (app_id, ident))))
    sp_app = dict((doc["id"], app_id) for app_id, doc in sp_docs.items() if doc.get("id"))
    ara = []
    for assignment in assignments or []:
        app_id = sp_app.get(assignment.get("resourceId"))
        ara.append(by_id.get(("Role", app_id, (assignment.get("appRoleId") or "").lower()),
                             "%s:%s" % (assignment.get("resourceId"), assignment.get("appRoleId"))))
    grant_view = {}
    for grant in grants or []:
        app_id = sp_app.get(grant.get("resourceId"))
        label = resource_label(app_id, sp_docs.get(app_id)) if app_id else grant.get("resourceId")
        if grant.get("consentType") == "Principal":
            pid = (grant.get("principalId") or "").lower()
            label = "%s for %s" % (label, (principals or {}).get(pid, pid))
        grant_view[label] = sorted(split_scope(grant.get("scope")))
    return {"required_resource_access": sorted(rra), "app_role_assignments": sorted(ara),
            "delegated_grants": grant_view}
