# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method=managed_identity through azure-identity, against a local IMDS endpoint
(``AZURE_POD_IDENTITY_AUTHORITY_HOST``; nothing ever reaches 169.254.169.254)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter


@pytest.fixture
def imds(service, monkeypatch):
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT",
                 "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", service.imds_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return service


def make(options):
    return MtpAuthenticator(MtpOptionAdapter.from_dict(options))


def test_validate_needs_nothing():
    make({"auth_method": "managed_identity"}).validate()


def test_system_assigned(imds):
    token = make({"auth_method": "managed_identity"}).get_token("mtp")
    assert token.claims()["aud"] == "https://api.security.microsoft.com"
    assert token.source == "managed_identity"
    request = imds.service.imds_requests[-1]
    assert request["resource"].rstrip("/") == "https://api.security.microsoft.com"
    assert "client_id" not in request


def test_user_assigned_sends_client_id(imds, ids):
    token = make({"auth_method": "managed_identity", "client_id": ids.MI_CLIENT_ID}).get_token("graph")
    assert token.claims()["appid"] == ids.MI_CLIENT_ID
    assert imds.service.imds_requests[-1]["client_id"] == ids.MI_CLIENT_ID


def test_unknown_identity_fails_with_auth_error(imds):
    with pytest.raises(MtpAuthError) as exc:
        make({"auth_method": "managed_identity", "client_id": "dddddddd-0000-0000-0000-00000000000d"}).get_token("mtp")
    assert "dddddddd-0000-0000-0000-00000000000d" in exc.value.msg
    assert exc.value.error == "managed_identity"
