"""Compatibility name for the token service's keys and JWTs, which live in :mod:`mtp_emulator.login`.

``from mtp_emulator import tokens`` keeps working for the route modules and the tests:
:mod:`mtp_emulator.login.keys` (signing keys, JWKS, issuing and verifying tokens) and
:mod:`mtp_emulator.login.assertions` (certificate and federated client assertions) are re-exported here.
"""

from __future__ import annotations

from .login.assertions import (ASSERTION_TYPE, FEDERATION_AUDIENCE, AssertionRejected,  # noqa: F401
                               credential_expired, credential_not_started, federated_credentials,
                               is_federation_assertion, mint_federation_assertion, unverified_assertion,
                               verify_client_assertion, verify_federated_assertion)
from .login.keys import (COMMERCIAL_LOGIN_HOST, LOGIN, USGOV_LOGIN_HOST, TokenRejected, b64url,  # noqa: F401
                         b64url_decode, client_info, decode_verified, federation_jwks, id_token, issue_access_token,
                         issuer_for, jwks, login_host, login_state, verify_bearer)
