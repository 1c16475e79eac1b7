#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_detection_rule
short_description: Manage Microsoft Defender XDR custom detection rules as code
version_added: 0.2.0
description:
  - Makes custom detection rules (Microsoft Graph C(security/rules/detectionRules)) equal to rules given as
    data (O(rules)) or YAML files (O(src)), deletes them, or exports a tenant's rules to YAML files that this
    module accepts back unchanged (O(state=gathered)).
  - "Each rule has a stable O(rules[].key): the module appends the marker C([m365d:<source>/<key>]) to the
    alert description and finds its rules by that marker, so renaming a rule updates it instead of creating a
    second one. Rules without a marker are left alone unless O(adopt=true) lets a rule take over the unmarked
    rule with the same display name."
  - Before any write, the query of every new or changed rule runs through C(runHuntingQuery) with
    O(preflight_timespan) and C(| take 1). A query that does not parse fails with the service's line and
    column; a result without C(Timestamp), C(ReportId), an impacted-asset column (such as C(DeviceId)) or a
    column an impacted asset or response action names fails naming it. Nothing is written then.
  - Changes are sent as a PATCH of the changed writable fields; a change of the MITRE techniques (not
    patchable) deletes the rule and creates it again. Creates are paced to 10 a minute, other calls to 100.
  - The API exists in the global (commercial, GCC) cloud only; O(cloud=gcc_high) and O(cloud=dod) fail before
    any call.
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
    details: Rules are read and pre-flighted and the planned changes returned; no rule or file is written.
  diff_mode:
    support: full
    details: The rules that change, before and after, in the rule-file shape, keyed by O(rules[].key).
options:
  rules:
    description:
      - The rules, in the rule-file shape. Combined with the rules of O(src).
    type: list
    elements: dict
    suboptions:
      key:
        description:
          - The stable key (letters, digits, C(.), C(_), C(-); up to 80), unique within O(source).
        type: str
        required: true
      display_name:
        description:
          - The rule name shown in the portal.
        type: str
        required: true
      enabled:
        description:
          - Whether the rule runs.
        type: bool
        default: true
      schedule:
        description:
          - How often the rule runs, V(0) for continuous (NRT; one table, no joins, unions, C(externaldata) or
            comments), V(1H), V(3H), V(12H) or V(24H).
        type: str
        default: 24H
      query:
        description:
          - The KQL. It must return C(Timestamp), C(ReportId) and an impacted-asset column.
        type: str
        required: true
      alert:
        description:
          - "The alert template: C(title) (default the display name), C(description), C(severity)
            (V(informational), V(low), V(medium) (default), V(high)), C(category), C(recommended_actions),
            C(mitre_techniques) (ids such as C(T1059.001)) and C(impacted_assets) (a list of C(type):
            V(device), V(user) or V(mailbox) and C(identifier): the column)."
        type: dict
      organizational_scope:
        description:
          - The device-group scope as the Graph API takes it (camelCase), or null for all devices.
        type: raw
      response_actions:
        description:
          - "Response actions, each a C(type) (such as V(isolateDevice), V(collectInvestigationPackage),
            V(runAntivirusScan), V(restrictAppExecution), V(stopAndQuarantineFile), V(disableUser),
            V(markUserAsCompromised), V(softDelete)) and its fields in snake_case (C(identifier) (the column),
            C(isolation_type), C(device_group_names), ...)."
        type: list
        elements: dict
  src:
    description:
      - A YAML file holding a rule or a list of rules, or a directory whose C(*.yml) and C(*.yaml) files do.
    type: path
  state:
    description:
      - V(present) creates or updates the rules; V(absent) deletes the rules with these keys;
        V(gathered) reads every rule of the tenant and returns it in RV(gathered), and writes one
        C(<key>.yml) per rule to O(dest) when given.
    type: str
    choices: [present, absent, gathered]
    default: present
  purge:
    description:
      - With O(state=present), also delete the rules carrying this O(source)'s marker whose key is not given,
        so that the source's rules equal the files.
    type: bool
    default: false
  adopt:
    description:
      - A rule whose key is not found takes over an unmarked rule with the same display name (compared
        case-insensitively) instead of creating one; the marker is added to it.
    type: bool
    default: false
  source:
    description:
      - The repository name in the marker C([m365d:<source>/<key>]); give each repository its own to purge
        independently.
    type: str
    default: ansible
  dest:
    description:
      - With O(state=gathered), the existing directory the rule files are written to (each file atomically, and
        only when its content changes).
    type: path
  preflight:
    description:
      - Run the pre-flight query check before writing. Needs C(ThreatHunting.Read.All).
    type: bool
    default: true
  preflight_timespan:
    description:
      - The ISO-8601 C(Timespan) of the pre-flight query.
    type: str
    default: PT1H
  api_version:
    description:
      - The Graph version of the rule calls.
    type: str
    choices: [beta, v1.0]
    default: beta
notes:
  - The app needs Graph C(CustomDetection.ReadWrite.All) and C(ThreatHunting.Read.All) (preset V(detections)
    of M(m365.defender.mtp_aad_app_setup)).
  - A rule gathered without a marker is written under a key made from its display name; applying the file
    needs O(adopt=true) the first time, which adds the marker.
  - The rule quotas are not published by Microsoft (about 10 creates a minute); a throttled call is retried
    after C(Retry-After) by the collection's retry engine.
seealso:
  - module: m365.defender.mtp_detection_rule_info
  - module: m365.defender.mtp_hunting_query
  - name: Create detectionRule (Graph beta)
    description: The custom detection rule API this module calls.
    link: https://learn.microsoft.com/graph/api/security-detectionrule-post-detectionrules?view=graph-rest-beta
  - name: Custom detection rules
    description: Query requirements, frequencies and response actions.
    link: https://learn.microsoft.com/defender-xdr/custom-detection-rules
