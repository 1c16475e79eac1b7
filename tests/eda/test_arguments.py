# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Argument validation of m365.defender.mtp_incidents: every bad argument stops the source before any network
call with a message naming it (no emulator: these tests never open a socket)."""

import asyncio
import json
import os
import socket

import pytest

from conftest import SOURCE_FILE

SECRET = "s3cr3t-value-never-shown"
GOOD = {"tenant_id": "6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f", "client_id": "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
        "client_secret": SECRET, "token_cache": False}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("argument validation opened a connection")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "MTP_AUTH_METHOD"):
        monkeypatch.delenv(name, raising=False)


def start(source_module, args):
    """Run ``main`` and return the message it stops with."""
    with pytest.raises(ValueError) as info:
        asyncio.run(asyncio.wait_for(source_module["main"](asyncio.Queue(), args), 30))
    message = str(info.value)
    assert message.startswith("m365.defender.mtp_incidents")
    assert SECRET not in message
    return message


def with_(tmp_path, **changes):
    args = dict(GOOD, checkpoint_file=str(tmp_path / "cp.json"))
    args.update(changes)
    return dict((k, v) for k, v in args.items() if v is not None)


def test_unknown_argument(source_module, tmp_path):
    message = start(source_module, with_(tmp_path, poll_intervall=5))
    assert "unknown argument(s) poll_intervall" in message


def test_poll_interval_zero(source_module, tmp_path):
    assert "poll_interval must be a number of seconds greater than 0" in start(source_module, with_(tmp_path, poll_interval=0))


def test_poll_interval_not_a_number(source_module, tmp_path):
    message = start(source_module, with_(tmp_path, poll_interval="soon"))
    assert "poll_interval" in message and "float" in message


def test_api_not_a_choice(source_module, tmp_path):
    message = start(source_module, with_(tmp_path, api="legacy"))
    assert "api" in message and "graph, mtp" in message


def test_since_not_a_time(source_module, tmp_path):
    assert "since must be an ISO-8601 time" in start(source_module, with_(tmp_path, since="yesterday"))


def test_negative_overlap(source_module, tmp_path):
    assert "overlap must not be negative, got -1" in start(source_module, with_(tmp_path, overlap=-1))


def test_page_size_zero(source_module, tmp_path):
    assert "page_size must be at least 1, got 0" in start(source_module, with_(tmp_path, page_size=0))


def test_page_size_above_the_graph_cap(source_module, tmp_path):
    assert "page_size: 80 is outside 1..50" in start(source_module, with_(tmp_path, page_size=80))


def test_unknown_severity(source_module, tmp_path):
    message = start(source_module, with_(tmp_path, severity=["critical"]))
    assert "severity" in message and "critical" in message


def test_checkpoint_file_is_a_directory(source_module, tmp_path):
    message = start(source_module, with_(tmp_path, checkpoint_file=str(tmp_path)))
    assert "checkpoint_file %s is a directory" % tmp_path in message


def test_missing_client_secret_is_named(source_module, tmp_path):
    message = start(source_module, with_(tmp_path, client_secret=None))
    assert "client_secret" in message


def test_secret_from_the_environment(source_module, tmp_path, monkeypatch):
    """AZURE_CLIENT_SECRET stands in for client_secret, as for the modules (validation then passes)."""
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    config, secrets = source_module["validate_args"](with_(tmp_path, client_secret=None))
    assert config["client_secret"] == SECRET
    assert SECRET in secrets


def test_bad_retries(source_module, tmp_path):
    message = start(source_module, with_(tmp_path, retries={"tries": 3}))
    assert "retries has unknown keys: tries" in message


def test_ca_path_not_pem(source_module, tmp_path):
    bad = tmp_path / "ca.txt"
    bad.write_text("not a certificate")
    assert "ca_path %s is not a PEM bundle" % bad in start(source_module, with_(tmp_path, ca_path=str(bad)))


def test_checkpoint_of_another_stream(source_module, tmp_path):
    path = tmp_path / "cp.json"
    path.write_text(json.dumps({"version": 1, "api": "mtp", "tenant_id": GOOD["tenant_id"],
                                "high_water_mark": "2026-01-01T00:00:00Z", "seen_incidents": [], "seen_alerts": []}))
    message = start(source_module, with_(tmp_path, api="graph"))
    assert "was written for api 'mtp', not 'graph'" in message


def test_corrupt_checkpoint(source_module, tmp_path):
    (tmp_path / "cp.json").write_text("{not json")
    message = start(source_module, with_(tmp_path))
    assert "checkpoint_file %s cannot be read" % (tmp_path / "cp.json") in message


def test_checkpoint_under_a_file(source_module, tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("a file, not a directory")
    message = start(source_module, with_(tmp_path, checkpoint_file=str(plain / "cp.json")))
    assert "checkpoint_file %s lies under %s, which is not a directory" % (plain / "cp.json", plain) in message


def test_checkpoint_directory_not_writable(source_module):
    """/proc takes no new directory, not even from root."""
    message = start(source_module, dict(GOOD, checkpoint_file="/proc/m365-defender-eda/cp.json"))
    assert "checkpoint_file /proc/m365-defender-eda/cp.json cannot be written" in message


def test_args_not_a_mapping(source_module):
    assert "must be a mapping, got list" in start(source_module, ["tenant_id"])


def test_schema_matches_the_arguments(source_module):
    """Every argument is in the shipped JSON schema and the secrets are marked as passwords."""
    with open(os.path.join(os.path.dirname(SOURCE_FILE), "schemas", "mtp_incidents.json")) as handle:
        schema = json.load(handle)
    assert sorted(schema["properties"]) == sorted(source_module["source_argument_spec"]())
    for name in ("client_secret", "certificate_password", "access_token"):
        assert schema["properties"][name]["format"] == "password"
    for name in ("tenant_id", "client_id", "checkpoint_file"):
        assert "format" not in schema["properties"][name]
    assert schema["properties"]["api"]["enum"] == ["graph", "mtp"]
