"""MDE indicators of one tenant: validation, the (type, value, action) upsert, the active limit, visibility.

The wire contract is docs/developer/reference/response-and-content.md §4 and §8 ("Indicators"). Stored per tenant
in its data dict (``hunting.tenant_data(state, tenant)["indicators"]``, cleared by ``POST /_emulator/reset``):
``{"items": {id: indicator}, "next_id": int, "active_limit": int, "duplicate_mode": bool}``.

Users' own test data: :func:`load_indicators` (a test calling it directly) and the ``indicators`` kind of a
data document (:func:`validate_section` / :func:`apply_section`, the ``Kind`` of hunting/userdata.py).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re

STORE_KEY = "indicators"
ACTIVE_LIMIT = 15000
IMPORT_MAX = 500

TYPES = ("FileSha1", "FileSha256", "FileMd5", "CertificateThumbprint", "IpAddress", "DomainName", "Url")
ACTIONS = ("Alert", "Warn", "Block", "Audit", "BlockAndRemediate", "AlertAndBlock", "Allowed")
SEVERITIES = ("Informational", "Low", "Medium", "High")
CASELESS_TYPES = ("FileSha1", "FileSha256", "FileMd5", "CertificateThumbprint", "DomainName", "IpAddress")
HEX_LENGTHS = {"FileSha1": 40, "FileSha256": 64, "FileMd5": 32, "CertificateThumbprint": 40}
WRITABLE = ("indicatorValue", "indicatorType", "action", "title", "description", "application", "expirationTime",
            "severity", "recommendedActions", "rbacGroupNames", "educateUrl", "generateAlert", "category",
            "bypassDurationHours", "notificationId", "notificationBody", "version", "mitreTechniques",
            "historicalDetection", "lookBackPeriod", "additionalInfo", "externalId", "certificateInfo")
CREATE_ONLY = ("application", "version", "certificateInfo")
UTC = dt.timezone.utc


class IndicatorInvalid(Exception):
    """A body the service answers 400 for (``message`` in the service's words)."""


class LimitReached(Exception):
    """The tenant would pass its active-indicator limit."""


def now_text() -> str:
    return dt.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def store_of(data: dict) -> dict:
    """The indicator store inside one tenant's data dict (``hunting.tenant_data``)."""
    return data.setdefault(STORE_KEY, {"items": {}, "next_id": 1, "active_limit": ACTIVE_LIMIT, "duplicate_mode": False})


def store(state, tenant) -> dict:
    from .hunting import tenant_data

    with state.lock:
        return store_of(tenant_data(state, tenant))


def parse_time(text):
    if text is None:
        return None
    if not isinstance(text, str):
        raise IndicatorInvalid("expirationTime must be a DateTimeOffset string.")
    value = text.strip().replace("Z", "+00:00")
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise IndicatorInvalid(f"The value '{text}' is not a valid DateTimeOffset for expirationTime.") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def is_active(indicator: dict, now: dt.datetime | None = None) -> bool:
    expires = parse_time(indicator.get("expirationTime"))
    return expires is None or expires > (now or dt.datetime.now(UTC))


def value_key(kind: str, value: str) -> str:
    return value.lower() if kind in CASELESS_TYPES else value


def _check_value(kind: str, value: str) -> None:
    if kind in HEX_LENGTHS and not re.fullmatch(r"[0-9A-Fa-f]{%d}" % HEX_LENGTHS[kind], value):
        raise IndicatorInvalid(f"'{value}' is not a valid {kind} value.")
    if kind == "IpAddress":
        if "/" in value:
            raise IndicatorInvalid("CIDR notation is not supported for IpAddress indicators.")
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise IndicatorInvalid(f"'{value}' is not a valid IpAddress value.") from None


def validate(body) -> dict:
    """The submitted indicator (known fields only) or :class:`IndicatorInvalid`."""
    if not isinstance(body, dict):
        raise IndicatorInvalid("The indicator must be a JSON object.")
    for name in ("indicatorValue", "indicatorType", "action", "title", "description"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise IndicatorInvalid(f"The field '{name}' is required.")
    if body["indicatorType"] not in TYPES:
        raise IndicatorInvalid(f"'{body['indicatorType']}' is not a valid indicatorType. Valid: {', '.join(TYPES)}.")
    if body["action"] not in ACTIONS:
        raise IndicatorInvalid(f"'{body['action']}' is not a valid action. Valid: {', '.join(ACTIONS)}.")
    if body.get("severity") is not None and body["severity"] not in SEVERITIES:
        raise IndicatorInvalid(f"'{body['severity']}' is not a valid severity. Valid: {', '.join(SEVERITIES)}.")
    if body.get("generateAlert") is not None and not isinstance(body["generateAlert"], bool):
        raise IndicatorInvalid("generateAlert must be true or false.")
    if body["action"] == "Audit" and body.get("generateAlert") is not True:
        raise IndicatorInvalid("The Audit action requires generateAlert to be true.")
    groups = body.get("rbacGroupNames")
    if groups is not None and (not isinstance(groups, list) or not all(isinstance(g, str) for g in groups)):
        raise IndicatorInvalid("rbacGroupNames must be an array of strings.")
    _check_value(body["indicatorType"], body["indicatorValue"])
    parse_time(body.get("expirationTime"))
    return {k: body[k] for k in WRITABLE if k in body}


def visible(indicator: dict, claims: dict) -> bool:
    """``Ti.ReadWrite`` sees only what its app created; ``Ti.ReadWrite.All`` / ``Ti.Read.All`` see all."""
    roles = set(claims.get("roles") or [])
    if roles & {"Ti.ReadWrite.All", "Ti.Read.All"}:
        return True
    if "scp" in claims:
        return True
    return indicator.get("createdBy") == claims.get("appid")


def active_items(data: dict) -> list[dict]:
    now = dt.datetime.now(UTC)
    return [i for i in data["items"].values() if is_active(i, now)]


def upsert_key(item: dict) -> tuple:
    return (item["indicatorType"], value_key(item["indicatorType"], item["indicatorValue"]), item["action"])


class Batch:
    """The per-request view of a store: an index on the upsert key and the active count, built once, so an
    import of 500 indicators does not scan the store 500 times."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.index = {upsert_key(i): i for i in data["items"].values()}
        self.active = len(active_items(data))


def find(data: dict, body: dict, batch: Batch | None = None) -> dict | None:
    """The existing indicator with the same (type, value, action), unless duplicate mode is on."""
    if data["duplicate_mode"]:
        return None
    return (batch or Batch(data)).index.get(upsert_key(body))


def upsert(data: dict, body: dict, claims: dict, source: str = "AadApp", batch: Batch | None = None) -> dict:
    """Create or update one validated indicator; :class:`LimitReached` when a new one passes the limit."""
    batch = batch or Batch(data)
    actor = claims.get("upn") or claims.get("appid")
    now = now_text()
    current = find(data, body, batch)
    if current is not None:
        for key, value in body.items():
            if key not in CREATE_ONLY:
                current[key] = value
        current.update({"lastUpdateTime": now, "lastUpdatedBy": actor})
        return current
    if is_active(body) and batch.active >= data["active_limit"]:
        raise LimitReached(f"The tenant has reached the maximum of {data['active_limit']} active indicators; "
                           "delete or let some expire before adding more.")
    ident = str(data["next_id"])
    data["next_id"] += 1
    item = {"id": ident}
    item.update({"indicatorValue": None, "indicatorType": None, "action": None, "application": None,
                 "source": claims.get("app_displayname") or actor, "sourceType": source, "title": None,
                 "creationTimeDateTimeUtc": now, "createdBySource": source, "createdBy": actor,
                 "createdByDisplayName": claims.get("app_displayname") or actor, "lastUpdateTime": now,
                 "lastUpdatedBy": actor, "expirationTime": None, "description": None, "recommendedActions": None,
                 "severity": "Informational", "rbacGroupNames": [], "rbacGroupIds": [], "generateAlert": False,
                 "externalID": None})
    item.update(body)
    data["items"][ident] = item
    batch.index[upsert_key(item)] = item
    batch.active += 1 if is_active(item) else 0
    return item


def load_indicators(state, tenant, rows: list, created_by: str | None = None) -> list[dict]:
    """Load users' own indicators (service-shaped dicts) into a tenant; returns them as stored.

    Each row is validated like a POST; ``createdBy`` defaults to ``created_by`` (an app id) or the row's own
    ``createdBy``; ``expirationTime`` in the past loads an expired (invisible) indicator."""
    from .hunting import tenant_data

    with state.lock:
        return _load(tenant_data(state, tenant), [validate(row) for row in rows or []], rows or [], created_by)


def _load(data: dict, bodies: list, rows: list, created_by: str | None) -> list[dict]:
    stored = store_of(data)
    batch = Batch(stored)
    out = []
    for body, row in zip(bodies, rows):
        claims = {"appid": row.get("createdBy") or created_by or "00000000-0000-0000-0000-000000000000"}
        out.append(upsert(stored, body, claims, batch=batch))
    return out


def validate_section(items, now, tenant) -> list:
    """The ``indicators`` kind of a users' data document (hunting/userdata.py): a list of service-shaped
    indicators, each validated like a POST; ValueError names the item."""
    if not isinstance(items, list):
        raise ValueError("indicators: expected a list of indicators")
    out = []
    for index, row in enumerate(items):
        try:
            out.append((validate(row), row))
        except IndicatorInvalid as exc:
            raise ValueError(f"indicators[{index}]: {exc}") from None
    return out


def apply_section(data: dict, section: list) -> dict:
    """Add a validated ``indicators`` section to one tenant's data; returns the ids it stored."""
    stored = _load(data, [body for body, _row in section], [row for _body, row in section], None)
    return {"indicators": [item["id"] for item in stored]}
