# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MtpLookupBase: options through get_option, per-process client and token cache, errors as AnsibleLookupError."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible import constants as C
from ansible.errors import AnsibleLookupError

from ansible_collections.m365.defender.plugins.plugin_utils import _lookup_base
from ansible_collections.m365.defender.plugins.plugin_utils._lookup_base import MtpLookupBase
from ansible_collections.m365.defender.tests.unit.plugins.module_utils.http.server_fixtures import (
    StubAuthenticator,
)

NAME = "m365.defender.mtp_unit_test_lookup"

# Option definitions as a lookup's DOCUMENTATION would declare them (the collection's .plugins fragments).
DEFS = {
    "auth_method": {"type": "str", "default": "client_secret", "env": [{"name": "MTP_AUTH_METHOD"}]},
    "tenant_id": {"type": "str", "env": [{"name": "AZURE_TENANT_ID"}]},
    "client_id": {"type": "str"},
    "client_secret": {"type": "str"},
    "access_token": {"type": "str"},
    "cloud": {"type": "str", "default": "commercial"},
    "api_url": {"type": "str", "vars": [{"name": "mtp_api_url"}]},
    "graph_url": {"type": "str"},
    "ca_path": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 30},
    "retries": {"type": "raw"},
}


class LookupModule(MtpLookupBase):
    authenticators = []
    lifetime = 3600
    roles = ("Incident.Read.All",)

    def _build_authenticator(self, adapter, endpoints, session):
        auth = StubAuthenticator(roles=self.roles, lifetime=self.lifetime)
        self.authenticators.append(auth)
        return auth

    def run(self, terms, variables=None, **kwargs):
        self.mtp_set_options(variables, **kwargs)
        with self.mtp_errors():
            client = self.mtp_client()
            return [client.get("mtp", term).json for term in terms]


@pytest.fixture
def lookup():
    C.config.initialize_plugin_configuration_definitions("lookup", NAME, DEFS)
    _lookup_base.clear_caches()
    LookupModule.authenticators = []
    plugin = LookupModule()
    plugin._load_name = NAME
    yield plugin
    _lookup_base.clear_caches()


@pytest.fixture
def kwargs(server, tls_ca):
    return {"auth_method": "client_secret", "tenant_id": "contoso.onmicrosoft.com",
            "client_id": "11111111-2222-3333-4444-555555555555", "client_secret": "s3cr3t-value",
            "ca_path": tls_ca[2], "retries": 0}


def test_run_reads_options_and_caches_client_and_token(lookup, server, kwargs):
    server.queue("GET", "/api/incidents/1", 200, {"incidentId": 1})
    server.queue("GET", "/api/incidents/2", 200, {"incidentId": 2})
    assert lookup.run(["/incidents/1"], variables={"mtp_api_url": server.url}, **kwargs) == [{"incidentId": 1}]
    second = LookupModule()
    second._load_name = NAME
    assert second.run(["/incidents/2"], variables={"mtp_api_url": server.url}, **kwargs) == [{"incidentId": 2}]
    assert len(LookupModule.authenticators) == 1  # one client for the process
    assert LookupModule.authenticators[0].calls == [("mtp", False)]  # one token for both calls
    assert [r["path"] for r in server.log] == ["/api/incidents/1", "/api/incidents/2"]


def test_other_credentials_get_another_client(lookup, server, kwargs):
    kwargs["api_url"] = server.url
    lookup.run(["/incidents"], **kwargs)
    kwargs["client_secret"] = "another-secret"
    lookup.run(["/incidents"], **kwargs)
    assert len(LookupModule.authenticators) == 2


def test_token_renewed_within_five_minutes_of_expiry(lookup, server, kwargs):
    LookupModule.lifetime = 200  # expires in 3 min 20 s: inside the 5-minute margin
    try:
        kwargs["api_url"] = server.url
        lookup.run(["/incidents", "/incidents"], **kwargs)
    finally:
        LookupModule.lifetime = 3600
    assert LookupModule.authenticators[0].calls == [("mtp", False), ("mtp", False)]


def test_api_error_becomes_lookup_error_with_same_text(lookup, server, kwargs):
    kwargs["api_url"] = server.url
    server.queue("GET", "/api/incidents", 403, {"error": {"code": "Forbidden", "message": "Missing application roles."}})
    with pytest.raises(AnsibleLookupError) as exc:
        lookup.run(["/incidents"], **kwargs)
    text = str(exc.value)
    assert text.startswith("403 Forbidden from mtp GET /api/incidents:") and "needs Incident.Read.All" in text
    assert exc.value.orig_exc.msg == exc.value.message
    assert "s3cr3t-value" not in text


def test_config_error_becomes_lookup_error(lookup, kwargs):
    kwargs["api_url"] = "http://plain-http.example.test"
    with pytest.raises(AnsibleLookupError) as exc:
        lookup.run(["/incidents"], **kwargs)
    assert "api_url must be an https:// URL" in str(exc.value)


def test_unknown_option_is_rejected_before_any_call(lookup, server, kwargs):
    kwargs["tennant_id"] = "typo.onmicrosoft.com"
    kwargs["bogus"] = 1
    with pytest.raises(AnsibleLookupError) as exc:
        lookup.run(["/incidents/1"], variables={"mtp_api_url": server.url}, **kwargs)
    assert str(exc.value).startswith("Unsupported parameters for (%s) lookup: bogus, tennant_id. Supported parameters "
                                     "include: access_token, api_url, auth_method" % NAME)
    assert server.log == [] and LookupModule.authenticators == []


def test_bad_timeout_is_named_before_any_call(lookup, server, kwargs):
    kwargs["timeout"] = 0
    with pytest.raises(AnsibleLookupError) as exc:
        lookup.run(["/incidents/1"], variables={"mtp_api_url": server.url}, **kwargs)
    assert str(exc.value) == "timeout must be a number of seconds greater than 0, got 0"
    assert server.log == []
