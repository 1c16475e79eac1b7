# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AADSTS mapping, MSAL error parsing and JWT claim decoding (pure functions)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

import pytest

from ansible_collections.m365.defender.plugins.module_utils._aadsts import auth_error_from_msal, describe, parse_error
from ansible_collections.m365.defender.plugins.module_utils._jwt_claims import decode_claims, looks_like_jwt

# The error body of docs/developer/reference/defender-api.md §6.3
BODY = {"error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
                             "request is the client secret value.\r\nTrace ID: 0f1e\r\nCorrelation ID: 9a8b-corr\r\n"
                             "Timestamp: 2024-05-01 10:15:00Z",
        "error_codes": [7000215], "timestamp": "2024-05-01 10:15:00Z", "trace_id": "0f1e",
        "correlation_id": "9a8b-corr", "error_uri": "https://login.microsoftonline.com/error?code=7000215"}


def test_parse_error():
    info = parse_error(BODY)
    assert info == {"aadsts": 7000215, "error": "invalid_client", "correlation_id": "9a8b-corr",
                    "description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                                   "the request is the client secret value."}


def test_parse_error_without_error_codes_reads_the_description():
    assert parse_error({"error": "invalid_request", "error_description": "AADSTS90002: Tenant x not found."})[
        "aadsts"] == 90002
    assert parse_error({"error": "x"})["aadsts"] is None
    assert parse_error(None)["error"] is None


@pytest.mark.parametrize("code, words", [
    (7000215, "secret ID"), (7000222, "mtp_aad_app_setup"), (700016, "replicate"), (90002, "cloud"),
    (90038, "cloud"), (700027, "certificate_path"), (7000218, "client_secret"), (65001, "consent"),
    (70011, "resources"), (500011, "mtp_aad_app_setup"), (50126, "password"), (50076, "device_code"),
    (50076, "auth_method=refresh_token"), (50079, "enrol"), (50053, "unlock"), (50057, "enable the account"),
    (65001, "consent (type all_principals"), (9002313, "new refresh token"), (70000, "this client_id"),
])
def test_known_codes_have_advice(code, words):
    meaning, hint = describe(code)
    assert meaning
    assert words in hint


def test_unknown_code():
    assert describe(1234567) == (None, None)
    assert describe("abc") == (None, None)


def test_message_names_code_tenant_client_scope():
    exc = auth_error_from_msal(BODY, tenant_id="contoso.onmicrosoft.com", client_id="app-1",
                               scope="https://api.security.microsoft.com/.default")
    for part in ("AADSTS7000215", "invalid_client", "tenant_id=contoso.onmicrosoft.com", "client_id=app-1",
                 "scope=https://api.security.microsoft.com/.default", "9a8b-corr"):
        assert part in exc.msg
    assert "Trace ID" not in exc.msg
    assert exc.to_result()["aadsts"] == 7000215
    assert "secret ID" in exc.to_result()["hint"]


def test_message_scrubs_secrets_even_if_echoed():
    body = dict(BODY, error_description="AADSTS7000215: bad secret 'Sup3rS3cret!' provided.")
    exc = auth_error_from_msal(body, secrets=["Sup3rS3cret!", None, ""])
    assert "Sup3rS3cret!" not in exc.msg


def _jwt(payload):
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return "%s.%s.sig" % (enc({"alg": "none"}), enc(payload))


def test_decode_claims():
    assert decode_claims(_jwt({"aud": "x", "roles": ["a"]})) == {"aud": "x", "roles": ["a"]}
    assert looks_like_jwt(_jwt({"a": 1}))


@pytest.mark.parametrize("bad", ["", "abc", "a.b", "a.!!!.c", _jwt([1, 2]), None, "x.%s.y" % "e30"])
def test_decode_claims_rejects(bad):
    if bad == "x.e30.y":  # header not JSON, payload "{}"
        assert not looks_like_jwt(bad)
        return
    with pytest.raises(ValueError):
        decode_claims(bad)
    assert not looks_like_jwt(bad)


def test_user_sign_in_refusal_names_the_code_and_hides_the_password():
    body = {"error": "invalid_grant", "error_codes": [50126], "correlation_id": "c-1",
            "error_description": "AADSTS50126: Error validating credentials for user with Pa55-word-XYZ.\r\nTrace ID: t"}
    exc = auth_error_from_msal(body, tenant_id="contoso.onmicrosoft.com", client_id="app-1", scope="s",
                               action="sign in username=analyst@contoso.onmicrosoft.com with a password",
                               secrets=["Pa55-word-XYZ"])
    assert exc.msg.startswith("Entra ID refused to sign in username=analyst@contoso.onmicrosoft.com with a password "
                              "(AADSTS50126, invalid_grant)")
    assert "Pa55-word-XYZ" not in exc.msg and "********" in exc.msg
