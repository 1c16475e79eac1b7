# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Pick the ``auth_method`` class and hand out tokens.

``MtpAuthenticator(adapter, endpoints=None, session=None, display=None)``: ``validate()`` checks the options
offline; ``get_token(resource, force_refresh=False)`` returns an ``AccessToken`` for ``"graph"``, ``"mtp"`` or
``"mde"``, reusing a token in memory until 5 minutes before it expires (after community.hashi_vault's
``HashiVaultAuthenticator``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import AccessToken
from ansible_collections.m365.defender.plugins.module_utils._clouds import RESOURCES, resolve_endpoints
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import AUTH_METHODS

__all__ = ["AccessToken", "method_class", "MtpAuthenticator", "ensure_device_code_login"]

REFRESH_MARGIN = 300  # seconds before expiry when a token held in memory is renewed


def method_class(name):
    """The class of ``auth_method`` ``name`` (None when unknown). Only that method's file is imported, with
    plain import statements so that AnsiballZ still packs every method."""
    if name == "client_secret":
        from ansible_collections.m365.defender.plugins.module_utils._auth_method_client_secret import (
            ClientSecretAuthMethod as cls,
        )
    elif name == "certificate":
        from ansible_collections.m365.defender.plugins.module_utils._auth_method_certificate import CertificateAuthMethod as cls
    elif name == "workload_identity":
        from ansible_collections.m365.defender.plugins.module_utils._auth_method_workload_identity import (
            WorkloadIdentityAuthMethod as cls,
        )
    elif name == "managed_identity":
        from ansible_collections.m365.defender.plugins.module_utils._auth_method_managed_identity import (
            ManagedIdentityAuthMethod as cls,
        )
    elif name == "azure_cli":
        from ansible_collections.m365.defender.plugins.module_utils._auth_method_azure_cli import AzureCliAuthMethod as cls
    elif name == "device_code":
        from ansible_collections.m365.defender.plugins.module_utils._auth_method_device_code import DeviceCodeAuthMethod as cls
    elif name == "username_password":
        from ansible_collections.m365.defender.plugins.module_utils._auth_method_username_password import (
            UsernamePasswordAuthMethod as cls,
        )
    elif name == "refresh_token":
        from ansible_collections.m365.defender.plugins.module_utils._auth_method_refresh_token import (
            RefreshTokenAuthMethod as cls,
        )
    elif name == "access_token":
        from ansible_collections.m365.defender.plugins.module_utils._auth_method_access_token import (
            AccessTokenAuthMethod as cls,
        )
    else:
        return None
    return cls


def ensure_device_code_login(adapter, display, resource="graph", endpoints=None, session=None):
    """See ``_auth_method_device_code.ensure_device_code_login``."""
    from ansible_collections.m365.defender.plugins.module_utils._auth_method_device_code import (
        ensure_device_code_login as login,
    )

    return login(adapter, display, resource=resource, endpoints=endpoints, session=session)


class MtpAuthenticator(object):
    def __init__(self, adapter, endpoints=None, session=None, display=None):
        self.adapter = adapter
        self.endpoints = endpoints if endpoints is not None else resolve_endpoints(adapter)
        name = adapter.value("auth_method")
        cls = method_class(name) if name in AUTH_METHODS else None
        if cls is None:
            raise MtpConfigError("auth_method must be one of %s, got %r" % (", ".join(AUTH_METHODS), name),
                                 option="auth_method")
        self.method = cls(adapter, self.endpoints, session=session, display=display)
        self._validated = False
        self._tokens = {}

    @property
    def auth_method(self):
        return self.method.NAME

    def validate(self):
        self.method.validate()
        self._validated = True

    def get_token(self, resource, force_refresh=False):
        if resource not in RESOURCES:
            raise MtpConfigError("Unknown API %r: expected one of %s" % (resource, ", ".join(RESOURCES)))
        if not self._validated:
            self.validate()
        held = self._tokens.get(resource)
        if held is not None and not force_refresh and held.expires_on - REFRESH_MARGIN > time.time():
            return held
        token = self.method.authenticate(resource, force_refresh=force_refresh)
        self._tokens[resource] = token
        return token
