# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``auth_method: refresh_token`` (delegated).

A refresh token the user brings (from a vault, from an earlier interactive sign-in) is redeemed through
``msal.PublicClientApplication.acquire_token_by_refresh_token``. The token endpoint may answer with a new
(rotated) refresh token: MSAL puts it in the token cache, and only there (the 0600 cache file); it never
reaches a return value, a message or the ``refresh_token`` variable.

The cache is partitioned by an HMAC of the refresh token the user brought (``_token_cache.partition_name``),
so the same vault value finds the account and rotated token it was redeemed for. Later tasks and runs use the
cache first (``acquire_token_silent``: the cached access token, else the rotated refresh token) and redeem the
original only when the cache holds nothing usable. A new vault value gets a partition of its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.plugins.module_utils._aadsts import auth_error_from_msal
from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import PublicClientMethod
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError
from ansible_collections.m365.defender.plugins.module_utils._options import token_cache_dir


class RefreshTokenAuthMethod(PublicClientMethod):
    NAME = "refresh_token"
    REQUIRED = ("tenant_id", "client_id", "refresh_token")

    def _token(self):
        value = self.option("refresh_token")
        return value.strip() if isinstance(value, str) else value

    def _validate_more(self, problems):
        if token_cache_dir(self.adapter) is None:
            problems.append(("token_cache", "token_cache must be a directory: a rotated refresh token is kept only "
                                            "in the token cache, so with token_cache: false the next task would "
                                            "redeem the original again"))
        token = self._token()
        spaced = bool(token) and any(c.isspace() for c in token)
        if token and (len(token) < 16 or spaced):
            problems.append(("refresh_token", "refresh_token does not look like a refresh token (%d characters%s); "
                                              "give the token itself" % (len(token), ", with white space" if spaced
                                                                         else "")))

    def credential(self):
        """The refresh token the user brought partitions the cache (an HMAC of it, never the token)."""
        return ("refresh_token", self._token())

    def _account(self, app):
        """The partition's account: the user of this refresh token; a clear failure when it is not ``username``."""
        accounts = app.get_accounts()
        if not accounts:
            return None
        account = accounts[0]
        got = account.get("username") or "?"
        if self.username and got.lower() != self.username.lower():
            raise MtpAuthError("auth_method=refresh_token: refresh_token belongs to %s, not to username=%s (%s): "
                               "bring that user's refresh token, or set username to %s"
                               % (got, self.username, self._who(), got), error="wrong_account", hint="check username")
        return account

    def authenticate(self, resource, force_refresh=False):
        scope = self.endpoints.scope(resource)
        cached = None
        with self.store.transaction():
            app = self.app()
            account = self._account(app)
            if account is not None:
                cached = self.cached_result(app, account, scope, force_refresh=force_refresh)
                if cached and "access_token" in cached:
                    return self.token_from_result(cached, resource, scope)
            original = self._token()
            result = self._call(lambda: app.acquire_token_by_refresh_token(original, [scope]),
                                action="redeem refresh_token", scope=scope)
            if result and "access_token" in result:
                self.check_user(result)
        if result and "access_token" not in result and account is not None:
            error = auth_error_from_msal(result, tenant_id=self.tenant_id, client_id=self.client_id, scope=scope,
                                         action="redeem refresh_token", secrets=self._secrets())
            raise MtpAuthError("%s. refresh_token was redeemed before, and its successor kept in the token cache "
                               "was no good either: bring a new refresh token" % error.msg, aadsts=error.aadsts,
                               error=error.error, hint="bring a new refresh token",
                               correlation_id=error.correlation_id)
        return self.token_from_result(result, resource, scope, action="redeem refresh_token")
