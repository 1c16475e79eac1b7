"""Control-plane routes of the token service: the "external issuer" for workload identity federation, and
what the token service holds.

| route | what |
|---|---|
| ``GET / POST /_emulator/federation/token`` | ``subject`` (required), ``issuer``, ``audience``, ``lifetime`` |
| ``GET /_emulator/federation/.well-known/openid-configuration``, ``GET …/keys`` | the issuer's discovery and JWKS |
| ``GET /_emulator/login`` | signing ``kid``, managed identity ids, pending device codes, refresh token count |
"""

from __future__ import annotations

from flask import jsonify, request

from ..app import Route
from ..errors import MtpError
from . import assertions, keys
from .common import base_url


def control_federation_token(state):
    args = dict(request.args)
    args.update(request.get_json(silent=True) or {})
    subject = args.get("subject")
    if not subject:
        raise MtpError(400, "BadRequest", "Query parameter 'subject' is required.")
    issuer = args.get("issuer") or f"{base_url()}/_emulator/federation"
    audience = args.get("audience") or assertions.FEDERATION_AUDIENCE
    lifetime = int(args.get("lifetime") or 600)
    token = assertions.mint_federation_assertion(state, issuer=issuer, subject=subject, audience=audience,
                                                 lifetime=lifetime)
    return jsonify({"token": token, "issuer": issuer, "subject": subject, "audience": audience,
                    "expires_in": lifetime})


def control_federation_discovery(state):
    base = f"{base_url()}/_emulator/federation"
    return jsonify({"issuer": base, "jwks_uri": f"{base}/keys", "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]})


def control_federation_keys(state):
    return jsonify(keys.federation_jwks(state))


def control_login_info(state):
    login = keys.login_state(state)
    return jsonify({"signing_kid": login["signing_key"]["kid"],
                    "managed_identities": login.get("managed_identities"),
                    "device_codes_pending": sum(1 for r in login["device_codes"].values() if r["status"] == "pending"),
                    "refresh_tokens": len(login["refresh_tokens"])})


ROUTES = (
    Route("/_emulator/federation/token", ("GET", "POST"), control_federation_token),
    Route("/_emulator/federation/.well-known/openid-configuration", ("GET",), control_federation_discovery),
    Route("/_emulator/federation/keys", ("GET",), control_federation_keys),
    Route("/_emulator/login", ("GET",), control_login_info),
)
