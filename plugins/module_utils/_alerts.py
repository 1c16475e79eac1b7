# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Defender alerts: Graph ``/v1.0/security/alerts_v2`` (read and update) and the
alerts inside MTP incidents (read-only), normalised to one snake_case shape.

docs/developer/reference/defender-api.md §4.3 (MTP alert, device and entity fields) and §4.4 (alerts_v2: filters,
PATCH of ``status``/``classification``/``determination``/``assignedTo``, evidence typed by ``@odata.type``).
Listing uses the time-boundary pager of ``_time_paging.py`` on ``lastUpdateDateTime``; a comment is posted only
when that exact text is not already one of the alert's comments.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible.module_utils.six.moves.urllib.parse import quote

from ansible_collections.m365.defender.plugins.module_utils import _security_enums as enums
from ansible_collections.m365.defender.plugins.module_utils._api_errors import ErrorHandler
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._resource import changes, make_diff, predict
from ansible_collections.m365.defender.plugins.module_utils._time_paging import (
    ReadOptions, TimePager, as_list, check_id, encode_cursor, eq_clauses, item_time, quote_literal, time_key)

ALERTS_PATH = "/security/alerts_v2"
ALERT_PAGE = 100
ALERT_PAGE_CAP = 2000
_EVIDENCE_PREFIX = "#microsoft.graph.security."
COMPARED = ("status", "assigned_to", "classification", "determination")
_WIRE = {"status": "status", "assigned_to": "assignedTo", "classification": "classification",
         "determination": "determination"}
_ENUM_KIND = {"status": "alert_status", "classification": "classification", "determination": "determination"}


def _graph_evidence(ev):
    kind = str(ev.get("@odata.type") or "")
    kind = kind[len(_EVIDENCE_PREFIX):] if kind.startswith(_EVIDENCE_PREFIX) else kind.lstrip("#") or "unknown"
    body = camel_dict_to_snake_dict(dict((k, v) for k, v in ev.items() if not k.startswith("@")))
    body["type"] = kind
    return body


def _graph_devices(evidence):
    return [{"device_id": e.get("mde_device_id"), "device_name": e.get("device_dns_name"),
             "os_platform": e.get("os_platform"), "health_status": e.get("health_status"),
             "risk_score": e.get("risk_score"), "aad_device_id": e.get("azure_ad_device_id")}
            for e in evidence if e["type"] == "deviceEvidence"]


def _mtp_devices(raw):
    return [{"device_id": d.get("mdatpDeviceId") or d.get("DeviceId") or d.get("deviceId"),
             "device_name": d.get("deviceDnsName"), "os_platform": d.get("osPlatform"),
             "health_status": d.get("healthStatus"), "risk_score": d.get("riskScore"),
             "aad_device_id": d.get("aadDeviceId"), "os_build": d.get("osBuild"),
             "rbac_group_name": d.get("rbacGroupName")} for d in raw or [] if isinstance(d, dict)]


def _mtp_evidence(raw):
    out = []
    for ent in raw.get("entities") or []:
        body = camel_dict_to_snake_dict(dict((k, v) for k, v in ent.items() if v is not None))
        body["type"] = ent.get("entityType") or "unknown"
        out.append(body)
    for dev in _mtp_devices(raw.get("devices")):
        out.append(dict(dev, type="Machine"))
    return out


def comments_of(raw, graph):
    """Comments in the contract's shape: ``comment``, ``created_by``, ``created_time``."""
    if graph:
        return [{"comment": c.get("comment"), "created_by": c.get("createdByDisplayName"),
                 "created_time": c.get("createdDateTime")} for c in raw or [] if isinstance(c, dict)]
    return [{"comment": c.get("comment"), "created_by": c.get("createdBy"), "created_time": c.get("createdTime")}
            for c in raw or [] if isinstance(c, dict)]


