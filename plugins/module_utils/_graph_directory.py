# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Entra ID directory reads and writes through Microsoft Graph.

* :func:`graph_failure_kind` classifies a Graph failure per docs/developer/reference/graph-app-setup.md §12
  (replication lag, "already exists", conflicts, ambiguous outcomes, denials); the error itself is parsed
  once, in ``_api_errors.py``.
* :class:`Directory` holds the small API calls of app registration, each under an ``ErrorHandler`` context:
  key-addressed GETs inside ``$batch`` (lag-retried per item), and the §12-aware :meth:`Directory.write` that
  waits through replication lag with ``_retry.retry_call`` and, after an ambiguous failure of a
  non-idempotent call, reads and reconciles before it ever repeats the call.

Section numbers (§) in this file are those of docs/developer/reference/graph-app-setup.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.plugins.module_utils._api_errors import ErrorHandler
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError
from ansible_collections.m365.defender.plugins.module_utils._retry import (
    LAG_DELAY_CAP,
    Deadline,
    NotReady,
    retry_call,
    wait_until,
)

APP_SELECT = "id,appId,displayName,uniqueName,requiredResourceAccess,passwordCredentials,keyCredentials," \
    "isFallbackPublicClient,publicClient"
SP_SELECT = "id,appId,appRoles,oauth2PermissionScopes"

ROLE_APP_WRITE = "Application.ReadWrite.All"
ROLE_ASSIGN = "AppRoleAssignment.ReadWrite.All"
ROLE_GRANT = "DelegatedPermissionGrant.ReadWrite.All"

# A 403 "backing application ... must in the local tenant" is retried this long at most (§12).
LOCAL_TENANT_WAIT = 30.0

LAG = "lag"
EXISTS = "exists"
GRANT_CONFLICT = "grant_conflict"
UNIQUE_CONFLICT = "unique_conflict"
LOCAL_TENANT = "local_tenant"
AMBIGUOUS = "ambiguous"
NOT_FOUND = "not_found"
DENIED = "denied"
FATAL = "fatal"


def _bad_request_kind(code, text, details):
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


def graph_failure_kind(status, code, message, details=(), fresh=False):
    """The §12 kind of a Graph failure. ``fresh``: the object addressed was created or referenced in this
    run (a 404 then means replication lag)."""
    text = (message or "").lower()
    details = list(details or [])
    if status is None or (isinstance(status, int) and status >= 500):
        return AMBIGUOUS
    if status == 400:
        return _bad_request_kind(code, text, details)
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


def failure_kind(exc, fresh=False):
    """:func:`graph_failure_kind` of an ``MtpApiError`` (as built by ``_api_errors.api_error``)."""
    return graph_failure_kind(getattr(exc, "status", None), getattr(exc, "code", None),
                              getattr(exc, "service_message", None) or getattr(exc, "msg", ""),
                              getattr(exc, "details", None), fresh=fresh)


def quote(value):
    """``value`` inside an OData string literal."""
    return value.replace("'", "''")


def _explain(exc, method, path, role):
    """Name the permission a refused write needs (the message already holds the service's answer)."""
    kind = getattr(exc, "graph_kind", None)
    if kind == LOCAL_TENANT:
        exc.hint = "creating this service principal needs %s (Application.ReadWrite.OwnedBy is not enough)" \
            % ROLE_APP_WRITE
    elif kind == DENIED:
        if role not in exc.msg:
            exc.msg = "%s; %s %s needs the Graph application permission %s" % (
                exc.msg, method, path.split("?")[0], role)
            exc.args = (exc.msg,)
        exc.hint = "grant %s to the onboarding identity (admin consent) or use another identity" % role


