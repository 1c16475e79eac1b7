# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mtp_machine_action, mtp_machine_action_info and mtp_live_response: bad input fails before any call.

The connection options point at a closed port: a request would fail with a connection error, so a message
naming the option proves the module stopped before writing anything."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.m365.defender.plugins.modules import mtp_live_response, mtp_machine_action, mtp_machine_action_info

SECRET = "never-printed-secret-value-0002"
MID = "7b1f4967d9728e5aa3c06a9e617a22a4a5a17378"
OFFLINE = dict(tenant_id="6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f", client_id="3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
               client_secret=SECRET, authority_host="https://127.0.0.1:9", graph_url="https://127.0.0.1:9",
               api_url="https://127.0.0.1:9", mde_url="https://127.0.0.1:9", token_cache=False, retries=0)


def failure(capsys, module, **args):
    merged = dict(OFFLINE)
    merged.update(args)
    with patch_module_args(merged):
        with pytest.raises(SystemExit):
            module.main()
    result = json.loads(capsys.readouterr().out)
    assert result.get("failed") is True, result
    assert SECRET not in json.dumps(result)
    assert "Traceback" not in result["msg"]
    assert "127.0.0.1:9" not in result["msg"]  # nothing was sent
    return result


@pytest.mark.parametrize("args, option, text", [
    (dict(action="offboard", machine_ids=[MID]), "confirm_offboard",
     "action=offboard stops the sensor on the device: set confirm_offboard: true to proceed"),
    (dict(action="stop_and_quarantine_file", machine_ids=[MID], sha1="abc"), "sha1",
     "sha1: 'abc' is not a SHA-1 hash (40 hexadecimal characters)"),
    (dict(action="isolate", machine_ids=["ws-fin-07"]), "machine_ids",
     "machine_ids: 'ws-fin-07' is not a machine id (40 hexadecimal characters); use dns_names for computer names"),
    (dict(action="isolate", dns_names=["not a name"]), "dns_names", "dns_names: 'not a name' is not a DNS name"),
    (dict(action="isolate", machine_ids=[MID], comment="  "), "comment",
     "comment must not be empty (the API requires one)"),
    (dict(action="isolate"), None, "one of machine_ids, dns_names, machine_tag or hunting_query is required"),
    (dict(action="isolate", machine_ids=[MID], dest="/tmp"), "dest",
     "dest is only for action=collect_investigation_package"),
    (dict(action="collect_investigation_package", machine_ids=[MID], dest="/tmp"), "dest",
     "dest needs wait: true (the package exists once the collection succeeded)"),
    (dict(action="isolate", machine_ids=[MID], wait_timeout=-1), "wait_timeout", "wait_timeout must be 0 or more"),
    (dict(action="isolate", machine_ids=[MID], action_ids=["x"]), "action_ids", "action_ids is only for action=cancel"),
    (dict(action="isolate", machine_tag=""), "machine_tag", "machine_tag must not be empty"),
])
def test_machine_action_bad_input(capsys, args, option, text):
    result = failure(capsys, mtp_machine_action, **args)
    assert result["msg"] == text
    assert result.get("option") == option


def test_machine_action_dest_must_be_a_directory(capsys, tmp_path):
    result = failure(capsys, mtp_machine_action, action="collect_investigation_package", machine_ids=[MID],
                     wait=True, dest=str(tmp_path / "missing"))
    assert result["msg"] == "dest: %s is not a directory" % (tmp_path / "missing")


def test_machine_action_sha1_required_for_quarantine(capsys):
    result = failure(capsys, mtp_machine_action, action="stop_and_quarantine_file", machine_ids=[MID])
    assert "sha1" in result["msg"] and "stop_and_quarantine_file" in result["msg"]


def test_machine_action_unknown_action(capsys):
    result = failure(capsys, mtp_machine_action, action="reboot", machine_ids=[MID])
    assert "action" in result["msg"] and "reboot" in result["msg"]


@pytest.mark.parametrize("args, option, text", [
    (dict(limit=0), "limit", "limit must be 1 or more"),
    (dict(since="last tuesday"), "since", "since: 'last tuesday' is not an ISO 8601 time such as 2026-01-31T00:00:00Z"),
    (dict(machine_ids=["nope"]), "machine_ids",
     "machine_ids: 'nope' is not a machine id (40 hexadecimal characters); use dns_names for computer names"),
])
def test_machine_action_info_bad_input(capsys, args, option, text):
    result = failure(capsys, mtp_machine_action_info, **args)
    assert (result["msg"], result.get("option")) == (text, option)


def test_machine_action_info_bad_status(capsys):
    result = failure(capsys, mtp_machine_action_info, statuses=["Done"])
    assert "statuses" in result["msg"] and "Done" in result["msg"]


@pytest.mark.parametrize("args, option, text", [
    (dict(script="a.ps1"), "machine_id", "one of machine_id or dns_name is required to run commands"),
    (dict(machine_id=MID), None, "nothing to do: set script, put_files, get_files or library_files"),
    (dict(machine_id=MID, script_args="-x"), "script_args", "script_args needs script"),
    (dict(machine_id=MID, script="a.ps1", wait=False, dest="/tmp"), "dest", "dest needs wait: true"),
    (dict(machine_id="short", script="a.ps1"), "machine_id",
     "machine_id: 'short' is not a machine id (40 hexadecimal characters); use dns_name for a computer name"),
    (dict(machine_id=MID, script="a.ps1", comment=""), "comment", "comment must not be empty (the API requires one)"),
])
def test_live_response_bad_input(capsys, args, option, text):
    result = failure(capsys, mtp_live_response, **args)
    assert (result["msg"], result.get("option")) == (text, option)


def test_live_response_missing_library_file(capsys, tmp_path):
    result = failure(capsys, mtp_live_response, library_files=[{"path": str(tmp_path / "gone.ps1")}])
    assert result["msg"] == "library_files: %s is not a readable file" % (tmp_path / "gone.ps1")
    assert result["option"] == "library_files"


def test_live_response_machine_id_and_dns_name_exclusive(capsys):
    result = failure(capsys, mtp_live_response, machine_id=MID, dns_name="ws.contoso.local", script="a.ps1")
    assert "mutually exclusive" in result["msg"] and "dns_name" in result["msg"]
