# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Entra ID app registration for Defender XDR (``mtp_aad_app_setup``).

The pure parts (permission resolution against a resource service principal document, the
``requiredResourceAccess`` set diff, grant scope merging, credential rotation, error classification and
the plan/diff) are plain functions. :class:`AppSetup` reads the directory through an ``MtpClient`` (key
addressed GETs inside ``$batch``), computes the plan and, outside check mode, applies it with the
replication-lag retries of ``graph-app-setup.md`` §12. The app is only ever created through the
``uniqueName`` upsert, so a replayed create can never make a second app.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import datetime
import hashlib
import os
import re
import tempfile
import time

from ansible_collections.m365.defender.plugins.module_utils._errors import (
    MtpApiError,
    MtpConfigError,
    MtpError,
)

MTP_APP_ID = "8ee8fdad-f234-4243-8f3b-15c294843740"
WDATP_APP_ID = "fc780465-2017-40d4-a0c5-307022471b92"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

RESOURCE_ALIASES = {"mtp": MTP_APP_ID, "wdatp": WDATP_APP_ID, "graph": GRAPH_APP_ID}
ALIAS_BY_APP_ID = dict((v, k) for k, v in RESOURCE_ALIASES.items())
# resource alias -> the resource name the authenticator takes for a token (wait_for_ready)
TOKEN_RESOURCE = {"mtp": "mtp", "wdatp": "mde", "graph": "graph"}

PRESETS = {
    "hunting": [
        {"resource": "graph", "application": ["ThreatHunting.Read.All"]},
        {"resource": "mtp", "application": ["AdvancedHunting.Read.All"]},
    ],
    "incidents_read": [
        {"resource": "graph", "application": ["SecurityIncident.Read.All", "SecurityAlert.Read.All"]},
        {"resource": "mtp", "application": ["Incident.Read.All"]},
    ],
    "incidents_write": [
        {"resource": "graph", "application": ["SecurityIncident.ReadWrite.All", "SecurityAlert.ReadWrite.All"]},
        {"resource": "mtp", "application": ["Incident.ReadWrite.All"]},
    ],
}

SECRET_LABEL_PREFIX = "m365.defender:"
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# uniqueName: the module keeps to a conservative alphabet that is safe inside an OData key literal.
UNIQUE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")

APP_SELECT = "id,appId,displayName,uniqueName,requiredResourceAccess,passwordCredentials,keyCredentials"
SP_SELECT = "id,appId,appRoles,oauth2PermissionScopes"

# Replication-lag retries back off 1, 2, 4, 5, 5, ... seconds: short enough not to overshoot much past the
# moment the object replicates, few enough requests (at most one per 5 s per object) to stay far from throttling.
LAG_DELAY_CAP = 5.0

ROLE_APP_WRITE = "Application.ReadWrite.All"
ROLE_ASSIGN = "AppRoleAssignment.ReadWrite.All"
ROLE_GRANT = "DelegatedPermissionGrant.ReadWrite.All"
ROLE_READ = "Application.Read.All"


# ---------------------------------------------------------------------------------------------------
# Input validation and permission resolution (pure)
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


def resource_app_id(resource):
    """``mtp``/``wdatp``/``graph`` or an appId GUID -> appId (lower case)."""
    key = (resource or "").strip()
    if key.lower() in RESOURCE_ALIASES:
        return RESOURCE_ALIASES[key.lower()]
    if GUID_RE.match(key):
        return key.lower()
    raise MtpConfigError(
        "permissions: resource %r is neither one of mtp, wdatp, graph nor an application id (GUID)" % (resource,),
        option="permissions")


def merge_requests(permissions, presets):
    """Presets + explicit permissions -> ordered ``[(app_id, {"application": [...], "delegated": [...]})]``."""
    merged = {}
    order = []
    entries = []
    for preset in presets or []:
        if preset not in PRESETS:
            raise MtpConfigError("presets: unknown preset %r; valid presets: %s"
                                 % (preset, ", ".join(sorted(PRESETS))), option="presets")
        entries.extend(PRESETS[preset])
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


def resource_label(app_id, sp_doc=None):
    alias = ALIAS_BY_APP_ID.get(app_id)
    if alias:
        return alias
    if sp_doc and sp_doc.get("displayName"):
        return "%s (%s)" % (sp_doc["displayName"], app_id)
    return app_id


def _enabled(items):
    return [i for i in items or [] if i.get("isEnabled", True)]


def _app_roles(sp_doc):
    return [r for r in _enabled(sp_doc.get("appRoles"))
            if "Application" in (r.get("allowedMemberTypes") or ["Application"])]


def resolve_one(app_id, sp_doc, kind, name):
    """One requested permission -> ``{"id", "name"}`` from the resource SP document; explains every failure."""
    label = resource_label(app_id, sp_doc)
    roles = _app_roles(sp_doc)
    scopes = _enabled(sp_doc.get("oauth2PermissionScopes"))
    own, other = (roles, scopes) if kind == "application" else (scopes, roles)
    if GUID_RE.match(name or ""):
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
        raise MtpConfigError("permissions: %s has no %s permission with id %s"
                             % (label, kind, name), option="permissions")
    for item in own:
        if item.get("value") == name:
            return {"id": item["id"], "name": name}
    if any(item.get("value") == name for item in other):
        if kind == "application":
            raise MtpConfigError(
                "permissions: %s on %s is a delegated permission (scope), not an application permission; "
                "list it under delegated, or pick one of the application permissions: %s"
                % (name, label, ", ".join(sorted(r.get("value") for r in roles))), option="permissions")
        raise MtpConfigError(
            "permissions: %s on %s is an application permission (app role), not a delegated permission; "
            "list it under application, or pick one of the delegated permissions: %s"
            % (name, label, ", ".join(sorted(s.get("value") for s in scopes))), option="permissions")
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
# Desired state and diffs (pure)
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


def grant_changes(current_grants, wanted, purge):
    """``wanted``: ``{resource_sp_id: [scope names]}``. Returns a list of actions:
    ``("create", resource_id, scope)``, ``("update", grant, scope)``, ``("delete", grant, None)``.

    Grants are merged, never deleted and recreated; scope order of existing grants is kept.
    """
    actions = []
    by_resource = {}
    for grant in current_grants or []:
        if grant.get("consentType", "AllPrincipals") != "AllPrincipals":
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
        if purge:
            target = [s for s in current if s in names] + [s for s in names if s not in current]
        else:
            target = current + [s for s in names if s not in current]
        if not target:
            actions.append(("delete", grant, None))
        elif target != current:
            actions.append(("update", grant, " ".join(target)))
    if purge:
        for resource_id, grant in sorted(by_resource.items()):
            if resource_id not in set(r.lower() for r in wanted):
                actions.append(("delete", grant, None))
    return actions


# ---------------------------------------------------------------------------------------------------
# Credentials (pure)
# ---------------------------------------------------------------------------------------------------

