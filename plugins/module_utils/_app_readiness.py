# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``wait_for_ready``: the new app's own credential works.

:class:`ReadinessProbe` asks Entra ID for client-credentials tokens with the NEW credential (never the
onboarding identity's) until every token's ``roles`` claim holds the application permissions just granted.
The waits go through ``_retry.wait_until`` (replication lag: docs/developer/reference/graph-app-setup.md §11).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.plugins.module_utils._app_permissions import first_party_api
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpError, MtpTimeoutError
from ansible_collections.m365.defender.plugins.module_utils._retry import NotReady, wait_until

PROBE_OPTIONS = ("tenant_id", "cloud", "authority_host", "api_url", "graph_url", "mde_url", "resources",
                 "validate_certs", "ca_path", "timeout")


def wanted_roles(resolved):
    """``{api: set(role names)}`` (api as the authenticator names it: ``graph``, ``mtp``, ``mde``) of the
    resolved first-party application permissions."""
    wanted = {}
    for perm in resolved:
        api = first_party_api(perm["resource_app_id"])
        if perm["type"] == "application" and api:
            wanted.setdefault(api, set()).add(perm["name"])
    return wanted


class ReadinessProbe:
    """Callable used by ``AppSetup``. ``caller_options``: the task's own connection options (the
    onboarding identity's ``client_id``/secret are NOT copied: the probe authenticates as the new app)."""

    def __init__(self, caller_options, session=None, display=None, sleep=None, clock=None):
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

    def _round(self, client_id, secret, cert_path, remaining):
        """One probe round: drop each resource whose fresh token holds its roles; ``NotReady`` otherwise."""
        self.attempts += 1
        try:
            auth = self._authenticator(client_id, secret, cert_path)
            for resource in sorted(remaining):
                token = auth.get_token(resource, force_refresh=True)
                missing = remaining[resource] - set(token.claims().get("roles") or [])
                if missing:
                    raise NotReady("the %s token lacks the roles %s" % (resource, ", ".join(sorted(missing))))
                remaining.pop(resource)
        except MtpAuthError as exc:
            # AADSTS7000215 (secret not replicated), 700016 (app not found yet), 700027 (cert): lag
            raise NotReady("token request refused: %s" % exc.msg)
        return self.attempts

    def __call__(self, client_id, secret, cert_path, wanted, timeout):
        """Poll until a fresh token for every resource in ``wanted`` (``{"mtp": {roles}}``) carries those roles,
        for at most ``timeout`` seconds. Returns the number of rounds."""
        remaining = dict((k, set(v)) for k, v in wanted.items()) or {"graph": set()}
        try:
            return wait_until(lambda: self._round(client_id, secret, cert_path, remaining), timeout,
                              "wait_for_ready", sleep=self.sleep, clock=self.clock)
        except MtpTimeoutError as exc:
            raise MtpError("wait_for_ready: the new credential was not ready within replication_timeout (%s)"
                           % exc.last)
