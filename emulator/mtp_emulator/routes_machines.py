"""MDE machines, machine actions, live response and library files (``api.securitycenter.microsoft.com``).

| route | what |
|---|---|
| ``GET /api/machines`` | ``$filter`` (eq, ne, gt, lt, ge, le, startswith, and), ``$top`` <= 10,000, ``$skip``; 404 when empty |
| ``GET /api/machines/{id}`` | by id or computer name |
| ``POST /api/machines/{id}/tags`` | ``{"Value", "Action": "Add"|"Remove"}`` |
| ``POST /api/machines/{id}/{action}`` | isolate, unisolate, runAntiVirusScan, restrictCodeExecution, unrestrictCodeExecution, collectInvestigationPackage, StopAndQuarantineFile, offboard, runliveresponse (any case) |
| ``GET /api/machineactions[/{id}]`` | ``$filter`` on id, status, machineId, type, requestor, creationDateTimeUtc; newest first |
| ``POST /api/machineactions/{id}/cancel`` | 200 Cancelled; final action 400; unknown 404 |
| ``GET /api/machineactions/{id}/getPackageUri`` | 404 until the collection succeeded |
| ``GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index=N)`` | a 30-minute link |
| ``GET/POST /api/libraryfiles``, ``DELETE /api/libraryfiles/{name}`` | list, multipart upload (20 MB), delete |
| ``GET /_emulator/mde/download/{token}`` | what a download link serves |
| ``GET /_emulator/machines``, ``PATCH /_emulator/machines/config``, ``POST /_emulator/machines/outcome``, ``POST /_emulator/machines/load``, ``POST /_emulator/machines/generate`` | control plane |

Every ``/api`` route is also served under ``/API`` (the live-response page's spelling). Facts:
docs/developer/reference/response-and-content.md §1-§3, §8. The store is ``machines.py``.
"""

from __future__ import annotations

import re
import time

from flask import Flask, Response, jsonify, request

from . import machines as store_mod
from .app import Route, add_routes
from .errors import MtpError
from .graph_odata import split_and
from .quotas import check_quota
from .routes_defender import MDE_AUDIENCES, _control_body, _tenant_from_body, actor, authorize

# The documented limits (§1.1); registered here with the surface that uses them.

READ = ("Machine.Read.All", "Machine.ReadWrite.All")
READ_SCOPES = ("Machine.Read", "Machine.ReadWrite")
# lower-case route segment -> (action type, roles (app = delegated), body key of the scope, its values)
ACTIONS = {
    "isolate": ("Isolate", ("Machine.Isolate",), "IsolationType", ("Full", "Selective", "UnManagedDevice")),
    "unisolate": ("Unisolate", ("Machine.Isolate",), None, None),
    "runantivirusscan": ("RunAntiVirusScan", ("Machine.Scan",), "ScanType", ("Quick", "Full")),
    "restrictcodeexecution": ("RestrictCodeExecution", ("Machine.RestrictExecution",), None, None),
    "unrestrictcodeexecution": ("UnrestrictCodeExecution", ("Machine.RestrictExecution",), None, None),
    "collectinvestigationpackage": ("CollectInvestigationPackage", ("Machine.CollectForensics",), None, None),
    "stopandquarantinefile": ("StopAndQuarantineFile", ("Machine.StopAndQuarantine",), None, None),
    "offboard": ("Offboard", ("Machine.Offboard",), None, None),
    "runliveresponse": ("LiveResponse", ("Machine.LiveResponse",), None, None),
}
ANY_ACTION_ROLES = tuple(sorted({r for _, roles, _, _ in ACTIONS.values() for r in roles}))
MACHINE_FIELDS = ("computerDnsName", "id", "version", "deviceValue", "aadDeviceId", "machineTags", "lastSeen",
                  "exposureLevel", "onboardingStatus", "lastIpAddress", "healthStatus", "osPlatform", "riskScore",
                  "rbacGroupId")
