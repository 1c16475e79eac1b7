# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``auth_method: username_password`` (ROPC, delegated).

The resource owner password credentials grant through ``msal.PublicClientApplication``
(``acquire_token_by_username_password``): a user name and password, no browser. Microsoft deprecates the flow
and it cannot pass multi-factor authentication (AADSTS50076/50079), so every use warns. The token cache is
partitioned by an HMAC of the user name and password (``_token_cache.partition_name``), so a wrong or changed
password never gets a cached token; within a partition, later tasks and runs get their tokens silently
(``acquire_token_silent`` for the account of ``username``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import warnings

from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import PublicClientMethod

DEPRECATION = ("auth_method=username_password (the resource owner password flow) is deprecated by Microsoft and "
               "cannot pass multi-factor authentication: prefer auth_method=device_code for people, and an "
               "application identity (client_secret, certificate, workload_identity) for automation")


class UsernamePasswordAuthMethod(PublicClientMethod):
    NAME = "username_password"
    REQUIRED = ("tenant_id", "client_id", "username", "password")

    def __init__(self, *args, **kwargs):
        super(UsernamePasswordAuthMethod, self).__init__(*args, **kwargs)
        self._warned = False

    def _validate_more(self, problems):
        if self.username and "@" not in self.username:
            problems.append(("username", "username must be the user principal name (user@domain), got %r"
                             % self.username))

    def credential(self):
        """One token cache partition per user name and password (an HMAC of both, never the password)."""
        return ("user", "%s\n%s" % (self.username.lower(), self.option("password")))

    def authenticate(self, resource, force_refresh=False):
        if not self._warned:
            self._warned = True
            self._warn(DEPRECATION)
        scope = self.endpoints.scope(resource)
        with self.store.transaction():
            app = self.app()
            account = self.account(app)
            if account is not None:
                result = self.cached_result(app, account, scope, force_refresh=force_refresh)
                if result and "access_token" in result:
                    return self.token_from_result(result, resource, scope)
            password = self.option("password")
            with warnings.catch_warnings():  # MSAL's own DeprecationWarning: the warning above says it once
                warnings.simplefilter("ignore", DeprecationWarning)
                result = self._call(lambda: app.acquire_token_by_username_password(self.username, password, [scope]),
                                    action="sign in", scope=scope)
            if result and "access_token" in result:
                self.check_user(result)
        return self.token_from_result(result, resource, scope,
                                      action="sign in username=%s with a password" % self.username)
