"""Fault injection and the control plane, over real HTTPS."""

from __future__ import annotations

import json
import socket
import ssl
import time

import pytest
import requests

pytestmark = pytest.mark.usefixtures("fresh_emulator")

GRAPH_PROBE = "/v1.0/mtp-emulator-fault-probe"
MTP_PROBE = "/api/mtp-emulator-fault-probe"
LOGIN_PROBE = "/common/mtp-emulator-fault-probe"

OTHER_FIXTURE = {"tenants": [{"id": "99999999-8888-4777-8666-555555555555", "domain": "faults.onmicrosoft.com"}]}


def _tenant_domains(emulator) -> list[str]:
    return [t["domain"] for t in emulator.control("GET", "endpoints").json()["tenants"]]


def _raw_tls_request(emulator, request_bytes: bytes) -> Exception | bytes:
    """Send one request over TLS driven through memory BIOs, so the raw TCP outcome (RST or data) is visible."""
    ctx = ssl.create_default_context(cafile=emulator.ca_path)
    raw = socket.create_connection(("127.0.0.1", emulator.server.main.port), timeout=10)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                incoming.write(raw.recv(65536))
        raw.sendall(outgoing.read())
        tls.write(request_bytes)
        raw.sendall(outgoing.read())
        data = b""
        while True:
            try:
                chunk = raw.recv(65536)
            except ConnectionResetError as exc:
                return exc
            if not chunk:
                return data
            incoming.write(chunk)
            try:
                data += tls.read(65536)
            except ssl.SSLWantReadError:
                pass
    finally:
        raw.close()


# --- latency ------------------------------------------------------------------------------------------
def test_latency_is_added_to_api_requests_but_not_to_the_control_plane(emulator, requests_session):
    emulator.set_faults(latency_ms=800)
    started = time.monotonic()
    resp = requests_session.get(emulator.url(GRAPH_PROBE), timeout=10)
    delayed = time.monotonic() - started
    started = time.monotonic()
    emulator.stats()
    control = time.monotonic() - started
    assert resp.status_code == 404
    assert delayed >= 0.8
    assert control < 0.8


# --- 5xx ------------------------------------------------------------------------------------------------
def test_error_rate_one_gives_503_in_each_family_shape(emulator, requests_session):
    emulator.set_faults(error_rate={"GET /v1.0/*": 1.0, "* /api/*": 1.0, f"POST {LOGIN_PROBE}": 1.0})
    graph = requests_session.get(emulator.url(GRAPH_PROBE), timeout=10)
    mtp = requests_session.get(emulator.url(MTP_PROBE), timeout=10)
    login = requests_session.post(emulator.url(LOGIN_PROBE), data={"grant_type": "client_credentials"}, timeout=10)
    assert graph.status_code == mtp.status_code == login.status_code == 503
    g = graph.json()["error"]
    assert g["code"] and g["message"] and g["innerError"]["request-id"]
    m = mtp.json()["error"]
    assert m["code"] and m["message"] and m["target"]
    a = login.json()
    assert a["error"] == "temporarily_unavailable" and a["error_codes"] and a["error_description"].startswith("AADSTS")
    stats = emulator.stats()
    assert sorted(s for counts in stats["requests"].values() for s in counts) == ["503", "503", "503"]


def test_error_rate_zero_and_non_matching_patterns_change_nothing(emulator, requests_session):
    emulator.set_faults(error_rate={"GET /v1.0/*": 0.0, "POST /v1.0/*": 1.0})
    resp = requests_session.get(emulator.url(GRAPH_PROBE), timeout=10)
    assert resp.status_code == 404


def test_error_rate_is_a_probability(emulator, requests_session):
    emulator.set_faults(error_rate={f"GET {MTP_PROBE}": 0.5})
    codes = [requests_session.get(emulator.url(MTP_PROBE), timeout=10).status_code for _ in range(40)]
    assert set(codes) == {404, 503}  # both outcomes in 40 draws at p=0.5 (failure odds 2e-12)


# --- 429 ------------------------------------------------------------------------------------------------
def test_throttle_answers_429_with_retry_after_for_the_next_n_requests(emulator, requests_session):
    emulator.set_faults(throttle={f"GET {MTP_PROBE}": 2}, throttle_retry_after=7)
    responses = [requests_session.get(emulator.url(MTP_PROBE), timeout=10) for _ in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 404]
    assert [r.headers.get("Retry-After") for r in responses[:2]] == ["7", "7"]
    assert responses[0].json()["error"]["code"] == "429"
    assert emulator.control("GET", "faults").json()["throttle"] == {f"GET {MTP_PROBE}": 0}


def test_graph_throttle_uses_the_graph_shape(emulator, requests_session):
    emulator.set_faults(throttle={"GET /v1.0/*": 1})
    resp = requests_session.get(emulator.url(GRAPH_PROBE), timeout=10)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "1"
    assert resp.json()["error"]["code"] == "TooManyRequests"


