# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Custom detection rules (Graph ``security/rules/detectionRules``) as code.

Contract: docs/developer/reference/response-and-content.md §5 (schema generation A, the documented beta
shape) and the recipe §7.4:

* a rule file holds the snake_case shape of :data:`RULE_KEYS`; :func:`to_graph` and :func:`from_graph` convert
  both ways so that a gathered file fed back is a no-op;
* the stable key is the marker ``[m365d:<source>/<key>]`` at the end of ``alertTemplate.description``, owned by
  this collection; adoption of an unmarked rule with the same display name is opt-in;
* before any write every new query, and every changed one, runs through ``runHuntingQuery`` with a short
  timespan and ``| take 1``: a parse error fails with the service's line and column, a result without
  ``Timestamp``, ``ReportId`` or an impacted-asset column fails naming them;
* creates are paced to 10 a minute and other calls to 100 a minute (``_retry.Pacer``); 429s go through
  the retry engine; the API exists in the global cloud only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import copy
import re

from ansible_collections.m365.defender.plugins.module_utils._api_errors import ErrorHandler
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._resource import make_diff
from ansible_collections.m365.defender.plugins.module_utils._retry import Pacer

NS = "#microsoft.graph.security."
PERIODS = ("0", "1H", "3H", "12H", "24H")
SEVERITIES = ("informational", "low", "medium", "high")
ASSET_TYPES = ("device", "user", "mailbox")
RESPONSE_TYPES = ("isolateDevice", "collectInvestigationPackage", "runAntivirusScan", "initiateInvestigation",
                  "restrictAppExecution", "stopAndQuarantineFile", "allowFile", "blockFile", "disableUser",
                  "forceUserPasswordReset", "markUserAsCompromised", "hardDelete", "softDelete", "moveToInbox",
                  "moveToDeletedItems", "moveToJunk")
ENTITY_COLUMNS = ("DeviceId", "DeviceName", "RemoteDeviceName", "RecipientEmailAddress", "SenderFromAddress",
                  "SenderMailFromAddress", "RecipientObjectId", "AccountObjectId", "AccountSid", "AccountUpn",
                  "InitiatingProcessAccountSid", "InitiatingProcessAccountUpn", "InitiatingProcessAccountObjectId")
RULE_KEYS = ("key", "display_name", "enabled", "schedule", "query", "alert", "organizational_scope", "response_actions")
ALERT_KEYS = ("title", "description", "severity", "category", "recommended_actions", "mitre_techniques",
              "impacted_assets")
UNAVAILABLE_CLOUDS = ("gcc_high", "dod")
CREATE_RATE = ((10, 60),)
ITEM_RATE = ((100, 60), (1500, 3600))
KEY_RE = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
_MARKER_RE = re.compile(r"\s*\[m365d:([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)\]\s*$")
_LINE_RE = re.compile(r"line \[?(\d+)[,:\s]+(\d+)\]?", re.IGNORECASE)

Plan = collections.namedtuple("Plan", ["create", "update", "recreate", "delete", "unchanged"])


# -- shapes -------------------------------------------------------------------------------------------

def camel(name):
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def snake(name):
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def split_marker(description):
    """``(text, source, key)`` of an alert description carrying ``[m365d:<source>/<key>]`` (else Nones)."""
    match = _MARKER_RE.search(description or "")
    if not match:
        return description, None, None
    return description[:match.start()] or None, match.group(1), match.group(2)


def with_marker(description, source, key):
    return ("%s [m365d:%s/%s]" % (description.rstrip(), source, key)) if description else "[m365d:%s/%s]" % (source, key)


def normalize_query(text):
    return "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip("\n")


def _period(value, where):
    text = "0" if value in (0, "0") else str(value if value is not None else "24H").strip().upper()
    if text not in PERIODS:
        raise MtpConfigError("%s.schedule must be one of %s (0 is continuous, NRT), got %r" % (where, ", ".join(PERIODS), value),
                             option="rules")
    return text


def _check_list(value, where, name):
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MtpConfigError("%s.%s must be a list of dictionaries" % (where, name), option="rules")
    return value


