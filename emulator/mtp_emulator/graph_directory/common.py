"""What every Graph directory resource shares: permissions, property sets, errors, the caller (:class:`Ctx`),
the request body, responses and views.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import re
import secrets
import string
import time

from flask import Response, request

from .. import graph_odata as odata
from ..errors import GraphError
from ..state import EmulatorState, Tenant, new_id, public_view

GRAPH_AUDIENCES = {"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000",
                   "https://graph.microsoft.us", "https://dod-graph.microsoft.us"}

APP_READ = {"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
APP_WRITE = {"Application.ReadWrite.All"}
OWNED_BY = "Application.ReadWrite.OwnedBy"
APP_READ_OR_OWNED = APP_READ | {OWNED_BY}
APP_WRITE_OR_OWNED = APP_WRITE | {OWNED_BY}
OWNED_BY_SP_MESSAGE = ("When using this permission, the backing application of the service principal being "
                       "created must in the local tenant")
ASSIGN_WRITE = {"AppRoleAssignment.ReadWrite.All"}
ASSIGN_READ = APP_READ | ASSIGN_WRITE
GRANT_WRITE = {"DelegatedPermissionGrant.ReadWrite.All"}
GRANT_READ = APP_READ | GRANT_WRITE | {"DelegatedPermissionGrant.Read.All"}

MAX_FIC = 20
MAX_RRA_RESOURCES = 50
MAX_RRA_PERMISSIONS = 400
# uniqueName rule (emulator choice): 1-120 chars, starts with a letter or digit, then letters, digits, '-', '_',
# '.', '~'. Spaces, quotes, slashes and other punctuation are refused with 400.
UNIQUE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,119}$")
FIC_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$")
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

JSON_PAYLOAD_MSG = ("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is "
                    "of valid JSON format.")
INSUFFICIENT = "Insufficient privileges to complete the operation."

APP_PROPS = {
    "id", "deletedDateTime", "addIns", "api", "appId", "applicationTemplateId", "appRoles", "certification",
    "createdDateTime", "defaultRedirectUri", "description", "disabledByMicrosoftStatus", "displayName",
    "groupMembershipClaims", "identifierUris", "info", "isDeviceOnlyAuthSupported", "isFallbackPublicClient",
    "keyCredentials", "logo", "nativeAuthenticationApisEnabled", "notes", "oauth2RequirePostResponse",
    "optionalClaims", "parentalControlSettings", "passwordCredentials", "publicClient", "publisherDomain",
    "requestSignatureVerification", "requiredResourceAccess", "samlMetadataUrl", "serviceManagementReference",
    "servicePrincipalLockConfiguration", "signInAudience", "spa", "tags", "tokenEncryptionKeyId", "uniqueName",
    "verifiedPublisher", "web",
}
APP_READONLY = {"id", "appId", "createdDateTime", "publisherDomain", "deletedDateTime", "certification",
                "disabledByMicrosoftStatus", "verifiedPublisher"}
APP_LISTS = {"addIns", "appRoles", "identifierUris", "keyCredentials", "passwordCredentials",
             "requiredResourceAccess", "tags"}
APP_COMPLEX = {"api", "info", "optionalClaims", "parentalControlSettings", "publicClient", "spa", "web",
               "requestSignatureVerification", "servicePrincipalLockConfiguration"}
APP_FILTER = {"id", "appId", "displayName", "uniqueName", "identifierUris", "publisherDomain", "signInAudience",
              "createdDateTime", "tags", "notes", "description"}
APP_FILTER_COLLECTIONS = {"identifierUris", "tags", "web/redirectUris", "spa/redirectUris",
                          "publicClient/redirectUris", "passwordCredentials", "keyCredentials"}

SP_PROPS = {
    "id", "deletedDateTime", "accountEnabled", "addIns", "alternativeNames", "appDescription", "appDisplayName",
    "appId", "applicationTemplateId", "appOwnerOrganizationId", "appRoleAssignmentRequired", "appRoles",
    "description", "disabledByMicrosoftStatus", "displayName", "homepage", "info", "keyCredentials", "loginUrl",
    "logoutUrl", "notes", "notificationEmailAddresses", "oauth2PermissionScopes", "passwordCredentials",
    "preferredSingleSignOnMode", "preferredTokenSigningKeyThumbprint", "replyUrls",
    "resourceSpecificApplicationPermissions",
    "samlSingleSignOnSettings", "servicePrincipalNames", "servicePrincipalType", "signInAudience",
    "tags", "tokenEncryptionKeyId", "verifiedPublisher",
}
SP_WRITABLE = {"appId", "accountEnabled", "appRoleAssignmentRequired", "description", "displayName", "homepage",
               "loginUrl", "logoutUrl", "notes", "notificationEmailAddresses", "preferredSingleSignOnMode",
               "replyUrls", "tags"}
# Accepted on create although Graph computes it: clients such as azure.azcollection always send it. The
# emulator keeps the type it derives (Application, or the first-party type); see emulator/README.md.
SP_CREATE_ACCEPTED = {"servicePrincipalType"}
SP_FILTER = {"id", "appId", "displayName", "accountEnabled", "servicePrincipalType", "appOwnerOrganizationId",
             "servicePrincipalNames", "tags"}
ASSIGNMENT_PROPS = {"id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName", "principalId",
                    "principalType", "resourceDisplayName", "resourceId"}
ASSIGNMENT_FILTER = {"id", "appRoleId", "principalId", "principalType", "resourceId", "resourceDisplayName",
                     "principalDisplayName"}
GRANT_PROPS = {"id", "clientId", "consentType", "principalId", "resourceId", "scope"}
FIC_PROPS = {"id", "name", "issuer", "subject", "audiences", "description"}


# --- helpers ------------------------------------------------------------------------------------------------

def now_iso(ts: float | None = None) -> str:
    return _dt.datetime.fromtimestamp(ts if ts is not None else time.time(), _dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def not_found(key: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{key}' does not exist or one of its queried reference-property objects are not "
                      "present.")


def bad_request(message: str, details: list | None = None) -> GraphError:
    return GraphError(400, "Request_BadRequest", message, details=details)


def invalid_value(prop: str, type_name: str) -> GraphError:
    return bad_request(f"Invalid value specified for property '{prop}' of resource '{type_name}'.")


def unknown_segment(segment: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def method_not_allowed() -> GraphError:
    return GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")


def assignment_id() -> str:
    """Assignment and grant ids look like the real ones: 43 base64url characters."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def new_secret_text() -> str:
    alphabet = string.ascii_letters + string.digits + "~._-"
    head = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(3))
    return head + "8Q~" + "".join(secrets.choice(alphabet) for _ in range(34))


