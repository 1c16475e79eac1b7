# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MtpOptionAdapter and the argument specs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.m365.defender.plugins.module_utils._options import (
    MtpOptionAdapter,
    auth_argument_spec,
    common_argument_spec,
    connection_argument_spec,
)


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
    assert secrets == ["access_token", "certificate_password", "client_secret"]
    for name in ("tenant_id", "client_id"):
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
        "access_token"}
