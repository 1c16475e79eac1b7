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
    options["retries"] = {"total": 1, "backoff_base": 0.01, "backoff_max": 0.01}
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("mtp")
    assert exc.value.error == "connection"
    assert "the connection to the authority https://127.0.0.1:9 failed for tenant_id=%s" % TENANT_ID in exc.value.msg
    assert "connection to at" not in exc.value.msg


def test_untrusted_ca_with_ca_path_set_says_it_lacks_the_ca(service, options, certificate_files, tmp_path):
    other = tmp_path / "other-ca.pem"
    other.write_bytes(certificate_files["ca_pem"])  # a real CA, but not the one that signed the service
    options["ca_path"] = str(other)
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("mtp")
    assert exc.value.error == "tls"
    assert "ca_path %s does not hold the CA" % other in exc.value.msg and "set ca_path" not in exc.value.msg


class Warnings(object):
    def __init__(self):
        self.messages = []

    def warning(self, msg):
        self.messages.append(msg)


FAST = {"total": 3, "backoff_base": 0.01, "backoff_max": 0.05, "max_wait": 10}


def test_token_endpoint_503_is_retried(service, options):
    service.service.fail_token_requests(503, count=2)
    options["retries"] = FAST
    display = Warnings()
    token = MtpAuthenticator(MtpOptionAdapter.from_dict(options), display=display).get_token("mtp")
    assert token.claims()["aud"] == "https://api.security.microsoft.com"
    assert service.service.count("/oauth2/v2.0/token") == 3
    assert len(display.messages) == 2
    assert display.messages[0].startswith("Entra ID %s for tenant_id=%s: 503 from the service; retry 1 of 3"
                                          % (service.base_url, TENANT_ID))


def test_token_endpoint_429_waits_for_retry_after(service, options):
    service.service.fail_token_requests(429, count=1, retry_after=1)
    options["retries"] = FAST
    started = time.monotonic()
    make(options).get_token("mtp")
    assert time.monotonic() - started >= 0.95
    assert service.service.count("/oauth2/v2.0/token") == 2


def test_token_endpoint_503_past_the_retries_names_host_tenant_and_hint(service, options):
    service.service.fail_token_requests(503, count=10)
    options["retries"] = {"total": 2, "backoff_base": 0.01, "backoff_max": 0.02}
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("mtp")
    assert exc.value.msg.startswith("Could not get a token: the authority %s answered 503 for tenant_id=%s after 2 "
                                    "retries" % (service.base_url, TENANT_ID))
    assert "HTTP Error" not in exc.value.msg
    assert exc.value.hint == "Entra ID is unavailable: retry later, or raise retries"
    assert exc.value.error == "authority_unavailable"
    assert service.service.count("/oauth2/v2.0/token") == 3
