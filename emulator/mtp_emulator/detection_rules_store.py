"""Graph custom detection rules of one tenant (schema generation A): validation, storage, simulated runs.

Contract: docs/developer/reference/response-and-content.md §5.2, §5.4 and §8 ("Detection rules"). Stored in
each tenant's data dict (``hunting.tenant_data(state, tenant)["detection_rules"]``, cleared by
``POST /_emulator/reset``): ``{"rules": {id: rule}, "next_id": int, "page_size": int}``.

A rule's query is run through the tenant's hunting engine (``hunting.tenant_data(...)["engine"].run``) to learn
the columns it returns; a query that fails there fails validation with the engine's message (line and column
for a parse error). Users' own test data: :func:`load_detection_rules`, and the ``detection_rules`` kind of a
data document (:func:`validate_section` / :func:`apply_section`, the ``Kind`` of hunting/userdata.py).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import uuid

STORE_KEY = "detection_rules"
FIRST_ID = 35079
PAGE_SIZE = 100
PERIODS = ("0", "1H", "3H", "12H", "24H")
SEVERITIES = ("informational", "low", "medium", "high")
ASSET_TYPES = ("#microsoft.graph.security.impactedDeviceAsset", "#microsoft.graph.security.impactedUserAsset",
               "#microsoft.graph.security.impactedMailboxAsset")
RESPONSE_ACTIONS = tuple("#microsoft.graph.security.%sResponseAction" % name for name in (
    "isolateDevice", "collectInvestigationPackage", "runAntivirusScan", "initiateInvestigation",
    "restrictAppExecution", "stopAndQuarantineFile", "allowFile", "blockFile", "disableUser",
    "forceUserPasswordReset", "markUserAsCompromised", "hardDelete", "softDelete", "moveToInbox",
    "moveToDeletedItems", "moveToJunk"))
ENTITY_COLUMNS = ("DeviceId", "DeviceName", "RemoteDeviceName", "RecipientEmailAddress", "SenderFromAddress",
                  "SenderMailFromAddress", "RecipientObjectId", "AccountObjectId", "AccountSid", "AccountUpn",
                  "InitiatingProcessAccountSid", "InitiatingProcessAccountUpn", "InitiatingProcessAccountObjectId")
READ_ONLY = ("id", "detectorId", "createdBy", "createdDateTime", "lastModifiedBy", "lastModifiedDateTime",
             "lastRunDetails")
PATCHABLE_TEMPLATE = ("title", "category", "description", "recommendedActions", "severity", "impactedAssets")
NRT_FORBIDDEN = re.compile(r"\b(join|union|externaldata)\b|//", re.I)
UTC = dt.timezone.utc


class RuleInvalid(Exception):
    """A rule the service answers 400 for."""


def now_text() -> str:
    return dt.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def store_of(data: dict) -> dict:
    """The rule store inside one tenant's data dict (``hunting.tenant_data``)."""
    return data.setdefault(STORE_KEY, {"rules": {}, "next_id": FIRST_ID, "page_size": PAGE_SIZE})


def tenant_store(state, tenant) -> tuple:
    """``(tenant data dict, rule store)`` of one tenant."""
    from .hunting import tenant_data

    with state.lock:
        data = tenant_data(state, tenant)
        return data, store_of(data)


def query_columns(data: dict, query: str) -> list[str]:
    """The columns ``query`` returns, from the tenant's hunting engine; :class:`RuleInvalid` with its message."""
    from .hunting.engine import HuntingError

    try:
        result = data["engine"].run(query, row_limit=1)
    except HuntingError as exc:
        raise RuleInvalid(f"The query is not valid: {exc.message}") from None
    return [name for name, _, _ in result["columns"]]


