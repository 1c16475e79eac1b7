"""Microsoft Graph custom detection rules (``/beta|v1.0/security/rules/detectionRules``), schema generation A.

| route | what |
|---|---|
| ``GET …/security/rules/detectionRules`` | every rule, pages of ``page_size`` with ``@odata.nextLink`` |
| ``POST …/security/rules/detectionRules`` | 201 + the rule (``id``, ``detectorId``, ``nextRunDateTime``) |
| ``GET / PATCH / DELETE …/detectionRules/{id}`` | 200 / 200 + the full rule (400 for read-only keys) / 204; 404 |
| ``GET / PATCH /_emulator/detection_rules`` | ``{"tenant"?, "page_size", "unavailable"}`` |
| ``POST /_emulator/detection_rules/run`` | ``{"tenant"?, "id"?, "status"?}``: a simulated run (``autoDisabled`` injectable) |

Contract: docs/developer/reference/response-and-content.md §5 and §8. Validation runs the query through the
hunting engine (required columns ``Timestamp``, ``ReportId`` and an entity column; identifiers must be
returned columns). Tenants of the ``gcc_high`` / ``dod`` clouds, requests through a ``*.us`` host, and tenants
switched ``unavailable`` get the 404 of a Graph segment that does not exist. Quotas (unverified figures,
§5.1): list 10/min, create 10/min, get/patch/delete 100/min and 1,500/h.
"""

from __future__ import annotations

import json

from flask import jsonify, request

from . import detection_rules_store as store_mod
from . import quotas
from .app import Route, add_routes, request_cloud
from .errors import GraphError
from .routes_defender import GRAPH_AUDIENCES, actor, authorize


READ = (("CustomDetection.Read.All", "CustomDetection.ReadWrite.All"),
        ("CustomDetection.Read.All", "CustomDetection.ReadWrite.All"))
WRITE = (("CustomDetection.ReadWrite.All",), ("CustomDetection.ReadWrite.All",))
GOV_CLOUDS = ("gcc_high", "dod", "usgov", "china")
_SETTINGS = "detection_rules_ctl"


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


def _unavailable(state, tenant) -> bool:
    switched = state.extras.get(_SETTINGS, {}).get(tenant.id, {}).get("unavailable")
    return bool(switched) or tenant.cloud in GOV_CLOUDS or request_cloud() == "usgov"


def _auth(state, perms, quota: str):
    tenant, claims = authorize(state, "graph", GRAPH_AUDIENCES, *perms)
    if _unavailable(state, tenant):
        raise GraphError(404, "Request_ResourceNotFound", "Resource not found for the segment 'rules'.")
    quotas.check_quota(state, tenant, quota, "graph")
    return tenant, claims


def _context(version: str, entity: bool = False) -> str:
    return f"https://graph.microsoft.com/{version}/$metadata#security/rules/detectionRules" + ("/$entity" if entity else "")


def _rule(state, tenant, rule_id: str) -> dict:
    rule = store_mod.tenant_store(state, tenant)[1]["rules"].get(rule_id)
    if rule is None:
        raise GraphError(404, "NotFound", f"Detection rule with id '{rule_id}' was not found.")
    return rule


def _invalid(exc: store_mod.RuleInvalid) -> GraphError:
    return GraphError(400, "BadRequest", str(exc))


def rules_list(state, version):
    tenant, _ = _auth(state, READ, "detections.list")
    data = store_mod.tenant_store(state, tenant)[1]
    try:
        skip = int(request.args.get("$skip", "0"))
    except ValueError:
        raise GraphError(400, "BadRequest", f"Invalid value '{request.args.get('$skip')}' for $skip.") from None
    with state.lock:
        rules = sorted(data["rules"].values(), key=lambda r: int(r["id"]))
        page = [dict(r) for r in rules[skip:skip + data["page_size"]]]
    body = {"@odata.context": _context(version), "value": page}
    if skip + data["page_size"] < len(rules):
        body["@odata.nextLink"] = (f"{request.host_url.rstrip('/')}/{version}/security/rules/detectionRules"
                                   f"?$skip={skip + data['page_size']}")
    return jsonify(body)


def rule_create(state, version):
    tenant, claims = _auth(state, WRITE, "detections.create")
    body = _json_body()
    with state.lock:
        try:
            rule = store_mod.create(store_mod.tenant_store(state, tenant)[0], body, actor(claims))
        except store_mod.RuleInvalid as exc:
            raise _invalid(exc) from None
        state.stats.incr("detection_rules.created")
        out = dict({"@odata.context": _context(version, True)}, **rule)
    resp = jsonify(out)
    resp.status_code = 201
    resp.headers["Location"] = f"{request.host_url.rstrip('/')}/{version}/security/rules/detectionRules/{rule['id']}"
    return resp


