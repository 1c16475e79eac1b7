# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module's main(): option checks before any network call, and full runs whose MtpClient talks to the
emulator's Graph directory in-process (the harness of tests/unit/plugins/module_utils/test_app_setup.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.m365.defender.plugins.module_utils import _module
from ansible_collections.m365.defender.plugins.modules import mtp_aad_app_setup

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "app_setup_harness", os.path.join(HERE, "..", "module_utils", "test_app_setup.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)


@pytest.fixture(autouse=True)
def module_side(monkeypatch):
    """Run main() as a module runs on its host, whatever ran before in this process.

    A controller-side test (tests/unit/plugins/plugin_utils) imports ansible's controller code, which sets
    ``ansible.module_utils._internal.is_controller`` for the rest of the process; ``AnsibleModule.warn`` then
    sends warnings to the display instead of ``result.warnings``, and the assertions on warnings would depend on
    test order.
    """
    from ansible.module_utils import _internal

    monkeypatch.setattr(_internal, "is_controller", False)


BASE = {"tenant_id": "6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f", "client_id": "admin-client",
        "client_secret": "caller-secret-value", "token_cache": False}


def run_module(args, capsys, emu=None, check_mode=False, diff=False):
    args = dict(BASE, **args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    calls = []

    def fake_client(self, api=None):
        calls.append(api)
        if emu is None:
            raise AssertionError("no network call expected")
        return emu.client

    original = _module.MtpModule.client
    _module.MtpModule.client = fake_client
    try:
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                mtp_aad_app_setup.main()
    finally:
        _module.MtpModule.client = original
    out = json.loads(capsys.readouterr().out)
    out["_client_calls"] = len(calls)
    return out


@pytest.mark.parametrize("args,expected", [
    ({"display_name": "x", "unique_name": "has space"}, "unique_name 'has space' is invalid"),
    ({"presets": ["hunting"]}, "unique_name or display_name is required"),
    ({"display_name": "x", "credential": "certificate"}, "needs certificate.path or certificate.content"),
    ({"display_name": "x", "credential": "federated"}, "credential=federated needs federated"),
    ({"display_name": "x", "app_id": "a", "adopt_by_display_name": True}, "mutually exclusive"),
])
def test_bad_options_fail_before_any_call(args, expected, capsys):
    out = run_module(args, capsys)
    assert out["failed"] is True
    assert expected in out["msg"]
    assert out["_client_calls"] == 0


def test_unknown_preset_is_refused_by_the_argspec(capsys):
    out = run_module({"display_name": "x", "presets": ["everything"]}, capsys)
    assert out["failed"] and "presets" in out["msg"]
    assert "unknown preset 'everything'; valid presets: " in out["msg"] and "hunting" in out["msg"]
    assert out["_client_calls"] == 0


def test_full_run_check_diff_and_noop(capsys):
    emu = harness.Emu()
    args = {"display_name": "SOC automation", "presets": ["hunting"], "replication_timeout": 5}
    predicted = run_module(args, capsys, emu=emu, check_mode=True, diff=True)
    assert predicted["changed"] is True and "client_secret" not in predicted
    assert predicted["unique_name"] == "mtp-soc-automation"
    assert predicted["diff"]["before"]["application"] is None
    created = run_module(args, capsys, emu=emu, diff=True)
    assert created["changed"] is True
    assert created["client_secret"] and created["client_secret"] != "********"
    # ids are never masked, even though client_id/client_secret options are set
    assert created["app_id"] in json.dumps(created)
    assert created["tenant_id"] == BASE["tenant_id"]
    assert created["diff"]["after"]["app_role_assignments"] == ["graph:ThreatHunting.Read.All",
                                                                "mtp:AdvancedHunting.Read.All"]
    again = run_module(args, capsys, emu=emu)
    assert again["changed"] is False and "diff" not in again and "client_secret" not in again
    assert again["app_id"] == created["app_id"]
    gone = run_module(dict(args, state="absent"), capsys, emu=emu)
    assert gone["changed"] is True and "stays reserved" in json.dumps(gone.get("warnings")), gone


def test_graph_error_becomes_a_clean_failure(capsys):
    emu = harness.Emu(roles=["Application.Read.All"])
    out = run_module({"display_name": "Denied", "presets": ["hunting"]}, capsys, emu=emu)
    assert out["failed"] is True and out["status"] == 403
    assert "Application.ReadWrite.All" in out["msg"]
    assert "caller-secret-value" not in json.dumps(out)


def test_secret_survives_a_failed_readiness_probe(capsys):
    emu = harness.Emu()

    class NeverReady(object):
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, *args, **kwargs):
            from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
            raise MtpError("wait_for_ready: the new credential was not ready within replication_timeout")

    original = mtp_aad_app_setup.ReadinessProbe
    mtp_aad_app_setup.ReadinessProbe = NeverReady
    try:
        out = run_module({"display_name": "Slow", "presets": ["hunting"], "wait_for_ready": True}, capsys, emu=emu)
    finally:
        mtp_aad_app_setup.ReadinessProbe = original
    assert out["failed"] is True and "not ready" in out["msg"]
    assert out["changed"] is True
    assert len(out["client_secret"]) >= 16 and out["app_id"]
    app = emu.apps("mtp-slow")[0]
    assert [c["keyId"] for c in app["passwordCredentials"]] == [out["credential"]["key_id"]]


def test_empty_unique_name_is_refused_before_any_write(capsys):
    emu = harness.Emu()
    emu.reset_stats()
    out = run_module({"unique_name": "", "display_name": "SOC automation", "presets": ["hunting"]}, capsys, emu=emu)
    assert out["failed"] is True
    assert out["msg"].startswith("unique_name '' is invalid")
    assert emu.stats()["graph_directory_writes"] == 0
    assert not emu.apps("mtp-soc-automation") and not emu.apps("")


def test_secret_lifetime_past_the_maximum_fails_naming_the_option(capsys):
    emu = harness.Emu()
    emu.reset_stats()
    out = run_module({"display_name": "Long", "presets": ["hunting"], "secret_lifetime_days": 800}, capsys, emu=emu)
    assert out["failed"] is True and "secret_lifetime_days must be between 1 and 730" in out["msg"]
    assert emu.stats()["graph_directory_writes"] == 0
