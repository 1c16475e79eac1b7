#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_incident
short_description: Triage a Microsoft Defender XDR incident (status, assignee, classification, tags, comment)
version_added: 0.3.0
description:
  - Updates one incident on Microsoft Graph (C(PATCH /v1.0/security/incidents/{id}), the default) or on the
    Defender XDR API (C(PATCH /api/incidents/{id}), O(api=mtp)).
  - Idempotent - the module reads the incident, normalises the enums, compares O(status), O(assigned_to),
    O(classification), O(determination) and O(tags) (as a set), and sends only what differs; an option left unset
    is not touched. O(comment) is added only when that exact text is not already one of the incident's comments.
  - Enum values may be given in any casing and in either API's spelling, old or new
    (V(Clean) = V(notMalicious), V(InsufficientData) = V(NoEnoughDataToValidate) = V(notEnoughDataToValidate),
    V(CompromisedUser) = V(compromisedAccount), V(ConfirmedUserActivity) = V(confirmedActivity)); the module sends
    the target API's value. A determination that does not belong to the classification fails before any write.
  - A merged (redirected) incident is followed to the incident it was merged into, which is the one updated.
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
      - Which API to use. C(graph) needs C(SecurityIncident.ReadWrite.All), C(mtp) needs C(Incident.ReadWrite.All).
    type: str
    choices: [graph, mtp]
    default: graph
  incident_id:
    description:
      - The incident to update.
    type: str
    required: true
  status:
    description:
      - The status - V(active), V(inProgress), V(resolved) or V(redirected), any casing.
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
      - The determination; it must belong to the classification (given, or the incident's current one).
      - For V(truePositive) - V(multiStagedAttack), V(maliciousUserActivity), V(compromisedAccount), V(malware),
        V(phishing), V(unwantedSoftware), V(other).
      - For V(informationalExpectedActivity) - V(securityTesting), V(lineOfBusinessApplication),
        V(confirmedActivity), V(other).
      - For V(falsePositive) - V(notMalicious) (MTP V(Clean)), V(notEnoughDataToValidate) (MTP
        V(NoEnoughDataToValidate)), V(other).
    type: str
  tags:
    description:
      - Custom tags. Compared as a set; merged with the current tags unless O(purge_tags=true).
    type: list
    elements: str
  purge_tags:
    description:
      - With O(tags), remove the current tags not listed (replace) instead of adding to them.
    type: bool
    default: false
  comment:
    description:
      - A comment to add, only when that exact text is not already a comment of the incident.
    type: str
notes:
  - The MTP API replaces the whole tag list and appends a comment on every call; the module therefore sends the
    merged list and only a comment that is missing.
seealso:
  - module: m365.defender.mtp_incident_info
  - name: Update incident (Microsoft Graph)
    description: The Graph incident update call.
    link: https://learn.microsoft.com/graph/api/security-incident-update
  - name: Update incident (Defender XDR API)
    description: The MTP incident update call and its enums.
    link: https://learn.microsoft.com/defender-xdr/api-update-incidents
"""

EXAMPLES = r"""
- name: Resolve an incident as a false positive, with a closing comment
  m365.defender.mtp_incident:
    incident_id: "2972395"
    status: resolved
    classification: FalsePositive
    determination: Clean
    comment: Closed by the triage playbook
    tags: [triaged]

- name: Take an incident on the MTP API
  m365.defender.mtp_incident:
    api: mtp
    incident_id: "924565"
    status: InProgress
    assigned_to: soc1@contoso.com

- name: Replace the tags
  m365.defender.mtp_incident:
    incident_id: "2972395"
    tags: [ransomware, escalated]
    purge_tags: true
"""

RETURN = r"""
incident:
  description: The incident after the update (or as predicted in check mode), normalised as in
    M(m365.defender.mtp_incident_info) (without alerts).
  returned: success
  type: dict
  sample:
    id: "2972395"
    api: graph
    status: resolved
    classification: falsePositive
    determination: notMalicious
    tags: [triaged]
    comments: [{comment: Closed by the triage playbook, created_by: soc1@contoso.com,
                created_time: "2024-05-02T08:00:00.5Z"}]
    original: {status: resolved, severity: medium, classification: falsePositive, determination: notMalicious}
diff:
  description: The compared fields and the comment texts before and after (with C(--diff)).
  returned: when diff mode is on
  type: dict
  sample: {before: {status: active, tags: []}, after: {status: resolved, tags: [triaged]}}
"""

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule

OPTIONS = dict(
    api=dict(type="str", choices=["graph", "mtp"], default="graph"),
    incident_id=dict(type="str", required=True),
    status=dict(type="str"),
    assigned_to=dict(type="str"),
    classification=dict(type="str"),
    determination=dict(type="str"),
    tags=dict(type="list", elements="str"),
    purge_tags=dict(type="bool", default=False),
    comment=dict(type="str"),
)


def main():
    from ansible_collections.m365.defender.plugins.module_utils import _incidents, _time_paging

    module = MtpModule(argument_spec=OPTIONS, supports_check_mode=True)
    p = module.params
    try:
        _time_paging.check_id(p["incident_id"])
        changed, before, after = _incidents.update_incident(module.client(), p["api"], p["incident_id"], p,
                                                            check_mode=module.check_mode)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    if after.get("redirected_from"):
        module.warn("Incident %s was merged into %s; updated %s" % (p["incident_id"], after["id"], after["id"]))
    result = dict(changed=changed, incident=after)
    if module.diff:
        result["diff"] = _incidents.incident_diff(before, after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
