"""Control plane: what the hunting endpoints received, for tests that check a query arrives byte for byte.

| request | answer |
|---|---|
| ``GET /_emulator/hunting/received?n=N`` | ``{"value": [...]}``: the last N (default 100, at most 1000) hunting requests, oldest first, each ``{"seq", "method", "path", "host", "status", "query", "query_key", "timespan"}``; ``query`` is the ``Query`` (or ``query``) string of the JSON body exactly as decoded from the wire, ``null`` when the body held none or was not JSON |
| ``DELETE /_emulator/hunting/received`` | forget them (``seq`` keeps counting) |

Recorded after the route answered (whatever its status: a KQL error still counts as an arrival); requests that
the fault middleware answers itself (429, 503, reset) never reach the app and are not recorded. Kept in memory
only (not in ``state.extras``, so ``--persist`` does not save them); ``POST /_emulator/reset`` does not clear them.
"""

from __future__ import annotations

import collections
import itertools
import json
import threading

from flask import Flask, current_app, jsonify, request

from .app import Route, add_routes
from .errors import MtpError

HUNTING_PATHS = frozenset({
    "/v1.0/security/runHuntingQuery",
    "/v1.0/security/microsoft.graph.security.runHuntingQuery",
    "/api/advancedhunting/run",
    "/api/advancedqueries/run",
})
KEEP = 1000
EXTENSION_KEY = "mtp_emulator.observe"


class Received:
    """The ring of recorded hunting arrivals of one app (``app.extensions["mtp_emulator.observe"]``)."""

    def __init__(self) -> None:
        self.items: collections.deque = collections.deque(maxlen=KEEP)
        self.lock = threading.Lock()
        self.counter = itertools.count(1)

    def add(self, entry: dict) -> None:
        with self.lock:
            self.items.append({"seq": next(self.counter), **entry})

    def last(self, n: int) -> list[dict]:
        with self.lock:
            items = list(self.items)
        return items[-min(n, KEEP):] if n else []

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


def _extract(raw: bytes):
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, None, None
    if not isinstance(body, dict):
        return None, None, None
    for key in ("Query", "query"):
        if key in body:
            value = body[key]
            span = body.get("Timespan", body.get("timespan"))
            return (value if isinstance(value, str) else None), key, span
    return None, None, body.get("Timespan", body.get("timespan"))


def _received() -> Received:
    return current_app.extensions[EXTENSION_KEY]


def observe_hunting(response):
    """``after_request`` hook: record a POST to a hunting path, whatever its status."""
    path = request.path.rstrip("/") or "/"
    if request.method == "POST" and path in HUNTING_PATHS:
        try:
            raw = request.get_data(cache=True)
        except Exception:  # a broken stream: record the arrival without a body
            raw = b""
        query, key, span = _extract(raw)
        _received().add({"method": request.method, "path": path, "host": (request.host or "").split(":", 1)[0],
                         "status": response.status_code, "query": query, "query_key": key, "timespan": span})
    return response


def control_hunting_received(state):
    raw_n = request.args.get("n", "100")
    try:
        n = int(raw_n)
    except ValueError:
        raise MtpError(400, "BadRequest", "'n' must be an integer.") from None
    if n < 0:
        raise MtpError(400, "BadRequest", "'n' must be >= 0.")
    return jsonify({"value": _received().last(n)})


def control_hunting_received_clear(state):
    _received().clear()
    return jsonify({"value": []})


ROUTES = (
    Route("/_emulator/hunting/received", ("GET",), control_hunting_received),
    Route("/_emulator/hunting/received", ("DELETE",), control_hunting_received_clear),
)


def register(app: Flask, state) -> None:
    app.extensions[EXTENSION_KEY] = Received()
    app.after_request(observe_hunting)
    add_routes(app, state, ROUTES)
