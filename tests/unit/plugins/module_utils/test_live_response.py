# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Live response: command order, the session key, library comparison and the multipart body."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _live_response as lr
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
COMMANDS = [
    {"type": "PutFile", "params": [{"key": "FileName", "value": "tool.exe"}]},
    {"type": "RunScript", "params": [{"key": "ScriptName", "value": "minidump.ps1"},
                                     {"key": "Args", "value": "OfficeClickToRun"}]},
    {"type": "GetFile", "params": [{"key": "Path", "value": "C:\\windows\\TEMP\\OfficeClickToRun.dmp.zip"}]},
]


def test_build_commands_orders_put_run_get():
    assert lr.build_commands(["tool.exe"], "minidump.ps1", "OfficeClickToRun",
                             ["C:\\windows\\TEMP\\OfficeClickToRun.dmp.zip"]) == COMMANDS


def test_build_commands_without_args_sends_no_args_param():
    expected = [{"type": "RunScript", "params": [{"key": "ScriptName", "value": "a.ps1"}]}]
    assert lr.build_commands(script="a.ps1") == expected


def test_script_args_need_a_script():
    with pytest.raises(MtpConfigError) as err:
        lr.build_commands(script_args="-x")
    assert (err.value.option, str(err.value)) == ("script_args", "script_args needs script")


def session(status, created, commands=None, kind="LiveResponse"):
    commands = COMMANDS if commands is None else commands
    return {"id": status + created, "type": kind, "status": status, "creationDateTimeUtc": created,
            "commands": [{"index": i, "commandStatus": "Created", "command": c} for i, c in enumerate(commands)]}


def test_same_commands_compares_order_and_params():
    assert lr.same_commands(session("Pending", "t"), COMMANDS) is True
    assert lr.same_commands(session("Pending", "t"), list(reversed(COMMANDS))) is False
    assert lr.same_commands(session("Pending", "t"), COMMANDS[:2]) is False


def test_reusable_active_session():
    active = session("InProgress", "2026-03-01T11:59:00Z", kind="Live Response")
    assert lr.reusable([active], COMMANDS, 0, now=NOW) == (active, True)


def test_reusable_recent_success_within_min_interval():
    done = session("Succeeded", "2026-03-01T11:30:00Z")
    assert lr.reusable([done], COMMANDS, 60, now=NOW) == (done, False)
    assert lr.reusable([done], COMMANDS, 20, now=NOW) == (None, False)
    assert lr.reusable([session("Failed", "2026-03-01T11:50:00Z")], COMMANDS, 60, now=NOW) == (None, False)


def test_library_changes_by_name_and_sha256():
    current = [{"fileName": "collect.ps1", "sha256": "AA"}, {"fileName": "other.ps1", "sha256": "bb"}]
    wanted = [{"name": "Collect.ps1", "sha256": "aa"}, {"name": "other.ps1", "sha256": "cc"},
              {"name": "new.ps1", "sha256": "dd"}]
    assert [w["name"] for w in lr.library_changes(current, wanted)] == ["other.ps1", "new.ps1"]


def test_local_file_hashes_and_names(tmp_path):
    path = tmp_path / "collect.ps1"
    path.write_bytes(b"Write-Output hi")
    spec = lr.local_file({"path": str(path), "description": "d"})
    assert spec == {"name": "collect.ps1", "path": str(path),
                    "sha256": "dddc449c81014eb646ce38a66057fbe6b61659fb14cc1e04701447afb6ab06b9",
                    "size": 15, "description": "d", "parameters_description": None, "has_parameters": False}


def test_local_file_missing_is_named(tmp_path):
    with pytest.raises(MtpConfigError) as err:
        lr.local_file({"path": str(tmp_path / "nope.ps1")})
    assert err.value.option == "library_files"
    assert "nope.ps1 is not a readable file" in str(err.value)


def test_local_file_bad_name(tmp_path):
    path = tmp_path / "a.ps1"
    path.write_bytes(b"1")
    with pytest.raises(MtpConfigError) as err:
        lr.local_file({"path": str(path), "name": "dir/a.ps1"})
    assert str(err.value) == "library_files: 'dir/a.ps1' is not a valid library file name"


def test_multipart_body():
    body, content_type = lr.multipart([("OverrideIfExists", "true")], "File", "a.ps1", b"echo 1", boundary="XyZ")
    assert content_type == "multipart/form-data; boundary=XyZ"
    assert body == (b'--XyZ\r\nContent-Disposition: form-data; name="OverrideIfExists"\r\n\r\ntrue\r\n'
                    b'--XyZ\r\nContent-Disposition: form-data; name="File"; filename="a.ps1"\r\n'
                    b'Content-Type: application/octet-stream\r\n\r\necho 1\r\n--XyZ--\r\n')


@pytest.mark.parametrize("path, name", [("C:\\Windows\\Temp\\out.zip", "out.zip"), ("/var/log/syslog", "syslog"),
                                        ("C:\\dir\\", "result")])
def test_result_file_name(path, name):
    assert lr.result_file_name({"type": "GetFile", "params": [{"key": "Path", "value": path}]}) == name
