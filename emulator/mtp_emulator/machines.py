"""The MDE machines store: machines, machine actions, live-response sessions and library files, per tenant.

Wire facts: docs/developer/reference/response-and-content.md §1-§3 and its emulator checklist (§8).

* Machines are seeded deterministically from the devices of the hunting ``DeviceInfo`` table
  (``hunting/generator.py`` ``Dimensions``): same ``DeviceId`` and ``DeviceName``, so a hunting query that
  selects ``DeviceId`` finds the machine. :func:`load_machines` replaces them with a user's own rows (the hook
  for the user-data fixture loader).
* Actions move ``Pending`` -> ``InProgress`` -> ``Succeeded`` on the wall clock: ``pending_seconds`` then
  ``running_seconds`` (control settings). An outcome queued with :func:`queue_outcome` (``Failed``,
  ``TimeOut``, ``Pending`` = an offline device that never picks it up) replaces the success of the next action
  of that type. Status is computed when read (:func:`advance`); a success applies its effect to the machine
  (isolation, restriction, offboarding).
* Everything lives in ``state.extras["machines"]`` as plain JSON (it survives ``--persist``); the switches in
  ``state.extras["machines_ctl"]``; ``POST /_emulator/reset`` clears both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid

from .hunting.generator import Dimensions

UTC = dt.timezone.utc
FINAL = ("Succeeded", "Failed", "TimeOut", "Cancelled")
ACTIVE = ("Pending", "InProgress")
# action type -> the machine field its success sets, and the value
EFFECTS = {
    "Isolate": ("isolation", "scope"), "Unisolate": ("isolation", None),
    "RestrictCodeExecution": ("restricted", True), "UnrestrictCodeExecution": ("restricted", False),
    "Offboard": ("onboardingStatus", "Offboarded"),
}
DEFAULT_CTL = {
    "pending_seconds": 1.0, "running_seconds": 1.0,
    "duplicate": "error",        # "error": 400 ActiveRequestAlreadyExists; "echo": return the pending action
    "offboard_status": 201,      # the docs say 200 - Created: either by switch
    "quoted_package_uri": True,  # the doc sample's value carries embedded quotes
    "page_size": 10000,          # page size without $top (then a nextLink with $skip)
    "list_lag_seconds": 0,       # a new action shows in GET /api/machineactions after this delay (replication)
    "outcomes": {},              # type -> ["Failed" | "TimeOut" | "Pending", ...] for the next actions
    "unsupported": {},           # type -> [osPlatform, ...] answered 400 (the OS support matrix)
}
_HEALTH = ("Active", "Active", "Active", "Inactive", "ImpairedCommunication")
_RISK = ("None", "Low", "Medium", "High", "Informational")


def now_iso(ts: float | None = None) -> str:
    when = dt.datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}0Z"


def controls(state) -> dict:
    with state.lock:
        ctl = state.extras.setdefault("machines_ctl", {})
        for key, value in DEFAULT_CTL.items():
            ctl.setdefault(key, value if not isinstance(value, dict) else {})
        return ctl


def machine_from_device(device: dict, anchor: float) -> dict:
    """The machine entity (§1.4) of one hunting dimension device."""
    k = device["idx"]
    platform = device["OSPlatform"]
    return {
        "id": device["DeviceId"], "computerDnsName": device["DeviceName"],
        "firstSeen": now_iso(anchor - 86400 * (200 + k)), "lastSeen": now_iso(anchor - 3600 * (k % 20)),
        "osPlatform": platform, "version": device.get("OSVersion"),
        "osProcessor": "x64", "osBuild": device.get("OSBuild") or None, "osArchitecture": "64-bit",
        "onboardingStatus": "onboarded", "lastIpAddress": device.get("LocalIP"),
        "lastExternalIpAddress": device.get("PublicIP"), "healthStatus": _HEALTH[k % len(_HEALTH)],
        "rbacGroupId": 100 + k % 7, "rbacGroupName": device.get("MachineGroup"),
        "riskScore": _RISK[k % len(_RISK)], "exposureLevel": ("Low", "Medium", "High")[k % 3],
        "deviceValue": "Normal", "isAadJoined": True, "aadDeviceId": device.get("AadDeviceId"),
        "machineTags": [device["MachineGroup"]] if device.get("MachineGroup") else [],
        "_isolation": None, "_restricted": False,
    }


def _normalise(row: dict) -> dict:
    """A user's machine row, with the defaults of a seeded one for what it leaves out."""
    name = row.get("computerDnsName") or row.get("DeviceName")
    ident = row.get("id") or row.get("DeviceId") or hashlib.sha256(str(name).encode()).hexdigest()[:40]
    machine = machine_from_device({"idx": 0, "DeviceId": ident, "DeviceName": name, "OSPlatform": row.get(
        "osPlatform") or row.get("OSPlatform") or "Windows11", "MachineGroup": None}, time.time())
    machine.update({k: v for k, v in row.items() if k not in ("DeviceId", "DeviceName", "OSPlatform")})
    machine["machineTags"] = list(machine.get("machineTags") or [])
    machine.setdefault("_isolation", None)
    machine.setdefault("_restricted", False)
    return machine


