# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one error path: error envelopes of Graph, MTP and MDE, the 403 hint, and ErrorHandler context."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

import pytest

from ansible_collections.m365.defender.plugins.module_utils._api_errors import (
    ErrorHandler,
    api_error,
    parse_error_body,
)
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpAuthError, MtpConfigError

GRAPH_BODY = {"error": {"code": "Request_BadRequest", "message": "Invalid value specified for property 'name'.",
                        "details": [{"code": "InvalidValue", "target": "name"}],
                        "innerError": {"request-id": "11111111-aaaa-bbbb-cccc-000000000001"}}}
MTP_BODY = {"error": {"code": "Forbidden", "message": "Missing application roles.",
                      "target": "43ec1f8c-0000-4000-8000-00000000000b"}}


class _Token:
    """An AccessToken stand-in: only claims() is read by the error path."""

    def __init__(self, claims):
        self._claims = claims
        self.token = "header." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=") + ".sig"

    def claims(self):
        return self._claims


def test_parse_graph_envelope():
    assert parse_error_body(GRAPH_BODY, json.dumps(GRAPH_BODY)) == (
        "Request_BadRequest", "Invalid value specified for property 'name'.", "11111111-aaaa-bbbb-cccc-000000000001",
        None, ["InvalidValue"])


def test_parse_mtp_envelope_keeps_tracking_id():
    assert parse_error_body(MTP_BODY, "") == ("Forbidden", "Missing application roles.", None,
                                              "43ec1f8c-0000-4000-8000-00000000000b", [])


def test_parse_text_body_and_header_request_id():
    code, message, request_id, target, details = parse_error_body(None, "upstream connect error\n",
                                                                  {"x-ms-request-id": "req-9"})
    assert (code, message, request_id, target, details) == (None, "upstream connect error", "req-9", None, [])


def test_parse_oauth_style_error():
    body = {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}
    assert parse_error_body(body, "")[:2] == (None, "AADSTS7000215: Invalid client secret provided.")


def test_api_error_carries_details_and_service_message():
    exc = api_error("graph", "post", "/v1.0/applications/1/federatedIdentityCredentials", 400,
                    {"Request-Id": "h-1"}, GRAPH_BODY, json.dumps(GRAPH_BODY))
    assert exc.msg == ("400 Bad Request from graph POST /v1.0/applications/1/federatedIdentityCredentials: "
                       "Request_BadRequest: Invalid value specified for property 'name'. [details: InvalidValue] "
                       "(request-id 11111111-aaaa-bbbb-cccc-000000000001)")
    assert exc.details == ["InvalidValue"]
    assert exc.service_message == "Invalid value specified for property 'name'."
    assert exc.status == 400 and exc.code == "Request_BadRequest"


def test_403_names_the_application_role_from_the_registry():
    token = _Token({"aud": "https://api.security.microsoft.com", "roles": ["Incident.Read.All"], "appid": "app-1"})
    exc = api_error("mtp", "POST", "/api/advancedhunting/run", 403, {}, MTP_BODY, "", token=token)
    assert "has roles [Incident.Read.All]" in exc.msg
    assert "this call needs AdvancedHunting.Read.All." in exc.msg
    assert exc.hint.startswith("grant AdvancedHunting.Read.All")
    assert token.token not in exc.msg


def test_403_in_user_context_names_the_delegated_scope():
    token = _Token({"aud": "https://api.security.microsoft.com", "scp": "Incident.Read", "upn": "ana@contoso.test"})
    exc = api_error("mtp", "POST", "/api/advancedhunting/run", 403, {}, MTP_BODY, "", token=token)
    assert "scopes [Incident.Read]" in exc.msg
    assert ("this call needs the delegated scope AdvancedHunting.Read; the user token lacks the delegated scope "
            "AdvancedHunting.Read: declare and consent it for the app (m365.defender.mtp_aad_app_setup, "
            "permissions[].delegated and consent).") in exc.msg


