# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MtpActionBase through a real ansible-playbook run: module_defaults of an action group reach both the
controller-side sign-in and the module, and the device code message is shown before the module runs.

A throw-away collection (testns.testcol) holds an action plugin subclassing MtpActionBase (its interactive
sign-in replaced by a recorder: no identity provider here) and a module that echoes the common options.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.m365.defender.plugins.plugin_utils import _action_base

COLLS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(_action_base.__file__)))))))

ACTION = '''
import json, os
from ansible_collections.m365.defender.plugins.plugin_utils._action_base import MtpActionBase


def _record(adapter, show):
    with open(os.environ["MTP_TEST_RECORD"], "a") as f:
        f.write(json.dumps({"tenant_id": adapter.get_option("tenant_id"), "client_id": adapter.get_option("client_id"),
                            "auth_method": adapter.get_option("auth_method")}) + "\\n")
    show("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code TESTCODE1")


class ActionModule(MtpActionBase):
    device_code_login = staticmethod(_record)
'''

MODULE = '''
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.m365.defender.plugins.module_utils._options import common_argument_spec


def main():
    module = AnsibleModule(argument_spec=common_argument_spec(query=dict(type="str")), supports_check_mode=True)
    keys = ("tenant_id", "client_id", "auth_method", "query")
    module.exit_json(changed=False, seen=dict((k, module.params[k]) for k in keys))


if __name__ == "__main__":
    main()
'''

PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/testns.testcol.mtp:
      tenant_id: contoso.onmicrosoft.com
      client_id: 11111111-2222-3333-4444-555555555555
      auth_method: device_code
  tasks:
    - name: device code from the group defaults
      testns.testcol.mtp_echo:
        query: first
      register: first
    - name: another method overrides the group default
      testns.testcol.mtp_echo:
        query: second
        auth_method: client_secret
      register: second
    - name: MODULE RESULTS
      ansible.builtin.debug:
        msg: "{{ {'first': first.seen, 'second': second.seen} | to_json }}"
'''


@pytest.fixture
def collection(tmp_path):
    root = tmp_path / "ansible_collections" / "testns" / "testcol"
    (root / "meta").mkdir(parents=True)
    (root / "plugins" / "action").mkdir(parents=True)
    (root / "plugins" / "modules").mkdir(parents=True)
    (root / "galaxy.yml").write_text("namespace: testns\nname: testcol\nversion: 1.0.0\n")
    (root / "meta" / "runtime.yml").write_text("requires_ansible: '>=2.16'\naction_groups:\n  mtp:\n    - mtp_echo\n"
                                               "    - mtp_doc\n")
    (root / "plugins" / "action" / "mtp_echo.py").write_text(textwrap.dedent(ACTION))
    (root / "plugins" / "modules" / "mtp_echo.py").write_text(textwrap.dedent(MODULE))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    return tmp_path


def test_device_code_login_runs_on_the_controller_with_module_defaults(collection):
    record = collection / "record.jsonl"
    env = dict(os.environ)
    for name in ("MTP_AUTH_METHOD", "AZURE_TENANT_ID", "AZURE_CLIENT_ID"):
        env.pop(name, None)
    env.update(ANSIBLE_COLLECTIONS_PATH="%s:%s" % (collection, COLLS), MTP_TEST_RECORD=str(record),
               ANSIBLE_LOCAL_TEMP=str(collection / "tmp"), ANSIBLE_REMOTE_TEMP=str(collection / "rtmp"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_LOCALHOST_WARNING="0")
    # ansible-test's venv has no ansible-playbook script: run the CLI module with this interpreter
    proc = subprocess.run([sys.executable, "-m", "ansible.cli.playbook", str(collection / "play.yml")], cwd=str(collection), env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    # the login ran once, on the controller, with the options from module_defaults
    records = [json.loads(line) for line in record.read_text().splitlines()]
    assert records == [{"tenant_id": "contoso.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555555",
                        "auth_method": "device_code"}]
    # the code is shown during the first task, before its result
    first_task = out.index("TASK [device code from the group defaults]")
    assert first_task < out.index("TESTCODE1") < out.index("TASK [another method overrides the group default]")
    # the module got the same defaults (and the task's own override)
    line = [x for x in out.splitlines() if '"msg": "{' in x][0]
    seen = json.loads(json.loads(line.split('"msg": ', 1)[1]))
    assert seen["first"] == {"tenant_id": "contoso.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555555",
                             "auth_method": "device_code", "query": "first"}
    assert seen["second"]["auth_method"] == "client_secret" and seen["second"]["tenant_id"] == "contoso.onmicrosoft.com"


DOC_MODULE = '''
DOCUMENTATION = r"""
module: mtp_doc
short_description: Echo, with documented options
description: Echo.
author: Test
options:
  query:
    description: A query.
    type: str
"""
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.m365.defender.plugins.module_utils._options import common_argument_spec


def main():
    module = AnsibleModule(argument_spec=common_argument_spec(query=dict(type="str")), supports_check_mode=True)
    module.exit_json(changed=False, ran=True)


if __name__ == "__main__":
    main()
'''

REFUSED = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/testns.testcol.mtp:
      tenant_id: contoso.onmicrosoft.com
      client_id: 11111111-2222-3333-4444-555555555555
      auth_method: device_code
  tasks:
    - name: device code without a token cache
      testns.testcol.mtp_doc:
        query: x
        token_cache: false
      register: r_no_cache
      ignore_errors: true
    - name: device code with an unknown option
      testns.testcol.mtp_doc:
        query: x
        bogus_option: 1
      register: r_unknown
      ignore_errors: true
    - name: device code with timeout 0
      testns.testcol.mtp_doc:
        query: x
        timeout: 0
      register: r_timeout
      ignore_errors: true
    - name: MODULE RESULTS
      ansible.builtin.debug:
        msg: "{{ {'no_cache': r_no_cache.msg | default('ran'), 'unknown': r_unknown.msg | default('ran'),
                 'timeout': r_timeout.msg | default('ran')} | to_json }}"
'''


def test_device_code_refusals_come_before_any_sign_in(collection):
    root = collection / "ansible_collections" / "testns" / "testcol" / "plugins"
    (root / "action" / "mtp_doc.py").write_text(textwrap.dedent(ACTION))
    (root / "modules" / "mtp_doc.py").write_text(textwrap.dedent(DOC_MODULE))
    (collection / "refused.yml").write_text(REFUSED)
    record = collection / "record.jsonl"
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH="%s:%s" % (collection, COLLS), MTP_TEST_RECORD=str(record),
               ANSIBLE_LOCAL_TEMP=str(collection / "tmp"), ANSIBLE_REMOTE_TEMP=str(collection / "rtmp"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               MTP_TOKEN_CACHE=str(collection / "cache"))
    proc = subprocess.run([sys.executable, "-m", "ansible.cli.playbook", str(collection / "refused.yml")],
                          cwd=str(collection), env=env, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not record.exists()  # no sign-in was started
    line = [x for x in proc.stdout.splitlines() if '"msg": "{' in x][0]
    seen = json.loads(json.loads(line.split('"msg": ', 1)[1]))
    assert seen["no_cache"].startswith("auth_method=device_code: token_cache must be a directory")
    assert seen["unknown"].startswith("Unsupported parameters for (testns.testcol.mtp_doc) module: bogus_option. "
                                      "Supported parameters include: query")
    assert seen["timeout"] == "timeout must be a number of seconds greater than 0, got 0"
