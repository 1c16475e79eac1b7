"""Users' own incidents and alerts (data documents, hunting/userdata.py; the control plane,
routes_incidents_control.py): validation into the canonical form of incidents.py.

Times may be relative (``-2h``; hunting/userdata.py). Every function raises :class:`incidents.InvalidValue`
(a ValueError) naming the bad field.
"""

from __future__ import annotations

import datetime as dt

from .hunting import generator
from .incidents import (ALERT_STATUS, SERVICE_SOURCES, SEVERITY, STATUS, InvalidValue, apply_classification,
                        normalize)

_EVIDENCE_KINDS = ("Machine", "User", "File", "Process", "Ip", "Url", "MailMessage", "RegistryKey", "RegistryValue")
_EVIDENCE_KEYS = {"Machine": ("LocalIP",), "User": ("AccountName", "AccountDomain", "AccountSid", "AccountObjectId",
                                                    "AccountUpn")}


def _user_alert(a, incident: dict, now: dt.datetime, what: str, parse, tenant_id: str) -> dict:
    from .hunting.tables import TABLES

    if not isinstance(a, dict) or not isinstance(a.get("title"), str) or not a["title"].strip():
        raise InvalidValue(f"{what}: an alert needs a 'title'.")
    source = str(a.get("serviceSource", "microsoftDefenderForEndpoint"))
    match = [k for k, (mtp, _) in SERVICE_SOURCES.items() if source.lower() in (k.lower(), mtp.lower())]
    if not match:
        raise InvalidValue(f"{what}: serviceSource '{source}' is not one of {', '.join(SERVICE_SOURCES)}.")
    evidence, columns = [], dict(TABLES["AlertEvidence"])
    devices = a.get("devices") or []
    if not isinstance(devices, list) or not all(isinstance(d, str) and d for d in devices):
        raise InvalidValue(f"{what}: 'devices' must be a list of device names.")
    if not isinstance(a.get("evidence") or [], list):
        raise InvalidValue(f"{what}: 'evidence' must be a list.")
    shorthand = [{"EntityType": "Machine", "DeviceName": d} for d in devices]
    for k, ev in enumerate(shorthand + list(a.get("evidence") or [])):
        if not isinstance(ev, dict) or ev.get("EntityType") not in _EVIDENCE_KINDS:
            raise InvalidValue(f"{what}.evidence[{k}]: 'EntityType' must be one of {', '.join(_EVIDENCE_KINDS)}.")
        unknown = sorted(c for c in ev if c not in columns)
        if unknown:
            raise InvalidValue(f"{what}.evidence[{k}]: unknown field(s) {', '.join(unknown)} (AlertEvidence "
                               "column names are used).")
        ev = {"EvidenceRole": "Impacted"} | ev
        if ev["EntityType"] == "Machine":
            if not isinstance(ev.get("DeviceName"), str) or not ev["DeviceName"]:
                raise InvalidValue(f"{what}.evidence[{k}]: a Machine needs its 'DeviceName'.")
            # the id a device loaded under that name gets (hunting/userdata.py)
            ev.setdefault("DeviceId", generator._h(tenant_id, "device", ev["DeviceName"].lower(), n=40))
        for key in _EVIDENCE_KEYS.get(ev["EntityType"], ()):
            ev.setdefault(key, None)
        evidence.append(ev)
    techniques = a.get("mitreTechniques", a.get("techniques", []))
    if not isinstance(techniques, list) or not all(isinstance(t, str) for t in techniques):
        raise InvalidValue(f"{what}: 'mitreTechniques' must be a list of strings.")
    return {
        "title": a["title"], "description": str(a.get("description", "")),
        "category": str(a.get("category", "SuspiciousActivity")),
        "severity": normalize(a.get("severity", incident["severity"]), SEVERITY, f"{what}.severity"),
        "status": normalize({"active": "inProgress"}.get(str(a.get("status", "new")).lower(), a.get("status", "new")),
                            ALERT_STATUS, f"{what}.status"),
        "serviceSource": match[0], "detectionSource": str(a.get("detectionSource", match[0])),
        "created": parse(a.get("created", incident["created"]), now, f"{what}.created"),
        "techniques": list(techniques), "evidence": evidence, "threatFamilyName": a.get("threatFamilyName"),
        "assignedTo": _optional_str(a, "assignedTo", what),
    }


def _optional_str(spec: dict, key: str, what: str):
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidValue(f"{what}: '{key}' must be a string or null.")
    return value


