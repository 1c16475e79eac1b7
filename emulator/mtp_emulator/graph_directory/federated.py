"""Federated identity credentials of an application: ``/applications/{key}/federatedIdentityCredentials``
(list, create, GET, PATCH, DELETE, upsert by ``name``; at most 20 per app)."""

from __future__ import annotations

import time

from flask import Response, request

from .. import graph_odata as odata
from ..errors import GraphError
from ..state import new_id, public_view
from .common import (APP_READ_OR_OWNED, APP_WRITE_OR_OWNED, FIC_NAME_RE, FIC_PROPS, MAX_FIC, Ctx, bad_request,
                     check_props, find_app, invalid_value, json_response, list_response, method_not_allowed, no_content,
                     not_found, plain_view, prefer_create_if_missing, read_body, select_from_args, unknown_segment)


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
    """``…/federatedIdentityCredentials``, ``…/federatedIdentityCredentials/{id}`` and ``…(name='n')``."""
    if fic_key is None and rest:
        if rest[0][1] is not None or len(rest) > 1:
            raise unknown_segment(rest[0][0])
        fic_key = (None, rest[0][0])
    elif rest:
        raise unknown_segment(rest[0][0])
    if fic_key is None:
        return fic_collection(ctx, key, method)
    prop, value = fic_key
    if prop not in (None, "id", "name"):
        raise GraphError(400, "BadRequest",
                         f"'{prop}' is not a valid alternate key of 'microsoft.graph.federatedIdentityCredential'.")
    return fic_item(ctx, key, "name" if prop == "name" else "id", value, method)


def fic_collection(ctx: Ctx, key, method: str) -> Response:
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


def find_fic(app: dict, field: str, value: str) -> dict | None:
    """The app's federated credential whose ``field`` ("id" or "name") equals ``value`` (any case)."""
    for f in app.get("_federatedIdentityCredentials") or []:
        if str(f.get(field, "")).lower() == value.lower():
            return f
    return None


def fic_item(ctx: Ctx, key, field: str, value: str, method: str) -> Response:
    if method == "GET":
        ctx.require(APP_READ_OR_OWNED)
        app = find_app(ctx, key, primary=False)
        ctx.require_object(app, write=False)
        fic = find_fic(app, field, value)
        if fic is None:
            raise not_found(value)
        select = select_from_args(FIC_PROPS, "federatedIdentityCredential")
        return json_response(dict({"@odata.context": ctx.context(
            f"applications('{app['id']}')/federatedIdentityCredentials/$entity")}, **plain_view(fic, select)))
    if method not in ("PATCH", "DELETE"):
        raise method_not_allowed()
    ctx.require(APP_WRITE_OR_OWNED)
    body = read_body() if method == "PATCH" else None
    with ctx.state.lock:
        app = find_app(ctx, key, primary=True)
        ctx.require_object(app, write=True)
        fic = find_fic(app, field, value)
        if fic is None and method == "PATCH" and field == "name" and prefer_create_if_missing():
            if "name" in body and body["name"] != value:
                raise bad_request("The name in the body does not match the key in the request URL.")
            return _create_fic(ctx, app, _validate_fic(dict(body, name=value), creating=True))
        if fic is None:
            raise not_found(value)
        if method == "PATCH":
            updated = _validate_fic(body, creating=False, fic=fic)
            fic.clear()
            fic.update(updated)
        else:
            app["_federatedIdentityCredentials"] = [f for f in app["_federatedIdentityCredentials"] if f is not fic]
    return no_content()


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