def _new_store(tenant) -> dict:
    anchor = time.time()
    machines = [machine_from_device(d, anchor) for d in Dimensions(tenant.id, tenant.domain).devices]
    return {"machines": machines, "actions": [], "library": {}, "downloads": {}}


def store(state, tenant) -> dict:
    """The tenant's store, seeded on first use, with the devices users loaded (``devices`` in a data document,
    hunting/userdata.py) merged in: a new id is added, a reloaded one replaces its earlier version."""
    from .hunting import tenant_data

    loaded = tenant_data(state, tenant).get("machines") or []
    with state.lock:
        per = state.extras.setdefault("machines", {})
        if tenant.id not in per:
            per[tenant.id] = _new_store(tenant)
        data = per[tenant.id]
        _merge_loaded(data, loaded)
        return data


def _merge_loaded(data: dict, loaded: list) -> None:
    index = {m["id"]: i for i, m in enumerate(data["machines"])}
    for row in loaded:
        known = index.get(row.get("id"))
        source = json.dumps(row, sort_keys=True, default=str)
        if known is not None and data["machines"][known].get("_source") == source:
            continue  # this version is in already (actions may have changed its state since)
        machine = _normalise(dict(row))
        machine["_source"] = source
        if known is None:
            index[machine["id"]] = len(data["machines"])
            data["machines"].append(machine)
        else:
            data["machines"][known] = machine


def load_machines(state, tenant, rows: list) -> int:
    """Replace the tenant's machines with ``rows`` (machine entities, or ``DeviceInfo``-style rows with
    ``DeviceId``/``DeviceName``/``OSPlatform``); actions and sessions are cleared. Returns the count."""
    machines = [_normalise(dict(row)) for row in rows]
    with state.lock:
        state.extras.setdefault("machines", {})[tenant.id] = {"machines": machines, "actions": [], "library": {},
                                                             "downloads": {}}
    return len(machines)


# --- bulk generation (POST /_emulator/machines/generate) -----------------------------------------------------

GEN_OS = ("Windows10", "Windows11", "WindowsServer2019", "WindowsServer2022", "Linux", "macOS")
GEN_HEALTH = ("Active", "Inactive", "ImpairedCommunication", "NoSensorData", "NoSensorDataImpairedCommunication",
              "Unknown")
GEN_RISK = ("None", "Informational", "Low", "Medium", "High")
GEN_EXPOSURE = ("None", "Low", "Medium", "High")
GEN_ONBOARDING = ("onboarded",) * 7 + ("CanBeOnboarded", "Unsupported", "InsufficientInfo")
GEN_GROUPS = ("Finance", "Engineering", "Sales", "Servers", "Lab", "Kiosks", "UnassignedGroup")
GEN_MAX = 200000


