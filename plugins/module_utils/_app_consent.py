# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``mtp_aad_app_setup``: delegated consent and native (public client) apps.

* ``client_type``: the option checks (a public client holds no secret or certificate: :func:`check_client_type`)
  and the application properties a native app needs (:func:`client_type_changes`: ``isFallbackPublicClient``
  and the cloud's native-client redirect URI in ``publicClient.redirectUris``);
* ``consent``: the option (:func:`consent_setting`), the users it names resolved to object ids
  (:func:`user_ids_from_answers`) and the oauth2PermissionGrant actions (:func:`consent_actions`), one grant per
  resource service principal for ``AllPrincipals`` and one per user and resource for ``Principal`` grants;
  scopes are merged into existing grants (docs/developer/reference/graph-app-setup.md §5), never deleted and
  recreated;
* :class:`ConsentSteps`, the ``ensure_grants`` step ``AppSetup`` (``_app_setup.py``) runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.plugins.module_utils._app_permissions import (
    GUID_RE,
    grant_changes,
    resource_label,
    split_scope,
)
from ansible_collections.m365.defender.plugins.module_utils._clouds import CLOUDS, DEFAULT_CLOUD
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._graph_directory import ROLE_GRANT

CLIENT_TYPES = ("confidential", "public")
CONSENT_TYPES = ("all_principals", "principal", "none")
NATIVE_CLIENT_PATH = "/common/oauth2/nativeclient"
ALL_PRINCIPALS = "AllPrincipals"
PRINCIPAL = "Principal"


# ---------------------------------------------------------------------------------------------------
# client_type
# ---------------------------------------------------------------------------------------------------

def _credential_options(params):
    credential = params.get("credential")
    bad = ["credential=%s" % credential] if credential not in (None, "none") else []
    return bad + [opt for opt in ("secret_dest", "certificate", "federated") if params.get(opt)]


def check_client_type(params, existing=None):
    """The ``credential`` a task gets; a public client asking for a secret or a certificate fails naming the
    options. ``client_type`` not set: the type of the ``existing`` app (``None``: not read yet, or a new app,
    which is confidential); until the app is read a ``credential`` that is not set stays ``None``."""
    client_type = params.get("client_type")
    if client_type not in CLIENT_TYPES + (None,):
        raise MtpConfigError("client_type must be one of %s, not %r" % (", ".join(CLIENT_TYPES), client_type),
                             option="client_type")
    credential = params.get("credential")
    if client_type == "public" or (client_type is None and client_type_of(existing) == "public"):
        bad = _credential_options(params)
        if bad:
            what = "client_type=public" if client_type else "the app is a public client (client_type not set)"
            raise MtpConfigError(
                "%s: a public (native) client has no client secret, certificate or federated credential; remove "
                "%s (or leave credential unset, or set it to none)%s" % (
                    what, ", ".join(bad), "" if client_type else ", or set client_type: confidential"),
                option="credential" if bad[0].startswith("credential=") else bad[0])
        return "none"
    if client_type is None and existing is None:
        return credential
    return credential or "secret"


def native_redirect_uri(cloud):
    """The native-client redirect URI on the login host of ``cloud``."""
    return CLOUDS.get(cloud or DEFAULT_CLOUD, CLOUDS[DEFAULT_CLOUD])["authority_host"] + NATIVE_CLIENT_PATH


def client_type_of(app):
    return "public" if (app or {}).get("isFallbackPublicClient") is True else "confidential"


def client_type_changes(app, client_type, cloud):
    """The application properties to write so that ``app`` (``None``: not created yet) is of ``client_type``;
    ``{}`` when it already is. A public client keeps its other redirect URIs; a confidential one is only
    switched off ``isFallbackPublicClient``."""
    app = app or {}
    if client_type is None:  # not set: an existing app keeps its type, a new one is confidential
        return {}
    if client_type != "public":
        return {"isFallbackPublicClient": False} if app.get("isFallbackPublicClient") is True else {}
    changes = {}
    if app.get("isFallbackPublicClient") is not True:
        changes["isFallbackPublicClient"] = True
    uris = list((app.get("publicClient") or {}).get("redirectUris") or [])
    native = native_redirect_uri(cloud)
    if native not in uris:
        changes["publicClient"] = {"redirectUris": uris + [native]}
    return changes


# ---------------------------------------------------------------------------------------------------
# consent
# ---------------------------------------------------------------------------------------------------

def consent_setting(consent):
    """``consent`` checked: ``{"type": ..., "users": [...]}``; not set means ``all_principals``."""
    consent = dict(consent or {})
    kind = consent.get("type") or "all_principals"
    users = [u.strip() for u in consent.get("users") or [] if isinstance(u, str) and u.strip()]
    if kind not in CONSENT_TYPES:
        raise MtpConfigError("consent.type must be one of %s, not %r" % (", ".join(CONSENT_TYPES), kind),
                             option="consent.type")
    if kind == "principal" and not users:
        raise MtpConfigError("consent.type=principal needs consent.users: the user principal names (or object ids) "
                             "of the users to consent for", option="consent.users")
    if kind != "principal" and users:
        raise MtpConfigError("consent.users is only used with consent.type=principal (consent.type is %s)" % kind,
                             option="consent.users")
    validate_user_entries(users)
    if len(set(u.lower() for u in users)) != len(users):
        raise MtpConfigError("consent.users lists a user twice: %s" % ", ".join(users), option="consent.users")
    return {"type": kind, "users": users}


def user_path(user):
    """The ``$batch`` URL reading one user by object id or user principal name (``#`` and ``'`` escaped)."""
    key = user.replace("%", "%25").replace("#", "%23").replace("?", "%3F").replace("/", "%2F")
    return "/users/%s?$select=id,userPrincipalName" % key


def user_ids_from_answers(users, answers):
    """``{user as given: object id}`` from the ``$batch`` answers ``{"u<i>": (status, json)}``; every user that
    does not exist is named at once."""
    found = {}
    missing = []
    for index, user in enumerate(users):
        status, doc = answers.get("u%d" % index, (404, {}))
        if status == 200 and doc.get("id"):
            found[user] = doc["id"]
        else:
            missing.append(user)
    if missing:
        raise MtpConfigError("consent.users: no user %s in the tenant (give user principal names or object ids of "
                             "existing users)" % ", ".join(missing), option="consent.users")
    return found


def _principals(setting, user_ids):
    if setting["type"] == "principal":
        return [user_ids[u].lower() for u in setting["users"]]
    return [None]


def consent_actions(grants, wanted, setting, user_ids, purge):
    """The grant actions for ``consent``: ``("create", resource_id, scope, principal_id)``,
    ``("update", grant, scope, principal_id)``, ``("delete", grant, None, principal_id)``.

    ``wanted`` is ``{resource_sp_id: [scope names]}``. Existing scopes are kept (unless ``purge``); with
    ``purge`` and ``principal`` consent the Principal grants of users not listed are deleted too.
    """
    if setting["type"] == "none":
        return []
    actions = []
    principals = _principals(setting, user_ids)
    for principal in principals:
        for action, target, scope in grant_changes(grants, wanted, purge, principal_id=principal):
            actions.append((action, target, scope, principal))
    if purge and setting["type"] == "principal":
        for grant in grants or []:
            pid = (grant.get("principalId") or "").lower()
            if grant.get("consentType") == PRINCIPAL and pid not in principals:
                actions.append(("delete", grant, None, pid))
    return actions


def principal_labels(user_ids):
    """``{object id (lower): user as given}`` for the diff view."""
    return dict((ident.lower(), user) for user, ident in (user_ids or {}).items())


def validate_user_entries(users):
    """Entries must be user principal names (``name@domain``) or object ids."""
    bad = [u for u in users if "@" not in u and not GUID_RE.match(u)]
    if bad:
        raise MtpConfigError("consent.users: %s is neither a user principal name (name@domain) nor an object id"
                             % ", ".join(bad), option="consent.users")


class ConsentSteps:
    """The delegated-consent step of ``AppSetup`` (it provides ``p``, ``dir``, ``_apply`` and ``_remove``)."""

    def consent(self):
        return consent_setting(self.p.get("consent"))

    def resolve_users(self):
        """The object ids of ``consent.users``, read before any write (one ``$batch``)."""
        setting = self.consent()
        if setting["type"] != "principal":
            return {}
        items = [("u%d" % i, user_path(u), False) for i, u in enumerate(setting["users"])]
        answers = self.dir.batch_get(items, "read the users of consent.users")
        return user_ids_from_answers(setting["users"], answers)

    def ensure_grants(self, sp, wanted, grants, user_ids):
        """Delegated grants (merged, never recreated); returns them as they now are."""
        after = [dict(g) for g in grants]
        labels = principal_labels(user_ids)
        for action, target, scope, principal in consent_actions(grants, wanted, self.consent(), user_ids,
                                                                self.p.get("purge_permissions")):
            who = " for %s" % labels.get(principal, principal) if principal else " for all users"
            if action == "create":
                self._apply("POST", "/oauth2PermissionGrants", "grant delegated scopes %s%s" % (scope, who),
                            lambda t=target, s=scope, u=principal: self.dir.create_grant(sp["id"], t, s, u))
                after.append({"resourceId": target, "scope": scope, "principalId": principal,
                              "consentType": PRINCIPAL if principal else ALL_PRINCIPALS})
            elif action == "update":
                self._apply("PATCH", "/oauth2PermissionGrants/%s" % target["id"],
                            "set delegated scopes %s%s" % (scope, who),
                            lambda t=target, s=scope: self.dir.update_grant(t["id"], s))
                for grant in after:
                    if grant.get("id") == target["id"]:
                        grant["scope"] = scope
            else:
                self._remove(target, "/oauth2PermissionGrants/%s" % target["id"], "remove delegated grant%s" % who,
                             role=ROLE_GRANT)
                after = [g for g in after if g.get("id") != target["id"]]
        return after

    def grant_result(self, grants, sp_docs):
        """The delegated grants as returned: ``[{resource, consent_type, principal, scopes}]``, sorted."""
        by_sp = dict((doc.get("id"), app_id) for app_id, doc in sp_docs.items() if doc.get("id"))
        out = []
        for grant in grants or []:
            app_id = by_sp.get(grant.get("resourceId"))
            pid = (grant.get("principalId") or "").lower() or None
            out.append({"resource": resource_label(app_id, sp_docs.get(app_id)) if app_id else grant.get("resourceId"),
                        "consent_type": grant.get("consentType") or ALL_PRINCIPALS,
                        "principal": self._labels.get(pid, pid) if pid else None,
                        "scopes": sorted(split_scope(grant.get("scope")))})
        return sorted(out, key=lambda g: (g["resource"] or "", g["principal"] or ""))
