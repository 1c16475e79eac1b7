"""An HTTP CONNECT proxy that tunnels only the Microsoft host names to the emulator.

With ``HTTPS_PROXY=<proxy_url>`` and ``REQUESTS_CA_BUNDLE=<ca.pem>``, code that uses the real default URLs
(``https://login.microsoftonline.com``, ``https://graph.microsoft.com``, ``https://api.security.microsoft.com``,
...) reaches the emulator: ``CONNECT graph.microsoft.com:443`` is answered ``200`` and the bytes are pumped to
the emulator's HTTPS listener, whose certificate carries the real host names. Every other destination (another
host, another port, a plain ``GET http://...`` proxy request) is answered ``403``, logged and appended to
``state.stats.proxy_refused``, so a test can assert that nothing tried to leave the machine.

The CONNECT request itself is parsed by :class:`http.server.BaseHTTPRequestHandler`; the tunnelled stream is a
byte pump and is never parsed. A reset from the emulator side (fault injection) is passed on as a reset.
"""

from __future__ import annotations

import logging
import selectors
import socket
import socketserver
import struct
import threading
from http.server import BaseHTTPRequestHandler
from typing import Callable

from .state import EmulatorState

LOG = logging.getLogger("mtp_emulator.proxy")

BUFFER = 64 * 1024
IDLE_TIMEOUT = 300.0
CONNECT_TIMEOUT = 10.0

# host name (lower case) -> (address, port) of the local listener, or None to refuse
Router = Callable[[str, int], "tuple[str, int] | None"]


def _split_authority(authority: str) -> tuple[str, int | None]:
    host, sep, port = authority.rpartition(":")
    if not sep:
        return authority.strip("[]").lower(), None
    try:
        return host.strip("[]").lower(), int(port)
    except ValueError:
        return authority.lower(), None


def _abort(sock: socket.socket) -> None:
    """Close ``sock`` with a RST (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _ProxyHandler(BaseHTTPRequestHandler):
    server: "ProxyServer"
    protocol_version = "HTTP/1.1"
    timeout = 60  # for reading the CONNECT request

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        LOG.debug("proxy %s: " + format, self.client_address[0], *args)

    def _refuse(self, target: str, reason: str) -> None:
        self.server.record_refusal(target, reason)
        body = f"mtp_emulator proxy: {reason}: {target}\n".encode()
        self.send_response(403, "Forbidden")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def do_CONNECT(self) -> None:  # noqa: N802 - http.server naming
        host, port = _split_authority(self.path)
        target = f"{host}:{port}" if port is not None else host
        upstream_addr = self.server.router(host, port) if port == 443 else None
        if upstream_addr is None:
            reason = "only port 443 of the Microsoft host names is tunnelled" if port != 443 else \
                "host is not emulated"
            self._refuse(target, reason)
            return
        try:
            upstream = socket.create_connection(upstream_addr, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            LOG.warning("proxy: cannot reach the emulator listener %s:%s: %s", *upstream_addr, exc)
            self.send_error(502, "emulator listener unreachable")
            self.close_connection = True
            return
        self.server.record_tunnel(host)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            self._pump(self.connection, upstream)
        finally:
            upstream.close()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        client.settimeout(None)
        upstream.settimeout(None)
        selector = selectors.DefaultSelector()
        peers = {client: upstream, upstream: client}
        open_reads = {client, upstream}
        for sock in open_reads:
            selector.register(sock, selectors.EVENT_READ)
        try:
            while open_reads and not self.server.stopping.is_set():
                events = selector.select(timeout=IDLE_TIMEOUT)
                if not events:
                    LOG.debug("proxy: idle tunnel closed")
                    return
                for key, _ in events:
                    src = key.fileobj
                    dst = peers[src]
                    try:
                        data = src.recv(BUFFER)
                    except ConnectionResetError:
                        # pass a reset on: the client must see what the emulator did
                        _abort(dst)
                        return
                    except OSError:
                        return
                    if not data:
                        selector.unregister(src)
                        open_reads.discard(src)
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        continue
                    try:
                        dst.sendall(data)
                    except OSError:
                        return
        finally:
            selector.close()

    def _refuse_plain(self) -> None:
        # A plain-HTTP proxy request ("GET http://host/path") or a direct request: never forwarded.
        target = self.path
        if target.startswith(("http://", "https://")):
            target = target.split("/", 3)[2] if target.count("/") >= 2 else target
            host, port = _split_authority(target)
            target = f"{host}:{port or 80}"
        self._refuse(target, "only CONNECT to the Microsoft host names is supported")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _refuse_plain  # noqa: N815


class ProxyServer(socketserver.ThreadingTCPServer):
    """``ProxyServer(("127.0.0.1", 0), state, router)``; ``serve_forever()`` in a thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: EmulatorState, router: Router) -> None:
        self.state = state
        self.router = router
        self.stopping = threading.Event()
        super().__init__(address, _ProxyHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def record_refusal(self, target: str, reason: str) -> None:
        LOG.warning("proxy refused %s (%s)", target, reason)
        self.state.stats.proxy_refused.append(target)

    def record_tunnel(self, host: str) -> None:
        self.state.stats.incr(f"proxy.tunnels.{host}")

    def shutdown(self) -> None:
        self.stopping.set()
        super().shutdown()
