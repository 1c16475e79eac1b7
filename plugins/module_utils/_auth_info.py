# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The permission doctor: what is granted, what is missing, and the fix.

Pure functions over *facts* (built by ``_auth_info_probe.gather`` from the tokens and Graph reads)::

    {"cloud": "commercial", "user": False,
     "apis": {"graph": {"available": True, "claims": {...} or None, "error": None or {"aadsts", "error", "message"}}},
     "user_roles": ["Security Reader"] or None (unknown),
     "declared": {"mtp": {"application": [...], "delegated": [...]}} or None (app registration not readable),
     "app": {"app_id", "unique_name", "display_name"}}

Every need (a module, a preset or a permission name) resolves to rows of ``_permissions.py``; nothing here knows
a module. A module that can call several APIs (its ``api`` option) is satisfied by any one of them
(``mtp_hunting_query:mtp`` picks one). Each missing piece has a ``reason`` (:data:`REASONS`) and a ``fix``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
from collections import namedtuple

from ansible_collections.m365.defender.plugins.module_utils import _permissions as perm
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

APP_PERMISSION = "application_permission"
ADMIN_CONSENT = "admin_consent"
DELEGATED_GRANT = "delegated_grant"
USER_ROLE = "user_role"
API_UNAVAILABLE = "api_unavailable"
APPLICATION_ONLY = "application_only"
DELEGATED_ONLY = "delegated_only"
TOKEN_ERROR = "token_error"

REASONS = {
    APP_PERMISSION: "a missing application permission",
    ADMIN_CONSENT: "a missing admin consent",
    DELEGATED_GRANT: "a missing delegated grant",
    USER_ROLE: "a user without a Defender role",
    API_UNAVAILABLE: "an API not present in this cloud",
    APPLICATION_ONLY: "a call that only an application can make",
    DELEGATED_ONLY: "a delegated permission asked of an application",
    TOKEN_ERROR: "no token for this API",
}

# The reasons an mtp_aad_app_setup task fixes (the others need a role, another identity or another API).
FIXED_BY_APP_SETUP = (APP_PERMISSION, ADMIN_CONSENT, DELEGATED_GRANT)

# AADSTS codes of a token request that the doctor explains rather than fails on
# (docs/developer/reference/defender-api.md §6.3).
CONSENT_MISSING = 65001
RESOURCE_MISSING = 500011

Requirement = namedtuple("Requirement", ["api", "role", "scope", "access"])
Need = namedtuple("Need", ["name", "kind", "alternatives"])  # alternatives: [(api or None, [Requirement])]


# --- needs ------------------------------------------------------------------------------------------------------

def _requirements(rows):
    out = []
    for row in rows:
        req = Requirement(row.api, row.role, row.scope, perm.row_access(row))
        if req not in out:
            out.append(req)
    return out


def _by_api(reqs):
    return [(api, [r for r in reqs if r.api == api]) for api in perm.APIS if any(r.api == api for r in reqs)]


def resolve_need(name):
    """The :class:`Need` for a module name (short or FQCN, optionally ``:<api>``), a preset or a permission name."""
    if not isinstance(name, str) or not name.strip():
        raise MtpConfigError("needs: every item must be a module, preset or permission name, got %r" % (name,),
                             option="needs")
    text = name.strip()
    if text in perm.PRESETS:
        return Need(text, "preset", [(None, _requirements([r for r in perm.ROWS if text in r.presets]))])
    base, _sep, api_text = text.partition(":")
    rows = perm.rows_for_module(base)
    if rows:
        alternatives = _by_api(_requirements(rows))
        if api_text:
            api = perm.canonical_api(api_text)
            alternatives = [alt for alt in alternatives if alt[0] == api]
            if not alternatives:
                raise MtpConfigError("needs: %s does not call the API %r; it calls %s" % (
                    base, api_text, ", ".join(a for a, _r in _by_api(_requirements(rows)))), option="needs")
        return Need(text, "module", alternatives)
    sources = perm.permission_sources(text)
    if sources:
        reqs = [Requirement(api, role, scope, perm.access_of(role or scope) if scope else None)
                for api, role, scope in sources]
        return Need(text, "permission", [(r.api, [r]) for r in reqs])
    close = difflib.get_close_matches(text, perm.module_names() + sorted(perm.PRESETS) + perm.permission_names(), 1)
    raise MtpConfigError("needs: %r is not a module, preset or permission name known to the collection%s. Modules: %s. "
                         "Presets: %s. Permissions are names like AdvancedHunting.Read.All or Incident.Read"
                         % (text, " (did you mean %s?)" % close[0] if close else "", ", ".join(perm.module_names()),
                            ", ".join(sorted(perm.PRESETS))), option="needs")


