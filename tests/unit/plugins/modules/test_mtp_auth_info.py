# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mtp_auth_info: bad input fails with a message naming the problem, before any call (the endpoints are a closed
port, so a token request would fail with a connection error instead)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.m365.defender.plugins.modules import mtp_auth_info

SECRET = "never-printed-secret-value-0011"
OFFLINE = dict(tenant_id="6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f", client_id="3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
               client_secret=SECRET, authority_host="https://127.0.0.1:9", graph_url="https://127.0.0.1:9",
               api_url="https://127.0.0.1:9", mde_url="https://127.0.0.1:9", token_cache=False, retries=0)


def failure(capsys, **args):
    merged = dict(OFFLINE)
    merged.update(args)
    with patch_module_args(merged):
        with pytest.raises(SystemExit):
            mtp_auth_info.main()
    result = json.loads(capsys.readouterr().out)
    assert result.get("failed") is True, result
    assert SECRET not in json.dumps(result)
    assert "Traceback" not in result["msg"]
    assert "127.0.0.1:9" not in result["msg"]  # no call was attempted
    return result


@pytest.mark.parametrize("args, text", [
    (dict(needs=["mtp_hunting_query", "mtp_huntin_query"]),
     "needs: 'mtp_huntin_query' is not a module, preset or permission name known to the collection (did you mean "
     "mtp_hunting_query?)"),
    (dict(needs=["incidents_reed"]), "(did you mean incidents_read?)"),
    (dict(needs=["mtp_live_response:graph"]), "needs: mtp_live_response does not call the API 'graph'; it calls mde"),
    (dict(needs=[""]), "needs: every item must be a module, preset or permission name, got ''"),
    (dict(needs=[7]), "needs: '7' is not a module, preset or permission name"),
])
def test_bad_needs_are_named(capsys, args, text):
    result = failure(capsys, **args)
    assert text in result["msg"]
    assert result.get("option") == "needs"


def test_needs_not_a_list(capsys):
    result = failure(capsys, needs={"mtp_hunting_query": True})
    assert "needs" in result["msg"] and "list" in result["msg"]


def test_bad_cloud_is_a_choice_error(capsys):
    result = failure(capsys, cloud="china")
    assert "cloud" in result["msg"] and "china" in result["msg"] and "commercial" in result["msg"]


def test_fail_on_missing_must_be_a_boolean(capsys):
    result = failure(capsys, fail_on_missing="sometimes")
    assert "fail_on_missing" in result["msg"]


def test_bad_auth_method_is_named(capsys):
    result = failure(capsys, auth_method="password_please")
    assert "auth_method" in result["msg"]
