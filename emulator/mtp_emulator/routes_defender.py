"""Defender XDR / MDE API (``api.security.microsoft.com``, ``api.securitycenter.microsoft.com``) and its control plane.

| route | what |
|---|---|
| ``POST /api/advancedhunting/run`` | MTP hunting: ``{"Query"}`` -> ``{Stats, Schema, Results}`` (legacy, retirable) |
| ``POST /api/advancedqueries/run`` | MDE hunting: WDATP token, ``AdvancedQuery.Read.All`` -> ``{Schema, Results}`` |
| ``GET /api/incidents`` | ``$filter`` (lastUpdateTime, createdTime, status, assignedTo), ``$top`` <= 100, ``$skip`` |
| ``GET / PATCH /api/incidents/{id}`` | PascalCase enums, tags replace, comment appends |
| ``POST /_emulator/incidents/advance`` | ``{"tenant"?, "new": 1, "update": 1}``: new incidents / updates for pollers |
| ``GET /api/alerts``, ``GET / PATCH /api/alerts/{id}`` | MDE alerts (WDATP token, ``Alert.Read[Write].All``) |
| ``GET /_emulator/hunting`` | hunting switches and engine facts |
| ``POST /_emulator/hunting/timeout`` | ``{"count": 1}``: the next N hunting queries answer 400 timeout |
| ``POST /_emulator/hunting/cpu_quota`` | ``{"enabled": true}``: 429 until the next 15-minute boundary |
| ``POST /_emulator/hunting/retired`` | ``{"enabled": true}``: legacy hunting answers 410 Gone (as after 2027-02-01) |
| ``PATCH /_emulator/hunting/config`` | ``row_limit``, ``result_bytes``, ``int64_annotations`` (Graph ``@odata.type``) |

The other incident control routes: routes_incidents_control.py. Emulator choices (the real service is
unverified here): a ``$top`` above 100 is capped to 100, not refused; ``$orderby`` works on the time fields;
``@odata.nextLink`` is returned while more pages remain; ``severity`` in ``$filter`` is a 400 ``ODataError``.

Shared with ``routes_graph_security.py``: :func:`authorize`, :func:`check_quota`, :func:`run_hunting`.
Switches live in ``state.extras["defender_ctl"]`` so ``POST /_emulator/reset`` clears them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from urllib.parse import urlencode

from flask import Flask, jsonify, request

from . import incidents as inc_mod
from .app import Route, add_routes
from .errors import GraphError, MtpError
from .hunting import tenant_data
from .hunting.engine import MSG_TIMEOUT, RESULT_BYTES, ROW_LIMIT, HuntingError
from .quotas import QUOTAS, check_quota, fmt_window as _fmt_window  # noqa: F401 - QUOTAS re-exported
from .routes_incidents_control import deep_skip_fault
from .state import GRAPH_APP_ID, MTP_APP_ID, WDATP_APP_ID

UTC = dt.timezone.utc

MTP_AUDIENCES = ("https://api.security.microsoft.com", "https://security.microsoft.com/mtp",
                 "https://api-us.security.microsoft.com", "https://api-eu.security.microsoft.com",
                 "https://api-uk.security.microsoft.com", "https://api-gcc.security.microsoft.us",
                 "https://api-gov.security.microsoft.us", MTP_APP_ID)
MDE_AUDIENCES = ("https://api.securitycenter.microsoft.com", "https://securitycenter.onmicrosoft.com/windowsatpservice",
                 "https://api-gcc.securitycenter.microsoft.us", "https://api-gov.securitycenter.microsoft.us",
                 "https://api.securitycenter.windows.com", WDATP_APP_ID)
GRAPH_AUDIENCES = ("https://graph.microsoft.com", "https://graph.microsoft.us", "https://dod-graph.microsoft.us",
                   "https://canary.graph.microsoft.com", GRAPH_APP_ID)
ALL_AUDIENCES = MTP_AUDIENCES + MDE_AUDIENCES + GRAPH_AUDIENCES

RETIRED_MESSAGE = ("This API was retired on 2027-02-01 and no longer returns data. Use the Microsoft Graph "
                   "security API instead: POST https://graph.microsoft.com/v1.0/security/runHuntingQuery.")
MTP_TOP_MAX = 100


# --- switches ---------------------------------------------------------------------------------------------

def controls(state) -> dict:
    with state.lock:
        return state.extras.setdefault("defender_ctl", {
            "timeout_next": 0, "cpu_until": 0.0, "retired": False, "row_limit": None, "result_bytes": None,
            "int64_annotations": None,
        })


def setting(state, key: str, config_attr: str, default):
    value = controls(state).get(key)
    if value is None:
        value = getattr(state.config, config_attr, None)
    return default if value is None else value


def _error(api: str, status: int, code: str, message: str, headers: dict | None = None):
    if api == "graph":
        return GraphError(status, code, message, headers=headers)
    return MtpError(status, code, message, headers=headers)


# --- authorization ----------------------------------------------------------------------------------------

def authorize(state, api: str, audiences: tuple, roles: tuple, scopes: tuple):
    """Verify the bearer token for *api* ("mtp" | "mde" | "graph"); returns ``(tenant, claims)``.

    A bad token -> 401; a token for another resource -> 401; no accepted role or scope -> 403; a delegated token
    whose user lacks the Defender right (directory role) -> 403. The checks live in :mod:`mtp_emulator.authz`.
    """
    from . import authz

    return authz.authorize(state, api, audiences, roles, scopes, ALL_AUDIENCES)


# --- quotas: mtp_emulator/quotas.py (check_quota is re-exported here for older imports) ----------------


# --- hunting ------------------------------------------------------------------------------------------------

def engine_for(state, tenant):
    data = tenant_data(state, tenant)
    rows = getattr(state.config, "hunting_rows", None)
    engine = data["engine"]
    if rows and int(rows) != engine.rows:  # the row count was changed: rebuild on the next query
        from .hunting.engine import HuntingEngine

        engine.close()
        engine = data["engine"] = HuntingEngine(tenant.id, tenant.domain, int(rows), data["anchor"],
                                                data["incidents"].alerts)
    return engine


def run_hunting(state, tenant, query: str, api: str, window=None) -> dict:
    """Switch checks, then the query; HuntingError -> the API's error shape."""
    ctl = controls(state)
    now = time.time()
    if ctl["cpu_until"] > now:
        retry = max(1, math.ceil(ctl["cpu_until"] - now))
        state.stats.incr("hunting.cpu_throttled")
        raise _error(api, 429, "429" if api != "graph" else "TooManyRequests",
                     "You have exceeded processing resources allocated to this tenant. You can run queries again in "
                     f"{_fmt_window(retry)}.", headers={"Retry-After": str(retry)})
    with state.lock:
        if ctl["timeout_next"] > 0:
            ctl["timeout_next"] -= 1
            state.stats.incr("hunting.timeouts")
            raise _error(api, 400, "BadRequest", MSG_TIMEOUT)
    row_limit = int(setting(state, "row_limit", "hunting_row_limit", ROW_LIMIT))
    result_bytes = int(setting(state, "result_bytes", "hunting_result_bytes", RESULT_BYTES))
    try:
        result = engine_for(state, tenant).run(query, window=window, row_limit=row_limit, result_bytes=result_bytes)
    except HuntingError as exc:
        state.stats.incr("hunting.errors")
        raise _error(api, exc.status, exc.code, exc.message) from None
    state.stats.incr("hunting.runs")
    state.stats.incr("hunting.rows", len(result["rows"]))
    return result


