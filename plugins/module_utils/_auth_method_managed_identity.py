# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``auth_method: managed_identity``.

Azure managed identity through azure-identity's ``ManagedIdentityCredential``, imported only here (it costs
about 0.3 s to import). System-assigned by default; ``client_id`` selects a user-assigned identity. The
endpoint is found the azure-identity way (IMDS, or ``IDENTITY_ENDPOINT``/``IDENTITY_HEADER`` on App Service).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import AccessToken, MtpAuthMethodBase
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpDependencyError


def import_azure_identity():
    """Import azure-identity lazily; returns ``(azure.identity, azure.core.exceptions)``."""
    try:
        import azure.identity as azure_identity
        import azure.core.exceptions as azure_exceptions
    except ImportError:
        raise MtpDependencyError("azure-identity", "needed by auth_method=managed_identity and azure_cli")
    return azure_identity, azure_exceptions


class ManagedIdentityAuthMethod(MtpAuthMethodBase):
    NAME = "managed_identity"
    REQUIRED = ()
    CHECK_TENANT = False  # the identity belongs to the resource the task runs on

    def __init__(self, *args, **kwargs):
        super(ManagedIdentityAuthMethod, self).__init__(*args, **kwargs)
        self._credential = None

    def _new_credential(self, azure_identity):
        kwargs = {}
        if self.client_id:
            kwargs["client_id"] = self.client_id
        return azure_identity.ManagedIdentityCredential(**kwargs)

    def authenticate(self, resource, force_refresh=False):
        azure_identity, azure_exceptions = import_azure_identity()
        scope = self.endpoints.scope(resource)
        if self._credential is None or force_refresh:
            self._credential = self._new_credential(azure_identity)
        try:
            token = self._credential.get_token(scope)
        except azure_exceptions.AzureError as exc:
            which = "user-assigned identity client_id=%s" % self.client_id if self.client_id else \
                "the system-assigned identity"
            raise MtpAuthError("Managed identity (%s) could not get a token for scope=%s: %s"
                               % (which, scope, _first_line(exc)), error="managed_identity",
                               hint="run the task on an Azure resource with that identity, or choose another "
                                    "auth_method")
        return AccessToken(token.token, token.expires_on, resource=resource, scope=scope, source="managed_identity")


def _first_line(exc):
    text = getattr(exc, "message", None) or str(exc)
    return text.strip().split("\n", 1)[0]