def normalize_alert(raw, api):
    """The snake_case alert of the contract from a Graph alerts_v2 alert or an alert inside an MTP incident."""
    graph = api == "graph"
    out = {
        "id": str(raw.get("id") if graph else raw.get("alertId")), "api": api,
        "incident_id": str(raw.get("incidentId")) if raw.get("incidentId") is not None else None,
        "title": raw.get("title"), "description": raw.get("description"), "category": raw.get("category"),
        "status": enums.read("alert_status", raw.get("status")),
        "severity": enums.read("severity", raw.get("severity")),
        "classification": enums.read("classification", raw.get("classification")) or "unknown",
        "determination": enums.read("determination", raw.get("determination")) or "unknown",
        "assigned_to": raw.get("assignedTo"),
        "created_time": raw.get("createdDateTime") if graph else raw.get("creationTime"),
        "last_update_time": raw.get("lastUpdateDateTime") if graph else raw.get("lastUpdatedTime"),
        "resolved_time": raw.get("resolvedDateTime") if graph else raw.get("resolvedTime"),
        "service_source": raw.get("serviceSource"), "detection_source": raw.get("detectionSource"),
        "mitre_techniques": list(raw.get("mitreTechniques") or []),
        "threat_family_name": raw.get("threatFamilyName"),
        "web_url": raw.get("alertWebUrl"),
        "comments": comments_of(raw.get("comments"), graph),
        "original": dict((k, raw.get(k)) for k in ("status", "severity", "classification", "determination")),
    }
    if graph:
        out["evidence"] = [_graph_evidence(e) for e in raw.get("evidence") or [] if isinstance(e, dict)]
        out["devices"] = _graph_devices(out["evidence"])
    else:
        out["evidence"] = _mtp_evidence(raw)
        out["devices"] = _mtp_devices(raw.get("devices"))
    return out


@ErrorHandler.list_handler("list the alerts of incident {incident_id}")
def alerts_of_incident(client, incident_id):
    """The normalised Graph alerts of one incident (``$filter=incidentId eq '<id>'``)."""
    params = {"$filter": "incidentId eq %s" % quote_literal(incident_id), "$top": ALERT_PAGE}
    return [normalize_alert(a, "graph") for a in client.paginate("graph", ALERTS_PATH, params=params)]


class AlertQuery(ReadOptions):
    """Filters of an alert read; ``cursor``/``warnings`` as on ``_incidents.IncidentQuery``."""

    def __init__(self, api="graph", updated_since=None, status=None, severity=None, assigned_to=None,
                 created_after=None, created_before=None, service_source=None, incident_id=None, odata_filter=None,
                 page_size=None, limit=None):
        if api not in ("graph", "mtp"):
            raise MtpConfigError("api: %r is not one of graph, mtp" % (api,), option="api")
        self.api = api
        ReadOptions.__init__(self, updated_since, created_after, created_before, odata_filter, page_size, limit,
                             cap=ALERT_PAGE_CAP, default_page=ALERT_PAGE)
        self.status = [enums.canonical("alert_status", s, "status", writable=False) for s in as_list(status)]
        self.severity = [enums.canonical("severity", s, "severity", writable=False) for s in as_list(severity)]
        self.assigned_to, self.service_source = assigned_to, service_source
        self.incident_id = check_id(incident_id) if incident_id is not None else None
        if api == "mtp" and self.odata_filter:
            raise MtpConfigError("filter: api mtp reads alerts from incidents and takes no OData filter; use api graph",
                                 option="filter")

    def clauses(self):
        out = eq_clauses((field, values[0]) for field, values in (("status", self.status), ("severity", self.severity))
                         if len(values) == 1)
        out += eq_clauses([("assignedTo", self.assigned_to), ("serviceSource", self.service_source),
                           ("incidentId", self.incident_id)])
        return out + self.window_clauses("createdDateTime")

    def matches(self, alert):
        if self.status and alert["status"] not in self.status:
            return False
        if self.severity and alert["severity"] not in self.severity:
            return False
        if self.service_source and str(alert["service_source"]).lower() != self.service_source.lower():
            return False
        if self.incident_id and alert["incident_id"] != self.incident_id:
            return False
        return not (self.assigned_to and (alert["assigned_to"] or "").lower() != self.assigned_to.lower())


@ErrorHandler.common("list alerts")
def _alert_page(client, params):
    return client.get("graph", ALERTS_PATH, params=params).json or {}


def read_alerts(client, q):
    """Every alert of ``q`` once, in its latest version; ``q.cursor`` is the next cursor."""
    if q.api == "mtp":
        return _mtp_alerts(client, q)
    pager = TimePager(lambda params: _alert_page(client, params),
                      lambda raw: (str(raw.get("id")), item_time(raw.get("lastUpdateDateTime"))),
                      "lastUpdateDateTime", q.clauses(), "lastUpdateDateTime asc", q.page_size, q.since, q.since_ids)
    latest = {}
    for page in pager.pages():
        for raw, item_id, when, new in page:
            if not new:
                continue
            alert = normalize_alert(raw, "graph")
            latest.pop(item_id, None)
            if q.matches(alert):
                latest[item_id] = alert
            if q.limit and len(latest) >= q.limit:
                q.cursor = encode_cursor(when, [i for i, a in latest.items() if time_key(a["last_update_time"]) == when])
                return list(latest.values())
        q.cursor = pager.cursor()
    return list(latest.values())