def _alert(rule, where):
    alert = rule.get("alert") or {}
    if not isinstance(alert, dict):
        raise MtpConfigError("%s.alert must be a dictionary" % where, option="rules")
    unknown = sorted(set(alert) - set(ALERT_KEYS))
    if unknown:
        raise MtpConfigError("%s.alert has unknown keys %s (known: %s)" % (where, ", ".join(unknown), ", ".join(ALERT_KEYS)),
                             option="rules")
    severity = str(alert.get("severity") or "medium").lower()
    if severity not in SEVERITIES:
        raise MtpConfigError("%s.alert.severity must be one of %s, got %r" % (where, ", ".join(SEVERITIES), alert.get("severity")),
                             option="rules")
    assets = []
    for asset in _check_list(alert.get("impacted_assets"), where, "alert.impacted_assets"):
        if asset.get("type") not in ASSET_TYPES or not asset.get("identifier"):
            raise MtpConfigError("%s.alert.impacted_assets items need type (%s) and identifier"
                                 % (where, ", ".join(ASSET_TYPES)), option="rules")
        assets.append({"@odata.type": NS + "impacted%sAsset" % asset["type"].capitalize(), "identifier": asset["identifier"]})
    techniques = alert.get("mitre_techniques") or []
    if not isinstance(techniques, list) or not all(isinstance(t, str) and re.match(r"^T\d{4}(\.\d{3})?$", t) for t in techniques):
        raise MtpConfigError("%s.alert.mitre_techniques must be technique ids such as T1059.001" % where, option="rules")
    return {"title": alert.get("title") or rule["display_name"], "description": alert.get("description"),
            "severity": severity, "category": alert.get("category"),
            "recommendedActions": alert.get("recommended_actions"), "mitreTechniques": list(techniques),
            "impactedAssets": assets}


def _responses(rule, where):
    out = []
    for item in _check_list(rule.get("response_actions"), where, "response_actions"):
        if item.get("type") not in RESPONSE_TYPES:
            raise MtpConfigError("%s.response_actions type must be one of %s, got %r"
                                 % (where, ", ".join(RESPONSE_TYPES), item.get("type")), option="rules")
        action = {"@odata.type": NS + item["type"] + "ResponseAction"}
        action.update((camel(k), v) for k, v in item.items() if k != "type")
        out.append(action)
    return out


def to_graph(rule, source, where="rule"):
    """A rule file's dict -> ``(key, Graph create body)``; bad input raises ``MtpConfigError`` naming the field."""
    if not isinstance(rule, dict):
        raise MtpConfigError("%s must be a dictionary" % where, option="rules")
    unknown = sorted(set(rule) - set(RULE_KEYS))
    if unknown:
        raise MtpConfigError("%s has unknown keys %s (known: %s)" % (where, ", ".join(unknown), ", ".join(RULE_KEYS)),
                             option="rules")
    key = rule.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise MtpConfigError("%s.key is required: letters, digits, '.', '_' or '-' (up to 80), got %r" % (where, key),
                             option="rules")
    for name in ("display_name", "query"):
        if not isinstance(rule.get(name), str) or not rule[name].strip():
            raise MtpConfigError("%s (key %s).%s is required" % (where, key, name), option="rules")
    if rule.get("enabled") is not None and not isinstance(rule["enabled"], bool):
        raise MtpConfigError("%s.enabled must be true or false" % where, option="rules")
    where = "%s (key %s)" % (where, key)
    template = _alert(rule, where)
    template["description"] = with_marker(template["description"], source, key)
    return key, {
        "displayName": rule["display_name"], "isEnabled": rule.get("enabled", True) is not False,
        "queryCondition": {"queryText": normalize_query(rule["query"])}, "schedule": {"period": _period(rule.get("schedule"), where)},
        "detectionAction": {"alertTemplate": template, "organizationalScope": rule.get("organizational_scope"),
                            "responseActions": _responses(rule, where)}}


def from_graph(body, key):
    """A Graph rule -> the rule file dict (the inverse of :func:`to_graph`; defaults left out)."""
    action = body.get("detectionAction") or {}
    tmpl = action.get("alertTemplate") or {}
    text = split_marker(tmpl.get("description"))[0]
    alert = collections.OrderedDict([("title", tmpl.get("title")), ("description", text), ("severity", tmpl.get("severity")),
                                     ("category", tmpl.get("category")), ("recommended_actions", tmpl.get("recommendedActions")),
                                     ("mitre_techniques", list(tmpl.get("mitreTechniques") or []))])
    alert["impacted_assets"] = [{"type": a["@odata.type"][len(NS + "impacted"):-len("Asset")].lower(), "identifier": a["identifier"]}
                                for a in tmpl.get("impactedAssets") or []]
    responses = []
    for item in action.get("responseActions") or []:
        out = {"type": item["@odata.type"][len(NS):-len("ResponseAction")]}
        out.update((snake(k), v) for k, v in item.items() if k != "@odata.type")
        responses.append(out)
    rule = collections.OrderedDict([("key", key), ("display_name", body.get("displayName")),
                                    ("enabled", body.get("isEnabled", True)),
                                    ("schedule", (body.get("schedule") or {}).get("period")),
                                    ("query", normalize_query((body.get("queryCondition") or {}).get("queryText")) + "\n"),
                                    ("alert", collections.OrderedDict((k, v) for k, v in alert.items() if v not in (None, []))),
                                    ("organizational_scope", action.get("organizationalScope")),
                                    ("response_actions", responses)])
    return collections.OrderedDict((k, v) for k, v in rule.items() if v not in (None, []))


