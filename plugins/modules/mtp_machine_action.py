#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_machine_action
short_description: Isolate, scan, restrict, collect from or offboard Microsoft Defender for Endpoint devices
version_added: 0.2.0
description:
  - Runs a Microsoft Defender for Endpoint response action on one or more devices, idempotently.
  - The device's state is read from its machine actions, newest first. An isolated device is not isolated again, a
    restricted one not restricted again. A V(Pending) or V(InProgress) action of the same type (and isolation
    type, scan type or file) is returned as the result with C(changed=false) and not sent again; the service's
    C(400 Action is already in progress) answer is treated the same way.
  - An active action of the opposite type (a pending isolation when you ask to release the device) is cancelled
    first.
  - One-shot actions (O(action=antivirus_scan), O(action=collect_investigation_package),
    O(action=stop_and_quarantine_file)) count as done when a run that succeeded less than O(min_interval)
    minutes ago exists.
  - Check mode reads everything and reports in RV(results[].request) what would be sent; nothing is written.
  - Requests go through the collection's retry engine, which honours C(Retry-After) on a 429.
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
    details: The diff shows, per device, its isolation, code execution restriction and active actions.
options:
  action:
    description:
      - The response action.
      - V(cancel) cancels the actions named by O(action_ids), and every V(Pending) or V(InProgress) action on the
        target devices.
      - V(offboard) needs O(confirm_offboard=true).
    type: str
    required: true
    choices: [isolate, unisolate, antivirus_scan, restrict_code_execution, unrestrict_code_execution,
              collect_investigation_package, stop_and_quarantine_file, offboard, cancel]
  machine_ids:
    description: Device ids (40 hexadecimal characters).
    type: list
    elements: str
  dns_names:
    description:
      - Computer DNS names, resolved with C($filter=computerDnsName eq '...').
      - A name that matches no device fails; one that matches several fails unless O(allow_many=true).
    type: list
    elements: str
  machine_tag:
    description: Every device carrying this tag (compared case-insensitively).
    type: str
  hunting_query:
    description:
      - An advanced hunting query (run through Microsoft Graph C(runHuntingQuery), permission
        C(ThreatHunting.Read.All)) whose C(DeviceId) column selects the devices.
    type: str
  allow_many:
    description: Allow a DNS name to resolve to several devices.
    type: bool
    default: false
  isolation_type:
    description: The isolation type of O(action=isolate).
    type: str
    choices: [full, selective]
    default: full
  scan_type:
    description: The scan type of O(action=antivirus_scan).
    type: str
    choices: [quick, full]
    default: quick
  sha1:
    description: The SHA-1 of the file to stop and quarantine (O(action=stop_and_quarantine_file)).
    type: str
  action_ids:
    description: Machine action ids to cancel (O(action=cancel)).
    type: list
    elements: str
  comment:
    description:
      - The comment the API requires, shown in the action center.
      - "Defaults to C(Ansible m365.defender: <action> by <user>), where C(<user>) is the user the module runs as."
      - Template it with the play's context, for example C({{ ansible_play_name }} - contain alert {{ alert_id }}).
    type: str
  confirm_offboard:
    description: Must be V(true) for O(action=offboard), which stops the sensor on the device.
    type: bool
    default: false
  min_interval:
    description:
      - For one-shot actions, minutes during which a successful earlier run of the same action counts as done.
      - V(0) sends the action on every run.
    type: int
    default: 60
  wait:
    description:
      - Wait until every action reaches a final status (V(Succeeded), V(Failed), V(TimeOut), V(Cancelled)).
      - The task fails when an action ends in another status than V(Succeeded) (V(Cancelled) for O(action=cancel)).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait in all.
    type: int
    default: 600
  dest:
    description:
      - A directory to download the investigation package of O(action=collect_investigation_package) to, as
        C(<computer DNS name>_<action id>.zip). Needs O(wait=true). An existing file is not downloaded again.
    type: path
notes:
  - Permissions (application roles of C(WindowsDefenderATP)) C(Machine.Read.All) and C(Machine.Isolate),
    C(Machine.Scan), C(Machine.RestrictExecution), C(Machine.CollectForensics), C(Machine.StopAndQuarantine) or
    C(Machine.Offboard) by action; the preset C(response) of M(m365.defender.mtp_aad_app_setup) grants them.
  - The API does not expose a device's isolation state; it is derived from the device's last 50 actions.
seealso:
  - module: m365.defender.mtp_machine_action_info
  - module: m365.defender.mtp_live_response
  - name: Isolate machine API
    description: The Defender for Endpoint isolate API.
    link: https://learn.microsoft.com/defender-endpoint/api/isolate-machine
  - name: Machine action resource type
    description: The machine action entity and its statuses.
    link: https://learn.microsoft.com/defender-endpoint/api/machineaction
