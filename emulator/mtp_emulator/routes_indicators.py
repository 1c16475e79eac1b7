"""MDE indicators (``/api/indicators``): submit, list, delete, import and batch delete.

| route | what |
|---|---|
| ``GET /api/indicators`` | active indicators the caller may see; ``$filter`` (``eq``, ``ne``, ``and``), ``$top`` <= 10,000, ``$skip`` |
| ``POST /api/indicators`` | submit or update (upsert on type, value, action): 200, never 201 |
| ``DELETE /api/indicators/{id}`` | 204 / 404 |
| ``POST /api/indicators/import`` | ``{"Indicators": [...]}``, at most 500; per-item ``isFailed`` / ``failureReason`` |
| ``POST /api/indicators/BatchDelete`` | ``{"IndicatorIds": [...]}``: 204; 400 empty / over 500 / invalid id; 403; 404 |
| ``GET / PATCH /_emulator/indicators`` | ``{"tenant"?, "active_limit", "duplicate_mode"}`` |

Contract: docs/developer/reference/response-and-content.md §4 and §8. Quotas (``quotas.py`` windows, added here
under the names ``indicators``, ``indicators.import`` and ``indicators.batchdelete``): 100/min and 1,500/h,
30/min for import, 30/min and 1,500/h for batch delete; a 429 carries ``Retry-After``.
"""

from __future__ import annotations

import json
import re

from flask import jsonify, request

from . import indicators_store as store_mod
from . import quotas
from .app import Route, add_routes
from .errors import MtpError
from .graph_odata import split_and
from .routes_defender import MDE_AUDIENCES, MTP_AUDIENCES, authorize


AUDIENCES = MDE_AUDIENCES + MTP_AUDIENCES
READ_ROLES = ("Ti.Read.All", "Ti.ReadWrite", "Ti.ReadWrite.All")
WRITE_ROLES = ("Ti.ReadWrite", "Ti.ReadWrite.All")
SCOPES = ("Ti.ReadWrite",)
TOP_MAX = 10000
CONTEXT = "https://api.securitycenter.microsoft.com/api/$metadata#Indicators"
FILTERABLE = ("application", "createdByDisplayName", "expirationTime", "generateAlert", "title", "rbacGroupNames",
              "rbacGroupIds", "indicatorValue", "indicatorType", "creationTimeDateTimeUtc", "createdBy", "action",
              "severity")
_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne)\s+(?:'((?:[^']|'')*)'|(true|false|null))\s*$", re.I)


def _body():
    raw = request.get_data(cache=True, as_text=True)
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise MtpError(400, "InvalidRequestBody", "Request body is incorrect.")
    return body


def _parse_filter(text: str | None) -> list:
    if not text:
        return []
    clauses = []
    for part in split_and(text.strip()):
        m = _CLAUSE.match(part)
        if not m or m.group(1) not in FILTERABLE:
            raise MtpError(400, "ODataError", f"Invalid filter clause: '{part.strip()}'.")
        literal = m.group(3).replace("''", "'") if m.group(3) is not None else \
            {"true": True, "false": False, "null": None}[m.group(4).lower()]
        clauses.append((m.group(1), m.group(2).lower(), literal))
    return clauses


def _matches(item: dict, clauses: list) -> bool:
    for name, op, literal in clauses:
        value = item.get(name)
        if isinstance(value, str) and isinstance(literal, str):
            same = value.lower() == literal.lower()
        elif isinstance(value, list):
            same = literal in value
        else:
            same = value == literal
        if same != (op == "eq"):
            return False
    return True


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise MtpError(400, "ODataError", f"Invalid value '{raw}' for query option {name}.")
    return int(raw)


def indicators_list(state):
    tenant, claims = authorize(state, "mde", AUDIENCES, READ_ROLES, SCOPES)
    quotas.check_quota(state, tenant, "indicators", "mde")
    top, skip = _int_arg("$top", TOP_MAX), _int_arg("$skip", 0)
    if top > TOP_MAX:
        raise MtpError(400, "ODataError", f"The limit of '{TOP_MAX}' for Top query has been exceeded.")
    clauses = _parse_filter(request.args.get("$filter"))
    with state.lock:
        data = store_mod.store(state, tenant)
        items = [dict(i) for i in store_mod.active_items(data) if store_mod.visible(i, claims) and _matches(i, clauses)]
    items.sort(key=lambda i: int(i["id"]))
    body = {"@odata.context": CONTEXT, "value": items[skip:skip + top]}
    if skip + top < len(items):
        args = {k: v for k, v in request.args.items() if k not in ("$skip", "$top")}
        args.update({"$top": str(top), "$skip": str(skip + top)})
        query = "&".join(f"{k}={v}" for k, v in args.items())
        body["@odata.nextLink"] = f"{request.host_url.rstrip('/')}{request.path}?{query}"
    return jsonify(body)


def indicator_submit(state):
    tenant, claims = authorize(state, "mde", AUDIENCES, WRITE_ROLES, SCOPES)
    quotas.check_quota(state, tenant, "indicators", "mde")
    body = _body()
    with state.lock:
        try:
            item = store_mod.upsert(store_mod.store(state, tenant), store_mod.validate(body), claims)
        except (store_mod.IndicatorInvalid, store_mod.LimitReached) as exc:
            raise MtpError(400, "BadRequest", str(exc)) from None
        state.stats.incr("indicators.written")
        out = dict(item)
    return jsonify(dict({"@odata.context": CONTEXT + "/$entity"}, **out)), 200


