"""Microsoft Graph security API (``graph.microsoft.com/v1.0/security/...``): hunting, incidents, alerts_v2.

| route | what |
|---|---|
| ``POST /v1.0/security/runHuntingQuery`` | ``Query``/``query``, ``Timespan``/``timespan`` (every §2.2 form) |
| ``POST /v1.0/security/microsoft.graph.security.runHuntingQuery`` | the same, namespace-qualified (msgraph-sdk) |
| ``GET /v1.0/security/incidents`` | ``$filter``, ``$top`` <= 50 (exact 400), ``$skip``, ``$count``, ``$expand`` |
| ``GET / PATCH /v1.0/security/incidents/{id}`` | camelCase enums (any casing accepted on input) |
| ``POST /v1.0/security/incidents/{id}/comments`` | appends; returns the comment list |
| ``GET /v1.0/security/alerts_v2``, ``GET / PATCH …/alerts_v2/{id}`` | ``$filter`` (+ ``incidentId``), ``$top``, ``$skip`` |
| ``POST /v1.0/security/alerts_v2/{id}/comments`` | appends; returns the alert's comment list |

Switches (routes_incidents_control.py): ``$expand=alerts`` can answer 500, a deep ``$skip`` 504. Every successful
write (PATCH, comment POST) adds one to the ``incidents.writes`` counter of ``GET /_emulator/stats``.

Every route is a flat function ``view(state, **url_values)`` in :data:`ROUTES`; quotas: :mod:`mtp_emulator.quotas`.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from flask import Flask, jsonify, request

from . import incidents as inc_mod
from .app import Route, add_routes
from .errors import GraphError
from .hunting import tenant_data
from .quotas import check_quota
from .routes_defender import (GRAPH_AUDIENCES, actor, authorize, filter_incidents, int_param, order_items, page_links,
                              run_hunting, setting, sorted_incidents)
from .routes_incidents_control import deep_skip_fault, expand_fault

UTC = dt.timezone.utc
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults"
GRAPH_TOP_MAX = 50
ALERTS_TOP_MAX = 2000

HUNT = (("ThreatHunting.Read.All",), ("ThreatHunting.Read.All",))
INC_READ = (("SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"),
            ("SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"))
INC_WRITE = (("SecurityIncident.ReadWrite.All",), ("SecurityIncident.ReadWrite.All",))
ALERT_READ = (("SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"),
              ("SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"))
ALERT_WRITE = (("SecurityAlert.ReadWrite.All",), ("SecurityAlert.ReadWrite.All",))

INCIDENT_FIELDS = {"assignedTo": "assignedTo", "classification": "classification", "createdDateTime": "created",
                   "determination": "determination", "lastUpdateDateTime": "updated", "severity": "severity",
                   "status": "status"}
ALERT_FIELDS = dict(INCIDENT_FIELDS, serviceSource="serviceSource", incidentId="incidentId")
INCIDENT_STATUS = {k: k for k in list(inc_mod.STATUS) + list(inc_mod.GRAPH_STATUS_EXTRA)}
ENUMS = {"status": inc_mod.STATUS, "severity": inc_mod.SEVERITY, "classification": inc_mod.CLASSIFICATION,
         "determination": inc_mod.DETERMINATION, "serviceSource": {k: v[0] for k, v in inc_mod.SERVICE_SOURCES.items()}}

# --- Timespan ---------------------------------------------------------------------------------------------

_DURATION = re.compile(r"^P(?!$)(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
                       r"(?:T(?=\d)(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.I)


def parse_duration(text: str) -> dt.timedelta | None:
    m = _DURATION.match(text.strip())
    if not m:
        return None
    y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return dt.timedelta(days=365 * y + 30 * mo + 7 * w + d, hours=h, minutes=mi, seconds=s)


def _parse_instant(text: str) -> dt.datetime | None:
    try:
        return inc_mod.parse_time(text)
    except inc_mod.InvalidValue:
        return None


def parse_timespan(text: str, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """Every §2.2 form: start/end, duration/end, start/duration, duration, start. Raises ValueError."""
    now = now or dt.datetime.now(UTC)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(text)
    parts = text.strip().split("/")
    if len(parts) == 1:
        dur = parse_duration(parts[0])
        if dur is not None:
            return now - dur, now
        start = _parse_instant(parts[0])
        if start is not None:
            return start, now
        raise ValueError(text)
    if len(parts) != 2:
        raise ValueError(text)
    a, b = parts
    a_dur, b_dur = parse_duration(a), parse_duration(b)
    a_ts, b_ts = _parse_instant(a), _parse_instant(b)
    if a_ts and b_ts:
        start, end = a_ts, b_ts
    elif a_dur is not None and b_ts:
        start, end = b_ts - a_dur, b_ts
    elif a_ts and b_dur is not None:
        start, end = a_ts, a_ts + b_dur
    else:
        raise ValueError(text)
    if end < start:
        raise ValueError(text)
    return start, end


def _json_body() -> dict:
    raw = request.get_data(cache=True, as_text=True)
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                         "header is set and payload is of valid JSON format.") from None
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    return body


def _top(default: int, maximum: int, strict: bool) -> int:
    value = int_param("$top", default, "graph")
    if value > maximum:
        if strict:
            raise GraphError(400, "", "The query specified in the URI is not valid. The limit of "
                             f"'{maximum}' for Top query has been exceeded. The value from the incoming request is "
                             f"'{request.args.get('$top')}'.", details=[])
        value = maximum
    return value


def _skip() -> int:
    return int_param("$skip", 0, "graph")


def _expand_alerts() -> bool:
    raw = request.args.get("$expand")
    if raw is None:
        return False
    if raw.strip().lower() != "alerts":
        raise GraphError(400, "BadRequest", f"Could not find a property named '{raw}' on type "
                         "'microsoft.graph.security.incident'.")
    return True


def _graph_update(target: dict, body: dict, allowed: dict, status_enum: dict) -> None:
    """Apply a Graph PATCH to a canonical incident or alert; unknown keys -> 400."""
    try:
        for key in body:
            if key not in allowed and key != "@odata.type":
                raise inc_mod.InvalidValue(f"Property '{key}' does not exist or is not writable.")
        inc_mod.apply_update(target, body, status_enum, "customTags")
        for key in ("resolvingComment", "summary", "description"):
            if key in body:
                target[key] = body[key]
    except inc_mod.InvalidValue as exc:
        raise GraphError(400, "BadRequest", str(exc)) from None


def graph_hunting(state):
    tenant, _ = authorize(state, "graph", GRAPH_AUDIENCES, *HUNT)
    check_quota(state, tenant, "hunting", "graph")
    body = _json_body()
    query = body.get("Query", body.get("query"))
    if not isinstance(query, str) or not query.strip():
        raise GraphError(400, "BadRequest", "Missing query.")
    span = body.get("Timespan", body.get("timespan"))
    window = None
    if span is not None:
        try:
            window = parse_timespan(span)
        except ValueError:
            raise GraphError(400, "BadRequest", f"Invalid timespan '{span}'. Use an ISO 8601 duration or "
                             "interval, e.g. 'P30D' or '2024-02-01T08:00:00Z/2024-02-15T08:00:00Z'.") from None
    result = run_hunting(state, tenant, query, "graph", window=window)
    annotate = bool(setting(state, "int64_annotations", "graph_int64_annotations", True))
    longs = [n for n, t, _ in result["columns"] if t == "Int64"] if annotate else []
    rows = result["rows"]
    if longs:
        out_rows = []
        for row in rows:
            new = {}
            for k, v in row.items():
                if k in longs:
                    new[f"{k}@odata.type"] = "#Int64"
                new[k] = v
            out_rows.append(new)
        rows = out_rows
    return jsonify({"@odata.context": CONTEXT,
                    "schema": [{"name": n, "type": t} for n, t, _ in result["columns"]],
                    "results": rows})


# --- incidents --------------------------------------------------------------------------------------
def graph_incidents_list(state):
    tenant, _ = authorize(state, "graph", GRAPH_AUDIENCES, *INC_READ)
    check_quota(state, tenant, "graph.security", "graph")
    top = _top(GRAPH_TOP_MAX, GRAPH_TOP_MAX, strict=True)
    skip = _skip()
    expand = _expand_alerts()
    flt = request.args.get("$filter")
    if expand:
        expand_fault(state, bool(flt))
    deep_skip_fault(state, skip, "graph")
    store = tenant_data(state, tenant)["incidents"]
    items = filter_incidents(sorted_incidents(store), flt, INCIDENT_FIELDS, "graph",
                             dict(ENUMS, status=INCIDENT_STATUS))
    items = order_items(items, request.args.get("$orderby"), INCIDENT_FIELDS | {"id": "id"}, "graph")
    page = items[skip:skip + top]
    state.stats.incr("incidents.list")
    body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/incidents"}
    if request.args.get("$count", "").lower() == "true":
        body["@odata.count"] = len(items)
    body["value"] = [inc_mod.graph_incident(i, tenant.id, expand) for i in page]
    link = page_links("/v1.0/security/incidents", top, skip, len(items),
                      {"$filter": flt, "$expand": request.args.get("$expand"),
                       "$count": request.args.get("$count"), "$orderby": request.args.get("$orderby")})
    if link:
        body["@odata.nextLink"] = link
    return jsonify(body)


def _incident(state, tenant, incident_id):
    inc = tenant_data(state, tenant)["incidents"].get(incident_id)
    if inc is None:
        raise GraphError(404, "NotFound", f"Incident with id {incident_id} was not found.")
    return inc


def graph_incident_get(state, incident_id):
    tenant, _ = authorize(state, "graph", GRAPH_AUDIENCES, *INC_READ)
    check_quota(state, tenant, "graph.security", "graph")
    inc = _incident(state, tenant, incident_id)
    expand = _expand_alerts()
    if expand:
        expand_fault(state, False)
    state.stats.incr("incidents.get")
    body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/incidents/$entity"}
    body.update(inc_mod.graph_incident(inc, tenant.id, expand))
    return jsonify(body)


def graph_incident_patch(state, incident_id):
    tenant, claims = authorize(state, "graph", GRAPH_AUDIENCES, *INC_WRITE)
    check_quota(state, tenant, "graph.security", "graph")
    body = _json_body()
    with state.lock:
        inc = _incident(state, tenant, incident_id)
        allowed = {"status", "assignedTo", "classification", "determination", "customTags", "resolvingComment",
                   "summary", "description"}
        _graph_update(inc, body, dict.fromkeys(allowed), INCIDENT_STATUS)
        inc["updated"] = dt.datetime.now(UTC)
        inc["lastModifiedBy"] = actor(claims)
        state.stats.incr("incidents.patch")
        state.stats.incr("incidents.writes")
        out = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/incidents/$entity"}
        out.update(inc_mod.graph_incident(inc, tenant.id))
    return jsonify(out)


def _post_comment(state, write_perms, find, key: str, stat: str, render):
    """``POST …/comments`` on an incident or an alert: the full comment list, in Graph's shape."""
    tenant, claims = authorize(state, "graph", GRAPH_AUDIENCES, *write_perms)
    check_quota(state, tenant, "graph.security", "graph")
    body = _json_body()
    comment = body.get("comment")
    if not isinstance(comment, str) or not comment:
        raise GraphError(400, "BadRequest", "The comment property is required.")
    with state.lock:
        target = find(state, tenant, key)
        now = dt.datetime.now(UTC)
        target["comments"].append({"comment": comment, "createdBy": actor(claims), "createdTime": now})
        target["updated"] = now
        state.stats.incr(stat)
        state.stats.incr("incidents.writes")
        value = render(target, tenant.id)["comments"]
    return jsonify({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#"
                    "Collection(microsoft.graph.security.alertComment)", "value": value})


