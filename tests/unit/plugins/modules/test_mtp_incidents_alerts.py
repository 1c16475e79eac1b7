# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mtp_incident_info, mtp_incident, mtp_alert_info, mtp_alert: bad input fails with a message naming the option,
before any call (the endpoints are a closed port, so any call would fail with a connection error instead)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.m365.defender.plugins.modules import mtp_alert, mtp_alert_info, mtp_incident, mtp_incident_info

SECRET = "never-printed-secret-value-0009"
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
    assert "127.0.0.1:9" not in result["msg"]  # no call was attempted
    return result


@pytest.mark.parametrize("module, args, option, text", [
    (mtp_incident_info, dict(status=["closed"]), "status", "status: 'closed' is not a valid value"),
    (mtp_incident_info, dict(severity=["critical"]), "severity", "severity: 'critical' is not a valid value"),
    (mtp_incident_info, dict(created_after="last week"), "created_after",
     "created_after: 'last week' is not an ISO-8601 time"),
    (mtp_incident_info, dict(updated_since="2024-01-01T00:00:00Z|1' or '1"), "updated_since",
     "updated_since: the cursor"),
    (mtp_incident_info, dict(limit=0), "limit", "limit: 0 must be a positive integer"),
    (mtp_incident_info, dict(dest="/nonexistent/dir/x.json"), "dest", "dest: the directory /nonexistent/dir does not exist"),
    (mtp_incident_info, dict(dest="/tmp/incidents.txt"), "format", "Cannot tell the output format"),
    (mtp_incident, dict(incident_id="1", status="open"), "status", "status: 'open' is not a valid value"),
    (mtp_incident, dict(incident_id="1", classification="benign"), "classification",
     "classification: 'benign' is not a valid value"),
    (mtp_incident, dict(incident_id="1", classification="FalsePositive", determination="Malware"), "determination",
     "determination 'malware' does not go with classification 'falsePositive': it takes one of notMalicious, "
     "notEnoughDataToValidate, other"),
    (mtp_incident, dict(incident_id="1", classification="TruePositive", determination="SecurityPersonnel"),
     "determination", "determination: 'SecurityPersonnel' is not a valid value"),
    (mtp_incident, dict(incident_id="../admin", status="active"), "incident_id", "incident_id: '../admin' is not a valid id"),
    (mtp_alert_info, dict(status=["open"]), "status", "status: 'open' is not a valid value; use one of new, inProgress"),
    (mtp_alert_info, dict(api="mtp", filter="severity eq 'high'"), "filter", "filter: api mtp reads alerts"),
    (mtp_alert_info, dict(incident_id="1 or 1"), "incident_id", "incident_id: '1 or 1' is not a valid id"),
    (mtp_alert, dict(alert_id="a1", status="redirected"), "status", "status: 'redirected' is not a valid value"),
    (mtp_alert, dict(alert_id="a1", classification="FalsePositive", determination="Phishing"), "determination",
     "determination 'phishing' does not go with classification 'falsePositive'"),
    (mtp_alert, dict(alert_id="a1", api="mtp", status="new"), "api", "api: the MTP API cannot update alerts"),
    (mtp_alert, dict(alert_id="a/1", status="new"), "alert_id", "alert_id: 'a/1' is not a valid id"),
])
def test_bad_input_is_named_before_any_call(capsys, module, args, option, text):
    result = failure(capsys, module, **args)
    assert text in result["msg"]
    assert result["option"] == option
