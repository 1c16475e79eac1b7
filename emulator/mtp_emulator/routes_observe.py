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

from flask import Flask, jsonify, request

from .errors import MtpError

HUNTING_PATHS = frozenset({
    "/v1.0/security/runHuntingQuery",
    "/api/advancedhunting/run",
    "/api/advancedqueries/run",
})
KEEP = 1000


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


def register(app: Flask, state) -> None:
    received = collections.deque(maxlen=KEEP)
    lock = threading.Lock()
    counter = itertools.count(1)

    @app.after_request
    def _observe_hunting(response):
        path = request.path.rstrip("/") or "/"
        if request.method == "POST" and path in HUNTING_PATHS:
            try:
                raw = request.get_data(cache=True)
            except Exception:  # a broken stream: record the arrival without a body
                raw = b""
            query, key, span = _extract(raw)
            with lock:
                received.append({"seq": next(counter), "method": request.method, "path": path,
                                 "host": (request.host or "").split(":", 1)[0], "status": response.status_code,
                                 "query": query, "query_key": key, "timespan": span})
        return response

    @app.get("/_emulator/hunting/received")
    def control_hunting_received():
        raw_n = request.args.get("n", "100")
        try:
            n = int(raw_n)
        except ValueError:
            raise MtpError(400, "BadRequest", "'n' must be an integer.") from None
        if n < 0:
            raise MtpError(400, "BadRequest", "'n' must be >= 0.")
        with lock:
            items = list(received)
        items = items[-min(n, KEEP):] if n else []
        return jsonify({"value": items})

    @app.delete("/_emulator/hunting/received")
    def control_hunting_received_clear():
        with lock:
            received.clear()
        return jsonify({"value": []})