def graph_incident_comment(state, incident_id):
    return _post_comment(state, INC_WRITE, _incident, incident_id, "incidents.comment", inc_mod.graph_incident)


# --- alerts_v2 --------------------------------------------------------------------------------------
def graph_alerts_list(state):
    tenant, _ = authorize(state, "graph", GRAPH_AUDIENCES, *ALERT_READ)
    check_quota(state, tenant, "graph.security", "graph")
    top = _top(ALERTS_TOP_MAX, ALERTS_TOP_MAX, strict=False)
    skip = _skip()
    deep_skip_fault(state, skip, "graph")
    flt = request.args.get("$filter")
    store = tenant_data(state, tenant)["incidents"]
    alerts = sorted(store.all_alerts(), key=lambda a: (a["created"], a["id"]), reverse=True)
    items = filter_incidents(alerts, flt, ALERT_FIELDS, "graph", dict(ENUMS, status=inc_mod.ALERT_STATUS))
    items = order_items(items, request.args.get("$orderby"), ALERT_FIELDS, "graph")
    page = items[skip:skip + top]
    state.stats.incr("alerts.list")
    body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2"}
    if request.args.get("$count", "").lower() == "true":
        body["@odata.count"] = len(items)
    body["value"] = [inc_mod.graph_alert(a, tenant.id) for a in page]
    link = page_links("/v1.0/security/alerts_v2", top, skip, len(items),
                      {"$filter": flt, "$orderby": request.args.get("$orderby")})
    if link:
        body["@odata.nextLink"] = link
    return jsonify(body)