ACTION_FIELDS = ("id", "status", "machineId", "type", "requestor", "creationDateTimeUtc")
TOP_MAX = 10000
LIBRARY_MAX = 20 * 1024 * 1024
SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
LR_ORDER = {"PutFile": 0, "RunScript": 1, "GetFile": 2}
LR_PARAMS = {"PutFile": ({"FileName"}, {"FileName"}), "RunScript": ({"ScriptName"}, {"ScriptName", "Args"}),
             "GetFile": ({"Path"}, {"Path"})}
MAX_SESSIONS = 25


def _auth(state, roles, scopes=None):
    tenant, claims = authorize(state, "mde", MDE_AUDIENCES, roles, scopes if scopes is not None else roles)
    return tenant, claims


def _data(state, tenant):
    data = store_mod.store(state, tenant)
    store_mod.advance(state, data)
    return data


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise MtpError(400, "InvalidRequestBody", "Request body is missing or is not a JSON object.")
    return body


# --- OData ---------------------------------------------------------------------------------------------------

_CLAUSE = re.compile(r"^\s*(?:startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)|(\w+)\s+(eq|ne|gt|lt|ge|le)\s+"
                     r"('(?:[^']|'')*'|[^\s]+))\s*$", re.IGNORECASE)


def parse_filter(text: str | None, fields: tuple) -> list:
    """``[(field, op, value)]`` of an ``and``-joined ``$filter``; 400 for anything else."""
    if not text:
        return []
    names = {f.lower(): f for f in fields}
    out = []
    for part in split_and(text.strip()):
        match = _CLAUSE.match(part)
        if not match:
            raise MtpError(400, "InvalidRequest", f"Invalid filter clause: '{part}'.")
        field, op, value = (match.group(1), "startswith", match.group(2)) if match.group(1) else \
            (match.group(3), match.group(4).lower(), match.group(5))
        if field.lower() not in names:
            raise MtpError(400, "InvalidRequest", f"Filtering on property '{field}' is not supported.")
        if value.startswith("'"):
            value = value[1:-1].replace("''", "'")
        out.append((names[field.lower()], op, value))
    return out


def _match(item: dict, clause) -> bool:
    field, op, value = clause
    have = item.get(field)
    if isinstance(have, list):
        return any(str(v).lower() == value.lower() for v in have) == (op != "ne")
    have_s, want = ("" if have is None else str(have)).lower(), value.lower()
    if op == "startswith":
        return have_s.startswith(want)
    if op in ("eq", "ne"):
        return (have_s == want) == (op == "eq")
    try:
        have_n, want_n = float(have_s), float(want)
    except ValueError:
        have_n, want_n = have_s.rstrip("z"), want.rstrip("z")
    return {"gt": have_n > want_n, "lt": have_n < want_n, "ge": have_n >= want_n, "le": have_n <= want_n}[op]


def _int_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise MtpError(400, "InvalidRequest", f"Invalid value '{raw}' for {name}.")
    return int(raw)


def _page(items: list, context: str, page_size: int):
    """``$top``/``$skip`` paging: with ``$top`` no nextLink (as the service); without, a nextLink with ``$skip``."""
    top, skip = _int_arg("$top", None), _int_arg("$skip", 0)
    if top is not None and top > TOP_MAX:
        raise MtpError(400, "InvalidRequest", f"$top must be at most {TOP_MAX}.")
    size = top if top is not None else page_size
    body = {"@odata.context": f"{request.host_url.rstrip('/')}/api/$metadata#{context}",
            "value": [store_mod.public(i) for i in items[skip:skip + size]]}
    if top is None and skip + size < len(items):
        args = {k: v for k, v in request.args.items() if k != "$skip"}
        args["$skip"] = str(skip + size)
        query = "&".join(f"{k}={v}" for k, v in args.items())
        body["@odata.nextLink"] = f"{request.host_url.rstrip('/')}{request.path}?{query}"
    return jsonify(body)


# --- machines --------------------------------------------------------------------------------------------------

def machines_list(state):
    tenant, _ = _auth(state, READ, READ_SCOPES)
    check_quota(state, tenant, "machines", "mde")
    data = _data(state, tenant)
    clauses = parse_filter(request.args.get("$filter"), MACHINE_FIELDS)
    items = [m for m in data["machines"] if all(_match(m, c) for c in clauses)]
    if not data["machines"]:
        raise MtpError(404, "NotFound", "No recent machines found.")
    return _page(items, "Machines", int(store_mod.controls(state)["page_size"]))


