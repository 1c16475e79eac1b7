# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MtpModule: argspec merge, proxies, one client over real HTTPS, one error path."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.m365.defender.plugins.module_utils import _module as module_mod
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpAuthError, MtpConfigError, MtpError
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule
from ansible_collections.m365.defender.plugins.module_utils._options import common_argument_spec
from ansible_collections.m365.defender.tests.unit.plugins.module_utils.http.server_fixtures import (
    make_jwt,
)

SPEC = dict(query=dict(type="str", required=True), timeout=dict(type="int", default=7))


def _exit(capsys, func, *args, **kwargs):
    with pytest.raises(SystemExit):
        func(*args, **kwargs)
    return json.loads(capsys.readouterr().out)


def _token(aud, **claims):
    body = {"aud": aud, "exp": int(time.time()) + 3600, "appid": "11111111-2222-3333-4444-555555555555",
            "roles": ["Incident.Read.All"]}
    body.update(claims)
    return make_jwt(body)


@pytest.fixture
def args(server, tls_ca):
    return {"query": "DeviceInfo | take 1", "auth_method": "access_token", "tenant_id": "contoso.onmicrosoft.com",
            "access_token": _token("https://api.security.microsoft.com"), "api_url": server.url,
            "graph_url": server.url, "ca_path": tls_ca[2], "retries": 0}


def test_spec_is_merged_into_a_fresh_copy(args):
    before = common_argument_spec()
    with patch_module_args(args):
        module = MtpModule(argument_spec=SPEC, supports_check_mode=True)
    assert module.params["query"] == "DeviceInfo | take 1"
    assert module.params["timeout"] == 7  # the module's own default replaced the common one
    assert module.params["cloud"] == "commercial" and module.params["validate_certs"] is True
    assert common_argument_spec() == before  # nothing leaked into the shared spec
    assert before["timeout"] != SPEC["timeout"]


def test_check_mode_and_diff_are_proxied(args):
    args.update(_ansible_check_mode=True, _ansible_diff=True)
    with patch_module_args(args):
        module = MtpModule(argument_spec=SPEC, supports_check_mode=True)
    assert module.check_mode is True and module.diff is True and module._diff is True


def test_exit_json_and_warn(args, capsys, monkeypatch):
    # In-process controller imports (other test files) switch module warnings to the controller's Display;
    # a module process is never in controller mode.
    from ansible.module_utils import _internal
    monkeypatch.setattr(_internal, "is_controller", False)
    with patch_module_args(args):
        module = MtpModule(argument_spec=SPEC)
        module.warn("careful")
        out = _exit(capsys, module.exit_json, changed=False, rows=[1])
    assert out["rows"] == [1] and out["changed"] is False and "careful" in json.dumps(out["warnings"])


def test_client_is_cached_and_calls_over_https(args, server):
    server.queue("GET", "/api/incidents", 200, {"value": [{"incidentId": 1}]})
    with patch_module_args(args):
        module = MtpModule(argument_spec=SPEC)
        client = module.client()
        assert module.client() is client
        resp = client.get("mtp", "/incidents")
    assert resp.json == {"value": [{"incidentId": 1}]}
    sent = server.requests_to("/api/incidents")[0]
    assert sent["headers"]["Authorization"] == "Bearer " + args["access_token"]


def test_fail_json_mtp_from_a_403(args, server, capsys):
    server.queue("POST", "/api/advancedhunting/run", 403, {"error": {"code": "Forbidden", "message": "Missing application roles.",
                                                                     "target": "|x.1."}})
    out = None
    with patch_module_args(args):
        module = MtpModule(argument_spec=SPEC)
        try:
            module.client().post("mtp", "/advancedhunting/run", json={"Query": "x"}, idempotent=True)
        except MtpError as exc:
            out = _exit(capsys, module.fail_json_mtp, exc)
    assert out["failed"] is True and out["status"] == 403 and out["error_code"] == "Forbidden"
    assert out["target"] == "|x.1." and "AdvancedHunting.Read.All" in out["msg"] and "Incident.Read.All" in out["msg"]
    assert args["access_token"] not in json.dumps(out)


def test_fail_json_mtp_with_prefix_and_auth_error(args, capsys):
    with patch_module_args(args):
        module = MtpModule(argument_spec=SPEC)
        out = _exit(capsys, module.fail_json_mtp, MtpAuthError("token refused", aadsts="AADSTS7000215", hint="check it"),
                    msg="get a token")
    assert out["msg"] == "get a token: token refused" and out["aadsts"] == "AADSTS7000215" and out["hint"] == "check it"


