# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``auth_method: device_code`` (delegated, for a user who must pass MFA).

``msal.PublicClientApplication``: the user opens the verification page and types the code shown in the
flow's ``message``, which goes to the ``display`` callback. The refresh token lands in the persisted token
cache, so later tasks and runs get tokens silently. A module cannot show a prompt, so it only uses the cache:
``ensure_device_code_login(adapter, display)`` (run on the controller by an action or lookup plugin) performs
the sign-in first. ``username`` picks the cached account when several users signed in with the same app; the
wait for the user ends after ``device_code_timeout`` seconds (docs/developer/reference/defender-api.md §6.4).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.m365.defender.plugins.module_utils._aadsts import auth_error_from_msal
from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import PublicClientMethod
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError
from ansible_collections.m365.defender.plugins.module_utils._options import token_cache_dir

PENDING = ("authorization_pending", "slow_down")


def positive_seconds(value):
    """``value`` as a whole number of seconds greater than 0, or None."""
    if isinstance(value, bool):
        return None
    try:
        seconds = int(str(value).strip())
    except ValueError:
        return None
    return seconds if seconds > 0 else None


class DeviceCodeAuthMethod(PublicClientMethod):
    NAME = "device_code"
    REQUIRED = ("tenant_id", "client_id")

    def _validate_more(self, problems):
        if token_cache_dir(self.adapter) is None:
            problems.append(("token_cache", "token_cache must be a directory: the module reads the signed-in user "
                                            "from the token cache, so token_cache: false would make you sign in for "
                                            "nothing"))
        if positive_seconds(self.option("device_code_timeout")) is None:
            problems.append(("device_code_timeout", "device_code_timeout must be a whole number of seconds greater "
                                                    "than 0, got %r" % (self.option("device_code_timeout"),)))

    @property
    def wait_seconds(self):
        return positive_seconds(self.option("device_code_timeout"))

    def _secrets(self):
        return []

    def silent(self, resource, force_refresh=False):
        """A token from the cache (refreshing it with the cached refresh token), or None."""
        scope = self.endpoints.scope(resource)
        with self.store.transaction():
            app = self.app()
            account = self.account(app)
            if account is None:
                return None
            result = self.cached_result(app, account, scope, force_refresh=force_refresh)
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
        deadline = time.time() + self.wait_seconds

        def give_up(current):
            return time.time() > deadline or current.get("expires_at", 0) < time.time()

        # no lock while the user signs in (that can take minutes); the new tokens are saved right after
        result = self._call(lambda: app.acquire_token_by_device_flow(flow, exit_condition=give_up), scope=scope)
        if result.get("error") in PENDING:
            self._timed_out(flow, deadline)
        if "access_token" in result:
            self.check_user(result)
        with self.store.lock():
            self.store.save(force=True)
        return self.token_from_result(result, resource, scope, action="complete the device code sign-in")

    def _timed_out(self, flow, deadline):
        why = ("device_code_timeout=%d seconds passed" % self.wait_seconds if time.time() > deadline
               else "the code expired at Entra ID")
        raise MtpAuthError("auth_method=device_code: nobody completed the sign-in with the code %s for %s%s "
                           "(%s). Run the task again and finish the sign-in in the browser in time, or raise "
                           "device_code_timeout" % (flow.get("user_code"), self._who(),
                                                    " as username=%s" % self.username if self.username else "", why),
                           error="device_code_timeout", hint="sign in sooner, or raise device_code_timeout")

    def authenticate(self, resource, force_refresh=False):
        token = self.silent(resource, force_refresh=force_refresh)
        if token is not None:
            return token
        if self.display is None:
            raise MtpAuthError(
                "auth_method=device_code: no signed-in user is cached for %s%s. Sign in on the controller first "
                "(the device code login runs in the action/lookup plugins), or use another auth_method"
                % (self._who(), " and username=%s" % self.username if self.username else ""),
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
