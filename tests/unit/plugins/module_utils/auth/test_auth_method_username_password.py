# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method=username_password (ROPC): offline validation, the deprecation warning, real MSAL against the local
token service (user realm discovery included), silent reuse from the token cache, and every refusal translated
into what to do, without the password in any message."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter


class Recorder(object):
    """The display: keeps the warnings."""

    def __init__(self):
        self.warnings = []

    def warning(self, msg):
        self.warnings.append(msg)

    __call__ = warning


def make(options, display=None):
    return MtpAuthenticator(MtpOptionAdapter.from_dict(options), display=display)


@pytest.fixture
def options(base_options, ids):
    opts = dict(base_options)
    opts.update(auth_method="username_password", client_id=ids.PUBLIC_CLIENT_ID, username=ids.USER_UPN,
                password=ids.USER_PASSWORD)
    return opts


def cache_bytes(cache_dir):
    data = b""
    for name in os.listdir(cache_dir):
        with open(os.path.join(cache_dir, name), "rb") as handle:
            data += handle.read()
    return data


def test_validate_names_username_and_password():
    with pytest.raises(MtpConfigError) as exc:
        make({"auth_method": "username_password", "tenant_id": "contoso.onmicrosoft.com",
              "client_id": "aaaaaaaa-0000-0000-0000-000000000004"}).validate()
    assert "username is required" in exc.value.msg and "password is required" in exc.value.msg
    assert exc.value.option == "username"


def test_validate_missing_password_only(ids):
    with pytest.raises(MtpConfigError) as exc:
        make({"auth_method": "username_password", "tenant_id": ids.TENANT_ID, "client_id": ids.PUBLIC_CLIENT_ID,
              "username": ids.USER_UPN, "password": "  "}).validate()
    assert exc.value.option == "password"
    assert exc.value.msg == "auth_method=username_password: password is required"


def test_validate_wants_a_user_principal_name(ids):
    with pytest.raises(MtpConfigError) as exc:
        make({"auth_method": "username_password", "tenant_id": ids.TENANT_ID, "client_id": ids.PUBLIC_CLIENT_ID,
              "username": "analyst", "password": "Secret-Value-1234"}).validate()
    assert exc.value.option == "username"
    assert "user principal name (user@domain), got 'analyst'" in exc.value.msg
    assert "Secret-Value-1234" not in exc.value.msg