def _comments(spec: dict, now: dt.datetime, what: str, parse) -> list[dict]:
    items = spec.get("comments") or []
    if not isinstance(items, list):
        raise InvalidValue(f"{what}: 'comments' must be a list.")
    out = []
    for k, c in enumerate(items):
        c = {"comment": c} if isinstance(c, str) else c
        if not isinstance(c, dict) or not isinstance(c.get("comment"), str) or not c["comment"]:
            raise InvalidValue(f"{what}.comments[{k}]: a comment is a string or {{comment, createdBy, createdTime}}.")
        out.append({"comment": c["comment"], "createdBy": str(c.get("createdBy", "Automation")),
                    "createdTime": parse(c.get("createdTime", "now"), now, f"{what}.comments[{k}].createdTime")})
    return out


def _incident_id(spec: dict, what: str):
    value = spec.get("id", spec.get("incidentId"))
    if value is None:
        return None
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise InvalidValue(f"{what}: 'id' must be a positive integer.")
    return value


def validate_user_alerts(alerts, incident: dict, now: dt.datetime, what: str, tenant_id: str) -> list[dict]:
    """A list of alert specs (``title``, ``category``, ``severity``, ``status``, ``serviceSource``,
    ``detectionSource``, ``created``, ``mitreTechniques``, ``devices`` (names), ``evidence`` (AlertEvidence
    columns), ``assignedTo``) -> their validated form; *incident* gives the default severity and time."""
    from .hunting.userdata import parse_time

    if not isinstance(alerts, list) or not alerts:
        raise InvalidValue(f"{what}: 'alerts' must be a non-empty list.")
    return [_user_alert(a, incident, now, f"{what}[{k}]", parse_time, tenant_id) for k, a in enumerate(alerts)]


def validate_user_incident(spec, now: dt.datetime, what: str = "incident", tenant_id: str = "") -> dict:
    """A user's incident (``id``, ``title``, ``severity``, ``status``, ``created``, ``updated``, ``assignedTo``,
    ``tags``, ``systemTags``, ``classification``, ``determination``, ``description``, ``comments``, ``alerts``)
    -> its validated, normalised form.
    Times may be relative (hunting/userdata.py). Raises ValueError naming the bad field."""
    from .hunting.userdata import parse_time

    if not isinstance(spec, dict):
        raise InvalidValue(f"{what}: an incident is an object.")
    title = spec.get("title", spec.get("displayName", spec.get("incidentName")))
    if not isinstance(title, str) or not title.strip():
        raise InvalidValue(f"{what}: an incident needs a 'title'.")
    tags, system_tags = spec.get("tags", []), spec.get("systemTags", [])
    for key, value in (("tags", tags), ("systemTags", system_tags)):
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise InvalidValue(f"{what}: '{key}' must be a list of strings.")
    out = {
        "id": _incident_id(spec, what), "systemTags": list(system_tags),
        "comments": _comments(spec, now, what, parse_time),
        "title": title, "description": str(spec.get("description", "")),
        "severity": normalize(spec.get("severity", "medium"), SEVERITY, f"{what}.severity"),
        "status": normalize(spec.get("status", "active"), STATUS, f"{what}.status"),
        "created": parse_time(spec.get("created", "now"), now, f"{what}.created"),
        "assignedTo": _optional_str(spec, "assignedTo", what), "tags": list(tags),
        "classification": spec.get("classification"), "determination": spec.get("determination"),
    }
    probe = {"classification": None, "determination": None}
    if out["classification"] or out["determination"]:
        apply_classification(probe, {"classification": out["classification"],
                                     "determination": out["determination"]})
    out["updated"] = parse_time(spec["updated"], now, f"{what}.updated") if spec.get("updated") else None
    if out["status"] == "redirected":
        raise InvalidValue(f"{what}: status 'redirected' comes from a merge (incident_merges), not from a value.")
    alerts = spec.get("alerts") or [{"title": title}]
    out["alerts"] = validate_user_alerts(alerts, out, now, f"{what}.alerts", tenant_id)
    return out


def validate_ids(section: list, what: str) -> None:
    """Explicit incident ids in one section are unique."""
    seen: set = set()
    for k, spec in enumerate(section):
        if spec.get("id") is not None:
            if spec["id"] in seen:
                raise InvalidValue(f"{what}[{k}]: id {spec['id']} appears twice.")
            seen.add(spec["id"])
