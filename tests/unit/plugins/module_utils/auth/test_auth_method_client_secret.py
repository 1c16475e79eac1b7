# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method=client_secret: offline validation, and real MSAL against the local token service."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest

from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter

TENANT_ID = "11111111-2222-3333-4444-555555555555"  # the stand-in's tenant (conftest)
TENANT_DOMAIN = "contoso.onmicrosoft.com"
CLIENT_ID = "aaaaaaaa-0000-0000-0000-000000000001"


def make(options):
    return MtpAuthenticator(MtpOptionAdapter.from_dict(options))


@pytest.fixture
def options(base_options, ids):
    opts = dict(base_options)
    opts.update(auth_method="client_secret", client_id=ids.CLIENT_ID, client_secret=ids.CLIENT_SECRET)
    return opts


def test_validate_names_every_missing_option():
    auth = make({"auth_method": "client_secret"})
    with pytest.raises(MtpConfigError) as exc:
        auth.validate()
    for name in ("tenant_id", "client_id", "client_secret"):
        assert "%s is required" % name in exc.value.msg
    assert exc.value.option == "tenant_id"


def test_validate_rejects_malformed_tenant_id_and_names_it():
    auth = make({"tenant_id": "not a tenant!", "client_id": CLIENT_ID, "client_secret": "x"})
    with pytest.raises(MtpConfigError) as exc:
        auth.validate()
    assert exc.value.option == "tenant_id"
    assert "tenant_id must be the directory (tenant) ID" in exc.value.msg


@pytest.mark.parametrize("tenant", [TENANT_ID, TENANT_DOMAIN])
def test_validate_accepts_guid_or_domain(tenant):
    make({"tenant_id": tenant, "client_id": CLIENT_ID, "client_secret": "x"}).validate()


def test_token_for_each_resource(service, options):
    auth = make(options)
    for resource, audience in (("mtp", "https://api.security.microsoft.com"),
                               ("graph", "https://graph.microsoft.com"),
                               ("mde", "https://api.securitycenter.microsoft.com")):
        token = auth.get_token(resource)
        claims = token.claims()
        assert claims["aud"] == audience
        assert claims["appid"] == CLIENT_ID
        assert claims["tid"] == TENANT_ID
        assert 3500 < token.expires_on - time.time() <= 3600
        assert token.scope == audience + "/.default"
    assert service.service.count("/oauth2/v2.0/token", "client_credentials") == 3


def test_second_call_is_served_from_memory(service, options):
    auth = make(options)
    first = auth.get_token("mtp")
    second = auth.get_token("mtp")
    assert first is second
    assert service.service.count("/oauth2/v2.0/token") == 1


def test_force_refresh_goes_to_the_token_endpoint(service, options):
    auth = make(options)
    auth.get_token("mtp")
    auth.get_token("mtp", force_refresh=True)
    assert service.service.count("/oauth2/v2.0/token", "client_credentials") == 2


def test_wrong_secret_names_aadsts_tenant_client_scope_not_secret(service, options, ids):
    options["client_secret"] = "wrong-secret-value-1234"
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("mtp")
    msg = exc.value.msg
    assert exc.value.aadsts == 7000215
    assert "AADSTS7000215" in msg and TENANT_ID in msg and CLIENT_ID in msg
    assert "https://api.security.microsoft.com/.default" in msg
    assert "secret ID" in exc.value.hint
    assert "wrong-secret-value-1234" not in msg and ids.CLIENT_SECRET not in msg
    assert exc.value.correlation_id


def test_unknown_application(service, options):
    options["client_id"] = "cccccccc-0000-0000-0000-00000000000c"
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("graph")
    assert exc.value.aadsts == 700016
    assert "replicate" in exc.value.hint


def test_unknown_tenant_points_at_tenant_and_cloud(service, options):
    options["tenant_id"] = "00000000-0000-0000-0000-0000000000ff"
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("mtp")
    assert "tenant_id=00000000-0000-0000-0000-0000000000ff" in exc.value.msg
    assert "cloud" in exc.value.msg


def test_untrusted_ca_says_set_ca_path(service, options):
    options.pop("ca_path")
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("mtp")
    assert "ca_path" in exc.value.msg
    assert exc.value.error == "tls"


def test_unreachable_authority(options):
    options["authority_host"] = "https://127.0.0.1:9"
    options["timeout"] = 5
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("mtp")
    assert exc.value.error == "connection"
    assert "127.0.0.1:9" in exc.value.msg
