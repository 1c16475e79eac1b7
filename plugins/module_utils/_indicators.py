# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Defender for Endpoint indicators (``/api/indicators``) as desired state.

The wire contract is docs/developer/reference/response-and-content.md §4 and its recipe §7.3:

* indicators are keyed on (type, value); hashes, thumbprints, domains and IP addresses compare case-insensitively;
* a submit never changes ``action``, ``application`` or ``rbacGroupNames`` reliably, so a change of those deletes
  the indicator and creates it again; other fields are updated by submitting the same key;
* writes go through ``POST /api/indicators/import`` (at most 500 a call, 30 calls a minute) and deletes through
  ``POST /api/indicators/BatchDelete`` (at most 500 a call); ``_retry.Pacer`` keeps this run under those
  rates, and a 429 (other processes) is waited out by the client's retry engine (``_retry.py``);
* the source marker ``[m365d:<source>]`` ends the description of every indicator this collection writes, so
  ``purge`` can find "the indicators of this source";
* the 15,000-active limit is checked before any write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import re

from ansible_collections.m365.defender.plugins.module_utils._api_errors import ErrorHandler
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._resource import changes, make_diff, values_equal
from ansible_collections.m365.defender.plugins.module_utils._retry import Pacer

TYPES = ("FileSha1", "FileSha256", "FileMd5", "CertificateThumbprint", "IpAddress", "DomainName", "Url")
ACTIONS = ("Alert", "Warn", "Block", "Audit", "BlockAndRemediate", "AlertAndBlock", "Allowed")
SEVERITIES = ("Informational", "Low", "Medium", "High")
CASELESS = ("FileSha1", "FileSha256", "FileMd5", "CertificateThumbprint", "IpAddress", "DomainName")
HEX_LENGTHS = {"FileSha1": 40, "FileSha256": 64, "FileMd5": 32, "CertificateThumbprint": 40}
_HEX = dict((kind, re.compile(r"^[0-9A-Fa-f]{%d}$" % length)) for kind, length in HEX_LENGTHS.items())
BATCH_MAX = 500
ACTIVE_LIMIT = 15000
IMPORT_RATE = ((30, 60),)
DELETE_RATE = ((30, 60), (1500, 3600))
DEFAULT_DESCRIPTION = "Managed by Ansible (m365.defender)"

# option name -> wire field
FIELDS = collections.OrderedDict([
    ("type", "indicatorType"), ("value", "indicatorValue"), ("action", "action"), ("title", "title"),
    ("description", "description"), ("severity", "severity"), ("expiration", "expirationTime"),
    ("recommended_actions", "recommendedActions"), ("rbac_group_names", "rbacGroupNames"),
    ("generate_alert", "generateAlert"), ("application", "application"), ("educate_url", "educateUrl"),
])
ITEM_OPTIONS = tuple(FIELDS)
RECREATE = ("action", "application", "rbacGroupNames")
COMPARED = ("title", "description", "severity", "expirationTime", "recommendedActions", "generateAlert", "educateUrl")
SOURCE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_MARKER_RE = re.compile(r"\s*\[m365d:([A-Za-z0-9._-]+)\]\s*$")

Plan = collections.namedtuple("Plan", ["create", "update", "recreate", "delete", "unchanged"])


# -- pure helpers -------------------------------------------------------------------------------------

def value_key(kind, value):
    """The comparison key of an indicator: ``(type, value)``, the value lower-cased where the service ignores case."""
    value = (value or "").strip()
    return (kind, value.lower() if kind in CASELESS else value)


def split_marker(description):
    """``(text, source)`` of a description: the text without the ``[m365d:<source>]`` marker, and the source."""
    match = _MARKER_RE.search(description or "")
    if not match:
        return description, None
    return description[:match.start()], match.group(1)


def with_marker(description, source):
    return "%s [m365d:%s]" % ((description or "").rstrip(), source)


