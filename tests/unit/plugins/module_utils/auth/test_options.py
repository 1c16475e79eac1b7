# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MtpOptionAdapter and the argument specs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import (
    MtpOptionAdapter,
    auth_argument_spec,
    check_options,
    common_argument_spec,
    connection_argument_spec,
)

PEM = b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUNotARealCertificateButPEMShaped\n-----END CERTIFICATE-----\n"


class FakePlugin(object):
    """The slice of AnsiblePlugin the adapter uses (get_option raises KeyError for undeclared options)."""

    def __init__(self, options):
        self._options = dict(options)

    def get_option(self, key):
        return self._options[key]

    def set_option(self, key, value):
        self._options[key] = value

    def has_option(self, key):
        return key in self._options

    def get_options(self):
        return dict(self._options)


@pytest.fixture(params=["dict", "plugin"])
def adapter(request):
    options = {"tenant_id": "t", "client_id": None, "timeout": 30}
    if request.param == "dict":
        return MtpOptionAdapter.from_dict(options)
    return MtpOptionAdapter.from_ansible_plugin(FakePlugin(options))


def test_adapter_get_set_has(adapter):
    assert adapter.get_option("tenant_id") == "t"
    assert adapter.has_option("tenant_id") and not adapter.has_option("nope")
    with pytest.raises(KeyError):
        adapter.get_option("nope")
    assert adapter.get_option_default("nope", 5) == 5
    adapter.set_option("nope", 6)
    assert adapter.get_option("nope") == 6
    assert adapter.set_option_default("client_id", "c") == "c"
    assert adapter.set_option_default("client_id", "other") == "c"


def test_adapter_filtered_and_filled(adapter):
    assert adapter.get_filled_options("tenant_id", "client_id", "absent") == {"tenant_id": "t"}
    assert adapter.get_filtered_options(lambda k, v: k == "timeout") == {"timeout": 30}
    assert adapter.get_options("client_id") == {"client_id": None}


def test_value_applies_collection_defaults(adapter):
    assert adapter.value("auth_method") == "client_secret"
    assert adapter.value("cloud") == "commercial"
    assert adapter.value("validate_certs") is True
    assert adapter.value("timeout") == 30


def test_value_takes_a_default_for_absent_or_none(adapter):
    assert adapter.value("client_id", "fallback") == "fallback"  # None
    assert adapter.value("undeclared", "fallback") == "fallback"  # absent (a plugin raises KeyError inside)
    assert adapter.value("undeclared") is None
    assert adapter.value("tenant_id", "fallback") == "t"
    assert adapter.value("cloud", "gcc") == "gcc"  # an explicit default beats the collection default


def _check(tmp_path, **options):
    options.setdefault("token_cache", str(tmp_path / "cache"))
    warnings = []
    check_options(MtpOptionAdapter.from_dict(options), warn=warnings.append)
    return warnings


@pytest.mark.parametrize("timeout", [0, -1, "0", -0.5, True])
def test_timeout_must_be_positive(tmp_path, timeout):
    with pytest.raises(MtpConfigError) as exc:
        _check(tmp_path, timeout=timeout)
    assert exc.value.option == "timeout"
    assert exc.value.msg == "timeout must be a number of seconds greater than 0, got %r" % (timeout,)


def test_defaults_pass_the_checks(tmp_path):
    assert _check(tmp_path) == []
    assert _check(tmp_path, timeout=1, token_cache=False) == []


def test_token_cache_pointing_at_a_file(tmp_path):
    target = tmp_path / "cache.json"
    target.write_text("{}")
    with pytest.raises(MtpConfigError) as exc:
        _check(tmp_path, token_cache=str(target))
    assert exc.value.option == "token_cache"
    assert exc.value.msg.startswith("token_cache %s is a file, not a directory" % target)
    assert "Errno" not in exc.value.msg


def test_token_cache_under_a_file(tmp_path):
    target = tmp_path / "cache.json"
    target.write_text("{}")
    with pytest.raises(MtpConfigError) as exc:
        _check(tmp_path, token_cache=str(target / "sub"))
    assert exc.value.option == "token_cache"
    assert "lies under %s, which is a file" % target in exc.value.msg


