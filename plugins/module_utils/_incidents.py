# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Defender incidents on Graph (``/v1.0/security/incidents``) and on the MTP API
(``/api/incidents``): listing, incremental reads, redirects and the idempotent update.

The wire contract is docs/developer/reference/defender-api.md §4. Pages are read by time boundary through
``_time_paging.py`` (its ``TimePager``, cursors and quoting), inside each API's ``$top`` cap (50 Graph, 100 MTP);
severity (MTP), several statuses and tags are filtered after retrieval; enums are normalised through
``_security_enums.py``, and ``original`` keeps the API's own values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.six.moves.urllib.parse import quote

from ansible_collections.m365.defender.plugins.module_utils import _alerts
from ansible_collections.m365.defender.plugins.module_utils import _security_enums as enums
from ansible_collections.m365.defender.plugins.module_utils._api_errors import ErrorHandler
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._resource import changes, make_diff, merge_list, predict
from ansible_collections.m365.defender.plugins.module_utils._time_paging import (
    ReadOptions, TimePager, as_list, check_id, encode_cursor, eq_clauses, item_time, quote_literal, time_key)

PAGE_CAPS = {"graph": 50, "mtp": 100}
MAX_REDIRECTS = 10

# per API: list path, time fields, id field, filter field names
SURFACES = {
    "graph": {"path": "/security/incidents", "updated": "lastUpdateDateTime", "created": "createdDateTime",
              "id": "id", "server_severity": True},
    "mtp": {"path": "/incidents", "updated": "lastUpdateTime", "created": "createdTime", "id": "incidentId",
            "server_severity": False},
}


# -- normalisation ------------------------------------------------------------------------------------------

def normalize_incident(raw, api):
    """The snake_case incident of the contract (same keys for both APIs) from a Graph or MTP incident."""
    graph = api == "graph"
    rid = raw.get("redirectIncidentId")
    out = {
        "id": str(raw.get("id") if graph else raw.get("incidentId")), "api": api,
        "display_name": raw.get("displayName") if graph else raw.get("incidentName"),
        "description": raw.get("description"),
        "status": enums.read("incident_status", raw.get("status")),
        "severity": enums.read("severity", raw.get("severity")),
        "classification": enums.read("classification", raw.get("classification")) or "unknown",
        "determination": enums.read("determination", raw.get("determination")) or "unknown",
        "assigned_to": raw.get("assignedTo"),
        "created_time": raw.get("createdDateTime") if graph else raw.get("createdTime"),
        "last_update_time": raw.get("lastUpdateDateTime") if graph else raw.get("lastUpdateTime"),
        "tags": list(raw.get("customTags" if graph else "tags") or []),
        "system_tags": list(raw.get("systemTags") or []),
        "comments": _alerts.comments_of(raw.get("comments"), graph),
        "redirect_incident_id": str(rid) if rid not in (None, "", 0) else None,
        "web_url": raw.get("incidentWebUrl") if graph else raw.get("incidentUri"),
        "original": dict((k, raw.get(k)) for k in ("status", "severity", "classification", "determination")),
    }
    for key, field in (("tenant_id", "tenantId"), ("summary", "summary"), ("priority_score", "priorityScore"),
                       ("last_modified_by", "lastModifiedBy"), ("detection_source", "detectionSource")):
        if field in raw:
            out[key] = raw.get(field)
    if "alerts" in raw:
        out["alerts"] = [_alerts.normalize_alert(a, api) for a in raw.get("alerts") or []]
    return out


def incident_devices(incident):
    """The devices of an incident's alerts, one entry per device id: ``device_id``, ``device_name``,
    ``os_platform`` and the other device fields, plus ``alert_ids``."""
    devices = {}
    for alert in incident.get("alerts") or []:
        for dev in alert.get("devices") or []:
            key = dev.get("device_id") or dev.get("device_name")
            if not key:
                continue
            entry = devices.setdefault(key, dict(dev, alert_ids=[]))
            for field, value in dev.items():
                if entry.get(field) is None and value is not None:
                    entry[field] = value
            if alert.get("id") not in entry["alert_ids"]:
                entry["alert_ids"].append(alert.get("id"))
    return list(devices.values())


