# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mtp_hunting_query: offline input checks, then real HTTP against an in-process ``mtp_emulator``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import json
import os
import sys

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.m365.defender.plugins.modules import mtp_hunting_query

SECRET = "never-printed-secret-value-0001"


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            mtp_hunting_query.main()
    out = capsys.readouterr().out
    return json.loads(out)


OFFLINE = dict(tenant_id="6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f", client_id="3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
               client_secret=SECRET, authority_host="https://127.0.0.1:9", graph_url="https://127.0.0.1:9",
               api_url="https://127.0.0.1:9", token_cache=False, retries=0)


def offline_failure(capsys, **args):
    merged = dict(OFFLINE)
    merged.update(args)
    result = run_module(capsys, **merged)
    assert result.get("failed") is True, result
    assert SECRET not in json.dumps(result)
    return result


def test_query_and_query_file_are_exclusive(capsys, tmp_path):
    path = tmp_path / "q.kql"
    path.write_text("DeviceInfo")
    result = offline_failure(capsys, query="DeviceInfo", query_file=str(path))
    assert "mutually exclusive" in result["msg"] and "query_file" in result["msg"]


def test_one_of_query_or_file_required(capsys):
    result = offline_failure(capsys)
    assert "query" in result["msg"] and "query_file" in result["msg"]


def test_missing_query_file_is_named(capsys, tmp_path):
    result = offline_failure(capsys, query_file=str(tmp_path / "nope.kql"))
    assert "query_file" in result["msg"] and "nope.kql" in result["msg"] and result["option"] == "query_file"
    assert "Traceback" not in result["msg"]


def test_directory_as_query_file_is_named(capsys, tmp_path):
    result = offline_failure(capsys, query_file=str(tmp_path))
    assert result["option"] == "query_file" and "cannot be read" in result["msg"]


def test_non_utf8_query_file(capsys, tmp_path):
    path = tmp_path / "latin1.kql"
    path.write_bytes(b"DeviceInfo | where DeviceName == '\xe9'")
    result = offline_failure(capsys, query_file=str(path))
    assert "UTF-8" in result["msg"] and result["option"] == "query_file"


def test_bad_timespan_is_named(capsys):
    result = offline_failure(capsys, query="DeviceInfo", timespan="last week")
    assert result["option"] == "timespan" and "last week" in result["msg"]


def test_timespan_is_graph_only(capsys):
    result = offline_failure(capsys, query="DeviceInfo", api="mtp", timespan="P1D")
    assert result["option"] == "timespan" and "Graph" in result["msg"]


def test_unknown_parameter_type_is_named(capsys):
    result = offline_failure(capsys, query="DeviceInfo", parameters={"since": {"type": "moment", "value": "x"}})
    assert "parameters.since" in result["msg"] and "'moment'" in result["msg"]


def test_bad_parameter_name(capsys):
    result = offline_failure(capsys, query="DeviceInfo", parameters={"bad name": 1})
    assert "'bad name'" in result["msg"] and "identifier" in result["msg"]


def test_dest_in_missing_directory(capsys, tmp_path):
    result = offline_failure(capsys, query="DeviceInfo", dest=str(tmp_path / "no" / "out.json"))
    assert result["option"] == "dest" and "does not exist" in result["msg"]


def test_dest_without_known_extension(capsys, tmp_path):
    result = offline_failure(capsys, query="DeviceInfo", dest=str(tmp_path / "out.txt"))
    assert result["option"] == "format"


def test_bad_split_by(capsys):
    result = offline_failure(capsys, query="DeviceInfo", split_by="often")
    assert result["option"] == "split_by"


# ---- against the emulator --------------------------------------------------------------------------------------

@pytest.fixture
def online(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    ep = emulator.endpoints
    tenant = ep["tenants"][0]
    return dict(tenant_id=tenant["id"], client_id=tenant["hunting_app"]["client_id"],
                client_secret=tenant["hunting_app"]["client_secret"], authority_host=ep["authority_host"],
                graph_url=ep["graph_url"], api_url=ep["api_url"], ca_path=ep["ca_path"], token_cache=False)


def hunting_available(emulator):
    import requests
    response = requests.post(emulator.base_url + "/v1.0/security/runHuntingQuery", json={"Query": "print 1"},
                             verify=emulator.ca_path)
    return response.status_code != 404


def test_graph_query_returns_typed_rows(capsys, emulator, online):
    if not hunting_available(emulator):
        pytest.fail("the emulator has no Graph hunting route yet")
    result = run_module(capsys, query='print n = long(5), s = "a\\"b", d = dynamic({"k": [1]}), b = true', **online)
    assert result["changed"] is False and result["api"] == "graph", result
    assert result["results"] == [{"n": 5, "s": 'a"b', "d": {"k": [1]}, "b": True}]
    assert [c["name"] for c in result["schema"]] == ["n", "s", "d", "b"]
    assert result["truncated"] is False and result["row_count"] == 1


def test_parameters_reach_the_query_intact(capsys, emulator, online):
    value = '"; print x = 1 // |\n\\ é'
    result = run_module(capsys, query="print v = p, n = k", parameters={"p": value, "k": {"type": "int", "value": 3}},
                        **online)
    assert result["results"] == [{"v": value, "n": 3}], result


def test_mtp_query_has_stats(capsys, emulator, online):
    result = run_module(capsys, api="mtp", query="print x = 1", **online)
    assert result["api"] == "mtp" and isinstance(result["stats"], dict) and result["results"] == [{"x": 1}], result


def test_dest_formats_check_mode_and_idempotence(capsys, emulator, online, tmp_path):
    query = "range i from 1 to 3 step 1 | extend s = strcat('r', tostring(i))"
    for ext in ("json", "ndjson", "csv"):
        dest = str(tmp_path / ("out." + ext))
        checked = run_module(capsys, query=query, dest=dest, _ansible_check_mode=True, **online)
        assert checked["changed"] is True and not os.path.exists(dest), checked
        first = run_module(capsys, query=query, dest=dest, **online)
        assert first["changed"] is True and first["row_count"] == 3 and "results" not in first
        with io.open(dest, encoding="utf-8", newline="") as handle:
            text = handle.read()
        if ext == "json":
            assert [r["i"] for r in json.loads(text)] == [1, 2, 3]
        elif ext == "ndjson":
            assert [json.loads(line)["s"] for line in text.splitlines()] == ["r1", "r2", "r3"]
        else:
            assert list(csv.reader(io.StringIO(text)))[0] == ["i", "s"]
        again = run_module(capsys, query=query, dest=dest, **online)
        assert again["changed"] is False and again["sha256"] == first["sha256"]


def test_failed_run_leaves_existing_dest(capsys, emulator, online, tmp_path):
    dest = tmp_path / "keep.json"
    dest.write_text("precious")
    result = run_module(capsys, query="DeviceInfo | where", dest=str(dest), **online)
    assert result["failed"] is True and result["status"] == 400
    assert dest.read_text() == "precious"
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith(".keep.json.")]


