"""Listeners, TLS, the endpoints file, persistence and the command line — over real sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from importlib import resources

import pytest
import requests
import yaml

from mtp_emulator.server import EmulatorServer

pytestmark = pytest.mark.usefixtures("fresh_emulator")

# Written out here (not imported from certs.py): the names the brief requires on the leaf.
MICROSOFT_NAMES = [
    "login.microsoftonline.com", "login.microsoftonline.us", "login.windows.net", "graph.microsoft.com",
    "graph.microsoft.us", "dod-graph.microsoft.us", "api.security.microsoft.com", "api-us.security.microsoft.com",
    "api-eu.security.microsoft.com", "api-uk.security.microsoft.com", "api-gcc.security.microsoft.us",
    "api-gov.security.microsoft.us", "api.securitycenter.microsoft.com", "api-gcc.securitycenter.microsoft.us",
    "api-gov.securitycenter.microsoft.us",
]

ALL_FLAGS = [
    "--host", "--port", "--gov-port", "--imds-port", "--proxy-port", "--no-proxy", "--state-dir", "--fixture",
    "--persist", "--endpoints-file", "--print-env", "--latency-ms", "--error-rate", "--reset", "--throttle",
    "--retry-after", "--token-lifetime", "--replication-lag", "--quota-scale", "--request-log", "--hunting-rows",
    "--log-level",
]

SMALL_FIXTURE = {"tenants": [{"id": "11111111-2222-4333-8444-555555555555", "domain": "persist.onmicrosoft.com",
                              "users": [{"upn": "p@persist.onmicrosoft.com", "password": "P-Passw0rd!"}]}]}


def _default_fixture() -> dict:
    text = resources.files("mtp_emulator").joinpath("fixtures/default.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _tls_handshake(port: int, ca_path: str, server_hostname: str) -> dict:
    ctx = ssl.create_default_context(cafile=ca_path)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.getpeercert()


# --- TLS ----------------------------------------------------------------------------------------------
def test_tls_verifies_against_the_emulator_ca(emulator, requests_session):
    resp = requests_session.get(emulator.control_url + "/stats", timeout=10)
    assert resp.status_code == 200
    assert resp.url.startswith("https://127.0.0.1:")


def test_tls_fails_without_the_emulator_ca(emulator):
    with requests.Session() as s:
        s.trust_env = False  # the system bundle only
        with pytest.raises(requests.exceptions.SSLError):
            s.get(emulator.control_url + "/stats", timeout=10)


@pytest.mark.parametrize("name", MICROSOFT_NAMES + ["localhost", "127.0.0.1"])
def test_leaf_certificate_covers_every_emulated_host_name(emulator, name):
    cert = _tls_handshake(emulator.server.main.port, emulator.ca_path, name)
    assert cert["subject"]


def test_leaf_certificate_rejects_other_names(emulator):
    with pytest.raises(ssl.SSLCertVerificationError):
        _tls_handshake(emulator.server.main.port, emulator.ca_path, "login.example.com")


def test_gov_listener_uses_the_same_ca(emulator):
    cert = _tls_handshake(emulator.server.gov.port, emulator.ca_path, "login.microsoftonline.us")
    assert cert["subject"]


def test_a_silent_client_does_not_stall_the_listener(emulator, requests_session):
    # A connection that never sends a TLS ClientHello must not block other clients.
    with socket.create_connection(("127.0.0.1", emulator.server.main.port), timeout=10):
        resp = requests_session.get(emulator.control_url + "/stats", timeout=5)
    assert resp.status_code == 200


# --- endpoints ----------------------------------------------------------------------------------------
def test_endpoints_have_the_documented_keys(emulator):
    ep = emulator.endpoints
    expected = {"base_url", "authority_host", "gov_authority_host", "graph_url", "api_url", "mde_url", "imds_url",
                "proxy_url", "ca_path", "control_url", "tenants"}
    assert expected <= set(ep)
    for key in ("base_url", "authority_host", "gov_authority_host", "graph_url", "api_url", "mde_url",
                "control_url"):
        assert ep[key].startswith("https://127.0.0.1:"), key
    assert ep["imds_url"].startswith("http://127.0.0.1:")
    assert ep["proxy_url"].startswith("http://127.0.0.1:")
    assert ep["gov_authority_host"] != ep["authority_host"]
    assert ep["control_url"] == ep["base_url"] + "/_emulator"
    with open(ep["ca_path"], encoding="ascii") as fh:
        assert fh.read().startswith("-----BEGIN CERTIFICATE-----")


def test_endpoints_tenants_come_from_the_fixture(emulator):
    fixture = _default_fixture()
    tenants = emulator.endpoints["tenants"]
    assert [t["id"] for t in tenants] == [t["id"] for t in fixture["tenants"]]
    first, spec = tenants[0], fixture["tenants"][0]
    assert first["domain"] == spec["domain"]
    assert first["admin_app"] == {"client_id": spec["admin_app"]["app_id"],
                                  "client_secret": spec["admin_app"]["client_secret"]}
    assert first["hunting_app"]["client_id"] == spec["hunting_app"]["app_id"]
    assert first["public_client"] == {"client_id": spec["public_client"]["app_id"]}
    assert first["users"][0] == {"upn": spec["users"][0]["upn"], "password": spec["users"][0]["password"]}


def test_control_plane_serves_the_endpoints(emulator):
    resp = emulator.control("GET", "endpoints")
    assert resp.status_code == 200
    assert resp.json() == emulator.endpoints


# --- listeners --------------------------------------------------------------------------------------
def test_gov_listener_tags_requests_as_usgov(emulator):
    with emulator.session() as s:
        s.get(emulator.endpoints["gov_authority_host"] + "/common/mtp-emulator-probe", timeout=10)
        s.get(emulator.endpoints["authority_host"] + "/common/mtp-emulator-probe", timeout=10)
    entries = [e for e in emulator.log() if e["path"] == "/common/mtp-emulator-probe"]
    assert [(e["listener"], e["cloud"]) for e in entries] == [("gov", "usgov"), ("main", None)]


def test_imds_listener_is_plain_http_and_serves_only_managed_identity_paths(emulator):
    imds = emulator.endpoints["imds_url"]
    with requests.Session() as s:
        s.trust_env = False
        other = s.get(imds + "/_emulator/stats", timeout=10)
        mi = s.get(imds + "/metadata/identity/oauth2/token", params={"resource": "https://graph.microsoft.com"},
                   headers={"Metadata": "true"}, timeout=10)
    assert other.status_code == 404
    assert other.json()["error"] == "invalid_request"
    # the managed-identity path reached the application: it is in the request log, tagged by listener
    entries = [e for e in emulator.log() if e["path"] == "/metadata/identity/oauth2/token"]
    assert len(entries) == 1 and entries[0]["listener"] == "imds"
    assert mi.headers["Content-Type"].startswith("application/json")


def test_only_loopback_is_allowed():
    with pytest.raises(ValueError):
        EmulatorServer(host="0.0.0.0")


def test_a_taken_port_is_an_oserror(emulator, tmp_path):
    server = EmulatorServer(state_dir=str(tmp_path), port=emulator.server.main.port, proxy=False)
    with pytest.raises(OSError):
        server.start()


def test_ca_is_reused_with_the_same_state_dir(tmp_path):
    with EmulatorServer(state_dir=str(tmp_path), proxy=False) as first:
        with open(first.ca_path, "rb") as fh:
            ca1 = fh.read()
    with EmulatorServer(state_dir=str(tmp_path), proxy=False) as second:
        with open(second.ca_path, "rb") as fh:
            assert fh.read() == ca1
        with requests.Session() as s:
            s.verify, s.trust_env = second.ca_path, False
            assert s.get(second.endpoints["control_url"] + "/stats", timeout=10).status_code == 200


# --- persistence ----------------------------------------------------------------------------------
def test_state_persists_across_a_restart(tmp_path):
    state_file = str(tmp_path / "state.json")
    with EmulatorServer(state_dir=str(tmp_path), proxy=False, persist=state_file) as emu:
        tenant = emu.state.tenants[emu.endpoints["tenants"][0]["id"]]
        added = tenant.directory.add("application", {"appId": "aaaaaaaa-0000-4000-8000-000000000001",
                                                     "displayName": "persisted app"})
        with requests.Session() as s:
            s.verify, s.trust_env = emu.ca_path, False
            resp = s.patch(emu.endpoints["control_url"] + "/config", json={"replication_lag": 0}, timeout=10)
            assert resp.status_code == 200
    with EmulatorServer(state_dir=str(tmp_path), proxy=False, persist=state_file) as emu:
        tenant = emu.state.tenants[emu.endpoints["tenants"][0]["id"]]
        restored = tenant.directory.get(added["id"], kind="application")
        assert restored is not None and restored["displayName"] == "persisted app"


def test_a_change_is_saved_within_seconds_without_a_stop(tmp_path):
    state_file = tmp_path / "state.json"
    with EmulatorServer(state_dir=str(tmp_path), proxy=False, persist=str(state_file)) as emu:
        with requests.Session() as s:
            s.verify, s.trust_env = emu.ca_path, False
            resp = s.post(emu.endpoints["control_url"] + "/fixture", json=SMALL_FIXTURE, timeout=10)
            assert resp.status_code == 200
        deadline = time.monotonic() + 5
        saved = None
        while time.monotonic() < deadline:
            if state_file.exists():
                saved = json.loads(state_file.read_text())
                if saved["fixture"] == SMALL_FIXTURE:
                    break
            time.sleep(0.2)
        assert saved is not None and saved["fixture"] == SMALL_FIXTURE


# --- command line ---------------------------------------------------------------------------------
def _spawn(tmp_path, *extra):
    endpoints_file = tmp_path / "endpoints.json"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mtp_emulator", "--port", "0", "--endpoints-file", str(endpoints_file),
         "--state-dir", str(tmp_path / "state"), "--log-level", "WARNING", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    deadline = time.monotonic() + 30
    while not endpoints_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the emulator did not start: rc={proc.returncode} stderr={err[-2000:]}")
        time.sleep(0.05)
    return proc, endpoints_file, json.loads(endpoints_file.read_text())


def _sigterm(proc, signum=signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the emulator did not stop within 5 s of SIGTERM")
    return proc.returncode, out, err


def test_cli_starts_serves_and_stops_cleanly_on_sigterm(tmp_path):
    proc, endpoints_file, ep = _spawn(tmp_path, "--print-env")
    try:
        assert oct(endpoints_file.stat().st_mode & 0o777) == oct(0o600)
        with requests.Session() as s:
            s.verify, s.trust_env = ep["ca_path"], False
            assert s.get(ep["control_url"] + "/stats", timeout=10).status_code == 200
    finally:
        rc, out, err = _sigterm(proc)
    assert rc == 0, err[-2000:]
    assert not endpoints_file.exists()
    exports = dict(line[len("export "):].split("=", 1) for line in out.splitlines() if line.startswith("export "))
    assert exports["AZURE_AUTHORITY_HOST"] == exports["MTP_AUTHORITY_HOST"] == ep["authority_host"]
    assert exports["MTP_GRAPH_URL"] == ep["graph_url"]
    assert exports["MTP_API_URL"] == ep["api_url"]
    assert exports["MTP_CA_PATH"] == ep["ca_path"]
    assert exports["AZURE_TENANT_ID"] == ep["tenants"][0]["id"]
    assert exports["AZURE_POD_IDENTITY_AUTHORITY_HOST"] == ep["imds_url"]


def test_cli_stops_cleanly_on_sigint(tmp_path):
    proc, endpoints_file, _ = _spawn(tmp_path, "--no-proxy")
    rc, _, err = _sigterm(proc, signal.SIGINT)
    assert rc == 0, err[-2000:]
    assert "Traceback" not in err
    assert not endpoints_file.exists()


def test_cli_persists_state_across_restarts(tmp_path):
    state_file = tmp_path / "persist.json"
    proc, _, ep = _spawn(tmp_path, "--persist", str(state_file), "--no-proxy")
    try:
        assert ep["proxy_url"] is None
        with requests.Session() as s:
            s.verify, s.trust_env = ep["ca_path"], False
            resp = s.post(ep["control_url"] + "/fixture", data=yaml.safe_dump(SMALL_FIXTURE),
                          headers={"Content-Type": "application/yaml"}, timeout=10)
            assert resp.status_code == 200, resp.text
    finally:
        rc, _, err = _sigterm(proc)
    assert rc == 0, err[-2000:]
    proc, _, ep = _spawn(tmp_path, "--persist", str(state_file), "--no-proxy")
    rc, _, err = _sigterm(proc)
    assert rc == 0, err[-2000:]
    assert [t["domain"] for t in ep["tenants"]] == ["persist.onmicrosoft.com"]


def test_cli_help_lists_every_flag():
    out = subprocess.run([sys.executable, "-m", "mtp_emulator", "--help"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    missing = [flag for flag in ALL_FLAGS if flag not in out]
    assert not missing


def test_cli_refuses_a_non_loopback_host():
    proc = subprocess.run([sys.executable, "-m", "mtp_emulator", "--host", "0.0.0.0"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 2
    assert "--host" in proc.stderr


def test_cli_rejects_a_malformed_fault():
    proc = subprocess.run([sys.executable, "-m", "mtp_emulator", "--error-rate", "GET /v1.0/*=2"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "between 0 and 1" in proc.stderr


def test_cli_reports_a_malformed_fixture_and_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenants: [unclosed\n")
    proc = subprocess.run([sys.executable, "-m", "mtp_emulator", "--fixture", str(bad), "--state-dir",
                           str(tmp_path / "state")], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "cannot start" in proc.stderr
    assert "Traceback" not in proc.stderr
