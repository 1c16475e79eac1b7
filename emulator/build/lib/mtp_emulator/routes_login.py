"""The Entra ID token service at its real paths, plus managed-identity endpoints and login control paths.

- OIDC discovery (v1, v2), JWKS, MSAL instance discovery, user realm.
- ``/{tenant}/oauth2/v2.0/token`` and ``/{tenant}/oauth2/token``: client credentials (secret in the form or
  HTTP Basic, certificate assertion, federated assertion), device code, ROPC (``password``), refresh token.
- ``/{tenant}/oauth2/v2.0/devicecode`` (and v1 ``/oauth2/devicecode``).
- Managed identity: IMDS ``/metadata/identity/oauth2/token`` and App Service ``/msi/token``.
- Control plane: ``/_emulator/devicecode/{pending,approve,decline}``, ``/_emulator/federation/...`` (an
  "external issuer" for workload identity) and ``/_emulator/login`` (managed identity ids).

Errors use the real Entra ID body (:class:`errors.AadError`). Replication lag: an app younger than
``config.replication_lag`` is not found (AADSTS700016); a younger client secret is refused (AADSTS7000215).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import time
import uuid
from urllib.parse import unquote, urlparse

from flask import jsonify, request

from . import tokens
from .app import request_cloud
from .errors import AadError, MtpError
from .seed import assign_roles, first_party, resource_sp
from .state import GRAPH_APP_ID, MTP_APP_ID, hash_secret

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
RESERVED_SCOPES = {"openid", "profile", "offline_access", "email"}
COMMON_TENANTS = {"common", "organizations", "consumers"}
KNOWN_LOGIN_HOSTS = ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net")
DEVICE_CODE_LIFETIME = 900
REFRESH_TOKEN_LIFETIME = 90 * 86400
MI_ROLES = {  # resource appId -> app roles of the seeded managed identities
    "system": {MTP_APP_ID: ["AdvancedHunting.Read.All"], GRAPH_APP_ID: ["ThreatHunting.Read.All"]},
    "user": {MTP_APP_ID: ["AdvancedHunting.Read.All", "Incident.Read.All"],
             GRAPH_APP_ID: ["ThreatHunting.Read.All"]},
}


class _AadErrorExtra(AadError):
    """An AadError with extra body keys (``suberror``, ``claims``)."""

    def __init__(self, status: int, error: str, code: int, text: str, extra: dict) -> None:
        super().__init__(status, error, code, text)
        self.extra = extra

    def body(self) -> dict:
        body = super().body()
        body.update(self.extra)
        return body


@functools.lru_cache(maxsize=1)
def _first_party() -> dict:
    return first_party()


def _missing(name: str) -> AadError:
    return AadError(400, "invalid_request", 900144,
                    f"The request body must contain the following parameter: '{name}'.")


def _base_url() -> str:
    return f"{request.scheme}://{request.host}"


def _tenant_cloud(tenant) -> str:
    return "usgov" if tenant.cloud in ("gcc_high", "dod") else "commercial"


def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store, no-cache"
    resp.headers["Pragma"] = "no-cache"
    resp.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
    resp.headers.setdefault("x-ms-ests-server", "2.1.0 - mtp-emulator")
    return resp


def _prune(store: dict, now: float, keep: int = 1000) -> None:
    """Drop expired records once a store grows past ``keep`` entries (call with ``state.lock`` held)."""
    if len(store) > keep:
        for key in [k for k, v in store.items() if v["expires_at"] < now]:
            del store[key]


# ---------------------------------------------------------------------------------------------------------------
# seeding: managed identities in the first tenant
# ---------------------------------------------------------------------------------------------------------------
def seed_login(state) -> None:
    """Create the login extras and the managed identities (idempotent; ids are derived from the tenant id)."""
    login = tokens.login_state(state)
    tenant = next(iter(state.tenants.values()), None)
    if tenant is None:
        return
    directory = tenant.directory
    kid = login["signing_key"]["kid"]
    info = {"tenant_id": tenant.id,
            "identity_header": hashlib.sha256(f"identity-header/{kid}".encode()).hexdigest()[:32],
            "system_assigned": None, "user_assigned": []}
    specs = [
        ("system", "mtp-emulator-vm", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                                      "rg-mtp-emulator/providers/Microsoft.Compute/virtualMachines/mtp-emulator-vm"),
        ("user", "mtp-emulator-uami", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                                      "rg-mtp-emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                                      "mtp-emulator-uami"),
    ]
    for kind, name, res_id in specs:
        client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mtp-emulator/{tenant.id}/mi/{kind}/app"))
        object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mtp-emulator/{tenant.id}/mi/{kind}/sp"))
        if directory.objects.get(object_id) is None:
            sp = directory.add("servicePrincipal", {
                "id": object_id, "accountEnabled": True, "appId": client_id, "appDisplayName": None,
                "displayName": name, "servicePrincipalType": "ManagedIdentity",
                "alternativeNames": [f"isExplicit={'True' if kind == 'user' else 'False'}", res_id],
                "servicePrincipalNames": [client_id, f"https://identity.azure.net/{name}"],
                "appRoles": [], "oauth2PermissionScopes": [], "tags": [],
                "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
            })
            sp["_created"] = 0
            for resource_app_id, roles in MI_ROLES[kind].items():
                if resource_sp(tenant, resource_app_id) is not None:
                    assign_roles(tenant, sp, resource_app_id, roles, seeded=True)
        entry = {"client_id": client_id, "object_id": object_id, "principal_id": object_id,
                 "msi_res_id": res_id, "name": name}
        if kind == "system":
            info["system_assigned"] = entry
        else:
            info["user_assigned"].append(entry)
    login["managed_identities"] = info


# ---------------------------------------------------------------------------------------------------------------
def register(app, state) -> None:  # noqa: C901 - one closure per route keeps the wiring readable
    if seed_login not in state.seeders:
        state.seeders.append(seed_login)
    seed_login(state)

    # --- tenant and resource resolution ------------------------------------------------------------------------
    def resolve_tenant(key: str):
        tenant = state.tenant(key)
        if tenant is None:
            raise AadError(400, "invalid_request", 90002,
                           f"Tenant '{key}' not found. Check to make sure you have the correct tenant ID and are "
                           "signing into the correct cloud. Check with your subscription administrator, this may "
                           "happen if there are no active subscriptions for the tenant.")
        check_cloud(tenant)
        return tenant

    def check_cloud(tenant) -> None:
        reached, home = request_cloud(), _tenant_cloud(tenant)
        if reached != home:
            names = {"usgov": "microsoftonline.us", "commercial": "microsoftonline.com"}
            raise AadError(400, "invalid_request", 90038,
                           f"NationalCloudTenantRedirection - The specified tenant '{tenant.id}' belongs to the "
                           f"National Cloud '{names[home]}'. Current cloud instance '{names[reached]}' does not "
                           f"federate with '{names[home]}'.")

    def tenant_for_client(key: str, client_id: str | None, username: str | None = None):
        """The tenant of a token request; ``common``/``organizations`` resolve by user domain or client app."""
        if key.lower() not in COMMON_TENANTS:
            return resolve_tenant(key)
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
        for app_id, spec in _first_party().items():
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

    def parse_scope(scope: str | None, app_only: bool) -> tuple[str, list[str], set[str]]:
        """v2 ``scope`` → (resource as requested, scope names on it, reserved OIDC scopes)."""
        if not scope or not scope.strip():
            raise AadError(400, "invalid_scope", 70011,
                           "The provided request must include a 'scope' input parameter.")
        items = scope.split()
        reserved = {s.lower() for s in items if s.lower() in RESERVED_SCOPES}
        rest = [s for s in items if s.lower() not in RESERVED_SCOPES]
        bad = AadError(400, "invalid_scope", 70011,
                       f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not "
                       "valid.")
        if app_only:
            if len(rest) != 1 or not rest[0].endswith("/.default") or reserved:
                raise AadError(400, "invalid_scope", 70011,
                               f"The provided value for the input parameter 'scope' is not valid. The scope {scope} "
                               "is not valid. The scope must be a single resource with the '/.default' suffix.")
            resource = rest[0][: -len("/.default")]
            if not resource:
                raise bad
            return resource, [".default"], reserved
        if not rest:
            return "https://graph.microsoft.com", [], reserved  # OIDC-only request: Graph, as Entra ID does
        resources, names = set(), []
        for item in rest:
            if "/" in item and not item.startswith("/"):
                resource, _, name = item.rpartition("/")
            else:
                resource, name = "https://graph.microsoft.com", item
            if not resource or not name:
                raise bad
            resources.add(resource.rstrip("/"))
            names.append(name)
        if len({r.lower() for r in resources}) != 1:
            raise bad
        if ".default" in names and len(names) > 1:
            raise bad
        return resources.pop(), names, reserved

    # --- client authentication --------------------------------------------------------------------------------
    def client_credentials_from_request(form) -> tuple[str | None, str | None]:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise AadError(401, "invalid_client", 7000215, "Invalid client secret provided.") from None
            client_id = client_id or unquote(user)
            secret = secret or unquote(password)
        return client_id, secret

    def find_application(tenant, client_id: str):
        application = tenant.directory.application_by_app_id(client_id)
        if application is None:
            # a multi-tenant app registered elsewhere, with a service principal in this tenant
            if tenant.directory.service_principal_by_app_id(client_id) is not None:
                for other in state.tenants.values():
                    home = other.directory.application_by_app_id(client_id)
                    if home is not None and home.get("signInAudience") != "AzureADMyOrg":
                        return home
            raise AadError(400, "unauthorized_client", 700016,
                           f"Application with identifier '{client_id}' was not found in the directory "
                           f"'{tenant.display_name}'. This can happen if the application has not been installed by "
                           "the administrator of the tenant or consented to by any user in the tenant. You may have "
                           "sent your authentication request to the wrong tenant.")
        return application

    def token_urls(tenant) -> list[str]:
        base = _base_url()
        keys = {tenant.id, tenant.domain, request.view_args.get("tenant", tenant.id)}
        return [f"{base}/{k}/oauth2/{v}token" for k in keys for v in ("v2.0/", "")]

    def authenticate_client(tenant, form, *, confidential_required: bool | None):
        """Authenticate the client of a token request; returns (application, client_id, appidacr).

        ``confidential_required``: True (client credentials), None (public clients may send nothing)."""
        client_id, secret = client_credentials_from_request(form)
        if not client_id:
            raise _missing("client_id")
        application = find_application(tenant, client_id)
        assertion = form.get("client_assertion")
        if secret:
            verify_secret(tenant, application, client_id, secret)
            return application, client_id, "1"
        if assertion:
            if form.get("client_assertion_type") != tokens.ASSERTION_TYPE:
                raise _missing("client_assertion_type")
            try:
                header, _ = tokens.unverified_assertion(assertion)
                if tokens.is_federation_assertion(state, header):
                    tokens.verify_federated_assertion(state, application, assertion,
                                                      replicated=tenant.directory.replicated)
                else:
                    tokens.verify_client_assertion(state, application, client_id, assertion, token_urls(tenant),
                                                   replicated=tenant.directory.replicated)
            except tokens.AssertionRejected as exc:
                raise AadError(exc.status, exc.error, exc.code, exc.text) from None
            return application, client_id, "2"
        if confidential_required or not application.get("isFallbackPublicClient"):
            raise AadError(401, "invalid_client", 7000218,
                           "The request body must contain the following parameter: 'client_assertion' or "
                           "'client_secret'.")
        return application, client_id, "0"

    def verify_secret(tenant, application, client_id: str, secret: str) -> None:
        digest = hash_secret(secret)
        for cred in application.get("passwordCredentials") or []:
            if cred.get("_secretHash") != digest or not tenant.directory.replicated(cred):
                continue
            if tokens.credential_expired(cred):
                raise AadError(401, "invalid_client", 7000222,
                               f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure "
                               "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider "
                               "using certificate credentials for added security: https://aka.ms/certCreds.")
            return
        raise AadError(401, "invalid_client", 7000215,
                       "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                       f"secret value, not the client secret ID, for a secret added to app '{client_id}'.")

    # --- issuing ----------------------------------------------------------------------------------------------
    def count(grant: str) -> None:
        state.stats.record_token_request(grant)

    def token_response(body: dict):
        return _no_store(jsonify(body))

    def access_body(token: str, expires_in: int, v2: bool, resource: str) -> dict:
        if v2:
            return {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
                    "access_token": token}
        now = int(time.time())
        return {"token_type": "Bearer", "expires_in": str(expires_in), "ext_expires_in": str(expires_in),
                "expires_on": str(now + expires_in), "not_before": str(now), "resource": resource,
                "access_token": token}

    def app_only_token(tenant, client_id: str, acr: str, resource: str, v2: bool):
        resource_app_id, _ = resolve_resource(tenant, resource)
        client_sp = tenant.directory.service_principal_by_app_id(client_id)
        if client_sp is None:
            # code unverified: Entra ID answers this when the app has no service principal in the tenant
            raise AadError(400, "invalid_client", 7000229,
                           f"The client application {client_id} is missing service principal in the tenant "
                           f"{tenant.id}.")
        roles = tenant.directory.granted_roles(client_id, resource_app_id)
        token, expires_in = tokens.issue_access_token(
            state, tenant, audience=resource, app_id=client_id, roles=roles, oid=client_sp["id"],
            cloud=_tenant_cloud(tenant), extra={"appidacr": acr, "azpacr": acr})
        state.stats.record_token(client_id)
        return token_response(access_body(token, expires_in, v2, resource))

    def new_refresh_token(tenant, client_id: str, user_id: str) -> str:
        value = "1.A" + tokens.b64url(secrets.token_bytes(48))
        now = time.time()
        with state.lock:
            store = tokens.login_state(state)["refresh_tokens"]
            _prune(store, now)
            store[hash_secret(value)] = {
                "tenant_id": tenant.id, "client_id": client_id, "user_id": user_id, "created": now,
                "expires_at": now + REFRESH_TOKEN_LIFETIME}
        return value

    def user_token(tenant, application, client_id: str, acr: str, user: dict, *, resource: str,
                   names: list[str], reserved: set[str], v2: bool, form):
        resource_app_id, _ = resolve_resource(tenant, resource)
        consented = tenant.directory.delegated_scopes(client_id, resource_app_id, user["id"])
        by_lower = {s.lower(): s for s in consented}
        if not names or names == [".default"]:
            granted = list(consented)
            missing = not granted
        else:
            granted = [by_lower[n.lower()] for n in names if n.lower() in by_lower]
            missing = len(granted) != len(names)
        if missing:
            raise _AadErrorExtra(400, "invalid_grant", 65001,
                                 f"The user or administrator has not consented to use the application with ID "
                                 f"'{client_id}' named '{application.get('displayName')}'. Send an interactive "
                                 "authorization request for this user and resource.",
                                 {"suberror": "consent_required"})
        token, expires_in = tokens.issue_access_token(
            state, tenant, audience=resource, app_id=client_id, scp=granted, oid=user["id"],
            upn=user.get("userPrincipalName"), cloud=_tenant_cloud(tenant),
            extra={"appidacr": acr, "azpacr": acr, "name": user.get("displayName")})
        state.stats.record_token(client_id)
        body = access_body(token, expires_in, v2, resource)
        if v2:
            echoed = [f"{resource}/{s}" for s in granted]
            if names == [".default"]:
                echoed.append(f"{resource}/.default")
            body = {"token_type": "Bearer", "scope": " ".join(echoed + sorted(reserved)),
                    "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token}
        else:
            body["scope"] = " ".join(granted)
        if not v2 or "offline_access" in reserved:
            body["refresh_token"] = new_refresh_token(tenant, client_id, user["id"])
        if not v2 or "openid" in reserved:
            issuer = f"{_base_url()}/{tenant.id}/v2.0" if v2 else f"https://sts.windows.net/{tenant.id}/"
            body["id_token"] = tokens.id_token(state, tenant, client_id=client_id, user=user, issuer=issuer)
        if form.get("client_info") == "1":
            body["client_info"] = tokens.client_info(user["id"], tenant.id)
        return token_response(body)

    def user_resource(form, v2: bool) -> tuple[str, list[str], set[str]]:
        if v2:
            return parse_scope(form.get("scope"), app_only=False)
        resource = form.get("resource")
        if not resource:
            raise _missing("resource")
        return resource.rstrip("/"), [".default"], {"openid", "offline_access"}

    # --- grants -----------------------------------------------------------------------------------------------
    def grant_client_credentials(tenant, form, v2: bool):
        _, client_id, acr = authenticate_client(tenant, form, confidential_required=True)
        if v2:
            resource, _, _ = parse_scope(form.get("scope"), app_only=True)
        else:
            resource = form.get("resource")
            if not resource:
                raise _missing("resource")
        return app_only_token(tenant, client_id, acr, resource, v2)

    def grant_password(tenant, form, v2: bool):
        username, password = form.get("username"), form.get("password")
        if not username:
            raise _missing("username")
        if not password:
            raise _missing("password")
        application, client_id, acr = authenticate_client(tenant, form, confidential_required=None)
        resource, names, reserved = user_resource(form, v2)
        user = tenant.directory.find("user", "userPrincipalName", username, case_insensitive=True)
        if user is None or user.get("_password") != hash_secret(password):
            raise AadError(400, "invalid_grant", 50126,
                           "Error validating credentials due to invalid username or password.")
        if user.get("_mfa"):
            raise _AadErrorExtra(400, "invalid_grant", 50076,
                                 "Due to a configuration change made by your administrator, or because you moved to "
                                 f"a new location, you must use multi-factor authentication to access '{resource}'.",
                                 {"suberror": "basic_action",
                                  "claims": '{"access_token":{"capolids":{"essential":true,"values":'
                                            '["00000000-0000-0000-0000-000000000000"]}}}'})
        return user_token(tenant, application, client_id, acr, user, resource=resource, names=names,
                          reserved=reserved, v2=v2, form=form)

    def grant_refresh_token(tenant, form, v2: bool):
        value = form.get("refresh_token")
        if not value:
            raise _missing("refresh_token")
        application, client_id, acr = authenticate_client(tenant, form, confidential_required=None)
        key = hash_secret(value)
        store = tokens.login_state(state)["refresh_tokens"]
        record = store.get(key)
        invalid = AadError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if record is None or record["tenant_id"] != tenant.id:
            raise invalid
        if record["expires_at"] < time.time():
            raise AadError(400, "invalid_grant", 70008,
                           "The provided authorization code or refresh token has expired due to inactivity. Send a "
                           "new interactive authorization request for this user and resource.")
        if record["client_id"].lower() != client_id.lower():
            raise AadError(400, "invalid_grant", 70000,
                           "Provided grant is invalid or malformed. The refresh token was issued to a different "
                           "client.")
        user = tenant.directory.get(record["user_id"], kind="user")
        if user is None:
            raise invalid
        if v2:
            resource, names, reserved = parse_scope(form.get("scope"), app_only=False)
        else:
            resource, names, reserved = user_resource(form, v2)
        response = user_token(tenant, application, client_id, acr, user, resource=resource, names=names,
                              reserved=reserved | {"offline_access"}, v2=v2, form=form)
        with state.lock:  # rotate: the redeemed refresh token is gone
            if store.pop(key, None) is None:
                raise AadError(400, "invalid_grant", 70008,
                               "The provided authorization code or refresh token has expired due to inactivity.")
        return response

    def grant_device_code(tenant, form, v2: bool):
        code = form.get("device_code") or form.get("code")
        if not code:
            raise _missing("device_code")
        application, client_id, acr = authenticate_client(tenant, form, confidential_required=None)
        codes = tokens.login_state(state)["device_codes"]
        now = time.time()
        with state.lock:
            record = codes.get(hash_secret(code))
            if record is None or record["client_id"].lower() != client_id.lower() \
                    or record["tenant_id"] != tenant.id:
                raise AadError(400, "bad_verification_code", 70018,
                               "The provided value for the input parameter 'device_code' is not valid.")
            if record["expires_at"] < now:
                codes.pop(hash_secret(code), None)
                raise AadError(400, "expired_token", 70019, "Verification code expired.")
            if record["status"] == "declined":
                codes.pop(hash_secret(code), None)
                # code unverified
                raise AadError(400, "authorization_declined", 70000, "The user declined the authorization request.")
            if record["status"] != "approved":
                last, record["last_poll"] = record.get("last_poll"), now
                if last is not None and now - last < record["interval"] * 0.8:
                    raise AadError(400, "slow_down", 70016,
                                   "OAuth 2.0 device flow error. Polling too often; wait 'interval' seconds.")
                raise AadError(400, "authorization_pending", 70016,
                               "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
            codes.pop(hash_secret(code), None)
        user = tenant.directory.get(record["user_id"], kind="user", replicated_only=False)
        if user is None:  # deleted since approval
            raise AadError(400, "invalid_grant", 50034, "The user account does not exist in the directory.")
        return user_token(tenant, application, client_id, acr, user, resource=record["resource"],
                          names=record["names"], reserved=set(record["reserved"]), v2=v2, form=form)

    grants = {
        "client_credentials": grant_client_credentials,
        "password": grant_password,
        "refresh_token": grant_refresh_token,
        DEVICE_CODE_GRANT: grant_device_code,
        "device_code": grant_device_code,
    }
    grant_names = {DEVICE_CODE_GRANT: "device_code"}

    def token_endpoint(tenant: str, v2: bool):
        form = request.form
        grant = form.get("grant_type") or ""
        count(grant_names.get(grant, grant) or "missing")
        if tenant.lower() not in COMMON_TENANTS:
            tenant_obj = resolve_tenant(tenant)
        else:
            client_id, _ = client_credentials_from_request(form)
            tenant_obj = tenant_for_client(tenant, client_id, form.get("username"))
        if not grant:
            raise _missing("grant_type")
        handler = grants.get(grant)
        if handler is None:
            raise AadError(400, "unsupported_grant_type", 70003,
                           f"The app requested an unsupported grant type '{grant}'.")
        return handler(tenant_obj, form, v2)

    @app.post("/<tenant>/oauth2/v2.0/token")
    def login_token_v2(tenant):
        return token_endpoint(tenant, True)

    @app.post("/<tenant>/oauth2/token")
    def login_token_v1(tenant):
        return token_endpoint(tenant, False)

    # --- device code ------------------------------------------------------------------------------------------
    def device_authorization(tenant: str, v2: bool):
        form = request.form
        client_id = form.get("client_id")
        if not client_id:
            raise _missing("client_id")
        tenant_obj = tenant_for_client(tenant, client_id)
        find_application(tenant_obj, client_id)
        if v2:
            resource, names, reserved = parse_scope(form.get("scope"), app_only=False)
        else:
            resource = form.get("resource")
            if not resource:
                raise _missing("resource")
            resource, names, reserved = resource.rstrip("/"), [".default"], {"openid", "offline_access"}
        resolve_resource(tenant_obj, resource)
        device_code = tokens.b64url(secrets.token_bytes(48))
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        interval = max(1, int(getattr(state.config, "device_code_interval", 1)))
        lifetime = int(getattr(state.config, "device_code_lifetime", DEVICE_CODE_LIFETIME))
        now = time.time()
        with state.lock:
            codes = tokens.login_state(state)["device_codes"]
            _prune(codes, now)
            codes[hash_secret(device_code)] = {
                "tenant_id": tenant_obj.id, "client_id": client_id, "user_code": user_code,
                "resource": resource, "names": names, "reserved": sorted(reserved), "scope": form.get("scope"),
                "created": now, "expires_at": now + lifetime, "interval": interval, "status": "pending",
                "user_id": None, "last_poll": None}
        verification = "https://microsoft.com/devicelogin"
        body = {"user_code": user_code, "device_code": device_code,
                ("verification_uri" if v2 else "verification_url"): verification,
                "expires_in": lifetime if v2 else str(lifetime), "interval": interval if v2 else str(interval),
                "message": f"To sign in, use a web browser to open the page {verification} and enter the code "
                           f"{user_code} to authenticate."}
        return token_response(body)

    @app.post("/<tenant>/oauth2/v2.0/devicecode")
    def login_devicecode_v2(tenant):
        return device_authorization(tenant, True)

    @app.post("/<tenant>/oauth2/devicecode")
    def login_devicecode_v1(tenant):
        return device_authorization(tenant, False)

    def find_device_code(user_code: str):
        for record in tokens.login_state(state)["device_codes"].values():
            if record["user_code"].upper() == (user_code or "").strip().upper():
                return record
        raise MtpError(404, "NotFound", f"No pending device code '{user_code}'.")

    @app.get("/_emulator/devicecode/pending")
    def control_devicecode_pending():
        now = time.time()
        with state.lock:
            pending = [{"user_code": r["user_code"], "client_id": r["client_id"], "tenant_id": r["tenant_id"],
                        "scope": r.get("scope"), "resource": r["resource"], "expires_in": int(r["expires_at"] - now)}
                       for r in tokens.login_state(state)["device_codes"].values()
                       if r["status"] == "pending" and r["expires_at"] > now]
        return jsonify({"value": pending})

    @app.post("/_emulator/devicecode/approve")
    def control_devicecode_approve():
        data = request.get_json(silent=True) or {}
        if not data.get("user_code") or not data.get("upn"):
            raise MtpError(400, "BadRequest", "Body needs 'user_code' and 'upn'.")
        with state.lock:
            record = find_device_code(data["user_code"])
            tenant = state.tenants[record["tenant_id"]]
            user = tenant.directory.find("user", "userPrincipalName", data["upn"], case_insensitive=True,
                                         replicated_only=False)
            if user is None:
                raise MtpError(404, "NotFound", f"No user '{data['upn']}' in tenant {tenant.domain}.")
            record["status"], record["user_id"] = "approved", user["id"]
        return jsonify({"status": "approved", "user_code": record["user_code"], "upn": user["userPrincipalName"]})

    @app.post("/_emulator/devicecode/decline")
    def control_devicecode_decline():
        data = request.get_json(silent=True) or {}
        with state.lock:
            record = find_device_code(data.get("user_code", ""))
            record["status"] = "declined"
        return jsonify({"status": "declined", "user_code": record["user_code"]})

    # --- discovery --------------------------------------------------------------------------------------------
    def discovery_tenant(key: str):
        if key.lower() in COMMON_TENANTS:
            return None, key
        tenant = state.tenant(key)
        if tenant is None:
            raise AadError(400, "invalid_tenant", 90002,
                           f"Tenant '{key}' not found. Check to make sure you have the correct tenant ID and are "
                           "signing into the correct cloud.")
        return tenant, tenant.id

    def cloud_names(tenant) -> dict:
        gov = tenant is not None and _tenant_cloud(tenant) == "usgov" or (tenant is None and request_cloud() == "usgov")
        if gov:
            graph = "dod-graph.microsoft.us" if tenant is not None and tenant.cloud == "dod" else "graph.microsoft.us"
            return {"tenant_region_scope": "USGov", "cloud_instance_name": "microsoftonline.us",
                    "cloud_graph_host_name": "graph.windows.net", "msgraph_host": graph}
        return {"tenant_region_scope": "NA" if tenant is not None else None,
                "cloud_instance_name": "microsoftonline.com", "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com"}

    @app.get("/<tenant>/v2.0/.well-known/openid-configuration")
    def login_openid_configuration_v2(tenant):
        tenant_obj, tid = discovery_tenant(tenant)
        base, path = _base_url(), tid if tenant_obj is not None else tenant
        issuer_tid = tid if tenant_obj is not None else "{tenantid}"
        names = cloud_names(tenant_obj)
        return jsonify({
            "token_endpoint": f"{base}/{path}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/{path}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{issuer_tid}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"https://{names['msgraph_host']}/oidc/userinfo",
            "authorization_endpoint": f"{base}/{path}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{path}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{path}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                 "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
                                 "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": f"{base}/{path}/kerberos",
            **{k: v for k, v in names.items() if v is not None},
            "rbac_url": "https://pas.windows.net",
        })

    @app.get("/<tenant>/.well-known/openid-configuration")
    def login_openid_configuration_v1(tenant):
        tenant_obj, tid = discovery_tenant(tenant)
        base, path = _base_url(), tid if tenant_obj is not None else tenant
        issuer = tokens.issuer_for(tid if tenant_obj is not None else "{tenantid}", "1.0",
                                   _tenant_cloud(tenant_obj) if tenant_obj is not None else request_cloud())
        names = cloud_names(tenant_obj)
        return jsonify({
            "token_endpoint": f"{base}/{path}/oauth2/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/common/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
            "issuer": issuer,
            "microsoft_multi_refresh_token": True,
            "authorization_endpoint": f"{base}/{path}/oauth2/authorize",
            "device_authorization_endpoint": f"{base}/{path}/oauth2/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{path}/oauth2/logout",
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                 "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
                                 "amr", "nonce", "email", "given_name", "family_name", "nickname"],
            "check_session_iframe": f"{base}/{path}/oauth2/checksession",
            "userinfo_endpoint": f"{base}/{path}/openid/userinfo",
            "kerberos_endpoint": f"{base}/{path}/kerberos",
            **{k: v for k, v in names.items() if v is not None},
            "rbac_url": "https://pas.windows.net",
        })

    def keys_response(tenant: str):
        discovery_tenant(tenant)  # 400 for an unknown tenant
        return jsonify(tokens.jwks(state))

    @app.get("/<tenant>/discovery/v2.0/keys")
    def login_keys_v2(tenant):
        return keys_response(tenant)

    @app.get("/<tenant>/discovery/keys")
    def login_keys_v1(tenant):
        return keys_response(tenant)

    @app.get("/common/discovery/instance")
    def login_instance_discovery():
        endpoint = request.args.get("authorization_endpoint") or ""
        parsed = urlparse(endpoint)
        host = (parsed.netloc or request.host).lower()
        parts = [p for p in parsed.path.split("/") if p]
        tenant = parts[0] if parts else "common"
        base = f"{request.scheme}://{request.host}"
        if host in KNOWN_LOGIN_HOSTS:
            aliases = list(KNOWN_LOGIN_HOSTS)
            preferred = "login.microsoftonline.com"
        else:
            aliases, preferred = [host], host
        if host.endswith(".us"):
            aliases, preferred = ["login.microsoftonline.us", "login.usgovcloudapi.net"], "login.microsoftonline.us"
        return jsonify({
            "tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": preferred, "preferred_cache": preferred if host in aliases else host,
                          "aliases": aliases}],
        })

    @app.get("/common/userrealm/<path:user>")
    def login_userrealm(user):
        domain = user.rsplit("@", 1)[-1] if "@" in user else user
        tenant = state.tenant(domain)
        if tenant is None:
            return jsonify({"ver": "1.0", "account_type": "Unknown", "domain_name": domain,
                            "cloud_instance_name": "microsoftonline.com",
                            "cloud_audience_urn": "urn:federation:MicrosoftOnline"})
        gov = _tenant_cloud(tenant) == "usgov"
        return jsonify({"ver": "1.0", "account_type": "Managed", "domain_name": tenant.domain,
                        "cloud_instance_name": "microsoftonline.us" if gov else "microsoftonline.com",
                        "cloud_audience_urn": "urn:federation:MicrosoftOnline.us" if gov
                        else "urn:federation:MicrosoftOnline"})

    # --- managed identity -------------------------------------------------------------------------------------
    def mi_error(status: int, error: str, description: str):
        resp = jsonify({"error": error, "error_description": description})
        resp.status_code = status
        return resp

    def mi_select(args) -> dict | None:
        info = tokens.login_state(state).get("managed_identities") or {}
        identities = ([info["system_assigned"]] if info.get("system_assigned") else []) + \
            list(info.get("user_assigned") or [])
        for param, field in (("client_id", "client_id"), ("object_id", "object_id"), ("principal_id", "object_id"),
                             ("msi_res_id", "msi_res_id"), ("mi_res_id", "msi_res_id")):
            value = args.get(param)
            if value:
                for ident in identities:
                    if ident[field].lower() == value.lower():
                        return ident
                return None
        return info.get("system_assigned")

    def mi_token(args):
        """(token body, None) or (None, (status, error, description))."""
        count("managed_identity")
        resource = args.get("resource")
        if not resource:
            return None, (400, "invalid_request", "Required audience parameter not specified")
        ident = mi_select(args)
        info = tokens.login_state(state).get("managed_identities") or {}
        if ident is None or info.get("tenant_id") not in state.tenants:
            return None, (400, "invalid_request", "Identity not found")
        tenant = state.tenants[info["tenant_id"]]
        try:
            resource_app_id, _ = resolve_resource(tenant, resource)
        except AadError as exc:
            return None, (400, "invalid_resource", f"AADSTS{exc.code}: {exc.message}")
        roles = tenant.directory.granted_roles(ident["client_id"], resource_app_id)
        token, expires_in = tokens.issue_access_token(
            state, tenant, audience=resource.rstrip("/"), app_id=ident["client_id"], roles=roles,
            oid=ident["object_id"], cloud=_tenant_cloud(tenant),
            extra={"appidacr": "2", "azpacr": "2", "xms_mirid": ident["msi_res_id"]})
        state.stats.record_token(ident["client_id"])
        now = int(time.time())
        return {"access_token": token, "client_id": ident["client_id"], "expires_in": str(expires_in),
                "expires_on": str(now + expires_in), "ext_expires_in": str(expires_in), "not_before": str(now),
                "resource": resource, "token_type": "Bearer"}, None

    @app.get("/metadata/identity/oauth2/token")
    def imds_token():
        if request.headers.get("Metadata", "").lower() != "true":
            return mi_error(400, "invalid_request", "Required metadata header not specified")
        if not request.args.get("api-version"):
            return mi_error(400, "invalid_request", "Required query variable 'api-version' is missing")
        body, err = mi_token(request.args)
        if err:
            return mi_error(*err)
        return _no_store(jsonify(body))

    @app.get("/msi/token")
    def app_service_token():
        info = tokens.login_state(state).get("managed_identities") or {}
        header = request.headers.get("X-IDENTITY-HEADER")
        if not header or header != info.get("identity_header"):
            resp = jsonify({"statusCode": 401, "message": "Unauthorized request: X-IDENTITY-HEADER missing or "
                                                          "invalid."})
            resp.status_code = 401
            return resp
        body, err = mi_token(request.args)
        if err:
            resp = jsonify({"statusCode": err[0], "message": err[2], "correlationId": str(uuid.uuid4())})
            resp.status_code = err[0]
            return resp
        body = {k: body[k] for k in ("access_token", "expires_on", "resource", "token_type", "client_id")}
        return _no_store(jsonify(body))

    # --- control plane: federation issuer and login info -------------------------------------------------------
    @app.route("/_emulator/federation/token", methods=["GET", "POST"])
    def control_federation_token():
        args = dict(request.args)
        args.update(request.get_json(silent=True) or {})
        subject = args.get("subject")
        if not subject:
            raise MtpError(400, "BadRequest", "Query parameter 'subject' is required.")
        issuer = args.get("issuer") or f"{_base_url()}/_emulator/federation"
        audience = args.get("audience") or tokens.FEDERATION_AUDIENCE
        lifetime = int(args.get("lifetime") or 600)
        token = tokens.mint_federation_assertion(state, issuer=issuer, subject=subject, audience=audience,
                                                 lifetime=lifetime)
        return jsonify({"token": token, "issuer": issuer, "subject": subject, "audience": audience,
                        "expires_in": lifetime})

    @app.get("/_emulator/federation/.well-known/openid-configuration")
    def control_federation_discovery():
        base = f"{_base_url()}/_emulator/federation"
        return jsonify({"issuer": base, "jwks_uri": f"{base}/keys", "response_types_supported": ["id_token"],
                        "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]})

    @app.get("/_emulator/federation/keys")
    def control_federation_keys():
        return jsonify(tokens.federation_jwks(state))

    @app.get("/_emulator/login")
    def control_login_info():
        login = tokens.login_state(state)
        return jsonify({"signing_kid": login["signing_key"]["kid"],
                        "managed_identities": login.get("managed_identities"),
                        "device_codes_pending": sum(1 for r in login["device_codes"].values()
                                                    if r["status"] == "pending"),
                        "refresh_tokens": len(login["refresh_tokens"])})