def parse_graph_time(value):
    if not value:
        return None
    text = value.rstrip("Z")
    text = re.sub(r"\.(\d{1,6})\d*", r".\1", text)
    text = text.split("+")[0]
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def format_graph_time(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def secret_label(unique_name):
    return SECRET_LABEL_PREFIX + unique_name + ":"


def managed_secrets(password_credentials, unique_name):
    """Secrets this module labelled for ``unique_name``, newest expiry first."""
    label = secret_label(unique_name)
    mine = [c for c in password_credentials or [] if (c.get("displayName") or "").startswith(label)]
    return sorted(mine, key=lambda c: parse_graph_time(c.get("endDateTime")) or datetime.datetime.min,
                  reverse=True)


def secret_due(credential, now, rotate_before_days):
    """A secret is due when it ends within ``rotate_before_days`` of ``now`` (or has no end date)."""
    end = parse_graph_time(credential.get("endDateTime"))
    if end is None:
        return True
    return end - now <= datetime.timedelta(days=rotate_before_days)


def secret_plan(password_credentials, unique_name, now, rotate_before_days):
    """``(add_new, keep, remove)``: whether to add a secret, the managed secret kept, expired managed secrets.

    Rotation adds a new secret when the newest managed one is due; the due one is kept until it expires (the
    overlap lets running automation switch over) and expired managed secrets are removed. Unlabelled secrets
    are never touched.
    """
    mine = managed_secrets(password_credentials, unique_name)
    expired = [c for c in mine if (parse_graph_time(c.get("endDateTime")) or now) <= now]
    current = [c for c in mine if c not in expired]
    if current and not secret_due(current[0], now, rotate_before_days):
        return False, current[0], expired
    return True, None, expired


def secret_metadata(cred):
    return {"type": "secret", "key_id": cred.get("keyId"), "display_name": cred.get("displayName"),
            "start_date_time": cred.get("startDateTime"), "end_date_time": cred.get("endDateTime"),
            "hint": cred.get("hint")}


def load_certificate(path=None, content=None):
    """PEM or DER certificate (path or content) -> ``{"der", "thumbprint", "not_before", "not_after"}``.

    A PEM file may also hold the private key (it is used only for the ``wait_for_ready`` probe)."""
    if path:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except (IOError, OSError) as exc:
            raise MtpConfigError("certificate.path %s cannot be read: %s" % (path, exc.strerror),
                                 option="certificate")
    elif content:
        data = content.encode("utf-8") if not isinstance(content, bytes) else content
    else:
        raise MtpConfigError("certificate needs path or content", option="certificate")
    match = re.search(br"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", data, re.S)
    if match:
        try:
            der = base64.b64decode(b"".join(match.group(1).split()))
        except (binascii.Error, ValueError):
            raise MtpConfigError("certificate: the PEM block is not valid base64", option="certificate")
    elif data.lstrip().startswith(b"-----"):
        raise MtpConfigError("certificate: no CERTIFICATE block found", option="certificate")
    else:
        der = data
    info = {"der": der, "thumbprint": hashlib.sha1(der).hexdigest().upper(), "not_before": None, "not_after": None,
            "has_private_key": b"PRIVATE KEY-----" in data}
    try:
        from cryptography import x509
    except ImportError:
        return info
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise MtpConfigError("certificate: not an X.509 certificate", option="certificate")
    not_before = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before
    not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
    info["not_before"] = format_graph_time(not_before.replace(tzinfo=None))
    info["not_after"] = format_graph_time(not_after.replace(tzinfo=None))
    return info


def key_thumbprint(key_credential):
    """The SHA-1 thumbprint (upper hex) of a keyCredential, from ``key`` or ``customKeyIdentifier``."""
    key = key_credential.get("key")
    if key:
        try:
            return hashlib.sha1(base64.b64decode(key)).hexdigest().upper()
        except (binascii.Error, ValueError, TypeError):
            pass
    ident = key_credential.get("customKeyIdentifier") or ""
    if re.match(r"^[0-9A-Fa-f]{40}$", ident):
        return ident.upper()
    try:
        raw = base64.b64decode(ident)
    except (binascii.Error, ValueError, TypeError):
        return None
    if len(raw) == 20:
        return binascii.hexlify(raw).decode("ascii").upper()
    if re.match(br"^[0-9A-Fa-f]{40}$", raw):
        return raw.decode("ascii").upper()
    return None


def certificate_entry(cert, unique_name):
    entry = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(cert["der"]).decode("ascii"),
             "displayName": "%s%s" % (secret_label(unique_name), cert["thumbprint"])}
    if cert.get("not_before"):
        entry["startDateTime"] = cert["not_before"]
    if cert.get("not_after"):
        entry["endDateTime"] = cert["not_after"]
    return entry


def resend_key_credential(cred):
    keep = ("customKeyIdentifier", "displayName", "endDateTime", "key", "keyId", "startDateTime", "type", "usage")
    return dict((k, cred[k]) for k in keep if cred.get(k) is not None)


def cert_metadata(cred, thumbprint):
    return {"type": "certificate", "key_id": cred.get("keyId"), "thumbprint": thumbprint,
            "display_name": cred.get("displayName"), "start_date_time": cred.get("startDateTime"),
            "end_date_time": cred.get("endDateTime")}


def federated_body(federated):
    return {"name": federated["name"], "issuer": federated["issuer"], "subject": federated["subject"],
            "audiences": list(federated.get("audiences") or ["api://AzureADTokenExchange"])}


def federated_differs(current, wanted):
    if current is None:
        return True
    return (current.get("issuer") != wanted["issuer"] or current.get("subject") != wanted["subject"]
            or sorted(current.get("audiences") or []) != sorted(wanted["audiences"]))


def check_secret_dest(path):
    """Fail before any write when the secret file could not be written."""
    if not path:
        return
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise MtpConfigError("secret_dest %s is a directory; give a file path" % path, option="secret_dest")
    if not os.path.isdir(directory):
        raise MtpConfigError("secret_dest: %s is not an existing directory" % directory, option="secret_dest")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise MtpConfigError("secret_dest: directory %s is not writable" % directory, option="secret_dest")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise MtpConfigError("secret_dest: %s exists and is not writable" % path, option="secret_dest")