"""

EXAMPLES = r"""
- name: Deploy the repository's detection rules, removing the ones deleted from it
  m365.defender.mtp_detection_rule:
    src: detections/
    source: soc-detections
    purge: true

- name: One rule inline
  m365.defender.mtp_detection_rule:
    rules:
      - key: office-encoded-powershell
        display_name: Encoded PowerShell from Office
        schedule: 1H
        query: |
          DeviceProcessEvents
          | where InitiatingProcessFileName in~ ("winword.exe", "excel.exe")
          | where ProcessCommandLine has_any ("-enc", "-EncodedCommand")
          | project Timestamp, ReportId, DeviceId, DeviceName, ProcessCommandLine
        alert:
          title: Encoded PowerShell started by Office
          severity: high
          category: Execution
          mitre_techniques: [T1059.001]
          impacted_assets:
            - type: device
              identifier: DeviceId
        response_actions:
          - type: isolateDevice
            identifier: DeviceId
            isolation_type: selective

- name: Export the tenant's rules to files this module accepts back
  m365.defender.mtp_detection_rule:
    state: gathered
    dest: detections/
"""

RETURN = r"""
counts:
  description: Rules created, updated, deleted and unchanged (predicted in check mode); a re-created rule counts as
    one delete and one create.
  returned: state is present or absent
  type: dict
  sample: {"create": 1, "update": 0, "delete": 0, "unchanged": 3}
rules:
  description: What was done (or would be done, in check mode) to each rule.
  returned: state is present or absent
  type: list
  elements: dict
  contains:
    key:
      description: The rule's key.
      type: str
    id:
      description: The service's rule id (null for a rule not yet created).
      type: str
    display_name:
      description: The rule's display name.
      type: str
    action:
      description: V(created), V(updated), V(recreated), V(deleted), V(unchanged) (in check mode V(create),
        V(update), V(recreate), V(delete)).
      type: str
preflight_checked:
  description: The keys of the rules whose query passed the pre-flight.
  returned: state is present
  type: list
  elements: str
gathered:
  description: Every rule of the tenant in the rule-file shape (feed them back in O(rules) or through the files).
  returned: state is gathered
  type: list
  elements: dict
rule_ids:
  description: For each gathered key, the service's rule C(id) and the C(marker_source) (null when unmarked).
  returned: state is gathered
  type: dict
files:
  description: The rule files of O(dest).
  returned: state is gathered
  type: list
  elements: str
written:
  description: The files written (would be written, in check mode) because their content changed.
  returned: state is gathered
  type: list
  elements: str
line:
  description: The line of a pre-flight parse error, from the service's message.
  returned: failed in the pre-flight on a parse error
  type: int
column:
  description: The column of a pre-flight parse error.
  returned: failed in the pre-flight on a parse error
  type: int
"""

import re

from ansible_collections.m365.defender.plugins.module_utils._detection_rule_files import gather, read_rules
from ansible_collections.m365.defender.plugins.module_utils._detection_rules import desired_rules, ensure, load_rules
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule

RULE_SPEC = dict(key=dict(type="str", required=True, no_log=False), display_name=dict(type="str", required=True),
                 enabled=dict(type="bool", default=True), schedule=dict(type="str", default="24H"),
                 query=dict(type="str", required=True), alert=dict(type="dict"), organizational_scope=dict(type="raw"),
                 response_actions=dict(type="list", elements="dict"))


def argument_spec():
    return dict(
        rules=dict(type="list", elements="dict", options=RULE_SPEC),
        src=dict(type="path"),
        state=dict(type="str", choices=["present", "absent", "gathered"], default="present"),
        purge=dict(type="bool", default=False),
        adopt=dict(type="bool", default=False),
        source=dict(type="str", default="ansible"),
        dest=dict(type="path"),
        preflight=dict(type="bool", default=True),
        preflight_timespan=dict(type="str", default="PT1H"),
        api_version=dict(type="str", choices=["beta", "v1.0"], default="beta"),
    )


def _clean(rule):
    """A rule from O(rules) without the keys Ansible filled with None (the file shape leaves them out)."""
    return dict((k, v) for k, v in rule.items() if v is not None)


def validate(module):
    params = module.params
    if not re.match(r"^[A-Za-z0-9._-]{1,64}$", params["source"] or ""):
        module.fail_json(msg="source must be 1-64 letters, digits, '.', '_' or '-', got %r" % params["source"], option="source")
    if params["state"] == "gathered":
        if params["rules"] or params["src"] or params["purge"]:
            module.fail_json(msg="state=gathered reads the tenant: rules, src and purge do not apply", option="state")
        return None
    if params["dest"]:
        module.fail_json(msg="dest only applies to state=gathered", option="dest")
    if params["purge"] and params["state"] != "present":
        module.fail_json(msg="purge needs state=present", option="purge")
    if not params["rules"] and not params["src"] and not params["purge"]:
        module.fail_json(msg="give rules or src (or purge: true with neither, to delete every rule of the source)",
                         option="rules")
    return load_rules(dict(params, rules=[_clean(r) for r in params["rules"] or []]), read_rules)


def main():
    module = MtpModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        rules = validate(module)
        if module.params["state"] == "gathered":
            result = gather(module.client(), module.params, module.check_mode)
        else:
            desired_rules(rules, module.params["source"])  # every rule checked offline, before the first call
            result = ensure(module.client(), module.params, rules, module.check_mode)
    except MtpError as exc:
        extra = dict((k, getattr(exc, k)) for k in ("line", "column") if getattr(exc, k, None) is not None)
        module.fail_json_mtp(exc, **extra)
    if not module.diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
