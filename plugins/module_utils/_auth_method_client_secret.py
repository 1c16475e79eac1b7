# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``auth_method: client_secret`` (the default).

Client credentials with an application secret through ``msal.ConfidentialClientApplication``. The token
cache is partitioned by an HMAC of the secret, so a wrong or removed secret never gets a cached token.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import ConfidentialClientMethod


class ClientSecretAuthMethod(ConfidentialClientMethod):
    NAME = "client_secret"
    REQUIRED = ("tenant_id", "client_id", "client_secret")

    def client_credential(self):
        return self.option("client_secret")

    def credential(self):
        """A changed or wrong secret gets its own token cache partition (an HMAC of it, never the secret)."""
        return ("secret", self.option("client_secret"))
