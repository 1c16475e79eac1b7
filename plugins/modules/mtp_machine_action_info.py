#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_machine_action_info
short_description: List Microsoft Defender for Endpoint machine actions
version_added: 0.2.0
description:
  - Lists machine actions (C(GET /api/machineactions)), newest first, filtered by device, type, status,
    requestor and creation time.
  - Device and requestor filters and the time bound are sent to the service; O(types) and O(statuses) are
    applied to the answer, so any combination works.
  - Live-response sessions started from the portal's device page are not returned by this API.
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
  action_ids:
    description: Return these actions only (one C(GET) each; an unknown id fails).
    type: list
    elements: str
  machine_ids:
    description: Actions on these devices (40 hexadecimal characters).
    type: list
    elements: str
  dns_names:
    description: Actions on the devices with these DNS names.
    type: list
    elements: str
  allow_many:
    description: Allow a DNS name to resolve to several devices.
    type: bool
    default: false
  types:
    description:
      - Action types, for example V(Isolate), V(RunAntiVirusScan), V(LiveResponse) (compared
        case-insensitively, spaces ignored).
    type: list
    elements: str
  statuses:
    description: Statuses.
    type: list
    elements: str
    choices: [Pending, InProgress, Succeeded, Failed, TimeOut, Cancelled]
  requestor:
    description: The requestor (a user principal name, or the app for app tokens).
    type: str
  since:
    description: Actions created at or after this time (ISO 8601, for example V(2026-01-31T00:00:00Z)).
    type: str
  limit:
    description: At most this many actions per device (or in all, without a device filter), newest first.
    type: int
    default: 1000
notes:
  - Permission (application role of C(WindowsDefenderATP)) C(Machine.Read.All) or C(Machine.ReadWrite.All).
seealso:
  - module: m365.defender.mtp_machine_action
  - name: List machine actions API
    description: The Defender for Endpoint machine actions list and its OData filters.
    link: https://learn.microsoft.com/defender-endpoint/api/get-machineactions-collection
"""

EXAMPLES = r"""
- name: Pending isolations on one device
  m365.defender.mtp_machine_action_info:
    dns_names: [ws-fin-07.contoso.local]
    types: [Isolate, Unisolate]
    statuses: [Pending, InProgress]
  register: isolations

- name: Everything the automation account did since yesterday
  m365.defender.mtp_machine_action_info:
    requestor: "{{ automation_app_id }}"
    since: "{{ '%Y-%m-%dT00:00:00Z' | strftime(now().timestamp() - 86400) }}"
"""

RETURN = r"""
machine_actions:
  description: The actions, newest first, with snake_case keys; empty when nothing matches.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 5382f7ea-7557-4ab7-9782-d50480024a4e
      type: Isolate
      scope: Selective
      status: Succeeded
      machine_id: 7b1f4967d9728e5aa3c06a9e617a22a4a5a17378
      computer_dns_name: desktop-test
      requestor: Analyst@contoso.com
      creation_date_time_utc: "2019-01-02T14:39:38.2262283Z"
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.m365.defender.plugins.module_utils import _machine_actions as ma
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError, MtpError
from ansible_collections.m365.defender.plugins.module_utils._machines import odata_quote, resolve_targets, validate_targets
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule


def server_filter(machine_id=None, requestor=None, since=None):
    """The ``$filter`` sent to the service (docs/developer/reference/response-and-content.md §2.2)."""
    parts = []
    if machine_id:
        parts.append("machineId eq %s" % odata_quote(machine_id))
    if requestor:
        parts.append("requestor eq %s" % odata_quote(requestor))
    if since:
        parts.append("creationDateTimeUtc ge %s" % since)
    return " and ".join(parts) or None


def keep(action, types, statuses):
    """Whether an action passes the client-side filters."""
    if types and ma.type_of(action).lower() not in [t.replace(" ", "").lower() for t in types]:
        return False
    return not statuses or ma.status_of(action) in statuses


def run(module):
    params = module.params
    if params["limit"] < 1:
        raise MtpConfigError("limit must be 1 or more", option="limit")
    if params.get("since") and ma.parse_time(params["since"]) is None:
        raise MtpConfigError("since: %r is not an ISO 8601 time such as 2026-01-31T00:00:00Z" % params["since"],
                             option="since")
    validate_targets(params, required=False)
    client = module.client()
    found = []
    for action_id in params.get("action_ids") or []:
        action = ma.get_action(client, action_id)
        if action is None:
            raise MtpConfigError("action_ids: machine action %s was not found" % action_id, option="action_ids")
        found.append(action)
    if not params.get("action_ids"):
        machines = resolve_targets(client, params) if (params.get("machine_ids") or params.get("dns_names")) else [None]
        for machine in machines:
            flt = server_filter(machine and machine["id"], params.get("requestor"), params.get("since"))
            found.extend(ma.list_actions(client, flt, params["limit"]))
    actions = [a for a in ma.newest_first(found) if keep(a, params.get("types"), params.get("statuses"))]
    return {"changed": False, "machine_actions": [camel_dict_to_snake_dict(a) for a in actions]}


def main():
    module = MtpModule(
        argument_spec=dict(
            action_ids=dict(type="list", elements="str"),
            machine_ids=dict(type="list", elements="str"),
            dns_names=dict(type="list", elements="str"),
            allow_many=dict(type="bool", default=False),
            types=dict(type="list", elements="str"),
            statuses=dict(type="list", elements="str",
                          choices=["Pending", "InProgress", "Succeeded", "Failed", "TimeOut", "Cancelled"]),
            requestor=dict(type="str"),
            since=dict(type="str"),
            limit=dict(type="int", default=1000),
        ),
        mutually_exclusive=[("action_ids", "machine_ids"), ("action_ids", "dns_names")],
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
