# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``auth_method: device_code`` (delegated, for a user who must pass MFA).

``msal.PublicClientApplication``: the user opens the verification page and types the code shown in the
flow's ``message``, which goes to the ``display`` callback. The refresh token lands in the persisted token
cache, so later tasks and runs get tokens silently. A module cannot show a prompt, so it only uses the cache:
``ensure_device_code_login(adapter, display)`` (run on the controller by an action or lookup plugin) performs
the sign-in first. ``username`` picks the cached account when several users signed in with the same app.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.plugins.module_utils._aadsts import auth_error_from_msal
from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import MsalAuthMethodBase
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError
from ansible_collections.m365.defender.plugins.module_utils._options import token_cache_dir
from ansible_collections.m365.defender.plugins.module_utils._token_cache import import_msal


class DeviceCodeAuthMethod(MsalAuthMethodBase):
    NAME = "device_code"
    REQUIRED = ("tenant_id", "client_id")

    def _build_app(self, **kwargs):
        return import_msal().PublicClientApplication(self.client_id, **kwargs)

    def _validate_more(self, problems):
        if token_cache_dir(self.adapter) is None:
            problems.append(("token_cache", "token_cache must be a directory: the module reads the signed-in user "
                                            "from the token cache, so token_cache: false would make you sign in for "
                                            "nothing"))

    def _secrets(self):
        return []

    def _account(self, app):
        username = self.option("username")
        accounts = app.get_accounts(username=username) if username else app.get_accounts()
        return accounts[0] if accounts else None

    def silent(self, resource, force_refresh=False):
        """A token from the cache (refreshing it with the cached refresh token), or None."""
        scope = self.endpoints.scope(resource)
        with self.store.transaction():
            app = self.app()
            account = self._account(app)
            if account is None:
                return None
            result = self._call(lambda: app.acquire_token_silent_with_error([scope], account,
                                                                            force_refresh=force_refresh),
                                scope=scope)
        if result is None:
            return None
        if "access_token" not in result and result.get("error") in ("interaction_required", "invalid_grant") \
                and self.display:
            return None  # the refresh token is no good any more: sign in again
        return self.token_from_result(result, resource, scope, action="refresh the signed-in user's token")

    def login(self, resource, display):
        """Run the device code flow, showing its message through ``display``; fill the cache."""
        scope = self.endpoints.scope(resource)
        with self.store.transaction():
            app = self.app()
            flow = self._call(lambda: app.initiate_device_flow(scopes=[scope]), action="start a device code sign-in",
                              scope=scope)
        if "user_code" not in flow:
            raise auth_error_from_msal(flow, tenant_id=self.tenant_id, client_id=self.client_id, scope=scope,
                                       action="start a device code sign-in")
        display(flow["message"])
        # no lock while the user signs in (that can take minutes); the new tokens are saved right after
        result = self._call(lambda: app.acquire_token_by_device_flow(flow), scope=scope)
        with self.store.lock():
            self.store.save(force=True)
        return self.token_from_result(result, resource, scope, action="complete the device code sign-in")

    def authenticate(self, resource, force_refresh=False):
        token = self.silent(resource, force_refresh=force_refresh)
        if token is not None:
            return token
        if self.display is None:
            raise MtpAuthError(
                "auth_method=device_code: no signed-in user is cached for tenant_id=%s, client_id=%s%s. Sign in "
                "on the controller first (the device code login runs in the action/lookup plugins), or use "
                "another auth_method" % (self.tenant_id, self.client_id,
                                         " and username=%s" % self.option("username") if self.option("username")
                                         else ""),
                error="interaction_required", hint="sign in with the device code flow on the controller")
        return self.login(resource, self.display)


def ensure_device_code_login(adapter, display, resource="graph", endpoints=None, session=None):
    """Make sure a signed-in user is cached for the device_code options in ``adapter``.

    Returns the ``AccessToken`` for ``resource``; silent when the cache already holds a usable refresh token,
    otherwise runs the device code flow and shows its message through ``display``.
    """
    from ansible_collections.m365.defender.plugins.module_utils._clouds import resolve_endpoints

    method = DeviceCodeAuthMethod(adapter, endpoints or resolve_endpoints(adapter), session=session,
                                  display=display)
    method.validate()
    return method.authenticate(resource)