def apis_of(needs):
    """The APIs the needs may use (``None``, meaning all, when there are no needs)."""
    if not needs:
        return None
    return set(req.api for need in needs for _api, reqs in need.alternatives for req in reqs)


def resolve_needs(needs):
    if needs is None:
        return []
    if not isinstance(needs, (list, tuple)):
        raise MtpConfigError("needs must be a list of module, preset or permission names, got %s"
                             % type(needs).__name__, option="needs")
    resolved = []
    for item in needs:
        need = resolve_need(item)
        if need.name not in [n.name for n in resolved]:
            resolved.append(need)
    return resolved


# --- one requirement --------------------------------------------------------------------------------------------

def _api_problem(req, facts):
    """The missing piece when the API itself gives no token (or ``None``)."""
    api = facts["apis"].get(req.api) or {}
    if not api.get("available", False):
        return _missing(API_UNAVAILABLE, req, None, "the %s API is not offered in the %s cloud" % (
            req.api, facts.get("cloud")))
    error = api.get("error")
    if not error:
        return None
    if error.get("aadsts") == RESOURCE_MISSING:
        return _missing(API_UNAVAILABLE, req, None, "the %s API has no service principal in this tenant (AADSTS%d)"
                        % (req.api, RESOURCE_MISSING))
    if error.get("aadsts") == CONSENT_MISSING and facts.get("user") and req.scope:
        return _missing(DELEGATED_GRANT, req, "delegated", "no delegated permission of the %s API is consented for "
                        "this app (AADSTS65001)" % req.api)
    return _missing(TOKEN_ERROR, req, None, "no token for the %s API: %s" % (req.api, error.get("message")))


def _missing(reason, req, kind, message, **extra):
    permission = None if kind is None else req.scope if kind == "delegated" else req.role
    item = {"reason": reason, "reason_text": REASONS[reason], "api": req.api, "resource": perm.RESOURCE_LABELS[req.api],
            "type": kind, "permission": permission, "message": message}
    item.update(extra)
    return item


def _token_values(facts, api, claim):
    claims = (facts["apis"].get(api) or {}).get("claims") or {}
    value = claims.get(claim) or []
    values = value.split() if isinstance(value, str) else list(value)
    return dict((v.lower(), v) for v in values)


def _check_app(req, facts):
    if not req.role:
        return [_missing(DELEGATED_ONLY, req, "delegated", "%s is a delegated permission: an application token never "
                         "carries it; sign in as a user, or ask for the application permission" % req.scope)]
    if req.role.lower() in _token_values(facts, req.api, "roles"):
        return []
    declared = facts.get("declared")
    if declared is not None and req.role in (declared.get(req.api) or {}).get("application", []):
        return [_missing(ADMIN_CONSENT, req, "application", "the app declares %s (%s) but it is not consented: no "
                         "admin consent (app role assignment)" % (req.role, req.api))]
    unknown = "" if declared is not None else " (the app registration is not readable, so a declared permission " \
        "without admin consent looks the same)"
    return [_missing(APP_PERMISSION, req, "application", "the %s token has no role %s%s" % (req.api, req.role, unknown))]


def _check_user_role(req, facts):
    roles = facts.get("user_roles")
    if roles is None or not req.access:
        return []
    allowed = perm.roles_allowing(req.access)
    if set(roles) & set(allowed):
        return []
    readers = [r for r in roles if r in perm.roles_allowing(perm.READ)]
    if readers:
        why = "the user has %s, which only reads; %s needs a role that writes" % (", ".join(readers), req.scope)
    else:
        why = "the user has no Defender role (directory roles: %s)" % (", ".join(roles) or "none")
    return [_missing(USER_ROLE, req, "delegated", "%s; any one of %s would do" % (why, ", ".join(allowed)),
                     assign_one_of=allowed)]