# -- the query ----------------------------------------------------------------------------------------------

class IncidentQuery(ReadOptions):
    """What to read (see the contract in the module docstring); validated offline on construction.

    After (or during) :func:`iter_pages`, ``cursor`` holds the cursor for the next incremental read and
    ``warnings`` what the read warned about (also sent to ``warn`` when given)."""

    def __init__(self, api="graph", updated_since=None, seen=None, status=None, severity=None, assigned_to=None,
                 tags=None, created_after=None, created_before=None, odata_filter=None, include_alerts=False,
                 follow_redirects=True, page_size=None, limit=None, warn=None):
        if api not in SURFACES:
            raise MtpConfigError("api: %r is not one of graph, mtp" % (api,), option="api")
        self.api = api
        ReadOptions.__init__(self, updated_since, created_after, created_before, odata_filter, page_size, limit,
                             cap=PAGE_CAPS[api], cap_name=api)
        self.seen = dict((str(i), time_key(t, "seen")) for i, t in (seen or ()))
        self.status = [enums.canonical("incident_status", s, "status", writable=False) for s in as_list(status)]
        self.severity = [enums.canonical("severity", s, "severity", writable=False) for s in as_list(severity)]
        self.assigned_to = assigned_to
        self.tags = [t.lower() for t in as_list(tags)]
        self.include_alerts, self.follow_redirects = bool(include_alerts), bool(follow_redirects)
        self.warn, self.expand_broken = warn, False

    def base_filter(self):
        """The server-side ``$filter`` clauses (without the time boundary)."""
        surface = SURFACES[self.api]
        clauses = []
        if len(self.status) == 1:
            clauses.append("status eq %s" % quote_literal(enums.render("incident_status", self.status[0], self.api)))
        if len(self.severity) == 1 and surface["server_severity"]:
            clauses.append("severity eq %s" % quote_literal(self.severity[0]))
        return clauses + eq_clauses([("assignedTo", self.assigned_to)]) + self.window_clauses(surface["created"])

    def matches(self, incident):
        """The filters applied after retrieval (several statuses or severities, MTP severity, tags)."""
        if self.status and incident["status"] not in self.status:
            return False
        if self.severity and incident["severity"] not in self.severity:
            return False
        if self.tags and not set(t.lower() for t in incident["tags"] + incident["system_tags"]) & set(self.tags):
            return False
        return True

    def note(self, msg):
        self.warnings.append(msg)
        if self.warn is not None:
            self.warn(msg)


# -- reading ------------------------------------------------------------------------------------------------

def _get_expanded(client, api, path, params, q):
    """GET with ``$expand=alerts`` when Graph alerts are asked for; a 5xx then falls back (for the rest of the
    read) to the plain GET, the alerts coming from alerts_v2 per incident, with a warning (§4.4)."""
    if api == "graph" and q.include_alerts and not q.expand_broken:
        try:
            # not retried on 5xx: that failure persists (docs/developer/reference/defender-api.md §4.4)
            return client.get(api, path, params=dict(params or {}, **{"$expand": "alerts"}), idempotent=False).json or {}
        except MtpApiError as exc:
            if (exc.status or 0) < 500:
                raise
            q.expand_broken = True
            q.note("GET %s with $expand=alerts answered %s; reading each incident's alerts from /security/alerts_v2 "
                   "instead" % (path, exc.status))
    return client.get(api, path, params=params).json or {}


@ErrorHandler.common("list incidents")
def _list_page(client, api, params, q):
    return _get_expanded(client, api, SURFACES[api]["path"], params, q)


def _key_of(api):
    surface = SURFACES[api]

    def key(raw):
        return str(raw.get(surface["id"])), item_time(raw.get(surface["updated"]))
    return key


