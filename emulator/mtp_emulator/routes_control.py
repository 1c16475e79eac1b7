"""The control plane under ``/_emulator/`` (never a real Microsoft path).

| route | does |
|---|---|
| ``POST /_emulator/reset`` | reload the start-up fixture, restore start-up faults and config, clear stats and log |
| ``POST /_emulator/fixture`` | load a fixture (JSON or YAML body) in place of the current state |
| ``GET /_emulator/stats``, ``POST /_emulator/stats/reset`` | ``state.stats.snapshot()``; clear the counters |
| ``GET / PUT / PATCH /_emulator/faults`` | the fault settings (PUT replaces, PATCH merges top-level keys) |
| ``GET / PATCH /_emulator/config`` | ``token_lifetime``, ``replication_lag``, ``quota_scale``, ``hunting_rows`` |
| ``GET /_emulator/log?n=100`` | the last ``n`` request-log entries (secrets masked) |
| ``GET /_emulator/endpoints`` | the endpoints-file dict |
| ``POST /_emulator/data`` | load a data document (JSON or YAML): ``hunting`` rows, ``incidents``, ``devices`` |
| ``POST /_emulator/data/<kind>`` | load one kind's section (JSON) |
| ``POST /_emulator/data/hunting/<table>`` | load rows into one table: JSON array, NDJSON or CSV body |
| ``GET /_emulator/data/devices`` | the loaded devices, in the MDE machine shape |

The data routes take the tenant (id or domain) from ``?tenant=`` or the document's ``tenant`` key, default the
fixture's first tenant; they are described in ``hunting/userdata.py``. Loaded data lasts until the next reset or
fixture load; a fixture's per-tenant ``data`` section (the same document) is loaded again on every reset.

Bad input gets a JSON 400 in the MTP error shape.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import types

import yaml
from flask import Flask, current_app, jsonify, request

from .app import Route, add_routes
from .errors import MtpError
from .hunting import userdata
from .state import EmulatorState, FaultConfig

PREFIX = "/_emulator"
RESET_MODES = ("before", "after")

# config key -> (type, validator, description)
TUNABLES = {
    "token_lifetime": (int, lambda v: v > 0, "a positive integer (seconds)"),
    "replication_lag": (float, lambda v: v >= 0, "a number >= 0 (seconds)"),
    "quota_scale": (float, lambda v: v > 0, "a number > 0"),
    "hunting_rows": (int, lambda v: v >= 0, "an integer >= 0, or null"),
    "hunting_row_limit": (int, lambda v: v >= 1, "an integer >= 1, or null"),
    "hunting_result_bytes": (int, lambda v: v >= 1, "an integer >= 1, or null"),
    "device_code_interval": (int, lambda v: v >= 0, "an integer >= 0 (seconds between polls)"),
    "device_code_lifetime": (int, lambda v: v > 0, "a positive integer (seconds)"),
}
NULLABLE = {"hunting_rows", "hunting_row_limit", "hunting_result_bytes"}


def bad_request(message: str, code: str = "BadRequest") -> MtpError:
    return MtpError(400, code, message)


def _number(value, kind, name: str):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"'{name}' must be a number.")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise bad_request(f"'{name}' must be an integer.")
        return int(value)
    if not math.isfinite(value):
        raise bad_request(f"'{name}' must be finite.")
    return float(value)


def _pattern_map(value, name: str) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) and k.strip() for k in value):
        raise bad_request(f"'{name}' must be an object mapping route patterns (\"METHOD /path\") to values.")
    return value


def faults_from_dict(data, base: FaultConfig | None = None) -> FaultConfig:
    """Validate ``data`` and return a new FaultConfig (``base`` supplies the keys ``data`` lacks)."""
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object.", "InvalidRequestBody")
    known = {f.name for f in dataclasses.fields(FaultConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise bad_request(f"Unknown fault setting(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
    out = copy.deepcopy(base) if base is not None else FaultConfig()
    if "latency_ms" in data:
        out.latency_ms = _number(data["latency_ms"], int, "latency_ms")
        if out.latency_ms < 0 or out.latency_ms > 600_000:
            raise bad_request("'latency_ms' must be between 0 and 600000.")
    if "throttle_retry_after" in data:
        out.throttle_retry_after = _number(data["throttle_retry_after"], int, "throttle_retry_after")
        if out.throttle_retry_after < 0:
            raise bad_request("'throttle_retry_after' must be >= 0.")
    if "error_rate" in data:
        rates = {}
        for pattern, p in _pattern_map(data["error_rate"], "error_rate").items():
            p = _number(p, float, f"error_rate[{pattern}]")
            if not 0 <= p <= 1:
                raise bad_request(f"'error_rate[{pattern}]' must be between 0 and 1.")
            rates[pattern] = p
        out.error_rate = rates
    if "reset" in data:
        resets = {}
        for pattern, mode in _pattern_map(data["reset"], "reset").items():
            if mode not in RESET_MODES:
                raise bad_request(f"'reset[{pattern}]' must be 'before' or 'after'.")
            resets[pattern] = mode
        out.reset = resets
    if "throttle" in data:
        counts = {}
        for pattern, n in _pattern_map(data["throttle"], "throttle").items():
            n = _number(n, int, f"throttle[{pattern}]")
            if n < 0:
                raise bad_request(f"'throttle[{pattern}]' must be >= 0.")
            counts[pattern] = n
        out.throttle = counts
    return out


def config_view(state: EmulatorState) -> dict:
    return {name: getattr(state.config, name, None) for name in TUNABLES}


def apply_config(state: EmulatorState, data) -> dict:
    """Validate all of ``data`` first, then apply it to ``state.config``."""
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object.", "InvalidRequestBody")
    unknown = sorted(set(data) - set(TUNABLES))
    if unknown:
        raise bad_request(f"Unknown config key(s): {', '.join(unknown)}. Known: {', '.join(TUNABLES)}.")
    values = {}
    for name, value in data.items():
        kind, ok, text = TUNABLES[name]
        if value is None and name in NULLABLE:
            values[name] = None
            continue
        value = _number(value, kind, name)
        if not ok(value):
            raise bad_request(f"'{name}' must be {text}.")
        values[name] = value
    for name, value in values.items():
        if value is None:  # back to the consumer's default
            if hasattr(state.config, name):
                delattr(state.config, name)
        else:
            setattr(state.config, name, value)
    return config_view(state)


def validate_fixture(data) -> dict:
    if not isinstance(data, dict) or not isinstance(data.get("tenants"), list):
        raise bad_request("A fixture is an object with a 'tenants' list.", "InvalidRequestBody")
    for i, tenant in enumerate(data["tenants"]):
        if not isinstance(tenant, dict) or not isinstance(tenant.get("id"), str) \
                or not isinstance(tenant.get("domain"), str):
            raise bad_request(f"tenants[{i}] needs string 'id' and 'domain'.", "InvalidRequestBody")
        if tenant.get("data") is not None:
            try:
                userdata.validate(tenant["data"], types.SimpleNamespace(id=tenant["id"], domain=tenant["domain"]))
            except ValueError as exc:
                raise bad_request(f"tenants[{i}].data: {exc}", "InvalidRequestBody") from None
    return data


def _document(raw: bytes, mimetype: str):
    """A JSON or YAML body."""
    if not raw.strip():
        raise bad_request("The request body is empty.", "InvalidRequestBody")
    try:
        if mimetype == "application/json":
            return json.loads(raw)
        return yaml.safe_load(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, yaml.YAMLError):
        raise bad_request("The body is neither valid JSON nor valid YAML.", "InvalidRequestBody") from None


def _data_tenant(state: EmulatorState, document=None):
    key = request.args.get("tenant") or (document.get("tenant") if isinstance(document, dict) else None)
    if key is None:
        tenant = next(iter(state.tenants.values()), None)
    else:
        tenant = state.tenant(str(key))
    if tenant is None:
        raise bad_request(f"Unknown tenant '{key}'." if key else "The fixture has no tenant.")
    return tenant


def load_data(state: EmulatorState, document, tenant) -> dict:
    """Validate a whole data document first, then add it to the tenant's data; 400 naming what is wrong."""
    from .hunting import tenant_data

    try:
        normalised = userdata.validate(document, tenant)
    except ValueError as exc:
        raise bad_request(str(exc), "InvalidRequestBody") from None
    with state.lock:
        summary = userdata.apply(tenant_data(state, tenant), normalised)
    return {"tenant": tenant.id, "loaded": summary}


