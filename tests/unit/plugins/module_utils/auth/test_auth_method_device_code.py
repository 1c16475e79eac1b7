# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method=device_code: the flow's message reaches the display callback; the refresh token is cached so
later authenticators (other tasks, other runs) get tokens silently."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

import pytest

from ansible_collections.m365.defender.plugins.module_utils._authenticator import (
    MtpAuthenticator,
    ensure_device_code_login,
)
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter


@pytest.fixture
def options(base_options, ids):
    opts = dict(base_options)
    opts.update(auth_method="device_code", client_id=ids.PUBLIC_CLIENT_ID)
    return opts


class UserAtBrowser(object):
    """The display callback: records what the user is shown and approves the code like the user would
    (as ``upn``; never, when ``upn`` is None: nobody is at the browser)."""

    def __init__(self, service, upn="analyst@contoso.onmicrosoft.com"):
        self.service = service
        self.upn = upn
        self.messages = []

    def __call__(self, message):
        self.messages.append(message)
        code = re.search(r"enter the code (\S+) ", message).group(1)
        if self.upn:
            assert self.service.approve(code, upn=self.upn)


def test_validate_names_missing_options():
    with pytest.raises(MtpConfigError) as exc:
        MtpAuthenticator(MtpOptionAdapter.from_dict({"auth_method": "device_code"})).validate()
    assert "tenant_id is required" in exc.value.msg and "client_id is required" in exc.value.msg


def test_module_without_display_and_without_cache_fails_clearly(service, options, ids):
    with pytest.raises(MtpAuthError) as exc:
        MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    assert exc.value.error == "interaction_required"
    assert ids.TENANT_ID in exc.value.msg and ids.PUBLIC_CLIENT_ID in exc.value.msg
    assert service.service.count("/devicecode") == 0


def test_login_shows_message_then_later_tasks_are_silent(service, options, ids, cache_dir):
    user = UserAtBrowser(service.service)
    token = ensure_device_code_login(MtpOptionAdapter.from_dict(options), user)
    assert len(user.messages) == 1 and "devicelogin" in user.messages[0]
    assert token.claims()["scp"] == "AdvancedHunting.Read"
    assert token.claims()["oid"] == ids.USER_OID
    assert service.service.count("/devicecode") == 1
    assert os.listdir(cache_dir)

    # a later task (new authenticator, no display): silent, through the cached refresh token
    service.service.reset_counts()
    module_auth = MtpAuthenticator(MtpOptionAdapter.from_dict(options))
    mtp = module_auth.get_token("mtp")
    assert mtp.claims()["aud"] == "https://api.security.microsoft.com"
    assert service.service.count("/devicecode") == 0
    assert service.service.count("/oauth2/v2.0/token", "refresh_token") == 1

    # logging in again finds the cached account and shows nothing
    again = UserAtBrowser(service.service)
    ensure_device_code_login(MtpOptionAdapter.from_dict(options), again)
    assert again.messages == []
    assert service.service.count("/devicecode") == 0


def test_username_selects_the_cached_account(service, options, ids):
    ensure_device_code_login(MtpOptionAdapter.from_dict(options), UserAtBrowser(service.service))
    options["username"] = ids.USER_UPN
    assert MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("graph").claims()["oid"] == ids.USER_OID
    options["username"] = "someone.else@contoso.onmicrosoft.com"
    with pytest.raises(MtpAuthError) as exc:
        MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("graph")
    assert "someone.else@contoso.onmicrosoft.com" in exc.value.msg


def test_unknown_public_client(service, options):
    options["client_id"] = "cccccccc-0000-0000-0000-00000000000c"
    with pytest.raises(MtpAuthError) as exc:
        ensure_device_code_login(MtpOptionAdapter.from_dict(options), UserAtBrowser(service.service))
    assert exc.value.aadsts == 700016


def test_token_cache_false_is_refused_before_the_prompt(service, options, ids):
    options["token_cache"] = False
    user = UserAtBrowser(service.service)
    with pytest.raises(MtpConfigError) as exc:
        ensure_device_code_login(MtpOptionAdapter.from_dict(options), user)
    assert exc.value.option == "token_cache"
    assert exc.value.msg.startswith("auth_method=device_code: token_cache must be a directory")
    assert user.messages == [] and service.service.count() == 0


@pytest.mark.parametrize("value", [0, -5, "soon", True])
def test_bad_device_code_timeout_is_refused_before_the_prompt(service, options, value):
    options["device_code_timeout"] = value
    user = UserAtBrowser(service.service)
    with pytest.raises(MtpConfigError) as exc:
        ensure_device_code_login(MtpOptionAdapter.from_dict(options), user)
    assert exc.value.option == "device_code_timeout"
    assert "device_code_timeout must be a whole number of seconds greater than 0, got %r" % (value,) in exc.value.msg
    assert user.messages == [] and service.service.count() == 0


def test_the_wait_ends_after_device_code_timeout(service, options):
    options["device_code_timeout"] = 2
    nobody = UserAtBrowser(service.service, upn=None)
    started = time.time()
    with pytest.raises(MtpAuthError) as exc:
        ensure_device_code_login(MtpOptionAdapter.from_dict(options), nobody)
    assert time.time() - started < 10
    assert len(nobody.messages) == 1  # the operator was shown the code
    assert exc.value.error == "device_code_timeout"
    assert "nobody completed the sign-in" in exc.value.msg and "device_code_timeout=2 seconds passed" in exc.value.msg
    assert "raise device_code_timeout" in exc.value.msg


def test_username_picks_one_of_two_cached_accounts(service, options, ids):
    first = dict(options, username=ids.USER_UPN)
    second = dict(options, username=ids.SECOND_UPN)
    ensure_device_code_login(MtpOptionAdapter.from_dict(first), UserAtBrowser(service.service, ids.USER_UPN))
    ensure_device_code_login(MtpOptionAdapter.from_dict(second), UserAtBrowser(service.service, ids.SECOND_UPN))
    service.service.reset_counts()
    assert MtpAuthenticator(MtpOptionAdapter.from_dict(first)).get_token("graph").claims()["oid"] == ids.USER_OID
    assert MtpAuthenticator(MtpOptionAdapter.from_dict(second)).get_token("graph").claims()["oid"] == ids.SECOND_OID
    assert service.service.count("/oauth2/v2.0/token") == 0  # both from the cache
    with pytest.raises(MtpAuthError) as exc:
        MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("graph")
    assert exc.value.error == "account_ambiguous"
    assert "holds 2 signed-in accounts" in exc.value.msg and "set username" in exc.value.msg
    assert ids.USER_UPN in exc.value.msg and ids.SECOND_UPN in exc.value.msg


def test_signing_in_as_another_user_than_username_fails(service, options, ids):
    options["username"] = ids.USER_UPN
    with pytest.raises(MtpAuthError) as exc:
        ensure_device_code_login(MtpOptionAdapter.from_dict(options), UserAtBrowser(service.service, ids.SECOND_UPN))
    assert exc.value.error == "wrong_account"
    assert "the token is for %s, but username is %s" % (ids.SECOND_UPN, ids.USER_UPN) in exc.value.msg


def test_us_government_cloud(service, options):
    options["cloud"] = "gcc_high"
    token = ensure_device_code_login(MtpOptionAdapter.from_dict(options), UserAtBrowser(service.service))
    assert token.claims()["aud"] == "https://graph.microsoft.us"
