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

Bad input gets a JSON 400 in the MTP error shape.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import yaml
from flask import Flask, current_app, jsonify, request

from .errors import MtpError
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
    return data


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


def register(app: Flask, state: EmulatorState) -> None:
    # Start-up values that POST /_emulator/reset restores.
    initial = {
        "fixture": copy.deepcopy(state.fixture),
        "faults": copy.deepcopy(state.config.faults),
        "config": {name: getattr(state.config, name) for name in TUNABLES if hasattr(state.config, name)},
    }

    def _log():
        from .faults import get_middleware

        return get_middleware(current_app)

    @app.post(f"{PREFIX}/reset")
    def control_reset():
        with state.lock:
            state.load_fixture(copy.deepcopy(initial["fixture"]))
            state.config.faults = copy.deepcopy(initial["faults"])
            for name in TUNABLES:
                if name in initial["config"]:
                    setattr(state.config, name, initial["config"][name])
                elif hasattr(state.config, name):
                    delattr(state.config, name)
        middleware = _log()
        if middleware is not None:
            middleware.log.clear()
        return jsonify({"reset": True})

    @app.post(f"{PREFIX}/fixture")
    def control_fixture():
        raw = request.get_data(cache=True)
        if not raw.strip():
            raise bad_request("The request body is empty.", "InvalidRequestBody")
        try:
            if request.mimetype == "application/json":
                data = json.loads(raw)
            else:
                data = yaml.safe_load(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, yaml.YAMLError):
            raise bad_request("The body is neither valid JSON nor valid YAML.", "InvalidRequestBody") from None
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

    @app.get(f"{PREFIX}/stats")
    def control_stats():
        return jsonify(state.stats.snapshot())

    @app.post(f"{PREFIX}/stats/reset")
    def control_stats_reset():
        state.stats.reset()
        return jsonify({"reset": True})

    @app.get(f"{PREFIX}/faults")
    def control_faults_get():
        return jsonify(_fault_view(state.config.faults))

    @app.put(f"{PREFIX}/faults")
    def control_faults_put():
        state.config.faults = faults_from_dict(_json_body())
        return jsonify(_fault_view(state.config.faults))

    @app.patch(f"{PREFIX}/faults")
    def control_faults_patch():
        state.config.faults = faults_from_dict(_json_body(), base=state.config.faults)
        return jsonify(_fault_view(state.config.faults))

    @app.get(f"{PREFIX}/config")
    def control_config_get():
        return jsonify(config_view(state))

    @app.patch(f"{PREFIX}/config")
    def control_config_patch():
        return jsonify(apply_config(state, _json_body()))

    @app.get(f"{PREFIX}/log")
    def control_log():
        try:
            n = int(request.args.get("n", "100"))
        except ValueError:
            raise bad_request("'n' must be an integer.") from None
        if n < 0:
            raise bad_request("'n' must be >= 0.")
        middleware = _log()
        return jsonify({"entries": middleware.log.tail(n) if middleware is not None else []})

    @app.get(f"{PREFIX}/endpoints")
    def control_endpoints():
        server = current_app.config.get("MTP_SERVER")
        if server is not None:
            return jsonify(server.endpoints)
        from .server import describe_tenants

        base = request.host_url.rstrip("/")
        return jsonify({"base_url": base, "authority_host": base, "graph_url": base, "api_url": base,
                        "mde_url": base, "control_url": f"{base}{PREFIX}", "tenants": describe_tenants(state)})
