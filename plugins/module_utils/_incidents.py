# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Defender incidents on Graph (``/v1.0/security/incidents``) and on the MTP API
(``/api/incidents``): listing, incremental reads, redirects and the idempotent update.

The wire contract is docs/developer/reference/defender-api.md §4:

* pages stay inside each API's ``$top`` cap (50 Graph, 100 MTP) and are read by time boundary, ascending on the
  last-update time: ``lastUpdate... ge <boundary>`` with ``$skip`` used only inside a tie (one item of overlap,
  checked, so an item leaving the tie during the read is never skipped), never deep ``$skip`` (§4.4, §4.7);
* severity (MTP), several statuses and tags are filtered after retrieval; every value put into ``$filter`` is
  quoted or validated, so the raw ``odata_filter`` is the only text sent as typed;
* a cursor (:func:`encode_cursor`) is the boundary time plus the ids already read at that time: passed back as
  ``updated_since`` it neither repeats nor loses an incident at a tie;
* enums are normalised through ``_security_enums.py``; ``original`` keeps the API's own values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible.module_utils.six.moves.urllib.parse import quote

from ansible_collections.m365.defender.plugins.module_utils import _alerts
from ansible_collections.m365.defender.plugins.module_utils import _security_enums as enums
from ansible_collections.m365.defender.plugins.module_utils._api_errors import ErrorHandler
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._resource import changes, make_diff, merge_list, predict

PAGE_CAPS = {"graph": 50, "mtp": 100}
MAX_REDIRECTS = 10
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d{1,9}))?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$")

# per API: list path, time fields, id field, filter field names
SURFACES = {
    "graph": {"path": "/security/incidents", "updated": "lastUpdateDateTime", "created": "createdDateTime",
              "id": "id", "server_severity": True},
    "mtp": {"path": "/incidents", "updated": "lastUpdateTime", "created": "createdTime", "id": "incidentId",
            "server_severity": False},
}


# -- times, literals, cursors -----------------------------------------------------------------------------

def time_key(value, option="time"):
    """An ISO-8601 time as ``YYYY-MM-DDTHH:MM:SS.fffffffZ`` (UTC, 7 fractional digits): sortable, comparable,
    and safe as an OData DateTimeOffset literal. ``MtpConfigError`` naming ``option`` when it is not a time."""
    match = _TIME_RE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise MtpConfigError("%s: %r is not an ISO-8601 time (e.g. 2024-05-01T10:15:00Z)" % (option, value), option=option)
    year, month, day, hour, minute, second, frac, zone = match.groups()
    frac = (frac or "").ljust(7, "0")[:7]
    try:
        when = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                                 int(frac[:6]))
    except ValueError:
        raise MtpConfigError("%s: %r is not a valid date/time" % (option, value), option=option)
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        when -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d%sZ" % (when.microsecond, frac[6])


def quote_literal(value):
    """An OData string literal: ``'...'`` with single quotes doubled."""
    return "'%s'" % str(value).replace("'", "''")


def encode_cursor(boundary, ids=()):
    """The cursor string: the boundary time, and ``|id,id`` for the ids already read at exactly that time."""
    if boundary is None:
        return None
    ids = sorted(set(str(i) for i in ids))
    return boundary + ("|" + ",".join(ids) if ids else "")


def decode_cursor(value, option="updated_since"):
    """``(time_key, frozenset of ids)`` from a cursor or a plain ISO-8601 time; ``(None, ())`` for ``None``."""
    if not value:
        return None, frozenset()
    text, _sep, ids = str(value).partition("|")
    id_list = [i for i in ids.split(",") if i]
    if any(not _ID_RE.match(i) for i in id_list):
        raise MtpConfigError("%s: the cursor %r carries an invalid id list" % (option, value), option=option)
    return time_key(text, option), frozenset(id_list)


def check_id(value, option="incident_id"):
    """An incident or alert id safe in a URL path, as a string."""
    text = str(value) if value is not None else ""
    if not _ID_RE.match(text):
        raise MtpConfigError("%s: %r is not a valid id (letters, digits, '_', '-')" % (option, value), option=option)
    return text


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