def _machine_or_404(data, machine_id):
    machine = store_mod.find_machine(data, machine_id)
    if machine is None:
        raise MtpError(404, "ResourceNotFound", f"Machine {machine_id} was not found")
    return machine


def machine_get(state, machine_id):
    tenant, _ = _auth(state, READ, READ_SCOPES)
    check_quota(state, tenant, "machines", "mde")
    machine = _machine_or_404(_data(state, tenant), machine_id)
    return jsonify({"@odata.context": f"{request.host_url.rstrip('/')}/api/$metadata#Machines/$entity",
                    **store_mod.public(machine)})


def machine_tags(state, machine_id):
    tenant, _ = _auth(state, ("Machine.ReadWrite.All",), ("Machine.ReadWrite",))
    check_quota(state, tenant, "machines", "mde")
    machine = _machine_or_404(_data(state, tenant), machine_id)
    body = _body()
    value, how = body.get("Value"), body.get("Action")
    if not isinstance(value, str) or not value or how not in ("Add", "Remove"):
        raise MtpError(400, "InvalidRequestBody", "Value (string) and Action (Add or Remove) are required.")
    with state.lock:
        tags = [t for t in machine["machineTags"] if t != value]
        machine["machineTags"] = tags + [value] if how == "Add" else tags
    state.stats.incr("mde.machine_writes")
    return jsonify(store_mod.public(machine))


def _validate(kind: str, body: dict, scope_key, scope_values, machine, ctl):
    comment = body.get("Comment")
    if not isinstance(comment, str) or not comment.strip():
        raise MtpError(400, "MissingRequiredParameter", "Comment is a required parameter.")
    scope = None
    if scope_key:
        scope = body.get(scope_key, "Full" if kind == "Isolate" else None)
        if scope not in scope_values:
            raise MtpError(400, "InvalidRequestBody", f"{scope_key} must be one of {', '.join(scope_values)}.")
    file_info = None
    if kind == "StopAndQuarantineFile":
        if not isinstance(body.get("Sha1"), str) or not SHA1.match(body["Sha1"]):
            raise MtpError(400, "InvalidRequestBody", "Sha1 must be a SHA-1 hash (40 hex characters).")
        file_info = {"fileIdentifier": body["Sha1"].lower(), "fileIdentifierType": "Sha1"}
    if machine.get("osPlatform") in (ctl["unsupported"].get(kind) or []):
        raise MtpError(400, "BadRequest", f"{kind} is not supported on {machine['osPlatform']} devices.")
    return comment, scope, file_info


def _lr_commands(data, body) -> list:
    commands = body.get("Commands")
    if not isinstance(commands, list) or not commands:
        raise MtpError(400, "InvalidRequestBody", "Commands is a required parameter.")
    out, last = [], -1
    for index, cmd in enumerate(commands):
        kind = cmd.get("type") if isinstance(cmd, dict) else None
        if kind not in LR_ORDER:
            raise MtpError(400, "InvalidRequestBody", f"Command {index}: type must be PutFile, RunScript or GetFile.")
        if LR_ORDER[kind] < last:
            raise MtpError(400, "InvalidRequestBody", "Commands must be ordered PutFile, RunScript, GetFile.")
        last = LR_ORDER[kind]
        params = {p.get("key"): p.get("value") for p in cmd.get("params") or [] if isinstance(p, dict)}
        required, allowed = LR_PARAMS[kind]
        if not required <= set(params) or not set(params) <= allowed:
            raise MtpError(400, "InvalidRequestBody", f"Command {index} ({kind}): params must be {sorted(allowed)}.")
        name = params.get("FileName") or params.get("ScriptName")
        if name and name not in data["library"]:
            raise MtpError(400, "InvalidRequestBody", f"File '{name}' was not found in the live response library.")
        out.append({"index": index, "startTime": None, "endTime": None, "commandStatus": "Created", "errors": [],
                    "command": {"type": kind, "params": [{"key": k, "value": v} for k, v in params.items()]}})
    return out


