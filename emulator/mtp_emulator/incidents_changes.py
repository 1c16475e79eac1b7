"""Changes to a tenant's incidents over time, driven by the control plane (routes_incidents_control.py) and
by data documents (hunting/userdata.py kinds ``alerts`` and ``incident_merges``): update, merge, add alerts,
bulk generation.

Everything works on the canonical form of incidents.py (Graph camelCase enums, ``datetime`` values) and raises
:class:`incidents.InvalidValue` naming the bad field before anything changes. Every change bumps the
last-update time of what it touched, as the service does (docs/developer/reference/defender-api.md §4).
"""

from __future__ import annotations

import datetime as dt

from . import incidents as inc_mod
from .incidents import SEVERITY, STATUS, InvalidValue, normalize

UTC = dt.timezone.utc
MAX_GENERATE = 100_000
SEVERITY_RANK = {"unknown": 0, "informational": 1, "low": 2, "medium": 3, "high": 4}
UPDATE_KEYS = ("status", "severity", "title", "displayName", "description", "assignedTo", "classification",
               "determination", "tags", "customTags", "systemTags", "comment", "commentBy", "updated",
               "lastUpdateTime", "lastUpdateDateTime", "tenant")

# --- update ------------------------------------------------------------------------------------------------


def _string_list(body: dict, key: str) -> list[str]:
    value = body[key]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise InvalidValue(f"'{key}' must be a list of strings.")
    return list(value)


def _update_time(body: dict, now: dt.datetime) -> dt.datetime:
    from .hunting.userdata import parse_time

    for key in ("updated", "lastUpdateTime", "lastUpdateDateTime"):
        if body.get(key) is not None:
            try:
                return parse_time(body[key], now, key)
            except ValueError as exc:
                raise InvalidValue(str(exc)) from None
    return now


def update_incident(inc: dict, body: dict, now: dt.datetime | None = None) -> dict:
    """Control-plane update of one incident: any of :data:`UPDATE_KEYS` (enums in either casing; ``tags``
    replace; ``comment`` appends). Validates everything first; bumps ``lastUpdate`` (``updated`` sets it)."""
    now = now or dt.datetime.now(UTC)
    unknown = sorted(k for k in body if k not in UPDATE_KEYS)
    if unknown:
        raise InvalidValue(f"Unknown incident field(s) {', '.join(unknown)}. Known: {', '.join(UPDATE_KEYS[:-1])}.")
    work = {k: inc[k] for k in ("status", "severity", "name", "description", "assignedTo", "classification",
                                "determination", "tags", "systemTags")}
    if "status" in body:
        work["status"] = normalize(body["status"], STATUS, "status")
        if work["status"] == "redirected" and inc["status"] != "redirected":
            raise InvalidValue("status 'redirected' comes from a merge: POST /_emulator/incidents/merge.")
    if "severity" in body:
        work["severity"] = normalize(body["severity"], SEVERITY, "severity")
    for key in ("title", "displayName"):
        if key in body:
            if not isinstance(body[key], str) or not body[key].strip():
                raise InvalidValue(f"'{key}' must be a non-empty string.")
            work["name"] = body[key]
    for key in ("description", "assignedTo"):
        if key in body:
            if body[key] is not None and not isinstance(body[key], str):
                raise InvalidValue(f"'{key}' must be a string or null.")
            work[key] = body[key] if key == "assignedTo" else str(body[key] or "")
    if "classification" in body or "determination" in body:
        inc_mod.apply_classification(work, body)
    for key, target in (("tags", "tags"), ("customTags", "tags"), ("systemTags", "systemTags")):
        if key in body:
            work[target] = _string_list(body, key)
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or not comment):
        raise InvalidValue("'comment' must be a non-empty string.")
    when = _update_time(body, now)
    inc.update(work)
    if comment:
        inc["comments"].append({"comment": comment, "createdBy": str(body.get("commentBy") or "Automation"),
                                "createdTime": when})
    inc["updated"] = when
    inc["lastModifiedBy"] = "Automation"
    return inc


# --- merge -------------------------------------------------------------------------------------------------

def check_merge(store, sources: list, target) -> tuple[list[dict], dict]:
    """The incidents of a merge, or InvalidValue (unknown id, self-merge, already redirected)."""
    if not isinstance(sources, list) or not sources:
        raise InvalidValue("'sources' must be a non-empty list of incident ids.")
    into = store.get(target)
    if into is None:
        raise InvalidValue(f"Target incident {target} was not found.")
    if into["status"] == "redirected":
        raise InvalidValue(f"Target incident {target} is itself redirected to {into['redirectIncidentId']}.")
    found = []
    for sid in sources:
        src = store.get(sid)
        if src is None:
            raise InvalidValue(f"Source incident {sid} was not found.")
        if src is into or src in found:
            raise InvalidValue(f"Incident {sid} appears twice in the merge.")
        if src["status"] == "redirected":
            raise InvalidValue(f"Source incident {sid} is already redirected to {src['redirectIncidentId']}.")
        found.append(src)
    return found, into