def test_api_error_result_keys(args, capsys):
    with patch_module_args(args):
        module = MtpModule(argument_spec=SPEC)
        out = _exit(capsys, module.fail_json_mtp, MtpApiError("boom", status=500, code="InternalServerError",
                                                              request_id="rid"))
    assert (out["msg"], out["status"], out["error_code"], out["request_id"]) == ("boom", 500, "InternalServerError", "rid")


def test_missing_msal_fails_with_missing_required_lib(args, capsys, monkeypatch):
    monkeypatch.setattr(module_mod, "HAS_MSAL", False)
    monkeypatch.setattr(module_mod, "MSAL_IMPORT_ERROR", "ImportError: No module named 'msal'")
    args["auth_method"] = "client_secret"
    args["client_id"] = "11111111-2222-3333-4444-555555555555"
    args["client_secret"] = "not-a-real-secret"
    with patch_module_args(args):
        out = _exit(capsys, MtpModule, argument_spec=SPEC)
    assert out["failed"] is True and "msal" in out["msg"]
    assert "not-a-real-secret" not in json.dumps(out)


def test_access_token_method_does_not_need_msal(args, monkeypatch):
    monkeypatch.setattr(module_mod, "HAS_MSAL", False)
    with patch_module_args(args):
        assert MtpModule(argument_spec=SPEC).params["auth_method"] == "access_token"


NEEDLE = "N33dle-Secret-Value-0123456789"
CERT_SPEC = dict(query=dict(type="str"), certificate=dict(type="dict", options=dict(
    path=dict(type="path"), password=dict(type="str", no_log=True))),
    owners=dict(type="list", elements="dict", options=dict(id=dict(type="str"))))


@pytest.mark.parametrize("option, value", [
    ("resources", "notadict"),
    ("certificate", "not a dict either"),
    ("owners", ["not-a-dict"]),
])
def test_an_unparseable_dict_option_is_named_and_masks_every_secret(args, capsys, option, value):
    args.update(auth_method="client_secret", client_id="11111111-2222-3333-4444-555555555555", client_secret=NEEDLE,
                access_token=None, certificate_password="Pfx-" + NEEDLE, _ansible_verbosity=4,
                _ansible_inject_invocation=True)  # what the controller asks for at -vvv (ansible-core 2.21)
    args[option] = value
    with patch_module_args(args):
        out = _exit(capsys, MtpModule, argument_spec=CERT_SPEC)
    text = json.dumps(out)
    assert out["failed"] is True
    assert out["msg"].startswith("argument '%s' is of type %s and could not be converted to a dictionary"
                                 % (option, type(value).__name__))
    assert NEEDLE not in text
    assert out["invocation"]["module_args"]["client_secret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert out["invocation"]["module_args"]["tenant_id"] == "contoso.onmicrosoft.com"  # ids are never masked


def test_a_no_log_sub_option_stays_masked_when_another_dict_is_bad(args, capsys):
    args.update(certificate={"path": "/tmp/x.pem", "password": "Sub-" + NEEDLE}, resources="nope")
    with patch_module_args(args):
        out = _exit(capsys, MtpModule, argument_spec=CERT_SPEC)
    assert "argument 'resources'" in out["msg"] and NEEDLE not in json.dumps(out)


@pytest.mark.parametrize("extra, option, text", [
    ({"timeout": 0}, "timeout", "timeout must be a number of seconds greater than 0, got 0"),
    ({"token_cache": "FILE"}, "token_cache", "is a file, not a directory"),
    ({"ca_path": "NOTPEM"}, "ca_path", "is not a PEM bundle"),
])
def test_client_checks_the_options_before_use(args, server, tmp_path, extra, option, text):
    afile = tmp_path / "a-file"
    afile.write_text("plain text, not a certificate")
    args.update(dict((k, str(afile) if v in ("FILE", "NOTPEM") else v) for k, v in extra.items()))
    with patch_module_args(args):
        module = MtpModule(argument_spec=dict(query=dict(type="str", required=True)))
        with pytest.raises(MtpConfigError) as exc:
            module.client()
    assert exc.value.option == option and text in exc.value.msg
    assert server.log == []  # nothing was sent


def test_importing_the_module_base_does_not_import_msal_or_cryptography():
    import subprocess
    import sys

    code = ("import sys; from ansible_collections.m365.defender.plugins.module_utils import _module; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('msal', 'msal_extensions', 'cryptography')))")
    out = subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.PIPE,
                         env=dict(__import__("os").environ, PYTHONPATH=":".join(p for p in sys.path if p)))
    assert out.stdout.decode().strip() == "[]"
