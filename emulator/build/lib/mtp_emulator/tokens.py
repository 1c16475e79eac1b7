"""Signing keys, JWKS and JWTs of the emulated Entra ID token service.

Everything the token service keeps lives in ``state.extras["login"]`` as JSON-friendly values (PEM strings,
plain dicts), so ``EmulatorState.save()`` persists it. Parsed key objects are cached in this module by PEM.

- :func:`login_state` creates the per-state keys on first use: the token-signing key (``kid`` = base64url SHA-1
  thumbprint of its self-signed certificate, as Entra ID does) and the "external issuer" key that signs
  federation assertions minted by ``/_emulator/federation/token``.
- :func:`issue_access_token` signs an RS256 access token; :func:`verify_bearer` checks one on a resource route.
- :func:`id_token` and :func:`client_info` serve the user flows (MSAL needs both to cache user tokens).
- :func:`verify_client_assertion` checks a certificate client assertion against an app's keyCredentials;
  :func:`verify_federated_assertion` checks a workload-identity assertion against the app's federated
  identity credentials (:func:`federated_credentials`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import hashlib
import json
import secrets
import threading
import time
import uuid
from typing import Any, Iterable

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

LOGIN = "login"
_INIT_LOCK = threading.Lock()

COMMERCIAL_LOGIN_HOST = "login.microsoftonline.com"
USGOV_LOGIN_HOST = "login.microsoftonline.us"


class TokenRejected(Exception):
    """A bearer token a resource route must refuse (answer 401). ``reason`` is safe to put in the body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AssertionRejected(Exception):
    """A client assertion the token endpoint refuses: ``AadError(status, error, code, text)`` arguments."""

    def __init__(self, code: int, text: str, error: str = "invalid_client", status: int = 401) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.error = error
        self.status = status


# --- encoding helpers ---------------------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: str) -> bytes:
    value = value.strip()
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _int_b64(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


# --- keys ---------------------------------------------------------------------------------------------------
def _new_signing_material(common_name: str) -> dict:
    """A fresh RSA key with a self-signed certificate, as JSON-friendly strings."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(days=1)).not_valid_after(now + _dt.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    return {"kid": b64url(hashlib.sha1(der).digest()), "private_key_pem": pem,
            "x5c": base64.b64encode(der).decode("ascii")}


@functools.lru_cache(maxsize=64)
def _load_private_key(pem: str):
    return serialization.load_pem_private_key(pem.encode("ascii"), password=None)


def login_state(state) -> dict:
    """``state.extras["login"]``, created on first use (keys survive ``reset()`` of the same state)."""
    login = state.extras.get(LOGIN)
    if login is None or "signing_key" not in login:
        with _INIT_LOCK:
            login = state.extras.setdefault(LOGIN, {})
            if "signing_key" not in login:
                # The same state keeps its keys across resets, so that cached tokens stay verifiable.
                memo = getattr(state, "_login_keys_memo", None) or {
                    "signing_key": _new_signing_material("mtp-emulator token signing"),
                    "federation_key": _new_signing_material("mtp-emulator external issuer")}
                for name in ("refresh_tokens", "device_codes", "managed_identities"):
                    login.setdefault(name, {})
                login["federation_key"] = dict(memo["federation_key"])
                login["signing_key"] = dict(memo["signing_key"])
    memo = getattr(state, "_login_keys_memo", None)
    if memo is None or memo["signing_key"]["kid"] != login["signing_key"]["kid"]:
        # first use, or keys restored from a state file: remember them for later resets
        setattr(state, "_login_keys_memo", {"signing_key": login["signing_key"],
                                            "federation_key": login["federation_key"]})
    return login


def _public_jwk(material: dict, issuer: str | None = None) -> dict:
    numbers = _load_private_key(material["private_key_pem"]).public_key().public_numbers()
    jwk = {"kty": "RSA", "use": "sig", "kid": material["kid"], "x5t": material["kid"],
           "n": _int_b64(numbers.n), "e": _int_b64(numbers.e), "x5c": [material["x5c"]]}
    if issuer:
        jwk["issuer"] = issuer
    return jwk


def jwks(state, issuer: str | None = None) -> dict:
    """The JWKS document of the token-signing keys (``/{tenant}/discovery/v2.0/keys``)."""
    return {"keys": [_public_jwk(login_state(state)["signing_key"], issuer)]}


def federation_jwks(state) -> dict:
    return {"keys": [_public_jwk(login_state(state)["federation_key"])]}


def _sign(material: dict, claims: dict, typ: str = "JWT") -> str:
    headers = {"typ": typ, "kid": material["kid"], "x5t": material["kid"]}
    return jwt.encode(claims, _load_private_key(material["private_key_pem"]), algorithm="RS256",
                      headers=headers)


# --- issuing ------------------------------------------------------------------------------------------------
def login_host(cloud: str) -> str:
    return USGOV_LOGIN_HOST if cloud in ("usgov", "gcc_high", "dod") else COMMERCIAL_LOGIN_HOST


def issuer_for(tenant_id: str, version: str = "1.0", cloud: str = "commercial") -> str:
    """The ``iss`` of an access token: v1 ``https://sts.windows.net/{tid}/``, v2 ``https://{login}/{tid}/v2.0``."""
    usgov = cloud in ("usgov", "gcc_high", "dod")
    if version == "2.0":
        return f"https://{login_host(cloud)}/{tenant_id}/v2.0"
    return f"https://{USGOV_LOGIN_HOST}/{tenant_id}/" if usgov else f"https://sts.windows.net/{tenant_id}/"


def _tenant_id(tenant) -> str:
    return tenant if isinstance(tenant, str) else tenant.id


def issue_access_token(state, tenant, *, audience: str, app_id: str, roles: Iterable[str] | None = None,
                       scp: Iterable[str] | str | None = None, oid: str | None = None, upn: str | None = None,
                       cloud: str = "commercial", lifetime: int | None = None, version: str = "1.0",
                       extra: dict | None = None) -> tuple[str, int]:
    """An RS256 access token for ``audience``; returns ``(jwt, expires_in)``.

    ``roles`` (app-only) is omitted when empty, as Entra ID does for an app without admin consent. ``scp``
    makes it a delegated (user) token. ``oid`` is the service principal's or user's object id.
    """
    tid = _tenant_id(tenant)
    lifetime = int(lifetime if lifetime is not None else state.config.token_lifetime)
    now = int(time.time())
    oid = oid or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tid}/{app_id}"))
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer_for(tid, version, cloud),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "aio": b64url(secrets.token_bytes(24)),
        "appid": app_id,
        "appidacr": "1",
        "azp": app_id,
        "azpacr": "1",
        "idp": issuer_for(tid, "1.0", cloud),
        "idtyp": "user" if scp is not None else "app",
        "oid": oid,
        "rh": "0.AAAA" + b64url(secrets.token_bytes(12)) + ".",
        "sub": oid,
        "tid": tid,
        "uti": b64url(secrets.token_bytes(16)),
        "ver": version,
    }
    role_list = sorted(set(roles or []))
    if role_list:
        claims["roles"] = role_list
    if scp is not None:
        claims["scp"] = scp if isinstance(scp, str) else " ".join(scp)
        claims.pop("idp")
        claims["sub"] = b64url(hashlib.sha256(f"{oid}|{app_id}".encode()).digest())[:43]
        if upn:
            claims["upn"] = upn
            claims["unique_name"] = upn
            claims["name"] = upn.split("@", 1)[0]
    if extra:
        claims.update(extra)
    return _sign(login_state(state)["signing_key"], claims), lifetime