def merge_incidents(store, sources: list, target, now: dt.datetime | None = None) -> dict:
    """Merge *sources* into *target*: each source becomes ``redirected`` with ``redirectIncidentId`` set and its
    alerts move to the target (their ``incidentId`` changes); the target takes the highest severity and the
    union of tags; all of them get a new last-update time."""
    now = now or dt.datetime.now(UTC)
    found, into = check_merge(store, sources, target)
    for src in found:
        for alert in src["alerts"]:
            alert["incidentId"] = into["id"]
            alert["updated"] = now
        into["alerts"].extend(src["alerts"])
        src["alerts"] = []
        src["status"] = "redirected"
        src["redirectIncidentId"] = into["id"]
        src["updated"] = now
        if SEVERITY_RANK.get(src["severity"], 0) > SEVERITY_RANK.get(into["severity"], 0):
            into["severity"] = src["severity"]
        into["tags"] += [t for t in src["tags"] if t not in into["tags"]]
    into["updated"] = now
    return {"target": into, "sources": found}


# --- alerts ------------------------------------------------------------------------------------------------

def add_alerts(store, inc: dict, specs: list[dict], now: dt.datetime | None = None) -> list[dict]:
    """Validated alert specs (incidents_userdata.validate_user_alerts) appended to *inc*; bumps it."""
    if inc["status"] == "redirected":
        raise InvalidValue(f"Incident {inc['id']} is redirected to {inc['redirectIncidentId']}: add alerts there.")
    now = now or dt.datetime.now(UTC)
    alerts = store.user_alerts(inc["id"], specs)
    inc["alerts"].extend(alerts)
    inc["updated"] = max(now, max(a["updated"] for a in alerts))
    if max(SEVERITY_RANK[a["severity"]] for a in alerts) > SEVERITY_RANK.get(inc["severity"], 0):
        inc["severity"] = max((a["severity"] for a in alerts), key=SEVERITY_RANK.get)
    return alerts


# --- bulk --------------------------------------------------------------------------------------------------

_TITLES = (("Suspicious PowerShell command line", "Execution", ["PowerShell (T1059.001)"]),
           ("Suspicious scheduled task", "Persistence", ["Scheduled Task (T1053.005)"]),
           ("Unusual sign-in activity", "InitialAccess", ["Valid Accounts (T1078)"]),
           ("Suspicious file dropped", "Malware", []),
           ("Anomalous account lookups", "Discovery", ["Account Discovery (T1087)"]),
           ("Suspicious process injection", "DefenseEvasion", ["Process Injection (T1055)"]))


def generate(store, count: int, start: dt.datetime, end: dt.datetime, ties: int = 1,
             huntable: bool = False) -> list[dict]:
    """*count* incidents created evenly over [start, end] (oldest first), each with one alert on a seeded
    device; ``lastUpdate`` a few minutes to hours after creation (never after *end*). Runs of *ties*
    consecutive incidents share one last-update time, so pages end inside ties. Bulk alerts stay out of the
    hunting tables unless *huntable*."""
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_GENERATE:
        raise InvalidValue(f"'count' must be an integer from 1 to {MAX_GENERATE}.")
    if not isinstance(ties, int) or isinstance(ties, bool) or ties < 1:
        raise InvalidValue("'ties' must be an integer >= 1.")
    if end <= start:
        raise InvalidValue("'end' must be after 'start'.")
    rng, dims, out = store.rng, store.dims, []
    step = (end - start) / count
    severities, statuses = ("informational", "low", "low", "medium", "medium", "high"), \
        ("active", "active", "inProgress", "resolved")
    updated = None
    for k in range(count):
        title, category, techniques = _TITLES[k % len(_TITLES)]
        created = start + step * k
        if k % ties == 0:  # one last-update time for the run, after the run's last creation
            last_created = start + step * (min(k + ties, count) - 1)
            updated = min(end, last_created + dt.timedelta(seconds=rng.randrange(60, 6 * 3600)))
        dev = dims.devices[rng.randrange(len(dims.devices))]
        user = dims.users[rng.randrange(len(dims.users))]
        severity, status = rng.choice(severities), rng.choice(statuses)

        def alerts_fn(iid, title=title, category=category, techniques=techniques, dev=dev, user=user,
                      severity=severity, created=created):
            alert = inc_mod._alert(store, iid, title, category, severity, "microsoftDefenderForEndpoint",
                                   "microsoftDefenderForEndpoint", created, techniques,
                                   [inc_mod._device_evidence(dev), inc_mod._user_evidence(user)])
            alert["_bulk"] = not huntable
            return [alert]

        inc = store._incident(f"{title} on one endpoint", severity, created, alerts_fn, status=status,
                              assigned=rng.choice([None, f"soc1@{store.domain}", f"soc2@{store.domain}"]))
        inc["updated"] = max(created, updated)
        for alert in inc["alerts"]:
            alert["updated"] = min(alert["updated"], inc["updated"])
        if status == "resolved":
            inc["classification"], inc["determination"] = rng.choice(
                [("falsePositive", "notMalicious"), ("truePositive", "malware"),
                 ("informationalExpectedActivity", "securityTesting")])
            for alert in inc["alerts"]:
                alert["status"], alert["resolved"] = "resolved", inc["updated"]
        out.append(inc)
    return out

