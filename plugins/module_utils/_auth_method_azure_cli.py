# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``auth_method: azure_cli``.

Uses the Azure CLI's signed-in account through azure-identity's ``AzureCliCredential`` (imported lazily), which
runs ``az account get-access-token --output json --resource <resource> [--tenant <tenant_id>]``. ``tenant_id``
is optional; ``timeout`` bounds the ``az`` process.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import AccessToken, MtpAuthMethodBase
from ansible_collections.m365.defender.plugins.module_utils._auth_method_managed_identity import (
    _first_line,
    import_azure_identity,
)
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError


class AzureCliAuthMethod(MtpAuthMethodBase):
    NAME = "azure_cli"
    REQUIRED = ()

    def __init__(self, *args, **kwargs):
        super(AzureCliAuthMethod, self).__init__(*args, **kwargs)
        self._credential = None

    def authenticate(self, resource, force_refresh=False):
        azure_identity, azure_exceptions = import_azure_identity()
        scope = self.endpoints.scope(resource)
        if self._credential is None or force_refresh:
            kwargs = {"process_timeout": int(self.timeout)}
            if self.tenant_id:
                kwargs["tenant_id"] = self.tenant_id
            self._credential = azure_identity.AzureCliCredential(**kwargs)
        try:
            token = self._credential.get_token(scope)
        except azure_exceptions.AzureError as exc:
            raise MtpAuthError("The Azure CLI could not get a token for scope=%s%s: %s" % (
                scope, " in tenant_id=%s" % self.tenant_id if self.tenant_id else "", _first_line(exc)),
                error="azure_cli", hint="install the Azure CLI and run 'az login' as the user that runs the task")
        return AccessToken(token.token, token.expires_on, resource=resource, scope=scope, source="azure_cli")