class Ctx:
    def __init__(self, state: EmulatorState, tenant: Tenant, claims: dict) -> None:
        self.state = state
        self.tenant = tenant
        self.dir = tenant.directory
        self.claims = claims
        self.granted = set(claims.get("roles") or []) | set((claims.get("scp") or "").split())
        self.base = request.host_url.rstrip("/")

    def require(self, any_of: set[str]) -> None:
        if not self.granted & any_of:
            raise GraphError(403, "Authorization_RequestDenied", INSUFFICIENT)

    def context(self, suffix: str) -> str:
        return f"{self.base}/v1.0/$metadata#{suffix}"

    def caller_sp_id(self) -> str | None:
        """Object id of the calling app's service principal (the owner of what it creates), if any."""
        app_id = str(self.claims.get("appid") or self.claims.get("azp") or "")
        sp = self.dir.service_principal_by_app_id(app_id, replicated_only=False) if app_id else None
        return sp["id"] if sp else None

    def owns(self, obj: dict) -> bool:
        caller = self.caller_sp_id()
        return caller is not None and caller in (obj.get("_owners") or [])

    def require_object(self, obj: dict, write: bool) -> None:
        """Full rights, or ``Application.ReadWrite.OwnedBy`` on an object the caller owns."""
        if self.granted & (APP_WRITE if write else APP_READ):
            return
        if OWNED_BY in self.granted and self.owns(obj):
            return
        raise GraphError(403, "Authorization_RequestDenied", INSUFFICIENT)


def authenticate(state: EmulatorState) -> Ctx:
    www = {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
                               'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'}
    if not (request.headers.get("Authorization") or "").strip():
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", headers=www)
    try:
        from .. import tokens
    except ModuleNotFoundError:  # token service not installed: nothing can be verified
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.",
                         headers=www) from None
    try:
        claims = tokens.verify_bearer(state, GRAPH_AUDIENCES)
    except tokens.TokenRejected as exc:
        raise GraphError(401, "InvalidAuthenticationToken", exc.reason or "Access token validation failure.",
                         headers=www) from None
    tenant = state.tenant(str(claims.get("tid") or ""))
    if tenant is None:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid tenant.",
                         headers=www)
    return Ctx(state, tenant, claims)


