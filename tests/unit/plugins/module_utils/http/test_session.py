# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_session: the one session builder (API calls and MSAL alike) and the TLS hint."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.plugins.module_utils import _session
from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter

OPTIONS = {"auth_method": "client_secret", "tenant_id": "contoso.onmicrosoft.com", "client_id": "c",
           "client_secret": "s", "token_cache": False}


def test_auth_methods_build_the_same_session_as_the_api_client(tmp_path):
    ca = str(tmp_path / "ca.pem")
    adapter = MtpOptionAdapter.from_dict(dict(OPTIONS, ca_path=ca))
    session = MtpAuthenticator(adapter).method.session
    assert type(session) is _session._MtpSession  # pylint: disable=unidiomatic-typecheck
    assert session.trust_env is False and session.verify == ca and session.env_ca_bundle is False
    assert session.headers["User-Agent"].startswith("m365.defender/")


def test_validate_certs_false_and_the_system_trust():
    off = _session.build_session(MtpOptionAdapter.from_dict(dict(OPTIONS, validate_certs=False)))
    assert off.verify is False and off.trust_env is False
    system = _session.build_session(MtpOptionAdapter.from_dict(dict(OPTIONS)))
    assert system.verify is True and system.env_ca_bundle is True


def test_tls_hint_names_the_ca_path_when_set():
    assert _session.tls_hint(MtpOptionAdapter.from_dict({"ca_path": "/etc/ca.pem"})).startswith(
        "ca_path /etc/ca.pem does not hold the CA that signed this server's certificate")
    assert _session.tls_hint(MtpOptionAdapter.from_dict({})).startswith("set ca_path to the CA")
