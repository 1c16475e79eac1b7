# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MtpClient end to end against mtp_emulator: real MSAL tokens, real TLS with the emulator's CA, injected faults."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import requests

from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError
from ansible_collections.m365.defender.plugins.module_utils._http import MtpClient, build_session
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter


class Display:
    def __init__(self):
        self.warnings = []

    def warning(self, msg):
        self.warnings.append(msg)


def _control(emulator, method, path, **kwargs):
    with requests.Session() as s:
        s.verify = emulator.ca_path
        s.trust_env = False
        resp = s.request(method, emulator.endpoints["control_url"] + "/" + path, timeout=30, **kwargs)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture
def emu(emulator):
    _control(emulator, "POST", "reset")
    yield emulator
    _control(emulator, "POST", "reset")


def _client(emulator, app="admin_app", **extra):
    ep = emulator.endpoints
    tenant = ep["tenants"][0]
    opts = {"auth_method": "client_secret", "tenant_id": tenant["id"], "client_id": tenant[app]["client_id"],
            "client_secret": tenant[app]["client_secret"], "authority_host": ep["authority_host"],
            "api_url": ep["api_url"], "graph_url": ep["graph_url"], "mde_url": ep["mde_url"], "ca_path": ep["ca_path"],
            "token_cache": False, "timeout": 30,
            "retries": {"total": 3, "backoff_base": 0.05, "backoff_max": 0.2, "max_wait": 10}}
    opts.update(extra)
    adapter = MtpOptionAdapter.from_dict(opts)
    session = build_session(adapter)
    display = Display()
    auth = MtpAuthenticator(adapter, session=session, display=display)
    return MtpClient(adapter, authenticator=auth, display=display, session=session)


def test_hunting_on_graph_with_a_throttle_then_success(emu):
    _control(emu, "PATCH", "faults", json={"throttle": {"POST /v1.0/security/runHuntingQuery": 1},
                                           "throttle_retry_after": 1})
    client = _client(emu, app="hunting_app")
    resp = client.post("graph", "/security/runHuntingQuery", json={"Query": "DeviceInfo | take 2"}, idempotent=True)
    assert resp.status == 200 and "results" in resp.json and "schema" in resp.json
    assert client.stats["retries"] == 1 and "429" in client.display.warnings[0]


def test_graph_batch_and_paging_on_the_directory(emu):
    client = _client(emu)
    apps = list(client.paginate("graph", "/applications", params={"$top": 1, "$select": "id,appId"}))
    assert len(apps) >= 2 and all("appId" in a for a in apps)
    reqs = [{"id": str(i), "method": "GET", "url": "/applications/%s?$select=id,appId" % a["id"]} for i, a in enumerate(apps)]
    reqs += [{"id": "missing", "method": "GET", "url": "/applications/00000000-0000-0000-0000-00000000dead"}]
    result = client.batch(reqs)
    assert all(result[str(i)].json["appId"] == a["appId"] for i, a in enumerate(apps))
    assert result["missing"].status == 404
    assert client.batch_error(reqs[-1], result["missing"]).code == "Request_ResourceNotFound"


def test_a_real_token_without_the_role_gets_the_role_message(emu):
    client = _client(emu, app="hunting_app")
    with pytest.raises(MtpApiError) as exc:
        client.get("graph", "/applications")
    msg = exc.value.msg
    assert exc.value.status == 403 and "this call needs Application.ReadWrite.All" in msg
    assert "has roles [" in msg and "(aud " in msg
    token = client._tokens["graph"].token
    assert token not in msg


def test_real_default_urls_through_the_proxy_with_the_env_ca_bundle(emu, monkeypatch):
    """No URL overrides: HTTPS_PROXY + REQUESTS_CA_BUNDLE (the toolchain's recommended set-up) reach the emulator."""
    ep = emu.endpoints
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", ep["proxy_url"])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ep["ca_path"])
    tenant = ep["tenants"][0]
    opts = {"auth_method": "client_secret", "tenant_id": tenant["id"], "client_id": tenant["admin_app"]["client_id"],
            "client_secret": tenant["admin_app"]["client_secret"], "token_cache": False, "timeout": 30, "retries": 0}
    adapter = MtpOptionAdapter.from_dict(opts)
    session = build_session(adapter)
    # pre-flight: every Microsoft host must go through the local proxy before anything is sent
    for url in ("https://login.microsoftonline.com/x", "https://graph.microsoft.com/v1.0/x",
                "https://api.security.microsoft.com/api/x"):
        settings = session.merge_environment_settings(url, {}, None, None, None)
        assert settings["proxies"].get("https") == ep["proxy_url"] and settings["verify"] == ep["ca_path"]
    client = MtpClient(adapter, authenticator=MtpAuthenticator(adapter, session=session), display=Display(),
                       session=session)
    assert client.url("graph", "/applications").startswith("https://graph.microsoft.com/v1.0/")
    apps = client.get("graph", "/applications", params={"$select": "id,appId"}).json["value"]
    assert apps and all("appId" in a for a in apps)
    assert _control(emu, "GET", "stats")["proxy_refused"] == []


def test_token_endpoint_throttle_is_retried_with_retry_after(emu):
    _control(emu, "PATCH", "faults", json={"throttle": {"POST /*/oauth2/v2.0/token": 2}, "throttle_retry_after": 1})
    client = _client(emu, app="hunting_app")
    resp = client.post("graph", "/security/runHuntingQuery", json={"Query": "DeviceInfo | take 1"}, idempotent=True)
    assert resp.status == 200
    token_warnings = [w for w in client.display.warnings if w.startswith("Entra ID ")]
    assert len(token_warnings) == 2 and "429 throttled" in token_warnings[0]
    assert emu.endpoints["tenants"][0]["id"] in token_warnings[0]


def test_token_endpoint_503_names_authority_tenant_and_hint(emu):
    from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError

    _control(emu, "PATCH", "faults", json={"error_rate": {"POST /*/oauth2/v2.0/token": 1.0}})
    client = _client(emu, app="hunting_app", retries={"total": 2, "backoff_base": 0.01, "backoff_max": 0.02})
    with pytest.raises(MtpAuthError) as exc:
        client.get("graph", "/applications")
    tenant = emu.endpoints["tenants"][0]["id"]
    assert exc.value.msg.startswith("Could not get a token: the authority %s answered 503 for tenant_id=%s after 2 "
                                    "retries" % (emu.endpoints["authority_host"], tenant))
    assert "HTTP Error" not in exc.value.msg and exc.value.hint == "Entra ID is unavailable: retry later, or raise retries"
