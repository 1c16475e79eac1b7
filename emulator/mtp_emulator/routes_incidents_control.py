"""Control plane of the incident store: make a tenant's incidents and alerts move over time.

| route | body | what |
|---|---|---|
| ``GET /_emulator/incidents`` | ``?tenant=`` | counts by status, the next id, the switches |
| ``POST /_emulator/incidents`` | an ``incidents`` data-document entry | 201, the new incident (Graph shape) |
| ``PATCH /_emulator/incidents/<id>`` | ``status``, ``severity``, ``assignedTo``, ``tags``, ... | bumps lastUpdate |
| ``POST /_emulator/incidents/<id>/alerts`` | ``{"alerts": [...]}`` | 201, new alerts on the incident |
| ``POST /_emulator/incidents/merge`` | ``{"sources": [ids], "target": id}`` | sources become redirected |
| ``POST /_emulator/incidents/generate`` | ``{"count", "start", "end", "ties", "huntable"}`` | 201, bulk incidents |
| ``GET / PATCH /_emulator/incidents/config`` | ``expand_alerts_error``, ``deep_skip_after`` | failure switches |
| ``POST /_emulator/incidents/advance`` | ``{"new", "update"}`` | (routes_defender.py) new incidents / updates |

Every body may name a ``tenant`` (id or domain; ``?tenant=`` too), default the first one. Bad input is a 400
in the MTP error shape naming the field; nothing changes then. Switches live in ``state.extras`` so
``POST /_emulator/reset`` clears them. Control calls are not API writes: they never count in the
``incidents.writes`` statistic.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from flask import Flask, jsonify, request

from . import incidents as inc_mod
from . import incidents_changes as changes
from . import incidents_userdata as userdata_mod
from .app import Route, add_routes
from .errors import GraphError, MtpError
from .hunting import tenant_data

UTC = dt.timezone.utc
CTL_KEY = "incidents_ctl"
EXPAND_MODES = (None, "filter", "always")


def incident_controls(state) -> dict:
    with state.lock:
        return state.extras.setdefault(CTL_KEY, {"expand_alerts_error": None, "deep_skip_after": None})


def expand_fault(state, filtered: bool) -> None:
    """``$expand=alerts`` answers 500 when the switch says so (elastic/integrations#18144, in
    docs/developer/reference/defender-api.md §4.4: ``filter`` = only together with ``$filter``)."""
    mode = incident_controls(state)["expand_alerts_error"]
    if mode == "always" or (mode == "filter" and filtered):
        state.stats.incr("incidents.expand_failed")
        raise GraphError(500, "UnknownError", "An error has occurred.")


def deep_skip_fault(state, skip: int, api: str) -> None:
    """A ``$skip`` beyond ``deep_skip_after`` answers 504, the stall of deep paging (§4.4)."""
    limit = incident_controls(state)["deep_skip_after"]
    if limit is not None and skip > limit:
        state.stats.incr("incidents.deep_skip_failed")
        message = "The operation has timed out."
        if api == "graph":
            raise GraphError(504, "GatewayTimeout", message)
        raise MtpError(504, "GatewayTimeout", message)


def _body() -> dict:
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


def _tenant(state, data: dict):
    key = request.args.get("tenant") or data.get("tenant")
    tenant = state.tenant(str(key)) if key else next(iter(state.tenants.values()), None)
    if tenant is None:
        raise MtpError(404, "NotFound", f"Tenant '{key}' not found.")
    return tenant


def _bad(exc: Exception) -> MtpError:
    return MtpError(400, "InvalidRequestBody", str(exc))


def _find(store, incident_id):
    inc = store.get(incident_id)
    if inc is None:
        raise MtpError(404, "NotFound", f"Incident {incident_id} was not found.")
    return inc


def _huntable(tdata: dict, alerts: list[dict]) -> None:
    tdata["engine"].add_alerts([a for a in alerts if not a.get("_bulk")])


def _view(state, tenant) -> dict:
    store = tenant_data(state, tenant)["incidents"]
    by_status: dict = {}
    for inc in store.incidents:
        by_status[inc["status"]] = by_status.get(inc["status"], 0) + 1
    return {"tenant": tenant.id, "count": len(store.incidents), "alerts": len(store.all_alerts()),
            "by_status": by_status, "next_id": store.next_id, "config": dict(incident_controls(state))}


def control_incidents_get(state):
    return jsonify(_view(state, _tenant(state, {})))


def control_incident_create(state):
    data = _body()
    tenant = _tenant(state, data)
    spec = {k: v for k, v in data.items() if k != "tenant"}
    try:
        valid = userdata_mod.validate_user_incident(spec, dt.datetime.now(UTC), "incident", tenant.id)
    except ValueError as exc:
        raise _bad(exc) from None
    with state.lock:
        tdata = tenant_data(state, tenant)
        try:
            inc = tdata["incidents"].add_user_incident(valid)
        except ValueError as exc:
            raise _bad(exc) from None
        _huntable(tdata, inc["alerts"])
        out = {"tenant": tenant.id, "id": inc["id"], "alertIds": [a["id"] for a in inc["alerts"]],
               "incident": inc_mod.graph_incident(inc, tenant.id, expand_alerts=True)}
    return jsonify(out), 201


def control_incident_update(state, incident_id):
    data = _body()
    tenant = _tenant(state, data)
    with state.lock:
        inc = _find(tenant_data(state, tenant)["incidents"], incident_id)
        try:
            changes.update_incident(inc, data)
        except ValueError as exc:
            raise _bad(exc) from None
        out = {"tenant": tenant.id, "id": inc["id"], "incident": inc_mod.graph_incident(inc, tenant.id)}
    return jsonify(out)


def control_incident_alerts(state, incident_id):
    data = _body()
    tenant = _tenant(state, data)
    with state.lock:
        tdata = tenant_data(state, tenant)
        inc = _find(tdata["incidents"], incident_id)
        try:
            specs = userdata_mod.validate_user_alerts(data.get("alerts"), {"severity": inc["severity"],
                                                                           "created": "now"},
                                                      dt.datetime.now(UTC), "alerts", tenant.id)
            alerts = changes.add_alerts(tdata["incidents"], inc, specs)
        except ValueError as exc:
            raise _bad(exc) from None
        _huntable(tdata, alerts)
    return jsonify({"tenant": tenant.id, "id": inc["id"], "alertIds": [a["id"] for a in alerts]}), 201


def control_incidents_merge(state):
    data = _body()
    tenant = _tenant(state, data)
    sources = data.get("sources", [data["source"]] if "source" in data else None)
    if "target" not in data:
        raise MtpError(400, "InvalidRequestBody", "'target' (the incident to merge into) is required.")
    with state.lock:
        store = tenant_data(state, tenant)["incidents"]
        try:
            result = changes.merge_incidents(store, sources, data["target"])
        except ValueError as exc:
            raise _bad(exc) from None
        target = result["target"]
        out = {"tenant": tenant.id, "target": target["id"], "sources": [s["id"] for s in result["sources"]],
               "alertIds": [a["id"] for a in target["alerts"]]}
    return jsonify(out)


def control_incidents_generate(state):
    from .hunting.userdata import parse_time

    data = _body()
    tenant = _tenant(state, data)
    now = dt.datetime.now(UTC)
    try:
        start = parse_time(data.get("start", "-30d"), now, "start")
        end = parse_time(data.get("end", "now"), now, "end")
        started = time.perf_counter()
        with state.lock:
            tdata = tenant_data(state, tenant)
            made = changes.generate(tdata["incidents"], data.get("count", 100), start, end,
                                    ties=data.get("ties", 1), huntable=bool(data.get("huntable", False)))
            _huntable(tdata, [a for inc in made for a in inc["alerts"]])
    except ValueError as exc:
        raise _bad(exc) from None
    return jsonify({"tenant": tenant.id, "count": len(made), "first": made[0]["id"], "last": made[-1]["id"],
                    "oldest": inc_mod.fmt_time(made[0]["created"]), "newest": inc_mod.fmt_time(made[-1]["created"]),
                    "seconds": round(time.perf_counter() - started, 3)}), 201


def control_incidents_config(state):
    ctl = incident_controls(state)
    if request.method == "PATCH":
        data = _body()
        for key in data:
            if key not in ctl:
                raise MtpError(400, "BadRequest", f"Unknown incidents setting '{key}'. Known: {', '.join(ctl)}.")
        if "expand_alerts_error" in data and data["expand_alerts_error"] not in EXPAND_MODES:
            raise MtpError(400, "BadRequest", "'expand_alerts_error' must be null, 'filter' or 'always'.")
        skip = data.get("deep_skip_after")
        if skip is not None and (not isinstance(skip, int) or isinstance(skip, bool) or skip < 0):
            raise MtpError(400, "BadRequest", "'deep_skip_after' must be an integer >= 0 or null.")
        with state.lock:
            ctl.update(data)
    return jsonify(dict(ctl))


ROUTES = (
    Route("/_emulator/incidents", ("GET",), control_incidents_get),
    Route("/_emulator/incidents", ("POST",), control_incident_create),
    Route("/_emulator/incidents/config", ("GET", "PATCH"), control_incidents_config),
    Route("/_emulator/incidents/merge", ("POST",), control_incidents_merge),
    Route("/_emulator/incidents/generate", ("POST",), control_incidents_generate),
    Route("/_emulator/incidents/<incident_id>", ("PATCH",), control_incident_update),
    Route("/_emulator/incidents/<incident_id>/alerts", ("POST",), control_incident_alerts),
)


def register(app: Flask, state) -> None:
    add_routes(app, state, ROUTES)
