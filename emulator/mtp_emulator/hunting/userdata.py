"""Users' own test data: rows for any hunting table, incidents with their alerts, and devices, per tenant.

A *data document* names its parts by kind; each kind is an entry of :data:`KINDS` (a small registry: later
objects - machine actions, indicators, detection rules - add an entry the same way)::

    hunting:                      # table -> rows (any table of tables.TABLES, deprecated names included)
      DeviceProcessEvents:
        - {Timestamp: -2h, DeviceName: ws-ci-01, FileName: evil.exe, ProcessCommandLine: evil.exe --run}
    incidents:                    # each with its alerts (and their evidence); ``id`` optional
      - {id: 5001, title: CI incident, severity: high, created: -1h, alerts: [{title: Evil ran, devices: [ws-1]}]}
    alerts:                       # more alerts on an existing incident (or one of this document)
      - {incidentId: 5001, title: Second stage, evidence: [{EntityType: File, FileName: evil.dll}]}
    incident_merges:              # the sources become Redirected, their alerts move to the target
      - {sources: [5002], target: 5001}
    devices:                      # MDE machine objects (docs/developer/reference/response-and-content.md §1.4)
      - {computerDnsName: ws-ci-01.contoso.local, osPlatform: Windows11, lastSeen: -10m}

Times are ISO 8601 or relative to the moment the data is loaded: ``now``, ``-2h``, ``-3d``, ``+30m``, ``-1d6h``
(units ``w d h m s ms``), so a fixture stays valid as days pass. :func:`validate` checks a whole document and
normalises it (unknown tables, columns, enum values and bad times are a ``ValueError`` naming them) before
anything changes; :func:`apply` then adds it to a tenant's data (``hunting.tenant_data``). Loaded rows live in the
same tables as the seeded ones, so they take part in queries, quotas and paging alike.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from typing import Callable

from .tables import ALIAS_COLUMNS, ALIASES, TABLES

UTC = dt.timezone.utc
MAX_ROWS = 100_000  # per request: the same order as the service's result cap
_RELATIVE = re.compile(r"([+-])((?:\d+(?:\.\d+)?(?:ms|w|d|h|m|s))+)\Z")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_time(value, now: dt.datetime, what: str = "time") -> dt.datetime:
    """``now``, a relative offset (``-2h``, ``+1d30m``) or an ISO 8601 time -> an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what}: expected 'now', a relative time like '-2h' or an ISO 8601 time, got {value!r}")
    text = value.strip()
    if text.lower() == "now":
        return now
    m = _RELATIVE.match(text.lower())
    if m:
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(m.group(2)))
        return now + dt.timedelta(seconds=seconds if m.group(1) == "+" else -seconds)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what}: '{value}' is neither 'now', a relative time like '-2h' nor an ISO 8601 time") \
            from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- bodies -----------------------------------------------------------------------------------------------------