def test_sign_in_warns_and_later_tasks_are_silent(service, options, ids, cache_dir):
    display = Recorder()
    token = make(options, display).get_token("mtp")
    claims = token.claims()
    assert claims["oid"] == ids.USER_OID and claims["scp"] == "AdvancedHunting.Read"
    assert claims["aud"] == "https://api.security.microsoft.com"
    assert service.service.count("/oauth2/v2.0/token", "password") == 1
    # MSAL's user realm request reached the token service, port and all
    assert service.service.count("/common/userrealm/" + ids.USER_UPN) == 1
    assert len(display.warnings) == 1
    assert "deprecated by Microsoft" in display.warnings[0] and "multi-factor" in display.warnings[0]
    assert ids.USER_PASSWORD not in display.warnings[0]

    # another task, another run: the token comes from the cache, no request at all
    service.service.reset_counts()
    again = make(options, Recorder()).get_token("mtp")
    assert again.token == token.token
    assert service.service.count() == 0

    # another API: the cached refresh token, no password grant
    make(options).get_token("graph")
    assert service.service.count("/oauth2/v2.0/token", "password") == 0
    assert service.service.count("/oauth2/v2.0/token", "refresh_token") == 1

    for name in os.listdir(cache_dir):
        if not name.startswith("."):
            assert stat.S_IMODE(os.stat(os.path.join(cache_dir, name)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    assert ids.USER_PASSWORD.encode() not in cache_bytes(cache_dir)


def test_wrong_password_never_gets_the_cached_token(service, options, ids):
    make(options).get_token("graph")
    options["password"] = "Wrong-Pa55w0rd-ForTests"
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("graph")
    assert exc.value.aadsts == 50126
    assert "AADSTS50126" in exc.value.msg and "check username and password" in exc.value.msg
    assert "username=%s" % ids.USER_UPN in exc.value.msg
    assert "Wrong-Pa55w0rd-ForTests" not in exc.value.msg and ids.USER_PASSWORD not in exc.value.msg


def test_unknown_user_is_50126(service, options):
    options.update(username="nobody@contoso.onmicrosoft.com")
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("graph")
    assert exc.value.aadsts == 50126


@pytest.mark.parametrize("upn, code, fix", [
    ("mfa.user@contoso.onmicrosoft.com", 50076, "use auth_method=device_code"),
    ("enrol.user@contoso.onmicrosoft.com", 50079, "have the user enrol in a browser"),
    ("locked.user@contoso.onmicrosoft.com", 50053, "wait for the lockout to end"),
    ("disabled.user@contoso.onmicrosoft.com", 50057, "ask an administrator to enable the account"),
])
def test_refusals_name_the_code_and_the_fix(service, options, ids, upn, code, fix):
    password = ids.USERS[upn][0]
    options.update(username=upn, password=password)
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("graph")
    assert exc.value.aadsts == code
    assert "AADSTS%d" % code in exc.value.msg and fix in exc.value.msg
    assert password not in exc.value.msg and password not in str(exc.value.to_result())


def test_mfa_message_says_the_flow_cannot_pass_mfa(service, options, ids):
    upn = "mfa.user@contoso.onmicrosoft.com"
    options.update(username=upn, password=ids.USERS[upn][0])
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("graph")
    assert "which auth_method=username_password cannot pass" in exc.value.msg
    assert "auth_method=refresh_token" in exc.value.msg


def test_missing_consent_is_65001_with_the_setup_module(service, options, ids):
    options["client_id"] = ids.NOCONSENT_CLIENT_ID
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("graph")
    assert exc.value.aadsts == 65001
    assert "m365.defender.mtp_aad_app_setup" in exc.value.msg and "consent" in exc.value.hint


def test_us_government_cloud(service, options, ids):
    options["cloud"] = "gcc_high"
    token = make(options).get_token("graph")
    assert token.claims()["aud"] == "https://graph.microsoft.us"
    assert token.scope == "https://graph.microsoft.us/.default"


def test_the_cache_file_keeps_no_post_entries_of_msal(service, options, cache_dir):
    from ansible_collections.m365.defender.plugins.module_utils._token_cache import _load_http_cache

    make(options).get_token("graph")
    options["password"] = "Wrong-Pa55w0rd-ForTests"  # MSAL remembers the refused POST for 60 s, in memory
    with pytest.raises(MtpAuthError):
        make(options).get_token("graph")
    import json

    for name in os.listdir(cache_dir):
        if name.endswith(".json"):
            with open(os.path.join(cache_dir, name), "r", encoding="utf-8") as handle:
                http_cache = _load_http_cache(json.load(handle)["http_cache"])
            keys = [k for k in http_cache if k != "_index_"]
            assert keys and all(k.startswith("GET ") for k in keys)


@pytest.mark.parametrize("url, authority_host, expected", [
    ("https://127.0.0.1/common/userrealm/a@b.example?api-version=1.0", "https://127.0.0.1:8443",
     "https://127.0.0.1:8443/common/userrealm/a@b.example?api-version=1.0"),
    ("https://login.microsoftonline.com/common/userrealm/a@b.example?api-version=1.0",
     "https://login.microsoftonline.com", "https://login.microsoftonline.com/common/userrealm/a@b.example?api-version=1.0"),
    ("https://127.0.0.1/t/v2.0/.well-known/openid-configuration", "https://127.0.0.1:8443",
     "https://127.0.0.1/t/v2.0/.well-known/openid-configuration"),
    ("https://other.example/common/userrealm/a@b.example", "https://127.0.0.1:8443",
     "https://other.example/common/userrealm/a@b.example"),
])
def test_user_realm_url_keeps_the_port_of_authority_host(url, authority_host, expected):
    from ansible_collections.m365.defender.plugins.module_utils._session import user_realm_url

    assert user_realm_url(url, authority_host) == expected