def _mtp_alerts(client, q):
    """The alerts inside MTP incidents (the MTP API has no alert list of its own here), filtered after retrieval."""
    from ansible_collections.m365.defender.plugins.module_utils import _incidents as inc  # it imports this module

    if q.incident_id:
        one = inc.get_incident(client, "mtp", q.incident_id, include_alerts=True, follow_redirects=False)
        incidents = [one] if one else []
    else:  # an incident's last update is never older than its alerts'
        incidents = inc.read_incidents(client, inc.IncidentQuery(api="mtp", updated_since=q.since, include_alerts=True,
                                                                 follow_redirects=False))
    out = [alert for incident in incidents for alert in incident.get("alerts") or []
           if q.after_cursor(alert["id"], alert["last_update_time"]) and q.in_window(alert["created_time"])
           and q.matches(alert)]
    out.sort(key=lambda a: item_time(a["last_update_time"]))
    if q.limit:
        out = out[:q.limit]
    if out:
        last = time_key(out[-1]["last_update_time"])
        q.cursor = encode_cursor(last, [a["id"] for a in out if time_key(a["last_update_time"]) == last])
    return out


@ErrorHandler.list_handler("get alert {alert_id}", default=lambda: None)
def get_alert(client, api, alert_id):
    """One normalised alert, or ``None``. On ``api: mtp`` the alert is looked up inside the incidents."""
    alert_id = check_id(alert_id, "alert_id")
    if api == "graph":
        return normalize_alert(client.get("graph", "%s/%s" % (ALERTS_PATH, quote(alert_id, safe=""))).json or {}, "graph")
    for alert in read_alerts(client, AlertQuery(api="mtp")):
        if alert["id"] == alert_id:
            return alert
    return None


def desired_alert(params, current):
    """The compared fields the user asked for, canonical, with the classification/determination pair checked."""
    desired = {"status": enums.canonical("alert_status", params.get("status"), "status"),
               "assigned_to": params.get("assigned_to"),
               "classification": enums.canonical("classification", params.get("classification"), "classification"),
               "determination": enums.canonical("determination", params.get("determination"), "determination")}
    if desired["determination"] is not None and (desired["classification"] or current is not None):
        enums.check_combination(desired["classification"] or current.get("classification"), desired["determination"])
    return desired


@ErrorHandler.common("update alert {alert_id}")
def update_alert(client, alert_id, params, check_mode):
    """Idempotent update of a Graph alert: ``(changed, alert_after, diff)``; ``None`` alert when it is absent."""
    alert_id = str(alert_id)
    desired = desired_alert(params, None)
    current = get_alert(client, "graph", alert_id)
    if current is None:
        return False, None, None
    desired = desired_alert(params, current)
    view = dict((k, current.get(k)) for k in COMPARED)
    change = changes(view, desired, enums=("status", "classification", "determination"))
    if change.get("classification") and "determination" not in change and desired["determination"] is None:
        change["determination"] = "unknown"  # a new classification drops a determination of another class
    comment = params.get("comment")
    add_comment = bool(comment) and comment not in [c["comment"] for c in current["comments"]]
    after = predict(current, change)
    if add_comment:
        after["comments"] = current["comments"] + [{"comment": comment, "created_by": None, "created_time": None}]
    if (change or add_comment) and not check_mode:
        path = "%s/%s" % (ALERTS_PATH, quote(alert_id, safe=""))
        if change:
            auto = "determination" not in _given(params)  # dropped with the classification by the service
            body = dict((_WIRE[k], v) for k, v in change.items() if not (k == "determination" and v == "unknown" and auto))
            after = normalize_alert(client.patch("graph", path, json=body).json or {}, "graph")
        if add_comment:
            client.post("graph", path + "/comments",
                        json={"@odata.type": "microsoft.graph.security.alertComment", "comment": comment})
            after = get_alert(client, "graph", alert_id)
    return bool(change or add_comment), after, make_diff(current, after)


def _given(params):
    return [k for k in COMPARED if params.get(k) is not None]