def write_secret_file(path, value):
    """Atomic write with mode 0600 (temporary file in the same directory, then rename)."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".mtp-secret-", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------------------------
# Error classification (§12, pure)
# ---------------------------------------------------------------------------------------------------

def error_info(exc):
    """``MtpApiError`` -> ``(status, code, message, detail_codes)`` from its Graph envelope."""
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    message = getattr(exc, "msg", "") or ""
    details = []
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = err.get("code") or code
        message = err.get("message") or message
        for detail in err.get("details") or []:
            if isinstance(detail, dict) and detail.get("code"):
                details.append(detail["code"])
    return status, code, message, details


LAG = "lag"
EXISTS = "exists"
GRANT_CONFLICT = "grant_conflict"
UNIQUE_CONFLICT = "unique_conflict"
LOCAL_TENANT = "local_tenant"
AMBIGUOUS = "ambiguous"
NOT_FOUND = "not_found"
DENIED = "denied"
FATAL = "fatal"


def classify(status, code, message, details=(), fresh=False):
    """Classify a Graph failure per §12. ``fresh``: the object addressed was created or referenced in
    this run (a 404 then means replication lag)."""
    text = (message or "").lower()
    details = list(details or [])
    if status is None or status in (500, 502, 503, 504) or (isinstance(status, int) and status >= 500):
        return AMBIGUOUS
    if status == 400:
        if "NoBackingApplicationObject" in details or "NoBackingApplicationObject" in (code or "") \
                or "does not reference a valid application object" in text:
            return LAG
        if "not a valid reference update" in text or "queried reference-property objects are not present" in text:
            return LAG
        if "already exists on the object" in text or "entitlementgrant entry already exists" in text:
            return EXISTS
        if "uniquename" in text and "already exists" in text:
            return UNIQUE_CONFLICT
        return FATAL
    if status == 409:
        if code == "Error_MsaAppDoesNotExist":
            return LAG
        if code == "Request_MultipleObjectsWithSameKeyValue" or "already exists" in text:
            return GRANT_CONFLICT
        return FATAL
    if status == 404:
        return LAG if fresh else NOT_FOUND
    if status == 403:
        if "local tenant" in text or "backing application" in text:
            return LOCAL_TENANT
        return DENIED
    return FATAL


# ---------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------

def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _quote(value):
    return value.replace("'", "''")


class AppSetup:
    """One ``mtp_aad_app_setup`` run. ``params`` are the module options; ``client`` an ``MtpClient``."""

    def __init__(self, client, params, check_mode=False, warn=None, sleep=time.sleep, clock=time.time,
                 now=_utcnow, probe=None):
        self.client = client
        self.p = params
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.sleep = sleep
        self.clock = clock
        self.now = now
        self.probe = probe  # callable(app_id, secret, cert_path, resources_roles, deadline) for wait_for_ready
        self.plan = []
        self.changed = False
        self.fresh_ids = set()  # objects created in this run (404 on them means lag)
        self.secret_value = None
        self.timeout = float(params.get("replication_timeout") or 300)
        # what exists so far, returned with a failure so a created secret is never lost (module main())
        self.partial = {}
        self._requests = []

    # --- low level ------------------------------------------------------------------------------
    def _step(self, method, path, why):
        self.plan.append({"method": method, "path": path, "reason": why})

    def _batch(self, items):
        """GETs through ``$batch``: ``[(id, url)]`` -> ``{id: (status, json)}``; lag-retried per item."""
        out = {}
        pending = list(items)
        deadline = self.clock() + self.timeout
        delay = 1.0
        while pending:
            responses = self.client.batch([{"id": i, "method": "GET", "url": u} for i, u, _f in pending])
            retry = []
            for item in pending:
                resp = responses.get(item[0])
                status = getattr(resp, "status", None)
                if status == 404 and item[2] and self.clock() < deadline:
                    retry.append(item)
                    continue
                if status is not None and status >= 400 and status != 404:
                    body = getattr(resp, "json", None)
                    raise self._api_error("GET " + item[1], status, body)
                out[item[0]] = (status, getattr(resp, "json", None) or {})
            pending = retry
            if pending:
                self.sleep(delay)
                delay = min(delay * 2, LAG_DELAY_CAP)
        return out

    def _api_error(self, what, status, body):
        err = (body or {}).get("error") if isinstance(body, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        message = err.get("message") if isinstance(err, dict) else None
        request_id = None
        if isinstance(err, dict) and isinstance(err.get("innerError"), dict):
            request_id = err["innerError"].get("request-id")
        detail = (": " + message) if message else ""
        exc = MtpApiError("Graph %s failed: HTTP %s %s%s" % (what, status, code or "", detail),
                          status=status, code=code, request_id=request_id, body=body)
        if status == 403:
            exc.hint = "grant the onboarding identity the Graph application permissions %s, %s and %s" % (
                ROLE_APP_WRITE, ROLE_ASSIGN, ROLE_GRANT)
            exc.msg = "%s; the onboarding identity needs the Graph application permission %s" % (exc.msg,
                                                                                                 ROLE_APP_WRITE)
            exc.args = (exc.msg,)
        return exc

    def _write(self, method, path, json=None, headers=None, idempotent=None, fresh=False, role=ROLE_APP_WRITE,
               reconcile=None, on_exists=None, on_conflict=None):
        """One write with §12 handling. ``reconcile()`` is called after an ambiguous failure (timeout, 5xx,
        reset) of a non-idempotent call: it returns a result if the write turns out to have committed, else
        None (then the write is retried)."""
        deadline = self.clock() + self.timeout
        delay = 1.0
        local_tenant_deadline = self.clock() + min(self.timeout, 30.0)
        while True:
            try:
                call = getattr(self.client, method.lower())
                return call("graph", path, json=json, headers=headers, idempotent=idempotent)
            except MtpApiError as exc:
                status, code, message, details = error_info(exc)
                kind = classify(status, code, message, details, fresh=fresh)
                if kind == EXISTS and on_exists is not None:
                    return on_exists()
                if kind == GRANT_CONFLICT and on_conflict is not None:
                    return on_conflict()
                if kind == UNIQUE_CONFLICT and on_conflict is not None:
                    return on_conflict()
                if kind == AMBIGUOUS and reconcile is not None:
                    found = reconcile()
                    if found is not None:
                        return found
                    if self.clock() >= deadline:
                        raise
                elif kind == LAG and self.clock() < deadline:
                    pass
                elif kind == LOCAL_TENANT and self.clock() < local_tenant_deadline:
                    pass
                elif kind == LOCAL_TENANT:
                    exc.hint = "creating this service principal needs %s (Application.ReadWrite.OwnedBy is not " \
                               "enough)" % ROLE_APP_WRITE
                    raise
                elif kind == DENIED:
                    exc.msg = "%s %s was refused (403 %s): the onboarding identity needs the Graph application " \
                              "permission %s" % (method, path.split("?")[0], code or "", role)
                    exc.args = (exc.msg,)
                    exc.hint = "grant %s to the onboarding identity (admin consent) or use another identity" % role
                    raise
                else:
                    raise
                self.sleep(delay)
                delay = min(delay * 2, LAG_DELAY_CAP)

    # --- reads ------------------------------------------------------------------------------------
    def read(self, requests):
        """Batch A: the app by its key + the resource SPs. Returns ``(app or None, {app_id: sp_doc})``."""
        unique_name = self.p["unique_name"]
        items = []
        if self.p.get("app_id"):
            items.append(("app", "/applications(appId='%s')?$select=%s" % (_quote(self.p["app_id"]), APP_SELECT),
                          False))
        items.append(("key", "/applications(uniqueName='%s')?$select=%s" % (_quote(unique_name), APP_SELECT), False))
        for index, (app_id, _wanted) in enumerate(requests):
            items.append(("r%d" % index, "/servicePrincipals(appId='%s')?$select=%s" % (app_id, SP_SELECT), False))
        res = self._batch(items)
        app = None
        if res["key"][0] == 200:
            app = res["key"][1]
        if self.p.get("app_id"):
            by_id = res["app"][1] if res["app"][0] == 200 else None
            if by_id is None:
                raise MtpApiError("app_id %s: no application with that appId in the tenant" % self.p["app_id"],
                                  status=404, code="Request_ResourceNotFound")
            if app is not None and app["id"] != by_id["id"]:
                raise MtpConfigError("unique_name %s already belongs to another application (appId %s), not to "
                                     "app_id %s" % (unique_name, app.get("appId"), self.p["app_id"]),
                                     option="unique_name")
            if by_id.get("uniqueName") not in (None, unique_name):
                raise MtpConfigError("app_id %s already has the uniqueName %s (immutable); set unique_name to it"
                                     % (self.p["app_id"], by_id["uniqueName"]), option="unique_name")
            app = by_id
        sp_docs = {}
        for index, (app_id, _wanted) in enumerate(requests):
            status, body = res["r%d" % index]
            if status == 200:
                sp_docs[app_id] = body
        return app, sp_docs

    def read_client_side(self, app):
        """Batch B: the app's SP, its app role assignments and (when delegated grants are managed) its grants."""
        app_id = app["appId"]
        fresh = app["id"] in self.fresh_ids
        items = [("sp", "/servicePrincipals(appId='%s')?$select=id,appId,displayName" % app_id, False),
                 ("ara", "/servicePrincipals(appId='%s')/appRoleAssignments?$select=id,appRoleId,resourceId,"
                         "principalId" % app_id, False)]
        if self._manages_grants:
            items.append(("grants", "/servicePrincipals(appId='%s')/oauth2PermissionGrants" % app_id, False))
        if self.p.get("credential") == "federated":
            items.append(("fic", "/applications/%s/federatedIdentityCredentials" % app["id"], fresh))
        res = self._batch(items)
        sp = res["sp"][1] if res["sp"][0] == 200 else None
        assignments = res["ara"][1].get("value", []) if res["ara"][0] == 200 else []
        grants = []
        if "grants" in res and res["grants"][0] == 200:
            grants = res["grants"][1].get("value", [])
        fics = res["fic"][1].get("value", []) if "fic" in res and res["fic"][0] == 200 else []
        return sp, assignments, grants, fics

    def find_deleted(self, unique_name):
        """The soft-deleted app holding ``unique_name`` (client-side filter, §2.4), or None."""
        for item in self.client.paginate("graph", "/directory/deletedItems/microsoft.graph.application",
                                         params={"$select": "id,appId,displayName,uniqueName"}):
            if item.get("uniqueName") == unique_name:
                return item
        return None

    def find_by_display_name(self, display_name):
        items = list(self.client.paginate(
            "graph", "/applications", params={"$filter": "displayName eq '%s'" % _quote(display_name),
                                              "$select": APP_SELECT}))
        if len(items) != 1:
            raise MtpConfigError(
                "adopt_by_display_name: %d applications are named %r; adoption needs exactly one (give app_id)"
                % (len(items), display_name), option="adopt_by_display_name")
        return items[0]

    # --- main entry points ------------------------------------------------------------------------
    @property
    def _manages_grants(self):
        return any(w["delegated"] for _a, w in self._requests) or bool(self.p.get("purge_permissions"))

    def run(self):
        self._requests = merge_requests(self.p.get("permissions"), self.p.get("presets"))
        if self.p.get("state", "present") == "absent":
            return self.run_absent()
        return self.run_present()

    def run_present(self):
        p = self.p
        unique_name = p["unique_name"]
        credential = p.get("credential") or "secret"
        if credential == "secret" and p.get("secret_dest"):
            check_secret_dest(p["secret_dest"])
        cert = None
        if credential == "certificate":
            cert_opt = p.get("certificate") or {}
            cert = load_certificate(cert_opt.get("path"), cert_opt.get("content"))
        if credential == "federated":
            fed = p.get("federated") or {}
            missing = [k for k in ("name", "issuer", "subject") if not fed.get(k)]
            if missing:
                raise MtpConfigError("federated needs %s" % ", ".join(missing), option="federated")

        app, sp_docs = self.read(self._requests)
        # Resolve names before any write: a first-party resource SP that is missing is created later, and
        # its names are resolved from the published first-party definitions until then.
        missing_first_party = [a for a, _w in self._requests if a not in sp_docs and a in ALIAS_BY_APP_ID]
        offline = dict(sp_docs)
        for app_id in missing_first_party:
            offline[app_id] = FIRST_PARTY_FALLBACK[app_id]
        resolved = resolve_permissions(self._requests, offline)

        restored = None
        adopted = None
        if app is None and p.get("adopt_by_display_name"):
            adopted = self.find_by_display_name(p["display_name"])
            if adopted.get("uniqueName") not in (None, unique_name):
                raise MtpConfigError("the application named %r already has uniqueName %s; set unique_name to it"
                                     % (p["display_name"], adopted["uniqueName"]), option="unique_name")
            app = adopted
        if app is None and p.get("restore_deleted"):
            restored = self.find_deleted(unique_name)

        sp = None
        assignments = []
        grants = []
        fics = []
        if app is not None:
            sp, assignments, grants, fics = self.read_client_side(app)
        before = self._state_view(app, sp, assignments, grants, (app or {}).get("passwordCredentials"), sp_docs,
                                  keys=(app or {}).get("keyCredentials"), fics=fics)
        result = {"unique_name": unique_name}

        # 1. first-party resource SPs that are missing
        for app_id in missing_first_party:
            self._step("POST", "/servicePrincipals", "create the %s service principal in the tenant"
                       % ALIAS_BY_APP_ID[app_id])
            if not self.check_mode:
                sp_docs[app_id] = self._create_resource_sp(app_id)
                offline[app_id] = sp_docs[app_id]
        if missing_first_party and not self.check_mode:
            resolved = resolve_permissions(self._requests, offline)

        # 2. the application (restore / adopt / upsert)
        if restored is not None:
            self._step("POST", "/directory/deletedItems/%s/restore" % restored["id"], "restore the soft-deleted app")
            if not self.check_mode:
                self._write("POST", "/directory/deletedItems/%s/restore" % restored["id"], json={},
                            reconcile=lambda: self._get_app_by_key(unique_name, lag=False))
                self.fresh_ids.add(restored["id"])
                app = self._get_app_by_key(unique_name, lag=True)
            else:
                app = restored
        current_rra = (app or {}).get("requiredResourceAccess") or []
        target_sets = desired_rra(current_rra, resolved, p.get("purge_permissions"))
        display_name = p.get("display_name") or (app or {}).get("displayName") or unique_name
        app_changes = app is None or rra_to_sets(current_rra) != target_sets \
            or (p.get("display_name") and app.get("displayName") != p["display_name"]) \
            or app.get("uniqueName") != unique_name
        if app_changes:
            body = {"displayName": display_name, "requiredResourceAccess": sets_to_rra(target_sets)}
            if app is None:
                body["signInAudience"] = "AzureADMyOrg"
                body["notes"] = "Managed by m365.defender.mtp_aad_app_setup (uniqueName %s)" % unique_name
            if app is not None and app.get("uniqueName") is None:
                # adoption of a legacy app: set its uniqueName once (allowed while it is null)
                path = "/applications/%s" % app["id"]
                body["uniqueName"] = unique_name
                self._step("PATCH", path, "set uniqueName on the adopted app and update its permissions")
                if not self.check_mode:
                    self._write("PATCH", path, json=body, idempotent=True)
            else:
                path = "/applications(uniqueName='%s')" % _quote(unique_name)
                self._step("PATCH", path, "create the app (upsert)" if app is None else "update the app")
                if not self.check_mode:
                    app = self._upsert_app(path, body, app)
            self.changed = True
        if restored is not None and not self.check_mode:
            sp, assignments, grants, fics = self.read_client_side(app)
        predicted = dict(app or {"id": None, "appId": None}, displayName=display_name, uniqueName=unique_name,
                         requiredResourceAccess=sets_to_rra(target_sets))
        if app is not None and not self.check_mode:
            app = predicted

        # 3. client SP, app role assignments (admin consent), delegated grants
        if sp is None:
            self._step("POST", "/servicePrincipals", "create the app's service principal")
            if not self.check_mode:
                sp = self._create_client_sp(app["appId"])
            self.changed = True

        # app role assignments (admin consent for application permissions)
        wanted_pairs = set()
        for perm in resolved:
            if perm["type"] == "application":
                res_sp = sp_docs.get(perm["resource_app_id"]) or {"id": "<%s>" % perm["resource"]}
                wanted_pairs.add((res_sp["id"], perm["id"]))
        to_add, to_remove = assignment_changes(assignments, wanted_pairs, p.get("purge_permissions"))
        new_assignments = list(assignments)
        for resource_id, role_id in to_add:
            path = "/servicePrincipals/%s/appRoleAssignedTo" % resource_id
            self._step("POST", path, "grant app role %s" % self._role_name(sp_docs, resource_id, role_id))
            if not self.check_mode:
                self._assign(sp["id"], resource_id, role_id)
            new_assignments.append({"resourceId": resource_id, "appRoleId": role_id})
            self.changed = True
        for assignment in to_remove:
            path = "/servicePrincipals/%s/appRoleAssignedTo/%s" % (assignment["resourceId"], assignment["id"])
            self._step("DELETE", path, "remove app role %s" % self._role_name(sp_docs, assignment["resourceId"],
                                                                              assignment["appRoleId"]))
            if not self.check_mode:
                self._delete(path, role=ROLE_ASSIGN)
            new_assignments.remove(assignment)
            self.changed = True

        # delegated grants
        wanted_scopes = {}
        for perm in resolved:
            if perm["type"] == "delegated":
                res_sp = sp_docs.get(perm["resource_app_id"]) or {"id": "<%s>" % perm["resource"]}
                wanted_scopes.setdefault(res_sp["id"], []).append(perm["name"])
        new_grants = [dict(g) for g in grants]
        for action, target, scope in grant_changes(grants, wanted_scopes, p.get("purge_permissions")):
            self.changed = True
            if action == "create":
                self._step("POST", "/oauth2PermissionGrants", "grant delegated scopes %s" % scope)
                if not self.check_mode:
                    self._create_grant(sp["id"], target, scope)
                new_grants.append({"resourceId": target, "scope": scope, "consentType": "AllPrincipals"})
            elif action == "update":
                self._step("PATCH", "/oauth2PermissionGrants/%s" % target["id"], "set delegated scopes %s" % scope)
                if not self.check_mode:
                    self._write("PATCH", "/oauth2PermissionGrants/%s" % target["id"], json={"scope": scope},
                                idempotent=True, role=ROLE_GRANT)
                for g in new_grants:
                    if g.get("id") == target["id"]:
                        g["scope"] = scope
            else:
                self._step("DELETE", "/oauth2PermissionGrants/%s" % target["id"], "remove delegated grant")
                if not self.check_mode:
                    self._delete("/oauth2PermissionGrants/%s" % target["id"], role=ROLE_GRANT)
                new_grants = [g for g in new_grants if g.get("id") != target["id"]]

        # 4. credential
        cred_meta = self._credential(app, credential, cert, fics)

        after = self._state_view(app if app is not None else predicted, sp or {"id": "(new)"}, new_assignments,
                                 new_grants, None, sp_docs, credential=cred_meta)
        before_view = dict((k, v) for k, v in before.items() if not k.startswith("_"))
        after_view = dict((k, v) for k, v in after.items() if not k.startswith("_"))
        if before_view.get("credential") is None and "credential" in before:
            before_view["credential"] = None

        # 5. readiness probe
        if p.get("wait_for_ready") and not self.check_mode and self.probe is not None:
            self._wait_ready(app, resolved, cert)

        app_roles_ok = all((sp_docs.get(pr["resource_app_id"], {}).get("id"), pr["id"]) in
                           set((a.get("resourceId"), a.get("appRoleId")) for a in new_assignments)
                           for pr in resolved if pr["type"] == "application")
        result.update({
            "changed": self.changed,
            "app_id": (app or {}).get("appId"),
            "object_id": (app or {}).get("id"),
            "service_principal_id": (sp or {}).get("id"),
            "display_name": display_name,
            "permissions": resolved,
            "consented": bool(app_roles_ok),
            "credential": cred_meta,
            "plan": self.plan,
            "diff": {"before": before_view, "after": after_view},
        })
        if adopted is not None:
            result["adopted"] = True
        if restored is not None:
            result["restored"] = True
        if self.secret_value is not None:
            result["client_secret"] = self.secret_value
        return result

    # --- present helpers --------------------------------------------------------------------------
    def _get_app_by_key(self, unique_name, lag=True):
        path = "/applications(uniqueName='%s')" % _quote(unique_name)
        deadline = self.clock() + (self.timeout if lag else 0)
        delay = 1.0
        while True:
            try:
                return self.client.get("graph", path, params={"$select": APP_SELECT}).json
            except MtpApiError as exc:
                if exc.status != 404:
                    raise
                if self.clock() >= deadline:
                    if lag:
                        raise
                    return None
            self.sleep(delay)
            delay = min(delay * 2, LAG_DELAY_CAP)

    def _upsert_app(self, path, body, current):
        unique_name = self.p["unique_name"]

        def on_conflict():
            # 400 "uniqueName already exists" (a replayed create, or a soft-deleted holder): adopt (§14)
            found = self._get_app_by_key(unique_name, lag=False)
            if found is not None:
                return None
            deleted = self.find_deleted(unique_name)
            if deleted is not None:
                raise MtpApiError(
                    "unique_name %s is held by a soft-deleted application (object id %s); set restore_deleted: "
                    "true to restore it, or choose another unique_name" % (unique_name, deleted["id"]),
                    status=400, code="Request_BadRequest")
            raise MtpApiError("unique_name %s is taken by an object this identity cannot read" % unique_name,
                              status=400, code="Request_BadRequest")

        def reconcile():
            # the upsert is keyed, so a lost answer is harmless: read the app (it may not be replicated yet)
            return self._get_app_by_key(unique_name, lag=False)

        resp = self._write("PATCH", path, json=body, headers={"Prefer": "create-if-missing"}, idempotent=True,
                           on_conflict=on_conflict, reconcile=reconcile)
        if isinstance(resp, dict):
            if current is None:
                self.fresh_ids.add(resp["id"])
            return resp if current is None else current
        created = getattr(resp, "status", None) == 201 and isinstance(getattr(resp, "json", None), dict) \
            and resp.json.get("id")
        if created:
            app = resp.json
            self.fresh_ids.add(app["id"])
            return app
        if current is not None:
            return current
        # 204 for an app we did not see (a replayed create whose 201 was lost): read it (lag-retried)
        app = self._get_app_by_key(unique_name, lag=True)
        self.fresh_ids.add(app["id"])
        return app

    def _get_sp(self, app_id):
        try:
            return self.client.get("graph", "/servicePrincipals(appId='%s')" % app_id,
                                   params={"$select": SP_SELECT}).json
        except MtpApiError as exc:
            if exc.status == 404:
                return None
            raise

    def _create_resource_sp(self, app_id):
        resp = self._write("POST", "/servicePrincipals", json={"appId": app_id}, idempotent=False,
                           reconcile=lambda: self._get_sp(app_id),
                           on_conflict=lambda: self._get_sp(app_id))
        doc = getattr(resp, "json", resp)
        self.fresh_ids.add(doc["id"])
        if "appRoles" not in doc:
            doc = self._get_sp(app_id) or doc
        return doc

    def _create_client_sp(self, app_id):
        def lookup():
            return self._get_sp(app_id)

        resp = self._write("POST", "/servicePrincipals", json={"appId": app_id}, idempotent=False, fresh=True,
                           reconcile=lookup, on_conflict=lookup, on_exists=lookup)
        doc = getattr(resp, "json", resp)
        self.fresh_ids.add(doc["id"])
        return doc

    def _assign(self, principal_id, resource_id, role_id):
        path = "/servicePrincipals/%s/appRoleAssignedTo" % resource_id
        body = {"principalId": principal_id, "resourceId": resource_id, "appRoleId": role_id}

        def reconcile():
            try:
                listing = self.client.get("graph", "/servicePrincipals/%s/appRoleAssignments" % principal_id).json
            except MtpApiError:
                return None
            for item in listing.get("value", []):
                if item.get("resourceId") == resource_id and item.get("appRoleId") == role_id:
                    return item
            return None

        # a duplicate is refused by the directory (400 "already exists"), so the call is safe to repeat
        return self._write("POST", path, json=body, idempotent=False, fresh=True, role=ROLE_ASSIGN,
                           reconcile=reconcile, on_exists=lambda: body)

    def _create_grant(self, client_id, resource_id, scope):
        def merge():
            listing = self.client.get("graph", "/oauth2PermissionGrants", params={
                "$filter": "clientId eq '%s' and consentType eq 'AllPrincipals'" % client_id}).json
            for grant in listing.get("value", []):
                if grant.get("resourceId") == resource_id:
                    have = split_scope(grant.get("scope"))
                    target = have + [s for s in split_scope(scope) if s not in have]
                    if target != have:
                        self._write("PATCH", "/oauth2PermissionGrants/%s" % grant["id"],
                                    json={"scope": " ".join(target)}, idempotent=True, role=ROLE_GRANT)
                    return grant
            return None

        body = {"clientId": client_id, "consentType": "AllPrincipals", "resourceId": resource_id, "scope": scope}
        return self._write("POST", "/oauth2PermissionGrants", json=body, idempotent=False, fresh=True,
                           role=ROLE_GRANT, reconcile=merge, on_conflict=merge)

    def _delete(self, path, role=ROLE_APP_WRITE):
        try:
            self._write("DELETE", path, idempotent=True, role=role)
        except MtpApiError as exc:
            if exc.status != 404:
                raise

    def _role_name(self, sp_docs, resource_id, role_id):
        for app_id, doc in sp_docs.items():
            if doc.get("id") == resource_id:
                for role in doc.get("appRoles") or []:
                    if role.get("id") == role_id:
                        return "%s:%s" % (resource_label(app_id, doc), role.get("value"))
                return "%s:%s" % (resource_label(app_id, doc), role_id)
        return "%s:%s" % (resource_id, role_id)

    def _credential(self, app, credential, cert, fics):
        p = self.p
        unique_name = p["unique_name"]
        app_id_path = "/applications/%s" % (app["id"] if app and app.get("id") else "(new)")
        fresh = bool(app and app.get("id") in self.fresh_ids)
        if credential == "none":
            return None
        if credential == "secret":
            add, keep, expired = secret_plan((app or {}).get("passwordCredentials"), unique_name, self.now(),
                                             int(p.get("rotate_before_days") or 30))
            meta = secret_metadata(keep) if keep else None
            if add:
                self.changed = True
                self._step("POST", app_id_path + "/addPassword", "add a client secret")
                if self.check_mode:
                    meta = {"type": "secret", "key_id": None, "display_name": secret_label(unique_name) + "(new)",
                            "end_date_time": None}
                else:
                    created = self._add_password(app, fresh)
                    meta = secret_metadata(created)
            for old in expired:
                self.changed = True
                self._step("POST", app_id_path + "/removePassword", "remove expired secret %s" % old.get("keyId"))
                if not self.check_mode:
                    self._write("POST", app_id_path + "/removePassword", json={"keyId": old["keyId"]},
                                idempotent=True)
            return meta
        if credential == "certificate":
            existing = (app or {}).get("keyCredentials") or []
            for cred in existing:
                if key_thumbprint(cred) == cert["thumbprint"]:
                    return cert_metadata(cred, cert["thumbprint"])
            self.changed = True
            self._step("PATCH", app_id_path, "upload certificate %s (keeping %d existing)"
                       % (cert["thumbprint"], len(existing)))
            entry = certificate_entry(cert, unique_name)
            if not self.check_mode:
                body = {"keyCredentials": [resend_key_credential(c) for c in existing] + [entry]}
                self._write("PATCH", app_id_path, json=body, idempotent=True, fresh=fresh)
            return cert_metadata(entry, cert["thumbprint"])
        if credential == "federated":
            wanted = federated_body(p["federated"])
            current = None
            for fic in fics or []:
                if fic.get("name") == wanted["name"]:
                    current = fic
            meta = {"type": "federated", "name": wanted["name"], "issuer": wanted["issuer"],
                    "subject": wanted["subject"], "audiences": wanted["audiences"]}
            if federated_differs(current, wanted):
                self.changed = True
                path = "%s/federatedIdentityCredentials(name='%s')" % (app_id_path, _quote(wanted["name"]))
                self._step("PATCH", path, "create or update federated credential %s" % wanted["name"])
                if not self.check_mode:
                    self._write("PATCH", path, json=wanted, headers={"Prefer": "create-if-missing"},
                                idempotent=True, fresh=True)
            return meta
        raise MtpConfigError("credential must be one of secret, certificate, federated, none", option="credential")

    def _add_password(self, app, fresh):
        """addPassword, trusting its response. After an ambiguous failure the secret this run labelled (its
        value lost) is removed and the call repeated, so no orphan secret is left behind."""
        label = "%s%s" % (secret_label(self.p["unique_name"]), format_graph_time(self.now()))
        lifetime = int(self.p.get("secret_lifetime_days") or 365)
        end = format_graph_time(self.now() + datetime.timedelta(days=lifetime))
        body = {"passwordCredential": {"displayName": label, "endDateTime": end}}
        path = "/applications/%s/addPassword" % app["id"]
        attempts = 0
        while True:
            attempts += 1
            try:
                resp = self._write("POST", path, json=body, idempotent=False, fresh=True)
            except MtpApiError as exc:
                status = error_info(exc)[0]
                if classify(status, None, "", ()) != AMBIGUOUS:
                    raise
                self._remove_orphans(app, label)
                if attempts >= 5:
                    exc.msg = "addPassword: the answer was lost %d times (the secret values never arrived; those " \
                              "secrets were removed again): %s" % (attempts, exc.msg)
                    exc.args = (exc.msg,)
                    raise
                continue
            cred = dict(resp.json)
            self.secret_value = cred.pop("secretText", None)
            self.partial.update({"app_id": app.get("appId"), "object_id": app.get("id"),
                                 "credential": secret_metadata(cred)})
            if self.secret_value is not None:
                self.partial["client_secret"] = self.secret_value
            if self.secret_value and self.p.get("secret_dest"):
                write_secret_file(self.p["secret_dest"], self.secret_value)
            return cred

    def _remove_orphans(self, app, label):
        try:
            current = self.client.get("graph", "/applications/%s" % app["id"],
                                      params={"$select": "id,passwordCredentials"}).json
        except MtpApiError:
            return
        for cred in current.get("passwordCredentials") or []:
            if cred.get("displayName") == label:
                try:
                    self._write("POST", "/applications/%s/removePassword" % app["id"],
                                json={"keyId": cred["keyId"]}, idempotent=True)
                except MtpApiError:
                    continue  # removed (answer lost) or gone already; the next listing tells

    def _wait_ready(self, app, resolved, cert):
        wanted = {}
        for perm in resolved:
            alias = ALIAS_BY_APP_ID.get(perm["resource_app_id"])
            if perm["type"] == "application" and alias:
                wanted.setdefault(TOKEN_RESOURCE[alias], set()).add(perm["name"])
        cert_path = (self.p.get("certificate") or {}).get("path") if cert and cert.get("has_private_key") else None
        if self.secret_value is None and cert_path is None:
            if self.p.get("credential") in ("secret", "certificate"):
                self.warn("wait_for_ready: no usable credential value in this run (the secret was not created now, "
                          "or the certificate file holds no private key); readiness was not probed")
            return
        self.probe(app["appId"], self.secret_value, cert_path, wanted, self.clock() + self.timeout)

    # --- absent ----------------------------------------------------------------------------------
    def run_absent(self):
        unique_name = self.p["unique_name"]
        app, _sp_docs = self.read([])
        result = {"unique_name": unique_name, "app_id": None, "object_id": None, "service_principal_id": None}
        if app is None:
            deleted = None
            if self.p.get("purge"):
                deleted = self.find_deleted(unique_name)
            if deleted is not None:
                path = "/directory/deletedItems/%s" % deleted["id"]
                self._step("DELETE", path, "purge the soft-deleted app")
                if not self.check_mode:
                    self._delete(path)
                self.changed = True
            result.update({"changed": self.changed, "plan": self.plan,
                           "diff": {"before": {"application": None}, "after": {"application": None}}})
            return result
        sp, grants = self._read_for_absent(app)
        result.update({"app_id": app["appId"], "object_id": app["id"], "service_principal_id": (sp or {}).get("id")})
        for grant in grants:
            path = "/oauth2PermissionGrants/%s" % grant["id"]
            self._step("DELETE", path, "remove delegated grant")
            if not self.check_mode:
                self._delete(path, role=ROLE_GRANT)
        if sp is not None:
            path = "/servicePrincipals/%s" % sp["id"]
            self._step("DELETE", path, "delete the service principal (and its app role assignments)")
            if not self.check_mode:
                self._delete(path)
        path = "/applications/%s" % app["id"]
        self._step("DELETE", path, "delete the application (soft delete)")
        if not self.check_mode:
            self._delete(path)
        if self.p.get("purge"):
            path = "/directory/deletedItems/%s" % app["id"]
            self._step("DELETE", path, "purge the application permanently")
            if not self.check_mode:
                self._purge(path)
        else:
            self.warn("the application is soft-deleted: its uniqueName %s stays reserved for up to 30 days; "
                      "restore it with restore_deleted: true or purge it with purge: true" % unique_name)
        self.changed = True
        result.update({"changed": True, "plan": self.plan, "diff": {
            "before": {"application": {"display_name": app.get("displayName"), "unique_name": unique_name,
                                       "app_id": app["appId"]},
                       "service_principal": bool(sp), "grants": len(grants)},
            "after": {"application": None, "service_principal": False, "grants": 0}}})
        return result

    def _read_for_absent(self, app):
        items = [("sp", "/servicePrincipals(appId='%s')?$select=id,appId" % app["appId"], False),
                 ("grants", "/servicePrincipals(appId='%s')/oauth2PermissionGrants" % app["appId"], False)]
        res = self._batch(items)
        sp = res["sp"][1] if res["sp"][0] == 200 else None
        grants = res["grants"][1].get("value", []) if res["grants"][0] == 200 else []
        return sp, grants

    def _purge(self, path):
        """The deleted app shows up in deletedItems after replication: retry 404 until the timeout."""
        self._write("DELETE", path, idempotent=True, fresh=True)

    # --- diff view --------------------------------------------------------------------------------
    def _state_view(self, app, sp, assignments, grants, password_credentials, sp_docs, keys=None, fics=None,
                    credential=None):
        if app is None:
            return {"application": None, "service_principal": None, "required_resource_access": [],
                    "app_role_assignments": [], "delegated_grants": {}, "credential": None}
        by_id = {}
        for app_id, doc in sp_docs.items():
            label = resource_label(app_id, doc)
            for role in doc.get("appRoles") or []:
                by_id[("Role", app_id, role["id"].lower())] = "%s:%s" % (label, role.get("value"))
            for scope in doc.get("oauth2PermissionScopes") or []:
                by_id[("Scope", app_id, scope["id"].lower())] = "%s:%s" % (label, scope.get("value"))
        rra = []
        for app_id, items in rra_to_sets(app.get("requiredResourceAccess")).items():
            for ident, kind in items:
                rra.append("%s %s" % ("application" if kind == "Role" else "delegated",
                                      by_id.get((kind, app_id, ident), "%s:%s" % (app_id, ident))))
        sp_label = {}
        for app_id, doc in sp_docs.items():
            if doc.get("id"):
                sp_label[doc["id"]] = app_id
        ara = []
        for assignment in assignments or []:
            app_id = sp_label.get(assignment.get("resourceId"))
            ara.append(by_id.get(("Role", app_id, (assignment.get("appRoleId") or "").lower()),
                                 "%s:%s" % (assignment.get("resourceId"), assignment.get("appRoleId"))))
        grant_view = {}
        for grant in grants or []:
            app_id = sp_label.get(grant.get("resourceId"))
            label = resource_label(app_id, sp_docs.get(app_id)) if app_id else grant.get("resourceId")
            grant_view[label] = sorted(split_scope(grant.get("scope")))
        if credential is None and password_credentials is not None:
            credential = self._current_credential_meta(app, password_credentials, keys, fics)
        return {"_app": app,
                "application": {"display_name": app.get("displayName"), "unique_name": app.get("uniqueName")},
                "service_principal": bool(sp),
                "required_resource_access": sorted(rra),
                "app_role_assignments": sorted(ara),
                "delegated_grants": grant_view,
                "credential": credential}

    def _current_credential_meta(self, app, password_credentials, keys, fics):
        credential = self.p.get("credential") or "secret"
        unique_name = self.p["unique_name"]
        if credential == "secret":
            mine = managed_secrets(password_credentials, unique_name)
            return secret_metadata(mine[0]) if mine else None
        if credential == "certificate":
            cert_opt = self.p.get("certificate") or {}
            try:
                thumb = load_certificate(cert_opt.get("path"), cert_opt.get("content"))["thumbprint"]
            except MtpError:
                return None
            for cred in keys or []:
                if key_thumbprint(cred) == thumb:
                    return cert_metadata(cred, thumb)
            return None
        if credential == "federated":
            for fic in fics or []:
                if fic.get("name") == (self.p.get("federated") or {}).get("name"):
                    return {"type": "federated", "name": fic.get("name"), "issuer": fic.get("issuer"),
                            "subject": fic.get("subject"), "audiences": fic.get("audiences")}
        return None


