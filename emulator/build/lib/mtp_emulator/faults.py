"""Fault injection, request statistics and the masked request log.

``install(app, state)`` wraps the Flask app's WSGI callable in :class:`FaultMiddleware`. For every request
outside the control plane (``/_emulator/...``) it, in this order:

1. sleeps ``faults.latency_ms``;
2. answers 429 with ``Retry-After: faults.throttle_retry_after`` while a matching ``faults.throttle`` counter
   is above zero (and decrements it);
3. answers 503 with probability ``faults.error_rate[pattern]``;
4. ``faults.reset[pattern] == "before"``: drops the TCP connection with a RST before the handler runs
   (nothing changes); ``"after"``: runs the handler (the state changes), then drops the connection with a RST
   instead of answering;
5. records the request in ``state.stats`` (``METHOD <url rule>`` → status; ``"reset"`` for dropped ones).

Patterns are :func:`fnmatch.fnmatchcase` patterns matched against ``"METHOD /path"`` (no query string), e.g.
``"POST /v1.0/applications*"`` or ``"* /api/advancedhunting/run"``; the first matching pattern wins.
The control plane is exempt from faults and stats, except for patterns whose path names ``/_emulator``
explicitly (``"POST /_emulator/fixture"``): ``"* *"`` never locks the control plane out, but a test can still
make a control-plane call fail, e.g. to observe a reset around a state change without any other route.

Every request, control plane included, goes to the request log (an in-memory ring, and a JSON-lines file when
``state.config.request_log`` is set) with secrets masked. Response bodies are never logged.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import io
import json
import logging
import random
import socket
import struct
import threading
import time
from collections import deque
from urllib.parse import parse_qsl

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from . import app as app_module
from .errors import AadError, EmulatorHTTPError, GraphError, MtpError
from .state import EmulatorState, FaultConfig

LOG = logging.getLogger("mtp_emulator.faults")

CONTROL_PREFIX = "/_emulator"
EXTENSION_KEY = "mtp_emulator.faults"
RULE_ENVIRON_KEY = "mtp_emulator.rule"
MASK = "***"
LOG_RING_SIZE = 2000
MAX_LOGGED_BODY = 64 * 1024

# Keys whose values are masked wherever they appear (form fields, JSON bodies at any depth, query strings).
SECRET_KEYS = frozenset(k.lower() for k in (
    "client_secret", "client_assertion", "assertion", "password", "refresh_token", "device_code", "code",
    "secretText", "access_token", "id_token", "private_key", "certificate_password",
))
# Headers whose values are masked (the scheme of Authorization is kept: "Bearer ***").
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-identity-header"})


class FaultConnectionReset(ConnectionResetError):
    """Raised by the middleware to make the server drop the connection (RST, no response)."""


def mask(value):
    """A copy of a JSON-like value with the values of secret keys replaced by ``***``."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and k.lower() in SECRET_KEYS and v not in (None, "")
                    else mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def mask_header(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} {MASK}" if sep and name.lower().endswith("authorization") else MASK


def _pairs_to_dict(pairs) -> dict:
    out: dict = {}
    for k, v in pairs:
        out[k] = v if k not in out else (out[k] if isinstance(out[k], list) else [out[k]]) + [v]
    return out


def match(patterns: dict, key: str):
    """The value of the first pattern in ``patterns`` that matches ``key`` ("METHOD /path"), else None."""
    for pattern, value in list(patterns.items()):
        if fnmatch.fnmatchcase(key, pattern):
            return value
    return None


def throttle_error(path: str, retry_after: int) -> EmulatorHTTPError:
    headers = {"Retry-After": str(retry_after)}
    fam = app_module.family(path)
    if fam == "graph":
        return GraphError(429, "TooManyRequests", "Please retry again later.", headers=headers)
    if fam in ("mtp", "control"):
        return MtpError(429, "429", "API calls quota exceeded! maximum allowed 45 per 00:01:00", headers=headers)
    return AadError(429, "temporarily_unavailable", 50196,
                    "The server terminated an operation because it encountered a client request loop. "
                    "Please retry later.", headers=headers)


