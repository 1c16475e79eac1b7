# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Entra ID app registration for Defender XDR (``mtp_aad_app_setup``).

:class:`AppSetup` runs the ordered ``ensure_*`` steps: resource service principals, the application (restored,
adopted or upserted by its ``uniqueName``, so a replayed create can never make a second app), the client
service principal, app role assignments, delegated grants and the credential; or, for ``state: absent``,
their removal. Every input is checked before the first write (:meth:`AppSetup.validate`). In check mode each
step records its write in ``plan`` and predicts its result instead of writing. The pieces live beside it:
permissions in ``_app_permissions.py``, delegated consent and the public-client settings in ``_app_consent.py``
(the ``ensure_grants`` step), credentials in ``_app_credentials.py``, the readiness probe in
``_app_readiness.py`` and the Graph calls (docs/developer/reference/graph-app-setup.md §12, §13) in
``_graph_directory.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.m365.defender.plugins.module_utils._app_consent import (
    ConsentSteps,
    check_client_type,
    client_type_changes,
    client_type_of,
    consent_setting,
    principal_labels,
)
from ansible_collections.m365.defender.plugins.module_utils._app_credentials import (
    cert_metadata,
    certificate_entry,
    check_certificate_validity,
    check_secret_dest,
    federated_body,
    federated_differs,
    federated_metadata,
    find_key,
    load_certificate,
    managed_secrets,
    password_body,
    predicted_secret,
    resend_key_credential,
    secret_metadata,
    secret_plan,
    validate_federated,
    validate_secret_lifetime,
    write_secret_file,
)
from ansible_collections.m365.defender.plugins.module_utils._app_permissions import (
    assignment_changes,
    consented,
    default_unique_name,
    desired_rra,
    first_party_api,
    merge_requests,
    permission_view,
    resolve_permissions,
    resource_label,
    role_name,
    rra_to_sets,
    sets_to_rra,
    validate_unique_name,
    wanted_assignments,
    wanted_scopes,
)
from ansible_collections.m365.defender.plugins.module_utils._app_readiness import wanted_roles
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._graph_directory import (
    ROLE_ASSIGN,
    ROLE_GRANT,
    Directory,
    quote,
)
from ansible_collections.m365.defender.plugins.module_utils._permissions import FIRST_PARTY_PERMISSIONS
from ansible_collections.m365.defender.plugins.module_utils._resource import changes, ensure_absent, make_diff, predict

EMPTY_VIEW = {"application": None, "service_principal": None, "required_resource_access": [],
              "app_role_assignments": [], "delegated_grants": {}, "credential": None}


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def prepare_params(params):
    """The module options checked and completed before any network call (``unique_name`` derived)."""
    params = dict(params)
    if params.get("unique_name") is None:
        if not params.get("display_name"):
            raise MtpConfigError("unique_name or display_name is required", option="unique_name")
        params["unique_name"] = default_unique_name(params["display_name"])
    validate_unique_name(params["unique_name"])
    # unknown presets and resources
    merge_requests(params.get("permissions"), params.get("presets"), params.get("delegated_presets"))
    params["credential"] = check_client_type(params)  # a public client has no secret or certificate
    consent_setting(params.get("consent"))
    if params.get("app_id") and params.get("adopt_by_display_name"):
        raise MtpConfigError("app_id and adopt_by_display_name are mutually exclusive", option="app_id")
    cert = params.get("certificate") or {}
    if params.get("credential") == "certificate" and not cert.get("path") and not cert.get("content"):
        raise MtpConfigError("credential=certificate needs certificate.path or certificate.content",
                             option="certificate")
    if params.get("credential") == "federated" and not params.get("federated"):
        raise MtpConfigError("credential=federated needs federated", option="federated")
    if (params.get("rotate_before_days") or 0) < 0:
        raise MtpConfigError("rotate_before_days must be >= 0", option="rotate_before_days")
    return params


def task_result(result, params, diff):
    """The module's return value: ``tenant_id`` added, ``diff`` only with ``--diff``."""
    result["tenant_id"] = params.get("tenant_id")
    view = result.pop("diff", None)
    if diff and view is not None:
        result["diff"] = view
    return result


def failure_extras(setup):
    """What a failed run returns beside the error: a secret created before the failure is never lost."""
    partial = dict(getattr(setup, "partial", None) or {})
    if partial:
        partial["changed"] = True
    return partial


