# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of _app_consent (pure parts): client_type checks and application properties, the consent option,
users resolved from $batch answers, and the grant actions per consent type."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _app_consent as m
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"
NATIVE_GOV = "https://login.microsoftonline.us/common/oauth2/nativeclient"
USER1 = "0b7c6d5e-4f3a-4b2c-9d1e-0f9e8d7c6b5a"
USER2 = "1c8d7e6f-5a4b-4c3d-8e2f-1a0b9c8d7e6f"


# --- client_type -------------------------------------------------------------------------------------------

def test_credential_defaults_per_client_type():
    # client_type not set: decided once the app is read (a new app is confidential, an existing one keeps its type)
    assert m.check_client_type({}) is None
    assert m.check_client_type({}, {}) == "secret"
    assert m.check_client_type({}, {"isFallbackPublicClient": False}) == "secret"
    assert m.check_client_type({}, {"isFallbackPublicClient": True}) == "none"
    assert m.check_client_type({"client_type": "confidential"}) == "secret"
    assert m.check_client_type({"client_type": "confidential", "credential": "certificate"}) == "certificate"
    assert m.check_client_type({"client_type": "public"}) == "none"
    assert m.check_client_type({"client_type": "public", "credential": "none"}) == "none"


@pytest.mark.parametrize("params,option,named", [
    ({"credential": "secret"}, "credential", "credential=secret"),
    ({"credential": "certificate", "certificate": {"path": "/x.pem"}}, "credential",
     "credential=certificate, certificate"),
    ({"credential": "federated"}, "credential", "credential=federated"),
    ({"secret_dest": "/tmp/s"}, "secret_dest", "secret_dest"),
    ({"certificate": {"content": "PEM"}}, "certificate", "certificate"),
])
def test_public_client_with_a_credential_fails_naming_the_options(params, option, named):
    with pytest.raises(MtpConfigError) as err:
        m.check_client_type(dict(params, client_type="public"))
    assert err.value.option == option
    assert str(err.value) == ("client_type=public: a public (native) client has no client secret, certificate or "
                              "federated credential; remove %s (or leave credential unset, or set it to none)" % named)


def test_existing_public_app_without_client_type_refuses_a_secret():
    with pytest.raises(MtpConfigError) as err:
        m.check_client_type({"credential": "secret"}, {"isFallbackPublicClient": True})
    assert err.value.option == "credential"
    assert str(err.value) == ("the app is a public client (client_type not set): a public (native) client has no "
                              "client secret, certificate or federated credential; remove credential=secret (or leave "
                              "credential unset, or set it to none), or set client_type: confidential")


def test_native_redirect_uri_is_on_the_clouds_login_host():
    assert m.native_redirect_uri(None) == NATIVE
    assert m.native_redirect_uri("commercial") == NATIVE
    assert m.native_redirect_uri("gcc") == NATIVE
    assert m.native_redirect_uri("gcc_high") == NATIVE_GOV
    assert m.native_redirect_uri("dod") == NATIVE_GOV


def test_client_type_changes():
    assert m.client_type_changes(None, "public", "commercial") == {
        "isFallbackPublicClient": True, "publicClient": {"redirectUris": [NATIVE]}}
    # other redirect URIs are kept
    app = {"isFallbackPublicClient": None, "publicClient": {"redirectUris": ["ms-appx-web://x"]}}
    assert m.client_type_changes(app, "public", "dod") == {
        "isFallbackPublicClient": True, "publicClient": {"redirectUris": ["ms-appx-web://x", NATIVE_GOV]}}
    done = {"isFallbackPublicClient": True, "publicClient": {"redirectUris": [NATIVE]}}
    assert m.client_type_changes(done, "public", "commercial") == {}
    assert m.client_type_changes(done, "confidential", "commercial") == {"isFallbackPublicClient": False}
    assert m.client_type_changes({"isFallbackPublicClient": None}, "confidential", None) == {}
    assert m.client_type_changes(None, "confidential", None) == {}
    assert m.client_type_changes(done, None, "commercial") == {}  # not set: the app keeps its type
    assert (m.client_type_of(done), m.client_type_of({}), m.client_type_of(None)) == ("public", "confidential",
                                                                                      "confidential")


