"""The CONNECT proxy: Microsoft host names are tunnelled to the emulator, everything else is refused."""

from __future__ import annotations

import socket
import ssl

import pytest
import requests

pytestmark = pytest.mark.usefixtures("fresh_emulator")

COMMERCIAL = [
    "login.microsoftonline.com", "login.windows.net", "graph.microsoft.com", "api.security.microsoft.com",
    "api-us.security.microsoft.com", "api-eu.security.microsoft.com", "api-uk.security.microsoft.com",
    "api.securitycenter.microsoft.com",
]
US_GOV = [
    "login.microsoftonline.us", "graph.microsoft.us", "dod-graph.microsoft.us", "api-gcc.security.microsoft.us",
    "api-gov.security.microsoft.us", "api-gcc.securitycenter.microsoft.us", "api-gov.securitycenter.microsoft.us",
]
PROBE = "/mtp-emulator-proxy-probe"


def _connect(proxy_url: str, target: str) -> tuple[socket.socket, bytes]:
    host, port = proxy_url.rsplit("/", 1)[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


@pytest.mark.parametrize("host", COMMERCIAL + US_GOV)
def test_microsoft_hosts_are_tunnelled_to_the_emulator(emulator, proxied_session, host):
    resp = proxied_session.get(f"https://{host}{PROBE}", timeout=10)
    # the emulator answered (its JSON error shape for an unknown path), with the real host name in the Host header
    assert resp.headers["Content-Type"].startswith("application/json")
    assert emulator.stats()["by_host"] == {host: 1}
    entry = [e for e in emulator.log() if e["path"] == PROBE][-1]
    assert entry["host"] == host
    assert emulator.stats()["proxy_refused"] == []


def test_us_gov_login_host_goes_to_the_gov_listener(emulator, proxied_session):
    proxied_session.get(f"https://login.microsoftonline.us{PROBE}", timeout=10)
    proxied_session.get(f"https://login.microsoftonline.com{PROBE}", timeout=10)
    entries = [e for e in emulator.log() if e["path"] == PROBE]
    assert [(e["host"], e["listener"], e["cloud"]) for e in entries] == [
        ("login.microsoftonline.us", "gov", "usgov"),
        ("login.microsoftonline.com", "main", None),
    ]


@pytest.mark.parametrize("target", ["example.com:443", "login.microsoftonline.de:443", "169.254.169.254:443",
                                    "graph.microsoft.com:80", "graph.microsoft.com:8443", "127.0.0.1:443"])
def test_other_destinations_are_refused_and_recorded(emulator, target):
    sock, head = _connect(emulator.proxy_url, target)
    sock.close()
    assert head.startswith(b"HTTP/1.1 403"), head[:100]
    assert emulator.stats()["proxy_refused"] == [target]


def test_refusal_through_requests_is_a_proxy_error(emulator, proxied_session):
    with pytest.raises(requests.exceptions.ProxyError):
        proxied_session.get("https://www.example.org/", timeout=10)
    assert emulator.stats()["proxy_refused"] == ["www.example.org:443"]


def test_plain_http_proxy_requests_are_refused(emulator):
    with requests.Session() as s:
        s.trust_env = False
        s.proxies = {"http": emulator.proxy_url}
        resp = s.get("http://169.254.169.254/metadata/identity/oauth2/token", timeout=10)
    assert resp.status_code == 403
    assert emulator.stats()["proxy_refused"] == ["169.254.169.254:80"]


def test_tunnel_is_a_byte_pump_for_tls(emulator):
    # A raw CONNECT followed by our own TLS handshake with the real host name as SNI.
    sock, head = _connect(emulator.proxy_url, "api.security.microsoft.com:443")
    assert head.startswith(b"HTTP/1.1 200")
    ctx = ssl.create_default_context(cafile=emulator.ca_path)
    with ctx.wrap_socket(sock, server_hostname="api.security.microsoft.com") as tls:
        tls.sendall(b"GET /api/mtp-emulator-probe HTTP/1.1\r\nHost: api.security.microsoft.com\r\n"
                    b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
    status_line = data.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 404")
    assert b'"error"' in data


def test_environment_variables_route_real_urls_through_the_proxy(emulator, monkeypatch):
    # What a collection test does: the real default URL, HTTPS_PROXY and the CA bundle from the environment.
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
                 "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", emulator.proxy_url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_path)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    resp = requests.get(f"https://graph.microsoft.com/v1.0{PROBE}", timeout=10)
    assert resp.status_code == 404
    assert resp.json()["error"]["innerError"]["request-id"]
    stats = emulator.stats()
    assert stats["by_host"] == {"graph.microsoft.com": 1}
    assert stats["proxy_refused"] == []


def test_a_reset_fault_is_passed_through_the_tunnel(emulator, proxied_session):
    emulator.set_faults(reset={f"GET /v1.0{PROBE}": "before"})
    with pytest.raises(requests.ConnectionError):
        proxied_session.get(f"https://graph.microsoft.com/v1.0{PROBE}", timeout=10)
    assert list(emulator.stats()["requests"].values()) == [{"reset": 1}]


def test_msal_with_the_real_authority_works_through_the_proxy(emulator, monkeypatch):
    # The collection's situation: MSAL with its default authority host, pointed at nothing but the environment.
    import msal

    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
                 "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", emulator.proxy_url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_path)
    tenant = emulator.tenant()
    app = msal.ConfidentialClientApplication(
        tenant["admin_app"]["client_id"], client_credential=tenant["admin_app"]["client_secret"],
        authority=f"https://login.microsoftonline.com/{tenant['id']}")
    result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert "access_token" in result, {k: v for k, v in result.items() if k != "access_token"}
    stats = emulator.stats()
    assert set(stats["by_host"]) == {"login.microsoftonline.com"}
    assert stats["proxy_refused"] == []