def test_403_for_a_user_holding_the_scope_names_the_missing_user_role():
    token = _Token({"aud": "https://api.security.microsoft.com", "scp": "AdvancedHunting.Read Incident.Read",
                    "upn": "norole@contoso.test", "wids": ["b79fbf4d-3ef9-4689-8143-76b194e85509"]})
    exc = api_error("mtp", "POST", "/api/advancedhunting/run", 403, {}, MTP_BODY, "", token=token)
    assert "the signed-in user lacks a Defender role: assign one of the Entra ID roles " in exc.msg
    assert "Security Reader" in exc.msg and "Security Operator" in exc.msg
    assert "(the user has none of them)" in exc.msg
    assert "Grant it with m365.defender.mtp_aad_app_setup" not in exc.msg
    assert exc.hint.startswith("the token carries the delegated scope AdvancedHunting.Read, so the signed-in user")


def test_403_for_a_reader_on_a_write_names_the_writer_roles():
    token = _Token({"aud": "https://api.security.microsoft.com", "scp": "Incident.ReadWrite",
                    "upn": "reader@contoso.test", "wids": ["5d6b6bb7-de71-4623-b4af-96380a352509"]})
    exc = api_error("mtp", "PATCH", "/api/incidents/7", 403, {}, MTP_BODY, "", token=token)
    assert "(the user has Security Reader)" in exc.msg
    assert "Security Operator" in exc.msg


def test_legacy_hunting_404_says_it_retires():
    exc = api_error("mde", "POST", "/api/advancedqueries/run", 404, {}, None, "")
    assert "retires it (stops returning data on 2027-02-01)" in exc.msg


class _Api:
    def __init__(self, status):
        self.status = status
        self.calls = []

    @ErrorHandler.common("get incident {incident_id}")
    def get_incident(self, incident_id, expand=None):
        self.calls.append((incident_id, expand))
        raise MtpApiError("404 Not Found from graph GET /v1.0/security/incidents/%s" % incident_id, status=self.status)

    @ErrorHandler.list_handler("list alerts of incident {incident_id}")
    def alerts(self, incident_id):
        raise MtpApiError("boom", status=self.status)

    @ErrorHandler.deletion_handler("delete indicator {ident}")
    def delete(self, ident):
        raise MtpApiError("gone", status=self.status)

    @ErrorHandler.common("read {what}")
    def config(self, what):
        raise MtpConfigError("timeout must be greater than 0", option="timeout")


def test_common_handler_adds_the_context_with_arguments_by_name():
    with pytest.raises(MtpApiError) as caught:
        _Api(404).get_incident("1234", expand="alerts")
    assert caught.value.msg == "Could not get incident 1234: 404 Not Found from graph GET /v1.0/security/incidents/1234"
    assert caught.value.context == "get incident 1234"
    assert str(caught.value) == caught.value.msg
    assert caught.value.status == 404


def test_list_handler_maps_404_to_empty_and_keeps_other_errors():
    assert _Api(404).alerts(incident_id=5) == []
    with pytest.raises(MtpApiError, match=r"^Could not list alerts of incident 5: boom$"):
        _Api(500).alerts(5)


def test_deletion_handler_maps_404_to_already_gone():
    assert _Api(404).delete("ind-1") is False
    with pytest.raises(MtpApiError, match=r"^Could not delete indicator ind-1: gone$"):
        _Api(409).delete("ind-1")


def test_config_errors_pass_unchanged():
    with pytest.raises(MtpConfigError) as caught:
        _Api(400).config("x")
    assert caught.value.msg == "timeout must be greater than 0"


def test_context_manager_adds_context_once():
    with pytest.raises(MtpAuthError) as caught:
        with ErrorHandler.context("add password to app 0c6a"):
            with ErrorHandler.context("inner step"):
                raise MtpAuthError("AADSTS7000215: Invalid client secret provided.", aadsts=7000215)
    assert caught.value.msg == "Could not inner step: AADSTS7000215: Invalid client secret provided."
    assert caught.value.aadsts == 7000215