def _json_body(required: bool = True):
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise bad_request("The request body is empty.", "InvalidRequestBody")
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("The request body is not valid JSON.", "InvalidRequestBody") from None


def _fault_view(faults: FaultConfig) -> dict:
    return dataclasses.asdict(faults)


# --- views (flat functions: view(state, **url_values); the ROUTES table below) ----------------------------------

def _log_middleware():
    from .faults import get_middleware

    return get_middleware(current_app)


def control_reset(state: EmulatorState):
    initial = state.startup
    with state.lock:
        state.load_fixture(copy.deepcopy(initial["fixture"]))
        state.config.faults = copy.deepcopy(initial["faults"])
        for name in TUNABLES:
            if name in initial["config"]:
                setattr(state.config, name, initial["config"][name])
            elif hasattr(state.config, name):
                delattr(state.config, name)
    middleware = _log_middleware()
    if middleware is not None:
        middleware.log.clear()
    return jsonify({"reset": True})


def control_fixture(state: EmulatorState):
    data = _document(request.get_data(cache=True), request.mimetype)
    validate_fixture(data)
    with state.lock:
        previous = copy.deepcopy(state.fixture)
        try:
            state.load_fixture(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            state.load_fixture(previous)
            raise bad_request(f"The fixture could not be loaded: {type(exc).__name__}: {exc}",
                              "InvalidRequestBody") from None
    return jsonify({"loaded": True, "tenants": [t["id"] for t in data["tenants"]]})


def control_stats(state: EmulatorState):
    return jsonify(state.stats.snapshot())


def control_stats_reset(state: EmulatorState):
    state.stats.reset()
    return jsonify({"reset": True})


def control_faults_get(state: EmulatorState):
    return jsonify(_fault_view(state.config.faults))


def control_faults_put(state: EmulatorState):
    state.config.faults = faults_from_dict(_json_body())
    return jsonify(_fault_view(state.config.faults))


def control_faults_patch(state: EmulatorState):
    state.config.faults = faults_from_dict(_json_body(), base=state.config.faults)
    return jsonify(_fault_view(state.config.faults))


def control_config_get(state: EmulatorState):
    return jsonify(config_view(state))


def control_config_patch(state: EmulatorState):
    return jsonify(apply_config(state, _json_body()))


def control_log(state: EmulatorState):
    try:
        n = int(request.args.get("n", "100"))
    except ValueError:
        raise bad_request("'n' must be an integer.") from None
    if n < 0:
        raise bad_request("'n' must be >= 0.")
    middleware = _log_middleware()
    return jsonify({"entries": middleware.log.tail(n) if middleware is not None else []})


def control_data(state: EmulatorState):
    document = _document(request.get_data(cache=True), request.mimetype)
    tenant = _data_tenant(state, document)
    if isinstance(document, dict):
        document = {k: v for k, v in document.items() if k != "tenant"}
    return jsonify(load_data(state, document, tenant))


def control_data_rows(state: EmulatorState, table):
    tenant = _data_tenant(state)
    try:
        rows = userdata.parse_rows_body(request.get_data(cache=True), request.mimetype)
    except ValueError as exc:
        raise bad_request(str(exc), "InvalidRequestBody") from None
    return jsonify(load_data(state, {"hunting": {table: rows}}, tenant))


def control_data_kind(state: EmulatorState, kind):
    if kind not in userdata.KINDS:
        raise bad_request(f"Unknown data kind '{kind}'. Known: {', '.join(userdata.KINDS)}.")
    section = _document(request.get_data(cache=True), request.mimetype)
    return jsonify(load_data(state, {kind: section}, _data_tenant(state)))


def control_data_devices(state: EmulatorState):
    from .hunting import tenant_data

    machines = tenant_data(state, _data_tenant(state)).get("machines", [])
    return jsonify({"value": [userdata.machine_view(m) for m in machines]})


def control_endpoints(state: EmulatorState):
    server = current_app.config.get("MTP_SERVER")
    if server is not None:
        return jsonify(server.endpoints)
    from .server import describe_tenants

    base = request.host_url.rstrip("/")
    return jsonify({"base_url": base, "authority_host": base, "graph_url": base, "api_url": base,
                    "mde_url": base, "control_url": f"{base}{PREFIX}", "tenants": describe_tenants(state)})


ROUTES = (
    Route(f"{PREFIX}/reset", ("POST",), control_reset),
    Route(f"{PREFIX}/fixture", ("POST",), control_fixture),
    Route(f"{PREFIX}/stats", ("GET",), control_stats),
    Route(f"{PREFIX}/stats/reset", ("POST",), control_stats_reset),
    Route(f"{PREFIX}/faults", ("GET",), control_faults_get),
    Route(f"{PREFIX}/faults", ("PUT",), control_faults_put),
    Route(f"{PREFIX}/faults", ("PATCH",), control_faults_patch),
    Route(f"{PREFIX}/config", ("GET",), control_config_get),
    Route(f"{PREFIX}/config", ("PATCH",), control_config_patch),
    Route(f"{PREFIX}/log", ("GET",), control_log),
    Route(f"{PREFIX}/data", ("POST",), control_data),
    Route(f"{PREFIX}/data/hunting/<table>", ("POST",), control_data_rows),
    Route(f"{PREFIX}/data/devices", ("GET",), control_data_devices),
    Route(f"{PREFIX}/data/<kind>", ("POST",), control_data_kind),
    Route(f"{PREFIX}/endpoints", ("GET",), control_endpoints),
)


def register(app: Flask, state: EmulatorState) -> None:
    # Start-up values that POST /_emulator/reset restores.
    state.startup = {
        "fixture": copy.deepcopy(state.fixture),
        "faults": copy.deepcopy(state.config.faults),
        "config": {name: getattr(state.config, name) for name in TUNABLES if hasattr(state.config, name)},
    }
    add_routes(app, state, ROUTES)