class Directory:
    """Graph directory calls for one run. ``timeout``: the replication timeout in seconds; ``sleep`` and
    ``clock`` are injected by tests. ``fresh_ids`` holds the objects created in this run."""

    def __init__(self, client, timeout, sleep=None, clock=None):
        self.client = client
        self.timeout = float(timeout)
        self.sleep = sleep
        self.clock = clock
        self.fresh_ids = set()

    # --- reads ------------------------------------------------------------------------------------
    def batch_get(self, items, what="read the directory"):
        """GETs through ``$batch``: ``[(id, url, lag)]`` -> ``{id: (status, json)}``. A 404 on an item with
        ``lag`` is asked again until the replication timeout; any other failure raises."""
        with ErrorHandler.context(what):
            return self._batch_get(items)

    def _batch_get(self, items):
        out = {}
        pending = list(items)
        lag = Deadline(self.timeout, self.clock)

        def probe():
            answers = self.client.batch([{"id": i, "method": "GET", "url": u} for i, u, _lag in pending])
            retry = []
            for ident, url, may_lag in pending:
                resp = answers.get(ident)
                status = getattr(resp, "status", None)
                if status == 404 and may_lag and not lag.expired():
                    retry.append((ident, url, may_lag))
                    continue
                if status is not None and status >= 400 and status != 404:
                    raise self.client.batch_error({"id": ident, "method": "GET", "url": url}, resp)
                out[ident] = (status, getattr(resp, "json", None) or {})
            pending[:] = retry
            if pending:
                raise NotReady("%s not found yet" % ", ".join(u for _i, u, _l in pending))
            return out

        return wait_until(probe, self.timeout + 2 * LAG_DELAY_CAP, "reading the directory", sleep=self.sleep,
                          clock=self.clock)

    def read_app(self, unique_name, app_id, resource_app_ids):
        """Batch A: ``(app by key, app by app_id, {resource app_id: SP doc})`` (``None`` where absent)."""
        items = []
        if app_id:
            items.append(("app", "/applications(appId='%s')?$select=%s" % (quote(app_id), APP_SELECT), False))
        items.append(("key", "/applications(uniqueName='%s')?$select=%s" % (quote(unique_name), APP_SELECT), False))
        for index, resource in enumerate(resource_app_ids):
            items.append(("r%d" % index, "/servicePrincipals(appId='%s')?$select=%s" % (resource, SP_SELECT), False))
        res = self.batch_get(items, "read application %s and its resource service principals" % unique_name)
        found = dict((k, v[1]) for k, v in res.items() if v[0] == 200)
        sp_docs = dict((resource, found["r%d" % i]) for i, resource in enumerate(resource_app_ids)
                       if "r%d" % i in found)
        return found.get("key"), found.get("app"), sp_docs

    def read_client_side(self, app, grants=False, federated=False):
        """Batch B: ``(sp, app role assignments, grants, federated credentials)`` of the app."""
        app_id = app["appId"]
        items = [("sp", "/servicePrincipals(appId='%s')?$select=id,appId,displayName" % app_id, False),
                 ("ara", "/servicePrincipals(appId='%s')/appRoleAssignments?$select=id,appRoleId,resourceId,"
                         "principalId" % app_id, False)]
        if grants:
            items.append(("grants", "/servicePrincipals(appId='%s')/oauth2PermissionGrants" % app_id, False))
        if federated:
            items.append(("fic", "/applications/%s/federatedIdentityCredentials" % app["id"],
                          app["id"] in self.fresh_ids))
        res = self.batch_get(items, "read the service principal of app %s" % app_id)

        def values(key):
            return res[key][1].get("value", []) if key in res and res[key][0] == 200 else []

        sp = res["sp"][1] if res["sp"][0] == 200 else None
        return sp, values("ara"), values("grants"), values("fic")

    def read_for_absent(self, app):
        """``(sp or None, grants)`` of an app about to be deleted."""
        items = [("sp", "/servicePrincipals(appId='%s')?$select=id,appId" % app["appId"], False),
                 ("grants", "/servicePrincipals(appId='%s')/oauth2PermissionGrants" % app["appId"], False)]
        res = self.batch_get(items, "read the service principal of app %s" % app["appId"])
        sp = res["sp"][1] if res["sp"][0] == 200 else None
        return sp, res["grants"][1].get("value", []) if res["grants"][0] == 200 else []

    @ErrorHandler.common("list soft-deleted applications")
    def find_deleted(self, unique_name):
        """The soft-deleted app holding ``unique_name`` (client-side filter, §2.4), or None."""
        for item in self.client.paginate("graph", "/directory/deletedItems/microsoft.graph.application",
                                         params={"$select": "id,appId,displayName,uniqueName"}):
            if item.get("uniqueName") == unique_name:
                return item
        return None

    @ErrorHandler.common("list applications named {display_name}")
    def apps_named(self, display_name):
        return list(self.client.paginate("graph", "/applications", params={
            "$filter": "displayName eq '%s'" % quote(display_name), "$select": APP_SELECT}))

    @ErrorHandler.common("read application {unique_name}")
    def get_app_by_key(self, unique_name, lag=True):
        """The app by its key; with ``lag`` a 404 is asked again until the timeout, else it gives ``None``."""
        path = "/applications(uniqueName='%s')" % quote(unique_name)

        def get():
            return self.client.get("graph", path, params={"$select": APP_SELECT}).json

        if lag:
            return retry_call(get, lambda exc: getattr(exc, "status", None) == 404, self.timeout, sleep=self.sleep,
                              clock=self.clock)
        try:
            return get()
        except MtpApiError as exc:
            if exc.status != 404:
                raise
            return None

    @ErrorHandler.list_handler("read the service principal of app {app_id}", default=lambda: None)
    def get_sp(self, app_id):
        return self.client.get("graph", "/servicePrincipals(appId='%s')" % app_id, params={"$select": SP_SELECT}).json

    # --- the §12-aware write ----------------------------------------------------------------------
    def write(self, method, path, json=None, headers=None, idempotent=None, fresh=False, role=ROLE_APP_WRITE,
              reconcile=None, on_exists=None, on_conflict=None):
        """One write with §12 handling. ``reconcile()`` is called after an ambiguous failure (timeout, 5xx,
        reset) of a non-idempotent call: it returns a result if the write turns out to have committed, else
        None (then the write is retried). ``on_exists``/``on_conflict`` answer "already exists" and conflicts."""
        call = getattr(self.client, method.lower())
        local = Deadline(min(self.timeout, LOCAL_TENANT_WAIT), self.clock)

        def attempt():
            try:
                return call("graph", path, json=json, headers=headers, idempotent=idempotent)
            except MtpApiError as exc:
                exc.graph_kind = kind = failure_kind(exc, fresh=fresh)
                if kind == EXISTS and on_exists is not None:
                    return on_exists()
                if kind in (GRANT_CONFLICT, UNIQUE_CONFLICT) and on_conflict is not None:
                    return on_conflict()
                if kind == AMBIGUOUS and reconcile is not None:
                    found = reconcile()
                    if found is not None:
                        return found
                    exc.graph_retry = True
                raise

        def retryable(exc):
            kind = getattr(exc, "graph_kind", None)
            return kind == LAG or (kind == LOCAL_TENANT and not local.expired()) or getattr(exc, "graph_retry", False)

        try:
            return retry_call(attempt, retryable, self.timeout, sleep=self.sleep, clock=self.clock)
        except MtpApiError as exc:
            _explain(exc, method, path, role)
            raise

    @ErrorHandler.deletion_handler("delete {path}")
    def delete(self, path, role=ROLE_APP_WRITE):
        self.write("DELETE", path, idempotent=True, role=role)
        return True

    @ErrorHandler.common("purge {path}")
    def purge(self, path):
        """The deleted app shows up in deletedItems after replication: a 404 is retried until the timeout."""
        self.write("DELETE", path, idempotent=True, fresh=True)

    # --- applications -----------------------------------------------------------------------------
    @ErrorHandler.common("restore the soft-deleted application {deleted_id}")
    def restore(self, deleted_id, unique_name):
        self.write("POST", "/directory/deletedItems/%s/restore" % deleted_id, json={},
                   reconcile=lambda: self.get_app_by_key(unique_name, lag=False))
        self.fresh_ids.add(deleted_id)
        return self.get_app_by_key(unique_name, lag=True)

    @ErrorHandler.common("update application {object_id}")
    def patch_app(self, object_id, body, fresh=False):
        self.write("PATCH", "/applications/%s" % object_id, json=body, idempotent=True, fresh=fresh)

    def _unique_conflict(self, unique_name):
        """400 "uniqueName already exists" (a replayed create, or a soft-deleted holder): adopt (§14)."""
        if self.get_app_by_key(unique_name, lag=False) is not None:
            return None
        deleted = self.find_deleted(unique_name)
        if deleted is not None:
            raise MtpApiError(
                "unique_name %s is held by a soft-deleted application (object id %s); set restore_deleted: "
                "true to restore it, or choose another unique_name" % (unique_name, deleted["id"]),
                status=400, code="Request_BadRequest")
        raise MtpApiError("unique_name %s is taken by an object this identity cannot read" % unique_name,
                          status=400, code="Request_BadRequest")

    @ErrorHandler.common("create or update application {unique_name}")
    def upsert_app(self, unique_name, body, current):
        """The keyed upsert: a lost answer is harmless, the app is read back (it may not be replicated yet)."""
        resp = self.write("PATCH", "/applications(uniqueName='%s')" % quote(unique_name), json=body,
                          headers={"Prefer": "create-if-missing"}, idempotent=True,
                          on_conflict=lambda: self._unique_conflict(unique_name),
                          reconcile=lambda: self.get_app_by_key(unique_name, lag=False))
        if isinstance(resp, dict):
            if current is None:
                self.fresh_ids.add(resp["id"])
            return resp if current is None else current
        if getattr(resp, "status", None) == 201 and isinstance(getattr(resp, "json", None), dict) \
                and resp.json.get("id"):
            self.fresh_ids.add(resp.json["id"])
            return resp.json
        if current is not None:
            return current
        # 204 for an app we did not see (a replayed create whose 201 was lost): read it (lag-retried)
        app = self.get_app_by_key(unique_name, lag=True)
        self.fresh_ids.add(app["id"])
        return app

    # --- service principals, assignments, grants ----------------------------------------------------
    @ErrorHandler.common("create the service principal of app {app_id}")
    def create_sp(self, app_id, client_side=False):
        """``POST /servicePrincipals``; a conflict, an "exists" or a lost answer reads the SP instead."""
        def lookup():
            return self.get_sp(app_id)

        resp = self.write("POST", "/servicePrincipals", json={"appId": app_id}, idempotent=False, fresh=client_side,
                          reconcile=lookup, on_conflict=lookup, on_exists=lookup if client_side else None)
        doc = getattr(resp, "json", resp)
        self.fresh_ids.add(doc["id"])
        if not client_side and "appRoles" not in doc:
            doc = self.get_sp(app_id) or doc
        return doc

    def _find_assignment(self, principal_id, resource_id, role_id):
        try:
            listing = self.client.get("graph", "/servicePrincipals/%s/appRoleAssignments" % principal_id).json
        except MtpApiError:
            return None
        for item in listing.get("value", []):
            if item.get("resourceId") == resource_id and item.get("appRoleId") == role_id:
                return item
        return None

    @ErrorHandler.common("assign app role {role_id} of {resource_id}")
    def assign(self, principal_id, resource_id, role_id):
        """A duplicate is refused by the directory (400 "already exists"), so the call is safe to repeat."""
        body = {"principalId": principal_id, "resourceId": resource_id, "appRoleId": role_id}
        return self.write("POST", "/servicePrincipals/%s/appRoleAssignedTo" % resource_id, json=body,
                          idempotent=False, fresh=True, role=ROLE_ASSIGN, on_exists=lambda: body,
                          reconcile=lambda: self._find_assignment(principal_id, resource_id, role_id))

    @ErrorHandler.common("set the delegated scopes of grant {grant_id}")
    def update_grant(self, grant_id, scope):
        self.write("PATCH", "/oauth2PermissionGrants/%s" % grant_id, json={"scope": scope}, idempotent=True,
                   role=ROLE_GRANT)

    def _merge_grant(self, client_id, resource_id, scope, principal_id=None):
        who = "principalId eq '%s'" % principal_id if principal_id else "consentType eq 'AllPrincipals'"
        flt = "clientId eq '%s' and %s" % (client_id, who)
        listing = self.client.get("graph", "/oauth2PermissionGrants", params={"$filter": flt}).json
        for grant in listing.get("value", []):
            if grant.get("resourceId") == resource_id:
                have = [s for s in (grant.get("scope") or "").split(" ") if s]
                target = have + [s for s in scope.split(" ") if s and s not in have]
                if target != have:
                    self.update_grant(grant["id"], " ".join(target))
                return grant
        return None

    @ErrorHandler.common("grant the delegated scopes {scope}")
    def create_grant(self, client_id, resource_id, scope, principal_id=None):
        """An ``AllPrincipals`` grant, or with ``principal_id`` the user's ``Principal`` grant (§5). A conflict or
        a lost answer merges into the grant that exists."""
        def merge():
            return self._merge_grant(client_id, resource_id, scope, principal_id)

        body = {"clientId": client_id, "consentType": "Principal" if principal_id else "AllPrincipals",
                "principalId": principal_id, "resourceId": resource_id, "scope": scope}
        return self.write("POST", "/oauth2PermissionGrants", json=body, idempotent=False, fresh=True, role=ROLE_GRANT,
                          reconcile=merge, on_conflict=merge)

    # --- credentials ------------------------------------------------------------------------------
    def _password_labelled(self, object_id, label):
        try:
            current = self.client.get("graph", "/applications/%s" % object_id,
                                      params={"$select": "id,passwordCredentials"}).json
        except MtpApiError:
            return []
        return [c for c in current.get("passwordCredentials") or [] if c.get("displayName") == label]

    def remove_orphans(self, object_id, label):
        """Remove the secrets labelled ``label`` whose value was lost with an answer."""
        for cred in self._password_labelled(object_id, label):
            try:
                self.remove_password(object_id, cred["keyId"])
            except MtpApiError:
                continue  # removed (answer lost) or gone already; the next listing tells

    @ErrorHandler.common("add password to app {object_id}")
    def add_password(self, object_id, body, attempts=5):
        """addPassword, trusting its response. After an ambiguous failure the secret this run labelled (its
        value lost) is removed and the call repeated, so no orphan secret is left behind."""
        label = body["passwordCredential"]["displayName"]
        for attempt in range(1, attempts + 1):
            try:
                return dict(self.write("POST", "/applications/%s/addPassword" % object_id, json=body,
                                       idempotent=False, fresh=True).json)
            except MtpApiError as exc:
                if failure_kind(exc) != AMBIGUOUS:
                    raise
                self.remove_orphans(object_id, label)
                if attempt >= attempts:
                    exc.msg = "addPassword: the answer was lost %d times (the secret values never arrived; those " \
                              "secrets were removed again): %s" % (attempt, exc.msg)
                    exc.args = (exc.msg,)
                    raise
        return None  # pragma: no cover - the loop returns or raises

    @ErrorHandler.common("remove password {key_id} from app {object_id}")
    def remove_password(self, object_id, key_id):
        self.write("POST", "/applications/%s/removePassword" % object_id, json={"keyId": key_id}, idempotent=True)

    @ErrorHandler.common("upload a certificate to app {object_id}")
    def set_key_credentials(self, object_id, key_credentials, fresh=False):
        self.write("PATCH", "/applications/%s" % object_id, json={"keyCredentials": key_credentials},
                   idempotent=True, fresh=fresh)

    @ErrorHandler.common("create or update the federated credential {body[name]}")
    def upsert_federated(self, object_id, body):
        self.write("PATCH", "/applications/%s/federatedIdentityCredentials(name='%s')" % (object_id, quote(body["name"])),
                   json=body, headers={"Prefer": "create-if-missing"}, idempotent=True, fresh=True)