def machine_action(state, machine_id, action):
    spec = ACTIONS.get(action.lower())
    if spec is None:
        raise MtpError(404, "NotFound", f"Resource not found: {request.path}")
    kind, roles, scope_key, scope_values = spec
    tenant, claims = _auth(state, roles)
    check_quota(state, tenant, "machines.liveresponse" if kind == "LiveResponse" else "machines", "mde")
    data = _data(state, tenant)
    machine = _machine_or_404(data, machine_id)
    ctl = store_mod.controls(state)
    body = _body()
    comment, scope, file_info = _validate(kind, body, scope_key, scope_values, machine, ctl)
    commands = _lr_commands(data, body) if kind == "LiveResponse" else None
    with state.lock:
        existing = store_mod.active_action(data, machine["id"], kind)
        if existing is not None:
            if ctl["duplicate"] == "echo" and kind not in ("CollectInvestigationPackage", "LiveResponse"):
                return jsonify(store_mod.public(existing)), 201
            raise MtpError(400, "ActiveRequestAlreadyExists", "Action is already in progress")
        if kind == "LiveResponse":
            running = sum(1 for a in data["actions"] if a["type"] == "LiveResponse" and a["status"] in store_mod.ACTIVE)
            if running >= MAX_SESSIONS:
                raise MtpError(429, "TooManyRequests", "Too many concurrent live response sessions.",
                               headers={"Retry-After": "60"})
        new = store_mod.new_action(machine, kind, actor(claims), comment, scope=scope, file_info=file_info,
                                   commands=commands, ctl=ctl)
        data["actions"].append(new)
    state.stats.incr("mde.machine_writes")
    status = int(ctl["offboard_status"]) if kind == "Offboard" else 201
    return jsonify(store_mod.public(new)), status


# --- machine actions -----------------------------------------------------------------------------------------

def actions_list(state):
    tenant, _ = _auth(state, READ, READ_SCOPES)
    check_quota(state, tenant, "machines", "mde")
    data = _data(state, tenant)
    clauses = parse_filter(request.args.get("$filter"), ACTION_FIELDS)
    visible = time.time() - float(store_mod.controls(state)["list_lag_seconds"])
    items = [a for a in data["actions"] if a["_created"] <= visible and all(_match(a, c) for c in clauses)]
    items.sort(key=lambda a: a["_created"], reverse=True)
    return _page(items, "MachineActions", TOP_MAX)


def _action_or_404(data, action_id):
    found = next((a for a in data["actions"] if a["id"] == action_id), None)
    if found is None:
        raise MtpError(404, "ResourceNotFound", f"Machine action {action_id} was not found")
    return found


def action_get(state, action_id):
    tenant, _ = _auth(state, READ, READ_SCOPES)
    check_quota(state, tenant, "machines", "mde")
    return jsonify(store_mod.public(_action_or_404(_data(state, tenant), action_id)))


def action_cancel(state, action_id):
    tenant, claims = _auth(state, ANY_ACTION_ROLES)
    check_quota(state, tenant, "machines", "mde")
    data = _data(state, tenant)
    action = _action_or_404(data, action_id)
    body = request.get_json(silent=True) or {}
    with state.lock:
        if action["status"] in store_mod.FINAL:
            raise MtpError(400, "InvalidRequest", f"Action {action_id} is already in a final state ({action['status']}).")
        store_mod.cancel(action, actor(claims), body.get("Comment") if isinstance(body, dict) else None)
    state.stats.incr("mde.machine_writes")
    return jsonify(store_mod.public(action))


def _link(token: str) -> str:
    return f"{request.host_url.rstrip('/')}/_emulator/mde/download/{token}?se=1800&sig=emulated"