def _alert(state, tenant, alert_id):
    alert = tenant_data(state, tenant)["incidents"].get_alert(alert_id)
    if alert is None:
        raise GraphError(404, "NotFound", f"Alert with id {alert_id} was not found.")
    return alert


def graph_alert_get(state, alert_id):
    tenant, _ = authorize(state, "graph", GRAPH_AUDIENCES, *ALERT_READ)
    check_quota(state, tenant, "graph.security", "graph")
    body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2/$entity"}
    body.update(inc_mod.graph_alert(_alert(state, tenant, alert_id), tenant.id))
    return jsonify(body)


def graph_alert_patch(state, alert_id):
    tenant, _ = authorize(state, "graph", GRAPH_AUDIENCES, *ALERT_WRITE)
    check_quota(state, tenant, "graph.security", "graph")
    body = _json_body()
    with state.lock:
        alert = _alert(state, tenant, alert_id)
        _graph_update(alert, body, dict.fromkeys({"status", "assignedTo", "classification", "determination"}),
                      inc_mod.ALERT_STATUS)
        now = dt.datetime.now(UTC)
        alert["updated"] = now
        alert["resolved"] = now if alert["status"] == "resolved" else None
        incident = tenant_data(state, tenant)["incidents"].get(alert["incidentId"])
        if incident is not None:
            incident["updated"] = now
        state.stats.incr("alerts.patch")
        state.stats.incr("incidents.writes")
        out = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2/$entity"}
        out.update(inc_mod.graph_alert(alert, tenant.id))
    return jsonify(out)


def graph_alert_comment(state, alert_id):
    return _post_comment(state, ALERT_WRITE, _alert, alert_id, "alerts.comment", inc_mod.graph_alert)


ROUTES = (
    Route("/v1.0/security/runHuntingQuery", ("POST",), graph_hunting),
    Route("/v1.0/security/microsoft.graph.security.runHuntingQuery", ("POST",), graph_hunting),
    Route("/v1.0/security/incidents", ("GET",), graph_incidents_list),
    Route("/v1.0/security/incidents/<incident_id>", ("GET",), graph_incident_get),
    Route("/v1.0/security/incidents/<incident_id>", ("PATCH",), graph_incident_patch),
    Route("/v1.0/security/incidents/<incident_id>/comments", ("POST",), graph_incident_comment),
    Route("/v1.0/security/alerts_v2", ("GET",), graph_alerts_list),
    Route("/v1.0/security/alerts_v2/<alert_id>", ("GET",), graph_alert_get),
    Route("/v1.0/security/alerts_v2/<alert_id>", ("PATCH",), graph_alert_patch),
    Route("/v1.0/security/alerts_v2/<alert_id>/comments", ("POST",), graph_alert_comment),
)


def register(app: Flask, state) -> None:
    add_routes(app, state, ROUTES)