def unavailable_error(path: str) -> EmulatorHTTPError:
    fam = app_module.family(path)
    if fam == "graph":
        return GraphError(503, "serviceNotAvailable",
                          "Service is temporarily unavailable. Please retry after some time.")
    if fam in ("mtp", "control"):
        return MtpError(503, "ServiceUnavailable", "The service is temporarily unavailable. Please retry later.")
    return AadError(503, "temporarily_unavailable", 90033,
                    "A transient error has occurred. Please try again.")


class RequestLog:
    """The masked request log: a ring of recent entries and an optional JSON-lines file."""

    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.Lock()
        self.ring: deque = deque(maxlen=LOG_RING_SIZE)
        self.path = path
        self._warned = False

    def write(self, entry: dict) -> None:
        line = json.dumps(entry, separators=(",", ":"), default=str)
        with self._lock:
            self.ring.append(line)
            if self.path:
                try:
                    with open(self.path, "a", encoding="utf-8") as fh:
                        fh.write(line + "\n")
                except OSError as exc:
                    if not self._warned:
                        LOG.warning("cannot write the request log %s: %s", self.path, exc.strerror)
                        self._warned = True

    def tail(self, n: int) -> list[dict]:
        with self._lock:
            lines = list(self.ring)[-n:] if n > 0 else []
        return [json.loads(line) for line in lines]

    def clear(self) -> None:
        with self._lock:
            self.ring.clear()


class FaultMiddleware:
    """WSGI middleware around the Flask app (see the module docstring)."""

    def __init__(self, flask_app: Flask, wsgi_app, state: EmulatorState) -> None:
        self.flask_app = flask_app
        self.wsgi_app = wsgi_app
        self.state = state
        self.log = RequestLog(getattr(state.config, "request_log", None))
        self._throttle_lock = threading.Lock()
        self._random = random.Random()

    # --- helpers ------------------------------------------------------------------------------------
    def _rule_for(self, environ: dict, path: str) -> str:
        rule = environ.get(RULE_ENVIRON_KEY)
        if rule:
            return rule
        try:
            matched, _ = self.flask_app.url_map.bind_to_environ(environ).match(return_rule=True)
        except HTTPException:
            return path
        return matched.rule

    def _take_throttle(self, throttle: dict, key: str, control: bool = False) -> bool:
        with self._throttle_lock:
            for pattern, remaining in list(throttle.items()):
                if control and not _targets_control(pattern):
                    continue
                if fnmatch.fnmatchcase(key, pattern) and int(remaining) > 0:
                    throttle[pattern] = int(remaining) - 1
                    return True
        return False

    def _capture_body(self, environ: dict):
        """Read a small form/JSON body (and put it back) so it can be logged masked."""
        ctype = (environ.get("CONTENT_TYPE") or "").lower()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if length <= 0:
            return None
        if length > MAX_LOGGED_BODY or not ("json" in ctype or "x-www-form-urlencoded" in ctype):
            return f"<{length} bytes>"
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            if "json" in ctype:
                return mask(json.loads(body or b"null"))
            return mask(_pairs_to_dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
        except (ValueError, UnicodeDecodeError):
            return f"<{len(body)} bytes, unparsable>"

    def _entry(self, environ: dict, method: str, path: str, host: str) -> dict:
        query = environ.get("QUERY_STRING") or ""
        headers = {}
        for key, value in environ.items():
            if key.startswith("HTTP_") and key not in ("HTTP_HOST",):
                name = key[5:].replace("_", "-").lower()
                headers[name] = mask_header(name, value)
        return {
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
            "method": method,
            "path": path,
            "query": mask(_pairs_to_dict(parse_qsl(query, keep_blank_values=True))) if query else {},
            "host": host,
            "listener": environ.get("mtp_emulator.listener"),
            "cloud": environ.get("mtp_emulator.cloud"),
            "headers": headers,
            "body": self._capture_body(environ),
        }

    def _error_response(self, environ: dict, error: EmulatorHTTPError, start_response):
        with self.flask_app.request_context(environ):
            resp = error.response()
        return resp(environ, start_response)

    @staticmethod
    def _reset_connection(environ: dict) -> None:
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        raise FaultConnectionReset("connection reset by the fault injector")

    # --- WSGI ----------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO") or "/"
        host = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "").rsplit(":", 1)[0].lower()
        entry = self._entry(environ, method, path, host)
        started = time.monotonic()
        captured: dict = {}

        def _start_response(status, headers, exc_info=None):
            captured["status"] = int(status.split(None, 1)[0])
            return start_response(status, headers, exc_info)

        def _finish(status, fault=None):
            entry["status"] = status
            entry["fault"] = fault
            entry["ms"] = round((time.monotonic() - started) * 1000, 1)
            self.log.write(entry)

        control = path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")
        faults = self.state.config.faults
        if control:
            faults = _control_faults(faults)
            if faults is None:
                result = self.wsgi_app(environ, _start_response)
                _finish(captured.get("status"))
                return result
        key = f"{method} {path}"
        stats = _NoStats() if control else self.state.stats
        fault = None
        if faults.latency_ms and faults.latency_ms > 0:
            time.sleep(faults.latency_ms / 1000.0)
            fault = "latency"

        error = None
        if faults.throttle and self._take_throttle(faults.throttle, key, control):
            error, fault = throttle_error(path, faults.throttle_retry_after), "throttle"
        elif faults.error_rate:
            rate = match(faults.error_rate, key)
            if rate is not None and self._random.random() < float(rate):
                error, fault = unavailable_error(path), "error_rate"
        if error is not None:
            result = self._error_response(environ, error, _start_response)
            stats.record_request(method, self._rule_for(environ, path), error.status, host)
            _finish(error.status, fault)
            return result

        mode = match(faults.reset, key) if faults.reset else None
        if mode == "before":
            stats.record_request(method, self._rule_for(environ, path), "reset", host)
            _finish(None, "reset-before")
            self._reset_connection(environ)

        result = self.wsgi_app(environ, _start_response)
        if mode == "after":
            try:  # let a streamed handler run to its end: the change is committed
                for _ in result:
                    pass
            finally:
                if hasattr(result, "close"):
                    result.close()
            stats.record_request(method, self._rule_for(environ, path), "reset", host)
            _finish(captured.get("status"), "reset-after")
            self._reset_connection(environ)

        stats.record_request(method, self._rule_for(environ, path), captured.get("status", 500), host)
        _finish(captured.get("status"), fault)
        return result


