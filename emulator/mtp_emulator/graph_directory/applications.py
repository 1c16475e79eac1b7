"""Applications: ``/applications`` (list, create, upsert by ``uniqueName``), one application (GET, PATCH,
DELETE), ``addPassword`` and ``removePassword``."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import time

from flask import Response, request

from .. import graph_odata as odata
from ..errors import GraphError
from ..state import hash_secret, new_id, public_view
from .common import (APP_COMPLEX, APP_FILTER, APP_FILTER_COLLECTIONS, APP_LISTS, APP_PROPS, APP_READ, APP_READONLY,
                     APP_READ_OR_OWNED, APP_WRITE_OR_OWNED, GUID_RE, MAX_RRA_PERMISSIONS, MAX_RRA_RESOURCES, SP_PROPS,
                     UNIQUE_NAME_RE, Ctx, app_view, bad_request, check_props, find_app, invalid_value, json_response,
                     list_response, method_not_allowed, new_secret_text, no_content, now_iso, prefer_create_if_missing,
                     read_body, select_from_args, typed_view, unknown_segment)
from .federated import federated_credentials


# --- applications -------------------------------------------------------------------------------------------

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


def check_public_client(value: dict) -> None:
    """``publicClient``: only ``redirectUris``, a list of at most 256 absolute URIs without wildcards (https,
    ``http://localhost`` or a custom scheme such as ``ms-appx-web://``)."""
    check_props(value, {"redirectUris"}, "publicClientApplication")
    uris = value.get("redirectUris", [])
    if not isinstance(uris, list) or len(uris) > 256:
        raise invalid_value("publicClient", "Application")
    for uri in uris:
        if not isinstance(uri, str) or "*" in uri or "://" not in uri or len(uri) > 256 \
                or (uri.startswith("http://") and not uri.startswith(("http://localhost", "http://127.0.0.1"))):
            raise invalid_value("publicClient", "Application")


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
        elif key == "isFallbackPublicClient":
            if value is not None and not isinstance(value, bool):
                raise invalid_value(key, "Application")
        elif key in APP_COMPLEX:
            if value is not None and not isinstance(value, dict):
                raise invalid_value(key, "Application")
            if key == "publicClient" and value is not None:
                check_public_client(value)
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