def comparable(body):
    """The normalised view of a Graph rule that diffs compare (read-only fields and list order left out)."""
    action = body.get("detectionAction") or {}
    tmpl = action.get("alertTemplate") or {}
    return {"displayName": body.get("displayName"), "isEnabled": body.get("isEnabled", True) is not False,
            "queryText": normalize_query((body.get("queryCondition") or {}).get("queryText")),
            "period": (body.get("schedule") or {}).get("period"),
            "title": tmpl.get("title"), "description": tmpl.get("description") or None,
            "severity": (tmpl.get("severity") or "").lower(), "category": tmpl.get("category") or None,
            "recommendedActions": tmpl.get("recommendedActions") or None,
            "mitreTechniques": sorted(tmpl.get("mitreTechniques") or []),
            "impactedAssets": sorted(repr(sorted(a.items())) for a in tmpl.get("impactedAssets") or []),
            "organizationalScope": action.get("organizationalScope"),
            "responseActions": sorted(repr(sorted(a.items())) for a in action.get("responseActions") or [])}


_TEMPLATE_FIELDS = ("title", "description", "severity", "category", "recommendedActions", "impactedAssets")


def patch_body(current, desired):
    """The PATCH of the changed writable keys, or ``None`` when a change needs a delete and re-create (MITRE
    techniques are not patchable, docs/developer/reference/response-and-content.md §5.2)."""
    have, want = comparable(current), comparable(desired)
    if have["mitreTechniques"] != want["mitreTechniques"]:
        return None
    body = {}
    for field in ("displayName", "isEnabled"):
        if have[field] != want[field]:
            body[field] = desired[field]
    if have["queryText"] != want["queryText"]:
        body["queryCondition"] = {"queryText": desired["queryCondition"]["queryText"]}
    if have["period"] != want["period"]:
        body["schedule"] = {"period": desired["schedule"]["period"]}
    action = {}
    template = dict((f, desired["detectionAction"]["alertTemplate"][f]) for f in _TEMPLATE_FIELDS if have[f] != want[f])
    if template:
        action["alertTemplate"] = template
    for field in ("organizationalScope", "responseActions"):
        if have[field] != want[field]:
            action[field] = desired["detectionAction"][field]
    if action:
        body["detectionAction"] = action
    return body


# -- files --------------------------------------------------------------------------------------------

def load_rules(params, read_file):
    """The rule dicts of ``rules`` and of the ``src`` files (``read_file(path) -> list of dicts``)."""
    rules = list(params.get("rules") or [])
    if params.get("src"):
        rules.extend(read_file(params["src"]))
    return rules


def desired_rules(rules, source):
    """``OrderedDict(key -> Graph body)``; a repeated key is an error."""
    out = collections.OrderedDict()
    for index, rule in enumerate(rules):
        key, body = to_graph(rule, source, where="rules[%d]" % index)
        if key in out:
            raise MtpConfigError("rules[%d]: the key %r is used twice" % (index, key), option="rules")
        out[key] = body
    return out


def index_current(items, source):
    """``({key: rule} of this source's marked rules, [unmarked rules])``."""
    marked, unmarked = {}, []
    for item in items:
        mark_source, key = split_marker(((item.get("detectionAction") or {}).get("alertTemplate") or {}).get("description"))[1:]
        if mark_source == source:
            marked[key] = item
        elif mark_source is None:
            unmarked.append(item)
    return marked, unmarked


