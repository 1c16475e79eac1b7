#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_alert_info
short_description: List or read Microsoft Defender XDR alerts, with incremental reads
version_added: 0.3.0
description:
  - Reads alerts from Microsoft Graph (C(GET /v1.0/security/alerts_v2), the default) or, with O(api=mtp), the alerts
    inside the Defender XDR API's incidents (C(GET /api/incidents)), in one normalised snake_case shape with the
    devices and the typed evidence of each alert.
  - Graph pages are read by last-update time, ascending, never by deep C($skip); RV(cursor) passed back as
    O(updated_since) reads only what changed since.
author:
  - m365.defender contributors (@m365-defender)
extends_documentation_fragment:
  - m365.defender.auth
  - m365.defender.connection
  - m365.defender.attributes
  - m365.defender.attributes.action_group
  - m365.defender.attributes.check_mode_read_only
  - m365.defender.time_paging
attributes:
  diff_mode:
    support: none
options:
  api:
    description:
      - Which API to read. C(graph) needs C(SecurityAlert.Read.All), C(mtp) needs C(Incident.Read.All).
    type: str
    choices: [graph, mtp]
    default: graph
  alert_id:
    description:
      - Read only this alert (an empty list when it does not exist). The list filters are then ignored.
    type: str
  incident_id:
    description:
      - Only the alerts of this incident.
    type: str
  status:
    description:
      - Only alerts with one of these statuses (V(new), V(inProgress), V(resolved); any casing).
    type: list
    elements: str
  severity:
    description:
      - Only alerts with one of these severities (any casing).
    type: list
    elements: str
  assigned_to:
    description:
      - Only alerts assigned to this user (UPN).
    type: str
  service_source:
    description:
      - Only alerts of this service source (for example V(microsoftDefenderForEndpoint)).
    type: str
  filter:
    description:
      - A raw OData C($filter) expression ANDed with the other filters (O(api=graph) only).
    type: str
seealso:
  - module: m365.defender.mtp_alert
  - module: m365.defender.mtp_incident_info
  - name: List alerts_v2 (Microsoft Graph)
    description: The Graph alert list call and its filters.
    link: https://learn.microsoft.com/graph/api/security-list-alerts_v2
"""

EXAMPLES = r"""
- name: New high-severity endpoint alerts
  m365.defender.mtp_alert_info:
    status: [new]
    severity: [high]
    service_source: microsoftDefenderForEndpoint
  register: alerts

- name: The alerts of one incident, from the MTP API
  m365.defender.mtp_alert_info:
    api: mtp
    incident_id: "924565"
  register: incident_alerts
"""

RETURN = r"""
alerts:
  description: The alerts, normalised (same keys for both APIs), ascending by C(last_update_time).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The alert id.
      type: str
    incident_id:
      description: The incident the alert belongs to.
      type: str
    title:
      description: The alert title.
      type: str
    status:
      description: Canonical status (C(new), C(inProgress), C(resolved)).
      type: str
    severity:
      description: Canonical severity.
      type: str
    classification:
      description: Canonical classification.
      type: str
    determination:
      description: Canonical determination.
      type: str
    assigned_to:
      description: The assignee.
      type: str
    created_time:
      description: Creation time (ISO-8601).
      type: str
    last_update_time:
      description: Last update time (ISO-8601).
      type: str
    service_source:
      description: The service that raised it, as the API names it.
      type: str
    detection_source:
      description: The detection source, as the API names it.
      type: str
    devices:
      description: The devices, each with C(device_id), C(device_name), C(os_platform), C(health_status), C(risk_score).
      type: list
      elements: dict
    evidence:
      description: The evidence in snake_case, each with its C(type) (Graph C(deviceEvidence), C(fileEvidence), ...;
        MTP entity types C(File), C(User), ... and C(Machine)).
      type: list
      elements: dict
    comments:
      description: Comments, each with C(comment), C(created_by), C(created_time).
      type: list
      elements: dict
    original:
      description: The API's own values of C(status), C(severity), C(classification), C(determination).
      type: dict
  sample:
    - id: da637551227677560813_-961444813
      incident_id: "2972395"
      title: Suspicious PowerShell download cradle
      status: new
      severity: high
      classification: unknown
      determination: unknown
      devices: [{device_id: 7e1b..., device_name: ws-fin-07.contoso.local, os_platform: Windows10}]
      evidence: [{type: deviceEvidence, mde_device_id: 7e1b..., device_dns_name: ws-fin-07.contoso.local}]
      original: {status: new, severity: high, classification: unknown, determination: unknown}
count:
  description: The number of alerts returned.
  returned: success
  type: int
  sample: 1
cursor:
  description: Pass it back as O(updated_since) to read only what changed after this run.
  returned: success
  type: str
  sample: "2024-05-02T08:00:00.5000000Z|da637551227677560813_-961444813"
"""

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule

OPTIONS = dict(
    api=dict(type="str", choices=["graph", "mtp"], default="graph"),
    alert_id=dict(type="str"),
    incident_id=dict(type="str"),
    status=dict(type="list", elements="str"),
    severity=dict(type="list", elements="str"),
    assigned_to=dict(type="str"),
    service_source=dict(type="str"),
    created_after=dict(type="str"),
    created_before=dict(type="str"),
    updated_since=dict(type="str"),
    filter=dict(type="str"),
    limit=dict(type="int"),
)


def main():
    from ansible_collections.m365.defender.plugins.module_utils import _alerts

    module = MtpModule(argument_spec=OPTIONS, supports_check_mode=True)
    p = module.params
    try:
        q = _alerts.AlertQuery(api=p["api"], updated_since=p["updated_since"], status=p["status"],
                               severity=p["severity"], assigned_to=p["assigned_to"], created_after=p["created_after"],
                               created_before=p["created_before"], service_source=p["service_source"],
                               incident_id=p["incident_id"], odata_filter=p["filter"], limit=p["limit"])
        if p["alert_id"]:
            one = _alerts.get_alert(module.client(), p["api"], p["alert_id"])
            items, cursor = ([one] if one else []), None
        else:
            items = _alerts.read_alerts(module.client(), q)
            cursor = q.cursor
    except MtpError as exc:
        module.fail_json_mtp(exc)
    module.exit_json(changed=False, alerts=items, count=len(items), cursor=cursor)


if __name__ == "__main__":
    main()
