# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Machine actions: bodies, state derived from the action history, the plan, and the duplicate-400 test."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _machine_actions as ma
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
SHA1 = "87662bc3d60e4200ceaf7aae249d1c343f4b83c9"


def act(ident, kind, status, created, scope=None, sha1=None):
    return {"id": ident, "type": kind, "status": status, "scope": scope, "creationDateTimeUtc": created,
            "relatedFileInfo": {"fileIdentifier": sha1, "fileIdentifierType": "Sha1"} if sha1 else None}


@pytest.mark.parametrize("action, kwargs, body", [
    ("isolate", {}, {"Comment": "c", "IsolationType": "Full"}),
    ("isolate", {"isolation_type": "selective"}, {"Comment": "c", "IsolationType": "Selective"}),
    ("antivirus_scan", {"scan_type": "full"}, {"Comment": "c", "ScanType": "Full"}),
    ("antivirus_scan", {}, {"Comment": "c", "ScanType": "Quick"}),
    ("stop_and_quarantine_file", {"sha1": SHA1.upper()}, {"Comment": "c", "Sha1": SHA1}),
    ("offboard", {}, {"Comment": "c"}),
])
def test_build_body(action, kwargs, body):
    assert ma.build_body(action, "c", **kwargs) == body


def test_type_and_status_spellings():
    assert ma.type_of({"type": "Live Response"}) == "LiveResponse"
    assert ma.status_of({"status": "Canceled"}) == "Cancelled"
    assert ma.updated_of({"lastUpdateTimeUtc": "2019-01-02T14:39:38Z"}) == "2019-01-02T14:39:38Z"


def test_parse_time_reads_seven_digit_fractions():
    expected = datetime.datetime(2019, 1, 2, 14, 39, 38, tzinfo=datetime.timezone.utc)
    assert ma.parse_time("2019-01-02T14:39:38.2262283Z") == expected
    assert ma.parse_time("yesterday") is None
    assert ma.parse_time(None) is None


def test_newest_succeeded_of_the_pair_is_the_state():
    history = [act("1", "Isolate", "Succeeded", "2026-03-01T09:00:00Z", "Full"),
               act("2", "Unisolate", "Succeeded", "2026-03-01T10:00:00Z"),
               act("3", "Isolate", "Failed", "2026-03-01T11:00:00Z", "Full")]
    assert ma.current_state(history, "isolation")["id"] == "2"
    assert ma.describe_state(history) == {"isolation": "none", "code_execution": "unrestricted",
                                          "offboarded": False, "active_actions": []}


def test_isolated_machine_is_not_isolated_again():
    history = [act("1", "Isolate", "Succeeded", "2026-03-01T09:00:00Z", "Full")]
    body = {"Comment": "c", "IsolationType": "Full"}
    assert ma.plan("isolate", history, body, now=NOW) == {"pending": None, "cancel": [], "send": False}


def test_other_isolation_type_is_sent():
    history = [act("1", "Isolate", "Succeeded", "2026-03-01T09:00:00Z", "Full")]
    body = {"Comment": "c", "IsolationType": "Selective"}
    assert ma.plan("isolate", history, body, now=NOW)["send"] is True


def test_pending_same_action_is_the_result():
    pending = act("2", "Isolate", "Pending", "2026-03-01T11:00:00Z", "Full")
    step = ma.plan("isolate", [act("1", "Unisolate", "Succeeded", "2026-03-01T09:00:00Z"), pending],
                   {"Comment": "c", "IsolationType": "Full"}, now=NOW)
    assert step == {"pending": pending, "cancel": [], "send": False}


def test_pending_isolate_is_cancelled_before_unisolating():
    pending = act("2", "Isolate", "InProgress", "2026-03-01T11:00:00Z", "Full")
    step = ma.plan("unisolate", [pending], {"Comment": "c"}, now=NOW)
    # Never isolated: once the pending isolation is cancelled, the machine is released already.
    assert step == {"pending": None, "cancel": [pending], "send": False}