"""

EXAMPLES = r"""
- name: Isolate the device a hunt found, and wait for it
  m365.defender.mtp_machine_action:
    action: isolate
    dns_names: [ws-fin-07.contoso.local]
    comment: "Contain incident {{ incident_id }}"
    wait: true

- name: Quick-scan every device tagged Finance
  m365.defender.mtp_machine_action:
    action: antivirus_scan
    machine_tag: Finance

- name: Collect an investigation package and download it
  m365.defender.mtp_machine_action:
    action: collect_investigation_package
    machine_ids: [7b1f4967d9728e5aa3c06a9e617a22a4a5a17378]
    wait: true
    dest: /var/tmp/packages

- name: Stop and quarantine a file on the devices that ran it
  m365.defender.mtp_machine_action:
    action: stop_and_quarantine_file
    sha1: 87662bc3d60e4200ceaf7aae249d1c343f4b83c9
    hunting_query: |
      DeviceProcessEvents
      | where SHA1 == "87662bc3d60e4200ceaf7aae249d1c343f4b83c9"
      | distinct DeviceId

- name: Offboard a retired device
  m365.defender.mtp_machine_action:
    action: offboard
    dns_names: [ws-old-01.contoso.local]
    confirm_offboard: true
"""

RETURN = r"""
results:
  description: One entry per target device (or per cancelled action id).
  returned: always
  type: list
  elements: dict
  contains:
    machine_id:
      description: The device id.
      type: str
      sample: 7b1f4967d9728e5aa3c06a9e617a22a4a5a17378
    computer_dns_name:
      description: The device's DNS name.
      type: str
      sample: ws-fin-07.contoso.local
    changed:
      description: Whether anything was (or in check mode would be) sent for this device.
      type: bool
    machine_action:
      description:
        - The machine action (snake_case keys), after waiting when O(wait=true); the pending one when it was
          already running; V(null) when nothing was needed, or in check mode.
      type: dict
      sample: {"id": "5382f7ea-7557-4ab7-9782-d50480024a4e", "type": "Isolate", "scope": "Full", "status": "Pending"}
    cancelled_action_ids:
      description: Actions cancelled on this device (an active action of the opposite type, or O(action=cancel)).
      type: list
      elements: str
    request:
      description: What was (or in check mode would be) sent; V(null) when nothing was.
      type: dict
      sample: {"method": "POST", "path": "/api/machines/7b1f.../isolate", "body": {"Comment": "...", "IsolationType": "Full"}}
    package_uri:
      description: The short-lived download link of the investigation package.
      type: str
      returned: O(action=collect_investigation_package), O(wait=true) and the collection succeeded
    dest:
      description: The downloaded package.
      type: str
      returned: O(dest) is set and the collection succeeded
machine_actions:
  description: The machine actions of RV(results), snake_case.
  returned: always
  type: list
  elements: dict
