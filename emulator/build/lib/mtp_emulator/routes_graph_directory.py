"""Microsoft Graph v1.0 directory: applications, service principals, app role assignments,
oauth2PermissionGrants, credentials (passwords, certificates, federated identity credentials) and
``/directory/deletedItems``.

Paths are parsed here (not by Flask converters) so that OData alternate keys work everywhere:
``/applications(uniqueName='k')``, ``/applications(appId='…')/addPassword``,
``/servicePrincipals(appId='…')/appRoleAssignments``, ``…/federatedIdentityCredentials(name='n')``.

Replication lag (``Directory.replicated``): reads and references see only replicated objects; writes addressed
by key (PATCH, DELETE, upsert, addPassword, …) act on the primary and see every object, so uniqueness
(``uniqueName``, duplicate assignments and grants, one SP per appId) is enforced on unreplicated objects too.

Federated identity credentials live in ``app["_federatedIdentityCredentials"]`` (list of Graph-shaped dicts);
password credentials keep ``_secretHash`` and ``_created``; key credentials keep ``_created``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import re
import secrets
import string
import time

from flask import Response, request

from . import graph_odata as odata
from .errors import GraphError
from .state import EmulatorState, Tenant, hash_secret, new_id, public_view

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
        from . import tokens
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


# --- applications -------------------------------------------------------------------------------------------

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


def unique_name_holder(ctx: Ctx, name: str) -> dict | None:
    """Any application, replicated or not, soft-deleted or not, holding ``name``."""
    for obj in ctx.dir.objects.values():
        if obj.get("_kind") == "application" and isinstance(obj.get("uniqueName"), str) \
                and obj["uniqueName"].lower() == name.lower():
            return obj
    return None


def validate_unique_name(ctx: Ctx, name, current: dict | None = None) -> str:
    if not isinstance(name, str) or not UNIQUE_NAME_RE.match(name):
        raise invalid_value("uniqueName", "Application")
    holder = unique_name_holder(ctx, name)
    if holder is not None and holder is not current:
        raise bad_request("Another object with the same value for property uniqueName already exists.",
                          details=[{"code": "ObjectConflict", "target": "uniqueName",
                                    "message": "Another object with the same value for property uniqueName "
                                               "already exists."}])
    return name


def normalize_rra(value) -> list:
    if not isinstance(value, list):
        raise invalid_value("requiredResourceAccess", "Application")
    total = 0
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("resourceAppId"), str) \
                or not isinstance(entry.get("resourceAccess", []), list):
            raise invalid_value("requiredResourceAccess", "Application")
        for ra in entry.get("resourceAccess", []):
            if not isinstance(ra, dict) or not GUID_RE.match(str(ra.get("id", ""))) \
                    or ra.get("type") not in ("Role", "Scope"):
                raise invalid_value("requiredResourceAccess", "Application")
            total += 1
    if len(value) > MAX_RRA_RESOURCES or total > MAX_RRA_PERMISSIONS:
        raise bad_request("The requiredResourceAccess limit was exceeded: at most 50 resources and 400 "
                          "permissions in total.")
    return [{"resourceAppId": e["resourceAppId"],
             "resourceAccess": [{"id": ra["id"], "type": ra["type"]} for ra in e.get("resourceAccess", [])]}
            for e in value]


def normalize_key_credentials(value, current: list[dict]) -> list[dict]:
    if not isinstance(value, list):
        raise invalid_value("keyCredentials", "Application")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    by_id = {kc.get("keyId"): kc for kc in current}
    out: list[dict] = []
    seen: set[str] = set()
    allowed = {"customKeyIdentifier", "displayName", "endDateTime", "key", "keyId", "startDateTime", "type",
               "usage"}
    for entry in value:
        if not isinstance(entry, dict):
            raise invalid_value("keyCredentials", "Application")
        check_props(entry, allowed, "keyCredential")
        key_id = entry.get("keyId")
        if key_id is not None and not GUID_RE.match(str(key_id)):
            raise invalid_value("keyCredentials", "Application")
        raw_key = entry.get("key")
        if raw_key:
            try:
                der = base64.b64decode(raw_key, validate=True)
                cert = x509.load_der_x509_certificate(der)
            except (binascii.Error, ValueError, TypeError):
                raise bad_request("Invalid certificate: Key value is invalid certificate") from None
            if entry.get("type", "AsymmetricX509Cert") not in ("AsymmetricX509Cert", "X509CertAndPassword"):
                raise invalid_value("keyCredentials", "Application")
            if entry.get("usage", "Verify") not in ("Verify", "Sign"):
                raise invalid_value("keyCredentials", "Application")
            thumb = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the thumbprint is SHA-1
            previous = by_id.get(key_id)
            stored = {
                "customKeyIdentifier": thumb,
                "displayName": entry.get("displayName") or cert.subject.rfc4514_string(),
                "endDateTime": entry.get("endDateTime") or cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "key": base64.b64encode(der).decode(),
                "keyId": key_id or new_id(),
                "startDateTime": entry.get("startDateTime")
                or cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "type": entry.get("type", "AsymmetricX509Cert"),
                "usage": entry.get("usage", "Verify"),
                "_created": previous["_created"] if previous and previous.get("key") == base64.b64encode(
                    der).decode() else time.time(),
            }
        elif key_id in by_id:  # an existing entry resent without its key material: keep it
            stored = dict(by_id[key_id])
            if entry.get("displayName"):
                stored["displayName"] = entry["displayName"]
        else:
            raise bad_request("Key credential property 'key' is required for a new key credential.")
        if stored["keyId"] in seen:
            raise bad_request("Duplicate keyId found in keyCredentials.")
        seen.add(stored["keyId"])
        out.append(stored)
    return out


def check_password_credentials(value, current: list[dict]) -> None:
    """Password credentials can only be echoed back unchanged; new ones need addPassword."""
    msg = "New password credentials must be generated using service actions."
    if not isinstance(value, list):
        raise invalid_value("passwordCredentials", "Application")
    current_ids = {pc.get("keyId") for pc in current}
    for entry in value:
        if not isinstance(entry, dict) or entry.get("secretText") or entry.get("keyId") not in current_ids:
            raise bad_request(msg)
    if {e.get("keyId") for e in value} != current_ids:
        raise bad_request(msg)


def merge_complex(current, new):
    if isinstance(current, dict) and isinstance(new, dict):
        out = dict(current)
        for k, v in new.items():
            out[k] = merge_complex(current.get(k), v)
        return out
    return new


def apply_app_changes(ctx: Ctx, app: dict, body: dict, creating: bool) -> None:
    """Validate ``body`` entirely, then apply it to ``app`` (collections replaced whole)."""
    check_props(body, APP_PROPS, "application")
    changes: dict = {}
    for key, value in body.items():
        if "@odata." in key:
            continue
        if key in APP_READONLY:
            if creating or value != app.get(key):
                raise bad_request(f"Property '{key}' is read-only and cannot be set.")
            continue
        if key == "displayName":
            if not isinstance(value, str) or not value.strip() or len(value) > 256:
                raise invalid_value("displayName", "Application")
        elif key == "uniqueName":
            if value == app.get("uniqueName"):
                continue
            if app.get("uniqueName") is not None:
                raise bad_request("Property 'uniqueName' is read-only and cannot be updated once set.")
            validate_unique_name(ctx, value, current=app)
        elif key == "signInAudience":
            if value not in ("AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount",
                             "PersonalMicrosoftAccount"):
                raise invalid_value("signInAudience", "Application")
        elif key == "requiredResourceAccess":
            value = normalize_rra(value)
        elif key == "keyCredentials":
            value = normalize_key_credentials(value, app.get("keyCredentials") or [])
        elif key == "passwordCredentials":
            if creating:
                if value:
                    raise bad_request("New password credentials must be generated using service actions.")
            else:
                check_password_credentials(value, app.get("passwordCredentials") or [])
            continue
        elif key in APP_LISTS:
            if not isinstance(value, list):
                raise invalid_value(key, "Application")
        elif key in APP_COMPLEX:
            if value is not None and not isinstance(value, dict):
                raise invalid_value(key, "Application")
            value = merge_complex(app.get(key), value)
        elif value is not None and isinstance(value, (dict, list)):
            raise invalid_value(key, "Application")
        changes[key] = value
    if creating and not changes.get("displayName"):
        raise invalid_value("displayName", "Application")
    app.update(changes)


def new_application(ctx: Ctx) -> dict:
    return {
        "id": new_id(), "deletedDateTime": None, "appId": new_id(), "applicationTemplateId": None,
        "disabledByMicrosoftStatus": None, "createdDateTime": now_iso(), "displayName": None, "description": None,
        "groupMembershipClaims": None, "identifierUris": [], "isDeviceOnlyAuthSupported": None,
        "isFallbackPublicClient": None, "nativeAuthenticationApisEnabled": None, "notes": None,
        "publisherDomain": ctx.tenant.domain, "serviceManagementReference": None,
        "signInAudience": "AzureADandPersonalMicrosoftAccount", "tags": [], "tokenEncryptionKeyId": None,
        "uniqueName": None, "samlMetadataUrl": None, "defaultRedirectUri": None, "certification": None,
        "optionalClaims": None, "requestSignatureVerification": None, "servicePrincipalLockConfiguration": None,
        "addIns": [],
        "api": {"acceptMappedClaims": None, "knownClientApplications": [], "requestedAccessTokenVersion": None,
                "oauth2PermissionScopes": [], "preAuthorizedApplications": []},
        "appRoles": [],
        "info": {"logoUrl": None, "marketingUrl": None, "privacyStatementUrl": None, "supportUrl": None,
                 "termsOfServiceUrl": None},
        "keyCredentials": [],
        "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
        "passwordCredentials": [],
        "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [],
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
        "web": {"homePageUrl": None, "logoutUrl": None, "redirectUris": [],
                "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False},
                "redirectUriSettings": []},
        "spa": {"redirectUris": []},
    }


def create_application(ctx: Ctx, body: dict, unique_name: str | None = None) -> Response:
    with ctx.state.lock:
        app = new_application(ctx)
        if unique_name is not None:
            if "uniqueName" in body and body["uniqueName"] != unique_name:
                raise bad_request("The uniqueName in the body does not match the key in the request URL.")
            body = dict(body, uniqueName=unique_name)
        apply_app_changes(ctx, app, body, creating=True)
        caller = ctx.caller_sp_id()
        app["_owners"] = [caller] if caller else []
        ctx.dir.add("application", app)
    return json_response(dict({"@odata.context": ctx.context("applications/$entity")}, **app_view(app)), 201,
                         {"Location": f"{ctx.base}/v1.0/directoryObjects/{app['id']}/Microsoft.DirectoryServices."
                                      "Application"})


def applications(ctx: Ctx, segs: list, method: str) -> Response:
    name, key = segs[0]
    rest = segs[1:]
    if key is None and rest:
        key = (None, rest[0][0]) if rest[0][1] is None else None
        if key is None:
            raise unknown_segment(rest[0][0])
        rest = rest[1:]
    if key is None:  # the collection
        if method == "GET":
            ctx.require(APP_READ)
            query = odata.parse_query(request.args, request.headers, "application", APP_FILTER, APP_PROPS,
                                      APP_FILTER_COLLECTIONS, {"displayName", "createdDateTime"})
            items = list(ctx.dir.iter("application"))
            return list_response(ctx, items, query, "applications", app_view)
        if method == "POST":
            ctx.require(APP_WRITE_OR_OWNED)
            return create_application(ctx, read_body())
        raise method_not_allowed()
    if not rest:
        return application_item(ctx, key, method)
    action, sub_key = rest[0]
    if action == "addPassword" and sub_key is None and len(rest) == 1:
        return add_password(ctx, key, method)
    if action == "removePassword" and sub_key is None and len(rest) == 1:
        return remove_password(ctx, key, method)
    if action == "federatedIdentityCredentials":
        return federated_credentials(ctx, key, rest[1:], sub_key, method)
    if action == "owners" and sub_key is None and len(rest) == 1:
        if method != "GET":
            raise method_not_allowed()
        ctx.require(APP_READ_OR_OWNED)
        app = find_app(ctx, key, primary=False)
        ctx.require_object(app, write=False)
        query = odata.parse_query(request.args, request.headers, "directoryObject", {"id", "appId", "displayName"},
                                  SP_PROPS)
        owners = [o for o in (ctx.dir.get(i) for i in app.get("_owners") or []) if o is not None]
        return list_response(ctx, owners, query, "directoryObjects", typed_view)
    raise unknown_segment(action)


def application_item(ctx: Ctx, key, method: str) -> Response:
    if method == "GET":
        ctx.require(APP_READ_OR_OWNED)
        select = select_from_args(APP_PROPS, "application")
        app = find_app(ctx, key, primary=False)
        ctx.require_object(app, write=False)
        suffix = f"applications({','.join(select)})/$entity" if select else "applications/$entity"
        return json_response(dict({"@odata.context": ctx.context(suffix)}, **app_view(app, select)))
    if method == "PATCH":
        ctx.require(APP_WRITE_OR_OWNED)
        body = read_body()
        with ctx.state.lock:
            try:
                app = find_app(ctx, key, primary=True)
            except GraphError:
                if key[0] != "uniqueName":
                    raise
                holder = unique_name_holder(ctx, key[1])
                if holder is not None:  # soft-deleted: the name stays reserved
                    raise bad_request("Another object with the same value for property uniqueName already "
                                      "exists.") from None
                if not prefer_create_if_missing():
                    raise
                if not UNIQUE_NAME_RE.match(key[1]):
                    raise invalid_value("uniqueName", "Application") from None
                return create_application(ctx, body, unique_name=key[1])
            ctx.require_object(app, write=True)
            apply_app_changes(ctx, app, body, creating=False)
        return no_content()
    if method == "DELETE":
        ctx.require(APP_WRITE_OR_OWNED)
        with ctx.state.lock:
            app = find_app(ctx, key, primary=True)
            ctx.require_object(app, write=True)
            app["_deleted"] = time.time()
            app["deletedDateTime"] = now_iso(app["_deleted"])
        return no_content()
    raise method_not_allowed()


def add_password(ctx: Ctx, key, method: str) -> Response:
    if method != "POST":
        raise method_not_allowed()
    ctx.require(APP_WRITE_OR_OWNED)
    body = read_body(required=False)
    check_props(body, {"passwordCredential"}, "application.addPassword")
    spec = body.get("passwordCredential") or {}
    if not isinstance(spec, dict):
        raise invalid_value("passwordCredential", "Application")
    check_props(spec, {"displayName", "endDateTime", "startDateTime", "customKeyIdentifier", "hint", "keyId",
                       "secretText"}, "passwordCredential")
    if spec.get("secretText"):
        raise bad_request("New password credentials must be generated using service actions.")
    if spec.get("displayName") is not None and not isinstance(spec["displayName"], str):
        raise invalid_value("displayName", "PasswordCredential")
    now = time.time()
    start = spec.get("startDateTime") or now_iso(now)
    end = spec.get("endDateTime")
    for prop, value in (("startDateTime", start), ("endDateTime", end)):
        if value is not None:
            try:
                _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise invalid_value(prop, "PasswordCredential") from None
    if end is None:  # default lifetime: two years from now
        start_dt = _dt.datetime.fromtimestamp(now, _dt.timezone.utc)
        try:
            end_dt = start_dt.replace(year=start_dt.year + 2)
        except ValueError:  # 29 February
            end_dt = start_dt.replace(year=start_dt.year + 2, day=28)
        end = end_dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    secret = new_secret_text()
    cred = {"customKeyIdentifier": None, "displayName": spec.get("displayName"), "endDateTime": end,
            "hint": secret[:3], "keyId": new_id(), "secretText": None, "startDateTime": start,
            "_secretHash": hash_secret(secret), "_created": now}
    with ctx.state.lock:
        app = find_app(ctx, key, primary=True)
        ctx.require_object(app, write=True)
        app.setdefault("passwordCredentials", []).append(cred)
    out = {"@odata.context": ctx.context("microsoft.graph.passwordCredential")}
    out.update(public_view(cred))
    out["secretText"] = secret
    return json_response(out, 200)


def remove_password(ctx: Ctx, key, method: str) -> Response:
    if method != "POST":
        raise method_not_allowed()
    ctx.require(APP_WRITE_OR_OWNED)
    body = read_body()
    check_props(body, {"keyId"}, "application.removePassword")
    key_id = body.get("keyId")
    if not isinstance(key_id, str) or not GUID_RE.match(key_id):
        raise invalid_value("keyId", "Application")
    with ctx.state.lock:
        app = find_app(ctx, key, primary=True)
        ctx.require_object(app, write=True)
        creds = app.get("passwordCredentials") or []
        kept = [c for c in creds if c.get("keyId", "").lower() != key_id.lower()]
        if len(kept) == len(creds):
            raise bad_request(f"No password credential found with keyId '{key_id}'.")
        app["passwordCredentials"] = kept
    return no_content()


# --- federated identity credentials -----------------------------------------------------------------------

def _validate_fic(body: dict, creating: bool, fic: dict | None = None) -> dict:
    check_props(body, FIC_PROPS, "federatedIdentityCredential")
    out = dict(fic or {})
    for prop in ("name", "issuer", "subject"):
        if prop in body:
            if not isinstance(body[prop], str) or not body[prop].strip():
                raise invalid_value(prop, "FederatedIdentityCredential")
            out[prop] = body[prop]
        elif creating:
            raise bad_request(f"Property '{prop}' is required for a federated identity credential.")
    if "name" in out and not FIC_NAME_RE.match(out["name"]):
        raise invalid_value("name", "FederatedIdentityCredential")
    if fic is not None and "name" in body and body["name"] != fic["name"]:
        raise bad_request("Property 'name' is read-only and cannot be updated.")
    if "audiences" in body or creating:
        aud = body.get("audiences", ["api://AzureADTokenExchange"])
        if not isinstance(aud, list) or len(aud) != 1 or not isinstance(aud[0], str):
            raise invalid_value("audiences", "FederatedIdentityCredential")
        out["audiences"] = aud
    if "description" in body:
        if body["description"] is not None and not isinstance(body["description"], str):
            raise invalid_value("description", "FederatedIdentityCredential")
        out["description"] = body["description"]
    out.setdefault("description", None)
    return out


def federated_credentials(ctx: Ctx, key, rest: list, fic_key, method: str) -> Response:
    if fic_key is None and rest:
        if rest[0][1] is not None or len(rest) > 1:
            raise unknown_segment(rest[0][0])
        fic_key = (None, rest[0][0])
    elif rest:
        raise unknown_segment(rest[0][0])
    if fic_key is None:
        if method == "GET":
            ctx.require(APP_READ_OR_OWNED)
            app = find_app(ctx, key, primary=False)
            ctx.require_object(app, write=False)
            ctx_base = f"applications('{app['id']}')/federatedIdentityCredentials"
            query = odata.parse_query(request.args, request.headers, "federatedIdentityCredential",
                                      {"name", "subject", "issuer", "id"}, FIC_PROPS, {"audiences"})
            items = list(app.get("_federatedIdentityCredentials") or [])
            return list_response(ctx, items, query, ctx_base, plain_view)
        if method == "POST":
            ctx.require(APP_WRITE_OR_OWNED)
            body = read_body()
            with ctx.state.lock:
                app = find_app(ctx, key, primary=True)
                ctx.require_object(app, write=True)
                return _create_fic(ctx, app, _validate_fic(body, creating=True))
        raise method_not_allowed()
    prop, value = fic_key
    if prop not in (None, "id", "name"):
        raise GraphError(400, "BadRequest",
                         f"'{prop}' is not a valid alternate key of 'microsoft.graph.federatedIdentityCredential'.")
    field = "name" if prop == "name" else "id"

    def lookup(app):
        for f in app.get("_federatedIdentityCredentials") or []:
            if str(f.get(field, "")).lower() == value.lower():
                return f
        return None

    if method == "GET":
        ctx.require(APP_READ_OR_OWNED)
        app = find_app(ctx, key, primary=False)
        ctx.require_object(app, write=False)
        fic = lookup(app)
        if fic is None:
            raise not_found(value)
        select = select_from_args(FIC_PROPS, "federatedIdentityCredential")
        return json_response(dict({"@odata.context": ctx.context(
            f"applications('{app['id']}')/federatedIdentityCredentials/$entity")}, **plain_view(fic, select)))
    if method == "PATCH":
        ctx.require(APP_WRITE_OR_OWNED)
        body = read_body()
        with ctx.state.lock:
            app = find_app(ctx, key, primary=True)
            ctx.require_object(app, write=True)
            fic = lookup(app)
            if fic is None:
                if field == "name" and prefer_create_if_missing():
                    if "name" in body and body["name"] != value:
                        raise bad_request("The name in the body does not match the key in the request URL.")
                    return _create_fic(ctx, app, _validate_fic(dict(body, name=value), creating=True))
                raise not_found(value)
            updated = _validate_fic(body, creating=False, fic=fic)
            fic.clear()
            fic.update(updated)
        return no_content()
    if method == "DELETE":
        ctx.require(APP_WRITE_OR_OWNED)
        with ctx.state.lock:
            app = find_app(ctx, key, primary=True)
            ctx.require_object(app, write=True)
            fic = lookup(app)
            if fic is None:
                raise not_found(value)
            app["_federatedIdentityCredentials"] = [f for f in app["_federatedIdentityCredentials"] if f is not fic]
        return no_content()
    raise method_not_allowed()


def _create_fic(ctx: Ctx, app: dict, fic: dict) -> Response:
    fics = app.setdefault("_federatedIdentityCredentials", [])
    if any(f["name"].lower() == fic["name"].lower() for f in fics):
        raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                         "FederatedIdentityCredential with name " + fic["name"] + " already exists.")
    if any(f["issuer"] == fic["issuer"] and f["subject"] == fic["subject"] for f in fics):
        raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                         "FederatedIdentityCredential with the same issuer and subject already exists.")
    if len(fics) >= MAX_FIC:
        raise bad_request(f"The maximum number of federated identity credentials ({MAX_FIC}) per application "
                          "has been reached.")
    stored = {"id": new_id(), "name": fic["name"], "issuer": fic["issuer"], "subject": fic["subject"],
              "description": fic.get("description"), "audiences": fic["audiences"], "_created": time.time()}
    fics.append(stored)
    return json_response(dict({"@odata.context": ctx.context(
        f"applications('{app['id']}')/federatedIdentityCredentials/$entity")}, **public_view(stored)), 201)


# --- service principals -------------------------------------------------------------------------------------

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


def create_service_principal(ctx: Ctx, body: dict) -> Response:
    check_props(body, SP_PROPS, "servicePrincipal")
    for key in body:
        if "@odata." not in key and key not in SP_WRITABLE:
            raise bad_request(f"Property '{key}' is read-only and cannot be set.")
    app_id = body.get("appId")
    if not isinstance(app_id, str) or not GUID_RE.match(app_id):
        raise invalid_value("appId", "ServicePrincipal")
    check_sp_values(body)
    from . import seed

    no_backing = bad_request(
        f"The appId '{app_id}' of the service principal does not reference a valid application object.",
        details=[{"code": "NoBackingApplicationObject",
                  "message": "The service principal cannot be created because its appId does not reference a "
                             "valid application object.", "target": "appId"}])
    full_rights = bool(ctx.granted & APP_WRITE)
    with ctx.state.lock:
        backing = ctx.dir.application_by_app_id(app_id, replicated_only=False)
        if not full_rights and (backing is None or not ctx.owns(backing)):
            raise GraphError(403, "Authorization_RequestDenied", OWNED_BY_SP_MESSAGE)
        if ctx.dir.service_principal_by_app_id(app_id, replicated_only=False) is not None:
            raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                             "The service principal cannot be created, updated, or restored because the service "
                             f"principal name {app_id} is already in use.")
        app = ctx.dir.application_by_app_id(app_id, replicated_only=False)
        if app is None:
            if app_id.lower() in seed.first_party():
                sp = seed.create_first_party_sp(ctx.tenant, app_id.lower(), seeded=False)
                for k in ("accountEnabled", "tags", "notes", "appRoleAssignmentRequired", "description"):
                    if k in body:
                        sp[k] = body[k]
                return _sp_created(ctx, sp)
            raise no_backing
        if not ctx.dir.replicated(app):
            raise no_backing
        api = app.get("api") or {}
        sp = {
            "id": new_id(), "deletedDateTime": None, "accountEnabled": True, "alternativeNames": [],
            "appDescription": app.get("description"), "appDisplayName": app.get("displayName"),
            "appId": app["appId"], "applicationTemplateId": None, "appOwnerOrganizationId": ctx.tenant.id,
            "appRoleAssignmentRequired": False, "description": None, "disabledByMicrosoftStatus": None,
            "displayName": app.get("displayName"), "homepage": None, "loginUrl": None, "logoutUrl": None,
            "notes": None, "notificationEmailAddresses": [], "preferredSingleSignOnMode": None,
            "preferredTokenSigningKeyThumbprint": None, "replyUrls": list((app.get("web") or {}).get(
                "redirectUris") or []), "servicePrincipalNames": [app["appId"]] + list(app.get("identifierUris")
                                                                                      or []),
            "servicePrincipalType": "Application", "signInAudience": app.get("signInAudience"), "tags": [],
            "tokenEncryptionKeyId": None, "appRoles": list(app.get("appRoles") or []),
            "oauth2PermissionScopes": list(api.get("oauth2PermissionScopes") or []),
            "keyCredentials": [], "passwordCredentials": [],
            "info": app.get("info"), "verifiedPublisher": app.get("verifiedPublisher"),
        }
        for k in ("accountEnabled", "tags", "notes", "appRoleAssignmentRequired", "description", "displayName",
                  "homepage", "loginUrl", "logoutUrl", "notificationEmailAddresses", "preferredSingleSignOnMode",
                  "replyUrls"):
            if k in body:
                sp[k] = body[k]
        caller = ctx.caller_sp_id()
        sp["_owners"] = [caller] if caller else []
        ctx.dir.add("servicePrincipal", sp)
    return _sp_created(ctx, sp)


def check_sp_values(body: dict) -> None:
    for key, value in body.items():
        if key in ("accountEnabled", "appRoleAssignmentRequired"):
            ok = isinstance(value, bool)
        elif key in ("tags", "notificationEmailAddresses", "replyUrls"):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif "@odata." in key:
            ok = True
        else:
            ok = value is None or isinstance(value, str)
        if not ok:
            raise invalid_value(key, "ServicePrincipal")


def _sp_created(ctx: Ctx, sp: dict) -> Response:
    return json_response(dict({"@odata.context": ctx.context("servicePrincipals/$entity")}, **plain_view(sp)), 201,
                         {"Location": f"{ctx.base}/v1.0/directoryObjects/{sp['id']}/Microsoft.DirectoryServices."
                                      "ServicePrincipal"})


def delete_service_principal(ctx: Ctx, sp: dict) -> None:
    d = ctx.dir
    for obj_id, obj in list(d.objects.items()):
        kind = obj.get("_kind")
        if kind == "appRoleAssignment" and sp["id"] in (obj.get("principalId"), obj.get("resourceId")):
            del d.objects[obj_id]
        elif kind == "oauth2PermissionGrant" and sp["id"] in (obj.get("clientId"), obj.get("resourceId")):
            del d.objects[obj_id]
    d.objects.pop(sp["id"], None)


def service_principals(ctx: Ctx, segs: list, method: str) -> Response:
    name, key = segs[0]
    rest = segs[1:]
    if key is None and rest:
        if rest[0][1] is not None:
            raise unknown_segment(rest[0][0])
        key = (None, rest[0][0])
        rest = rest[1:]
    if key is None:
        if method == "GET":
            ctx.require(APP_READ_OR_OWNED)
            query = odata.parse_query(request.args, request.headers, "servicePrincipal", SP_FILTER, SP_PROPS,
                                      {"servicePrincipalNames", "tags"}, {"displayName"})
            return list_response(ctx, list(ctx.dir.iter("servicePrincipal")), query, "servicePrincipals",
                                 plain_view)
        if method == "POST":
            ctx.require(APP_WRITE_OR_OWNED)
            return create_service_principal(ctx, read_body())
        raise method_not_allowed()
    if not rest:
        if method == "GET":
            ctx.require(APP_READ_OR_OWNED)
            select = select_from_args(SP_PROPS, "servicePrincipal")
            sp = find_sp(ctx, key, primary=False)
            suffix = f"servicePrincipals({','.join(select)})/$entity" if select else "servicePrincipals/$entity"
            return json_response(dict({"@odata.context": ctx.context(suffix)}, **plain_view(sp, select)))
        if method == "PATCH":
            ctx.require(APP_WRITE_OR_OWNED)
            body = read_body()
            check_props(body, SP_PROPS, "servicePrincipal")
            with ctx.state.lock:
                sp = find_sp(ctx, key, primary=True)
                ctx.require_object(sp, write=True)
                for k, v in body.items():
                    if "@odata." in k:
                        continue
                    if k not in SP_WRITABLE or (k == "appId" and v != sp["appId"]):
                        raise bad_request(f"Property '{k}' is read-only and cannot be set.")
                check_sp_values(body)
                sp.update({k: v for k, v in body.items() if "@odata." not in k})
            return no_content()
        if method == "DELETE":
            ctx.require(APP_WRITE_OR_OWNED)
            with ctx.state.lock:
                sp = find_sp(ctx, key, primary=True)
                ctx.require_object(sp, write=True)
                delete_service_principal(ctx, sp)
            return no_content()
        raise method_not_allowed()
    nav, nav_key = rest[0]
    if nav in ("appRoleAssignedTo", "appRoleAssignments"):
        item = None
        if nav_key is not None:
            item = nav_key[1]
            if len(rest) > 1:
                raise unknown_segment(rest[1][0])
        elif len(rest) == 2 and rest[1][1] is None:
            item = rest[1][0]
        elif len(rest) > 1:
            raise unknown_segment(rest[1][0])
        return assignments(ctx, key, nav, item, method)
    if nav == "oauth2PermissionGrants" and len(rest) == 1 and nav_key is None:
        if method != "GET":
            raise method_not_allowed()
        ctx.require(GRANT_READ)
        sp = find_sp(ctx, key, primary=False)
        query = odata.parse_query(request.args, request.headers, "oAuth2PermissionGrant", GRANT_PROPS, GRANT_PROPS)
        items = [g for g in ctx.dir.iter("oauth2PermissionGrant") if g.get("clientId") == sp["id"]]
        return list_response(ctx, items, query, "oauth2PermissionGrants", plain_view)
    if nav == "ownedObjects" and len(rest) == 1 and nav_key is None:
        if method != "GET":
            raise method_not_allowed()
        ctx.require(APP_READ_OR_OWNED)
        sp = find_sp(ctx, key, primary=False)
        if not ctx.granted & APP_READ and sp["id"] != ctx.caller_sp_id():
            raise GraphError(403, "Authorization_RequestDenied", INSUFFICIENT)
        query = odata.parse_query(request.args, request.headers, "directoryObject", {"id", "appId", "displayName"},
                                  APP_PROPS | SP_PROPS)
        items = [o for o in ctx.dir.objects.values() if o.get("_kind") in ("application", "servicePrincipal")
                 and "_deleted" not in o and ctx.dir.replicated(o) and sp["id"] in (o.get("_owners") or [])]
        return list_response(ctx, items, query, "directoryObjects", typed_view)
    raise unknown_segment(nav)


def typed_view(obj: dict, select: list[str] | None = None) -> dict:
    out = {"@odata.type": f"#microsoft.graph.{obj['_kind']}"}
    out.update(app_view(obj, select) if obj["_kind"] == "application" else plain_view(obj, select))
    return out


# --- app role assignments -----------------------------------------------------------------------------------

def assignments(ctx: Ctx, sp_key, nav: str, item: str | None, method: str) -> Response:
    side = "resourceId" if nav == "appRoleAssignedTo" else "principalId"
    if item is None and method == "GET":
        ctx.require(ASSIGN_READ)
        sp = find_sp(ctx, sp_key, primary=False)
        query = odata.parse_query(request.args, request.headers, "appRoleAssignment", ASSIGNMENT_FILTER,
                                  ASSIGNMENT_PROPS)
        items = [a for a in ctx.dir.iter("appRoleAssignment") if a.get(side) == sp["id"]]
        return list_response(ctx, items, query, f"servicePrincipals('{sp['id']}')/{nav}", plain_view)
    if item is None and method == "POST":
        ctx.require(ASSIGN_WRITE)
        body = read_body()
        sp = find_sp(ctx, sp_key, primary=False)
        return create_assignment(ctx, sp, nav, side, body)
    if item is not None and method == "GET":
        ctx.require(ASSIGN_READ)
        sp = find_sp(ctx, sp_key, primary=False)
        obj = ctx.dir.get(item, "appRoleAssignment")
        if obj is None or obj.get(side) != sp["id"]:
            raise not_found(item)
        return json_response(dict({"@odata.context": ctx.context(
            f"servicePrincipals('{sp['id']}')/{nav}/$entity")}, **plain_view(obj)))
    if item is not None and method == "DELETE":
        ctx.require(ASSIGN_WRITE)
        with ctx.state.lock:
            sp = find_sp(ctx, sp_key, primary=True)
            obj = ctx.dir.get(item, "appRoleAssignment", replicated_only=False)
            if obj is None or obj.get(side) != sp["id"]:
                raise not_found(item)
            del ctx.dir.objects[item]
        return no_content()
    raise method_not_allowed()


def create_assignment(ctx: Ctx, sp: dict, nav: str, side: str, body: dict) -> Response:
    check_props(body, ASSIGNMENT_PROPS, "appRoleAssignment")
    for prop in ("principalId", "resourceId", "appRoleId"):
        value = body.get(prop)
        if not isinstance(value, str) or not GUID_RE.match(value):
            raise invalid_value(prop, "AppRoleAssignment")
    for key in body:
        if "@odata." not in key and key not in ("principalId", "resourceId", "appRoleId"):
            raise bad_request(f"Property '{key}' is read-only and cannot be set.")
    if body[side].lower() != sp["id"].lower():
        raise bad_request("Not a valid reference update.")
    with ctx.state.lock:
        principal = ctx.dir.get(body["principalId"].lower())
        if principal is None or principal.get("_kind") not in ("servicePrincipal", "user"):
            raise not_found(body["principalId"])
        resource = ctx.dir.get(body["resourceId"].lower(), "servicePrincipal")
        if resource is None:
            raise not_found(body["resourceId"])
        role_id = body["appRoleId"].lower()
        member_type = "Application" if principal["_kind"] == "servicePrincipal" else "User"
        role = next((r for r in resource.get("appRoles") or [] if r.get("id", "").lower() == role_id), None)
        if role_id != "00000000-0000-0000-0000-000000000000" and (
                role is None or member_type not in (role.get("allowedMemberTypes") or [])
                or not role.get("isEnabled", True)):
            raise bad_request(f"Permission being assigned was not found on application '{resource.get('appId')}'.")
        for existing in ctx.dir.iter("appRoleAssignment", replicated_only=False):
            if existing["principalId"] == principal["id"] and existing["resourceId"] == resource["id"] \
                    and existing["appRoleId"].lower() == role_id:
                raise bad_request("Permission being assigned already exists on the object")
        obj = {"id": assignment_id(), "deletedDateTime": None, "appRoleId": role_id, "createdDateTime": now_iso(),
               "principalDisplayName": principal.get("displayName"), "principalId": principal["id"],
               "principalType": "ServicePrincipal" if member_type == "Application" else "User",
               "resourceDisplayName": resource.get("displayName"), "resourceId": resource["id"]}
        ctx.dir.add("appRoleAssignment", obj)
    return json_response(dict({"@odata.context": ctx.context(f"servicePrincipals('{sp['id']}')/{nav}/$entity")},
                              **plain_view(obj)), 201)


# --- oauth2PermissionGrants ---------------------------------------------------------------------------------

def permission_grants(ctx: Ctx, segs: list, method: str) -> Response:
    name, key = segs[0]
    rest = segs[1:]
    if key is None and rest:
        if rest[0][1] is not None or len(rest) > 1:
            raise unknown_segment(rest[0][0])
        key = (None, rest[0][0])
    elif key is not None and rest:
        raise unknown_segment(rest[0][0])
    if key is not None and key[0] not in (None, "id"):
        raise GraphError(400, "BadRequest",
                         f"'{key[0]}' is not a valid alternate key of 'microsoft.graph.oAuth2PermissionGrant'.")
    if key is None:
        if method == "GET":
            ctx.require(GRANT_READ)
            query = odata.parse_query(request.args, request.headers, "oAuth2PermissionGrant", GRANT_PROPS,
                                      GRANT_PROPS)
            return list_response(ctx, list(ctx.dir.iter("oauth2PermissionGrant")), query,
                                 "oauth2PermissionGrants", plain_view)
        if method == "POST":
            ctx.require(GRANT_WRITE)
            return create_grant(ctx, read_body())
        raise method_not_allowed()
    grant_id = key[1]
    if method == "GET":
        ctx.require(GRANT_READ)
        grant = ctx.dir.get(grant_id, "oauth2PermissionGrant")
        if grant is None:
            raise not_found(grant_id)
        select = select_from_args(GRANT_PROPS, "oAuth2PermissionGrant")
        return json_response(dict({"@odata.context": ctx.context("oauth2PermissionGrants/$entity")},
                                  **plain_view(grant, select)))
    if method == "PATCH":
        ctx.require(GRANT_WRITE)
        body = read_body()
        check_props(body, GRANT_PROPS, "oAuth2PermissionGrant")
        with ctx.state.lock:
            grant = ctx.dir.get(grant_id, "oauth2PermissionGrant", replicated_only=False)
            if grant is None:
                raise not_found(grant_id)
            for k, v in body.items():
                if "@odata." in k:
                    continue
                if k != "scope" and v != grant.get(k):
                    raise bad_request("Property cannot be updated")
            if "scope" in body:
                if not isinstance(body["scope"], str):
                    raise invalid_value("scope", "OAuth2PermissionGrant")
                grant["scope"] = body["scope"]
        return no_content()
    if method == "DELETE":
        ctx.require(GRANT_WRITE)
        with ctx.state.lock:
            if ctx.dir.get(grant_id, "oauth2PermissionGrant", replicated_only=False) is None:
                raise not_found(grant_id)
            del ctx.dir.objects[grant_id]
        return no_content()
    raise method_not_allowed()


def create_grant(ctx: Ctx, body: dict) -> Response:
    check_props(body, GRANT_PROPS, "oAuth2PermissionGrant")
    if "id" in body:
        raise bad_request("Property 'id' is read-only and cannot be set.")
    for prop in ("clientId", "resourceId"):
        if not isinstance(body.get(prop), str) or not GUID_RE.match(body[prop]):
            raise invalid_value(prop, "OAuth2PermissionGrant")
    consent = body.get("consentType")
    if consent not in ("AllPrincipals", "Principal"):
        raise invalid_value("consentType", "OAuth2PermissionGrant")
    principal_id = body.get("principalId")
    if consent == "AllPrincipals" and principal_id is not None:
        raise invalid_value("principalId", "OAuth2PermissionGrant")
    if consent == "Principal" and (not isinstance(principal_id, str) or not GUID_RE.match(principal_id)):
        raise invalid_value("principalId", "OAuth2PermissionGrant")
    scope = body.get("scope", "")
    if not isinstance(scope, str):
        raise invalid_value("scope", "OAuth2PermissionGrant")
    with ctx.state.lock:
        client = ctx.dir.get(body["clientId"].lower(), "servicePrincipal")
        if client is None:
            raise not_found(body["clientId"])
        resource = ctx.dir.get(body["resourceId"].lower(), "servicePrincipal")
        if resource is None:
            raise not_found(body["resourceId"])
        if consent == "Principal" and ctx.dir.get(principal_id.lower(), "user") is None:
            raise not_found(principal_id)
        pid = principal_id.lower() if principal_id else None
        for g in ctx.dir.iter("oauth2PermissionGrant", replicated_only=False):
            if (g.get("clientId"), g.get("resourceId"), g.get("consentType"), g.get("principalId")) == (
                    client["id"], resource["id"], consent, pid):
                raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists.")
        grant = {"id": assignment_id(), "clientId": client["id"], "consentType": consent, "principalId": pid,
                 "resourceId": resource["id"], "scope": scope}
        ctx.dir.add("oauth2PermissionGrant", grant)
    return json_response(dict({"@odata.context": ctx.context("oauth2PermissionGrants/$entity")},
                              **plain_view(grant)), 201)


# --- deleted items ------------------------------------------------------------------------------------------

def deleted_view(obj: dict, select: list[str] | None = None) -> dict:
    out = {"@odata.type": "#microsoft.graph.application"}
    out.update(app_view(obj, select))
    return out


def deleted_items(ctx: Ctx, segs: list, method: str) -> Response:
    rest = segs[2:]
    if not rest:
        raise bad_request("A type cast segment is required, for example "
                          "/directory/deletedItems/microsoft.graph.application.")
    first, first_key = rest[0]
    if first_key is not None:
        raise unknown_segment(first)
    if first.lower().startswith("microsoft.graph."):
        if len(rest) > 1:
            raise unknown_segment(rest[1][0])
        if method != "GET":
            raise method_not_allowed()
        ctx.require(APP_READ)
        kind = first[len("microsoft.graph."):]
        if kind not in ("application", "servicePrincipal", "user", "group"):
            raise unknown_segment(first)
        query = odata.parse_query(request.args, request.headers, "application", APP_FILTER, APP_PROPS,
                                  APP_FILTER_COLLECTIONS)
        items = list(ctx.dir.iter("application", include_deleted=True, replicated_only=False)) \
            if kind == "application" else []
        return list_response(ctx, items, query, f"directory/deletedItems/{first}", app_view)
    obj_id = first
    if len(rest) == 1:
        if method == "GET":
            ctx.require(APP_READ)
            obj = ctx.dir.get(obj_id, "application", replicated_only=False, include_deleted=True)
            if obj is None:
                raise not_found(obj_id)
            return json_response(dict({"@odata.context": ctx.context("directoryObjects/$entity")},
                                      **deleted_view(obj, select_from_args(APP_PROPS, "application"))))
        if method == "DELETE":
            ctx.require(APP_WRITE)
            with ctx.state.lock:
                if ctx.dir.get(obj_id, "application", replicated_only=False, include_deleted=True) is None:
                    raise not_found(obj_id)
                del ctx.dir.objects[obj_id]
            return no_content()
        raise method_not_allowed()
    if len(rest) == 2 and rest[1] == ("restore", None):
        if method != "POST":
            raise method_not_allowed()
        ctx.require(APP_WRITE)
        with ctx.state.lock:
            obj = ctx.dir.get(obj_id, "application", replicated_only=False, include_deleted=True)
            if obj is None:
                raise not_found(obj_id)
            obj.pop("_deleted", None)
            obj["deletedDateTime"] = None
        return json_response(dict({"@odata.context": ctx.context("directoryObjects/$entity")},
                                  **deleted_view(obj)))
    raise unknown_segment(rest[-1][0])


# --- dispatch -----------------------------------------------------------------------------------------------

HANDLERS = {"applications": applications, "servicePrincipals": service_principals,
            "oauth2PermissionGrants": permission_grants}


def dispatch(state: EmulatorState) -> Response:
    ctx = authenticate(state)
    path = request.path[len("/v1.0/"):]
    segs = [odata.parse_segment(s) for s in odata.split_path(path)]
    method = request.method
    if segs[0][0] == "directory":
        if len(segs) < 2 or segs[1] != ("deletedItems", None) or segs[0][1] is not None:
            raise unknown_segment(segs[1][0] if len(segs) > 1 else "directory")
        return deleted_items(ctx, segs, method)
    handler = HANDLERS.get(segs[0][0])
    if handler is None:
        raise unknown_segment(segs[0][0])
    return handler(ctx, segs, method)


def register(app, state: EmulatorState) -> None:
    methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]

    def view(rest=None):
        return dispatch(state)

    for coll in ("applications", "servicePrincipals", "oauth2PermissionGrants"):
        app.add_url_rule(f"/v1.0/{coll}", f"graph_dir_{coll}", view, methods=methods)
        app.add_url_rule(f"/v1.0/{coll}/<path:rest>", f"graph_dir_{coll}_sub", view, methods=methods)
        app.add_url_rule(f"/v1.0/{coll}(<path:rest>", f"graph_dir_{coll}_key", view, methods=methods)
    app.add_url_rule("/v1.0/directory/deletedItems", "graph_dir_deleted", view, methods=methods)
    app.add_url_rule("/v1.0/directory/deletedItems/<path:rest>", "graph_dir_deleted_sub", view, methods=methods)
