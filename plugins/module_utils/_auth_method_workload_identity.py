# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``auth_method: workload_identity``.

Federated credentials (Kubernetes workload identity, GitHub OIDC, ...): the token found in
``federated_token_file`` is the client assertion. This goes through MSAL, not azure-identity, so it shares the
token cache, the session and the AADSTS messages of the other client-credential methods; the file is re-read
every time MSAL needs an assertion, because the platform rotates it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import ConfidentialClientMethod
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError


class WorkloadIdentityAuthMethod(ConfidentialClientMethod):
    NAME = "workload_identity"
    REQUIRED = ("tenant_id", "client_id", "federated_token_file")

    def _validate_more(self, problems):
        path = self.option("federated_token_file")
        if path and not os.access(path, os.R_OK):
            problems.append(("federated_token_file", "federated_token_file %s does not exist or cannot be read"
                             % path))

    def read_assertion(self):
        path = self.option("federated_token_file")
        try:
            with open(path, "r", encoding="utf-8") as handle:
                assertion = handle.read().strip()
        except OSError as exc:
            raise MtpAuthError("federated_token_file %s cannot be read: %s" % (path, exc.strerror or exc),
                               error="federated_token_file")
        if not assertion:
            raise MtpAuthError("federated_token_file %s is empty" % path, error="federated_token_file")
        return assertion

    def client_credential(self):
        return {"client_assertion": self.read_assertion}

    def credential(self):
        """The token file's path partitions the token cache (its content rotates, the identity does not)."""
        return ("path", os.path.abspath(self.option("federated_token_file")))