"""

import getpass
import os
import re

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.m365.defender.plugins.module_utils import _machine_actions as ma
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError, MtpError
from ansible_collections.m365.defender.plugins.module_utils._machines import resolve_targets, validate_targets
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule
from ansible_collections.m365.defender.plugins.module_utils._resource import make_diff
from ansible_collections.m365.defender.plugins.module_utils._retry import Deadline

ACTION_CHOICES = sorted(ma.ACTIONS) + ["cancel"]
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")


def default_comment(action):
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown user"
    return "Ansible m365.defender: %s by %s" % (action, user)


def validate(params):
    """Every offline check, naming the option, before any call."""
    action = params["action"]
    if action == "offboard" and not params["confirm_offboard"]:
        raise MtpConfigError("action=offboard stops the sensor on the device: set confirm_offboard: true to proceed",
                             option="confirm_offboard")
    if params.get("sha1") is not None and not _SHA1.match(params["sha1"]):
        raise MtpConfigError("sha1: %r is not a SHA-1 hash (40 hexadecimal characters)" % params["sha1"], option="sha1")
    if params.get("comment") is not None and not params["comment"].strip():
        raise MtpConfigError("comment must not be empty (the API requires one)", option="comment")
    for key in ("wait_timeout", "min_interval"):
        if params[key] < 0:
            raise MtpConfigError("%s must be 0 or more" % key, option=key)
    if params.get("dest"):
        if action != "collect_investigation_package":
            raise MtpConfigError("dest is only for action=collect_investigation_package", option="dest")
        if not params["wait"]:
            raise MtpConfigError("dest needs wait: true (the package exists once the collection succeeded)",
                                 option="dest")
        if not os.path.isdir(params["dest"]):
            raise MtpConfigError("dest: %s is not a directory" % params["dest"], option="dest")
    if params.get("action_ids") and action != "cancel":
        raise MtpConfigError("action_ids is only for action=cancel", option="action_ids")
    validate_targets(params, required=not (action == "cancel" and params.get("action_ids")))


def _cancel(module, client, machines, comment):
    results = []
    for action_id in module.params.get("action_ids") or []:
        action = ma.get_action(client, action_id)
        if action is None:
            raise MtpConfigError("action_ids: machine action %s was not found" % action_id, option="action_ids")
        changed, after = ma.cancel_active(client, action, comment, module.check_mode)
        results.append({"machine_id": action.get("machineId"), "computer_dns_name": action.get("computerDnsName"),
                        "changed": changed, "machine_action": after, "request": None,
                        "cancelled_action_ids": [action_id] if changed else []})
    for machine in machines:
        entry = {"machine_id": machine["id"], "computer_dns_name": machine.get("computerDnsName"), "changed": False,
                 "machine_action": None, "request": None, "cancelled_action_ids": []}
        for action in ma.machine_actions(client, machine["id"]):
            changed, after = ma.cancel_active(client, action, comment, module.check_mode)
            if changed:
                entry["changed"] = True
                entry["cancelled_action_ids"].append(action["id"])
                entry["machine_action"] = after
        results.append(entry)
    return results


def _finish(module, client, entry, deadline):
    """Wait for one entry's action, and fetch and download the package when asked."""
    action = entry["machine_action"]
    if not module.params["wait"] or not action or module.check_mode:
        return None
    action = entry["machine_action"] = ma.wait_final(client, action["id"], deadline.remaining())
    wanted = "Cancelled" if module.params["action"] == "cancel" else "Succeeded"
    if ma.status_of(action) != wanted:
        return "machine action %s (%s) on %s ended %s" % (action["id"], ma.type_of(action),
                                                          entry["computer_dns_name"], ma.status_of(action))
    if module.params["action"] == "collect_investigation_package":
        entry["package_uri"] = ma.package_uri(client, action["id"])
        if module.params.get("dest"):
            path = os.path.join(module.params["dest"], "%s_%s.zip" % (entry["computer_dns_name"], action["id"]))
            if not os.path.exists(path):
                ma.download(client.session, entry["package_uri"], path)
                entry["changed"] = True
            entry["dest"] = path
    return None


def run(module):
    params = module.params
    validate(params)
    client = module.client()
    comment = params.get("comment") or default_comment(params["action"])
    machines = resolve_targets(client, params, warn=module.warn)
    before, after = {}, {}
    if params["action"] == "cancel":
        results = _cancel(module, client, machines, comment)
    else:
        body = ma.build_body(params["action"], comment, params["isolation_type"], params["scan_type"], params.get("sha1"))
        results = []
        for machine in machines:
            entry, was, will = ma.ensure_on_machine(client, machine, params["action"], body, module.check_mode,
                                                    params["min_interval"])
            key = machine.get("computerDnsName") or machine["id"]
            before[key], after[key] = was, will
            results.append(entry)
    deadline = Deadline(params["wait_timeout"])
    failures = [f for f in (_finish(module, client, e, deadline) for e in results) if f]
    for entry in results:
        if entry["machine_action"]:
            entry["machine_action"] = camel_dict_to_snake_dict(entry["machine_action"])
    out = {"changed": any(e["changed"] for e in results), "results": results,
           "machine_actions": [e["machine_action"] for e in results if e["machine_action"]]}
    if module.diff and params["action"] != "cancel":
        out["diff"] = make_diff(before, after)
    if failures:
        module.fail_json(msg="; ".join(failures), **out)
    return out


def main():
    module = MtpModule(
        argument_spec=dict(
            action=dict(type="str", required=True, choices=ACTION_CHOICES),
            machine_ids=dict(type="list", elements="str"),
            dns_names=dict(type="list", elements="str"),
            machine_tag=dict(type="str"),
            hunting_query=dict(type="str"),
            allow_many=dict(type="bool", default=False),
            isolation_type=dict(type="str", choices=["full", "selective"], default="full"),
            scan_type=dict(type="str", choices=["quick", "full"], default="quick"),
            sha1=dict(type="str"),
            action_ids=dict(type="list", elements="str"),
            comment=dict(type="str"),
            confirm_offboard=dict(type="bool", default=False),
            min_interval=dict(type="int", default=60),
            wait=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=600),
            dest=dict(type="path"),
        ),
        required_if=[("action", "stop_and_quarantine_file", ("sha1",))],
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