def _mtp_query() -> str:
    raw = request.get_data(cache=True, as_text=True)
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = None
    query = body.get("Query") if isinstance(body, dict) else None
    if not isinstance(query, str) or not query.strip():
        raise MtpError(400, "InvalidRequestBody", "Missing query.")
    return query


# --- incidents ----------------------------------------------------------------------------------------------

MTP_FILTER_FIELDS = {"lastUpdateTime": "updated", "createdTime": "created", "status": "status",
                     "assignedTo": "assignedTo"}


def int_param(name: str, default: int | None, api: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        message = f"Invalid value '{raw}' for query option {name}."
        if api == "graph":
            raise GraphError(400, "BadRequest", message)
        raise MtpError(400, "ODataError", message)
    return value


def filter_incidents(items: list[dict], text: str | None, fields: dict, api: str,
                     enums: dict | None = None) -> list[dict]:
    """Apply an OData $filter over canonical incident/alert dicts. *fields*: wire name -> canonical key."""
    if not text:
        return items
    enums = enums or {}
    try:
        groups = inc_mod.parse_filter(text)
        lowered = {k.lower(): v for k, v in fields.items()}
        prepared = []
        for group in groups:
            conds = []
            for field, op, value in group:
                key = lowered.get(field.lower())
                if key is None:
                    raise inc_mod.ODataFilterError(f"Invalid filter clause: property '{field}' is not filterable.")
                if key in ("created", "updated", "resolved"):
                    value = inc_mod.parse_time(value) if value is not None else None
                elif key in ("id", "incidentId") and value is not None:
                    value = str(value)
                elif key in enums and value is not None:
                    if key == "determination":
                        value = inc_mod.normalize_determination(value)
                    else:
                        value = inc_mod.normalize(value, enums[key], key)
                conds.append((key, op, value))
            prepared.append(conds)
    except (inc_mod.ODataFilterError, inc_mod.InvalidValue) as exc:
        if api == "graph":
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {exc}") from None
        raise MtpError(400, "ODataError", f"Invalid filter clause: {exc}") from None

    def value_of(item, key):
        v = item.get(key)
        if key in ("id", "incidentId") and v is not None:
            return str(v)
        if v is None and key in ("classification", "determination"):
            return "unknown"
        return v

    return [it for it in items
            if any(all(inc_mod.compare(value_of(it, k), op, v) for k, op, v in conds) for conds in prepared)]


def order_items(items: list[dict], text: str | None, fields: dict, api: str) -> list[dict]:
    """``$orderby=field [asc|desc], ...`` over canonical dicts (not documented by Microsoft; clients send it)."""
    if not text:
        return items
    lowered = {k.lower(): v for k, v in fields.items()}
    keys = []
    for part in text.split(","):
        words = part.split()
        key = lowered.get(words[0].lower()) if words else None
        direction = words[1].lower() if len(words) > 1 else "asc"
        if key is None or len(words) > 2 or direction not in ("asc", "desc"):
            message = f"Invalid $orderby clause: '{part.strip()}'."
            if api == "graph":
                raise GraphError(400, "BadRequest", message)
            raise MtpError(400, "ODataError", message)
        keys.append((key, direction == "desc"))
    out = list(items)
    for key, desc in reversed(keys):
        out.sort(key=lambda it: (it.get(key) is not None, it.get(key) if it.get(key) is not None else 0),
                 reverse=desc)
    return out


def page_links(path: str, top: int, skip: int, total: int, extra: dict) -> str | None:
    if skip + top >= total or top == 0:
        return None
    params = {k: v for k, v in extra.items() if v is not None}
    params.update({"$top": top, "$skip": skip + top})
    query = urlencode(params, safe="$',:")
    return f"{request.host_url.rstrip('/')}{path}?{query}"


def sorted_incidents(store) -> list[dict]:
    return sorted(store.incidents, key=lambda i: (i["created"], i["id"]), reverse=True)


def _mtp_patch(inc: dict, body: dict, claims: dict) -> None:
    try:
        inc_mod.apply_update(inc, body, inc_mod.STATUS, "tags")
        if "comment" in body:
            if not isinstance(body["comment"], str):
                raise inc_mod.InvalidValue("comment must be a string.")
    except inc_mod.InvalidValue as exc:
        raise MtpError(400, "InvalidRequestBody", str(exc)) from None
    now = dt.datetime.now(UTC)
    if "comment" in body:
        inc["comments"].append({"comment": body["comment"], "createdBy": actor(claims), "createdTime": now})
    inc["updated"] = now
    inc["lastModifiedBy"] = actor(claims)


def actor(claims: dict) -> str:
    return claims.get("upn") or f"API-App:{claims.get('appid', 'unknown')}"


# --- registration -------------------------------------------------------------------------------------------

HUNT_ROLES = ("AdvancedHunting.Read.All",)
HUNT_SCOPES = ("AdvancedHunting.Read",)
MDE_ROLES = ("AdvancedQuery.Read.All",)
MDE_SCOPES = ("AdvancedQuery.Read",)
INC_READ_ROLES = ("Incident.Read.All", "Incident.ReadWrite.All")
INC_READ_SCOPES = ("Incident.Read", "Incident.ReadWrite")
INC_WRITE_ROLES = ("Incident.ReadWrite.All",)
INC_WRITE_SCOPES = ("Incident.ReadWrite",)


def _tenant_from_body(state, data: dict):
    key = data.get("tenant")
    tenant = state.tenant(key) if key else next(iter(state.tenants.values()), None)
    if tenant is None:
        raise MtpError(404, "NotFound", f"Tenant '{key}' not found.")
    return tenant


def _control_body() -> dict:
    raw = request.get_data(cache=True, as_text=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise MtpError(400, "BadRequest", "Body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise MtpError(400, "BadRequest", "Body must be a JSON object.")
    return data


def mtp_hunting(state):
    if controls(state)["retired"]:
        raise MtpError(410, "Gone", RETIRED_MESSAGE)
    tenant, _ = authorize(state, "mtp", MTP_AUDIENCES, HUNT_ROLES, HUNT_SCOPES)
    check_quota(state, tenant, "hunting", "mtp")
    query = _mtp_query()
    result = run_hunting(state, tenant, query, "mtp")
    return jsonify({"Stats": result["stats"],
                    "Schema": [{"Name": n, "Type": t} for n, t, _ in result["columns"]],
                    "Results": result["rows"]})


def mde_hunting(state):
    if controls(state)["retired"]:
        raise MtpError(410, "Gone", RETIRED_MESSAGE)
    tenant, claims = authorize(state, "mde", MDE_AUDIENCES, MDE_ROLES, MDE_SCOPES)
    check_quota(state, tenant, "hunting", "mde")
    query = _mtp_query()
    result = run_hunting(state, tenant, query, "mde")
    return jsonify({"Schema": [{"Name": n, "Type": t} for n, t, _ in result["columns"]],
                    "Results": result["rows"]})


def mtp_incidents_list(state):
    tenant, _ = authorize(state, "mtp", MTP_AUDIENCES, INC_READ_ROLES, INC_READ_SCOPES)
    check_quota(state, tenant, "incidents.list", "mtp")
    store = tenant_data(state, tenant)["incidents"]
    top = min(int_param("$top", MTP_TOP_MAX, "mtp"), MTP_TOP_MAX)
    skip = int_param("$skip", 0, "mtp")
    deep_skip_fault(state, skip, "mtp")
    flt = request.args.get("$filter")
    items = filter_incidents(sorted_incidents(store), flt, MTP_FILTER_FIELDS, "mtp",
                             {"status": inc_mod.STATUS})
    items = order_items(items, request.args.get("$orderby"), MTP_FILTER_FIELDS | {"incidentId": "id"}, "mtp")
    page = items[skip:skip + top]
    state.stats.incr("incidents.list")
    body = {"@odata.context": "https://api.security.microsoft.com/api/$metadata#Incidents",
            "value": [inc_mod.mtp_incident(i) for i in page]}
    link = page_links("/api/incidents", top, skip, len(items),
                      {"$filter": flt, "$orderby": request.args.get("$orderby")})
    if link:
        body["@odata.nextLink"] = link
    return jsonify(body)


def mtp_incident_get(state, incident_id):
    tenant, _ = authorize(state, "mtp", MTP_AUDIENCES, INC_READ_ROLES, INC_READ_SCOPES)
    check_quota(state, tenant, "incidents.get", "mtp")
    inc = tenant_data(state, tenant)["incidents"].get(incident_id)
    if inc is None:
        raise MtpError(404, "NotFound", f"Incident {incident_id} was not found.")
    state.stats.incr("incidents.get")
    body = {"@odata.context": "https://api.security.microsoft.com/api/$metadata#Incidents/$entity"}
    body.update(inc_mod.mtp_incident(inc))
    return jsonify(body)


def mtp_incident_patch(state, incident_id):
    tenant, claims = authorize(state, "mtp", MTP_AUDIENCES, INC_WRITE_ROLES, INC_WRITE_SCOPES)
    check_quota(state, tenant, "incidents.update", "mtp")
    raw = request.get_data(cache=True, as_text=True)
    try:
        body = json.loads(raw)
    except ValueError:
        raise MtpError(400, "InvalidRequestBody", "Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise MtpError(400, "InvalidRequestBody", "Request body must be a JSON object.")
    with state.lock:
        inc = tenant_data(state, tenant)["incidents"].get(incident_id)
        if inc is None:
            raise MtpError(404, "NotFound", f"Incident {incident_id} was not found.")
        _mtp_patch(inc, body, claims)
        state.stats.incr("incidents.patch")
        state.stats.incr("incidents.writes")
        out = {"@odata.context": "https://api.security.microsoft.com/api/$metadata#Incidents/$entity"}
        out.update(inc_mod.mtp_incident(inc))
    return jsonify(out)


# --- control plane ----------------------------------------------------------------------------------

def control_incidents_advance(state):
    data = _control_body()
    tenant = _tenant_from_body(state, data)
    try:
        new, update = int(data.get("new", 1)), int(data.get("update", 1))
    except (TypeError, ValueError):
        raise MtpError(400, "BadRequest", "'new' and 'update' must be integers.") from None
    with state.lock:
        tdata = tenant_data(state, tenant)
        changes = tdata["incidents"].advance(new=new, update=update)
        tdata["engine"].add_alerts([a for i in changes["created"] for a in i["alerts"]])
    return jsonify({"tenant": tenant.id, "created": [i["id"] for i in changes["created"]],
                    "updated": [i["id"] for i in changes["updated"]]})


def _ctl_view(state):
    ctl = controls(state)
    engines = {tid: {"rows_per_table": d["engine"].rows, "built": d["engine"]._con is not None,
                     "build_seconds": round(d["engine"].build_seconds, 3), "anchor": d["anchor"].isoformat()}
               for tid, d in state.extras.get("defender", {}).items()}
    return {"timeout_next": ctl["timeout_next"], "cpu_quota": ctl["cpu_until"] > time.time(),
            "cpu_until": ctl["cpu_until"] or None, "retired": ctl["retired"],
            "row_limit": int(setting(state, "row_limit", "hunting_row_limit", ROW_LIMIT)),
            "result_bytes": int(setting(state, "result_bytes", "hunting_result_bytes", RESULT_BYTES)),
            "int64_annotations": bool(setting(state, "int64_annotations", "graph_int64_annotations", True)),
            "tenants": engines}


def control_hunting_get(state):
    return jsonify(_ctl_view(state))


def control_hunting_timeout(state):
    data = _control_body()
    count = data.get("count", 1)
    if not isinstance(count, int) or count < 0:
        raise MtpError(400, "BadRequest", "'count' must be an integer >= 0.")
    controls(state)["timeout_next"] = count
    return jsonify(_ctl_view(state))


def control_hunting_cpu(state):
    data = _control_body()
    ctl = controls(state)
    if data.get("enabled", True):
        now = time.time()
        ctl["cpu_until"] = (math.floor(now / 900) + 1) * 900.0
    else:
        ctl["cpu_until"] = 0.0
    return jsonify(_ctl_view(state))


def control_hunting_retired(state):
    data = _control_body()
    controls(state)["retired"] = bool(data.get("enabled", True))
    return jsonify(_ctl_view(state))


def control_hunting_config(state):
    data = _control_body()
    ctl = controls(state)
    for key in data:
        if key not in ("row_limit", "result_bytes", "int64_annotations"):
            raise MtpError(400, "BadRequest", f"Unknown hunting setting '{key}'. Known: row_limit, "
                           "result_bytes, int64_annotations.")
    for key in ("row_limit", "result_bytes"):
        if key in data:
            if data[key] is not None and (not isinstance(data[key], int) or data[key] < 1):
                raise MtpError(400, "BadRequest", f"'{key}' must be a positive integer or null.")
            ctl[key] = data[key]
    if "int64_annotations" in data:
        ctl["int64_annotations"] = None if data["int64_annotations"] is None else bool(data["int64_annotations"])
    return jsonify(_ctl_view(state))


# --- MDE alerts (GET /api/alerts, GET|PATCH /api/alerts/{id}) ------------------------------------------------

MDE_ALERT_READ = (("Alert.Read.All", "Alert.ReadWrite.All"), ("Alert.Read", "Alert.ReadWrite"))
MDE_ALERT_WRITE = (("Alert.ReadWrite.All",), ("Alert.ReadWrite",))
MDE_ALERT_FIELDS = {"alertCreationTime": "created", "lastUpdateTime": "updated", "incidentId": "incidentId",
                    "status": "status", "severity": "severity", "assignedTo": "assignedTo", "category": "category",
                    "id": "id"}
MDE_TOP_MAX = 10000
MDE_CONTEXT = "https://api.securitycenter.microsoft.com/api/$metadata#Alerts"


def mde_alert(a: dict, tenant_id: str, evidence: bool = False) -> dict:
    """An alert in the MDE shape (PascalCase enums; only Defender for Endpoint alerts reach this API)."""
    machine = next((e for e in a["evidence"] if e["EntityType"] == "Machine"), {})
    out = {
        "id": a["id"], "incidentId": a["incidentId"], "investigationId": None, "assignedTo": a["assignedTo"],
        "severity": inc_mod.SEVERITY[a["severity"]], "status": inc_mod.ALERT_STATUS[a["status"]],
        "classification": inc_mod.CLASSIFICATION[a["classification"]] if a["classification"] else None,
        "determination": inc_mod.DETERMINATION[a["determination"]] if a["determination"] else None,
        "investigationState": "UnsupportedAlertType", "detectionSource": a["detectionSource"],
        "detectorId": None, "category": a["category"], "threatFamilyName": a["threatFamilyName"],
        "title": a["title"], "description": a["description"], "alertCreationTime": inc_mod.fmt_time(a["created"]),
        "firstEventTime": inc_mod.fmt_time(a["firstActivity"]), "lastEventTime": inc_mod.fmt_time(a["lastActivity"]),
        "lastUpdateTime": inc_mod.fmt_time(a["updated"]), "resolvedTime": inc_mod.fmt_time(a["resolved"]),
        "machineId": machine.get("DeviceId"), "computerDnsName": machine.get("DeviceName"),
        "rbacGroupName": "UnassignedGroup", "aadTenantId": tenant_id, "threatName": a["threatFamilyName"],
        "mitreTechniques": list(a["mitreTechniques"]),
        "comments": [{"comment": c["comment"], "createdBy": c["createdBy"],
                      "createdTime": inc_mod.fmt_time(c["createdTime"])} for c in a["comments"]],
    }
    if evidence:
        out["evidence"] = [inc_mod._entity(e) for e in a["evidence"] if e["EntityType"] != "Machine"]
    return out


def _mde_alerts(state, tenant) -> list[dict]:
    store = tenant_data(state, tenant)["incidents"]
    alerts = [a for a in store.all_alerts() if a["serviceSource"] == "microsoftDefenderForEndpoint"]
    return sorted(alerts, key=lambda a: (a["created"], a["id"]), reverse=True)


def _mde_expand() -> bool:
    raw = request.args.get("$expand")
    if raw is not None and raw.strip().lower() != "evidence":
        raise MtpError(400, "ODataError", f"Could not find a property named '{raw}' on type 'Alert'.")
    return raw is not None


def mde_alerts_list(state):
    tenant, _ = authorize(state, "mde", MDE_AUDIENCES, *MDE_ALERT_READ)
    check_quota(state, tenant, "mde.alerts", "mde")
    top = min(int_param("$top", MDE_TOP_MAX, "mde"), MDE_TOP_MAX)
    skip = int_param("$skip", 0, "mde")
    expand = _mde_expand()
    enums = {"status": inc_mod.ALERT_STATUS, "severity": inc_mod.SEVERITY}
    items = filter_incidents(_mde_alerts(state, tenant), request.args.get("$filter"), MDE_ALERT_FIELDS, "mde", enums)
    items = order_items(items, request.args.get("$orderby"), MDE_ALERT_FIELDS, "mde")
    state.stats.incr("alerts.list")
    return jsonify({"@odata.context": MDE_CONTEXT,
                    "value": [mde_alert(a, tenant.id, expand) for a in items[skip:skip + top]]})


def _mde_alert(state, tenant, alert_id) -> dict:
    alert = next((a for a in _mde_alerts(state, tenant) if a["id"] == alert_id), None)
    if alert is None:
        raise MtpError(404, "NotFound", f"Alert {alert_id} was not found.")
    return alert


def mde_alert_get(state, alert_id):
    tenant, _ = authorize(state, "mde", MDE_AUDIENCES, *MDE_ALERT_READ)
    check_quota(state, tenant, "mde.alerts", "mde")
    body = {"@odata.context": f"{MDE_CONTEXT}/$entity"}
    body.update(mde_alert(_mde_alert(state, tenant, alert_id), tenant.id, _mde_expand()))
    return jsonify(body)


def mde_alert_patch(state, alert_id):
    """``status`` (New, InProgress, Resolved), ``assignedTo``, ``classification``, ``determination``, ``comment``
    (appended on every call); any casing in, PascalCase out; anything else is a 400."""
    tenant, claims = authorize(state, "mde", MDE_AUDIENCES, *MDE_ALERT_WRITE)
    check_quota(state, tenant, "mde.alerts", "mde")
    body = _control_body()
    unknown = sorted(k for k in body if k not in ("status", "assignedTo", "classification", "determination",
                                                 "comment"))
    if unknown or not body:
        raise MtpError(400, "InvalidRequestBody", f"Unknown or missing alert properties: {', '.join(unknown)}."
                       if unknown else "The request body must name at least one property.")
    with state.lock:
        alert = _mde_alert(state, tenant, alert_id)
        work = dict(alert)
        try:
            inc_mod.apply_update(work, {k: v for k, v in body.items() if k != "comment"}, inc_mod.ALERT_STATUS,
                                 "-no-tags-")
            if "comment" in body and (not isinstance(body["comment"], str) or not body["comment"]):
                raise inc_mod.InvalidValue("comment must be a non-empty string.")
        except inc_mod.InvalidValue as exc:
            raise MtpError(400, "InvalidRequestBody", str(exc)) from None
        now = dt.datetime.now(UTC)
        alert.update({k: work[k] for k in ("status", "assignedTo", "classification", "determination")})
        if body.get("comment"):
            alert["comments"].append({"comment": body["comment"], "createdBy": actor(claims), "createdTime": now})
        alert["updated"] = now
        alert["resolved"] = now if alert["status"] == "resolved" else None
        incident = tenant_data(state, tenant)["incidents"].get(alert["incidentId"])
        if incident is not None:
            incident["updated"] = now
        state.stats.incr("alerts.patch")
        state.stats.incr("incidents.writes")
        out = {"@odata.context": f"{MDE_CONTEXT}/$entity"}
        out.update(mde_alert(alert, tenant.id))
    return jsonify(out)


ROUTES = (
    Route("/api/advancedhunting/run", ("POST",), mtp_hunting),
    Route("/api/advancedqueries/run", ("POST",), mde_hunting),
    Route("/api/incidents", ("GET",), mtp_incidents_list),
    Route("/api/incidents/<incident_id>", ("GET",), mtp_incident_get),
    Route("/api/incidents/<incident_id>", ("PATCH",), mtp_incident_patch),
    Route("/_emulator/incidents/advance", ("POST",), control_incidents_advance),
    Route("/api/alerts", ("GET",), mde_alerts_list),
    Route("/api/alerts/<alert_id>", ("GET",), mde_alert_get),
    Route("/api/alerts/<alert_id>", ("PATCH",), mde_alert_patch),
    Route("/_emulator/hunting", ("GET",), control_hunting_get),
    Route("/_emulator/hunting/timeout", ("POST",), control_hunting_timeout),
    Route("/_emulator/hunting/cpu_quota", ("POST",), control_hunting_cpu),
    Route("/_emulator/hunting/retired", ("POST",), control_hunting_retired),
    Route("/_emulator/hunting/config", ("PATCH",), control_hunting_config),
)


def register(app: Flask, state) -> None:
    add_routes(app, state, ROUTES)