def indicator_delete(state, indicator_id):
    tenant, claims = authorize(state, "mde", AUDIENCES, WRITE_ROLES, ())
    quotas.check_quota(state, tenant, "indicators", "mde")
    with state.lock:
        items = store_mod.store(state, tenant)["items"]
        item = items.get(indicator_id)
        if item is None or not store_mod.visible(item, claims):
            raise MtpError(404, "NotFound", f"Indicator {indicator_id} was not found.")
        del items[indicator_id]
        state.stats.incr("indicators.deleted")
    return "", 204


def _import_one(data: dict, row, claims: dict, batch) -> dict:
    value = row.get("indicatorValue") if isinstance(row, dict) else None
    try:
        item = store_mod.upsert(data, store_mod.validate(row), claims, batch=batch)
    except (store_mod.IndicatorInvalid, store_mod.LimitReached) as exc:
        return {"id": None, "indicator": value, "isFailed": True, "failureReason": str(exc)}
    return {"id": item["id"], "indicator": item["indicatorValue"], "isFailed": False, "failureReason": None}


def indicators_import(state):
    tenant, claims = authorize(state, "mde", AUDIENCES, WRITE_ROLES, SCOPES)
    quotas.check_quota(state, tenant, "indicators.import", "mde")
    rows = _body().get("Indicators")
    if not isinstance(rows, list) or not rows:
        raise MtpError(400, "InvalidRequestBody", "The 'Indicators' list is required and must not be empty.")
    if len(rows) > store_mod.IMPORT_MAX:
        raise MtpError(400, "InvalidRequestBody",
                       f"At most {store_mod.IMPORT_MAX} indicators can be imported in one call; got {len(rows)}.")
    with state.lock:
        data = store_mod.store(state, tenant)
        batch = store_mod.Batch(data)
        value = [_import_one(data, row, claims, batch) for row in rows]
        state.stats.incr("indicators.written", sum(1 for v in value if not v["isFailed"]))
    return jsonify({"@odata.context": "https://api.securitycenter.microsoft.com/api/$metadata#"
                    "Collection(microsoft.windowsDefenderATP.api.ImportIndicatorResult)", "value": value})


def indicators_batch_delete(state):
    tenant, claims = authorize(state, "mde", AUDIENCES, WRITE_ROLES, ())
    quotas.check_quota(state, tenant, "indicators.batchdelete", "mde")
    ids = _body().get("IndicatorIds")
    if not isinstance(ids, list) or not ids:
        raise MtpError(400, "InvalidRequestBody", "The 'IndicatorIds' list is required and must not be empty.")
    if len(ids) > store_mod.IMPORT_MAX:
        raise MtpError(400, "InvalidRequestBody", f"At most {store_mod.IMPORT_MAX} ids per call; got {len(ids)}.")
    bad = [i for i in ids if not isinstance(i, str) or not i.isdigit()]
    if bad:
        raise MtpError(400, "InvalidRequestBody", f"Invalid indicator id: {bad[0]!r}.")
    with state.lock:
        items = store_mod.store(state, tenant)["items"]
        missing = [i for i in ids if i not in items]
        if missing:
            raise MtpError(404, "NotFound", f"Indicator {missing[0]} was not found.")
        hidden = [i for i in ids if not store_mod.visible(items[i], claims)]
        if hidden:
            raise MtpError(403, "Forbidden", f"The caller is not exposed to indicator {hidden[0]}.")
        for ident in ids:
            items.pop(ident, None)
        state.stats.incr("indicators.deleted", len(ids))
    return "", 204


def _control_tenant(state, data: dict):
    key = data.get("tenant") or request.args.get("tenant")
    tenant = state.tenant(key) if key else next(iter(state.tenants.values()), None)
    if tenant is None:
        raise MtpError(404, "NotFound", f"Tenant '{key}' not found.")
    return tenant


def _control_view(state, tenant) -> dict:
    data = store_mod.store(state, tenant)
    return {"tenant": tenant.id, "active_limit": data["active_limit"], "duplicate_mode": data["duplicate_mode"],
            "active": len(store_mod.active_items(data)), "stored": len(data["items"])}


def indicators_control_get(state):
    return jsonify(_control_view(state, _control_tenant(state, {})))


def indicators_control_patch(state):
    data = _body()
    tenant = _control_tenant(state, data)
    unknown = sorted(set(data) - {"tenant", "active_limit", "duplicate_mode"})
    if unknown:
        raise MtpError(400, "BadRequest", f"Unknown indicator setting(s): {', '.join(unknown)}.")
    limit = data.get("active_limit")
    if "active_limit" in data and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise MtpError(400, "BadRequest", "'active_limit' must be an integer >= 0.")
    with state.lock:
        stored = store_mod.store(state, tenant)
        if "active_limit" in data:
            stored["active_limit"] = limit
        if "duplicate_mode" in data:
            stored["duplicate_mode"] = bool(data["duplicate_mode"])
    return jsonify(_control_view(state, tenant))


ROUTES = (
    Route("/api/indicators", ("GET",), indicators_list),
    Route("/api/indicators", ("POST",), indicator_submit),
    Route("/api/indicators/<indicator_id>", ("DELETE",), indicator_delete),
    Route("/api/indicators/import", ("POST",), indicators_import),
    Route("/api/indicators/BatchDelete", ("POST",), indicators_batch_delete),
    Route("/_emulator/indicators", ("GET",), indicators_control_get),
    Route("/_emulator/indicators", ("PATCH",), indicators_control_patch),
)


def register(app, state) -> None:
    add_routes(app, state, ROUTES)