def plan(marked, unmarked, desired, state, purge=False, adopt=False):
    create, update, recreate, delete, unchanged = [], [], [], [], []
    for key, body in desired.items():
        have = marked.get(key)
        if have is None and adopt:
            have = next((r for r in unmarked if (r.get("displayName") or "").lower() == body["displayName"].lower()), None)
        if state == "absent":
            if have is not None:
                delete.append((key, have))
            continue
        if have is None:
            create.append((key, body))
            continue
        patch = patch_body(have, body)
        if patch is None:
            recreate.append((key, have, body))
        elif patch:
            update.append((key, have, body, patch))
        else:
            unchanged.append((key, have))
    if purge and state == "present":
        delete.extend((key, have) for key, have in sorted(marked.items()) if key not in desired)
    return Plan(create, update, recreate, delete, unchanged)


# -- pre-flight ---------------------------------------------------------------------------------------

def required_columns(columns, body):
    """The problems of a query result's ``columns`` for a rule: missing required and identifier columns."""
    problems = [c for c in ("Timestamp", "ReportId") if c not in columns]
    if not any(c in columns for c in ENTITY_COLUMNS):
        problems.append("an impacted-asset column (one of %s)" % ", ".join(ENTITY_COLUMNS))
    action = body["detectionAction"]
    lowered = set(c.lower() for c in columns)
    for item in action["alertTemplate"]["impactedAssets"] + action["responseActions"]:
        if item.get("identifier") and item["identifier"].lower() not in lowered:
            problems.append("%s (named as an identifier)" % item["identifier"])
    return problems


def preflight(client, key, body, timespan):
    """Run the rule's query with ``| take 1``; raise ``MtpConfigError`` with line and column, or the missing columns."""
    query = body["queryCondition"]["queryText"].rstrip().rstrip(";") + "\n| take 1"
    try:
        resp = client.post("graph", "/v1.0/security/runHuntingQuery", json={"Query": query, "Timespan": timespan},
                           idempotent=True)
    except MtpApiError as exc:
        if exc.status != 400:
            raise
        text = getattr(exc, "service_message", None) or exc.msg
        match = _LINE_RE.search(text or "")
        where = " (line %s, column %s)" % match.groups() if match else ""
        error = MtpConfigError("rule %s: the query failed the pre-flight%s: %s" % (key, where, text), option="rules")
        error.line, error.column = (int(match.group(1)), int(match.group(2))) if match else (None, None)
        raise error
    schema = (resp.json or {}).get("schema") or (resp.json or {}).get("Schema") or []
    columns = [c.get("name") or c.get("Name") for c in schema]
    problems = required_columns(columns, body)
    if problems:
        raise MtpConfigError("rule %s: the query must return the columns Timestamp, ReportId and an impacted-asset column; "
                             "missing: %s (returned: %s)" % (key, "; ".join(problems), ", ".join(columns)), option="rules")
    return columns


# -- API calls ----------------------------------------------------------------------------------------

class Rules:
    """The detection-rule calls of one run, paced to the quotas (creates 10/min, others 100/min)."""

    def __init__(self, client, api_version="beta", create_pacer=None, item_pacer=None):
        self.client = client
        self.path = "/%s/security/rules/detectionRules" % api_version
        self.create_pacer = create_pacer or Pacer(CREATE_RATE)
        self.item_pacer = item_pacer or Pacer(ITEM_RATE)

    def check_cloud(self):
        cloud = getattr(self.client.endpoints, "cloud", None)
        if cloud in UNAVAILABLE_CLOUDS:
            raise MtpConfigError("Custom detection rules (Graph security/rules/detectionRules) exist in the global cloud "
                                 "only; cloud %s has no such API" % cloud, option="cloud")

    @ErrorHandler.common("list custom detection rules")
    def list(self):
        try:
            return list(self.client.paginate("graph", self.path))
        except MtpApiError as exc:
            if exc.status == 404 and exc.code in ("Request_ResourceNotFound", "ResourceNotFound", "NotFound"):
                raise MtpApiError("The custom detection rules API is not available for this tenant or cloud "
                                  "(Graph answered 404 for %s)" % self.path, status=404, code=exc.code)
            raise

    @ErrorHandler.common("create custom detection rule {key}")
    def create(self, key, body):
        self.create_pacer.wait()
        return self.client.post("graph", self.path, json=body).json

    @ErrorHandler.common("update custom detection rule {key}")
    def update(self, key, rule_id, body):
        self.item_pacer.wait()
        return self.client.patch("graph", "%s/%s" % (self.path, rule_id), json=body).json

    @ErrorHandler.deletion_handler("delete custom detection rule {key}")
    def delete(self, key, rule_id):
        self.item_pacer.wait()
        self.client.delete("graph", "%s/%s" % (self.path, rule_id))
        return True