def rule_get(state, version, rule_id):
    tenant, _ = _auth(state, READ, "detections.item")
    with state.lock:
        return jsonify(dict({"@odata.context": _context(version, True)}, **_rule(state, tenant, rule_id)))


def rule_patch(state, version, rule_id):
    tenant, claims = _auth(state, WRITE, "detections.item")
    body = _json_body()
    with state.lock:
        rule = _rule(state, tenant, rule_id)
        try:
            store_mod.update(store_mod.tenant_store(state, tenant)[0], rule, body, actor(claims))
        except store_mod.RuleInvalid as exc:
            raise _invalid(exc) from None
        state.stats.incr("detection_rules.updated")
        return jsonify(dict({"@odata.context": _context(version, True)}, **rule))


def rule_delete(state, version, rule_id):
    tenant, _ = _auth(state, WRITE, "detections.item")
    with state.lock:
        _rule(state, tenant, rule_id)
        del store_mod.tenant_store(state, tenant)[1]["rules"][rule_id]
        state.stats.incr("detection_rules.deleted")
    return "", 204


def _control_tenant(state, data: dict):
    key = data.get("tenant") or request.args.get("tenant")
    tenant = state.tenant(key) if key else next(iter(state.tenants.values()), None)
    if tenant is None:
        raise GraphError(404, "NotFound", f"Tenant '{key}' not found.")
    return tenant


def _control_view(state, tenant) -> dict:
    data = store_mod.tenant_store(state, tenant)[1]
    flags = state.extras.get(_SETTINGS, {}).get(tenant.id, {})
    return {"tenant": tenant.id, "page_size": data["page_size"], "unavailable": bool(flags.get("unavailable")),
            "rules": len(data["rules"])}


def rules_control_get(state):
    return jsonify(_control_view(state, _control_tenant(state, {})))


def rules_control_patch(state):
    data = _json_body()
    tenant = _control_tenant(state, data)
    unknown = sorted(set(data) - {"tenant", "page_size", "unavailable"})
    if unknown:
        raise GraphError(400, "BadRequest", f"Unknown detection-rule setting(s): {', '.join(unknown)}.")
    size = data.get("page_size")
    if "page_size" in data and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise GraphError(400, "BadRequest", "'page_size' must be an integer >= 1.")
    with state.lock:
        if "page_size" in data:
            store_mod.tenant_store(state, tenant)[1]["page_size"] = size
        if "unavailable" in data:
            state.extras.setdefault(_SETTINGS, {}).setdefault(tenant.id, {})["unavailable"] = bool(data["unavailable"])
    return jsonify(_control_view(state, tenant))


def rules_control_run(state):
    data = _json_body() if request.get_data(cache=True).strip() else {}
    tenant = _control_tenant(state, data)
    status = data.get("status", "completed")
    if status not in ("completed", "failed", "autoDisabled"):
        raise GraphError(400, "BadRequest", "'status' must be completed, failed or autoDisabled.")
    with state.lock:
        rules = store_mod.tenant_store(state, tenant)[1]["rules"]
        chosen = [_rule(state, tenant, str(data["id"]))] if data.get("id") else list(rules.values())
        for rule in chosen:
            store_mod.simulate_run(rule, status)
    return jsonify({"tenant": tenant.id, "ran": [r["id"] for r in chosen]})


ROUTES = (
    Route("/<any(beta, 'v1.0'):version>/security/rules/detectionRules", ("GET",), rules_list),
    Route("/<any(beta, 'v1.0'):version>/security/rules/detectionRules", ("POST",), rule_create),
    Route("/<any(beta, 'v1.0'):version>/security/rules/detectionRules/<rule_id>", ("GET",), rule_get),
    Route("/<any(beta, 'v1.0'):version>/security/rules/detectionRules/<rule_id>", ("PATCH",), rule_patch),
    Route("/<any(beta, 'v1.0'):version>/security/rules/detectionRules/<rule_id>", ("DELETE",), rule_delete),
    Route("/_emulator/detection_rules", ("GET",), rules_control_get),
    Route("/_emulator/detection_rules", ("PATCH",), rules_control_patch),
    Route("/_emulator/detection_rules/run", ("POST",), rules_control_run),
)


def register(app, state) -> None:
    add_routes(app, state, ROUTES)