def normalize_time(value, option="expiration"):
    """``2026-12-31T00:00:00Z`` from an ISO-8601 date or date-time (UTC when no offset is given)."""
    if value in (None, ""):
        return None
    text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        try:
            when = datetime.datetime.combine(datetime.date.fromisoformat(text), datetime.time())
        except ValueError:
            raise MtpConfigError("%s: %r is not an ISO-8601 date or date-time such as 2026-12-31T00:00:00Z"
                                 % (option, value), option=option)
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_item(item, where):
    kind, value = item.get("indicatorType"), item.get("indicatorValue")
    if kind not in TYPES:
        raise MtpConfigError("%s.type must be one of %s, got %r" % (where, ", ".join(TYPES), kind), option="type")
    if not isinstance(value, str) or not value.strip():
        raise MtpConfigError("%s.value is required" % where, option="value")
    if kind in HEX_LENGTHS and not _HEX[kind].match(value.strip()):
        raise MtpConfigError("%s.value %r is not a %s (%d hexadecimal digits)" % (where, value, kind, HEX_LENGTHS[kind]),
                             option="value")
    if kind == "IpAddress" and "/" in value:
        raise MtpConfigError("%s.value %r: CIDR notation is not supported for IpAddress indicators" % (where, value),
                             option="value")
    for name, choices in (("action", ACTIONS), ("severity", SEVERITIES)):
        if item.get(name) is not None and item[name] not in choices:
            raise MtpConfigError("%s.%s must be one of %s, got %r" % (where, name, ", ".join(choices), item[name]),
                                 option=name)
    if item.get("action") == "Audit" and item.get("generateAlert") is not True:
        raise MtpConfigError("%s: action Audit requires generate_alert: true" % where, option="generate_alert")


def desired_items(params):
    """The wanted indicators (wire fields, unset fields left out) from ``indicators`` or the single-item options;
    options given at the top level are defaults for every item of ``indicators``."""
    defaults = dict((name, params.get(name)) for name in ITEM_OPTIONS if params.get(name) is not None)
    rows = params.get("indicators")
    if rows is None:
        rows = [{}] if defaults.get("value") is not None else []
        if not rows:
            raise MtpConfigError("give indicators (a list) or value and type", option="indicators")
    out, seen = [], {}
    for index, row in enumerate(rows):
        where = "indicators[%d]" % index if params.get("indicators") is not None else "indicator"
        if not isinstance(row, dict):
            raise MtpConfigError("%s must be a dictionary" % where, option="indicators")
        unknown = sorted(set(row) - set(ITEM_OPTIONS))
        if unknown:
            raise MtpConfigError("%s has unknown keys %s (known: %s)" % (where, ", ".join(unknown), ", ".join(ITEM_OPTIONS)),
                                 option="indicators")
        merged = dict(defaults, **dict((k, v) for k, v in row.items() if v is not None))
        item = dict((FIELDS[k], v) for k, v in merged.items())
        if "expirationTime" in item:
            item["expirationTime"] = normalize_time(item["expirationTime"], "%s.expiration" % where)
        if "rbacGroupNames" in item:
            item["rbacGroupNames"] = sorted(set(item["rbacGroupNames"]))
        _check_item(item, where)
        key = value_key(item["indicatorType"], item["indicatorValue"])
        if key in seen:
            raise MtpConfigError("%s repeats %s %s (first in indicators[%d])" % (where, key[0], item["indicatorValue"],
                                                                                 seen[key]), option="indicators")
        seen[key] = index
        item["indicatorValue"] = item["indicatorValue"].strip()
        out.append(item)
    return out


def current_view(item):
    """The comparable view of a listed indicator: wire fields, description without the marker, ``source``."""
    text, source = split_marker(item.get("description"))
    view = dict((field, item.get(field)) for field in FIELDS.values())
    view["description"] = text
    view["expirationTime"] = normalize_time(item.get("expirationTime")) if item.get("expirationTime") else None
    view["rbacGroupNames"] = sorted(set(item.get("rbacGroupNames") or []))
    view["id"] = item.get("id")
    view["source"] = source
    view["lastUpdateTime"] = item.get("lastUpdateTime")
    return view


def index_current(items):
    """``{(type, value): view}``; of duplicates the most recently updated one stands for the key."""
    out = {}
    for item in items:
        view = current_view(item)
        key = value_key(view["indicatorType"], view["indicatorValue"])
        if key not in out or (view["lastUpdateTime"] or "") > (out[key]["lastUpdateTime"] or ""):
            out[key] = view
    return out


