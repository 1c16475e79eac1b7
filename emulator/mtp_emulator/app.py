"""The Flask application: one app serves every emulated host (login, Graph, Defender) on one port.

Route modules each expose ``register(app, state)``, which registers their ``ROUTES`` table of flat functions
with :func:`add_routes`. They raise the exceptions of ``errors.py``; the handlers
below turn them into the real wire shapes. Unknown paths and bad methods get the shape of the API family the
path belongs to, never an HTML page or a traceback.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
from typing import Callable, NamedTuple

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from .errors import EmulatorHTTPError, GraphError, MtpError
from .state import EmulatorState

LOG = logging.getLogger("mtp_emulator")

# Route modules, in registration order. A module that is missing is skipped (development convenience).
ROUTE_MODULES = (
    "routes_control",
    "login",
    "graph_directory",
    "routes_graph_batch",
    "routes_graph_security",
    "routes_defender", "routes_incidents_control",
    "routes_machines",
    "routes_indicators", "routes_detection_rules",
    "routes_observe",
    "routes_users",
)


class Route(NamedTuple):
    """One row of a route table: ``view(state, **url_values)`` answers ``methods`` on ``rule``.

    Every route module of the emulator is a set of flat functions and a ``ROUTES`` table of these rows;
    its ``register(app, state)`` calls :func:`add_routes`. Rows that share a view share its endpoint (an
    alias path, e.g. a namespace-qualified Graph action)."""

    rule: str
    methods: tuple
    view: Callable
    endpoint: str | None = None


def add_routes(app: Flask, state, routes) -> None:
    """Register a route table (see :class:`Route`); each view gets the emulator state as first argument."""
    bound: dict = {}
    for route in routes:
        endpoint = route.endpoint or route.view.__name__
        if endpoint not in bound:
            bound[endpoint] = _bind(route.view, state)
        app.add_url_rule(route.rule, endpoint=endpoint, view_func=bound[endpoint], methods=list(route.methods))


def _bind(view: Callable, state) -> Callable:
    @functools.wraps(view)
    def bound(**values):
        return view(state, **values)

    return bound


class MergeSlashes:
    """WSGI middleware: ``/v1.0//applications`` is served as ``/v1.0/applications``, with no redirect.

    SDKs build such paths from a base URL with a trailing slash (msgraph-sdk does, through the proxy too) and
    the real hosts answer them directly; werkzeug would answer 308. It runs outermost, so fault patterns, the
    request log and the statistics all see the canonical path. The path as sent is kept in
    ``environ["mtp_emulator.raw_path"]``."""

    RUNS = re.compile(r"/{2,}")

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or ""
        if "//" in path:
            environ["mtp_emulator.raw_path"] = path
            environ["PATH_INFO"] = self.RUNS.sub("/", path)
        return self.wsgi_app(environ, start_response)


def family(path: str) -> str:
    if path.startswith(("/v1.0/", "/beta/")) or path in ("/v1.0", "/beta"):
        return "graph"
    if path.startswith("/api/") or path == "/api":
        return "mtp"
    if path.startswith("/_emulator"):
        return "control"
    return "login"


def error_for(path: str, status: int, message: str) -> EmulatorHTTPError:
    fam = family(path)
    if fam == "graph":
        codes = {400: "BadRequest", 401: "InvalidAuthenticationToken", 403: "Authorization_RequestDenied",
                 404: "Request_ResourceNotFound", 405: "Request_BadRequest", 415: "BadRequest"}
        if status == 404:
            message = f"Resource not found for the segment '{path.rstrip('/').rsplit('/', 1)[-1]}'."
        if status == 405:
            message = "Specified HTTP method is not allowed for the request target."
        return GraphError(status, codes.get(status, "UnknownError"), message)
    if fam in ("mtp", "control"):
        codes = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                 405: "BadRequest", 415: "InvalidRequestBody"}
        return MtpError(status, codes.get(status, "InternalServerError"), message)
    from .errors import AadError

    if status == 404:
        return AadError(404, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests.")
    return AadError(status, "invalid_request", 900144, message)


def emulator_error(exc: EmulatorHTTPError):
    return exc.response()


def http_error(exc: HTTPException):
    return error_for(request.path, exc.code or 500, exc.description or exc.name).response()


def unexpected_error(exc: Exception):  # never a traceback on the wire
    LOG.exception("unhandled error on %s %s", request.method, request.path)
    return error_for(request.path, 500, "An unexpected error occurred.").response()


def create_app(state: EmulatorState) -> Flask:
    app = Flask("mtp_emulator")
    app.config["MTP_STATE"] = state
    app.json.sort_keys = False  # keep the real property order
    app.url_map.strict_slashes = False

    app.register_error_handler(EmulatorHTTPError, emulator_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)

    for name in ROUTE_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise
            continue
        module.register(app, state)

    try:
        faults = importlib.import_module(f"{__package__}.faults")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.faults":
            raise
    else:
        faults.install(app, state)
    app.wsgi_app = MergeSlashes(app.wsgi_app)
    return app


def request_cloud() -> str:
    """"commercial" or "usgov": which Entra ID / Graph cloud a request reached.

    Through the CONNECT proxy the Host header tells (``*.us`` hosts are US Government); on the explicit
    listeners the server tags the WSGI environ with ``mtp_emulator.cloud`` (the gov login listener).
    """
    tagged = request.environ.get("mtp_emulator.cloud")
    if tagged:
        return tagged
    host = (request.host or "").split(":", 1)[0].lower()
    return "usgov" if host.endswith(".us") else "commercial"


def get_state() -> EmulatorState:
    from flask import current_app

    return current_app.config["MTP_STATE"]
