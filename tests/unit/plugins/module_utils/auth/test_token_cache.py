# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The persisted token cache: file modes, atomic replacement, http_cache reuse and the cross-process lock.

The process tests start real Python processes that run the collection's authenticator against the local
token service and count what reaches it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter, token_cache_dir
from ansible_collections.m365.defender.plugins.module_utils._token_cache import TokenCacheStore, cache_file_name

CHILD = r"""
import hashlib, json, sys
from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter
options = json.loads(sys.argv[1])
token = MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
print(json.dumps({"sha": hashlib.sha256(token.token.encode()).hexdigest(), "source": token.source}))
"""


@pytest.fixture
def options(base_options, ids):
    opts = dict(base_options)
    opts.update(auth_method="client_secret", client_id=ids.CLIENT_ID, client_secret=ids.CLIENT_SECRET)
    return opts


def _child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def run_children(options, count, child=CHILD):
    procs = [subprocess.Popen([sys.executable, "-c", child, json.dumps(options)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=_child_env()) for dummy in range(count)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


CHILD_FAILS = r"""
import json, sys
from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter
try:
    MtpAuthenticator(MtpOptionAdapter.from_dict(json.loads(sys.argv[1]))).get_token("mtp")
    print(json.dumps({"aadsts": None}))
except MtpAuthError as exc:
    print(json.dumps({"aadsts": exc.aadsts, "msg": exc.msg}))
"""

CHILD_MODULES = r"""
import json, sys
from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter
token = MtpAuthenticator(MtpOptionAdapter.from_dict(json.loads(sys.argv[1]))).get_token("mtp")
print(json.dumps({"source": token.source, "loaded": sorted(m for m in sys.modules
                                                          if m.split(".")[0] in ("msal", "msal_extensions"))}))
"""


def cache_files(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".json"))


def test_cache_file_and_directory_modes(service, options, cache_dir):
    MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    files = cache_files(cache_dir)
    assert len(files) == 1
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.dirname(cache_dir)).st_mode) == 0o700  # parents it created
    assert stat.S_IMODE(os.stat(os.path.join(cache_dir, files[0])).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(cache_dir, ".credential-key")).st_mode) == 0o600
    # no temporary file or lock left behind: the cache file and the fingerprint key only
    assert sorted(os.listdir(cache_dir)) == [".credential-key"] + files


def test_cache_is_keyed_by_cloud_tenant_client_authority_and_credential(service, options, cache_dir, ids):
    MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    with open(os.path.join(cache_dir, ".credential-key")) as handle:
        key = bytes.fromhex(handle.read())
    partition = "s" + hmac.new(key, ids.CLIENT_SECRET.encode(), hashlib.sha256).hexdigest()[:24]
    expected = cache_file_name("commercial", ids.TENANT_ID, ids.CLIENT_ID, service.base_url, partition)
    assert cache_files(cache_dir) == [expected]
    assert ids.TENANT_ID in expected and ids.CLIENT_ID in expected and expected.startswith("commercial-")
    assert expected.endswith("-%s.json" % partition) and ids.CLIENT_SECRET not in expected
    other = cache_file_name("commercial", ids.TENANT_ID, ids.CLIENT_ID, "https://login.microsoftonline.com")
    assert other != expected


def test_cache_file_holds_no_secret(service, options, cache_dir, ids):
    MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    with open(os.path.join(cache_dir, cache_files(cache_dir)[0])) as handle:
        assert ids.CLIENT_SECRET not in handle.read()


def test_save_replaces_the_file_atomically(service, options, cache_dir):
    auth = MtpAuthenticator(MtpOptionAdapter.from_dict(options))
    auth.get_token("mtp")
    path = os.path.join(cache_dir, cache_files(cache_dir)[0])
    inode = os.stat(path).st_ino
    auth.get_token("graph")
    assert os.stat(path).st_ino != inode  # a new file was renamed over the old one, never rewritten in place
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        data = json.load(handle)
    targets = " ".join(at["target"] for at in json.loads(data["token_cache"])["AccessToken"].values())
    assert "https://api.security.microsoft.com/.default" in targets and "https://graph.microsoft.com/.default" in targets


def test_a_second_authenticator_reuses_the_file(service, options):
    MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    service.service.reset_counts()
    token = MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    assert token.source == "cache"
    assert service.service.count() == 0


def test_corrupt_cache_file_is_replaced(service, options, cache_dir):
    MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    path = os.path.join(cache_dir, cache_files(cache_dir)[0])
    with open(path, "w") as handle:
        handle.write("{not json")
    service.service.reset_counts()
    MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    assert service.service.count("/oauth2/v2.0/token") == 1
    with open(path) as handle:
        json.load(handle)


def test_disabled_cache_writes_nothing(service, options, cache_dir):
    options["token_cache"] = False
    MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    assert not os.path.exists(cache_dir)
    assert service.service.count("/oauth2/v2.0/token") == 1


@pytest.mark.parametrize("value, expected", [
    (False, None), ("false", None), ("no", None), ("", None),
    ("/tmp/somewhere/cache", "/tmp/somewhere/cache"),
    (True, os.path.expanduser("~/.cache/m365.defender")),
    (None, os.path.expanduser("~/.cache/m365.defender")),
])
def test_token_cache_option(value, expected):
    assert token_cache_dir(MtpOptionAdapter.from_dict({"token_cache": value})) == expected