def test_unisolate_of_an_isolated_machine_is_sent():
    step = ma.plan("unisolate", [act("1", "Isolate", "Succeeded", "2026-03-01T09:00:00Z", "Full")],
                   {"Comment": "c"}, now=NOW)
    assert step == {"pending": None, "cancel": [], "send": True}


def test_restriction_pair():
    history = [act("1", "RestrictCodeExecution", "Succeeded", "2026-03-01T09:00:00Z")]
    assert ma.plan("restrict_code_execution", history, {"Comment": "c"}, now=NOW)["send"] is False
    assert ma.plan("unrestrict_code_execution", history, {"Comment": "c"}, now=NOW)["send"] is True
    assert ma.plan("unrestrict_code_execution", [], {"Comment": "c"}, now=NOW)["send"] is False


@pytest.mark.parametrize("created, minutes, send", [
    ("2026-03-01T11:30:00Z", 60, False),   # 30 minutes ago, within the interval
    ("2026-03-01T10:30:00Z", 60, True),    # 90 minutes ago
    ("2026-03-01T11:59:00Z", 0, True),     # min_interval 0: always send
])
def test_one_shot_scan_within_min_interval(created, minutes, send):
    history = [act("1", "RunAntiVirusScan", "Succeeded", created, "Quick")]
    step = ma.plan("antivirus_scan", history, {"Comment": "c", "ScanType": "Quick"}, min_interval=minutes, now=NOW)
    assert step["send"] is send


def test_scan_of_another_type_is_not_done():
    history = [act("1", "RunAntiVirusScan", "Succeeded", "2026-03-01T11:30:00Z", "Quick")]
    step = ma.plan("antivirus_scan", history, {"Comment": "c", "ScanType": "Full"}, min_interval=60, now=NOW)
    assert step["send"] is True


def test_stop_and_quarantine_is_keyed_on_the_file():
    pending = act("1", "StopAndQuarantineFile", "Pending", "2026-03-01T11:30:00Z", sha1=SHA1)
    body = {"Comment": "c", "Sha1": SHA1}
    assert ma.plan("stop_and_quarantine_file", [pending], body, now=NOW)["pending"] is pending
    other = {"Comment": "c", "Sha1": "0" * 40}
    assert ma.plan("stop_and_quarantine_file", [pending], other, now=NOW)["send"] is True


def test_offboarded_machine_is_done():
    history = [act("1", "Offboard", "Succeeded", "2026-01-01T00:00:00Z")]
    assert ma.plan("offboard", history, {"Comment": "c"}, now=NOW)["send"] is False
    assert ma.plan("offboard", [], {"Comment": "c"}, now=NOW)["send"] is True


def test_predict_state():
    before = {"isolation": "none", "code_execution": "unrestricted", "offboarded": False, "active_actions": []}
    assert ma.predict_state(before, "isolate", {"IsolationType": "Selective"})["isolation"] == "Selective"
    assert ma.predict_state(before, "restrict_code_execution", {})["code_execution"] == "restricted"
    assert ma.predict_state(before, "offboard", {})["offboarded"] is True
    assert before["isolation"] == "none"


@pytest.mark.parametrize("status, code, message, expected", [
    (400, "ActiveRequestAlreadyExists", "Action is already in progress", True),
    (400, "BadRequest", "Action is already in progress", True),
    (400, "InvalidRequestBody", "ScanType must be one of Quick, Full.", False),
    (404, "ActiveRequestAlreadyExists", "x", False),
])
def test_already_in_progress(status, code, message, expected):
    exc = MtpApiError("%s from mde POST /api/machines/x/isolate: %s" % (status, message), status=status, code=code,
                      service_message=message)
    assert ma.is_already_in_progress(exc) is expected


def test_strip_quotes_of_the_package_uri():
    assert ma.strip_quotes('"https://userrequests-us.securitycenter.windows.com:443/safedownload/x.zip"') == \
        "https://userrequests-us.securitycenter.windows.com:443/safedownload/x.zip"
    assert ma.strip_quotes("https://a/b") == "https://a/b"
