#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_live_response
short_description: Run Microsoft Defender for Endpoint live response commands on a device
version_added: 0.2.0
description:
  - Puts library files on one device, runs a library script with arguments and gets files from it, in one live
    response session (C(POST /api/machines/{id}/runliveresponse)); waits for the result and returns the
    script's transcript; downloads the files to O(dest).
  - Uploads local files to the live response library first when O(library_files) is set, only when the library
    lacks the name or holds other content (compared by SHA-256).
  - A device has one session at a time. An active session with the same commands is returned as the result with
    C(changed=false); a device busy with another session fails with a message saying so.
  - A session that succeeded with the same commands less than O(min_interval) minutes ago is reused (its results
    are read again); V(0) always starts a new session.
  - Check mode reports the library uploads and the request that would be sent; nothing is written.
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
    details: The diff shows the library files (name and SHA-256) before and after.
options:
  machine_id:
    description: The device id (40 hexadecimal characters).
    type: str
  dns_name:
    description: The device's DNS name; it must match exactly one device.
    type: str
  put_files:
    description: Library file names to put in the device's working folder (C(PutFile)).
    type: list
    elements: str
  script:
    description: A library script to run (C(RunScript)); it times out on the device after 10 minutes.
    type: str
  script_args:
    description: Arguments of O(script).
    type: str
  get_files:
    description: Paths on the device to collect (C(GetFile)), for example V(C:\\Windows\\Temp\\out.zip).
    type: list
    elements: str
  library_files:
    description: Local files to keep in the live response library (at most 20 MB each).
    type: list
    elements: dict
    suboptions:
      path:
        description: The local file.
        type: path
        required: true
      name:
        description: The library name; defaults to the base name of O(library_files[].path).
        type: str
      description:
        description: The library description.
        type: str
      parameters_description:
        description: A description of the script's parameters.
        type: str
      has_parameters:
        description: Whether the script takes parameters.
        type: bool
        default: false
  comment:
    description:
      - "The comment the API requires. Defaults to C(Ansible m365.defender: live response by <user>), where
        C(<user>) is the user the module runs as."
    type: str
  min_interval:
    description: Minutes during which a successful identical session counts as done.
    type: int
    default: 60
  wait:
    description:
      - Wait for the session to reach a final status and read its results. The task fails when it ends in
        another status than V(Succeeded).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait (the script timeout on the device is 10 minutes).
    type: int
    default: 900
  dest:
    description: A directory to download the O(get_files) results to, as C(<action id>_<file name>).
    type: path
notes:
  - Permissions (application roles of C(WindowsDefenderATP)) C(Machine.LiveResponse), C(Machine.Read.All), and
    C(Library.Manage) for O(library_files); the preset C(response) of M(m365.defender.mtp_aad_app_setup) grants
    them.
  - The API allows 10 sessions a minute and 25 concurrent sessions per tenant; the retry engine waits out a 429.
seealso:
  - module: m365.defender.mtp_machine_action
  - name: Run live response commands API
    description: The Defender for Endpoint live response API.
    link: https://learn.microsoft.com/defender-endpoint/api/run-live-response
  - name: Upload a library file API
    description: The live response library upload API.
    link: https://learn.microsoft.com/defender-endpoint/api/upload-library
"""

EXAMPLES = r"""
- name: Run a collection script and fetch its output
  m365.defender.mtp_live_response:
    dns_name: ws-fin-07.contoso.local
    library_files:
      - path: files/collect.ps1
        description: Triage collector
        has_parameters: true
    script: collect.ps1
    script_args: -Verbose
    get_files: ['C:\Windows\Temp\triage.zip']
    dest: /var/tmp/triage
  register: triage

- name: Show the script's output
  ansible.builtin.debug:
    msg: "{{ triage.results[0].script_output }}"

- name: Only keep the library up to date
  m365.defender.mtp_live_response:
    library_files:
      - path: files/collect.ps1
"""

RETURN = r"""
machine_action:
  description: The LiveResponse machine action (snake_case keys); V(null) in check mode or without commands.
  returned: always
  type: dict
results:
  description: One entry per command, in order.
  returned: O(wait=true) and a session ran
  type: list
  elements: dict
  contains:
    index:
      description: The command index.
      type: int
    type:
      description: V(PutFile), V(RunScript) or V(GetFile).
      type: str
    command_status:
      description: V(Created), V(Completed) or V(Failed).
      type: str
    errors:
      description: The command's errors.
      type: list
      elements: str
    script_name:
      description: The script (RunScript).
      type: str
    exit_code:
      description: The script's exit code (RunScript).
      type: int
    script_output:
      description: The script's output (RunScript).
      type: str
    script_errors:
      description: The script's error output (RunScript).
      type: str
    dest:
      description: The downloaded file (GetFile, with O(dest)).
      type: str
library_files:
  description: The library files uploaded (or in check mode to upload), with name and SHA-256.
  returned: always
  type: list
  elements: dict
request:
  description: The session request sent (or in check mode to send); V(null) when an existing session was used.
  returned: always
  type: dict
