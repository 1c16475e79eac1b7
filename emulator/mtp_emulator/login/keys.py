"""Signing keys, JWKS and the JWTs of the emulated Entra ID token service (issuing and verifying).

Everything the token service keeps lives in ``state.extras["login"]`` as JSON-friendly values (PEM strings,
plain dicts), so ``EmulatorState.save()`` persists it. Parsed key objects are cached in this module by PEM.

- :func:`login_state` creates the per-state keys on first use: the token-signing key (``kid`` = base64url SHA-1
  thumbprint of its self-signed certificate, as Entra ID does) and the "external issuer" key that signs
  federation assertions minted by ``/_emulator/federation/token``.
- :func:`issue_access_token` signs an RS256 access token; :func:`verify_bearer` checks one on a resource route.
  The ``roles`` and ``scp`` it is given come from :mod:`mtp_emulator.login.grants`, the one place that
  computes them.
- :func:`id_token` and :func:`client_info` serve the user flows (MSAL needs both to cache user tokens).

Client assertions (certificates, workload identity federation) are checked in :mod:`.assertions`.
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
