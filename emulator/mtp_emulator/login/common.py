"""What every part of the token service shares: constants, error helpers, the request form, tenant and resource
resolution.

Errors use the real Entra ID body (:class:`mtp_emulator.errors.AadError`).
"""

from __future__ import annotations

import functools
import uuid
from urllib.parse import parse_qsl

from flask import request
from werkzeug.datastructures import MultiDict

from ..app import request_cloud
from ..errors import AadError
from ..seed import first_party

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
RESERVED_SCOPES = {"openid", "profile", "offline_access", "email"}
COMMON_TENANTS = {"common", "organizations", "consumers"}
KNOWN_LOGIN_HOSTS = ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net")
DEVICE_CODE_LIFETIME = 900
REFRESH_TOKEN_LIFETIME = 90 * 86400
GRAPH_RESOURCE = "https://graph.microsoft.com"


class AadErrorExtra(AadError):
    """An AadError with extra body keys (``suberror``, ``claims``)."""

    def __init__(self, status: int, error: str, code: int, text: str, extra: dict) -> None:
        super().__init__(status, error, code, text)
        self.extra = extra

    def body(self) -> dict:
        body = super().body()
        body.update(self.extra)
        return body


@functools.lru_cache(maxsize=1)
def first_party_apps() -> dict:
    return first_party()


def missing(name: str) -> AadError:
    return AadError(400, "invalid_request", 900144,
                    f"The request body must contain the following parameter: '{name}'.")


def base_url() -> str:
    return f"{request.scheme}://{request.host}"


def tenant_cloud(tenant) -> str:
    return "usgov" if tenant.cloud in ("gcc_high", "dod") else "commercial"


def no_store(resp):
    resp.headers["Cache-Control"] = "no-store, no-cache"
    resp.headers["Pragma"] = "no-cache"
    resp.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
    resp.headers.setdefault("x-ms-ests-server", "2.1.0 - mtp-emulator")
    return resp


def prune(store: dict, now: float, keep: int = 1000) -> None:
    """Drop expired records once a store grows past ``keep`` entries (call with ``state.lock`` held)."""
    if len(store) > keep:
        for key in [k for k, v in store.items() if v["expires_at"] < now]:
            del store[key]


def request_form() -> MultiDict:
    """The form of a token or device-code request.

    A body sent without any ``Content-Type`` is read as ``application/x-www-form-urlencoded``: Entra ID accepts
    such requests (some long-lived public clients send them). Any other declared type keeps Flask's reading
    (a JSON body has no form fields, so it gets the missing-parameter error as before)."""
    if request.content_type:
        return request.form
    raw = request.get_data(cache=True)
    if not raw:
        return request.form
    try:
        return MultiDict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return request.form


def count(state, grant: str) -> None:
    state.stats.record_token_request(grant)


# --- tenant and resource resolution -------------------------------------------------------------------------
def resolve_tenant(state, key: str):
    tenant = state.tenant(key)
    if tenant is None:
        raise AadError(400, "invalid_request", 90002,
                       f"Tenant '{key}' not found. Check to make sure you have the correct tenant ID and are "
                       "signing into the correct cloud. Check with your subscription administrator, this may "
                       "happen if there are no active subscriptions for the tenant.")
    check_cloud(tenant)
    return tenant


def check_cloud(tenant) -> None:
    reached, home = request_cloud(), tenant_cloud(tenant)
    if reached != home:
        names = {"usgov": "microsoftonline.us", "commercial": "microsoftonline.com"}
        raise AadError(400, "invalid_request", 90038,
                       f"NationalCloudTenantRedirection - The specified tenant '{tenant.id}' belongs to the "
                       f"National Cloud '{names[home]}'. Current cloud instance '{names[reached]}' does not "
                       f"federate with '{names[home]}'.")


def tenant_for_client(state, key: str, client_id: str | None, username: str | None = None):
    """The tenant of a token request; ``common``/``organizations`` resolve by user domain or client app."""
    if key.lower() not in COMMON_TENANTS:
        return resolve_tenant(state, key)
    if username and "@" in username:
        tenant = state.tenant(username.rsplit("@", 1)[1])
        if tenant is not None:
            check_cloud(tenant)
            return tenant
    for tenant in state.tenants.values():
        if client_id and tenant.directory.application_by_app_id(client_id, replicated_only=False):
            check_cloud(tenant)
            return tenant
    raise AadError(400, "invalid_request", 90002, f"Tenant '{key}' not found.")


def resolve_resource(tenant, resource: str) -> tuple[str, dict]:
    """Resource URI / appId → (resource appId, its service principal in the tenant); AADSTS500011 else."""
    wanted = resource.strip().rstrip("/").lower()
    directory = tenant.directory
    for app_id, spec in first_party_apps().items():
        names = {app_id.lower()} | {a.lower().rstrip("/") for a in spec.get("audiences", [])}
        if wanted in names:
            sp = directory.service_principal_by_app_id(app_id)
            if sp is not None:
                return app_id, sp
            break
    else:
        for sp in directory.iter("servicePrincipal"):
            names = {n.lower().rstrip("/") for n in sp.get("servicePrincipalNames") or []}
            if wanted == (sp.get("appId") or "").lower() or wanted in names:
                return sp["appId"], sp
        for application in directory.iter("application"):
            uris = {u.lower().rstrip("/") for u in application.get("identifierUris") or []}
            if wanted in uris:
                sp = directory.service_principal_by_app_id(application["appId"])
                if sp is not None:
                    return application["appId"], sp
    raise AadError(400, "invalid_resource", 500011,
                   f"The resource principal named {resource} was not found in the tenant named "
                   f"{tenant.display_name}. This can happen if the application has not been installed by the "
                   "administrator of the tenant or consented to by any user in the tenant. You might have sent "
                   "your authentication request to the wrong tenant.")
