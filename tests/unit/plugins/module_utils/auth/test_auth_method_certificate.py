# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method=certificate: loading PEM/PFX, thumbprints, x5c, and real MSAL assertions checked by the service."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils._auth_method_certificate import load_certificate
from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter


@pytest.fixture
def options(base_options, ids, registered_certificate):
    opts = dict(base_options)
    opts.update(auth_method="certificate", client_id=ids.CERT_CLIENT_ID, certificate_path=registered_certificate["pem"])
    return opts


def make(options):
    return MtpAuthenticator(MtpOptionAdapter.from_dict(options))


def test_validate_names_missing_options():
    with pytest.raises(MtpConfigError) as exc:
        make({"auth_method": "certificate"}).validate()
    for name in ("tenant_id", "client_id", "certificate_path"):
        assert "%s is required" % name in exc.value.msg


def test_validate_missing_file(tmp_path, ids):
    with pytest.raises(MtpConfigError) as exc:
        make({"auth_method": "certificate", "tenant_id": ids.TENANT_ID, "client_id": ids.CERT_CLIENT_ID,
              "certificate_path": str(tmp_path / "nope.pem")}).validate()
    assert exc.value.option == "certificate_path"
    assert "does not exist" in exc.value.msg


def test_validate_pem_without_key(certificate_files, ids):
    with pytest.raises(MtpConfigError) as exc:
        make({"auth_method": "certificate", "tenant_id": ids.TENANT_ID, "client_id": ids.CERT_CLIENT_ID,
              "certificate_path": certificate_files["cert_only"]}).validate()
    assert "no private key" in exc.value.msg


def test_encrypted_pem_needs_password(certificate_files):
    with pytest.raises(MtpConfigError) as exc:
        load_certificate(certificate_files["encrypted_pem"])
    assert exc.value.option == "certificate_password"
    with pytest.raises(MtpConfigError) as exc:
        load_certificate(certificate_files["encrypted_pem"], "wrong-pass")
    assert exc.value.option == "certificate_password"
    assert "wrong-pass" not in exc.value.msg


def test_wrong_pfx_password(certificate_files):
    with pytest.raises(MtpConfigError) as exc:
        load_certificate(certificate_files["pfx"], "bad-pfx-pass")
    assert exc.value.option == "certificate_password"
    assert "bad-pfx-pass" not in exc.value.msg


@pytest.mark.parametrize("kind, password", [("pem", None), ("encrypted_pem", "pem-pass"), ("pfx", "pfx-pass")])
def test_thumbprint_is_sha1_of_the_leaf(certificate_files, kind, password):
    key_pem, thumbprint, chain_pem = load_certificate(certificate_files[kind], password)
    assert thumbprint == certificate_files["sha1"]
    assert key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert chain_pem.startswith(certificate_files["cert_pem"].decode())


def test_chain_keeps_the_issuer_after_the_leaf(certificate_files):
    chain = load_certificate(certificate_files["pem"])[2]
    assert chain.count("BEGIN CERTIFICATE") == 2
    assert chain.endswith(certificate_files["ca_pem"].decode())


@pytest.mark.parametrize("kind, password", [("pem", None), ("encrypted_pem", "pem-pass"), ("pfx", "pfx-pass")])
def test_token_with_certificate(service, options, registered_certificate, ids, kind, password):
    options["certificate_path"] = registered_certificate[kind]
    options["certificate_password"] = password
    token = make(options).get_token("mtp")
    assert token.claims()["appid"] == ids.CERT_CLIENT_ID
    header = service.service.last_assertion_header
    assert "x5c" not in header


def test_send_certificate_chain_adds_x5c(service, options, registered_certificate):
    options["send_certificate_chain"] = True
    make(options).get_token("graph")
    header = service.service.last_assertion_header
    assert len(header["x5c"]) == 2


def test_unregistered_certificate_is_aadsts700027(service, options, tmp_path):
    import trustme

    other = trustme.CA().issue_cert("someone-else", key_type=trustme.KeyType.RSA)
    path = tmp_path / "other.pem"
    path.write_bytes(other.private_key_pem.bytes() + other.cert_chain_pems[0].bytes())
    options["certificate_path"] = str(path)
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("mtp")
    assert exc.value.aadsts == 700027
    assert "certificate_path" in exc.value.hint


def test_ec_key_is_refused_offline(tmp_path, ids):
    import trustme

    leaf = trustme.CA(key_type=trustme.KeyType.ECDSA).issue_cert("ec-app")
    path = tmp_path / "ec.pem"
    path.write_bytes(leaf.private_key_pem.bytes() + leaf.cert_chain_pems[0].bytes())
    with pytest.raises(MtpConfigError) as exc:
        make({"auth_method": "certificate", "tenant_id": ids.TENANT_ID, "client_id": ids.CERT_CLIENT_ID,
              "certificate_path": str(path)}).validate()
    assert "not an RSA key" in exc.value.msg