def test_token_cache_option_rejects_other_types():
    with pytest.raises(MtpConfigError) as exc:
        token_cache_dir(MtpOptionAdapter.from_dict({"token_cache": 12}))
    assert exc.value.option == "token_cache"


def test_http_cache_rejects_foreign_pickles(tmp_path):
    import base64
    import pickle

    store = TokenCacheStore(str(tmp_path), "commercial", "t", "c", "https://example")
    os.makedirs(str(tmp_path), exist_ok=True)
    evil = base64.b64encode(pickle.dumps(os.system)).decode()  # a callable reference: must not load
    with open(store.path, "w") as handle:
        json.dump({"version": 1, "token_cache": "{}", "http_cache": evil}, handle)
    store.load()
    assert store.http_cache == {}


def test_new_process_makes_no_request(service, options):
    first = run_children(options, 1)
    service.service.reset_counts()
    second = run_children(options, 1)
    assert service.service.count() == 0  # neither discovery nor token: both came from the persisted caches
    assert second[0]["sha"] == first[0]["sha"]
    assert second[0]["source"] == "cache"


def test_ten_processes_starting_together_send_one_token_request(service, options):
    results = run_children(options, 10)
    assert service.service.count("/oauth2/v2.0/token") == 1
    assert service.service.count("/.well-known/openid-configuration") == 1
    assert len(set(r["sha"] for r in results)) == 1
    assert sorted(r["source"] for r in results) == ["cache"] * 9 + ["identity_provider"]


def test_unwritable_cache_directory_names_the_option(service, options, tmp_path):
    blocker = tmp_path / "file"  # a directory cannot be created under a regular file, even by root
    blocker.write_text("")
    blocker.chmod(0o640)
    options["token_cache"] = str(blocker / "cache")
    with pytest.raises(MtpConfigError) as exc:
        MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    assert exc.value.option == "token_cache"
    assert stat.S_IMODE(os.stat(str(blocker)).st_mode) == 0o640  # an existing path is never chmod-ed


def test_a_wrong_secret_never_gets_the_cached_token(service, options, ids):
    MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    service.service.reset_counts()
    wrong = dict(options, client_secret="not-the-" + ids.CLIENT_SECRET)
    for dummy in range(2):  # every time, not only the first
        with pytest.raises(MtpAuthError) as exc:
            MtpAuthenticator(MtpOptionAdapter.from_dict(wrong)).get_token("mtp")
        assert "AADSTS7000215" in exc.value.msg and wrong["client_secret"] not in exc.value.msg
    assert service.service.count("/oauth2/v2.0/token") == 2
    token = MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    assert token.source == "cache"  # the right secret still finds its token
    assert service.service.count("/oauth2/v2.0/token") == 2


def test_a_wrong_secret_in_a_new_process_asks_entra_id(service, options, ids):
    run_children(options, 1)
    service.service.reset_counts()
    wrong = dict(options, client_secret="removed-" + ids.CLIENT_SECRET)
    results = run_children(wrong, 2, child=CHILD_FAILS)
    assert [r["aadsts"] for r in results] == [7000215, 7000215]
    assert service.service.count("/oauth2/v2.0/token") == 2


def test_a_warm_process_does_not_import_msal(service, options):
    first = run_children(options, 1, child=CHILD_MODULES)
    assert first[0]["source"] == "identity_provider" and "msal" in first[0]["loaded"]
    service.service.reset_counts()
    warm = run_children(options, 1, child=CHILD_MODULES)
    assert warm[0] == {"source": "cache", "loaded": []}
    assert service.service.count() == 0


def test_peek_skips_tokens_close_to_expiry(service, options, cache_dir, ids):
    token = MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    store = TokenCacheStore(cache_dir, "commercial", ids.TENANT_ID, ids.CLIENT_ID, service.base_url,
                            credential=("secret", ids.CLIENT_SECRET))
    scope = "https://api.security.microsoft.com/.default"
    assert store.peek_access_token(scope, ids.CLIENT_ID, ids.TENANT_ID)[0] == token.token
    assert store.peek_access_token(scope, ids.CLIENT_ID, ids.TENANT_ID, now=token.expires_on - 299) is None
    assert store.peek_access_token("https://graph.microsoft.com/.default", ids.CLIENT_ID, ids.TENANT_ID) is None
    other = TokenCacheStore(cache_dir, "commercial", ids.TENANT_ID, ids.CLIENT_ID, service.base_url,
                            credential=("secret", "another secret"))
    assert other.path != store.path and other.peek_access_token(scope, ids.CLIENT_ID, ids.TENANT_ID) is None


def test_damaged_key_file_names_the_option(service, options, cache_dir):
    os.makedirs(cache_dir)
    with open(os.path.join(cache_dir, ".credential-key"), "w") as handle:
        handle.write("short")
    with pytest.raises(MtpConfigError) as exc:
        MtpAuthenticator(MtpOptionAdapter.from_dict(options)).get_token("mtp")
    assert exc.value.option == "token_cache" and ".credential-key" in exc.value.msg