def generated_machine(tenant_id: str, seed: str, k: int, domain: str, named: bool, anchor: float) -> dict:
    """Machine ``k`` of a generated fleet: every field a plain function of ``k``, so counts per value are
    predictable (of 12,000: 2,000 per OS and per health status, 2,400 per risk score, 3,000 per exposure level,
    8,400 onboarded; tag ``VIP`` on every 3rd machine, ``PCI`` on every 5th)."""
    ident = hashlib.sha1(f"{tenant_id}/{seed}/{k}".encode()).hexdigest()
    ip = f"10.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}"
    tags = (["VIP"] if k % 3 == 0 else []) + (["PCI"] if k % 5 == 0 else [])
    return {
        "id": ident, "computerDnsName": f"dev-{k:06d}.{domain}" if named else None,
        "firstSeen": now_iso(anchor - 86400 * (30 + k % 300)), "lastSeen": now_iso(anchor - 60 * (k % 1440)),
        "osPlatform": GEN_OS[k % 6], "version": "22H2", "osProcessor": "x64", "osBuild": 19045 + k % 4,
        "osArchitecture": "64-bit", "onboardingStatus": GEN_ONBOARDING[k % 10], "lastIpAddress": ip,
        "lastExternalIpAddress": "20.0.%d.%d" % ((k >> 8) & 255, k & 255),
        "ipAddresses": [{"ipAddress": ip, "macAddress": "%012X" % (0x3C0000000000 + k), "operationalStatus": "Up"}],
        "healthStatus": GEN_HEALTH[(k // 2) % 6], "rbacGroupId": 201 + k % 7, "rbacGroupName": GEN_GROUPS[k % 7],
        "riskScore": GEN_RISK[k % 5], "exposureLevel": GEN_EXPOSURE[k % 4], "deviceValue": "Normal",
        "isAadJoined": GEN_OS[k % 6].startswith("Windows1"), "aadDeviceId": None, "machineTags": tags,
        "_isolation": None, "_restricted": False,
    }


def generate_machines(state, tenant, count: int, seed: str = "fleet", unnamed: int = 0) -> int:
    """Replace the tenant's machines with ``count`` generated ones (the last ``unnamed`` without a DNS name);
    actions and sessions are cleared, as by :func:`load_machines`. Returns the count."""
    domain = (tenant.domain or "example.local").split(".")[0] + ".local"
    anchor = time.time()
    machines = [generated_machine(tenant.id, seed, k, domain, k < count - unnamed, anchor) for k in range(count)]
    with state.lock:
        state.extras.setdefault("machines", {})[tenant.id] = {"machines": machines, "actions": [], "library": {},
                                                             "downloads": {}}
    return len(machines)


def public(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def find_machine(data: dict, key: str) -> dict | None:
    """A machine by its id or its computer name (§1.2), case-insensitively."""
    key = (key or "").lower()
    for machine in data["machines"]:
        name = str(machine.get("computerDnsName") or "").lower()
        if machine["id"].lower() == key or name == key or name.split(".")[0] == key:
            return machine
    return None


# --- actions -------------------------------------------------------------------------------------------------

def new_action(machine: dict, kind: str, requestor: str, comment: str, scope=None, file_info=None,
               commands=None, ctl=None) -> dict:
    outcomes = (ctl or {}).get("outcomes", {}).get(kind) or []
    outcome = outcomes.pop(0) if outcomes else "Succeeded"
    created = time.time()
    action = {
        "id": str(uuid.uuid4()), "type": kind, "title": f"{kind} by {requestor}", "scope": scope,
        "requestor": requestor, "requestorComment": comment, "requestSource": "PublicApi", "status": "Pending",
        "machineId": machine["id"], "computerDnsName": machine.get("computerDnsName"),
        "creationDateTimeUtc": now_iso(created), "lastUpdateDateTimeUtc": now_iso(created),
        "cancellationRequestor": None, "cancellationComment": None, "cancellationDateTimeUtc": None,
        "errorHResult": 0, "troubleshootInfo": None, "externalId": None, "relatedFileInfo": file_info,
        "commands": commands or [],
        "_created": created, "_outcome": outcome, "_applied": False,
    }
    return action


def _finish_commands(action: dict, status: str, at: float) -> None:
    for cmd in action.get("commands") or []:
        if status == "Succeeded":
            cmd["commandStatus"] = "Completed"
            cmd["startTime"] = cmd["startTime"] or now_iso(at - 0.5)
            cmd["endTime"] = now_iso(at)
        elif status == "Failed" and cmd["index"] == 0:
            cmd["commandStatus"] = "Failed"
            cmd["errors"] = ["The script failed: exit code 1"]
            cmd["startTime"] = now_iso(at - 0.5)
            cmd["endTime"] = now_iso(at)


def _apply_effect(data: dict, action: dict) -> None:
    effect = EFFECTS.get(action["type"])
    machine = find_machine(data, action["machineId"])
    if effect is None or machine is None:
        return
    field, value = effect
    if field == "isolation":
        machine["_isolation"] = action.get("scope") if value == "scope" else None
    elif field == "restricted":
        machine["_restricted"] = value
    else:
        machine[field] = value
        machine["healthStatus"] = "Inactive"


def _set_status(action: dict, status: str, at: float) -> None:
    if action["status"] != status:
        action["status"] = status
        action["lastUpdateDateTimeUtc"] = now_iso(at)


def advance(state, data: dict, now: float | None = None) -> None:
    """Move every active action of a tenant along the clock (oldest first, so effects apply in order)."""
    ctl = controls(state)
    now = time.time() if now is None else now
    pending, running = float(ctl["pending_seconds"]), float(ctl["running_seconds"])
    with state.lock:
        for action in sorted(data["actions"], key=lambda a: a["_created"]):
            if action["status"] not in ACTIVE:
                continue
            outcome = action["_outcome"]
            started = action["_created"] + pending
            if outcome == "Pending" or now < started:
                continue
            if now < started + running:
                _set_status(action, "InProgress", started)
                continue
            _set_status(action, outcome, started + running)
            _finish_commands(action, outcome, started + running)
            if outcome == "Succeeded" and not action["_applied"]:
                action["_applied"] = True
                _apply_effect(data, action)


def active_action(data: dict, machine_id: str, kind: str) -> dict | None:
    """The newest Pending/InProgress action of ``kind`` on the machine."""
    found = [a for a in data["actions"] if a["machineId"] == machine_id and a["type"] == kind and a["status"] in ACTIVE]
    return max(found, key=lambda a: a["_created"]) if found else None


def cancel(action: dict, requestor: str, comment: str | None) -> None:
    at = time.time()
    _set_status(action, "Cancelled", at)
    action["cancellationRequestor"] = requestor
    action["cancellationComment"] = comment
    action["cancellationDateTimeUtc"] = now_iso(at)


def queue_outcome(state, kind: str, outcome: str, count: int = 1) -> list:
    """Make the next ``count`` actions of ``kind`` end in ``outcome`` (``Failed``, ``TimeOut``, ``Pending``)."""
    ctl = controls(state)
    with state.lock:
        queue = ctl["outcomes"].setdefault(kind, [])
        queue.extend([outcome] * count)
        return list(queue)


# --- downloads and library -------------------------------------------------------------------------------

def add_download(data: dict, content: str, name: str, ttl: int = 1800) -> str:
    """A short-lived download token for ``content`` (a SAS-like link served by the emulator)."""
    token = uuid.uuid4().hex
    data["downloads"][token] = {"content": content, "name": name, "expires": time.time() + ttl}
    return token


def get_download(data: dict, token: str) -> dict | None:
    item = data["downloads"].get(token)
    if item is None or item["expires"] < time.time():
        return None
    return item


def package_content(action: dict) -> str:
    return f"investigation package of {action['computerDnsName']} (action {action['id']})\n"


def command_result(action: dict, command: dict) -> str:
    """The transcript a finished command's download link serves (§3.2)."""
    import json

    params = {p.get("key"): p.get("value") for p in command["command"].get("params") or []}
    if command["command"]["type"] == "RunScript":
        ok = command["commandStatus"] == "Completed"
        return json.dumps({"script_name": params.get("ScriptName"), "exit_code": 0 if ok else 1,
                           "script_output": f"ran {params.get('ScriptName')} {params.get('Args') or ''}".strip()
                           + f" on {action['computerDnsName']}", "script_errors": "" if ok else "failed"})
    return f"contents of {params.get('Path')} from {action['computerDnsName']}\n"


def library_entry(name: str, content: bytes, description: str, params_desc: str, has_params: bool,
                  creator: str, previous: dict | None) -> dict:
    stamp = now_iso()
    return {
        "fileName": name, "sha256": hashlib.sha256(content).hexdigest(), "description": description or "",
        "creationTime": previous["creationTime"] if previous else stamp, "lastUpdatedTime": stamp,
        "createdBy": creator, "hasParameters": bool(has_params), "parametersDescription": params_desc or None,
    }