def _check_user(req, facts):
    if not req.scope:
        return [_missing(APPLICATION_ONLY, req, "application", "%s (%s) has no delegated permission: a user token "
                         "cannot make this call; use an application identity" % (req.role, req.api))]
    missing = []
    if req.scope.lower() not in _token_values(facts, req.api, "scp"):
        missing.append(_missing(DELEGATED_GRANT, req, "delegated", "the %s token's scp has no %s" % (req.api, req.scope)))
    return missing + _check_user_role(req, facts)


def check_requirement(req, facts):
    """``[missing piece]`` for one requirement (empty when granted)."""
    problem = _api_problem(req, facts)
    if problem is not None:
        if problem["reason"] == DELEGATED_GRANT:
            return [problem] + _check_user_role(req, facts)
        return [problem]
    return _check_user(req, facts) if facts.get("user") else _check_app(req, facts)


# --- one need ---------------------------------------------------------------------------------------------------

def _granted(req, facts):
    kind = "delegated" if facts.get("user") else "application"
    return {"api": req.api, "resource": perm.RESOURCE_LABELS[req.api], "type": kind,
            "permission": req.scope if kind == "delegated" else req.role}


def evaluate_need(need, facts):
    """The result of one need: ``satisfied``, ``granted``, ``missing`` (of the best alternative) and, when there
    is a choice of API, each alternative's missing permission names."""
    options = []
    for api, reqs in need.alternatives:
        granted, missing = [], []
        for req in reqs:
            pieces = check_requirement(req, facts)
            missing.extend(p for p in pieces if p not in missing)
            if not pieces:
                granted.append(_granted(req, facts))
        options.append((api, granted, missing))
    best = next((o for o in options if not o[2]), None) or min(options, key=lambda o: len(o[2]))
    for item in best[2]:
        item["needed_by"] = [need.name]
    result = {"name": need.name, "kind": need.kind, "satisfied": not best[2], "granted": best[1], "missing": best[2]}
    if len(options) > 1:
        result["api"] = best[0]
        result["alternatives"] = [{"api": api, "satisfied": not missing,
                                   "missing": sorted(set(m["permission"] or "(the %s API)" % api for m in missing))}
                                  for api, _g, missing in options]
    return result


def _merge(items):
    merged = []
    for item in items:
        key = (item["reason"], item["api"], item["permission"])
        same = next((m for m in merged if (m["reason"], m["api"], m["permission"]) == key), None)
        if same is None:
            merged.append(dict(item, needed_by=list(item["needed_by"])))
        else:
            same["needed_by"].extend(n for n in item["needed_by"] if n not in same["needed_by"])
    return merged


def evaluate(needs, facts):
    """``(need results, missing pieces merged across needs, combined fix or None)``; every piece gets its ``fix``."""
    results = [evaluate_need(need, facts) for need in needs]
    missing = _merge([item for result in results for item in result["missing"]])
    for item in missing:
        item["fix"] = fix_for(item, facts)
    grants = app_setup_grants(missing)
    combined = render_app_setup_task(facts.get("app") or {}, grants) if grants else None
    return results, missing, combined


# --- fixes ------------------------------------------------------------------------------------------------------

def app_setup_grants(missing):
    """``[(api, type, [permission])]`` that ``mtp_aad_app_setup`` would grant for the missing pieces, in order."""
    grants = []
    for item in missing:
        if item["reason"] not in FIXED_BY_APP_SETUP or not item["permission"]:
            continue
        entry = next((g for g in grants if g[:2] == (item["api"], item["type"])), None)
        if entry is None:
            entry = (item["api"], item["type"], [])
            grants.append(entry)
        if item["permission"] not in entry[2]:
            entry[2].append(item["permission"])
    return grants


