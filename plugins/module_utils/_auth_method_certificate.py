# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``auth_method: certificate``.

Client credentials with a certificate: ``certificate_path`` names a PEM file holding the private key and the
certificate (and optionally its chain), or a PFX/PKCS#12 file; ``certificate_password`` opens an encrypted key
or PFX. The key is loaded with ``cryptography`` (MSAL's own dependency), the SHA-1 thumbprint is computed from
the certificate whose public key matches the private key, and with ``send_certificate_chain`` the certificate
chain goes into the assertion's ``x5c`` header (subject name / issuer authentication).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.m365.defender.plugins.module_utils._app_credentials import load_certificate as _load_certificate
from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import ConfidentialClientMethod
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError


def load_certificate(path, password=None):
    """``(private_key_pem, thumbprint_sha1_hex, chain_pem)`` of ``path`` (a PEM with key and certificate, or a PFX):
    the collection's one loader, ``_app_credentials.load_certificate``, with the key required. Raises
    ``MtpConfigError`` naming ``certificate_path`` or ``certificate_password``; never the password or key."""
    info = _load_certificate(path=path, password=password, require_key=True, option="certificate_path",
                             password_option="certificate_password")
    return info["key_pem"], info["thumbprint"].lower(), info["chain_pem"]


class CertificateAuthMethod(ConfidentialClientMethod):
    NAME = "certificate"
    REQUIRED = ("tenant_id", "client_id", "certificate_path")

    def __init__(self, *args, **kwargs):
        super(CertificateAuthMethod, self).__init__(*args, **kwargs)
        self._loaded = None

    def _validate_more(self, problems):
        path = self.option("certificate_path")
        if not path:
            return
        if not os.path.isfile(path):
            problems.append(("certificate_path", "certificate_path %s does not exist or is not a file" % path))
            return
        try:
            self._load()
        except MtpConfigError as exc:
            problems.append((exc.option, exc.msg))

    def _load(self):
        if self._loaded is None:
            self._loaded = load_certificate(self.option("certificate_path"), self.option("certificate_password"))
        return self._loaded

    @property
    def thumbprint(self):
        return self._load()[1]

    def credential(self):
        """Each certificate gets its own token cache partition, named by its (public) thumbprint."""
        return ("thumbprint", self.thumbprint)

    def client_credential(self):
        key_pem, thumbprint, chain_pem = self._load()
        credential = {"private_key": key_pem, "thumbprint": thumbprint}
        if self.option("send_certificate_chain"):
            credential["public_certificate"] = chain_pem
        return credential
