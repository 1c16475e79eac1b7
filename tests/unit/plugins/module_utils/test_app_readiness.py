# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of _app_readiness: which roles are awaited, and the probe's rounds and timeout with a token
source scripted per round (no network, no sleeping)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _app_readiness as m
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpError

MTP = "8ee8fdad-f234-4243-8f3b-15c294843740"
WDATP = "fc780465-2017-40d4-a0c5-307022471b92"


def test_wanted_roles_per_token_resource():
    resolved = [{"resource_app_id": MTP, "type": "application", "name": "AdvancedHunting.Read.All"},
                {"resource_app_id": MTP, "type": "delegated", "name": "AdvancedHunting.Read"},
                {"resource_app_id": WDATP, "type": "application", "name": "Alert.Read.All"},
                {"resource_app_id": "11111111-2222-3333-4444-555555555555", "type": "application", "name": "X"}]
    assert m.wanted_roles(resolved) == {"mtp": {"AdvancedHunting.Read.All"}, "mde": {"Alert.Read.All"}}


class _Token(object):
    def __init__(self, roles):
        self.roles = roles

    def claims(self):
        return {"roles": self.roles}


class _Auth(object):
    def __init__(self, script):
        self.script = script

    def get_token(self, resource, force_refresh=False):
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return _Token(answer)


class ScriptedProbe(m.ReadinessProbe):
    """The probe with its token source replaced by a script; the polling under test is the real one."""

    def __init__(self, script, **kwargs):
        super(ScriptedProbe, self).__init__({"tenant_id": "t", "client_secret": "must-not-be-copied"}, **kwargs)
        self.script = script
        self.seen = []

    def _authenticator(self, client_id, secret, cert_path):
        self.seen.append((client_id, secret, cert_path))
        return _Auth(self.script)


class FakeClock(object):
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_probe_rounds_until_the_roles_arrive():
    clock = FakeClock()
    lag = MtpAuthError("AADSTS7000215: Invalid client secret provided.", aadsts=7000215)
    probe = ScriptedProbe([lag, [], ["AdvancedHunting.Read.All"]], sleep=clock.sleep, clock=clock)
    assert probe("app-1", "new-secret", None, {"mtp": {"AdvancedHunting.Read.All"}}, 60) == 3
    assert clock.slept == [1.0, 2.0]
    assert probe.seen[0] == ("app-1", "new-secret", None)
    assert "client_secret" not in probe.options  # the onboarding identity's secret is not copied


def test_probe_times_out_naming_the_last_reason():
    clock = FakeClock()
    probe = ScriptedProbe([[] for _i in range(50)], sleep=clock.sleep, clock=clock)
    with pytest.raises(MtpError) as exc:
        probe("app-1", "new-secret", None, {"mtp": {"Incident.Read.All"}}, 10)
    assert exc.value.msg == ("wait_for_ready: the new credential was not ready within replication_timeout (the mtp "
                             "token lacks the roles Incident.Read.All)")
    assert 10 <= sum(clock.slept) <= 15
