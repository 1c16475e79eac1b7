# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method=access_token: a token the user brings; JWT shape, expiry and audience checks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import jwt
import pytest

from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter


def bearer(aud="https://api.security.microsoft.com", exp_in=1800):
    claims = {"aud": aud, "tid": "t", "roles": ["AdvancedHunting.Read.All"]}
    if exp_in is not None:
        claims["exp"] = int(time.time()) + exp_in
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


def make(token):
    return MtpAuthenticator(MtpOptionAdapter.from_dict({"auth_method": "access_token", "access_token": token}))


def test_missing_token_is_named():
    with pytest.raises(MtpConfigError) as exc:
        make(None).validate()
    assert exc.value.option == "access_token"


def test_not_a_jwt_is_refused_without_echoing_it():
    with pytest.raises(MtpConfigError) as exc:
        make("opaque-bearer-value-xyz").validate()
    assert exc.value.option == "access_token"
    assert "opaque-bearer-value-xyz" not in exc.value.msg


def test_valid_token_is_used_as_is_and_exp_reported():
    token = bearer()
    got = make(token).get_token("mtp")
    assert got.token == token
    assert got.expires_on == jwt.decode(token, options={"verify_signature": False})["exp"]
    assert got.claims()["roles"] == ["AdvancedHunting.Read.All"]
    assert token not in repr(got)


def test_expired_token_fails_clearly():
    with pytest.raises(MtpAuthError) as exc:
        make(bearer(exp_in=-120)).get_token("mtp")
    assert exc.value.error == "expired_token"
    assert "cannot be refreshed" in exc.value.msg


def test_wrong_audience_is_reported():
    with pytest.raises(MtpAuthError) as exc:
        make(bearer(aud="https://graph.microsoft.com")).get_token("mtp")
    assert exc.value.error == "invalid_audience"
    assert "https://api.security.microsoft.com/.default" in exc.value.hint


def test_refresh_is_impossible():
    with pytest.raises(MtpAuthError) as exc:
        make(bearer()).get_token("mtp", force_refresh=True)
    assert "cannot be refreshed" in exc.value.msg
