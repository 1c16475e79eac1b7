# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The auth layer against the project's real emulator (``mtp_emulator.server.EmulatorServer``): client secret,
device code, managed identity, and the one-token-request guarantee across processes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import sys

import pytest

from ansible_collections.m365.defender.plugins.module_utils._authenticator import (
    MtpAuthenticator,
    ensure_device_code_login,
)
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter


CHILD = r"""
import json, sys
from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter
token = MtpAuthenticator(MtpOptionAdapter.from_dict(json.loads(sys.argv[1]))).get_token("mtp")
print(json.dumps({"source": token.source, "aud": token.claims()["aud"]}))
"""


@pytest.fixture
def emu(emulator):
    emulator.state.stats.reset()
    return emulator


@pytest.fixture
def tenant(emulator):
    return emulator.endpoints["tenants"][0]


def options(emu, cache_dir, **extra):
    opts = {"tenant_id": emu.endpoints["tenants"][0]["id"], "authority_host": emu.endpoints["authority_host"],
            "ca_path": emu.endpoints["ca_path"], "token_cache": cache_dir, "timeout": 30}
    opts.update(extra)
    return opts


def token_requests(emu):
    return emu.state.stats.snapshot()["token_requests"]


def discovery_requests(emu):
    return sum(sum(statuses.values()) for key, statuses in emu.state.stats.snapshot()["requests"].items()
               if "openid-configuration" in key)


def test_client_secret(emu, tenant, cache_dir):
    app = tenant["hunting_app"] or tenant["admin_app"]
    opts = options(emu, cache_dir, client_id=app["client_id"], client_secret=app["client_secret"])
    auth = MtpAuthenticator(MtpOptionAdapter.from_dict(opts))
    mtp = auth.get_token("mtp")
    graph = auth.get_token("graph")
    assert mtp.claims()["aud"] == "https://api.security.microsoft.com"
    assert graph.claims()["aud"].rstrip("/") == "https://graph.microsoft.com"
    assert mtp.claims()["tid"] == tenant["id"] and mtp.claims()["appid"] == app["client_id"]
    assert token_requests(emu).get("client_credentials") == 2


def test_wrong_secret(emu, tenant, cache_dir):
    app = tenant["admin_app"]
    opts = options(emu, cache_dir, client_id=app["client_id"], client_secret="not-the-secret-0000")
    with pytest.raises(MtpAuthError) as exc:
        MtpAuthenticator(MtpOptionAdapter.from_dict(opts)).get_token("mtp")
    assert exc.value.aadsts == 7000215
    assert app["client_id"] in exc.value.msg and "not-the-secret-0000" not in exc.value.msg


def test_ten_processes_one_token_request(emu, tenant, cache_dir):
    app = tenant["admin_app"]
    opts = options(emu, cache_dir, client_id=app["client_id"], client_secret=app["client_secret"])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(opts)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env) for dummy in range(10)]
    sources = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        sources.append(json.loads(out.decode().strip().splitlines()[-1])["source"])
    assert token_requests(emu).get("client_credentials") == 1
    assert discovery_requests(emu) == 1
    assert sorted(sources) == ["cache"] * 9 + ["identity_provider"]


def test_device_code_then_silent(emu, tenant, cache_dir):
    upn = tenant["users"][0]["upn"]
    opts = options(emu, cache_dir, auth_method="device_code", client_id=tenant["public_client"]["client_id"])
    shown = []

    def display(message):
        shown.append(message)
        code = re.search(r"enter the code (\S+)", message).group(1)
        resp = _control(emu, "devicecode/approve", {"user_code": code, "upn": upn})
        assert resp["status"] == "approved"

    token = ensure_device_code_login(MtpOptionAdapter.from_dict(opts), display, resource="mtp")
    assert len(shown) == 1
    assert token.claims()["upn"].lower() == upn.lower()
    before = dict(token_requests(emu))
    later = MtpAuthenticator(MtpOptionAdapter.from_dict(opts)).get_token("mtp")
    assert later.source == "cache"
    assert token_requests(emu) == before


def _control(emu, path, body):
    import requests

    session = requests.Session()
    session.verify = emu.endpoints["ca_path"]
    session.trust_env = False
    resp = session.post(emu.endpoints["control_url"] + "/" + path, json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_managed_identity(emu, monkeypatch):
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
                 "AZURE_CLIENT_ID", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emu.endpoints["imds_url"])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    token = MtpAuthenticator(MtpOptionAdapter.from_dict({"auth_method": "managed_identity"})).get_token("mtp")
    assert token.claims()["aud"] == "https://api.security.microsoft.com"
    assert token_requests(emu).get("managed_identity") == 1