def read_body(required: bool = True) -> dict:
    data = request.get_data(cache=True)
    if not data.strip():
        if required:
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        return {}
    mimetype = (request.mimetype or "").lower()
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise GraphError(415, "BadRequest",
                         f"The request's Content-Type '{request.content_type}' is not supported. "
                         "Use 'application/json'.")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise GraphError(400, "BadRequest", JSON_PAYLOAD_MSG) from None
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", JSON_PAYLOAD_MSG)
    return body


def check_props(body: dict, allowed: set[str], type_name: str) -> None:
    for key in body:
        if key.startswith("@odata.") or "@odata." in key:
            continue
        if key not in allowed:
            raise bad_request(f"Property '{key}' does not exist on type 'microsoft.graph.{type_name}'.")


def json_response(body: dict | None, status: int = 200, headers: dict | None = None) -> Response:
    if body is None:
        resp = Response(status=status)
    else:
        resp = Response(json.dumps(body), status=status,
                        content_type="application/json;odata.metadata=minimal;odata.streaming=true;"
                                     "IEEE754Compatible=false;charset=utf-8")
    resp.headers["request-id"] = new_id()
    resp.headers["client-request-id"] = request.headers.get("client-request-id") or resp.headers["request-id"]
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def no_content() -> Response:
    return json_response(None, 204)


def prefer_create_if_missing() -> bool:
    prefs = [p.strip().lower() for p in (request.headers.get("Prefer") or "").split(",")]
    return "create-if-missing" in prefs


def list_response(ctx: Ctx, items: list[dict], query: odata.ODataQuery, context: str, view) -> Response:
    chunk, next_link, total = query.page(items, f"{ctx.base}{request.path}")
    body: dict = {"@odata.context": ctx.context(context + query.context_suffix())}
    if query.count:
        body["@odata.count"] = total
    if next_link:
        body["@odata.nextLink"] = next_link
    body["value"] = [view(o, query.select) for o in chunk]
    return json_response(body)


def select_from_args(props: set[str], type_name: str) -> list[str] | None:
    for k, v in request.args.items():
        if k.lower() == "$select":
            return odata.parse_select(v, props, type_name)
    return None


# --- views --------------------------------------------------------------------------------------------------

def app_view(app: dict, select: list[str] | None = None) -> dict:
    out = public_view(app)
    if not select or "keyCredentials" not in select:
        for kc in out.get("keyCredentials") or []:
            kc["key"] = None
    for pc in out.get("passwordCredentials") or []:
        pc["secretText"] = None
    return odata.project(out, select)


def plain_view(obj: dict, select: list[str] | None = None) -> dict:
    return odata.project(public_view(obj), select)


def typed_view(obj: dict, select: list[str] | None = None) -> dict:
    out = {"@odata.type": f"#microsoft.graph.{obj['_kind']}"}
    out.update(app_view(obj, select) if obj["_kind"] == "application" else plain_view(obj, select))
    return out


# --- lookups by key (id or an alternate key) -----------------------------------------------------------

def find_app(ctx: Ctx, key: tuple[str | None, str], primary: bool) -> dict:
    prop, value = key
    d = ctx.dir
    if prop is None or prop == "id":
        obj = d.get(value, "application", replicated_only=not primary)
    elif prop in ("appId", "uniqueName"):
        obj = d.find("application", prop, value, replicated_only=not primary, case_insensitive=True)
    else:
        raise GraphError(400, "BadRequest", f"'{prop}' is not a valid alternate key of 'microsoft.graph.application'.")
    if obj is None:
        raise not_found(value)
    return obj


def find_sp(ctx: Ctx, key, primary: bool) -> dict:
    prop, value = key
    if prop is None or prop == "id":
        obj = ctx.dir.get(value, "servicePrincipal", replicated_only=not primary)
    elif prop == "appId":
        obj = ctx.dir.service_principal_by_app_id(value, replicated_only=not primary)
    else:
        raise GraphError(400, "BadRequest",
                         f"'{prop}' is not a valid alternate key of 'microsoft.graph.servicePrincipal'.")
    if obj is None:
        raise not_found(value)
    return obj
