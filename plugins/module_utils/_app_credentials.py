# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. App credentials: secrets, certificates, federated identity credentials.

* client secrets: the managed-secret label, the rotation plan (:func:`secret_plan`), the ``addPassword`` body
  and the lifetime check (docs/developer/reference/graph-app-setup.md §6.1);
* certificates: :func:`load_certificate`, the one certificate loader of the collection (``mtp_aad_app_setup``
  uploads the certificate; ``auth_method: certificate`` signs with its key), the validity check, key
  credential entries and thumbprints (§6.2);
* federated identity credentials: the body and its validation before any write (§6.3);
* the secret file: checked before any write, written atomically with mode 0600.

Section numbers (§) in this file are those of docs/developer/reference/graph-app-setup.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import datetime
import hashlib
import os
import re
import tempfile

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError, MtpDependencyError

SECRET_LABEL_PREFIX = "m365.defender:"
# Entra ID's longest client secret lifetime is two years (the portal's "24 months", the Graph default of
# docs/developer/reference/graph-app-setup.md §6.1); app management policies may only shorten it.
MAX_SECRET_LIFETIME_DAYS = 730
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"
# federatedIdentityCredential.name: 3-120 URL-friendly characters (letters, digits, - and _), starting with a
# letter or digit; issuer, subject and the single audience: at most 600 characters (§6.3).
FIC_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$")
FIC_VALUE_MAX = 600
_KEY_BLOCK = re.compile(br"-----BEGIN ([A-Z ]*PRIVATE KEY)-----.+?-----END \1-----", re.S)
PFX_SUFFIXES = (".pfx", ".p12")


# ---------------------------------------------------------------------------------------------------
# Times and client secrets
# ---------------------------------------------------------------------------------------------------

