#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_detection_rule_info
short_description: List Microsoft Defender XDR custom detection rules
version_added: 0.2.0
description:
  - Lists the tenant's custom detection rules (Microsoft Graph C(security/rules/detectionRules)), each in the
    rule-file shape of M(m365.defender.mtp_detection_rule) plus the service's read-only facts.
  - Filter by O(key) (the module's marker), O(display_name) or O(source).
author:
  - m365.defender contributors (@m365-defender)
extends_documentation_fragment:
  - m365.defender.auth
  - m365.defender.connection
  - m365.defender.attributes
  - m365.defender.attributes.action_group
  - m365.defender.attributes.check_mode_read_only
attributes:
  diff_mode:
    support: none
options:
  key:
    description:
      - Only the rule with this key in its C([m365d:<source>/<key>]) marker.
    type: str
  display_name:
    description:
      - Only rules with this display name (compared case-insensitively).
    type: str
  source:
    description:
      - Only rules carrying the marker of this source.
    type: str
  api_version:
    description:
      - The Graph version of the rule calls.
    type: str
    choices: [beta, v1.0]
    default: beta
notes:
  - Needs Graph C(CustomDetection.Read.All) or C(CustomDetection.ReadWrite.All). The API exists in the global
    cloud only.
seealso:
  - module: m365.defender.mtp_detection_rule
  - name: List detectionRules (Graph beta)
    description: The list call.
    link: https://learn.microsoft.com/graph/api/security-rulesroot-list-detectionrules?view=graph-rest-beta
"""

EXAMPLES = r"""
- name: The rules this repository deployed
  m365.defender.mtp_detection_rule_info:
    source: soc-detections
  register: deployed

- name: Rules that failed their last run
  ansible.builtin.debug:
    msg: "{{ deployed.rules | selectattr('last_run_details.status', 'equalto', 'failed') | map(attribute='key') }}"
"""

RETURN = r"""
rules:
  description: The matching rules in the rule-file shape, plus C(id), C(detector_id), C(marker_source) (null when
    unmarked), C(created_by), C(last_modified_date_time), C(next_run_date_time) and C(last_run_details).
  returned: success
  type: list
  elements: dict
  sample: [{"key": "office-encoded-powershell", "display_name": "Encoded PowerShell from Office", "enabled": true,
            "schedule": "1H", "id": "35079", "marker_source": "ansible"}]
count:
  description: The number of rules returned.
  returned: success
  type: int
"""

from ansible_collections.m365.defender.plugins.module_utils._detection_rules import Rules, gathered, split_marker
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule


def run(client, params):
    api = Rules(client, params["api_version"])
    api.check_cloud()
    items = dict((str(item.get("id")), item) for item in api.list())
    out = []
    for rule, rule_id, mark_source in gathered(list(items.values()), params["source"] or "ansible"):
        marker_key = split_marker(((items[str(rule_id)].get("detectionAction") or {}).get("alertTemplate") or {})
                                  .get("description"))[2]
        rule["key"] = marker_key or rule["key"]  # gathered() makes keys unique across sources; a marker's key is its own
        if params["key"] and rule["key"] != params["key"]:
            continue
        if params["source"] and mark_source != params["source"]:
            continue
        if params["display_name"] and (rule.get("display_name") or "").lower() != params["display_name"].lower():
            continue
        raw = items[str(rule_id)]
        out.append(dict(rule, id=rule_id, marker_source=mark_source, detector_id=raw.get("detectorId"),
                        created_by=raw.get("createdBy"), last_modified_date_time=raw.get("lastModifiedDateTime"),
                        next_run_date_time=(raw.get("schedule") or {}).get("nextRunDateTime"),
                        last_run_details=raw.get("lastRunDetails")))
    return out


def main():
    module = MtpModule(argument_spec=dict(key=dict(type="str", no_log=False), display_name=dict(type="str"),
                                          source=dict(type="str"),
                                          api_version=dict(type="str", choices=["beta", "v1.0"], default="beta")),
                       supports_check_mode=True)
    try:
        rules = run(module.client(), module.params)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    module.exit_json(changed=False, rules=rules, count=len(rules))


if __name__ == "__main__":
    main()
