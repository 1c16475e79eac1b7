# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method=refresh_token: a refresh token brought from a vault is redeemed with real MSAL against the local
token service, which rotates refresh tokens (a redeemed one is gone). The successor lands only in the 0600
token cache, partitioned by a keyed hash of the original, and later runs use it instead of the original."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter


def make(options):
    return MtpAuthenticator(MtpOptionAdapter.from_dict(options))


@pytest.fixture
def vault_token(service, ids):
    """A refresh token as the user keeps it in a vault."""
    return service.service.grant_refresh_token(ids.PUBLIC_CLIENT_ID)


@pytest.fixture
def options(base_options, ids, vault_token):
    opts = dict(base_options)
    opts.update(auth_method="refresh_token", client_id=ids.PUBLIC_CLIENT_ID, refresh_token=vault_token)
    return opts


def cache_files(cache_dir):
    return sorted(os.path.join(cache_dir, n) for n in os.listdir(cache_dir) if n.endswith(".json"))


def read_all(paths):
    text = ""
    for path in paths:
        with open(path, "r", encoding="utf-8") as handle:
            text += handle.read()
    return text


def test_validate_names_refresh_token_and_ids():
    with pytest.raises(MtpConfigError) as exc:
        make({"auth_method": "refresh_token"}).validate()
    for name in ("tenant_id", "client_id", "refresh_token"):
        assert "%s is required" % name in exc.value.msg


def test_empty_refresh_token_is_missing(ids, base_options):
    base_options.update(auth_method="refresh_token", client_id=ids.PUBLIC_CLIENT_ID, refresh_token="   ")
    with pytest.raises(MtpConfigError) as exc:
        make(base_options).validate()
    assert exc.value.option == "refresh_token"
    assert exc.value.msg == "auth_method=refresh_token: refresh_token is required"


def test_a_pasted_line_with_spaces_is_refused_without_echoing_it(ids, base_options):
    pasted = "Bearer 0.ARwA-not-a-real-token-value"
    base_options.update(auth_method="refresh_token", client_id=ids.PUBLIC_CLIENT_ID, refresh_token=pasted)
    with pytest.raises(MtpConfigError) as exc:
        make(base_options).validate()
    assert exc.value.option == "refresh_token"
    assert "does not look like a refresh token (36 characters, with white space)" in exc.value.msg
    assert "0.ARwA" not in exc.value.msg


def test_token_cache_false_is_refused(ids, base_options):
    base_options.update(auth_method="refresh_token", client_id=ids.PUBLIC_CLIENT_ID,
                        refresh_token="0.ARwA-a-refresh-token-value", token_cache=False)
    with pytest.raises(MtpConfigError) as exc:
        make(base_options).validate()
    assert exc.value.option == "token_cache"
    assert "rotated refresh token is kept only in the token cache" in exc.value.msg


def test_rotated_token_lands_only_in_the_cache_and_is_used_next(service, options, ids, vault_token, cache_dir):
    token = make(options).get_token("mtp")
    assert token.claims()["oid"] == ids.USER_OID
    assert service.service.count("/oauth2/v2.0/token", "refresh_token") == 1
    rotated = service.service.issued_refresh_tokens[-1]
    assert rotated != vault_token
    files = cache_files(cache_dir)
    assert len(files) == 1 and os.path.basename(files[0]).split("-")[-1].startswith("r")
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    text = read_all(files)
    assert rotated in text and vault_token not in text
    assert options["refresh_token"] == vault_token  # never written back to the variable
    assert rotated not in repr(token)

    # a later run with the same vault value: the cached access token, no request
    service.service.reset_counts()
    assert make(options).get_token("mtp").token == token.token
    assert service.service.count() == 0

    # another API: the rotated refresh token from the cache (the original was redeemed and is gone)
    graph = make(options).get_token("graph")
    assert graph.claims()["aud"] == "https://graph.microsoft.com"
    assert service.service.count("/oauth2/v2.0/token", "refresh_token") == 1
    newest = service.service.issued_refresh_tokens[-1]
    assert newest in read_all(cache_files(cache_dir)) and rotated not in read_all(cache_files(cache_dir))


def test_a_new_vault_value_gets_its_own_partition(service, options, ids, cache_dir):
    make(options).get_token("graph")
    options["refresh_token"] = service.service.grant_refresh_token(ids.PUBLIC_CLIENT_ID, upn=ids.SECOND_UPN)
    token = make(options).get_token("graph")
    assert token.claims()["oid"] == ids.SECOND_OID
    assert len(cache_files(cache_dir)) == 2


def test_redeemed_token_whose_successor_was_revoked(service, options, ids):
    make(options).get_token("graph")
    service.service.refresh_tokens.clear()  # an administrator revoked the user's sessions
    service.service.token_lifetime = 1
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("graph", force_refresh=True)
    assert exc.value.aadsts == 70000
    assert "was redeemed before" in exc.value.msg and "bring a new refresh token" in exc.value.msg
    assert options["refresh_token"] not in exc.value.msg


def test_unknown_refresh_token(service, options):
    options["refresh_token"] = "0.ARwA-never-issued-refresh-token"
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("graph")
    assert exc.value.aadsts == 70000
    assert "Entra ID refused to redeem refresh_token" in exc.value.msg
    assert "never-issued" not in exc.value.msg


def test_username_must_match_the_token_owner(service, options, ids):
    options["username"] = ids.SECOND_UPN
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("graph")
    assert exc.value.error == "wrong_account"
    assert "the token is for %s, but username is %s" % (ids.USER_UPN, ids.SECOND_UPN) in exc.value.msg
    # the next run finds the cached account and says the same, without redeeming anything
    service.service.reset_counts()
    with pytest.raises(MtpAuthError) as exc:
        make(options).get_token("graph")
    assert "refresh_token belongs to %s, not to username=%s" % (ids.USER_UPN, ids.SECOND_UPN) in exc.value.msg
    assert service.service.count("/oauth2/v2.0/token") == 0


def test_us_government_cloud(service, options):
    options["cloud"] = "gcc_high"
    assert make(options).get_token("mtp").claims()["aud"] == "https://api-gov.security.microsoft.us"