# --- consent -----------------------------------------------------------------------------------------------

def test_consent_setting_defaults_and_users():
    assert m.consent_setting(None) == {"type": "all_principals", "users": []}
    assert m.consent_setting({"type": "none", "users": []}) == {"type": "none", "users": []}
    assert m.consent_setting({"type": "principal", "users": [" analyst@contoso.com ", USER1]}) == {
        "type": "principal", "users": ["analyst@contoso.com", USER1]}


@pytest.mark.parametrize("consent,option,message", [
    ({"type": "principal", "users": []}, "consent.users",
     "consent.type=principal needs consent.users: the user principal names (or object ids) of the users to consent "
     "for"),
    ({"type": "all_principals", "users": ["a@contoso.com"]}, "consent.users",
     "consent.users is only used with consent.type=principal (consent.type is all_principals)"),
    ({"type": "principal", "users": ["analyst"]}, "consent.users",
     "consent.users: analyst is neither a user principal name (name@domain) nor an object id"),
    ({"type": "principal", "users": ["a@contoso.com", "A@contoso.com"]}, "consent.users",
     "consent.users lists a user twice: a@contoso.com, A@contoso.com"),
    ({"type": "everyone"}, "consent.type", "consent.type must be one of all_principals, principal, none, not "
                                           "'everyone'"),
])
def test_bad_consent_names_the_option(consent, option, message):
    with pytest.raises(MtpConfigError) as err:
        m.consent_setting(consent)
    assert (err.value.option, str(err.value)) == (option, message)


def test_user_paths_and_answers():
    assert m.user_path("analyst@contoso.com") == "/users/analyst@contoso.com?$select=id,userPrincipalName"
    assert m.user_path("guest_fabrikam.com#EXT#@contoso.com") == \
        "/users/guest_fabrikam.com%23EXT%23@contoso.com?$select=id,userPrincipalName"
    answers = {"u0": (200, {"id": USER1, "userPrincipalName": "analyst@contoso.com"}), "u1": (200, {"id": USER2})}
    assert m.user_ids_from_answers(["analyst@contoso.com", USER2], answers) == {
        "analyst@contoso.com": USER1, USER2: USER2}
    with pytest.raises(MtpConfigError) as err:
        m.user_ids_from_answers(["analyst@contoso.com", "ghost@contoso.com", "nobody@contoso.com"],
                                {"u0": (200, {"id": USER1}), "u1": (404, {}), "u2": (404, {})})
    assert err.value.option == "consent.users"
    assert str(err.value) == ("consent.users: no user ghost@contoso.com, nobody@contoso.com in the tenant (give user "
                              "principal names or object ids of existing users)")


def test_consent_actions_per_type():
    grants = [{"id": "g-all", "resourceId": "R", "scope": "A", "consentType": "AllPrincipals"},
              {"id": "g-u1", "resourceId": "R", "scope": "A", "consentType": "Principal", "principalId": USER1},
              {"id": "g-u2", "resourceId": "R", "scope": "A", "consentType": "Principal", "principalId": USER2}]
    everyone = m.consent_setting(None)
    assert m.consent_actions(grants, {"R": ["A", "B"]}, everyone, {}, False) == [
        ("update", grants[0], "A B", None)]
    one = m.consent_setting({"type": "principal", "users": ["a@contoso.com"]})
    ids = {"a@contoso.com": USER1}
    assert m.consent_actions(grants, {"R": ["B"], "S": ["C"]}, one, ids, False) == [
        ("update", grants[1], "A B", USER1), ("create", "S", "C", USER1)]
    # purge: the listed user's grant holds exactly what is asked; other users' Principal grants go
    assert m.consent_actions(grants, {"R": ["B"]}, one, ids, True) == [
        ("update", grants[1], "B", USER1), ("delete", grants[2], None, USER2)]
    assert m.consent_actions(grants, {"R": ["B"]}, m.consent_setting({"type": "none"}), {}, True) == []