def test_token_cache_writable_by_others_warns(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    warnings = _check(tmp_path, token_cache=str(shared))
    assert warnings == ["token_cache %s can be written by other users (mode 0777): they could replace the cached "
                        "tokens; run chmod 700 on it, or point token_cache at a private directory" % shared]
    os.chmod(str(shared), 0o700)
    assert _check(tmp_path, token_cache=str(shared)) == []


def test_ca_path_missing(tmp_path):
    with pytest.raises(MtpConfigError) as exc:
        _check(tmp_path, ca_path=str(tmp_path / "nope.pem"))
    assert exc.value.option == "ca_path"
    assert exc.value.msg.startswith("ca_path %s cannot be read (No such file or directory)" % (tmp_path / "nope.pem"))


def test_ca_path_not_pem(tmp_path):
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x01\x0a binary")
    with pytest.raises(MtpConfigError) as exc:
        _check(tmp_path, ca_path=str(der))
    assert exc.value.option == "ca_path"
    assert "is not a PEM bundle" in exc.value.msg


def test_ca_path_pem_file_or_directory_passes(tmp_path):
    pem = tmp_path / "ca.pem"
    pem.write_bytes(PEM)
    assert _check(tmp_path, ca_path=str(pem)) == []
    assert _check(tmp_path, ca_path=str(tmp_path)) == []
    assert _check(tmp_path, ca_path=str(tmp_path / "nope.pem"), validate_certs=False) == []  # not used then


def test_from_ansible_module_reads_params():
    class Module(object):
        params = {"cloud": "dod"}

    adapter = MtpOptionAdapter.from_ansible_module(Module())
    assert adapter.get_option("cloud") == "dod"


def test_specs_are_fresh_dicts():
    first = auth_argument_spec()
    first.pop("tenant_id")
    first["auth_method"]["choices"].append("bogus")
    second = auth_argument_spec()
    assert "tenant_id" in second and "bogus" not in second["auth_method"]["choices"]
    assert connection_argument_spec() is not connection_argument_spec()


def test_no_log_only_on_secrets():
    spec = common_argument_spec()
    secrets = sorted(k for k, v in spec.items() if v.get("no_log"))
    assert secrets == ["access_token", "certificate_password", "client_secret", "password", "refresh_token"]
    for name in ("tenant_id", "client_id", "username"):
        assert spec[name].get("no_log") in (None, False)
    # names that look secret to sanity carry an explicit no_log=False
    for name in ("token_cache", "federated_token_file"):
        assert spec[name]["no_log"] is False


def test_common_spec_merges_module_options():
    spec = common_argument_spec(query=dict(type="str", required=True))
    assert spec["query"]["required"] is True
    assert "tenant_id" in spec and "timeout" in spec


def test_env_fallbacks_and_defaults(monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
    monkeypatch.setenv("AZURE_CLIENT_ID", "c")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "from-env-secret")
    monkeypatch.setenv("MTP_CLOUD", "gcc_high")
    monkeypatch.setenv("MTP_AUTH_METHOD", "certificate")
    monkeypatch.setenv("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "yes")
    monkeypatch.delenv("MTP_TIMEOUT", raising=False)
    result = ArgumentSpecValidator(common_argument_spec()).validate({})
    assert not result.error_messages
    params = result.validated_parameters
    assert params["tenant_id"] == "contoso.onmicrosoft.com"
    assert params["cloud"] == "gcc_high"
    assert params["auth_method"] == "certificate"
    assert params["send_certificate_chain"] is True
    assert params["timeout"] == 200
    assert params["validate_certs"] is True
    assert "from-env-secret" in result._no_log_values


def test_explicit_values_beat_env(monkeypatch):
    monkeypatch.setenv("MTP_CLOUD", "gcc_high")
    result = ArgumentSpecValidator(common_argument_spec()).validate({"cloud": "dod"})
    assert result.validated_parameters["cloud"] == "dod"


def test_auth_method_choices():
    result = ArgumentSpecValidator(auth_argument_spec()).validate({"auth_method": "password"})
    assert result.errors
    assert set(auth_argument_spec()["auth_method"]["choices"]) == {
        "client_secret", "certificate", "workload_identity", "managed_identity", "azure_cli", "device_code",
        "username_password", "refresh_token", "access_token"}


def test_user_secrets_come_from_the_environment_and_are_masked(monkeypatch):
    monkeypatch.setenv("AZURE_USERNAME", "analyst@contoso.onmicrosoft.com")
    monkeypatch.setenv("AZURE_PASSWORD", "env-Passw0rd-for-tests")
    monkeypatch.setenv("MTP_REFRESH_TOKEN", "1.Aenv-refresh-token-for-tests")
    monkeypatch.setenv("MTP_DEVICE_CODE_TIMEOUT", "45")
    result = ArgumentSpecValidator(common_argument_spec()).validate({})
    params = result.validated_parameters
    assert params["username"] == "analyst@contoso.onmicrosoft.com"
    assert params["device_code_timeout"] == 45
    assert {"env-Passw0rd-for-tests", "1.Aenv-refresh-token-for-tests"} <= result._no_log_values
    assert "analyst@contoso.onmicrosoft.com" not in result._no_log_values