class AppSetup(ConsentSteps):
    """One ``mtp_aad_app_setup`` run. ``params`` are the module options; ``client`` an ``MtpClient``."""

    def __init__(self, client, params, check_mode=False, warn=None, sleep=None, clock=None, now=_utcnow, probe=None):
        self.p = dict(params)
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.now = now
        self.probe = probe  # callable(app_id, secret, cert_path, {api: roles}, timeout) for wait_for_ready
        self.timeout = float(params.get("replication_timeout") or 300)
        self.dir = Directory(client, self.timeout, sleep=sleep, clock=clock)
        self.plan = []
        self.changed = False
        self.secret_value = None
        self.cert = None
        # what exists so far, returned with a failure so a created secret is never lost (module main())
        self.partial = {}
        self._requests = []
        self._labels = {}  # {user object id: user as given in consent.users}, for the diff

    @property
    def credential(self):
        return self.p.get("credential") or "secret"

    def _apply(self, method, path, why, action):
        """One write of the plan: recorded, and run unless in check mode (then ``None`` is returned)."""
        self.plan.append({"method": method, "path": path, "reason": why})
        self.changed = True
        return None if self.check_mode else action()

    def _remove(self, current, path, why, role=None):
        """Delete ``current`` at ``path`` when it exists (``_resource.ensure_absent``)."""
        if current is None:
            return
        self.plan.append({"method": "DELETE", "path": path, "reason": why})
        kwargs = {"role": role} if role else {}
        changed, _gone = ensure_absent(current, lambda _obj: self.dir.delete(path, **kwargs), self.check_mode)
        self.changed = self.changed or changed

    def run(self):
        validate_unique_name(self.p["unique_name"])
        self._requests = merge_requests(self.p.get("permissions"), self.p.get("presets"),
                                        self.p.get("delegated_presets"))
        self.p["credential"] = check_client_type(self.p)
        consent_setting(self.p.get("consent"))
        if self.p.get("state", "present") == "absent":
            return self.run_absent()
        return self.run_present()

    # --- checks and reads before any write ---------------------------------------------------------
    def validate(self):
        """Every credential input is checked before the first write (and before any read)."""
        if self.credential == "secret":
            validate_secret_lifetime(int(self.p.get("secret_lifetime_days") or 365))
            check_secret_dest(self.p.get("secret_dest"))
        elif self.credential == "certificate":
            cert_opt = self.p.get("certificate") or {}
            self.cert = check_certificate_validity(load_certificate(cert_opt.get("path"), cert_opt.get("content")),
                                                   self.now())
        elif self.credential == "federated":
            validate_federated(self.p.get("federated"))

    def read_app(self, requests):
        """Batch A: ``(app or None, {app_id: resource SP doc})``, checking ``app_id`` against ``unique_name``."""
        unique_name, app_id = self.p["unique_name"], self.p.get("app_id")
        app, by_id, sp_docs = self.dir.read_app(unique_name, app_id, [a for a, _w in requests])
        if not app_id:
            return app, sp_docs
        if by_id is None:
            raise MtpApiError("app_id %s: no application with that appId in the tenant" % app_id,
                              status=404, code="Request_ResourceNotFound")
        if app is not None and app["id"] != by_id["id"]:
            raise MtpConfigError("unique_name %s already belongs to another application (appId %s), not to app_id %s"
                                 % (unique_name, app.get("appId"), app_id), option="unique_name")
        if by_id.get("uniqueName") not in (None, unique_name):
            raise MtpConfigError("app_id %s already has the uniqueName %s (immutable); set unique_name to it"
                                 % (app_id, by_id["uniqueName"]), option="unique_name")
        return by_id, sp_docs

    def _existing(self, app):
        """``(app, adopted, restored)``: the app found by key, else adopted by display name, else the
        soft-deleted app to restore."""
        p, unique_name = self.p, self.p["unique_name"]
        adopted = restored = None
        if app is None and p.get("adopt_by_display_name"):
            named = self.dir.apps_named(p["display_name"])
            if len(named) != 1:
                raise MtpConfigError("adopt_by_display_name: %d applications are named %r; adoption needs exactly "
                                     "one (give app_id)" % (len(named), p["display_name"]),
                                     option="adopt_by_display_name")
            adopted = app = named[0]
            if adopted.get("uniqueName") not in (None, unique_name):
                raise MtpConfigError("the application named %r already has uniqueName %s; set unique_name to it"
                                     % (p["display_name"], adopted["uniqueName"]), option="unique_name")
        if app is None and p.get("restore_deleted"):
            restored = self.dir.find_deleted(unique_name)
        if app is None and restored is None and not p.get("display_name"):
            raise MtpConfigError("display_name is required to create the application (no application holds "
                                 "unique_name %s)" % unique_name, option="display_name")
        return app, adopted, restored

    def _client_side(self, app):
        if app is None:
            return None, [], [], []
        grants = any(w["delegated"] for _a, w in self._requests) or bool(self.p.get("purge_permissions"))
        return self.dir.read_client_side(app, grants=grants, federated=self.credential == "federated")

    # --- present ------------------------------------------------------------------------------------
    def run_present(self):
        self.validate()
        app, sp_docs = self.read_app(self._requests)
        # Names are resolved before any write: a first-party resource SP that is missing is created later, and
        # its names are resolved from the published first-party definitions until then.
        missing = [a for a, _w in self._requests if a not in sp_docs and first_party_api(a)]
        offline = dict(sp_docs, **dict((a, FIRST_PARTY_PERMISSIONS[a]) for a in missing))
        resolved = resolve_permissions(self._requests, offline)
        app, adopted, restored = self._existing(app)
        self.p["credential"] = check_client_type(self.p, app or restored or {})
        user_ids = self.resolve_users()  # consent.users, before any write
        self._labels = principal_labels(user_ids)
        sp, assignments, grants, fics = self._client_side(app)
        before = self._view(app, sp, assignments, grants, sp_docs, self._current_credential(app, fics))

        resolved = self.ensure_resource_sps(missing, sp_docs, offline) or resolved
        if restored is not None:
            app = self.ensure_restored(restored)
            if not self.check_mode:
                sp, assignments, grants, fics = self._client_side(app)
        app, predicted = self.ensure_application(app, resolved)
        sp = self.ensure_client_sp(app, sp)
        assignments = self.ensure_assignments(sp, sp_docs, resolved, assignments)
        grants = self.ensure_grants(sp, wanted_scopes(resolved, sp_docs), grants, user_ids)
        cred_meta = self.ensure_credential(app, fics)
        after = self._view(predicted, sp or {"id": "(new)"}, assignments, grants, sp_docs, cred_meta)
        if self.p.get("wait_for_ready") and not self.check_mode and self.probe is not None:
            self._wait_ready(app, resolved)
        result = {"unique_name": self.p["unique_name"], "changed": self.changed, "app_id": (app or {}).get("appId"),
                  "object_id": (app or {}).get("id"), "service_principal_id": (sp or {}).get("id"),
                  "display_name": predicted["displayName"], "permissions": resolved,
                  "consented": consented(resolved, sp_docs, assignments), "credential": cred_meta,
                  "client_type": client_type_of(predicted), "delegated_grants": self.grant_result(grants, sp_docs),
                  "plan": self.plan, "diff": make_diff(before, after)}
        result.update((k, True) for k, v in (("adopted", adopted), ("restored", restored)) if v is not None)
        if self.secret_value is not None:
            result["client_secret"] = self.secret_value
        return result

    def ensure_resource_sps(self, missing, sp_docs, offline):
        """Create the first-party resource SPs the tenant lacks; the permissions resolved again from them."""
        for app_id in missing:
            doc = self._apply("POST", "/servicePrincipals", "create the %s service principal in the tenant"
                              % resource_label(app_id), lambda a=app_id: self.dir.create_sp(a))
            if doc is not None:
                sp_docs[app_id] = offline[app_id] = doc
        if missing and not self.check_mode:
            return resolve_permissions(self._requests, offline)
        return None

    def ensure_restored(self, restored):
        path = "/directory/deletedItems/%s/restore" % restored["id"]
        app = self._apply("POST", path, "restore the soft-deleted app",
                          lambda: self.dir.restore(restored["id"], self.p["unique_name"]))
        return restored if app is None else app

    def ensure_application(self, app, resolved):
        """Create or update the app: ``(app as it now is or None in check mode, predicted app)``."""
        p, unique_name = self.p, self.p["unique_name"]
        current_rra = (app or {}).get("requiredResourceAccess") or []
        target = desired_rra(current_rra, resolved, p.get("purge_permissions"))
        display_name = p.get("display_name") or (app or {}).get("displayName") or unique_name
        body = {"displayName": display_name, "requiredResourceAccess": sets_to_rra(target)}
        kind = client_type_changes(app, p.get("client_type"), p.get("cloud"))
        body.update(kind)
        self._warn_credentials_kept(app, kind)
        differs = app is None or rra_to_sets(current_rra) != target or bool(kind) \
            or changes(app, {"displayName": p.get("display_name"), "uniqueName": unique_name})
        if differs and app is not None and app.get("uniqueName") is None:
            # adoption of a legacy app: set its uniqueName once (allowed while it is null)
            body["uniqueName"] = unique_name
            self._apply("PATCH", "/applications/%s" % app["id"], "set uniqueName on the adopted app and update its "
                        "permissions", lambda: self.dir.patch_app(app["id"], body))
        elif differs:
            if app is None:
                body.update(signInAudience="AzureADMyOrg",
                            notes="Managed by m365.defender.mtp_aad_app_setup (uniqueName %s)" % unique_name)
            written = self._apply("PATCH", "/applications(uniqueName='%s')" % quote(unique_name),
                                  "create the app (upsert)" if app is None else "update the app",
                                  lambda: self.dir.upsert_app(unique_name, body, app))
            app = written if written is not None else app
        predicted = predict(app or {"id": None, "appId": None},
                            dict(kind, displayName=display_name, uniqueName=unique_name,
                                 requiredResourceAccess=sets_to_rra(target)))
        return (predicted if app is not None else None), predicted

    def _warn_credentials_kept(self, app, kind):
        """A confidential app made public in place keeps its secrets and certificates: say so."""
        if app is None or kind.get("isFallbackPublicClient") is not True:
            return
        held = len(app.get("passwordCredentials") or []) + len(app.get("keyCredentials") or [])
        if held:
            self.warn("client_type=public: the app was confidential and still holds %d client secret(s) or "
                      "certificate(s); they are kept (remove them in Entra ID when nothing uses them)" % held)

    def ensure_client_sp(self, app, sp):
        if sp is not None:
            return sp
        return self._apply("POST", "/servicePrincipals", "create the app's service principal",
                           lambda: self.dir.create_sp(app["appId"], client_side=True))

    def ensure_assignments(self, sp, sp_docs, resolved, assignments):
        """App role assignments (admin consent of application permissions); returns them as they now are."""
        to_add, to_remove = assignment_changes(assignments, wanted_assignments(resolved, sp_docs),
                                               self.p.get("purge_permissions"))
        after = list(assignments)
        for resource_id, role_id in to_add:
            self._apply("POST", "/servicePrincipals/%s/appRoleAssignedTo" % resource_id,
                        "grant app role %s" % role_name(sp_docs, resource_id, role_id),
                        lambda r=resource_id, a=role_id: self.dir.assign(sp["id"], r, a))
            after.append({"resourceId": resource_id, "appRoleId": role_id})
        for assignment in to_remove:
            path = "/servicePrincipals/%s/appRoleAssignedTo/%s" % (assignment["resourceId"], assignment["id"])
            self._remove(assignment, path,
                         "remove app role %s" % role_name(sp_docs, assignment["resourceId"], assignment["appRoleId"]),
                         role=ROLE_ASSIGN)
            after.remove(assignment)
        return after

    # --- the credential -----------------------------------------------------------------------------
    def ensure_credential(self, app, fics):
        path = "/applications/%s" % (app["id"] if app and app.get("id") else "(new)")
        if self.credential == "secret":
            return self._ensure_secret(app, path)
        if self.credential == "certificate":
            return self._ensure_certificate(app, path)
        if self.credential == "federated":
            return self._ensure_federated(app, path, fics)
        return None

    def _ensure_secret(self, app, path):
        unique_name = self.p["unique_name"]
        add, keep, expired = secret_plan((app or {}).get("passwordCredentials"), unique_name, self.now(),
                                         int(self.p.get("rotate_before_days") or 30))
        meta = secret_metadata(keep) if keep else None
        if add:
            created = self._apply("POST", path + "/addPassword", "add a client secret", lambda: self._add_password(app))
            meta = predicted_secret(unique_name) if created is None else secret_metadata(created)
        for old in expired:
            self._apply("POST", path + "/removePassword", "remove expired secret %s" % old.get("keyId"),
                        lambda k=old["keyId"]: self.dir.remove_password(app["id"], k))
        return meta

    def _add_password(self, app):
        _label, body = password_body(self.p["unique_name"], self.now(), int(self.p.get("secret_lifetime_days") or 365))
        cred = self.dir.add_password(app["id"], body)
        self.secret_value = cred.pop("secretText", None)
        self.partial.update({"app_id": app.get("appId"), "object_id": app.get("id"), "credential": secret_metadata(cred)})
        if self.secret_value is not None:
            self.partial["client_secret"] = self.secret_value
        if self.secret_value and self.p.get("secret_dest"):
            write_secret_file(self.p["secret_dest"], self.secret_value)
        return cred

    def _ensure_certificate(self, app, path):
        cert, existing = self.cert, (app or {}).get("keyCredentials") or []
        found = find_key(existing, cert["thumbprint"])
        if found is not None:
            return cert_metadata(found, cert["thumbprint"])
        entry = certificate_entry(cert, self.p["unique_name"])
        keys = [resend_key_credential(c) for c in existing] + [entry]
        self._apply("PATCH", path, "upload certificate %s (keeping %d existing)" % (cert["thumbprint"], len(existing)),
                    lambda: self.dir.set_key_credentials(app["id"], keys, fresh=app["id"] in self.dir.fresh_ids))
        return cert_metadata(entry, cert["thumbprint"])

    def _ensure_federated(self, app, path, fics):
        wanted = federated_body(self.p["federated"])
        current = None
        for fic in fics or []:
            if fic.get("name") == wanted["name"]:
                current = fic
        if federated_differs(current, wanted):
            self._apply("PATCH", "%s/federatedIdentityCredentials(name='%s')" % (path, quote(wanted["name"])),
                        "create or update federated credential %s" % wanted["name"],
                        lambda: self.dir.upsert_federated(app["id"], wanted))
        return federated_metadata(wanted)

    def _wait_ready(self, app, resolved):
        cert_path = (self.p.get("certificate") or {}).get("path") \
            if self.cert and self.cert.get("has_private_key") else None
        if self.secret_value is None and cert_path is None:
            if self.credential in ("secret", "certificate"):
                self.warn("wait_for_ready: no usable credential value in this run (the secret was not created now, "
                          "or the certificate file holds no private key); readiness was not probed")
            return
        self.probe(app["appId"], self.secret_value, cert_path, wanted_roles(resolved), self.timeout)

    # --- absent -------------------------------------------------------------------------------------
    def run_absent(self):
        unique_name = self.p["unique_name"]
        app, _sp_docs = self.read_app([])
        result = {"unique_name": unique_name, "app_id": None, "object_id": None, "service_principal_id": None}
        if app is None:
            deleted = self.dir.find_deleted(unique_name) if self.p.get("purge") else None
            if deleted is not None:
                self._remove(deleted, "/directory/deletedItems/%s" % deleted["id"], "purge the soft-deleted app")
            result.update(changed=self.changed, plan=self.plan, diff=make_diff({"application": None},
                                                                               {"application": None}))
            return result
        sp, grants = self.dir.read_for_absent(app)
        result.update(app_id=app["appId"], object_id=app["id"], service_principal_id=(sp or {}).get("id"))
        for grant in grants:
            self._remove(grant, "/oauth2PermissionGrants/%s" % grant["id"], "remove delegated grant", role=ROLE_GRANT)
        self._remove(sp, "/servicePrincipals/%s" % (sp or {}).get("id"),
                     "delete the service principal (and its app role assignments)")
        self._remove(app, "/applications/%s" % app["id"], "delete the application (soft delete)")
        if self.p.get("purge"):
            path = "/directory/deletedItems/%s" % app["id"]
            self._apply("DELETE", path, "purge the application permanently", lambda: self.dir.purge(path))
        else:
            self.warn("the application is soft-deleted: its uniqueName %s stays reserved for up to 30 days; "
                      "restore it with restore_deleted: true or purge it with purge: true" % unique_name)
        before = {"application": {"display_name": app.get("displayName"), "unique_name": unique_name,
                                  "app_id": app["appId"]}, "service_principal": bool(sp), "grants": len(grants)}
        after = {"application": None, "service_principal": False, "grants": 0}
        result.update(changed=True, plan=self.plan, diff=make_diff(before, after))
        return result

    # --- diff view ----------------------------------------------------------------------------------
    def _view(self, app, sp, assignments, grants, sp_docs, credential):
        if app is None:
            return dict(EMPTY_VIEW)
        view = {"application": {"display_name": app.get("displayName"), "unique_name": app.get("uniqueName"),
                                "client_type": client_type_of(app),
                                "public_client_redirect_uris": sorted((app.get("publicClient") or {}).get(
                                    "redirectUris") or [])},
                "service_principal": bool(sp), "credential": credential}
        view.update(permission_view(app, assignments, grants, sp_docs, self._labels))
        return view

    def _current_credential(self, app, fics):
        """The managed credential's metadata as the directory holds it now, or ``None``."""
        if app is None:
            return None
        if self.credential == "secret":
            mine = managed_secrets(app.get("passwordCredentials"), self.p["unique_name"])
            return secret_metadata(mine[0]) if mine else None
        if self.credential == "certificate" and self.cert is not None:
            found = find_key(app.get("keyCredentials"), self.cert["thumbprint"])
            return cert_metadata(found, self.cert["thumbprint"]) if found else None
        if self.credential == "federated":
            for fic in fics or []:
                if fic.get("name") == (self.p.get("federated") or {}).get("name"):
                    return federated_metadata(fic)
        return None