def _needs_recreate(current, wanted):
    for field in RECREATE:
        if field in wanted and not values_equal(current.get(field), wanted[field], as_set=field == "rbacGroupNames"):
            return True
    return False


def plan(current, desired, state, source, purge=False):
    """What to do: a :class:`Plan` of creates (wire dicts), updates and recreates (``(current, wanted)``),
    deletes (current views) and the unchanged count. ``current`` is :func:`index_current`'s answer."""
    create, update, recreate, delete, unchanged = [], [], [], [], 0
    wanted_keys = set()
    for item in desired:
        key = value_key(item["indicatorType"], item["indicatorValue"])
        wanted_keys.add(key)
        have = current.get(key)
        if state == "absent":
            if have is not None:
                delete.append(have)
            continue
        if have is None:
            create.append(item)
        elif _needs_recreate(have, item):
            recreate.append((have, item))
        elif changes(have, dict((f, item[f]) for f in COMPARED if f in item), enums=("severity",)) or have["source"] != source:
            update.append((have, item))
        else:
            unchanged += 1
    if purge and state == "present":
        for key, have in sorted(current.items()):
            if key not in wanted_keys and have["source"] == source:
                delete.append(have)
    return Plan(create, update, recreate, delete, unchanged)


def submission(item, current, source):
    """The import body of one indicator: ``current`` fields (an update) overlaid with ``item``, marker added."""
    body = {}
    if current is not None:
        body = dict((f, current[f]) for f in FIELDS.values() if current.get(f) is not None)
    body.update(item)
    body.setdefault("title", item["indicatorValue"])
    body["description"] = with_marker(body.get("description") or DEFAULT_DESCRIPTION, source)
    return body


def check_limit(active, planned, limit):
    """Fail before any write when the plan would pass ``limit`` active indicators."""
    after = active + len(planned.create) - len(planned.delete)
    if len(planned.create) and after > limit:
        raise MtpConfigError(
            "Refusing to write: %d active indicators + %d to create - %d to delete = %d, above the active-indicator "
            "limit of %d. Delete or expire indicators first, or lower the feed." % (
                active, len(planned.create), len(planned.delete), after, limit), option="active_limit")
    return after


def counts(planned):
    return {"created": len(planned.create) + len(planned.recreate), "updated": len(planned.update),
            "deleted": len(planned.delete) + len(planned.recreate), "unchanged": planned.unchanged}


def _public(view):
    return dict((k, v) for k, v in view.items() if k != "lastUpdateTime" and v not in (None, []))


def diff(planned, source):
    """``{"before", "after"}`` of the indicators that change (keyed ``type:value``)."""
    before, after = {}, {}
    for item in planned.create:
        after["%s:%s" % value_key(item["indicatorType"], item["indicatorValue"])] = dict(item, source=source)
    for have, item in planned.update + planned.recreate:
        key = "%s:%s" % value_key(have["indicatorType"], have["indicatorValue"])
        before[key] = _public(have)
        after[key] = _public(dict(have, **dict(item, source=source, id=None if _needs_recreate(have, item) else have["id"])))
    for have in planned.delete:
        before["%s:%s" % value_key(have["indicatorType"], have["indicatorValue"])] = _public(have)
    return make_diff({"indicators": before}, {"indicators": after})


# -- pacing -------------------------------------------------------------------------------------------

# -- API calls ----------------------------------------------------------------------------------------

@ErrorHandler.list_handler("list indicators")
def list_indicators(client, odata_filter=None):
    params = {"$top": "10000"}
    if odata_filter:
        params["$filter"] = odata_filter
    return list(client.paginate("mde", "/api/indicators", params=params))


@ErrorHandler.common("import {count} indicators")
def import_batch(client, rows, count=None):
    resp = client.post("mde", "/api/indicators/import", json={"Indicators": rows})
    return (resp.json or {}).get("value") or []


@ErrorHandler.common("delete {count} indicators")
def batch_delete(client, ids, count=None):
    client.post("mde", "/api/indicators/BatchDelete", json={"IndicatorIds": ids})