def _check_columns(columns: list[str], rule: dict) -> None:
    missing = [c for c in ("Timestamp", "ReportId") if c not in columns]
    if missing:
        raise RuleInvalid(f"The query must return the columns Timestamp and ReportId; missing: {', '.join(missing)}.")
    if not any(c in columns for c in ENTITY_COLUMNS):
        raise RuleInvalid("The query must return at least one impacted-entity column (for example DeviceId, "
                          "AccountObjectId or RecipientEmailAddress).")
    action = rule.get("detectionAction") or {}
    template = action.get("alertTemplate") or {}
    for item in list(template.get("impactedAssets") or []) + list(action.get("responseActions") or []):
        ident = item.get("identifier")
        if ident and ident.lower() not in {c.lower() for c in columns}:
            raise RuleInvalid(f"The identifier '{ident}' is not a column the query returns.")


def _check_template(template) -> None:
    if not isinstance(template, dict):
        raise RuleInvalid("detectionAction.alertTemplate is required.")
    if not isinstance(template.get("title"), str) or not template["title"].strip():
        raise RuleInvalid("alertTemplate.title is required.")
    if template.get("severity") not in SEVERITIES:
        raise RuleInvalid(f"alertTemplate.severity must be one of {', '.join(SEVERITIES)}.")
    for asset in template.get("impactedAssets") or []:
        if not isinstance(asset, dict) or asset.get("@odata.type") not in ASSET_TYPES or not asset.get("identifier"):
            raise RuleInvalid(f"impactedAssets items need an @odata.type of {', '.join(ASSET_TYPES)} and an identifier.")
    techniques = template.get("mitreTechniques")
    if techniques is not None and (not isinstance(techniques, list)
                                   or not all(isinstance(t, str) and re.fullmatch(r"T\d{4}(\.\d{3})?", t)
                                              for t in techniques)):
        raise RuleInvalid("alertTemplate.mitreTechniques must be a list of technique ids such as T1059.001.")


def _check_shape(rule: dict) -> None:
    if not isinstance(rule.get("displayName"), str) or not rule["displayName"].strip():
        raise RuleInvalid("displayName is required.")
    if "isEnabled" in rule and not isinstance(rule["isEnabled"], bool):
        raise RuleInvalid("isEnabled must be true or false.")
    query = (rule.get("queryCondition") or {}).get("queryText")
    if not isinstance(query, str) or not query.strip():
        raise RuleInvalid("queryCondition.queryText is required.")
    period = (rule.get("schedule") or {}).get("period")
    if period not in PERIODS:
        raise RuleInvalid(f"schedule.period must be one of {', '.join(PERIODS)}; got {period!r}.")
    if period == "0" and NRT_FORBIDDEN.search(query):
        raise RuleInvalid("A continuous (NRT) rule must query a single table without joins, unions, externaldata "
                          "or comments.")
    action = rule.get("detectionAction")
    if not isinstance(action, dict):
        raise RuleInvalid("detectionAction is required.")
    _check_template(action.get("alertTemplate"))
    for item in action.get("responseActions") or []:
        if not isinstance(item, dict) or item.get("@odata.type") not in RESPONSE_ACTIONS:
            raise RuleInvalid(f"Unknown response action type {item.get('@odata.type') if isinstance(item, dict) else item!r}.")


def validate(data: dict, rule: dict) -> None:
    """The documented validation: shape, schedule, then the query's columns through the hunting engine."""
    _check_shape(rule)
    _check_columns(query_columns(data, rule["queryCondition"]["queryText"]), rule)


def _writable(body: dict) -> dict:
    out = copy.deepcopy({k: v for k, v in body.items() if k not in READ_ONLY and k != "@odata.type"})
    out.setdefault("isEnabled", True)
    action = out.setdefault("detectionAction", {})
    action.setdefault("organizationalScope", None)
    action.setdefault("responseActions", [])
    template = action.setdefault("alertTemplate", {})
    for key, default in (("description", None), ("category", None), ("recommendedActions", None),
                         ("mitreTechniques", []), ("impactedAssets", [])):
        template.setdefault(key, default)
    return out


