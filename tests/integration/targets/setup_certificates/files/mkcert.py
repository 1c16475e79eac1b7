#!/usr/bin/env python
"""Write a test CA and an RSA client certificate signed by it, in the forms auth_method=certificate reads.

Usage: mkcert.py DIR PASSWORD. Writes DIR/client.pem (key + certificate), DIR/client-encrypted.pem (key
encrypted with PASSWORD + certificate), DIR/client-chain.pem (key + certificate + CA), DIR/client.pfx (PKCS#12
with PASSWORD, CA included). Prints JSON: the base64 DER of the client certificate (Graph keyCredentials
``key``), its SHA-1 thumbprint (upper-case hex) and the PEM body lines of the key (for the no-log checks).
"""
import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


def _cert(subject, issuer, public_key, signing_key, ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(signing_key, hashes.SHA256())


def main():
    out, password = sys.argv[1], sys.argv[2].encode("utf-8")
    os.makedirs(out, mode=0o700, exist_ok=True)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = _cert("m365.defender integration test CA", "m365.defender integration test CA", ca_key.public_key(),
               ca_key, True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _cert("m365.defender integration test client", "m365.defender integration test CA", key.public_key(),
                 ca_key, False)
    pem = serialization.Encoding.PEM
    plain_key = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    enc_key = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(password))
    cert_pem, ca_pem = cert.public_bytes(pem), ca.public_bytes(pem)
    files = {
        "client.pem": plain_key + cert_pem,
        "client-encrypted.pem": enc_key + cert_pem,
        "client-chain.pem": plain_key + cert_pem + ca_pem,
        "client.pfx": pkcs12.serialize_key_and_certificates(b"client", key, cert, [ca],
                                                            serialization.BestAvailableEncryption(password)),
    }
    for name, data in files.items():
        path = os.path.join(out, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(data)
    body = [line for line in plain_key.decode("ascii").splitlines() if not line.startswith("-----")]
    enc_body = [line for line in enc_key.decode("ascii").splitlines() if not line.startswith("-----")]
    json.dump({"der_b64": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii"),
               "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),
               "key_body_lines": body, "encrypted_key_body_lines": enc_body}, sys.stdout)


if __name__ == "__main__":
    main()