"""

import getpass
import os

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.m365.defender.plugins.module_utils import _live_response as lr
from ansible_collections.m365.defender.plugins.module_utils import _machine_actions as ma
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError, MtpError
from ansible_collections.m365.defender.plugins.module_utils._machines import is_machine_id, resolve_targets, validate_targets
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule
from ansible_collections.m365.defender.plugins.module_utils._resource import make_diff


def validate(params):
    commands = lr.build_commands(params.get("put_files"), params.get("script"), params.get("script_args"),
                                 params.get("get_files"))
    if commands and not (params.get("machine_id") or params.get("dns_name")):
        raise MtpConfigError("one of machine_id or dns_name is required to run commands", option="machine_id")
    if not commands and not params.get("library_files"):
        raise MtpConfigError("nothing to do: set script, put_files, get_files or library_files")
    if params.get("comment") is not None and not params["comment"].strip():
        raise MtpConfigError("comment must not be empty (the API requires one)", option="comment")
    if params["wait_timeout"] < 0 or params["min_interval"] < 0:
        raise MtpConfigError("wait_timeout and min_interval must be 0 or more", option="wait_timeout")
    if params.get("dest") and not os.path.isdir(params["dest"]):
        raise MtpConfigError("dest: %s is not a directory" % params["dest"], option="dest")
    if params.get("dest") and not params["wait"]:
        raise MtpConfigError("dest needs wait: true", option="dest")
    if params.get("machine_id") and not is_machine_id(params["machine_id"]):
        raise MtpConfigError("machine_id: %r is not a machine id (40 hexadecimal characters); use dns_name for a "
                             "computer name" % params["machine_id"], option="machine_id")
    validate_targets({"dns_names": [params["dns_name"]] if params.get("dns_name") else None}, required=False)
    return commands, [lr.local_file(spec) for spec in params.get("library_files") or []]


def sync_library(module, client, wanted, out):
    if not wanted:
        return
    current = lr.list_library(client)
    todo = lr.library_changes(current, wanted)
    names = set(w["name"].lower() for w in wanted)
    before = dict((e["fileName"], e.get("sha256")) for e in current if str(e.get("fileName")).lower() in names)
    after = dict(before, **dict((w["name"], w["sha256"]) for w in wanted))
    out["library_files"] = [{"name": w["name"], "sha256": w["sha256"]} for w in todo]
    out["diff"] = make_diff({"library_files": before}, {"library_files": after})
    if todo:
        out["changed"] = True
        if not module.check_mode:
            for spec in todo:
                lr.upload_library_file(client, spec)


def run_commands(module, client, commands, out):
    params = module.params
    machine = resolve_targets(client, {"machine_ids": [params["machine_id"]] if params.get("machine_id") else None,
                                       "dns_names": [params["dns_name"]] if params.get("dns_name") else None})[0]
    comment = params.get("comment") or "Ansible m365.defender: live response by %s" % getpass.getuser()
    action, _active = lr.reusable(ma.machine_actions(client, machine["id"]), commands, params["min_interval"])
    if action is None:
        out["request"] = {"method": "POST", "path": "/api/machines/%s/runliveresponse" % machine["id"],
                          "body": {"Comment": comment, "Commands": commands}}
        out["changed"] = True
        if module.check_mode:
            return
        action, sent = lr.start_session(client, machine["id"], commands, comment)
        out["changed"] = out["changed"] and sent
    if params["wait"]:
        action = ma.wait_final(client, action["id"], params["wait_timeout"])
        out["results"], fetched = lr.collect_results(client, action, params.get("dest"))
        out["changed"] = out["changed"] or fetched
    out["machine_action"] = camel_dict_to_snake_dict(action)
    if params["wait"] and ma.status_of(action) != "Succeeded":
        module.fail_json(msg="live response session %s on %s ended %s" % (action["id"], machine.get("computerDnsName"),
                                                                          ma.status_of(action)), **out)


def run(module):
    commands, wanted = validate(module.params)
    client = module.client()
    out = {"changed": False, "machine_action": None, "library_files": [], "request": None}
    sync_library(module, client, wanted, out)
    if commands:
        run_commands(module, client, commands, out)
    if not module.diff:
        out.pop("diff", None)
    return out


def main():
    module = MtpModule(
        argument_spec=dict(
            machine_id=dict(type="str"),
            dns_name=dict(type="str"),
            put_files=dict(type="list", elements="str"),
            script=dict(type="str"),
            script_args=dict(type="str"),
            get_files=dict(type="list", elements="str"),
            library_files=dict(type="list", elements="dict", options=dict(
                path=dict(type="path", required=True),
                name=dict(type="str"),
                description=dict(type="str"),
                parameters_description=dict(type="str"),
                has_parameters=dict(type="bool", default=False),
            )),
            comment=dict(type="str"),
            min_interval=dict(type="int", default=60),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=900),
            dest=dict(type="path"),
        ),
        mutually_exclusive=[("machine_id", "dns_name")],
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