def create(data: dict, body: dict, actor: str) -> dict:
    """A POST into one tenant's data dict: validated, stored, returned."""
    stored = store_of(data)
    rule = _writable(body)
    validate(data, rule)
    now = now_text()
    ident = str(stored["next_id"])
    stored["next_id"] += 1
    rule["queryCondition"] = {"queryText": rule["queryCondition"]["queryText"], "lastModifiedDateTime": now}
    rule["schedule"] = {"period": rule["schedule"]["period"], "nextRunDateTime": now}
    out = {"id": ident, "displayName": rule.pop("displayName"), "isEnabled": rule.pop("isEnabled"),
           "createdBy": actor, "createdDateTime": now, "lastModifiedBy": actor, "lastModifiedDateTime": now,
           "detectorId": str(uuid.uuid4()),
           "lastRunDetails": {"lastRunDateTime": None, "status": None, "failureReason": None, "errorCode": None}}
    out.update(rule)
    stored["rules"][ident] = out
    return out


def update(data: dict, rule: dict, body: dict, actor: str) -> dict:
    """A PATCH: only the documented writable keys; read-only keys -> :class:`RuleInvalid`."""
    bad = [k for k in body if k in READ_ONLY]
    if bad:
        raise RuleInvalid(f"The property '{bad[0]}' is read-only and cannot be updated.")
    merged = copy.deepcopy(rule)
    for key in ("displayName", "isEnabled"):
        if key in body:
            merged[key] = body[key]
    if "queryCondition" in body:
        merged["queryCondition"]["queryText"] = (body["queryCondition"] or {}).get("queryText")
    if "schedule" in body:
        merged["schedule"]["period"] = (body["schedule"] or {}).get("period")
    action = body.get("detectionAction") or {}
    for key in ("responseActions", "organizationalScope"):
        if key in action:
            merged["detectionAction"][key] = action[key]
    for key, value in (action.get("alertTemplate") or {}).items():
        if key not in PATCHABLE_TEMPLATE:
            raise RuleInvalid(f"alertTemplate.{key} cannot be updated.")
        merged["detectionAction"]["alertTemplate"][key] = value
    validate(data, merged)
    now = now_text()
    if "queryCondition" in body:
        merged["queryCondition"]["lastModifiedDateTime"] = now
    merged.update({"lastModifiedBy": actor, "lastModifiedDateTime": now})
    rule.clear()
    rule.update(merged)
    return rule


def simulate_run(rule: dict, status: str = "completed") -> None:
    """A scheduled run: ``lastRunDetails`` filled, ``nextRunDateTime`` advanced; ``autoDisabled`` disables it."""
    now = dt.datetime.now(UTC)
    hours = {"0": 0, "1H": 1, "3H": 3, "12H": 12, "24H": 24}.get(rule["schedule"]["period"], 24)
    rule["lastRunDetails"] = {"lastRunDateTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                              "status": "failed" if status == "autoDisabled" else status,
                              "failureReason": "The rule was disabled automatically." if status == "autoDisabled" else None,
                              "errorCode": None}
    rule["schedule"]["nextRunDateTime"] = (now + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if status == "autoDisabled":
        rule["isEnabled"] = False


def load_detection_rules(state, tenant, rows: list, actor: str = "seeded@emulator") -> list[dict]:
    """Load users' own rules (Graph create bodies) into a tenant, validated as a POST; returns them."""
    data, _store = tenant_store(state, tenant)
    with state.lock:
        return [create(data, row, actor) for row in rows or []]


def validate_section(items, now, tenant) -> list:
    """The ``detection_rules`` kind of a users' data document (hunting/userdata.py): Graph create bodies,
    shape-checked here; the query's columns are checked when the section is applied (that needs the engine)."""
    if not isinstance(items, list):
        raise ValueError("detection_rules: expected a list of rules (Graph create bodies)")
    for index, row in enumerate(items):
        try:
            _check_shape(_writable(row if isinstance(row, dict) else {}))
        except RuleInvalid as exc:
            raise ValueError(f"detection_rules[{index}]: {exc}") from None
    return items


def apply_section(data: dict, section: list) -> dict:
    """Add a validated ``detection_rules`` section to one tenant's data; ValueError when a query fails."""
    try:
        return {"detection_rules": [create(data, row, "seeded@emulator")["id"] for row in section]}
    except RuleInvalid as exc:
        raise ValueError(f"detection_rules: {exc}") from None
