"""The emulator's listeners and the Python API used by tests, benchmarks and the command line.

``EmulatorServer`` starts, on 127.0.0.1 only:

- the main HTTPS listener (every emulated host: login, Graph, Defender, control plane);
- a second HTTPS listener for the US Government login cloud; it tags each WSGI environ with
  ``environ["mtp_emulator.cloud"] = "usgov"`` (see :func:`mtp_emulator.app.request_cloud`);
- a plain-HTTP listener for the managed-identity endpoints (IMDS ``/metadata/identity/oauth2/token`` and the
  App Service ``/msi/token``), for ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` / ``IDENTITY_ENDPOINT``;
- the CONNECT proxy (:mod:`mtp_emulator.proxy`), unless ``proxy=False``.

The listeners are werkzeug's threaded WSGI servers, with two changes:

- the TLS handshake runs in the connection's worker thread (with a timeout) rather than in the accept loop, so a
  silent client cannot stall the listener;
- HTTP/1.1 keep-alive (werkzeug closes every connection after one response): a connection serves requests
  until the client sends ``Connection: close``, stays silent for :data:`KEEP_ALIVE_TIMEOUT` seconds, sends an
  HTTP/1.0 or chunked request, or the fault injector resets it. The unread rest of a request body is drained
  (up to :data:`MAX_DRAIN` bytes, else the connection closes) before the next request line is read.
  ``EmulatorServer(keep_alive=False)`` restores one request per connection. :attr:`EmulatorServer.connections`
  counts the connections each listener accepted.

    with EmulatorServer(state_dir=tmp) as emu:
        emu.endpoints["graph_url"], emu.ca_path, emu.state
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import socket
import tempfile
import threading

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from . import certs, seed
from .app import create_app
from .faults import FaultConnectionReset
from .proxy import ProxyServer
from .state import EmulatorConfig, EmulatorState

LOG = logging.getLogger("mtp_emulator.server")

ALLOWED_HOSTS = ("127.0.0.1",)
HANDSHAKE_TIMEOUT = 10.0
KEEP_ALIVE_TIMEOUT = 120  # seconds a client may stay silent: between requests, or while sending one
MAX_DRAIN = 16 * 1024 * 1024  # unread request body bytes skipped to keep a connection; more closes it
POLL_INTERVAL = 0.2
PERSIST_INTERVAL = 1.0
IMDS_PATH_PREFIXES = ("/metadata/identity/", "/msi/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _BodyStream:
    """The request body, bounded by ``Content-Length``: a handler cannot read into the next request, and the
    rest is drained before the connection serves another one."""

    def __init__(self, stream, length: int) -> None:
        self._stream = stream
        self.remaining = max(0, length)

    def _size(self, size) -> int:
        return self.remaining if size is None or size < 0 else min(size, self.remaining)

    def read(self, size: int = -1) -> bytes:
        n = self._size(size)
        data = self._stream.read(n) if n else b""
        self.remaining -= len(data)
        return data

    def readinto(self, buf) -> int:
        data = self.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:
        n = self._size(size)
        data = self._stream.readline(n) if n else b""
        self.remaining -= len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self):
        return iter(self.readline, b"")

    def drain(self, limit: int) -> bool:
        """Skip what the handler left unread; False when it is more than ``limit`` or the client went away."""
        if self.remaining > limit:
            return False
        while self.remaining:
            if not self.read(65536):
                return False
        return True


class _Handler(WSGIRequestHandler):
    """werkzeug's handler, with HTTP/1.1 keep-alive; ends the connection (without a response) when the fault
    injector resets it."""

    protocol_version = "HTTP/1.1"
    timeout = KEEP_ALIVE_TIMEOUT
    mtp_abort = False
    _mtp_body: _BodyStream | None = None

    def make_environ(self):
        environ = super().make_environ()
        self._mtp_body = None
        if (not getattr(self.server, "keep_alive", True) or environ.get("wsgi.input_terminated")
                or self.request_version != "HTTP/1.1"):
            self.close_connection = True  # werkzeug's own drain then reads the rest, as before
            return environ
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            self.close_connection = True
            return environ
        # werkzeug drains ``self.rfile`` after the response; bounded, that drain cannot eat the next request
        self._mtp_body = self.rfile = environ["wsgi.input"] = _BodyStream(self.rfile, length)
        return environ

    def run_wsgi(self) -> None:
        rfile = self.rfile
        try:
            super().run_wsgi()
        finally:
            body, self._mtp_body, self.rfile = self._mtp_body, None, rfile
            if body is not None and not self.close_connection and not body.drain(MAX_DRAIN):
                self.close_connection = True

    def send_header(self, keyword, value) -> None:
        # werkzeug sends "Connection: close" on every response; keep the connection unless it must end
        if keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection:
            return
        super().send_header(keyword, value)

    def connection_dropped(self, error, environ=None) -> None:
        if isinstance(error, FaultConnectionReset):
            self.mtp_abort = True
        self.close_connection = True

    def log(self, type, message, *args) -> None:  # noqa: A002 - werkzeug's signature
        LOG.debug("%s %s: " + message, self.server.name, type, *args)


class _Listener(ThreadedWSGIServer):
    request_queue_size = 128

    def __init__(self, host: str, port: int, app, name: str, tls=None, keep_alive: bool = True) -> None:
        self._open: set = set()  # before binding: server_close() runs when binding fails
        self._open_lock = threading.Lock()
        try:
            super().__init__(host, port, app, handler=_Handler)
        except SystemExit as exc:  # werkzeug prints and exits when the port is taken
            raise OSError(f"cannot listen on {host}:{port} ({name} listener)") from exc
        self.name = name
        self.ssl_context = tls  # wsgi.url_scheme is "https" when set; sockets are wrapped per connection
        self.keep_alive = keep_alive
        self.accepted = 0  # connections accepted (TLS handshake done)

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def finish_request(self, request, client_address) -> None:
        conn = request
        if self.ssl_context is not None:
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            except (OSError, ValueError) as exc:
                LOG.debug("%s: TLS handshake with %s failed: %s", self.name, client_address, exc)
                return
            conn.settimeout(None)
        with self._open_lock:
            self.accepted += 1
            self._open.add(conn)
        handler = None
        try:
            handler = self.RequestHandlerClass(conn, client_address, self)
        finally:
            with self._open_lock:
                self._open.discard(conn)
            if handler is not None and handler.mtp_abort:
                conn.close()  # SO_LINGER 0 was set by the fault injector: the peer gets a RST
            elif conn is not request:
                try:
                    conn.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                conn.close()

    def server_close(self) -> None:
        """Stop listening and end the idle keep-alive connections (their threads are waiting for a request)."""
        super().server_close()
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def describe_tenants(state: EmulatorState) -> list[dict]:
    """The ``tenants`` list of the endpoints file, from the loaded fixture (test-only credentials)."""
    out = []
    for spec in state.fixture.get("tenants", []):
        item = {"id": spec["id"], "domain": spec["domain"], "display_name": spec.get("display_name", spec["domain"]),
                "cloud": spec.get("cloud", "commercial")}
        for key in ("admin_app", "hunting_app"):
            app_spec = spec.get(key)
            if app_spec:
                item[key] = {"client_id": app_spec["app_id"], "client_secret": app_spec.get("client_secret")}
        if spec.get("public_client"):
            item["public_client"] = {"client_id": spec["public_client"]["app_id"]}
        item["users"] = [{"upn": u["upn"], "password": u["password"]} for u in spec.get("users", [])]
        out.append(item)
    return out


def write_json_atomic(path: str, data: dict, mode: int = 0o600) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".endpoints-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class EmulatorServer:
    """The emulator, in-process.

    :param fixture: a fixture dict, a path to a YAML/JSON fixture, or None for the built-in default.
    :param config: an :class:`EmulatorConfig` (faults, token lifetime, lag, ...). ``config.state_file`` (or
        ``persist``) enables persistence: the state is restored from it at start and saved there.
    :param state_dir: where ``ca.pem`` and the leaf live (a temporary directory, removed at stop, when None).
    :param proxy: start the CONNECT proxy.
    :param endpoints_file: write the endpoints JSON there (atomically) once listening; removed at stop.
    :param keep_alive: serve several requests per connection (HTTP/1.1 keep-alive); False closes after each.
    """

    def __init__(self, fixture=None, config: EmulatorConfig | None = None, state_dir: str | None = None, *,
                 host: str = "127.0.0.1", port: int = 0, gov_port: int = 0, imds_port: int = 0,
                 proxy_port: int = 0, proxy: bool = True, persist: str | None = None,
                 request_log: str | None = None, endpoints_file: str | None = None, keep_alive: bool = True) -> None:
        if host not in ALLOWED_HOSTS:
            raise ValueError(f"the emulator binds to {', '.join(ALLOWED_HOSTS)} only, not {host!r}")
        self.fixture = fixture
        self.config = config or EmulatorConfig()
        if persist:
            self.config.state_file = persist
        if request_log:
            self.config.request_log = request_log  # read by faults.install
        self.state_dir = state_dir
        self.host = host
        self.ports = {"main": port, "gov": gov_port, "imds": imds_port, "proxy": proxy_port}
        self.with_proxy = proxy
        self.endpoints_file = endpoints_file
        self.keep_alive = keep_alive
        self.state: EmulatorState | None = None
        self.app = None
        self.certs: certs.CertPaths | None = None
        self.main = self.gov = self.imds = None
        self.proxy: ProxyServer | None = None
        self._threads: list[threading.Thread] = []
        self._own_dir = False
        self._stopping = threading.Event()
        self._dirty = threading.Event()
        self._started = False

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self) -> "EmulatorServer":
        if self._started:
            return self
        if self.state_dir is None:
            self.state_dir = tempfile.mkdtemp(prefix="mtp-emulator-")
            self._own_dir = True
        try:
            self._start()
        except BaseException:
            self._close_listeners()
            if self._own_dir:
                shutil.rmtree(self.state_dir, ignore_errors=True)
            raise
        self._started = True
        if self.endpoints_file:
            write_json_atomic(self.endpoints_file, self.endpoints)
        LOG.info("mtp_emulator listening on %s (gov %s, imds %s, proxy %s)", self.main.url, self.gov.url,
                 self.imds.url, self.proxy.url if self.proxy else "off")
        return self

    def _start(self) -> None:
        self.certs = certs.ensure_certs(self.state_dir)
        fixture = self.fixture
        if isinstance(fixture, (str, os.PathLike)):
            fixture = seed.load_fixture_file(os.fspath(fixture))
        self.state = seed.new_state(copy.deepcopy(fixture) if fixture is not None else None, self.config)
        self.app = create_app(self.state)
        self.app.config["MTP_SERVER"] = self
        tls = self.certs.server_context()
        ka = self.keep_alive
        self.main = _Listener(self.host, self.ports["main"], self._wsgi("main"), "main", tls, keep_alive=ka)
        self.gov = _Listener(self.host, self.ports["gov"], self._wsgi("gov"), "gov", tls, keep_alive=ka)
        self.imds = _Listener(self.host, self.ports["imds"], self._wsgi("imds"), "imds", keep_alive=ka)
        if self.with_proxy:
            self.proxy = ProxyServer((self.host, self.ports["proxy"]), self.state, self._route)
        self.state.config.base_url = self.main.url
        for server in self._servers():
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL},
                                      name=f"mtp-emulator-{getattr(server, 'name', 'proxy')}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.state.config.state_file:
            thread = threading.Thread(target=self._persist_loop, name="mtp-emulator-persist", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._stopping.set()
        stoppers = [threading.Thread(target=s.shutdown, daemon=True) for s in self._servers()]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(timeout=5)
        self._close_listeners()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []
        if self.state.config.state_file:
            self._save()
        if self.endpoints_file and os.path.exists(self.endpoints_file):
            os.unlink(self.endpoints_file)
        if self._own_dir and self.state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        LOG.info("mtp_emulator stopped")

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- facts --------------------------------------------------------------------------------------
    @property
    def ca_path(self) -> str:
        return self.certs.ca_path

    @property
    def base_url(self) -> str:
        return self.main.url

    @property
    def endpoints(self) -> dict:
        """The endpoints-file dict (see docs/developer/architecture.md), plus ``gov_authority_host``."""
        base = self.main.url
        return {
            "base_url": base,
            "authority_host": base,
            "gov_authority_host": self.gov.url,
            "graph_url": base,
            "api_url": base,
            "mde_url": base,
            "imds_url": self.imds.url,
            "proxy_url": self.proxy.url if self.proxy else None,
            "ca_path": self.certs.ca_path,
            "control_url": f"{base}/_emulator",
            "tenants": describe_tenants(self.state),
            "managed_identities": (self.state.extras.get("login") or {}).get("managed_identities"),
        }

    @property
    def connections(self) -> dict:
        """Connections accepted so far, per listener: ``{"main": n, "gov": n, "imds": n}``."""
        return {s.name: s.accepted for s in (self.main, self.gov, self.imds) if s is not None}

    def url(self, path: str) -> str:
        return self.main.url + (path if path.startswith("/") else "/" + path)

    # --- internals ----------------------------------------------------------------------------------
    def _servers(self) -> list:
        return [s for s in (self.main, self.gov, self.imds, self.proxy) if s is not None]

    def _close_listeners(self) -> None:
        for server in self._servers():
            try:
                server.server_close()
            except OSError:
                pass

    def _route(self, host: str, port: int):
        """The proxy's router: the local listener for a tunnelled Microsoft host name, else None."""
        if host not in certs.MICROSOFT_HOSTS:
            return None
        listener = self.gov if host in certs.GOV_LOGIN_HOSTS else self.main
        return (self.host, listener.port)

    def _wsgi(self, listener: str):
        app = self.app
        persisting = bool(self.config.state_file)
        dirty = self._dirty

        def imds_not_found(environ, start_response):
            body = json.dumps({"error": "invalid_request",
                               "error_description": "Only the managed identity endpoints are served here."})
            start_response("404 NOT FOUND", [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(body)))])
            return [body.encode()]

        def wsgi(environ, start_response):
            environ["mtp_emulator.listener"] = listener
            if listener == "gov":
                environ["mtp_emulator.cloud"] = "usgov"
            if listener == "imds" and not (environ.get("PATH_INFO") or "").startswith(IMDS_PATH_PREFIXES):
                return imds_not_found(environ, start_response)
            if persisting and environ.get("REQUEST_METHOD") not in SAFE_METHODS:
                dirty.set()
            return app(environ, start_response)

        return wsgi

    def _save(self) -> None:
        try:
            self.state.save()
        except (RuntimeError, OSError) as exc:  # a dict changed under json.dump: try again next tick
            LOG.debug("state not saved yet: %s", exc)
            self._dirty.set()

    def _persist_loop(self) -> None:
        while not self._stopping.wait(PERSIST_INTERVAL):
            if self._dirty.is_set():
                self._dirty.clear()
                self._save()
