#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_alert
short_description: Triage a Microsoft Defender XDR alert (status, assignee, classification, comment)
version_added: 0.3.0
description:
  - Updates one alert through Microsoft Graph (C(PATCH /v1.0/security/alerts_v2/{id})).
  - Idempotent - the module reads the alert, normalises the enums, compares O(status), O(assigned_to),
    O(classification) and O(determination), and sends only what differs. O(comment) is posted
    (C(POST .../alerts_v2/{id}/comments)) only when that exact text is not already a comment of the alert.
  - Enum values may be given in any casing and either API's spelling, old or new (as in M(m365.defender.mtp_incident));
    a determination that does not belong to the classification fails before any write.
author:
  - m365.defender contributors (@m365-defender)
extends_documentation_fragment:
  - m365.defender.auth
  - m365.defender.connection
  - m365.defender.attributes
  - m365.defender.attributes.action_group
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  api:
    description:
      - Which API updates the alert. Only C(graph) (alerts_v2) can; V(mtp) is accepted so that the same variables
        serve M(m365.defender.mtp_alert_info), and fails with a message before any call.
    type: str
    choices: [graph, mtp]
    default: graph
  alert_id:
    description:
      - The alert to update (a Graph alerts_v2 id).
    type: str
    required: true
  status:
    description:
      - V(new), V(inProgress) or V(resolved), any casing.
    type: str
  assigned_to:
    description:
      - The assignee (UPN).
    type: str
  classification:
    description:
      - V(truePositive), V(falsePositive), V(informationalExpectedActivity) or V(unknown), any casing.
    type: str
  determination:
    description:
      - The determination; it must belong to the classification (given, or the alert's current one). See
        M(m365.defender.mtp_incident) for the values of each classification.
    type: str
  comment:
    description:
      - A comment to add, only when that exact text is not already a comment of the alert.
    type: str
notes:
  - Needs C(SecurityAlert.ReadWrite.All). Alerts read with O(m365.defender.mtp_alert_info#module:api=mtp) carry the
    same ids and can be updated here.
seealso:
  - module: m365.defender.mtp_alert_info
  - module: m365.defender.mtp_incident
  - name: Update alert (Microsoft Graph)
    description: The alerts_v2 update call.
    link: https://learn.microsoft.com/graph/api/security-alert-update
"""

EXAMPLES = r"""
- name: Resolve an alert as a true positive (malware)
  m365.defender.mtp_alert:
    alert_id: da637551227677560813_-961444813
    status: resolved
    classification: TruePositive
    determination: Malware
    comment: Device re-imaged
"""

RETURN = r"""
alert:
  description: The alert after the update (or as predicted in check mode), normalised as in
    M(m365.defender.mtp_alert_info).
  returned: success
  type: dict
  sample:
    id: da637551227677560813_-961444813
    status: resolved
    classification: truePositive
    determination: malware
    original: {status: resolved, severity: high, classification: truePositive, determination: malware}
diff:
  description: The alert before and after (with C(--diff)).
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError, MtpError
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule

OPTIONS = dict(
    api=dict(type="str", choices=["graph", "mtp"], default="graph"),
    alert_id=dict(type="str", required=True),
    status=dict(type="str"),
    assigned_to=dict(type="str"),
    classification=dict(type="str"),
    determination=dict(type="str"),
    comment=dict(type="str"),
)


def main():
    from ansible_collections.m365.defender.plugins.module_utils import _alerts, _time_paging

    module = MtpModule(argument_spec=OPTIONS, supports_check_mode=True)
    p = module.params
    try:
        _time_paging.check_id(p["alert_id"], "alert_id")
        if p["api"] != "graph":
            raise MtpConfigError("api: the MTP API cannot update alerts; use api graph (alerts_v2, permission "
                                 "SecurityAlert.ReadWrite.All) with the same alert_id", option="api")
        changed, after, diff = _alerts.update_alert(module.client(), p["alert_id"], p, module.check_mode)
        if after is None:
            raise MtpApiError("Alert %s was not found" % p["alert_id"], status=404)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    result = dict(changed=changed, alert=after)
    if module.diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