def _perm(role_or_scope, value, ident):
    return {"id": ident, "value": value, "isEnabled": True,
            "allowedMemberTypes": ["Application"] if role_or_scope == "Role" else None}


# Offline fallback used only to validate names (and plan) when a first-party resource SP is missing from the
# tenant; it is created before any assignment, and the ids from the tenant's own SP are used afterwards.
FIRST_PARTY_FALLBACK = {
    MTP_APP_ID: {
        "appRoles": [_perm("Role", v, i) for v, i in [
            ("AdvancedHunting.Read.All", "7734e8e5-8dde-42fc-b5ae-6eafea078693"),
            ("CustomDetections.ReadWrite.All", "a7deff90-e2f5-4e4e-83a3-2c74e7002e28"),
            ("Incident.Read.All", "a9790345-4595-42e4-971a-ccdc79f19b7c"),
            ("Incident.ReadWrite.All", "8d90f441-09cf-4fdc-ab45-e874fa3a28e8")]],
        "oauth2PermissionScopes": [_perm("Scope", v, i) for v, i in [
            ("AdvancedHunting.Read", "15f11de4-5113-4268-a2d1-0bad43d781f9"),
            ("CustomDetections.ReadWrite", "ddbb8d0c-c86b-4ece-bcb7-0f031a9cf103"),
            ("Incident.Read", "12c153a4-4204-4224-aa3c-4626e2f47c2b"),
            ("Incident.ReadWrite", "2af415cc-88cf-4146-a0c8-444c3a80d5db")]],
    },
    WDATP_APP_ID: {
        "appRoles": [_perm("Role", v, i) for v, i in [
            ("AdvancedQuery.Read.All", "93489bf5-0fbc-4f2d-b901-33f2fe08ff05"),
            ("Alert.Read.All", "71fe6b80-7034-4028-9ed8-0f316df9c3ff"),
            ("Machine.Read.All", "ea8291d3-4b9a-44b5-bc3a-6cea3026dc79"),
            ("Ti.Read.All", "528ca142-c849-4a5b-935e-10b8b9c38a84")]],
        "oauth2PermissionScopes": [_perm("Scope", v, i) for v, i in [
            ("AdvancedQuery.Read", "1fb6e712-1bd9-4184-b1c0-5e71e759196b")]],
    },
    GRAPH_APP_ID: {
        "appRoles": [_perm("Role", v, i) for v, i in [
            ("ThreatHunting.Read.All", "dd98c7f5-2d42-42d3-a0e4-633161547251"),
            ("SecurityIncident.Read.All", "45cc0394-e837-488b-a098-1918f48d186c"),
            ("SecurityIncident.ReadWrite.All", "34bf0e97-1971-4929-b999-9e2442d941d7"),
            ("SecurityAlert.Read.All", "472e4a4d-bb4a-4026-98d1-0b0d74cb74a5"),
            ("SecurityAlert.ReadWrite.All", "ed4fca05-be46-441f-9803-1873825f8fdb")]],
        "oauth2PermissionScopes": [_perm("Scope", v, i) for v, i in [
            ("ThreatHunting.Read.All", "b152eca8-ea73-4a48-8c98-1a6742673d99"),
            ("SecurityIncident.Read.All", "b9abcc4f-94fc-4457-9141-d20ce80ec952"),
            ("SecurityIncident.ReadWrite.All", "128ca929-1a19-45e6-a3b8-435ec44a36ba")]],
    },
}


