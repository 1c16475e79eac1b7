# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cloud presets and endpoint overrides (resolve_endpoints)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils._clouds import CLOUDS, is_tenant_id, resolve_endpoints
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter


def resolve(**options):
    return resolve_endpoints(MtpOptionAdapter.from_dict(options))


# Expected hosts from docs/developer/reference/defender-api.md §5 (national clouds table)
@pytest.mark.parametrize("cloud, login, graph, mtp, mde", [
    ("commercial", "login.microsoftonline.com", "graph.microsoft.com", "api.security.microsoft.com",
     "api.securitycenter.microsoft.com"),
    ("gcc", "login.microsoftonline.com", "graph.microsoft.com", "api-gcc.security.microsoft.us",
     "api-gcc.securitycenter.microsoft.us"),
    ("gcc_high", "login.microsoftonline.us", "graph.microsoft.us", "api-gov.security.microsoft.us",
     "api-gov.securitycenter.microsoft.us"),
    ("dod", "login.microsoftonline.us", "dod-graph.microsoft.us", "api-gov.security.microsoft.us",
     "api-gov.securitycenter.microsoft.us"),
])
def test_presets(cloud, login, graph, mtp, mde):
    ep = resolve(cloud=cloud)
    assert ep.cloud == cloud
    assert ep.authority_host == "https://" + login
    assert ep.graph_url == "https://" + graph
    assert ep.api_url == "https://" + mtp
    assert ep.mde_url == "https://" + mde
    assert ep.scope("graph") == "https://%s/.default" % graph
    assert ep.authority_is_known


def test_default_is_commercial():
    ep = resolve()
    assert ep.cloud == "commercial"
    assert ep.scope("mtp") == "https://api.security.microsoft.com/.default"
    assert ep.scope("mde") == "https://api.securitycenter.microsoft.com/.default"
    assert ep.authority("contoso.onmicrosoft.com") == "https://login.microsoftonline.com/contoso.onmicrosoft.com"


def test_overrides_keep_the_resources_of_the_cloud():
    ep = resolve(cloud="gcc_high", authority_host="https://127.0.0.1:8443/", api_url="https://127.0.0.1:8443",
                 graph_url="https://127.0.0.1:8443/", mde_url="https://127.0.0.1:8444")
    assert ep.authority_host == "https://127.0.0.1:8443"
    assert ep.api_url == ep.graph_url == "https://127.0.0.1:8443"
    assert ep.mde_url == "https://127.0.0.1:8444"
    assert ep.scope("graph") == "https://graph.microsoft.us/.default"
    assert not ep.authority_is_known


def test_resources_override_the_unverified_scopes():
    ep = resolve(cloud="gcc", resources={"mtp": "https://api.security.microsoft.com/.default", "mde": None})
    assert ep.scope("mtp") == "https://api.security.microsoft.com/.default"
    assert ep.scope("mde") == "https://api-gcc.securitycenter.microsoft.us/.default"


@pytest.mark.parametrize("option, value", [
    ("authority_host", "http://login.example"),
    ("authority_host", "https://login.example/tenant"),
    ("api_url", "ftp://x"),
    ("graph_url", "https://user:pw@graph.example"),
    ("mde_url", "https://host:notaport"),
    ("api_url", "https://x/?q=1"),
])
def test_bad_urls_name_the_option(option, value):
    with pytest.raises(MtpConfigError) as exc:
        resolve(**{option: value})
    assert exc.value.option == option
    assert exc.value.msg.startswith(option)
    assert "pw@" not in exc.value.msg or option != "graph_url" or "user:pw" in value


def test_unknown_cloud():
    with pytest.raises(MtpConfigError) as exc:
        resolve(cloud="china")
    assert exc.value.option == "cloud"


@pytest.mark.parametrize("resources", [{"other": "https://x"}, {"mtp": "not a uri"}, "https://x"])
def test_bad_resources(resources):
    with pytest.raises(MtpConfigError) as exc:
        resolve(resources=resources)
    assert exc.value.option == "resources"


def test_unknown_api_name():
    with pytest.raises(MtpConfigError):
        resolve().scope("defender")


def test_presets_are_not_shared_mutable_state():
    resolve(api_url="https://127.0.0.1:1")
    assert CLOUDS["commercial"]["api_url"] == "https://api.security.microsoft.com"


@pytest.mark.parametrize("value, ok", [
    ("11111111-2222-3333-4444-555555555555", True), ("contoso.onmicrosoft.com", True), ("contoso.com", True),
    ("contoso", False), ("", False), ("11111111-2222-3333-4444", False), ("a b.com", False), (None, False),
])
def test_tenant_id_forms(value, ok):
    assert is_tenant_id(value) is ok
