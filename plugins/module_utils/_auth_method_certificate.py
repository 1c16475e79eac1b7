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
import re

from ansible_collections.m365.defender.plugins.module_utils._auth_method_base import ConfidentialClientMethod
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError, MtpDependencyError

PFX_SUFFIXES = (".pfx", ".p12")
_KEY_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]*PRIVATE KEY)-----.+?-----END \1-----", re.S)


def _import_cryptography():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.serialization import pkcs12
    except ImportError:
        raise MtpDependencyError("cryptography", "needed by auth_method=certificate")
    return x509, hashes, serialization, pkcs12


def _public_bytes(serialization, key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def load_certificate(path, password=None):
    """Read ``path`` and return ``(private_key_pem, thumbprint_sha1_hex, chain_pem)``.

    ``chain_pem`` starts with the certificate that matches the key. Raises ``MtpConfigError`` naming
    ``certificate_path`` or ``certificate_password``; never includes the password or key material.
    """
    x509, hashes, serialization, pkcs12 = _import_cryptography()
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise MtpConfigError("certificate_path %s cannot be read: %s" % (path, exc.strerror or exc),
                             option="certificate_path")
    pw = password.encode("utf-8") if password else None
    is_pem = b"-----BEGIN" in data
    key = None
    certs = []
    if is_pem:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            certs = []
        blocks = [m.group(0) for m in _KEY_BLOCK.finditer(data)]
        if not blocks:
            raise MtpConfigError("certificate_path %s holds no private key: put the key and the certificate in one "
                                 "PEM file, or use a PFX" % path, option="certificate_path")
        try:
            key = serialization.load_pem_private_key(blocks[0], password=pw)
        except TypeError:
            if pw:
                raise MtpConfigError("certificate_path %s holds an unencrypted key: unset certificate_password"
                                     % path, option="certificate_password")
            raise MtpConfigError("the private key in certificate_path %s is encrypted: set certificate_password"
                                 % path, option="certificate_password")
        except ValueError:
            raise MtpConfigError("the private key in certificate_path %s could not be decrypted or parsed: check "
                                 "certificate_password" % path, option="certificate_password")
    else:
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, pw)
        except ValueError:
            opt = "certificate_password" if path.lower().endswith(PFX_SUFFIXES) else "certificate_path"
            raise MtpConfigError("certificate_path %s is neither a PEM file nor a PFX that opens with the given "
                                 "certificate_password" % path, option=opt)
        certs = ([cert] if cert is not None else []) + list(extra or [])
        if key is None:
            raise MtpConfigError("the PFX certificate_path %s holds no private key" % path, option="certificate_path")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise MtpConfigError("the private key in certificate_path %s is not an RSA key: Entra ID accepts RSA "
                             "certificates only" % path, option="certificate_path")
    if not certs:
        raise MtpConfigError("certificate_path %s holds no certificate" % path, option="certificate_path")
    key_pub = _public_bytes(serialization, key)
    leaf = None
    for cert in certs:
        if cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) == key_pub:
            leaf = cert
            break
    if leaf is None:
        raise MtpConfigError("no certificate in certificate_path %s matches its private key" % path,
                             option="certificate_path")
    chain = [leaf] + [c for c in certs if c is not leaf]
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    chain_pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in chain)
    thumbprint = leaf.fingerprint(hashes.SHA1()).hex()  # Entra ID's certificate thumbprint (x5t)
    return key_pem, thumbprint, chain_pem


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

    def client_credential(self):
        key_pem, thumbprint, chain_pem = self._load()
        credential = {"private_key": key_pem, "thumbprint": thumbprint}
        if self.option("send_certificate_chain"):
            credential["public_certificate"] = chain_pem
        return credential