def id_token(state, tenant, *, client_id: str, user: dict, issuer: str, nonce: str | None = None,
             lifetime: int | None = None) -> str:
    """An OIDC id_token (v2 shape) for ``user`` (a directory user dict); ``issuer`` as in the discovery doc."""
    tid = _tenant_id(tenant)
    now = int(time.time())
    lifetime = int(lifetime if lifetime is not None else state.config.token_lifetime)
    claims = {
        "aud": client_id, "iss": issuer, "iat": now, "nbf": now, "exp": now + lifetime,
        "name": user.get("displayName") or user.get("userPrincipalName"),
        "oid": user["id"], "preferred_username": user.get("userPrincipalName"),
        "rh": "0.AAAA" + b64url(secrets.token_bytes(12)) + ".",
        "sub": b64url(hashlib.sha256(f"{user['id']}|{client_id}".encode()).digest())[:43],
        "tid": tid, "uti": b64url(secrets.token_bytes(16)), "ver": "2.0",
    }
    if nonce:
        claims["nonce"] = nonce
    return _sign(login_state(state)["signing_key"], claims)


def client_info(uid: str, utid: str) -> str:
    """base64url ``{"uid", "utid"}``: MSAL builds the home account id ``uid.utid`` from it."""
    return b64url(json.dumps({"uid": uid, "utid": utid}, separators=(",", ":")).encode("utf-8"))


# --- verifying bearer tokens --------------------------------------------------------------------------------
def _norm_aud(value: str) -> str:
    return value.strip().rstrip("/").lower()


def decode_verified(state, token: str, audiences: Iterable[str] | None = None) -> dict:
    """Verify signature, ``exp``/``nbf`` and (when given) the audience of a token this emulator issued."""
    if not token:
        raise TokenRejected("Access token is empty.")
    if token.count(".") != 2:
        raise TokenRejected("IDX14100: JWT is not well formed, there are no dots (.).")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRejected("IDX14102: Unable to decode the header as Base64Url encoded string.") from None
    material = login_state(state)["signing_key"]
    if header.get("alg") != "RS256" or header.get("kid") != material["kid"]:
        raise TokenRejected("Access token validation failure. Invalid signature key.")
    try:
        claims = jwt.decode(token, _load_private_key(material["private_key_pem"]).public_key(),
                            algorithms=["RS256"], options={"verify_aud": False, "require": ["exp", "aud"]},
                            leeway=5)
    except jwt.ExpiredSignatureError:
        raise TokenRejected("Lifetime validation failed, the token is expired.") from None
    except jwt.ImmatureSignatureError:
        raise TokenRejected("Lifetime validation failed, the token is not yet valid (nbf).") from None
    except jwt.InvalidSignatureError:
        raise TokenRejected("Access token validation failure. Invalid signature.") from None
    except jwt.PyJWTError:
        raise TokenRejected("Access token validation failure.") from None
    if audiences is not None:
        wanted = {_norm_aud(a) for a in audiences}
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not any(isinstance(a, str) and _norm_aud(a) in wanted for a in auds):
            raise TokenRejected("Access token validation failure. Invalid audience.")
    return claims


def verify_bearer(state, audiences: Iterable[str]) -> dict:
    """Claims of the ``Authorization: Bearer`` token of the current Flask request, or :class:`TokenRejected`."""
    from flask import request

    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise TokenRejected("Access token is empty.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise TokenRejected("Access token is empty.")
    return decode_verified(state, token.strip(), list(audiences))


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
