"""The emulated Entra ID token service, at its real paths, as importable parts.

| module | what |
|---|---|
| :mod:`.token_endpoint` | ``/{tenant}/oauth2/v2.0/token``, ``/{tenant}/oauth2/token``: grant dispatch |
| :mod:`.grants` | where a token's ``roles`` and ``scp`` are computed; client credentials, ROPC, refresh token |
| :mod:`.clients` | client authentication: secret (form or HTTP Basic), certificate or federated assertion |
| :mod:`.device_code` | ``/{tenant}/oauth2/v2.0/devicecode`` (and v1), its grant, ``/_emulator/devicecode/*`` |
| :mod:`.discovery` | OIDC discovery (v1, v2), JWKS, MSAL instance discovery, user realm |
| :mod:`.managed_identity` | seeded identities; IMDS ``/metadata/identity/oauth2/token``, App Service ``/msi/token`` |
| :mod:`.users` | sign-in checks of users (AADSTS50053/50057/50076/50126/50173), ``wids``, ``/_emulator/users`` |
| :mod:`.control` | ``/_emulator/federation/*`` (an external issuer for workload identity), ``/_emulator/login`` |
| :mod:`.keys` | signing keys, JWKS, issuing and verifying JWTs (``mtp_emulator.tokens`` re-exports it) |
| :mod:`.assertions` | certificate and federated client assertions |
| :mod:`.common` | constants, the request form, tenant and resource resolution |

Every route is a flat function ``view(state, **url_values)`` in its module's ``ROUTES`` table;
:func:`register` seeds the managed identities and registers the tables (:func:`mtp_emulator.app.add_routes`).

Errors use the real Entra ID body (:class:`mtp_emulator.errors.AadError`). Replication lag: an app younger than
``config.replication_lag`` is not found (AADSTS700016); a younger client secret is refused (AADSTS7000215).
"""

from __future__ import annotations

from ..app import add_routes
from . import control, device_code, discovery, managed_identity, token_endpoint, users
from .managed_identity import seed_login

ROUTES = (token_endpoint.ROUTES + device_code.ROUTES + discovery.ROUTES + managed_identity.ROUTES
          + control.ROUTES + users.ROUTES)

__all__ = ["ROUTES", "register", "seed_login"]


def register(app, state) -> None:
    if seed_login not in state.seeders:
        state.seeders.append(seed_login)
    seed_login(state)
    add_routes(app, state, ROUTES)