def render_app_setup_task(app, grants):
    """The ``m365.defender.mtp_aad_app_setup`` task (YAML text) granting ``grants`` to ``app``.

    The one place that knows that module's option names: ``permissions`` (``resource`` + ``application`` /
    ``delegated``) declares and grants (application permissions are always consented), ``consent`` consents the
    delegated ones, ``client_type: public`` keeps a native app public, ``credential: none`` leaves the app's
    credentials alone.
    """
    name = app.get("display_name") or app.get("app_id") or "the app"
    lines = ["- name: Grant what %s is missing" % name,
             "  # run with the onboarding identity (Application.ReadWrite.All, AppRoleAssignment.ReadWrite.All,",
             "  # DelegatedPermissionGrant.ReadWrite.All), not with the app itself",
             "  m365.defender.mtp_aad_app_setup:"]
    if app.get("app_id"):
        lines.append("    app_id: %s" % app["app_id"])
    if app.get("unique_name"):
        lines.append("    unique_name: %s" % app["unique_name"])
    elif app.get("display_name"):
        lines.append("    display_name: %s  # or unique_name: <the app's uniqueName>, if it has one" % _quote(
            app["display_name"]))
    else:
        lines.append("    unique_name: <the app's uniqueName>  # the app registration could not be read")
    lines.append("    permissions:")
    by_api = []
    for api, kind, names in grants:
        entry = next((e for e in by_api if e[0] == api), None)
        if entry is None:
            entry = (api, [])
            by_api.append(entry)
        entry[1].append((kind, names))
    for api, kinds in sorted(by_api, key=lambda entry: perm.APIS.index(entry[0])):
        lines.append("      - resource: %s" % perm.RESOURCE_LABELS[api])
        for kind, names in kinds:
            lines.append("        %s: [%s]" % (kind, ", ".join(names)))
    if app.get("client_type") == "public":
        lines.append("    client_type: public  # keep the native app public (the default, confidential, would switch it)")
    if any(kind == "delegated" for _api, kind, _names in grants):
        lines.extend(["    consent:", "      type: all_principals  # admin consent for every user"])
    lines.append("    credential: none")
    return "\n".join(lines) + "\n"


def _quote(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"') if any(c in text for c in ":#{}[],&*!|>'\"%@`") \
        else text


def fix_for(item, facts):
    """The exact fix of one missing piece: a task to run, a role to assign, or what to change in the play."""
    reason = item["reason"]
    if reason in FIXED_BY_APP_SETUP:
        return render_app_setup_task(facts.get("app") or {}, [(item["api"], item["type"], [item["permission"]])])
    if reason == USER_ROLE:
        user = (facts.get("identity") or {}).get("upn") or "the user"
        return ("Assign %s one of the Entra ID directory roles %s (Entra admin center > Roles and administrators); "
                "the role shows in new tokens (wids) after the next sign-in" % (user, ", ".join(item["assign_one_of"])))
    if reason == API_UNAVAILABLE:
        return "Use an API this cloud offers (%s), for example api: graph" % ", ".join(
            perm.apis_in_cloud(facts.get("cloud")))
    if reason == APPLICATION_ONLY:
        return "Run this task with an application identity (client_secret, certificate, workload_identity)"
    if reason == DELEGATED_ONLY:
        return "Sign in as a user (device_code, username_password) or ask for the application permission instead"
    return "Fix the sign-in for the %s API first (see message)" % item["api"]


def failure_message(results, missing, fix):
    """The message of ``fail_on_missing``: the summary, then the one task that grants what an app lacks and the
    other fixes, one per line."""
    lines = [summary(results, missing) + ". Fix:"]
    if fix:
        lines.append(fix.rstrip("\n"))
    for item in missing:
        if item["reason"] not in FIXED_BY_APP_SETUP:
            lines.append("# %s %s (%s): %s" % (item["api"], item["permission"] or "API", item["reason_text"], item["fix"]))
    return "\n".join(lines)


def summary(results, missing):
    """The one-line ``msg`` of the task."""
    if not results:
        return "No needs given: reported the identity and its permissions only"
    if not missing:
        return "Everything needed is granted: %s" % ", ".join(r["name"] for r in results)
    parts = ["%s %s (%s) for %s: %s" % (m["api"], m["permission"] or "API", m["reason_text"],
                                        ", ".join(m["needed_by"]), m["message"]) for m in missing]
    return "Missing %d piece(s): %s" % (len(missing), "; ".join(parts))