def iter_pages(client, q):
    """Yield pages (lists) of normalised incidents for ``q`` (an :class:`IncidentQuery`); see the module docstring.

    An incident updated during the read comes again, newer, on a later page (collect by ``id`` to keep the latest:
    :func:`read_incidents`); pairs in ``q.seen`` and the ids of the cursor are skipped. ``q.cursor`` follows the
    pages read (only up to the last incident returned when ``q.limit`` stops the read)."""
    api = q.api
    pager = TimePager(lambda params: _list_page(client, api, params, q), _key_of(api), SURFACES[api]["updated"],
                      q.base_filter(), "%s asc" % SURFACES[api]["updated"], q.page_size, q.since, q.since_ids)
    delivered = dict(q.seen)
    redirects = {}
    count = 0
    for page in pager.pages():
        out = []
        for raw, item_id, when, new in page:
            if new and delivered.get(item_id) != when:
                delivered[item_id] = when
                incident = _finish(client, q, normalize_incident(raw, api), redirects, delivered)
                if incident is not None and q.matches(incident):
                    out.append(incident)
                    count += 1
            if q.limit and count >= q.limit:
                q.cursor = encode_cursor(when, [i for i, t in delivered.items() if t == when])
                if out:
                    yield out
                return
        q.cursor = pager.cursor()
        if out:
            yield out


def _finish(client, q, incident, redirects, delivered, follow=True):
    """Alerts (per-incident fallback) and redirect following for one listed incident; ``None`` to drop it."""
    if follow and q.follow_redirects and incident["redirect_incident_id"]:
        target_id = incident["redirect_incident_id"]
        if target_id not in redirects:
            redirects[target_id] = get_incident(client, q.api, target_id, include_alerts=q.include_alerts, q=q)
        target = redirects[target_id]
        if target is None:
            return None
        if incident["id"] not in target.setdefault("redirected_from", []):
            target["redirected_from"].append(incident["id"])  # also on the copy already returned
        if delivered.get(target["id"]) == time_key(target["last_update_time"]):
            return None
        delivered[target["id"]] = time_key(target["last_update_time"])
        return target
    if q.include_alerts and "alerts" not in incident:
        incident["alerts"] = _alerts.alerts_of_incident(client, incident["id"])
    elif not q.include_alerts:
        incident.pop("alerts", None)
    return incident


def read_incidents(client, q):
    """Every incident of ``q``, once each in its latest version, ascending on ``last_update_time``; the next
    cursor is ``q.cursor``."""
    latest = {}
    for page in iter_pages(client, q):
        for incident in page:
            latest.pop(incident["id"], None)
            latest[incident["id"]] = incident
    return list(latest.values())


def get_incident(client, api, incident_id, include_alerts=False, follow_redirects=True, q=None):
    """One normalised incident (following merges to the incident it was merged into, ``redirected_from`` naming
    the ids followed), or ``None`` when it does not exist."""
    path_id = check_id(incident_id)
    chain = []
    while True:
        incident = _get_one(client, api, path_id, include_alerts, q)
        if incident is None or not follow_redirects or not incident["redirect_incident_id"]:
            break
        chain.append(incident["id"])
        if incident["redirect_incident_id"] in chain or len(chain) > MAX_REDIRECTS:
            raise MtpApiError("Incident %s redirects in a loop (%s)" % (incident_id, " -> ".join(chain)))
        path_id = check_id(incident["redirect_incident_id"])
    if incident is not None and chain:
        incident["redirected_from"] = chain
    return incident


@ErrorHandler.list_handler("get incident {incident_id}", default=lambda: None)
def _get_one(client, api, incident_id, include_alerts, q):
    q = q if q is not None else IncidentQuery(api=api, include_alerts=include_alerts)
    raw = _get_expanded(client, api, "%s/%s" % (SURFACES[api]["path"], quote(incident_id, safe="")), None, q)
    return _finish(client, q, normalize_incident(raw, api), None, None, follow=False)


# -- updating -----------------------------------------------------------------------------------------------

