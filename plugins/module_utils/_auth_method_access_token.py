# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``auth_method: access_token``.

A bearer token the user obtained elsewhere. It must look like a JWT; its ``exp`` claim gives the expiry.
Nothing can refresh it: once expired, the task fails and says so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import AccessToken, MtpAuthMethodBase
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError
from ansible_collections.m365.defender.plugins.module_utils._jwt_claims import decode_claims


class AccessTokenAuthMethod(MtpAuthMethodBase):
    NAME = "access_token"
    REQUIRED = ("access_token",)

    def _token(self):
        value = self.option("access_token")
        return value.strip() if isinstance(value, str) else value

    def _claims(self):
        return decode_claims(self._token())

    def _validate_more(self, problems):
        if not self._token():
            return
        try:
            claims = self._claims()
        except ValueError as exc:
            problems.append(("access_token", "access_token is not a JWT (%s)" % exc))
            return
        exp = claims.get("exp")
        if exp is not None and not isinstance(exp, (int, float)):
            problems.append(("access_token", "the exp claim of access_token is not a number"))

    def authenticate(self, resource, force_refresh=False):
        token = self._token()
        try:
            claims = self._claims()
        except ValueError as exc:
            raise MtpAuthError("access_token is not a JWT (%s)" % exc, error="invalid_token")
        now = int(time.time())
        exp = claims.get("exp")
        expires_on = int(exp) if isinstance(exp, (int, float)) else now + 3600
        if expires_on <= now:
            expired_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_on))
            raise MtpAuthError(
                "access_token expired at %s (%d seconds ago) and cannot be refreshed: bring a new token, or use "
                "another auth_method" % (expired_at, now - expires_on),
                error="expired_token", hint="get a new token")
        if force_refresh:
            raise MtpAuthError("The API rejected access_token (audience %s, expires %s) and it cannot be refreshed"
                               % (claims.get("aud"), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_on))),
                               error="invalid_token", hint="check the token's audience and roles, or bring a new one")
        expected = self.endpoints.resource_uri(resource)
        aud = claims.get("aud")
        if isinstance(aud, str) and aud.startswith("https://"):
            if (urlsplit(aud).hostname or "").lower() != (urlsplit(expected).hostname or "").lower():
                raise MtpAuthError("access_token was issued for %s, but this call needs a token for %s"
                                   % (aud, expected), error="invalid_audience",
                                   hint="request the token with scope %s" % self.endpoints.scope(resource))
        return AccessToken(token, expires_on, resource=resource, scope=self.endpoints.scope(resource),
                           source="access_token")
