"""Client assertions at the token endpoint: certificates (``keyCredentials``) and workload identity federation.

- :func:`verify_client_assertion` checks a certificate client assertion against an app's keyCredentials
  (RS256/PS256, ``x5t``/``x5t#S256``/``x5c``, ``iss``/``sub``/``aud``/``exp``/``nbf``);
- :func:`verify_federated_assertion` checks a workload-identity assertion, signed by the emulator's "external
  issuer" key, against the app's federated identity credentials (:func:`federated_credentials`);
- :func:`mint_federation_assertion` is that external issuer (``/_emulator/federation/token``).

Failures raise :class:`AssertionRejected` with the arguments of the Entra ID error (AADSTS code and text).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import time
import uuid
from typing import Iterable

import jwt
from cryptography import x509

from .keys import _load_private_key, _norm_aud, _sign, b64url, b64url_decode, login_state

class AssertionRejected(Exception):
    """A client assertion the token endpoint refuses: ``AadError(status, error, code, text)`` arguments."""

    def __init__(self, code: int, text: str, error: str = "invalid_client", status: int = 401) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.error = error
        self.status = status


# --- client assertions --------------------------------------------------------------------------------------
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"


def _parse_time(value) -> float | None:
    if not value:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def credential_expired(cred: dict, now: float | None = None) -> bool:
    end = _parse_time(cred.get("endDateTime"))
    return end is not None and end < (now or time.time())


def credential_not_started(cred: dict, now: float | None = None) -> bool:
    start = _parse_time(cred.get("startDateTime"))
    return start is not None and start > (now or time.time()) + 300


def _cert_der(cred: dict) -> bytes | None:
    key = cred.get("key") or cred.get("_key")
    if not key:
        return None
    try:
        return base64.b64decode(key) if isinstance(key, str) else bytes(key)
    except (ValueError, TypeError):
        return None


def unverified_assertion(assertion: str) -> tuple[dict, dict]:
    """Header and claims of a JWT without verifying it; raises AADSTS50027 when it is not a JWT."""
    try:
        return jwt.get_unverified_header(assertion), jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AssertionRejected(50027, "JWT token is invalid or malformed.", "invalid_request", 400) from None


def _check_times(claims: dict, now: float) -> None:
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
    if not isinstance(exp, (int, float)) or exp < now - 300 or (isinstance(nbf, (int, float)) and nbf > now + 300):
        def iso(v):
            return (_dt.datetime.fromtimestamp(v, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
                    if isinstance(v, (int, float)) else "unknown")
        raise AssertionRejected(
            700024, f"Client assertion is not within its valid time range. Current time: {iso(now)}, assertion "
                    f"valid from {iso(nbf or 0)}, expiry time of assertion {iso(exp)}. Review the documentation at "
                    "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")


def verify_client_assertion(state, app: dict, client_id: str, assertion: str, audiences: Iterable[str],
                            replicated=None) -> dict:
    """Verify a certificate client assertion (RS256/PS256, ``x5t``/``x5t#S256``/``x5c``) against
    ``app["keyCredentials"]``. ``audiences`` are the token endpoint URLs accepted as ``aud``.
    ``replicated(cred)`` hides credentials still inside the replication lag. Returns the claims."""
    header, unverified = unverified_assertion(assertion)
    now = time.time()
    thumb_sha1 = thumb_sha256 = None
    try:
        if header.get("x5t#S256"):
            thumb_sha256 = b64url_decode(header["x5t#S256"])
        if header.get("x5t"):
            thumb_sha1 = b64url_decode(header["x5t"])
    except (ValueError, TypeError):
        raise AssertionRejected(50027, "JWT token is invalid or malformed.", "invalid_request", 400) from None
    x5c_der = None
    if header.get("x5c"):
        try:
            x5c_der = base64.b64decode(header["x5c"][0])
        except (ValueError, TypeError, IndexError):
            raise AssertionRejected(50027, "JWT token is invalid or malformed.", "invalid_request", 400) from None
    shown = b64url(thumb_sha1 or thumb_sha256 or b"").upper() if (thumb_sha1 or thumb_sha256) else "none"
    not_found = AssertionRejected(
        700027, f"Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of "
                f"key used by client: '{shown}', Please visit the Azure Portal, Graph Explorer or directly use MS "
                f"Graph to see configured keys for app Id '{client_id}'.]")
    chosen = None
    for cred in app.get("keyCredentials") or []:
        der = _cert_der(cred)
        if der is None or (replicated is not None and not replicated(cred)):
            continue
        sha1, sha256 = hashlib.sha1(der).digest(), hashlib.sha256(der).digest()
        if (thumb_sha1 and thumb_sha1 == sha1) or (thumb_sha256 and thumb_sha256 == sha256) or (
                x5c_der is not None and not thumb_sha1 and not thumb_sha256 and x5c_der == der):
            if x5c_der is not None and x5c_der != der:
                continue
            chosen = (cred, der)
            break
    if chosen is None:
        raise not_found
    cred, der = chosen
    if credential_expired(cred, now) or credential_not_started(cred, now):
        raise AssertionRejected(
            700027, f"Client assertion contains an invalid signature. [Reason - The key used is expired., "
                    f"Thumbprint of key used by client: '{shown}', Configured keys: for app Id '{client_id}'.]")
    public_key = x509.load_der_x509_certificate(der).public_key()
    try:
        claims = jwt.decode(assertion, public_key, algorithms=["RS256", "PS256"],
                            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False})
    except jwt.PyJWTError:
        raise AssertionRejected(
            700027, f"Client assertion contains an invalid signature. [Reason - The provided signature value did "
                    f"not match the expected signature value., Thumbprint of key used by client: '{shown}']") from None
    _check_common_claims(claims, client_id, audiences, now)
    return claims


def _check_common_claims(claims: dict, client_id: str, audiences: Iterable[str], now: float) -> None:
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise AssertionRejected(700021, "Client assertion application identifier doesn't match 'client_id' "
                                        "parameter. Review the documentation at "
                                        "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")
    wanted = {_norm_aud(a) for a in audiences}
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and _norm_aud(a) in wanted for a in auds):
        raise AssertionRejected(700023, "Client assertion audience claim does not match Realm issuer. Review the "
                                        "documentation at "
                                        "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")
    _check_times(claims, now)


# --- federated identity credentials (workload identity) -----------------------------------------------------
def federated_credentials(app: dict) -> list[dict]:
    """The federated identity credentials of an application object, wherever the Graph routes keep them."""
    for key in ("_federatedIdentityCredentials", "_fics", "federatedIdentityCredentials"):
        value = app.get(key)
        if isinstance(value, dict):
            return list(value.values())
        if isinstance(value, list):
            return value
    return []


def mint_federation_assertion(state, *, issuer: str, subject: str, audience: str = FEDERATION_AUDIENCE,
                              lifetime: int = 600) -> str:
    """An assertion from the emulator's "external issuer" (a stand-in for GitHub, Kubernetes, ...)."""
    now = int(time.time())
    claims = {"iss": issuer, "sub": subject, "aud": audience, "iat": now, "nbf": now, "exp": now + lifetime,
              "jti": str(uuid.uuid4())}
    return _sign(login_state(state)["federation_key"], claims)


def is_federation_assertion(state, header: dict) -> bool:
    return header.get("kid") == login_state(state)["federation_key"]["kid"] and not header.get("x5c")


def verify_federated_assertion(state, app: dict, assertion: str, replicated=None) -> dict:
    """Verify an external-issuer assertion (signed by the emulator's federation key) and match it to one of
    the app's federated identity credentials by issuer, subject and audience (AADSTS70021 otherwise)."""
    material = login_state(state)["federation_key"]
    try:
        claims = jwt.decode(assertion, _load_private_key(material["private_key_pem"]).public_key(),
                            algorithms=["RS256"], options={"verify_aud": False, "verify_exp": False,
                                                           "verify_nbf": False, "verify_iat": False})
    except jwt.PyJWTError:
        raise AssertionRejected(700027, "Client assertion contains an invalid signature. [Reason - The key was "
                                        "not found.]") from None
    now = time.time()
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp < now - 300:
        raise AssertionRejected(700024, "Client assertion is not within its valid time range.")
    iss, sub, aud = claims.get("iss"), claims.get("sub"), claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    for fic in federated_credentials(app):
        if replicated is not None and "_created" in fic and not replicated(fic):
            continue
        if fic.get("issuer") == iss and fic.get("subject") == sub and any(
                a in (fic.get("audiences") or []) for a in auds):
            return claims
    raise AssertionRejected(
        70021, f"No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. "
               f"Assertion Subject: '{sub}'. Assertion Audience: '{', '.join(str(a) for a in auds)}'. "
               "https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
        "invalid_request", 400)