class _NoStats:
    """Control-plane requests are not counted in the stats."""

    def record_request(self, *args, **kwargs) -> None:
        pass


def _targets_control(pattern: str) -> bool:
    return pattern.partition(" ")[2].startswith(CONTROL_PREFIX)


def _control_faults(faults: FaultConfig) -> FaultConfig | None:
    """The faults that apply to a control-plane request: only patterns naming ``/_emulator`` explicitly
    (so ``"* *"`` never locks the control plane out); no latency. None when there are none."""
    picked = {
        name: {p: v for p, v in getattr(faults, name).items() if _targets_control(p)}
        for name in ("error_rate", "reset", "throttle")
    }
    if not any(picked.values()):
        return None
    # the throttle dict is shared so that counters decrement in the live settings
    return FaultConfig(latency_ms=0, error_rate=picked["error_rate"], reset=picked["reset"],
                       throttle=faults.throttle if picked["throttle"] else {},
                       throttle_retry_after=faults.throttle_retry_after)


def _remember_rule(endpoint, values) -> None:
    """Store the matched URL rule in the environ so the middleware records ``METHOD <rule>``."""
    if request.url_rule is not None:
        request.environ[RULE_ENVIRON_KEY] = request.url_rule.rule


def install(app: Flask, state: EmulatorState) -> FaultMiddleware:
    app.url_value_preprocessor(_remember_rule)
    middleware = FaultMiddleware(app, app.wsgi_app, state)
    app.wsgi_app = middleware
    app.extensions[EXTENSION_KEY] = middleware
    return middleware


def get_middleware(app: Flask) -> FaultMiddleware | None:
    return app.extensions.get(EXTENSION_KEY)
