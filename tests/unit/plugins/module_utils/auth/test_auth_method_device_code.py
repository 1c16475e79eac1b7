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
    """The display callback: records what the user is shown and approves the code like the user would."""

    def __init__(self, service):
        self.service = service
        self.messages = []

    def __call__(self, message):
        self.messages.append(message)
        code = re.search(r"enter the code (\S+) ", message).group(1)
        assert self.service.approve(code)


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