def action_sub(state, action_id, rest):
    """``getPackageUri`` and ``GetLiveResponseResultDownloadLink(index=N)`` (any case)."""
    low = rest.lower()
    match = re.match(r"^getliveresponseresultdownloadlink\(index=(\d+)\)$", low)
    if low == "getpackageuri":
        tenant, _ = _auth(state, READ, ("Machine.CollectForensics",))
        check_quota(state, tenant, "machines.package", "mde")
        data = _data(state, tenant)
        action = _action_or_404(data, action_id)
        if action["type"] != "CollectInvestigationPackage" or action["status"] != "Succeeded":
            raise MtpError(404, "ResourceNotFound", "Package is not available.")
        url = _link(store_mod.add_download(data, store_mod.package_content(action), "package.zip"))
        value = f'"{url}"' if store_mod.controls(state)["quoted_package_uri"] else url
    elif match:
        tenant, _ = _auth(state, READ, ("Machine.LiveResponse",))
        check_quota(state, tenant, "machines", "mde")
        data = _data(state, tenant)
        action = _action_or_404(data, action_id)
        index = int(match.group(1))
        commands = action.get("commands") or []
        if index >= len(commands) or commands[index]["commandStatus"] != "Completed":
            raise MtpError(404, "ResourceNotFound", f"No result for command index {index}.")
        content = store_mod.command_result(action, commands[index])
        value = _link(store_mod.add_download(data, content, f"result-{index}"))
    else:
        raise MtpError(404, "NotFound", f"Resource not found: {request.path}")
    return jsonify({"@odata.context": f"{request.host_url.rstrip('/')}/api/$metadata#Edm.String", "value": value})


# --- library ---------------------------------------------------------------------------------------------------

def library_list(state):
    tenant, _ = _auth(state, ("Library.Manage",))
    check_quota(state, tenant, "machines", "mde")
    data = _data(state, tenant)
    return jsonify({"@odata.context": f"{request.host_url.rstrip('/')}/api/$metadata#LibraryFiles",
                    "value": [dict(v) for v in data["library"].values()]})


def _flag(name: str) -> bool:
    return str(request.form.get(name, "false")).lower() == "true"


def library_upload(state):
    tenant, claims = _auth(state, ("Library.Manage",))
    check_quota(state, tenant, "machines", "mde")
    data = _data(state, tenant)
    upload = request.files.get("File")
    if upload is None or not upload.filename:
        raise MtpError(400, "InvalidRequestBody", "File is a required parameter (multipart/form-data).")
    content = upload.read()
    if len(content) > LIBRARY_MAX:
        raise MtpError(400, "InvalidRequestBody", "The file exceeds the 20 MB limit.")
    previous = data["library"].get(upload.filename)
    if previous is not None and not _flag("OverrideIfExists"):
        raise MtpError(409, "Conflict", f"File '{upload.filename}' already exists; set OverrideIfExists.")
    entry = store_mod.library_entry(upload.filename, content, request.form.get("Description"),
                                    request.form.get("ParametersDescription"), _flag("HasParameters"),
                                    actor(claims), previous)
    with state.lock:
        data["library"][upload.filename] = entry
    state.stats.incr("mde.machine_writes")
    return jsonify(entry)


def library_delete(state, name):
    tenant, _ = _auth(state, ("Library.Manage",))
    check_quota(state, tenant, "machines", "mde")
    data = _data(state, tenant)
    with state.lock:
        if data["library"].pop(name, None) is None:
            raise MtpError(404, "ResourceNotFound", f"File '{name}' was not found.")
    state.stats.incr("mde.machine_writes")
    return Response(status=204)


# --- control plane -------------------------------------------------------------------------------------------

def mde_download(state, token):
    for data in (state.extras.get("machines") or {}).values():
        item = store_mod.get_download(data, token)
        if item is not None:
            return Response(item["content"], mimetype="application/octet-stream")
    return Response("<Error><Code>AuthenticationFailed</Code></Error>", status=403, mimetype="application/xml")


def machines_control_view(state):
    tenant = _tenant_from_body(state, {"tenant": request.args.get("tenant")} if request.args.get("tenant") else {})
    data = _data(state, tenant)
    return jsonify({"controls": store_mod.controls(state),
                    "machines": [{"id": m["id"], "computerDnsName": m["computerDnsName"], "isolation": m["_isolation"],
                                  "restricted": m["_restricted"], "onboardingStatus": m.get("onboardingStatus"),
                                  "machineTags": m["machineTags"]} for m in data["machines"]],
                    "actions": [store_mod.public(a) for a in data["actions"]],
                    "library": list(data["library"].values())})


