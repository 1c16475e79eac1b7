# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mtp_detection_rule: bad input fails with a message naming the problem, before any call (the endpoints are a
closed port, so any call would fail with a connection error instead)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.m365.defender.plugins.modules import mtp_detection_rule

SECRET = "never-printed-secret-value-0003"
OFFLINE = dict(tenant_id="6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f", client_id="3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
               client_secret=SECRET, authority_host="https://127.0.0.1:9", graph_url="https://127.0.0.1:9",
               api_url="https://127.0.0.1:9", mde_url="https://127.0.0.1:9", token_cache=False, retries=0)
GOOD = {"key": "k1", "display_name": "Rule", "query": "DeviceInfo | project Timestamp, ReportId, DeviceId"}


def failure(capsys, **args):
    merged = dict(OFFLINE)
    merged.update(args)
    with patch_module_args(merged):
        with pytest.raises(SystemExit):
            mtp_detection_rule.main()
    result = json.loads(capsys.readouterr().out)
    assert result.get("failed") is True, result
    assert SECRET not in json.dumps(result)
    assert "Traceback" not in result["msg"]
    assert "127.0.0.1:9" not in result["msg"]  # no call was attempted
    return result


def rule(**change):
    out = dict(GOOD)
    out.update(change)
    return out


@pytest.mark.parametrize("args, text", [
    (dict(rules=[rule(schedule="2H")]), "rules[0] (key k1).schedule must be one of 0, 1H, 3H, 12H, 24H"),
    (dict(rules=[rule(alert={"severity": "critical"})]), "alert.severity must be one of informational, low, medium, high"),
    (dict(rules=[rule(response_actions=[{"type": "wipeDevice", "identifier": "DeviceId"}])]),
     "response_actions type must be one of"),
    (dict(rules=[rule(alert={"mitre_techniques": ["lateral movement"]})]), "mitre_techniques must be technique ids"),
    (dict(rules=[rule(), rule(display_name="Other")]), "rules[1]: the key 'k1' is used twice"),
    (dict(rules=[rule(key="bad key!")]), "rules[0].key is required: letters, digits"),
    (dict(rules=[rule(alert={"impacted_assets": [{"type": "device"}]})]), "impacted_assets items need type"),
])
def test_bad_rules_are_named(capsys, args, text):
    result = failure(capsys, **args)
    assert text in result["msg"] and result["option"] == "rules"


@pytest.mark.parametrize("args, text, option", [
    (dict(state="gathered", rules=[GOOD]), "state=gathered reads the tenant: rules, src and purge do not apply", "state"),
    (dict(rules=[GOOD], dest="/tmp"), "dest only applies to state=gathered", "dest"),
    (dict(rules=[GOOD], state="absent", purge=True), "purge needs state=present", "purge"),
    (dict(), "give rules or src", "rules"),
    (dict(rules=[GOOD], source="a/b"), "source must be 1-64 letters", "source"),
    (dict(rules=[GOOD], cloud="gcc_high"), "global cloud only; cloud gcc_high has no such API", "cloud"),
])
def test_bad_options_are_named(capsys, args, text, option):
    result = failure(capsys, **args)
    assert text in result["msg"] and result["option"] == option


def test_missing_src_file(capsys, tmp_path):
    result = failure(capsys, src=str(tmp_path / "nope.yml"))
    assert "nope.yml does not exist" in result["msg"] and result["option"] == "src"


def test_unparsable_src_file(capsys, tmp_path):
    path = tmp_path / "rule.yml"
    path.write_text("key: k\nquery: [not closed\n")
    result = failure(capsys, src=str(path))
    assert "cannot read" in result["msg"] and "rule.yml" in result["msg"] and result["option"] == "src"


def test_unknown_key_in_a_rule_file(capsys, tmp_path):
    path = tmp_path / "rule.yml"
    path.write_text("key: k\ndisplay_name: R\nquery: DeviceInfo\nowner: me\n")
    result = failure(capsys, src=str(path))
    assert "has unknown keys owner" in result["msg"]


def test_missing_query_in_inline_rules_is_an_ansible_error(capsys):
    result = failure(capsys, rules=[{"key": "k", "display_name": "R"}])
    assert "query" in result["msg"] and "rules" in result["msg"]


def test_gather_into_a_missing_directory(capsys, tmp_path):
    result = failure(capsys, state="gathered", dest=str(tmp_path / "none"))
    assert "does not exist" in result["msg"] and result["option"] == "dest"