from hypothesis import given, settings, strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def hunting_client(emulator):
    """The collection's real MtpClient (MSAL client credentials) on the emulator, quota lifted for many calls."""
    from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
    from ansible_collections.m365.defender.plugins.module_utils._clouds import resolve_endpoints
    from ansible_collections.m365.defender.plugins.module_utils._http import MtpClient, build_session
    from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter

    emulator.state.config.quota_scale = 1000.0
    ep = emulator.endpoints
    tenant = ep["tenants"][0]
    adapter = MtpOptionAdapter.from_dict(dict(
        auth_method="client_secret", tenant_id=tenant["id"], client_id=tenant["hunting_app"]["client_id"],
        client_secret=tenant["hunting_app"]["client_secret"], authority_host=ep["authority_host"],
        graph_url=ep["graph_url"], api_url=ep["api_url"], ca_path=ep["ca_path"], token_cache=False))
    session = build_session(adapter)
    endpoints = resolve_endpoints(adapter)
    yield MtpClient(adapter, authenticator=MtpAuthenticator(adapter, endpoints=endpoints, session=session),
                    session=session, endpoints=endpoints)
    emulator.state.config.quota_scale = 1.0


@settings(max_examples=40, deadline=None)
@given(value=st.text(max_size=40), api=st.sampled_from(["graph", "mtp"]))
def test_any_string_parameter_survives_the_service(hunting_client, value, api):
    from ansible_collections.m365.defender.plugins.module_utils._hunting import Hunt

    result = Hunt(api=api, query="print v = p, w = 1", parameters={"p": value}).run(hunting_client)
    assert result["results"] == [{"v": value, "w": 1}]


# ---- dest, split_by and the streamed export ----------------------------------------------------------------------

def test_dest_that_is_a_directory_is_named_before_any_call(capsys, tmp_path):
    # OFFLINE points at a closed port: reaching the token endpoint or the API would fail with another message
    result = offline_failure(capsys, query="DeviceInfo", dest=str(tmp_path))
    assert result["option"] == "dest" and "is a directory" in result["msg"] and str(tmp_path) in result["msg"]
    result = offline_failure(capsys, query="DeviceInfo", dest=str(tmp_path), format="csv")
    assert result["option"] == "dest" and "is a directory" in result["msg"]


def test_split_by_on_mtp_without_timestamp_names_split_by(capsys, emulator, online):
    result = run_module(capsys, api="mtp", query="print x = 1", split_by="2",
                        timespan="2024-01-01T00:00:00Z/2024-01-03T00:00:00Z", **online)
    assert result["failed"] is True and result["status"] == 400, result
    assert "split_by" in result["msg"] and "needs a Timestamp column" in result["msg"]


def test_streamed_and_whole_body_exports_are_identical(capsys, emulator, online, tmp_path, monkeypatch):
    query = ("range i from 1 to 2000 step 1 | extend Timestamp = datetime(2024-01-01) + i * 1s, "
             "s = strcat('r,\"', tostring(i)), d = dynamic({\"k\": [1, 2]}), f = i * 0.5, b = i % 2 == 0")
    sums = {}
    for name in ("streamed", "whole"):
        if name == "whole":
            monkeypatch.setitem(sys.modules, "ijson", None)  # ijson not installed: the body is parsed at once
        for ext in ("csv", "json", "ndjson"):
            dest = str(tmp_path / ("%s.%s" % (name, ext)))
            result = run_module(capsys, query=query, dest=dest, **online)
            assert result["changed"] is True and result["row_count"] == 2000, result
            sums[name, ext] = result["sha256"]
    for ext in ("csv", "json", "ndjson"):
        assert sums["streamed", ext] == sums["whole", ext]
    with io.open(str(tmp_path / "streamed.csv"), encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["i", "Timestamp", "s", "d", "f", "b"] and len(table) == 2001
    assert table[2] == ["2", "2024-01-01T00:00:02.0000000Z", 'r,"2', '{"k":[1,2]}', "1.0", "true"]
