# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method=azure_cli through azure-identity's AzureCliCredential, with a stand-in ``az`` on PATH."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys
import time

import jwt
import pytest

from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter

FAKE_AZ = r'''#!%(python)s
import json, sys, time
with open(%(log)r, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
if %(fail)r:
    sys.stderr.write("ERROR: Please run 'az login' to setup account.\n")
    sys.exit(1)
args = sys.argv[1:]
resource = args[args.index("--resource") + 1]
now = int(time.time())
print(json.dumps({"accessToken": %(token)r, "expiresOn": time.strftime("%%Y-%%m-%%d %%H:%%M:%%S.000000",
                  time.localtime(now + 3000)), "expires_on": now + 3000, "subscription": "sub",
                  "tenant": "t", "tokenType": "Bearer"}))
'''


@pytest.fixture
def fake_az(tmp_path, monkeypatch):
    def install(fail=False):
        now = int(time.time())
        token = jwt.encode({"aud": "https://api.security.microsoft.com", "exp": now + 3000, "scp": "x"}, "k" * 32,
                           algorithm="HS256")
        bindir = tmp_path / "bin"
        bindir.mkdir(exist_ok=True)
        log = tmp_path / "az.log"
        script = bindir / "az"
        script.write_text(FAKE_AZ % {"python": sys.executable, "log": str(log), "fail": fail, "token": token})
        script.chmod(0o755)
        monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
        return log, token
    return install


def calls(log):
    with open(str(log)) as handle:
        return [json.loads(line) for line in handle]


def test_token_from_az(fake_az):
    log, token = fake_az()
    got = MtpAuthenticator(MtpOptionAdapter.from_dict({"auth_method": "azure_cli"})).get_token("mtp")
    assert got.token == token
    assert got.expires_on > time.time() + 2900
    args = calls(log)[-1]
    assert args[:2] == ["account", "get-access-token"]
    assert args[args.index("--resource") + 1] == "https://api.security.microsoft.com"
    assert "--tenant" not in args


def test_tenant_is_passed(fake_az, ids):
    log = fake_az()[0]
    MtpAuthenticator(MtpOptionAdapter.from_dict({"auth_method": "azure_cli", "tenant_id": ids.TENANT_ID})).get_token(
        "graph")
    args = calls(log)[-1]
    assert args[args.index("--tenant") + 1] == ids.TENANT_ID
    assert args[args.index("--resource") + 1] == "https://graph.microsoft.com"


def test_not_logged_in(fake_az):
    fake_az(fail=True)
    with pytest.raises(MtpAuthError) as exc:
        MtpAuthenticator(MtpOptionAdapter.from_dict({"auth_method": "azure_cli"})).get_token("mtp")
    assert exc.value.error == "azure_cli"
    assert "az login" in exc.value.msg + exc.value.hint