def machines_control_config(state):
    body = _control_body()
    ctl = store_mod.controls(state)
    unknown = sorted(set(body) - (set(store_mod.DEFAULT_CTL) - {"outcomes"}))
    if unknown:
        raise MtpError(400, "BadRequest", f"Unknown machine settings: {', '.join(unknown)}.")
    with state.lock:
        ctl.update(body)
    return jsonify(ctl)


def machines_control_outcome(state):
    body = _control_body()
    kind, outcome = body.get("type"), body.get("outcome")
    if kind not in {a[0] for a in ACTIONS.values()} or outcome not in ("Failed", "TimeOut", "Pending", "Succeeded"):
        raise MtpError(400, "BadRequest", "type must be a machine action type; outcome Failed, TimeOut, Pending "
                       "or Succeeded.")
    queue = store_mod.queue_outcome(state, kind, outcome, int(body.get("count", 1)))
    return jsonify({"type": kind, "queued": queue})


def machines_control_load(state):
    body = _control_body()
    tenant = _tenant_from_body(state, body)
    rows = body.get("machines")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise MtpError(400, "BadRequest", "machines must be a list of objects.")
    return jsonify({"tenant": tenant.id, "machines": store_mod.load_machines(state, tenant, rows)})


def machines_control_generate(state):
    """``{"count": N, "seed"?, "unnamed"?, "tenant"?}``: replace the tenant's machines with N generated ones
    (machines.generate_machines) - a fleet past the 10,000-machine page for paging tests."""
    body = _control_body()
    tenant = _tenant_from_body(state, body)
    count, unnamed, seed = body.get("count"), body.get("unnamed", 0), body.get("seed", "fleet")
    for name, value in (("count", count), ("unnamed", unnamed)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= store_mod.GEN_MAX:
            raise MtpError(400, "BadRequest", f"{name} must be an integer from 0 to {store_mod.GEN_MAX}.")
    if unnamed > count or not isinstance(seed, str):
        raise MtpError(400, "BadRequest", "unnamed must not exceed count; seed must be a string.")
    made = store_mod.generate_machines(state, tenant, count, seed=seed, unnamed=unnamed)
    return jsonify({"tenant": tenant.id, "machines": made})


ROUTES = [
    Route("/_emulator/mde/download/<token>", ("GET",), mde_download),
    Route("/_emulator/machines/generate", ("POST",), machines_control_generate),
    Route("/_emulator/machines", ("GET",), machines_control_view),
    Route("/_emulator/machines/config", ("PATCH",), machines_control_config),
    Route("/_emulator/machines/outcome", ("POST",), machines_control_outcome),
    Route("/_emulator/machines/load", ("POST",), machines_control_load),
]
for _prefix in ("/api", "/API"):
    ROUTES += [
        Route(f"{_prefix}/machines", ("GET",), machines_list),
        Route(f"{_prefix}/machines/<machine_id>", ("GET",), machine_get),
        Route(f"{_prefix}/machines/<machine_id>/tags", ("POST",), machine_tags),
        Route(f"{_prefix}/machines/<machine_id>/<action>", ("POST",), machine_action),
        Route(f"{_prefix}/machineactions", ("GET",), actions_list),
        Route(f"{_prefix}/machineactions/<action_id>", ("GET",), action_get),
        Route(f"{_prefix}/machineactions/<action_id>/cancel", ("POST",), action_cancel),
        Route(f"{_prefix}/machineactions/<action_id>/<path:rest>", ("GET",), action_sub),
        Route(f"{_prefix}/libraryfiles", ("GET",), library_list),
        Route(f"{_prefix}/libraryfiles", ("POST",), library_upload),
        Route(f"{_prefix}/libraryfiles/<name>", ("DELETE",), library_delete),
    ]


def register(app: Flask, state) -> None:
    add_routes(app, state, ROUTES)