def _view(body, key):
    return from_graph(body, key) if body else None


def apply(api, planned):
    """Writes of a plan, deletes first; returns ``[{key, id, display_name, action}]``."""
    done = []
    for key, have in planned.delete:
        api.delete(key, have["id"])
        done.append({"key": key, "id": have["id"], "display_name": have.get("displayName"), "action": "deleted"})
    for key, have, body in planned.recreate:
        api.delete(key, have["id"])
        created = api.create(key, body) or {}
        done.append({"key": key, "id": created.get("id"), "display_name": body["displayName"], "action": "recreated"})
    for key, have, body, patch in planned.update:
        api.update(key, have["id"], patch)
        done.append({"key": key, "id": have["id"], "display_name": body["displayName"], "action": "updated"})
    for key, body in planned.create:
        created = api.create(key, body) or {}
        done.append({"key": key, "id": created.get("id"), "display_name": body["displayName"], "action": "created"})
    return done


def summary(planned):
    before, after = {}, {}
    for key, have, body in planned.recreate:
        before[key], after[key] = _view(have, key), _view(body, key)
    for key, have, body, dummy in planned.update:
        before[key], after[key] = _view(have, key), _view(body, key)
    for key, body in planned.create:
        after[key] = _view(body, key)
    for key, have in planned.delete:
        before[key] = _view(have, key)
    counts = {"create": len(planned.create) + len(planned.recreate), "update": len(planned.update),
              "delete": len(planned.delete) + len(planned.recreate), "unchanged": len(planned.unchanged)}
    return counts, make_diff({"rules": before}, {"rules": after})


def to_check(planned):
    """The ``(key, body)`` pairs whose query is new or changed: the pre-flight runs those."""
    out = list(planned.create) + [(key, body) for key, dummy, body in planned.recreate]
    out += [(key, body) for key, dummy, body, patch in planned.update if "queryCondition" in patch or "detectionAction" in patch]
    return out


def gather_key(item, taken, source):
    """The key a gathered rule is written under: its marker's key, else a slug of its display name."""
    mark_source, key = split_marker(((item.get("detectionAction") or {}).get("alertTemplate") or {}).get("description"))[1:]
    if not key:
        key = re.sub(r"[^a-z0-9]+", "-", (item.get("displayName") or "rule").lower()).strip("-")[:60] or "rule"
    if key in taken:
        key = "%s-%s" % (key, item.get("id"))
    taken.add(key)
    return key, mark_source


def gathered(items, source):
    """Rule file dicts of every listed rule (``copy`` of the service's data), with their keys."""
    taken, out = set(), []
    for item in sorted(items, key=lambda r: str(r.get("id"))):
        key, mark_source = gather_key(item, taken, source)
        rule = from_graph(copy.deepcopy(item), key)
        out.append((rule, item.get("id"), mark_source))
    return out


def ensure(client, params, rules, check_mode, api=None):
    """The run of ``mtp_detection_rule`` for ``state`` present or absent: read, plan, pre-flight, write."""
    source = params["source"]
    desired = desired_rules(rules, source)
    api = api or Rules(client, params["api_version"])
    api.check_cloud()
    marked, unmarked = index_current(api.list(), source)
    planned = plan(marked, unmarked, desired, params["state"], purge=params["purge"], adopt=params["adopt"])
    checked = []
    if params["preflight"] and params["state"] == "present":
        for key, body in to_check(planned):
            preflight(client, key, body, params["preflight_timespan"])
            checked.append(key)
    counts, diff = summary(planned)
    changed = any(counts[k] for k in ("create", "update", "delete"))
    done = [] if check_mode else apply(api, planned)
    rules_out = done if not check_mode else (
        [{"key": k, "id": h["id"], "display_name": h.get("displayName"), "action": "delete"} for k, h in planned.delete]
        + [{"key": k, "id": h["id"], "display_name": b["displayName"], "action": "recreate"} for k, h, b in planned.recreate]
        + [{"key": k, "id": h["id"], "display_name": b["displayName"], "action": "update"} for k, h, b, dummy in planned.update]
        + [{"key": k, "id": None, "display_name": b["displayName"], "action": "create"} for k, b in planned.create])
    rules_out += [{"key": key, "id": have.get("id"), "display_name": have.get("displayName"), "action": "unchanged"}
                  for key, have in planned.unchanged]
    return {"changed": changed, "counts": counts, "rules": rules_out, "preflight_checked": checked, "diff": diff}
