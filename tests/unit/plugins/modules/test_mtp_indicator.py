# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mtp_indicator: bad input fails with a message naming the problem, before any call (the endpoints are a closed
port, so a write would fail with a connection error instead)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.m365.defender.plugins.modules import mtp_indicator

SECRET = "never-printed-secret-value-0002"
SHA1 = "220e7d15b011d7fac48f2bd61114db1022197f7f"
OFFLINE = dict(tenant_id="6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f", client_id="3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
               client_secret=SECRET, authority_host="https://127.0.0.1:9", graph_url="https://127.0.0.1:9",
               api_url="https://127.0.0.1:9", mde_url="https://127.0.0.1:9", token_cache=False, retries=0)


def failure(capsys, **args):
    merged = dict(OFFLINE)
    merged.update(args)
    with patch_module_args(merged):
        with pytest.raises(SystemExit):
            mtp_indicator.main()
    result = json.loads(capsys.readouterr().out)
    assert result.get("failed") is True, result
    assert SECRET not in json.dumps(result)
    assert "Traceback" not in result["msg"]
    assert "127.0.0.1:9" not in result["msg"]  # no call was attempted
    return result


@pytest.mark.parametrize("args, text, option", [
    (dict(type="FileSha1", value="abc", action="Block"), "'abc' is not a FileSha1 (40 hexadecimal digits)", "value"),
    (dict(type="IpAddress", value="10.1.0.0/16", action="Block"), "CIDR notation is not supported", "value"),
    (dict(type="FileSha1", value=SHA1, action="Audit"), "action Audit requires generate_alert: true", "generate_alert"),
    (dict(type="FileSha1", value=SHA1, action="Block", expiration="soon"), "'soon' is not an ISO-8601 date",
     "indicator.expiration"),
    (dict(indicators=[{"value": SHA1, "severty": "High"}], type="FileSha1", action="Block"), "unknown keys severty",
     "indicators"),
    (dict(indicators=[{"value": SHA1}, {"value": SHA1.upper()}], type="FileSha1", action="Block"),
     "indicators[1] repeats FileSha1", "indicators"),
    (dict(type="FileSha1", value=SHA1, action="Block", batch_size=501), "batch_size must be between 1 and 500",
     "batch_size"),
    (dict(type="FileSha1", value=SHA1, state="absent", purge=True), "purge needs state=present and an indicators list",
     "purge"),
    (dict(indicators=[{"value": SHA1}], type="FileSha1", action="Block", source="my feed"),
     "source must be 1-64 letters", "source"),
    (dict(action="Block"), "give indicators (a list) or value and type", "indicators"),
    (dict(indicators=[{"value": SHA1}], action="Block"), "indicators[0].type must be one of", "type"),
    (dict(type="FileSha1", value=SHA1, active_limit=-1), "active_limit must not be negative", "active_limit"),
])
def test_bad_input_is_named(capsys, args, text, option):
    result = failure(capsys, **args)
    assert text in result["msg"]
    assert result.get("option") == option


def test_indicators_and_value_are_exclusive(capsys):
    result = failure(capsys, indicators=[{"value": SHA1}], type="FileSha1", value=SHA1, action="Block")
    assert "mutually exclusive" in result["msg"] and "indicators" in result["msg"]


def test_value_needs_type(capsys):
    result = failure(capsys, value=SHA1, action="Block")
    assert "value" in result["msg"] and "type" in result["msg"]


def test_unknown_action_is_a_choice_error(capsys):
    result = failure(capsys, type="FileSha1", value=SHA1, action="Nuke")
    assert "action" in result["msg"] and "Nuke" in result["msg"]