def parse_graph_time(value):
    if not value:
        return None
    text = value.rstrip("Z")
    text = re.sub(r"\.(\d{1,6})\d*", r".\1", text)
    text = text.split("+")[0]
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def format_graph_time(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def secret_label(unique_name):
    return SECRET_LABEL_PREFIX + unique_name + ":"


def managed_secrets(password_credentials, unique_name):
    """Secrets this module labelled for ``unique_name``, newest expiry first."""
    label = secret_label(unique_name)
    mine = [c for c in password_credentials or [] if (c.get("displayName") or "").startswith(label)]
    return sorted(mine, key=lambda c: parse_graph_time(c.get("endDateTime")) or datetime.datetime.min,
                  reverse=True)


def secret_due(credential, now, rotate_before_days):
    """A secret is due when it ends within ``rotate_before_days`` of ``now`` (or has no end date)."""
    end = parse_graph_time(credential.get("endDateTime"))
    if end is None:
        return True
    return end - now <= datetime.timedelta(days=rotate_before_days)


def secret_plan(password_credentials, unique_name, now, rotate_before_days):
    """``(add_new, keep, remove)``: whether to add a secret, the managed secret kept, expired managed secrets.

    Rotation adds a new secret when the newest managed one is due; the due one is kept until it expires (the
    overlap lets running automation switch over) and expired managed secrets are removed. Unlabelled secrets
    are never touched.
    """
    mine = managed_secrets(password_credentials, unique_name)
    expired = [c for c in mine if (parse_graph_time(c.get("endDateTime")) or now) <= now]
    current = [c for c in mine if c not in expired]
    if current and not secret_due(current[0], now, rotate_before_days):
        return False, current[0], expired
    return True, None, expired


def secret_metadata(cred):
    return {"type": "secret", "key_id": cred.get("keyId"), "display_name": cred.get("displayName"),
            "start_date_time": cred.get("startDateTime"), "end_date_time": cred.get("endDateTime"),
            "hint": cred.get("hint")}


def predicted_secret(unique_name):
    """The secret metadata check mode predicts."""
    return {"type": "secret", "key_id": None, "display_name": secret_label(unique_name) + "(new)",
            "end_date_time": None}


def validate_secret_lifetime(days):
    """``secret_lifetime_days`` between 1 and :data:`MAX_SECRET_LIFETIME_DAYS`."""
    if days is None or days < 1 or days > MAX_SECRET_LIFETIME_DAYS:
        raise MtpConfigError("secret_lifetime_days must be between 1 and %d (Entra ID's longest client secret "
                             "lifetime, two years); got %s" % (MAX_SECRET_LIFETIME_DAYS, days),
                             option="secret_lifetime_days")
    return days


def password_body(unique_name, now, lifetime_days):
    """``(label, addPassword body)`` of a new managed secret."""
    label = "%s%s" % (secret_label(unique_name), format_graph_time(now))
    end = format_graph_time(now + datetime.timedelta(days=lifetime_days))
    return label, {"passwordCredential": {"displayName": label, "endDateTime": end}}


# ---------------------------------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------------------------------

def _read(path, option, label):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        raise MtpConfigError("%s %s cannot be read: %s" % (label, path, exc.strerror or exc), option=option)


def _pem_certificate_der(data, option):
    match = re.search(br"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", data, re.S)
    if match:
        try:
            return base64.b64decode(b"".join(match.group(1).split()))
        except (binascii.Error, ValueError):
            raise MtpConfigError("certificate: the PEM block is not valid base64", option=option)
    if data.lstrip().startswith(b"-----"):
        raise MtpConfigError("certificate: no CERTIFICATE block found", option=option)
    return data


def _dates(cert):
    not_before = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before
    not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
    return format_graph_time(not_before.replace(tzinfo=None)), format_graph_time(not_after.replace(tzinfo=None))


def _certificate_only(data, option):
    """A certificate (key optional, never parsed): the ``mtp_aad_app_setup`` contract."""
    der = _pem_certificate_der(data, option)
    info = {"der": der, "thumbprint": hashlib.sha1(der).hexdigest().upper(), "not_before": None, "not_after": None,
            "has_private_key": b"PRIVATE KEY-----" in data, "key_pem": None, "chain_pem": None}
    try:
        from cryptography import x509
    except ImportError:
        return info
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise MtpConfigError("certificate: not an X.509 certificate", option=option)
    info["not_before"], info["not_after"] = _dates(cert)
    return info


def _crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12
    except ImportError:
        raise MtpDependencyError("cryptography", "needed by auth_method=certificate")
    return x509, serialization, pkcs12


def _pem_key(data, pw, path, label, password_option):
    _x509, serialization, _pkcs12 = _crypto()
    blocks = [m.group(0) for m in _KEY_BLOCK.finditer(data)]
    if not blocks:
        raise MtpConfigError("%s %s holds no private key: put the key and the certificate in one PEM file, or use "
                             "a PFX" % (label, path), option=label)
    try:
        return serialization.load_pem_private_key(blocks[0], password=pw)
    except TypeError:
        if pw:
            raise MtpConfigError("%s %s holds an unencrypted key: unset %s" % (label, path, password_option),
                                 option=password_option)
        raise MtpConfigError("the private key in %s %s is encrypted: set %s" % (label, path, password_option),
                             option=password_option)
    except ValueError:
        raise MtpConfigError("the private key in %s %s could not be decrypted or parsed: check %s"
                             % (label, path, password_option), option=password_option)


def _key_and_certs(data, pw, path, label, password_option):
    x509, _serialization, pkcs12 = _crypto()
    if b"-----BEGIN" in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            certs = []
        return _pem_key(data, pw, path, label, password_option), certs
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, pw)
    except ValueError:
        opt = password_option if path.lower().endswith(PFX_SUFFIXES) else label
        raise MtpConfigError("%s %s is neither a PEM file nor a PFX that opens with the given %s"
                             % (label, path, password_option), option=opt)
    if key is None:
        raise MtpConfigError("the PFX %s %s holds no private key" % (label, path), option=label)
    return key, ([cert] if cert is not None else []) + list(extra or [])