# ---------------------------------------------------------------------------------------------------
# wait_for_ready: a client-credentials token with the NEW credential until its roles hold the permissions
# ---------------------------------------------------------------------------------------------------

PROBE_OPTIONS = ("tenant_id", "cloud", "authority_host", "api_url", "graph_url", "mde_url", "resources",
                 "validate_certs", "ca_path", "timeout")


class ReadinessProbe:
    """Callable used by :class:`AppSetup`. ``caller_options``: the task's own connection options (the
    onboarding identity's ``client_id``/secret are NOT copied: the probe authenticates as the new app)."""

    def __init__(self, caller_options, session=None, display=None, sleep=time.sleep, clock=time.time):
        self.options = dict((k, caller_options.get(k)) for k in PROBE_OPTIONS if caller_options.get(k) is not None)
        self.session = session
        self.display = display
        self.sleep = sleep
        self.clock = clock
        self.attempts = 0

    def _authenticator(self, client_id, secret, cert_path):
        from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
        from ansible_collections.m365.defender.plugins.module_utils._clouds import resolve_endpoints
        from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter

        values = dict(self.options, client_id=client_id, token_cache=False)
        if secret is not None:
            values.update(auth_method="client_secret", client_secret=secret)
        else:
            values.update(auth_method="certificate", certificate_path=cert_path)
        adapter = MtpOptionAdapter.from_dict(values)
        return MtpAuthenticator(adapter, endpoints=resolve_endpoints(adapter), session=self.session, display=None)

    def __call__(self, client_id, secret, cert_path, wanted, deadline):
        """Poll until a fresh token for every resource in ``wanted`` (``{"mtp": {roles}}``) carries those roles."""
        from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError

        remaining = dict((k, set(v)) for k, v in wanted.items()) or {"graph": set()}
        delay = 1.0
        last = None
        while True:
            self.attempts += 1
            try:
                auth = self._authenticator(client_id, secret, cert_path)
                for resource in sorted(remaining):
                    token = auth.get_token(resource, force_refresh=True)
                    roles = set(token.claims().get("roles") or [])
                    missing = remaining[resource] - roles
                    if missing:
                        last = "the %s token lacks the roles %s" % (resource, ", ".join(sorted(missing)))
                        break
                    remaining.pop(resource)
                if not remaining:
                    return self.attempts
            except MtpAuthError as exc:
                # AADSTS7000215 (secret not replicated), 700016 (app not found yet), 700027 (cert): lag
                last = "token request refused: %s" % exc.msg
            if self.clock() >= deadline:
                raise MtpError("wait_for_ready: the new credential was not ready within replication_timeout (%s)"
                               % last)
            self.sleep(delay)
            delay = min(delay * 2, LAG_DELAY_CAP)