def parse_rows_body(raw: bytes, mimetype: str) -> list[dict]:
    """A rows body: a JSON array (or ``{"rows": [...]}``), NDJSON (one object a line) or CSV with a header."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("The body is not UTF-8 text.") from None
    kind = (mimetype or "").lower()
    if kind in ("text/csv", "application/csv"):
        return [{k: v for k, v in row.items() if k is not None and v != ""}
                for row in csv.DictReader(io.StringIO(text))]
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    raise ValueError(f"NDJSON line {n} is not valid JSON.") from None
        return rows
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("The body is not valid JSON (send NDJSON as application/x-ndjson, CSV as text/csv).") \
            from None
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if isinstance(data, dict):
        data = [data]
    return data


# --- hunting rows -----------------------------------------------------------------------------------------------

def _table_name(name: str) -> str:
    for table in TABLES:
        if table.lower() == str(name).lower():
            return table
    raise ValueError(f"Unknown hunting table '{name}'.")


def _convert(value, kind: str, what: str, now: dt.datetime):
    if value is None:
        return None
    if kind == "datetime":
        return parse_time(value, now, what).astimezone(UTC).replace(tzinfo=None)
    if kind in ("int", "long"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"{what}: expected an integer, got {value!r}")
        try:
            return int(value) if not isinstance(value, float) or value.is_integer() else int("x")
        except ValueError:
            raise ValueError(f"{what}: expected an integer, got {value!r}") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError(f"{what}: expected true or false, got {value!r}")
    if kind == "real":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: expected a number, got {value!r}") from None
    if kind == "dynamic":
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value  # a plain string is a dynamic string
        return value
    if kind == "timespan":
        raise ValueError(f"{what}: timespan columns cannot be loaded")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) else str(value)


def normalize_rows(table: str, rows, now: dt.datetime) -> tuple[str, list[dict]]:
    """(the table rows are stored in, the rows typed for it). A deprecated name stores in its successor."""
    table = _table_name(table)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{table}: the rows must be a list of objects.")
    if len(rows) > MAX_ROWS:
        raise ValueError(f"{table}: at most {MAX_ROWS} rows per request.")
    target = ALIASES.get(table, table)
    columns = dict(TABLES[table])
    out = []
    for i, row in enumerate(rows):
        unknown = sorted(k for k in row if k not in columns)
        if unknown:
            raise ValueError(f"{table} row {i}: unknown column(s) {', '.join(unknown)}.")
        typed = {c: _convert(v, columns[c], f"{table} row {i} column {c}", now) for c, v in row.items()}
        if target != table:
            typed = {ALIAS_COLUMNS.get(c, c) if c not in dict(TABLES[target]) else c: v for c, v in typed.items()}
        out.append(typed)
    return target, out


def _validate_hunting(section, now, tenant):
    if not isinstance(section, dict):
        raise ValueError("'hunting' must map table names to lists of rows.")
    merged: dict[str, list] = {}
    for table, rows in section.items():
        target, typed = normalize_rows(table, rows, now)
        merged.setdefault(target, []).extend(typed)
    return merged


def _apply_hunting(data: dict, section: dict) -> dict:
    engine = data["engine"]
    for table, rows in section.items():
        engine.load_rows(table, rows)
    return {"hunting": {t: len(r) for t, r in section.items()}}


# --- devices ----------------------------------------------------------------------------------------------------

HEALTH = ("Active", "Inactive", "ImpairedCommunication", "NoSensorData", "NoSensorDataImpairedCommunication",
          "Unknown")
LEVELS = ("None", "Informational", "Low", "Medium", "High")


def _enum(value, allowed, what):
    if value is None:
        return None
    for a in allowed:
        if str(value).lower() == a.lower():
            return a
    raise ValueError(f"{what}: '{value}' is not one of {', '.join(allowed)}")


def _validate_devices(items, now, tenant):
    from .generator import _guid, _h

    if not isinstance(items, list) or not all(isinstance(d, dict) for d in items):
        raise ValueError("'devices' must be a list of machine objects.")
    out = []
    for i, d in enumerate(items):
        name = d.get("computerDnsName")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"devices[{i}]: 'computerDnsName' (the device's FQDN) is required.")
        machine_id = str(d.get("id") or _h(tenant.id, "device", name.lower(), n=40))
        if not re.fullmatch(r"[0-9a-fA-F]{40}", machine_id):
            raise ValueError(f"devices[{i}]: 'id' must be 40 hex characters.")
        tags = d.get("machineTags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError(f"devices[{i}]: 'machineTags' must be a list of strings.")
        out.append({
            "id": machine_id.lower(), "computerDnsName": name,
            "firstSeen": parse_time(d.get("firstSeen", "-30d"), now, f"devices[{i}].firstSeen"),
            "lastSeen": parse_time(d.get("lastSeen", "now"), now, f"devices[{i}].lastSeen"),
            "osPlatform": d.get("osPlatform", "Windows11"), "version": d.get("version", "23H2"),
            "osBuild": d.get("osBuild"), "osArchitecture": d.get("osArchitecture", "64-bit"),
            "osProcessor": d.get("osProcessor", "x64"),
            "onboardingStatus": d.get("onboardingStatus", "onboarded"),
            "lastIpAddress": d.get("lastIpAddress", "10.0.0.10"),
            "lastExternalIpAddress": d.get("lastExternalIpAddress", "20.0.0.10"),
            "ipAddresses": d.get("ipAddresses") or [{"ipAddress": d.get("lastIpAddress", "10.0.0.10"),
                                                      "macAddress": None, "operationalStatus": "Up"}],
            "healthStatus": _enum(d.get("healthStatus", "Active"), HEALTH, f"devices[{i}].healthStatus"),
            "rbacGroupId": d.get("rbacGroupId", 0), "rbacGroupName": d.get("rbacGroupName", "UnassignedGroup"),
            "riskScore": _enum(d.get("riskScore", "None"), LEVELS, f"devices[{i}].riskScore"),
            "exposureLevel": _enum(d.get("exposureLevel", "Low"), LEVELS, f"devices[{i}].exposureLevel"),
            "deviceValue": _enum(d.get("deviceValue", "Normal"), ("Normal", "Low", "High"),
                                 f"devices[{i}].deviceValue"),
            "aadDeviceId": d.get("aadDeviceId") or _guid(tenant.id, "aad", name.lower()),
            "isAadJoined": bool(d.get("isAadJoined", True)), "machineTags": list(tags),
        })
    return out


def machine_view(m: dict) -> dict:
    """A stored machine in the MDE wire shape (times as ISO 8601 strings)."""
    from ..incidents import fmt_time

    return {k: fmt_time(v) if isinstance(v, dt.datetime) else v for k, v in m.items()}


def device_info_row(m: dict) -> dict:
    """The DeviceInfo row a loaded device reports (at its lastSeen time)."""
    return {
        "Timestamp": m["lastSeen"].astimezone(UTC).replace(tzinfo=None), "DeviceId": m["id"],
        "DeviceName": m["computerDnsName"], "ClientVersion": "10.8760.22621.1", "PublicIP": m["lastExternalIpAddress"],
        "OSArchitecture": m["osArchitecture"], "OSPlatform": m["osPlatform"], "OSBuild": m["osBuild"],
        "IsAzureADJoined": m["isAadJoined"], "AadDeviceId": m["aadDeviceId"], "OSVersion": m["version"],
        "MachineGroup": m["rbacGroupName"], "OnboardingStatus": "Onboarded" if m["onboardingStatus"].lower() ==
        "onboarded" else m["onboardingStatus"], "DeviceCategory": "Endpoint",
        "SensorHealthState": m["healthStatus"], "ExposureLevel": m["exposureLevel"], "AssetValue": m["deviceValue"],
        "DeviceManualTags": json.dumps(m["machineTags"]), "DeviceDynamicTags": "[]", "IsExcluded": False,
    }


def _apply_devices(data: dict, machines: list) -> dict:
    store = data.setdefault("machines", [])
    by_id = {m["id"]: k for k, m in enumerate(store)}
    for m in machines:
        if m["id"] in by_id:
            store[by_id[m["id"]]] = m
        else:
            by_id[m["id"]] = len(store)
            store.append(m)
    data["engine"].load_rows("DeviceInfo", [device_info_row(m) for m in machines])
    return {"devices": [m["id"] for m in machines]}


# --- incidents --------------------------------------------------------------------------------------------------

def _validate_incidents(items, now, tenant):
    from .. import incidents_userdata as inc

    if not isinstance(items, list) or not all(isinstance(d, dict) for d in items):
        raise ValueError("'incidents' must be a list of incident objects.")
    out = [inc.validate_user_incident(spec, now, f"incidents[{i}]", tenant.id) for i, spec in enumerate(items)]
    inc.validate_ids(out, "incidents")
    return out


def _apply_incidents(data: dict, items: list) -> dict:
    store = data["incidents"]
    created = [store.add_user_incident(spec) for spec in items]
    data["engine"].add_alerts([a for i in created for a in i["alerts"]])
    return {"incidents": [i["id"] for i in created]}


def _validate_alerts(items, now, tenant):
    from .. import incidents_userdata as inc

    if not isinstance(items, list) or not all(isinstance(d, dict) and d.get("incidentId") for d in items):
        raise ValueError("'alerts' must be a list of alert objects, each with the 'incidentId' it belongs to.")
    return [(str(a["incidentId"]), inc.validate_user_alerts([{k: v for k, v in a.items() if k != "incidentId"}],
                                                             {"severity": "medium", "created": "now"}, now,
                                                             f"alerts[{i}]", tenant.id)) for i, a in enumerate(items)]


def _apply_alerts(data: dict, items: list) -> dict:
    from .. import incidents_changes

    store, added = data["incidents"], []
    for incident_id, specs in items:
        added += incidents_changes.add_alerts(store, store.get(incident_id), specs)
    data["engine"].add_alerts(added)
    return {"alerts": [a["id"] for a in added]}


def _validate_merges(items, now, tenant):
    if not isinstance(items, list) or not all(isinstance(m, dict) for m in items):
        raise ValueError("'incident_merges' must be a list of {sources: [ids], target: id} objects.")
    out = []
    for i, m in enumerate(items):
        sources = m.get("sources", [m["source"]] if "source" in m else None)
        if not isinstance(sources, list) or not sources or m.get("target") is None:
            raise ValueError(f"incident_merges[{i}]: needs 'sources' (a list of incident ids) and a 'target'.")
        out.append(([str(s) for s in sources], str(m["target"])))
    return out


def _apply_merges(data: dict, items: list) -> dict:
    from .. import incidents_changes

    done = []
    for sources, target in items:
        incidents_changes.merge_incidents(data["incidents"], sources, target)
        done.append({"sources": sources, "target": target})
    return {"incident_merges": done}


def _check_references(data: dict, normalised: dict) -> None:
    """The ids that ``alerts`` and ``incident_merges`` name exist, in the store or in the document's own
    ``incidents``, before anything is applied (so a bad reference changes nothing)."""
    store = data["incidents"]
    ids = {str(i["id"]) for i in store.incidents}
    for k, spec in enumerate(normalised.get("incidents", [])):
        if spec.get("id") is not None and str(spec["id"]) in ids:
            raise ValueError(f"incidents[{k}]: id {spec['id']} is already taken.")
    ids |= {str(spec["id"]) for spec in normalised.get("incidents", []) if spec.get("id") is not None}
    redirected = {str(i["id"]) for i in store.incidents if i["status"] == "redirected"}
    for k, (incident_id, _) in enumerate(normalised.get("alerts", [])):
        if incident_id not in ids or incident_id in redirected:
            raise ValueError(f"alerts[{k}]: incident {incident_id} does not exist (or is redirected).")
    for k, (sources, target) in enumerate(normalised.get("incident_merges", [])):
        for ref in sources + [target]:
            if ref not in ids or ref in redirected:
                raise ValueError(f"incident_merges[{k}]: incident {ref} does not exist (or is redirected).")
        if target in sources or len(set(sources)) != len(sources):
            raise ValueError(f"incident_merges[{k}]: an incident appears twice.")
        redirected |= set(sources)


# --- the registry -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """One loadable kind: ``validate(section, now, tenant)`` -> normalised section (raises ValueError), and
    ``apply(tenant_data, section)`` -> a summary of what was added."""
    validate: Callable
    apply: Callable


def _store_kind(module: str) -> Kind:
    """A kind whose section is checked and applied by ``mtp_emulator.<module>`` (imported when first used)."""
    def _module():
        import importlib
        return importlib.import_module(__name__.rsplit(".", 2)[0] + "." + module)

    return Kind(lambda items, now, tenant: _module().validate_section(items, now, tenant),
                lambda data, section: _module().apply_section(data, section))


KINDS: dict[str, Kind] = {
    "hunting": Kind(_validate_hunting, _apply_hunting),
    "devices": Kind(_validate_devices, _apply_devices),
    "incidents": Kind(_validate_incidents, _apply_incidents),
    "alerts": Kind(_validate_alerts, _apply_alerts),
    "incident_merges": Kind(_validate_merges, _apply_merges),
    "indicators": _store_kind("indicators_store"),
    "detection_rules": _store_kind("detection_rules_store"),
}


def validate(document, tenant, now: dt.datetime | None = None) -> dict:
    """A data document -> ``{kind: normalised section}``; ValueError names what is wrong. Changes nothing."""
    now = now or dt.datetime.now(UTC)
    if not isinstance(document, dict):
        raise ValueError("A data document is an object with any of: " + ", ".join(KINDS) + ".")
    unknown = sorted(k for k in document if k not in KINDS and k != "tenant")
    if unknown:
        raise ValueError(f"Unknown data kind(s): {', '.join(unknown)}. Known: {', '.join(KINDS)}.")
    return {kind: KINDS[kind].validate(document[kind], now, tenant) for kind in KINDS if kind in document}


def apply(data: dict, normalised: dict) -> dict:
    """Add a validated document to a tenant's data; returns what was added, by kind. References between kinds
    (``alerts`` / ``incident_merges`` -> incident ids) are checked first: a bad one raises an MTP-shaped 400
    (``errors.MtpError``) and nothing changes."""
    try:
        _check_references(data, normalised)
    except ValueError as exc:
        from ..errors import MtpError

        raise MtpError(400, "InvalidRequestBody", str(exc)) from None
    summary: dict = {}
    for kind, section in normalised.items():
        summary.update(KINDS[kind].apply(data, section))
    return summary