def _with_key(data, path, password, label, password_option):
    """Key + matching certificate + chain (PEM or PFX): the ``auth_method: certificate`` contract."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    _x509, serialization, _pkcs12 = _crypto()
    key, certs = _key_and_certs(data, password.encode("utf-8") if password else None, path, label, password_option)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise MtpConfigError("the private key in %s %s is not an RSA key: Entra ID accepts RSA certificates only"
                             % (label, path), option=label)
    if not certs:
        raise MtpConfigError("%s %s holds no certificate" % (label, path), option=label)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_pub = key.public_key().public_bytes(*spki)
    leaf = next((c for c in certs if c.public_key().public_bytes(*spki) == key_pub), None)
    if leaf is None:
        raise MtpConfigError("no certificate in %s %s matches its private key" % (label, path), option=label)
    chain = [leaf] + [c for c in certs if c is not leaf]
    der = leaf.public_bytes(serialization.Encoding.DER)
    not_before, not_after = _dates(leaf)
    return {"der": der, "thumbprint": hashlib.sha1(der).hexdigest().upper(), "not_before": not_before,
            "not_after": not_after, "has_private_key": True,
            "key_pem": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode("ascii"),
            "chain_pem": "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in chain)}


def load_certificate(path=None, content=None, password=None, require_key=False, option="certificate",
                     password_option="certificate_password"):
    """Load a certificate; returns ``{"der", "thumbprint", "not_before", "not_after", "has_private_key",
    "key_pem", "chain_pem"}`` (``thumbprint``: SHA-1, upper-case hex; dates in Graph's format).

    * ``require_key=False`` (``mtp_aad_app_setup``): a PEM or DER certificate from ``path`` or ``content``; a key
      in the same PEM is noted (``has_private_key``) but not parsed; ``key_pem``/``chain_pem`` are ``None``.
    * ``require_key=True`` (``auth_method: certificate``): a PEM holding key and certificate (and its chain) or a
      PFX, opened with ``password``; ``key_pem`` is the unencrypted PKCS#8 key, ``chain_pem`` starts with the
      certificate that matches it.

    Failures raise ``MtpConfigError`` naming ``option`` (or ``password_option``), never the password or key.
    """
    label = "certificate.path" if option == "certificate" else option
    if path:
        data = _read(path, option, label)
    elif content and not require_key:
        data = content.encode("utf-8") if not isinstance(content, bytes) else content
    else:
        raise MtpConfigError("certificate needs path or content" if not require_key else "%s is required" % option,
                             option=option)
    if require_key:
        return _with_key(data, path, password, option, password_option)
    return _certificate_only(data, option)


def check_certificate_validity(cert, now):
    """Refuse a certificate that is expired or not valid yet at ``now`` (naive UTC) before it is uploaded."""
    not_before = parse_graph_time(cert.get("not_before"))
    not_after = parse_graph_time(cert.get("not_after"))
    if not_after is not None and not_after <= now:
        raise MtpConfigError("certificate %s expired on %s; give a certificate that is valid now"
                             % (cert["thumbprint"], cert["not_after"]), option="certificate")
    if not_before is not None and not_before > now:
        raise MtpConfigError("certificate %s is not valid before %s; give a certificate that is valid now"
                             % (cert["thumbprint"], cert["not_before"]), option="certificate")
    return cert


def key_thumbprint(key_credential):
    """The SHA-1 thumbprint (upper hex) of a keyCredential, from ``key`` or ``customKeyIdentifier``."""
    key = key_credential.get("key")
    if key:
        try:
            return hashlib.sha1(base64.b64decode(key)).hexdigest().upper()
        except (binascii.Error, ValueError, TypeError):
            pass
    ident = key_credential.get("customKeyIdentifier") or ""
    if re.match(r"^[0-9A-Fa-f]{40}$", ident):
        return ident.upper()
    try:
        raw = base64.b64decode(ident)
    except (binascii.Error, ValueError, TypeError):
        return None
    if len(raw) == 20:
        return binascii.hexlify(raw).decode("ascii").upper()
    if re.match(br"^[0-9A-Fa-f]{40}$", raw):
        return raw.decode("ascii").upper()
    return None


def certificate_entry(cert, unique_name):
    entry = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(cert["der"]).decode("ascii"),
             "displayName": "%s%s" % (secret_label(unique_name), cert["thumbprint"])}
    if cert.get("not_before"):
        entry["startDateTime"] = cert["not_before"]
    if cert.get("not_after"):
        entry["endDateTime"] = cert["not_after"]
    return entry


def resend_key_credential(cred):
    keep = ("customKeyIdentifier", "displayName", "endDateTime", "key", "keyId", "startDateTime", "type", "usage")
    return dict((k, cred[k]) for k in keep if cred.get(k) is not None)


def cert_metadata(cred, thumbprint):
    return {"type": "certificate", "key_id": cred.get("keyId"), "thumbprint": thumbprint,
            "display_name": cred.get("displayName"), "start_date_time": cred.get("startDateTime"),
            "end_date_time": cred.get("endDateTime")}


def find_key(key_credentials, thumbprint):
    """The keyCredential with ``thumbprint``, or ``None``."""
    for cred in key_credentials or []:
        if key_thumbprint(cred) == thumbprint:
            return cred
    return None


# ---------------------------------------------------------------------------------------------------
# Federated identity credentials
# ---------------------------------------------------------------------------------------------------

def _https_url(value):
    match = re.match(r"^https://([^/?#\s]+)([/?#][^\s]*)?$", value or "")
    return bool(match) and "@" not in match.group(1)


def validate_federated(federated):
    """Check ``federated`` as Graph would (§6.3), before any write; every problem is reported at once."""
    fed = federated or {}
    problems = ["federated.%s is required" % k for k in ("name", "issuer", "subject") if not fed.get(k)]
    name = fed.get("name")
    if name and not FIC_NAME_RE.match(name):
        problems.append("federated.name %r is invalid: use 3-120 characters from A-Z a-z 0-9 - _ starting with a "
                        "letter or digit (it is the credential's URL-friendly, immutable key)" % (name,))
    issuer = fed.get("issuer")
    if issuer and (not _https_url(issuer) or len(issuer) > FIC_VALUE_MAX):
        problems.append("federated.issuer %r is invalid: give the identity provider's https:// URL (at most %d "
                        "characters), as in the iss claim of its tokens" % (issuer, FIC_VALUE_MAX))
    if fed.get("subject") and len(fed["subject"]) > FIC_VALUE_MAX:
        problems.append("federated.subject is longer than %d characters" % FIC_VALUE_MAX)
    audiences = fed.get("audiences")
    if audiences is not None and (len(audiences) != 1 or not audiences[0] or len(audiences[0]) > FIC_VALUE_MAX):
        problems.append("federated.audiences must hold exactly one value of at most %d characters (default %s)"
                        % (FIC_VALUE_MAX, DEFAULT_AUDIENCE))
    if problems:
        raise MtpConfigError("; ".join(problems), option="federated")
    return fed


def federated_body(federated):
    return {"name": federated["name"], "issuer": federated["issuer"], "subject": federated["subject"],
            "audiences": list(federated.get("audiences") or [DEFAULT_AUDIENCE])}


def federated_differs(current, wanted):
    if current is None:
        return True
    return (current.get("issuer") != wanted["issuer"] or current.get("subject") != wanted["subject"]
            or sorted(current.get("audiences") or []) != sorted(wanted["audiences"]))


def federated_metadata(fic):
    return {"type": "federated", "name": fic.get("name"), "issuer": fic.get("issuer"), "subject": fic.get("subject"),
            "audiences": fic.get("audiences")}


# ---------------------------------------------------------------------------------------------------
# The secret file
# ---------------------------------------------------------------------------------------------------

def check_secret_dest(path):
    """Fail before any write when the secret file could not be written."""
    if not path:
        return
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise MtpConfigError("secret_dest %s is a directory; give a file path" % path, option="secret_dest")
    if not os.path.isdir(directory):
        raise MtpConfigError("secret_dest: %s is not an existing directory" % directory, option="secret_dest")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise MtpConfigError("secret_dest: directory %s is not writable" % directory, option="secret_dest")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise MtpConfigError("secret_dest: %s exists and is not writable" % path, option="secret_dest")


def write_secret_file(path, value):
    """Atomic write with mode 0600 (temporary file in the same directory, then rename)."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".mtp-secret-", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