class IncidentQuery(object):
    """What to read (see the contract in the module docstring); validated offline on construction.

    After (or during) :func:`iter_pages`, ``cursor`` holds the cursor for the next incremental read and
    ``warnings`` what the read warned about (also sent to ``warn`` when given)."""

    def __init__(self, api="graph", updated_since=None, seen=None, status=None, severity=None, assigned_to=None,
                 tags=None, created_after=None, created_before=None, odata_filter=None, include_alerts=False,
                 follow_redirects=True, page_size=None, limit=None, warn=None):
        if api not in SURFACES:
            raise MtpConfigError("api: %r is not one of graph, mtp" % (api,), option="api")
        self.api = api
        self.since, self.since_ids = decode_cursor(updated_since)
        self.seen = dict((str(i), time_key(t, "seen")) for i, t in (seen or ()))
        self.status = [enums.canonical("incident_status", s, "status", writable=False) for s in _alerts.as_list(status)]
        self.severity = [enums.canonical("severity", s, "severity", writable=False) for s in _alerts.as_list(severity)]
        self.assigned_to = assigned_to
        self.tags = [t.lower() for t in _alerts.as_list(tags)]
        self.created_after = time_key(created_after, "created_after") if created_after else None
        self.created_before = time_key(created_before, "created_before") if created_before else None
        self.odata_filter = odata_filter.strip() if isinstance(odata_filter, str) and odata_filter.strip() else None
        self.include_alerts, self.follow_redirects = bool(include_alerts), bool(follow_redirects)
        cap = PAGE_CAPS[api]
        if page_size is not None and (not isinstance(page_size, int) or page_size < 1 or page_size > cap):
            raise MtpConfigError("page_size: %r is outside 1..%d (the %s $top cap)" % (page_size, cap, api),
                                 option="page_size")
        self.page_size = page_size or cap
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise MtpConfigError("limit: %r must be a positive integer" % (limit,), option="limit")
        self.limit = limit
        self.warn, self.warnings = warn, []
        self.cursor, self.expand_broken = encode_cursor(self.since, self.since_ids), False

    def base_filter(self):
        """The server-side ``$filter`` clauses (without the time boundary)."""
        surface = SURFACES[self.api]
        clauses = []
        if len(self.status) == 1:
            clauses.append("status eq %s" % quote_literal(enums.render("incident_status", self.status[0], self.api)))
        if len(self.severity) == 1 and surface["server_severity"]:
            clauses.append("severity eq %s" % quote_literal(self.severity[0]))
        if self.assigned_to:
            clauses.append("assignedTo eq %s" % quote_literal(self.assigned_to))
        if self.created_after:
            clauses.append("%s ge %s" % (surface["created"], self.created_after))
        if self.created_before:
            clauses.append("%s lt %s" % (surface["created"], self.created_before))
        if self.odata_filter:
            clauses.append("(%s)" % self.odata_filter)
        return clauses

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

class TimePager(object):
    """Pages of raw items ascending on a last-update field, read by time boundary (see the module docstring).

    ``request(params)`` returns the parsed page (dict with ``value``); ``key(item)`` gives ``(id, time_key)``.
    After each page ``boundary``/``tie`` give the cursor of what was read so far."""

    def __init__(self, request, key, time_field, base_clauses, orderby, page_size, since=None, since_ids=()):
        self.request, self.key, self.time_field = request, key, time_field
        self.clauses, self.orderby, self.size = list(base_clauses), orderby, page_size
        self.boundary, self.tie = since, []
        self.since, self.since_ids = since, frozenset(since_ids)
        self.links = False
        self.stalls = 0

    def _params(self, skip):
        clauses = list(self.clauses)
        if self.boundary:
            clauses.append("%s ge %s" % (self.time_field, self.boundary))
        params = {"$top": self.size, "$orderby": self.orderby}
        if clauses:
            params["$filter"] = " and ".join(clauses)
        if skip:
            params["$skip"] = skip
        return params

    def _fetch(self):
        skip = len(self.tie) - 1 if len(self.tie) > 1 else 0
        page = self.request(self._params(skip))
        items = page.get("value") or []
        if skip and (not items or self.key(items[0])[0] != self.tie[-1]):
            # the tie shifted under us (an item of it was updated): read it again from its start, and take the
            # positions of that answer as the tie
            self.tie = []
            page = self.request(self._params(0))
            items = page.get("value") or []
        return page, items

    def pages(self):
        """Yield ``[(raw, id, time_key, new)]`` per page; ``new`` is false for items the cursor already had."""
        while True:
            before = (self.boundary, len(self.tie))
            page, items = self._fetch()
            out = []
            for raw in items:
                item_id, when = self.key(raw)
                if self.boundary is None or when > self.boundary:
                    self.boundary, self.tie = when, [item_id]
                elif when == self.boundary and item_id not in self.tie:
                    self.tie.append(item_id)
                known = when == self.since and item_id in self.since_ids
                out.append((raw, item_id, when, not known))
            yield out
            if page.get("@odata.nextLink"):
                self.links = True
            if len(items) < self.size or (self.links and not page.get("@odata.nextLink")):
                return
            self.stalls = self.stalls + 1 if (self.boundary, len(self.tie)) == before else 0
            if self.stalls >= 3:
                raise MtpApiError("Paging %s made no progress at %s: the service keeps answering the same page"
                                  % (self.time_field, self.boundary))

    def cursor(self):
        ids = set(self.tie)
        if self.boundary == self.since:
            ids |= self.since_ids
        return encode_cursor(self.boundary, ids)


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
        return str(raw.get(surface["id"])), time_key(raw.get(surface["updated"]) or "1970-01-01T00:00:00Z")
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
