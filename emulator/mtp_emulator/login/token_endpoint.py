"""The token endpoint, ``POST /{tenant}/oauth2/v2.0/token`` and v1 ``POST /{tenant}/oauth2/token``.

It reads the form (also a body sent without ``Content-Type``, see :func:`.common.request_form`), counts the
request by grant type, resolves the tenant (``common`` / ``organizations`` by the user's domain or the client
app) and hands over to the grant handler of :data:`GRANTS`.
"""

from __future__ import annotations

from ..app import Route
from ..errors import AadError
from .clients import client_credentials_from_request
from .common import COMMON_TENANTS, DEVICE_CODE_GRANT, count, missing, request_form, resolve_tenant, tenant_for_client
from .device_code import grant_device_code
from .grants import grant_client_credentials, grant_password, grant_refresh_token

# grant_type -> handler(state, tenant, form, v2)
GRANTS = {
    "client_credentials": grant_client_credentials,
    "password": grant_password,
    "refresh_token": grant_refresh_token,
    DEVICE_CODE_GRANT: grant_device_code,
    "device_code": grant_device_code,
}
GRANT_NAMES = {DEVICE_CODE_GRANT: "device_code"}  # how the statistics name a grant


def token_endpoint(state, tenant: str, v2: bool):
    form = request_form()
    grant = form.get("grant_type") or ""
    count(state, GRANT_NAMES.get(grant, grant) or "missing")
    if tenant.lower() not in COMMON_TENANTS:
        tenant_obj = resolve_tenant(state, tenant)
    else:
        client_id, _ = client_credentials_from_request(form)
        tenant_obj = tenant_for_client(state, tenant, client_id, form.get("username"))
    if not grant:
        raise missing("grant_type")
    handler = GRANTS.get(grant)
    if handler is None:
        raise AadError(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")
    return handler(state, tenant_obj, form, v2)


def login_token_v2(state, tenant):
    return token_endpoint(state, tenant, True)


def login_token_v1(state, tenant):
    return token_endpoint(state, tenant, False)


ROUTES = (
    Route("/<tenant>/oauth2/v2.0/token", ("POST",), login_token_v2),
    Route("/<tenant>/oauth2/token", ("POST",), login_token_v1),
)
