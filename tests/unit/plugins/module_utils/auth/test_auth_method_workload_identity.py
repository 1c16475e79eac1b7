# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method=workload_identity: the federated token file is the client assertion, re-read when needed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import jwt
import pytest

from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter


def federated_token(ids, subject=None):
    now = int(time.time())
    return jwt.encode({"iss": ids.FED_ISSUER, "sub": subject or ids.FED_SUBJECT, "aud": "api://AzureADTokenExchange",
                       "iat": now, "nbf": now, "exp": now + 600}, ids.FED_KEY, algorithm="HS256")


@pytest.fixture
def options(base_options, ids, tmp_path):
    path = tmp_path / "federated-token"
    path.write_text(federated_token(ids))
    opts = dict(base_options)
    opts.update(auth_method="workload_identity", client_id=ids.FED_CLIENT_ID, federated_token_file=str(path))
    return opts


def test_validate_names_missing_options():
    with pytest.raises(MtpConfigError) as exc:
        MtpAuthenticator(MtpOptionAdapter.from_dict({"auth_method": "workload_identity"})).validate()
    for name in ("tenant_id", "client_id", "federated_token_file"):
        assert "%s is required" % name in exc.value.msg


def test_validate_unreadable_file(options, tmp_path):
    options["federated_token_file"] = str(tmp_path / "missing")
    with pytest.raises(MtpConfigError) as exc:
        MtpAuthenticator(MtpOptionAdapter.from_dict(options)).validate()
    assert exc.value.option == "federated_token_file"


def test_token_from_federated_assertion(service, options, ids):
    token = MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("graph")
    assert token.claims()["appid"] == ids.FED_CLIENT_ID


def test_file_is_read_again_for_each_request(service, options, ids):
    auth = MtpAuthenticator(MtpOptionAdapter.from_dict(options))
    auth.get_token("mtp")
    # the platform rotates the file: a wrong subject now must be what the next request sends
    with open(options["federated_token_file"], "w") as handle:
        handle.write(federated_token(ids, subject="repo:someone/else"))
    with pytest.raises(MtpAuthError) as exc:
        auth.get_token("mtp", force_refresh=True)
    assert exc.value.aadsts == 700027