COMPARED = ("status", "assigned_to", "classification", "determination", "tags")
_WIRE = {"graph": {"status": "status", "assigned_to": "assignedTo", "classification": "classification",
                   "determination": "determination", "tags": "customTags"},
         "mtp": {"status": "status", "assigned_to": "assignedTo", "classification": "classification",
                 "determination": "determination", "tags": "tags"}}
_KINDS = {"status": "incident_status", "classification": "classification", "determination": "determination"}


def desired_incident(params, current=None):
    """The canonical compared fields the user set (``None`` = untouched); the classification/determination pair
    is checked against ``current``'s classification when only the determination is given."""
    desired = {"status": enums.canonical("incident_status", params.get("status"), "status"),
               "assigned_to": params.get("assigned_to"),
               "classification": enums.canonical("classification", params.get("classification"), "classification"),
               "determination": enums.canonical("determination", params.get("determination"), "determination")}
    if desired["determination"] is not None and (desired["classification"] or current is not None):
        enums.check_combination(desired["classification"] or current.get("classification"), desired["determination"])
    return desired


def plan_update(current, params):
    """``(change, comment)``: the compared fields that differ (tags merged or replaced per ``purge_tags``) and
    the comment to add (``None`` when that exact text is already a comment)."""
    desired = desired_incident(params, current)
    if params.get("tags") is not None:
        desired["tags"] = merge_list(current["tags"], params["tags"], bool(params.get("purge_tags")))
    change = changes(dict((k, current.get(k)) for k in COMPARED), desired, enums=tuple(_KINDS), sets=("tags",))
    if "classification" in change and desired["determination"] is None and current["determination"] != "unknown":
        change["determination"] = "unknown"  # a new classification drops a determination of another class
    comment = params.get("comment")
    if not comment or comment in [c.get("comment") for c in current["comments"]]:
        comment = None
    return change, comment


def _patch_body(api, change, comment):
    body = {}
    for field, value in change.items():
        if field == "determination" and value == "unknown":
            continue  # the service clears it with the classification
        if field in _KINDS:
            value = enums.render(_KINDS[field], value, api)
        body[_WIRE[api][field]] = value
    if comment and api == "mtp":
        body["comment"] = comment
    return body


@ErrorHandler.common("update incident {incident_id}")
def update_incident(client, api, incident_id, params, check_mode=False):
    """The idempotent update of docs/developer/reference/defender-api.md §4.7: ``(changed, before, after)``.
    ``params``: ``status``, ``assigned_to``, ``classification``, ``determination``, ``tags``, ``purge_tags``,
    ``comment``. Raises ``MtpConfigError`` before any write for bad values, ``MtpApiError`` (404) when absent."""
    desired_incident(params)  # offline validation first
    before = get_incident(client, api, incident_id)
    if before is None:
        raise MtpApiError("Incident %s was not found" % incident_id, status=404)
    change, comment = plan_update(before, params)
    if not change and not comment:
        return False, before, before
    after = predict(before, change)
    if comment:
        after["comments"] = before["comments"] + [{"comment": comment, "created_by": None, "created_time": None}]
    if check_mode:
        return True, before, after
    path = "%s/%s" % (SURFACES[api]["path"], quote(before["id"], safe=""))
    body = _patch_body(api, change, comment)
    if body:
        after = normalize_incident(client.patch(api, path, json=body).json or {}, api)
    if comment and api == "graph":
        answer = client.post(api, path + "/comments",
                             json={"@odata.type": "microsoft.graph.security.alertComment", "comment": comment}).json
        after["comments"] = _alerts.comments_of((answer or {}).get("value"), True) or after["comments"]
    after.pop("alerts", None)
    if before.get("redirected_from"):
        after["redirected_from"] = before["redirected_from"]
    return True, before, after


def incident_diff(before, after):
    """The ``diff`` of an update: the compared fields and the comment texts."""
    def view(incident):
        out = dict((k, incident.get(k)) for k in COMPARED)
        out["comments"] = [c.get("comment") for c in incident.get("comments") or []]
        return out
    return make_diff(view(before), view(after))
