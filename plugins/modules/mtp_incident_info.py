#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_incident_info
short_description: List or read Microsoft Defender XDR incidents, with incremental reads
version_added: 0.3.0
description:
  - Reads incidents from Microsoft Graph (C(GET /v1.0/security/incidents), the default) or from the Defender XDR
    API (C(GET /api/incidents), O(api=mtp)), with the same normalised snake_case output for both.
  - Pages are read by last-update time, ascending, inside each API's C($top) cap (50 on Graph, 100 on the MTP
    API), never by deep C($skip); every incident is returned once, in its latest version, even when incidents
    change during the read.
  - RV(cursor) passed back as O(updated_since) reads only what changed since, without repeating or losing an
    incident that shares the boundary time.
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
      - Which API to read. C(graph) needs C(SecurityIncident.Read.All), C(mtp) needs C(Incident.Read.All).
    type: str
    choices: [graph, mtp]
    default: graph
  incident_id:
    description:
      - Read only this incident. The list filters are then ignored, except O(include_alerts) and
        O(follow_redirects). Returns an empty list when it does not exist.
    type: str
  status:
    description:
      - Only incidents with one of these statuses. Any casing and either API's spelling
        (V(inProgress), V(InProgress), V(in_progress)).
    type: list
    elements: str
  severity:
    description:
      - Only incidents with one of these severities (V(UnSpecified) and V(unknown) are the same). The MTP API cannot
        filter severity, so the module filters after retrieval there.
    type: list
    elements: str
  assigned_to:
    description:
      - Only incidents assigned to this user (UPN).
    type: str
  tags:
    description:
      - Only incidents carrying at least one of these tags (custom or system tags, compared case-insensitively).
    type: list
    elements: str
  filter:
    description:
      - A raw OData C($filter) expression, ANDed with the other filters (which are quoted by the module). Use the
        field names of the chosen API (C(lastUpdateDateTime) on Graph, C(lastUpdateTime) on MTP).
    type: str
  include_alerts:
    description:
      - Return each incident's alerts (C(alerts), with devices and typed evidence). On Graph this uses
        C($expand=alerts); when that answers a server error, the module warns and reads each incident's alerts from
        C(/security/alerts_v2) instead.
    type: bool
    default: false
  follow_redirects:
    description:
      - Return the incident a merged (redirected) incident was merged into, instead of the redirected incident.
        The returned incident lists the ids it was reached from in C(redirected_from).
    type: bool
    default: true
  dest:
    description:
      - Also write the incidents to this file (atomically; replaced only when its content changes).
    type: path
  format:
    description:
      - The format of O(dest); by default taken from its extension (C(.json), C(.ndjson), C(.jsonl), C(.csv)).
    type: str
    choices: [json, ndjson, csv]
notes:
  - C(changed) is always false, also when O(dest) is written; RV(export) tells whether the file changed.
  - Delegated callers see only the incidents they are exposed to.
seealso:
  - module: m365.defender.mtp_incident
  - module: m365.defender.mtp_alert_info
  - name: List incidents (Microsoft Graph)
    description: The Graph incident list call and its filters.
    link: https://learn.microsoft.com/graph/api/security-list-incidents
  - name: List incidents (Defender XDR API)
    description: The MTP incident list call, its filters and limits.
    link: https://learn.microsoft.com/defender-xdr/api-list-incidents
"""

EXAMPLES = r"""
- name: Active high-severity incidents with their alerts
  m365.defender.mtp_incident_info:
    status: [active, inProgress]
    severity: [high]
    include_alerts: true
  register: open_incidents

- name: Incremental sync from the MTP API, keeping the cursor between runs
  m365.defender.mtp_incident_info:
    api: mtp
    updated_since: "{{ lookup('ansible.builtin.file', 'cursor.txt', errors='ignore') | default(omit, true) }}"
    dest: /var/lib/soc/incidents.ndjson
  register: sync

- name: Save the cursor for the next run
  ansible.builtin.copy:
    content: "{{ sync.cursor }}"
    dest: cursor.txt
    mode: "0600"
  when: sync.cursor is not none

- name: One incident, following a merge
  m365.defender.mtp_incident_info:
    incident_id: "2972395"
  register: one
