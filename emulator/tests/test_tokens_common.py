"""Helpers shared by the token-service tests (test_tokens_*.py); no tests here.

Tokens are checked the way a resource server would: the signing key comes from the emulator's JWKS over TLS
(pyjwt's PyJWKClient), never from the emulator's Python objects.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ssl
import uuid

import jwt
import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

MTP = "https://api.security.microsoft.com"
WDATP = "https://api.securitycenter.microsoft.com"
GRAPH = "https://graph.microsoft.com"
TOKEN_ERROR_KEYS = {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"}


def fixture_tenant(emulator, index: int = 0) -> dict:
    """The tenant spec of the start-up fixture (the source of the expected roles, secrets and users)."""
    return emulator.state.fixture["tenants"][index]


def jwks_verify(emulator, token: str, audience: str, tenant_id: str) -> dict:
    """Verify ``token`` against the JWKS fetched over TLS, as a resource server would."""
    ctx = ssl.create_default_context(cafile=emulator.ca_path)
    client = jwt.PyJWKClient(emulator.url(f"/{tenant_id}/discovery/v2.0/keys"), ssl_context=ctx,
                             cache_jwk_set=False)
    key = client.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience)


def confidential_app(emulator, tenant_id: str, client_id: str, credential) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential, authority=f"{emulator.base_url}/{tenant_id}",
        instance_discovery=False, http_client=emulator.session())


def public_app(emulator, tenant_id: str, client_id: str) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        client_id, authority=f"{emulator.base_url}/{tenant_id}", instance_discovery=False,
        http_client=emulator.session())


def make_certificate(days_valid: int = 30, not_before_days: int = -1):
    """(private key PEM, certificate PEM, certificate DER) of a self-signed RSA certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"token-test-{uuid.uuid4().hex[:8]}")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=not_before_days))
            .not_valid_after(now + dt.timedelta(days=days_valid)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key, key_pem, cert.public_bytes(serialization.Encoding.PEM).decode(), \
        cert.public_bytes(serialization.Encoding.DER), cert


def upload_certificate(emulator, tenant_id: str, client_id: str, der: bytes, *, end: str = "2099-01-01T00:00:00Z",
                       created: float = 0) -> dict:
    """Add a keyCredential (base64 DER) to the app object in the emulator's state, as Graph would store it."""
    app = emulator.state.tenants[tenant_id].directory.application_by_app_id(client_id, replicated_only=False)
    entry = {"customKeyIdentifier": hashlib.sha1(der).hexdigest().upper(), "displayName": "CN=test",
             "endDateTime": end, "key": base64.b64encode(der).decode(), "keyId": str(uuid.uuid4()),
             "startDateTime": "2024-01-01T00:00:00Z", "type": "AsymmetricX509Cert", "usage": "Verify",
             "_created": created}
    app.setdefault("keyCredentials", []).append(entry)
    return entry


def aad_error(resp, status: int, error: str, code: int) -> dict:
    """Assert an Entra ID error response and return its body."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert TOKEN_ERROR_KEYS <= set(body), body
    assert body["error"] == error, body
    assert body["error_codes"] == [code], body
    assert body["error_description"].startswith(f"AADSTS{code}: "), body
    assert "Trace ID: " in body["error_description"] and "Correlation ID: " in body["error_description"]
    return body


@pytest.fixture(autouse=False, scope="module")
def reset_after_module(emulator):
    """Leave the shared session emulator as the start-up fixture for the test modules that follow."""
    yield
    emulator.reset()
