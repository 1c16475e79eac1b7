# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of _app_credentials (pure, plus files in tmp_path): secret rotation, the certificate loader of
both contracts, validity and lifetime checks, federated credential rules, the atomic secret file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import stat

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _app_credentials as m
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0)


def self_signed(not_before, not_after, key_size=2048):
    """``(cert_pem, key_pem, sha1 upper hex)`` of a self-signed RSA certificate valid between the two dates."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"app.example")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, cert.fingerprint(hashes.SHA1()).hex().upper()


def _pw(label, end):
    return {"keyId": label + end, "displayName": label, "endDateTime": end, "hint": "abc"}


# --- client secrets --------------------------------------------------------------------------------------

def test_secret_rotation_decision():
    mine = m.secret_label("k") + "2026-01-01T00:00:00Z"
    fresh = _pw(mine, "2027-01-01T00:00:00Z")
    assert m.secret_plan([fresh], "k", NOW, 30) == (False, fresh, [])
    due = _pw(mine, "2026-06-20T00:00:00.1234567Z")
    assert m.secret_plan([due], "k", NOW, 30) == (True, None, [])
    assert m.secret_plan([due], "k", NOW, 10)[0] is False
    expired = _pw(mine, "2026-05-01T00:00:00Z")
    assert m.secret_plan([expired, fresh], "k", NOW, 30) == (False, fresh, [expired])
    foreign = _pw("portal secret", "2026-06-02T00:00:00Z")
    assert m.secret_plan([foreign], "k", NOW, 30) == (True, None, [])
    other_key = _pw(m.secret_label("k2") + "x", "2027-01-01T00:00:00Z")
    assert m.secret_plan([other_key], "k", NOW, 30)[0] is True


def test_password_body_is_labelled_and_ends_after_the_lifetime():
    label, body = m.password_body("mtp-soc", NOW, 365)
    assert label == "m365.defender:mtp-soc:2026-06-01T12:00:00Z"
    assert body == {"passwordCredential": {"displayName": label, "endDateTime": "2027-06-01T12:00:00Z"}}


@pytest.mark.parametrize("days", [0, -1, 731, 3650])
def test_secret_lifetime_past_the_maximum_is_refused(days):
    with pytest.raises(MtpConfigError) as exc:
        m.validate_secret_lifetime(days)
    assert exc.value.option == "secret_lifetime_days" and "between 1 and 730" in exc.value.msg


@pytest.mark.parametrize("days", [1, 365, 730])
def test_secret_lifetime_within_the_range(days):
    assert m.validate_secret_lifetime(days) == days


# --- certificates ----------------------------------------------------------------------------------------

def test_certificate_thumbprint(tmp_path):
    pem, key_pem, expected = self_signed(datetime.datetime(2026, 1, 1), datetime.datetime(2028, 1, 1))
    path = tmp_path / "c.pem"
    path.write_bytes(pem + key_pem)
    info = m.load_certificate(path=str(path))
    assert info["thumbprint"] == expected and info["has_private_key"]
    assert (info["not_before"], info["not_after"]) == ("2026-01-01T00:00:00Z", "2028-01-01T00:00:00Z")
    entry = m.certificate_entry(info, "k")
    assert m.key_thumbprint(entry) == expected
    assert m.key_thumbprint({"customKeyIdentifier": expected.lower()}) == expected
    assert m.load_certificate(content=pem.decode())["has_private_key"] is False
    with pytest.raises(MtpConfigError):
        m.load_certificate(content="-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----")


def test_certificate_with_key_contract(tmp_path):
    """The contract ``auth_method: certificate`` uses: key, matching certificate first in the chain."""
    pem, key_pem, expected = self_signed(datetime.datetime(2026, 1, 1), datetime.datetime(2028, 1, 1))
    path = tmp_path / "c.pem"
    path.write_bytes(key_pem + pem)
    info = m.load_certificate(path=str(path), require_key=True, option="certificate_path")
    assert info["thumbprint"] == expected
    assert info["key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert info["chain_pem"] == pem.decode()
    cert_only = tmp_path / "only.pem"
    cert_only.write_bytes(pem)
    with pytest.raises(MtpConfigError) as exc:
        m.load_certificate(path=str(cert_only), require_key=True, option="certificate_path")
    assert exc.value.option == "certificate_path" and "no private key" in exc.value.msg
    with pytest.raises(MtpConfigError) as exc:
        m.load_certificate(path=str(tmp_path / "missing.pem"), require_key=True, option="certificate_path")
    assert "certificate_path" in exc.value.msg and "cannot be read" in exc.value.msg


def test_encrypted_key_needs_the_password_and_never_shows_it(tmp_path):
    from cryptography.hazmat.primitives import serialization

    pem, key_pem, _thumb = self_signed(datetime.datetime(2026, 1, 1), datetime.datetime(2028, 1, 1))
    key = serialization.load_pem_private_key(key_pem, password=None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"pem-pass"))
    path = tmp_path / "enc.pem"
    path.write_bytes(encrypted + pem)
    for password in (None, "wrong-pass"):
        with pytest.raises(MtpConfigError) as exc:
            m.load_certificate(path=str(path), password=password, require_key=True, option="certificate_path")
        assert exc.value.option == "certificate_password" and "wrong-pass" not in exc.value.msg
    assert m.load_certificate(path=str(path), password="pem-pass", require_key=True,
                              option="certificate_path")["key_pem"].startswith("-----BEGIN PRIVATE KEY-----")


def test_expired_certificate_is_refused():
    pem, _key, thumb = self_signed(datetime.datetime(2024, 1, 1), datetime.datetime(2026, 5, 1))
    info = m.load_certificate(content=pem.decode())
    with pytest.raises(MtpConfigError) as exc:
        m.check_certificate_validity(info, NOW)
    assert exc.value.option == "certificate"
    assert exc.value.msg == "certificate %s expired on 2026-05-01T00:00:00Z; give a certificate that is valid now" \
        % thumb


def test_certificate_not_valid_yet_is_refused():
    pem, _key, thumb = self_signed(datetime.datetime(2026, 7, 1), datetime.datetime(2027, 7, 1))
    with pytest.raises(MtpConfigError, match="is not valid before 2026-07-01T00:00:00Z"):
        m.check_certificate_validity(m.load_certificate(content=pem.decode()), NOW)


def test_valid_certificate_passes():
    pem, _key, _thumb = self_signed(datetime.datetime(2026, 1, 1), datetime.datetime(2027, 1, 1))
    info = m.load_certificate(content=pem.decode())
    assert m.check_certificate_validity(info, NOW) is info


# --- federated identity credentials ----------------------------------------------------------------------

GOOD_FED = {"name": "github-main", "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:org/repo:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}


@pytest.mark.parametrize("name", ["ab", "has space", "a/b", "-lead", "x" * 121, "café", "name.with.dots"])
def test_federated_name_graph_would_refuse(name):
    with pytest.raises(MtpConfigError) as exc:
        m.validate_federated(dict(GOOD_FED, name=name))
    assert exc.value.option == "federated" and "federated.name" in exc.value.msg


@pytest.mark.parametrize("issuer", ["token.actions.githubusercontent.com", "http://issuer.example", "https://",
                                    "https://user@issuer.example", "https://" + "x" * 600])
def test_federated_issuer_must_be_an_https_url(issuer):
    with pytest.raises(MtpConfigError, match="federated.issuer .* is invalid"):
        m.validate_federated(dict(GOOD_FED, issuer=issuer))


def test_federated_subject_and_audiences():
    with pytest.raises(MtpConfigError, match="federated.subject is required"):
        m.validate_federated(dict(GOOD_FED, subject=""))
    with pytest.raises(MtpConfigError, match="exactly one value"):
        m.validate_federated(dict(GOOD_FED, audiences=["api://a", "api://b"]))
    with pytest.raises(MtpConfigError) as exc:
        m.validate_federated({"name": "a b", "issuer": "ftp://x", "subject": "s"})
    assert "federated.name" in exc.value.msg and "federated.issuer" in exc.value.msg  # all problems at once


def test_valid_federated_credential_and_its_body():
    assert m.validate_federated(GOOD_FED) is GOOD_FED
    assert m.validate_federated(dict(GOOD_FED, name="a" * 120, audiences=None))
    assert m.federated_body(dict(GOOD_FED, audiences=None))["audiences"] == ["api://AzureADTokenExchange"]
    assert m.federated_differs(None, GOOD_FED) is True
    assert m.federated_differs(dict(GOOD_FED, id="x"), GOOD_FED) is False
    assert m.federated_differs(dict(GOOD_FED, subject="other"), GOOD_FED) is True


# --- the secret file -------------------------------------------------------------------------------------

def test_secret_dest_checked_and_written_atomically(tmp_path):
    with pytest.raises(MtpConfigError, match="not an existing directory"):
        m.check_secret_dest(str(tmp_path / "missing" / "s"))
    with pytest.raises(MtpConfigError, match="is a directory"):
        m.check_secret_dest(str(tmp_path))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if not os.access(str(ro), os.W_OK):  # root can write anyway
            with pytest.raises(MtpConfigError, match="not writable"):
                m.check_secret_dest(str(ro / "s"))
    finally:
        ro.chmod(0o700)
    dest = tmp_path / "secret"
    m.check_secret_dest(str(dest))
    m.write_secret_file(str(dest), "value-1")
    assert dest.read_text() == "value-1"
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".mtp-secret-")] == []