"""

RETURN = r"""
incidents:
  description: The incidents, normalised (same keys for both APIs), ascending by C(last_update_time).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The incident id (a string on both APIs).
      type: str
    api:
      description: The API it was read from.
      type: str
    display_name:
      description: The incident name.
      type: str
    status:
      description: Canonical status (C(active), C(inProgress), C(resolved), C(redirected), ...).
      type: str
    severity:
      description: Canonical severity (C(unknown), C(informational), C(low), C(medium), C(high)).
      type: str
    classification:
      description: Canonical classification.
      type: str
    determination:
      description: Canonical determination (current Graph names, e.g. C(notMalicious) for MTP C(Clean)).
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
    tags:
      description: Custom tags.
      type: list
      elements: str
    system_tags:
      description: System tags.
      type: list
      elements: str
    comments:
      description: Comments, each with C(comment), C(created_by), C(created_time).
      type: list
      elements: dict
    redirect_incident_id:
      description: The incident this one was merged into, or null.
      type: str
    redirected_from:
      description: The merged incidents followed to reach this one (only when a redirect was followed).
      type: list
      elements: str
    web_url:
      description: The portal link.
      type: str
    alerts:
      description: The alerts (with O(include_alerts)), normalised as in M(m365.defender.mtp_alert_info).
      type: list
      elements: dict
    original:
      description: The API's own values of C(status), C(severity), C(classification), C(determination).
      type: dict
  sample:
    - id: "2972395"
      api: graph
      display_name: Multi-stage incident
      status: active
      severity: medium
      classification: truePositive
      determination: multiStagedAttack
      assigned_to: soc1@contoso.com
      created_time: "2024-05-01T10:15:00.12Z"
      last_update_time: "2024-05-02T08:00:00.5Z"
      tags: [Demo]
      system_tags: []
      comments: []
      redirect_incident_id: null
      web_url: https://security.microsoft.com/incidents/2972395
      original: {status: active, severity: medium, classification: truePositive, determination: multiStagedAttack}
count:
  description: The number of incidents returned.
  returned: success
  type: int
  sample: 1
cursor:
  description: Pass it back as O(updated_since) to read only what changed after this run; null when nothing was read
    and no O(updated_since) was given.
  returned: success
  type: str
  sample: "2024-05-02T08:00:00.5000000Z|2972395"
export:
  description: What was written to O(dest) (C(dest), C(format), C(row_count), C(size), C(sha256), C(changed)).
  returned: when O(dest) is set
  type: dict
"""

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule

OPTIONS = dict(
    api=dict(type="str", choices=["graph", "mtp"], default="graph"),
    incident_id=dict(type="str"),
    status=dict(type="list", elements="str"),
    severity=dict(type="list", elements="str"),
    assigned_to=dict(type="str"),
    created_after=dict(type="str"),
    created_before=dict(type="str"),
    updated_since=dict(type="str"),
    tags=dict(type="list", elements="str"),
    filter=dict(type="str"),
    include_alerts=dict(type="bool", default=False),
    follow_redirects=dict(type="bool", default=True),
    limit=dict(type="int"),
    dest=dict(type="path"),
    format=dict(type="str", choices=["json", "ndjson", "csv"]),
)


def export(module, rows):
    from ansible_collections.m365.defender.plugins.module_utils._export import ExportWriter, format_from_dest

    dest = module.params["dest"]
    ExportWriter.check_dest(dest)
    with ExportWriter(dest, format_from_dest(dest, module.params["format"]), check_mode=module.check_mode) as writer:
        for row in rows:
            writer.write(row)
        return writer.commit()


def main():
    from ansible_collections.m365.defender.plugins.module_utils import _incidents

    module = MtpModule(argument_spec=OPTIONS, supports_check_mode=True)
    p = module.params
    try:
        q = _incidents.IncidentQuery(api=p["api"], updated_since=p["updated_since"], status=p["status"],
                                     severity=p["severity"], assigned_to=p["assigned_to"], tags=p["tags"],
                                     created_after=p["created_after"], created_before=p["created_before"],
                                     odata_filter=p["filter"], include_alerts=p["include_alerts"],
                                     follow_redirects=p["follow_redirects"], limit=p["limit"], warn=module.warn)
        if p["dest"]:
            from ansible_collections.m365.defender.plugins.module_utils._export import ExportWriter, format_from_dest
            ExportWriter.check_dest(p["dest"])
            format_from_dest(p["dest"], p["format"])
        if p["incident_id"]:
            one = _incidents.get_incident(module.client(), p["api"], p["incident_id"], p["include_alerts"],
                                          p["follow_redirects"], q=q)
            items, cursor = ([one] if one else []), None
        else:
            items = _incidents.read_incidents(module.client(), q)
            cursor = q.cursor
        result = dict(changed=False, incidents=items, count=len(items), cursor=cursor)
        if p["dest"]:
            result["export"] = export(module, items)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