# --- connection resets ------------------------------------------------------------------------------------
def test_reset_before_drops_the_connection_and_changes_nothing(emulator, requests_session):
    emulator.set_faults(reset={"POST /_emulator/fixture": "before"})
    with pytest.raises(requests.ConnectionError):
        emulator.control("POST", "fixture", json=OTHER_FIXTURE)
    emulator.set_faults(reset={})
    assert "faults.onmicrosoft.com" not in _tenant_domains(emulator)
    assert "contoso.onmicrosoft.com" in _tenant_domains(emulator)


def test_reset_after_commits_the_change_but_the_client_gets_no_answer(emulator):
    emulator.set_faults(reset={"POST /_emulator/fixture": "after"})
    with pytest.raises(requests.ConnectionError):
        emulator.control("POST", "fixture", json=OTHER_FIXTURE)
    emulator.set_faults(reset={})
    assert _tenant_domains(emulator) == ["faults.onmicrosoft.com"]


def test_reset_is_a_tcp_rst_on_the_wire(emulator):
    emulator.set_faults(reset={f"GET {GRAPH_PROBE}": "before"})
    outcome = _raw_tls_request(emulator, f"GET {GRAPH_PROBE} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert isinstance(outcome, ConnectionResetError)
    emulator.set_faults(reset={})
    # keep-alive: the helper reads until the server closes, so this request asks for the close
    outcome = _raw_tls_request(emulator, f"GET {GRAPH_PROBE} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert isinstance(outcome, bytes) and outcome.startswith(b"HTTP/1.1 404")


def test_reset_on_api_routes_is_recorded(emulator, requests_session):
    emulator.set_faults(reset={"* /api/*": "before"})
    with pytest.raises(requests.ConnectionError):
        requests_session.get(emulator.url(MTP_PROBE), timeout=10)
    assert list(emulator.stats()["requests"].values()) == [{"reset": 1}]


def test_wildcard_faults_never_lock_out_the_control_plane(emulator, requests_session):
    emulator.set_faults(error_rate={"* *": 1.0}, reset={"* *": "before"}, throttle={"* *": 5}, latency_ms=0)
    assert emulator.control("GET", "stats").status_code == 200
    assert emulator.control("PUT", "faults", json={}).status_code == 200
    assert requests_session.get(emulator.url(GRAPH_PROBE), timeout=10).status_code == 404


# --- control plane -----------------------------------------------------------------------------------------
def test_faults_round_trip_and_reset_restores_them(emulator):
    put = emulator.control("PUT", "faults", json={"latency_ms": 5, "error_rate": {"GET /v1.0/*": 0.25}})
    assert put.status_code == 200
    got = emulator.control("GET", "faults").json()
    assert got == {"latency_ms": 5, "error_rate": {"GET /v1.0/*": 0.25}, "reset": {}, "throttle": {},
                   "throttle_retry_after": 1}
    emulator.reset()
    assert emulator.control("GET", "faults").json()["error_rate"] == {}


def test_config_patch_and_reset(emulator):
    before = emulator.control("GET", "config").json()
    after = emulator.set_config(replication_lag=2.5, token_lifetime=120, quota_scale=0.5, hunting_rows=10)
    assert after == {"token_lifetime": 120, "replication_lag": 2.5, "quota_scale": 0.5, "hunting_rows": 10,
                     "hunting_row_limit": None, "hunting_result_bytes": None,
                     "device_code_interval": 1, "device_code_lifetime": 900}
    assert emulator.state.config.replication_lag == 2.5
    assert emulator.state.config.hunting_rows == 10
    emulator.reset()
    assert emulator.control("GET", "config").json() == before


def test_fixture_yaml_and_stats_reset(emulator, requests_session):
    yaml_body = "tenants:\n  - id: 99999999-8888-4777-8666-555555555555\n    domain: yaml.onmicrosoft.com\n"
    resp = emulator.control("POST", "fixture", data=yaml_body, headers={"Content-Type": "application/yaml"})
    assert resp.status_code == 200
    assert _tenant_domains(emulator) == ["yaml.onmicrosoft.com"]
    requests_session.get(emulator.url(GRAPH_PROBE), timeout=10)
    assert emulator.stats()["requests_total"] == 1
    assert emulator.control("POST", "stats/reset").status_code == 200
    assert emulator.stats()["requests_total"] == 0
    emulator.reset()
    assert "contoso.onmicrosoft.com" in _tenant_domains(emulator)


@pytest.mark.parametrize("method,path,body", [
    ("PUT", "faults", {"latency_ms": "slow"}),
    ("PUT", "faults", {"latency_ms": -1}),
    ("PUT", "faults", {"bogus": 1}),
    ("PUT", "faults", {"error_rate": {"GET /v1.0/*": 2}}),
    ("PUT", "faults", {"error_rate": ["GET /v1.0/*"]}),
    ("PUT", "faults", {"reset": {"GET /v1.0/*": "sideways"}}),
    ("PUT", "faults", {"throttle": {"GET /v1.0/*": 1.5}}),
    ("PUT", "faults", [1, 2]),
    ("PATCH", "config", {"replication_lag": -1}),
    ("PATCH", "config", {"token_lifetime": 0}),
    ("PATCH", "config", {"no_such_setting": 1}),
    ("PATCH", "config", {"quota_scale": True}),
    ("POST", "fixture", {"no": "tenants"}),
    ("POST", "fixture", {"tenants": [{"id": 5}]}),
])
def test_bad_control_input_is_a_json_400(emulator, method, path, body):
    faults_before = emulator.control("GET", "faults").json()
    config_before = emulator.control("GET", "config").json()
    resp = emulator.control(method, path, json=body)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] in ("BadRequest", "InvalidRequestBody") and error["message"]
    assert emulator.control("GET", "faults").json() == faults_before
    assert emulator.control("GET", "config").json() == config_before


@pytest.mark.parametrize("method,path,data,ctype", [
    ("PUT", "faults", b"{not json", "application/json"),
    ("PUT", "faults", b"", "application/json"),
    ("POST", "fixture", b"tenants: [unclosed", "application/yaml"),
    ("POST", "fixture", b"{bad json", "application/json"),
    ("GET", "log?n=many", None, None),
])
def test_unparsable_control_input_is_a_json_400(emulator, method, path, data, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    resp = emulator.control(method, path, data=data, headers=headers)
    assert resp.status_code == 400
    assert resp.json()["error"]["message"]


def test_unknown_control_path_is_a_json_404(emulator):
    resp = emulator.control("GET", "no-such-thing")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"]


# --- request log --------------------------------------------------------------------------------------------
def test_request_log_masks_secrets(emulator, requests_session):
    secret, token, assertion = "s3cr3t-Value-for-log-test", "eyJhbGciOi.fake-token-value.sig", "jwt-assertion-xyz"
    requests_session.post(emulator.url("/common/oauth2/v2.0/token"), timeout=10, data={
        "grant_type": "client_credentials", "client_id": "abc", "client_secret": secret,
        "client_assertion": assertion, "refresh_token": "rt-value-123", "device_code": "dc-value-123",
        "code": "code-value-123", "password": "pw-value-123"})
    requests_session.post(emulator.url("/v1.0/applications/x/addPassword"), timeout=10,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"passwordCredential": {"displayName": "ci", "secretText": "graph-secret-text"}})
    requests_session.get(emulator.url("/common/mtp-emulator-probe"), params={"code": "query-code-123"}, timeout=10)
    entries = emulator.log()
    dump = json.dumps(entries)
    with open(emulator.request_log_path, encoding="utf-8") as fh:
        file_dump = fh.read()
    for value in (secret, token, assertion, "rt-value-123", "dc-value-123", "code-value-123", "pw-value-123",
                  "graph-secret-text", "query-code-123"):
        assert value not in dump
        assert value not in file_dump
    token_entry = next(e for e in entries if e["path"] == "/common/oauth2/v2.0/token")
    assert token_entry["body"]["client_secret"] == "***"
    assert token_entry["body"]["client_id"] == "abc"  # not a secret
    graph_entry = next(e for e in entries if e["path"] == "/v1.0/applications/x/addPassword")
    assert graph_entry["headers"]["authorization"] == "Bearer ***"
    assert graph_entry["body"]["passwordCredential"] == {"displayName": "ci", "secretText": "***"}


def test_request_log_tail_length(emulator, requests_session):
    for _ in range(3):
        requests_session.get(emulator.url(GRAPH_PROBE), timeout=10)
    entries = emulator.log(n=2)
    assert len(entries) == 2
    assert all(e["path"] == GRAPH_PROBE and e["status"] == 404 for e in entries)


def test_reset_restores_the_start_up_faults_and_config_not_the_defaults(emulator_factory):
    from mtp_emulator.state import EmulatorConfig, FaultConfig

    emu = emulator_factory(config=EmulatorConfig(replication_lag=1.5, faults=FaultConfig(
        throttle={f"GET {MTP_PROBE}": 1}, throttle_retry_after=3)), proxy=False)
    with emu.session() as s:
        first = s.get(emu.url(MTP_PROBE), timeout=10)
        second = s.get(emu.url(MTP_PROBE), timeout=10)
        assert (first.status_code, first.headers.get("Retry-After"), second.status_code) == (429, "3", 404)
        emu.set_config(replication_lag=0)
        emu.reset()
        assert emu.control("GET", "config").json()["replication_lag"] == 1.5
        assert s.get(emu.url(MTP_PROBE), timeout=10).status_code == 429
