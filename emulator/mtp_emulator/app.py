"""The Flask application: one app serves every emulated host (login, Graph, Defender) on one port.

Route modules each expose ``register(app, state)``. They raise the exceptions of ``errors.py``; the handlers
below turn them into the real wire shapes. Unknown paths and bad methods get the shape of the API family the
path belongs to, never an HTML page or a traceback.
"""

from __future__ import annotations

import importlib
import logging

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from .errors import EmulatorHTTPError, GraphError, MtpError
from .state import EmulatorState

LOG = logging.getLogger("mtp_emulator")

# Route modules, in registration order. A module that is missing is skipped (development convenience).
ROUTE_MODULES = (
    "routes_control",
    "routes_login",
    "routes_graph_directory",
    "routes_graph_batch",
    "routes_graph_security",
    "routes_defender",
    "routes_observe",
)


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


def create_app(state: EmulatorState) -> Flask:
    app = Flask("mtp_emulator")
    app.config["MTP_STATE"] = state
    app.json.sort_keys = False  # keep the real property order
    app.url_map.strict_slashes = False

    @app.errorhandler(EmulatorHTTPError)
    def _emulator_error(exc: EmulatorHTTPError):
        return exc.response()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error_for(request.path, exc.code or 500, exc.description or exc.name).response()

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # never a traceback on the wire
        LOG.exception("unhandled error on %s %s", request.method, request.path)
        return error_for(request.path, 500, "An unexpected error occurred.").response()

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
