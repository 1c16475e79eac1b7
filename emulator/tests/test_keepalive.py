"""HTTP/1.1 keep-alive on the listeners, and fault injection that stays exact on reused connections."""

from __future__ import annotations

import http.client
import json
import socket
import ssl

import pytest
import requests

pytestmark = pytest.mark.usefixtures("fresh_emulator")

PROBE = "/v1.0/mtp-emulator-keepalive-probe"


def _connection(emulator) -> http.client.HTTPSConnection:
    ctx = ssl.create_default_context(cafile=emulator.ca_path)
    return http.client.HTTPSConnection("127.0.0.1", emulator.server.main.port, context=ctx, timeout=30)


def _get(conn: http.client.HTTPSConnection, path: str, **headers) -> tuple[int, dict, bytes]:
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def test_two_requests_reuse_one_connection(emulator):
    before = emulator.server.connections["main"]
    conn = _connection(emulator)
    try:
        status1, headers1, _ = _get(conn, PROBE)
        sock = conn.sock
        status2, headers2, body2 = _get(conn, PROBE)
        assert conn.sock is sock and sock is not None  # http.client reconnects when the server closed
    finally:
        conn.close()
    assert (status1, status2) == (404, 404)
    assert "connection" not in headers1 and "connection" not in headers2
    assert json.loads(body2)["error"]["code"] == "Request_ResourceNotFound"
    assert emulator.server.connections["main"] - before == 1
    assert emulator.stats()["requests"][f"GET {PROBE}"] == {"404": 2}


def test_a_requests_session_opens_one_connection_for_many_calls(emulator):
    tenant = emulator.tenant(0)
    before = emulator.server.connections["main"]
    with emulator.session() as s:
        for _ in range(5):
            resp = s.post(emulator.url(f"/{tenant['id']}/oauth2/v2.0/token"), timeout=30, data={
                "grant_type": "client_credentials", "client_id": tenant["hunting_app"]["client_id"],
                "client_secret": tenant["hunting_app"]["client_secret"],
                "scope": "https://api.security.microsoft.com/.default"})
            assert resp.status_code == 200, resp.text
    assert emulator.server.connections["main"] - before == 1
    assert emulator.stats()["token_requests"] == {"client_credentials": 5}


def test_connection_close_from_the_client_is_honoured(emulator):
    conn = _connection(emulator)
    try:
        status, headers, _ = _get(conn, PROBE, Connection="close")
        assert status == 404 and headers["connection"] == "close"
        assert conn.sock is None  # http.client closed it after "Connection: close"
    finally:
        conn.close()


def test_an_unread_request_body_does_not_leak_into_the_next_request(emulator):
    # a 401 answers before the handler reads the JSON body; the next request on the connection is intact
    before = emulator.server.connections["main"]
    conn = _connection(emulator)
    try:
        body = json.dumps({"Query": "DeviceInfo | take 1", "pad": "x" * 200_000})
        conn.request("POST", "/v1.0/security/runHuntingQuery", body=body,
                     headers={"Content-Type": "application/json"})
        first = conn.getresponse()
        assert first.status == 401
        first.read()
        status, _, data = _get(conn, PROBE)
    finally:
        conn.close()
    assert status == 404 and json.loads(data)["error"]["code"] == "Request_ResourceNotFound"
    assert emulator.server.connections["main"] - before == 1


def test_reset_on_a_reused_connection_is_exact(emulator):
    """A reset fault on the second request of a kept-alive connection: RST, no response, counted once."""
    emulator.set_faults(reset={"GET /v1.0/reset-me": "before"})
    conn = _connection(emulator)
    try:
        assert _get(conn, PROBE)[0] == 404
        with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected, ssl.SSLError)):
            _get(conn, "/v1.0/reset-me")
    finally:
        conn.close()
    emulator.set_faults(reset={})
    stats = emulator.stats()["requests"]
    assert stats[f"GET {PROBE}"] == {"404": 1}
    assert stats["GET /v1.0/reset-me"] == {"reset": 1}


def test_requests_session_sees_the_reset_and_then_reconnects(emulator):
    emulator.set_faults(reset={"GET /v1.0/reset-me": "before"})
    before = emulator.server.connections["main"]
    with emulator.session() as s:
        assert s.get(emulator.url(PROBE), timeout=30).status_code == 404
        with pytest.raises(requests.ConnectionError):
            s.get(emulator.url("/v1.0/reset-me"), timeout=30)
        emulator.set_faults(reset={})
        assert s.get(emulator.url(PROBE), timeout=30).status_code == 404
    assert emulator.server.connections["main"] - before == 2  # the reset connection is gone, one new one
    assert emulator.stats()["requests"]["GET /v1.0/reset-me"] == {"reset": 1}


def test_http_1_0_requests_are_answered_and_closed(emulator):
    ctx = ssl.create_default_context(cafile=emulator.ca_path)
    with socket.create_connection(("127.0.0.1", emulator.server.main.port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(f"GET {PROBE} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            data = b""
            while True:  # the server closes: the loop ends
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data.startswith(b"HTTP/1.1 404") and b"Connection: close" in data


def test_keep_alive_can_be_turned_off(emulator_factory):
    emu = emulator_factory(keep_alive=False)
    conn = _connection(emu)
    try:
        status, headers, _ = _get(conn, PROBE)
        assert status == 404 and headers["connection"] == "close"
        assert _get(conn, PROBE)[0] == 404  # http.client opened a second connection
    finally:
        conn.close()
    assert emu.server.connections["main"] == 2


def test_stop_ends_idle_kept_alive_connections(emulator_factory):
    emu = emulator_factory()
    conn = _connection(emu)
    try:
        assert _get(conn, PROBE)[0] == 404
        sock = conn.sock
        emu.server.stop()
        sock.settimeout(10)
        assert sock.recv(1) == b""  # closed by the server, not left waiting for the idle timeout
    finally:
        conn.close()