class Writer:
    """Applies a :class:`Plan` in batches of ``batch_size``: deletes first, then imports. Counts its calls."""

    def __init__(self, client, source, batch_size=BATCH_MAX, import_pacer=None, delete_pacer=None):
        self.client = client
        self.source = source
        self.batch_size = batch_size
        self.import_pacer = import_pacer or Pacer(IMPORT_RATE)
        self.delete_pacer = delete_pacer or Pacer(DELETE_RATE)
        self.calls = {"list": 0, "import": 0, "batch_delete": 0}

    def delete(self, ids):
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start:start + self.batch_size]
            self.delete_pacer.wait()
            self.calls["batch_delete"] += 1
            try:
                batch_delete(self.client, chunk, count=len(chunk))
            except MtpApiError as exc:
                if exc.status != 404:
                    raise
                # One missing id fails the whole batch (docs/developer/reference/response-and-content.md §4.1): re-read and delete what is still there.
                self.calls["list"] += 1
                present = set(i.get("id") for i in list_indicators(self.client))
                rest = [i for i in chunk if i in present]
                if rest:
                    self.delete_pacer.wait()
                    self.calls["batch_delete"] += 1
                    batch_delete(self.client, rest, count=len(rest))

    def submit(self, bodies):
        failures = []
        for start in range(0, len(bodies), self.batch_size):
            chunk = bodies[start:start + self.batch_size]
            self.import_pacer.wait()
            self.calls["import"] += 1
            for body, answer in zip(chunk, import_batch(self.client, chunk, count=len(chunk))):
                if isinstance(answer, dict) and answer.get("isFailed"):
                    failures.append("%s %s: %s" % (body["indicatorType"], body["indicatorValue"],
                                                   answer.get("failureReason") or "failed"))
        if failures:
            raise MtpApiError("The indicator import failed for %d indicator(s): %s%s" % (
                len(failures), "; ".join(failures[:5]), " ..." if len(failures) > 5 else ""), status=200)

    def apply(self, planned):
        ids = [have["id"] for have in planned.delete] + [pair[0]["id"] for pair in planned.recreate]
        if ids:
            self.delete(ids)
        bodies = [submission(item, None, self.source) for item in planned.create]
        bodies += [submission(item, have, self.source) for have, item in planned.update]
        bodies += [submission(item, have, self.source) for have, item in planned.recreate]
        if bodies:
            self.submit(bodies)


def ensure(client, params, check_mode, writer=None, desired=None):
    """The whole run of ``mtp_indicator``: read, plan, guard, write (not in check mode). Returns the result dict.
    ``desired`` is :func:`desired_items`'s answer when the caller already has it."""
    source = params["source"]
    desired = desired if desired is not None else desired_items(params)
    writer = writer or Writer(client, source, batch_size=params["batch_size"])
    listed = list_indicators(client)
    writer.calls["list"] += 1
    planned = plan(index_current(listed), desired, params["state"], source, purge=params["purge"])
    missing = [item for item in planned.create if not item.get("action")]
    if missing:
        raise MtpConfigError("%d indicator(s) to create have no action (first: %s %s): set action on the item or at the "
                             "top level" % (len(missing), missing[0]["indicatorType"], missing[0]["indicatorValue"]),
                             option="action")
    check_limit(len(listed), planned, params["active_limit"])
    changed = bool(planned.create or planned.update or planned.recreate or planned.delete)
    if changed and not check_mode:
        writer.apply(planned)
    result = {"changed": changed, "counts": counts(planned), "calls": dict(writer.calls), "source": source,
              "active_before": len(listed),
              "active_after": len(listed) + len(planned.create) - len(planned.delete)}
    result["diff"] = diff(planned, source)
    return result


def query(client, params):
    """``mtp_indicator_info``: the visible active indicators matching the filters, with ``source``."""
    clauses = []
    if params.get("type"):
        clauses.append("indicatorType eq '%s'" % params["type"])
    if params.get("value"):
        clauses.append("indicatorValue eq '%s'" % params["value"].replace("'", "''"))
    if params.get("action"):
        clauses.append("action eq '%s'" % params["action"])
    items = list_indicators(client, " and ".join(clauses) or None)
    out = []
    for item in items:
        text, source = split_marker(item.get("description"))
        if params.get("source") and source != params["source"]:
            continue
        out.append(dict(item, source=source, description_text=text))
    return out
