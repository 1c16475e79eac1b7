"""Error bodies of the real services, raised as exceptions anywhere in a handler.

Raise one of these in a route; ``app.py`` turns it into the real wire shape:
- :class:`GraphError`: Microsoft Graph envelope with ``innerError`` (date, request-id, client-request-id).
- :class:`AadError`: Entra ID token-service body (error, error_description "AADSTSnnnn: ...", error_codes, ...).
- :class:`MtpError`: Defender (api.security.microsoft.com) envelope ``{"error": {code, message, target}}``.
"""

from __future__ import annotations

import datetime as _dt
import uuid

from flask import Response, jsonify, request


class EmulatorHTTPError(Exception):
    status = 500

    def __init__(self, status: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def response(self) -> Response:
        resp = jsonify(self.body())
        resp.status_code = self.status
        for k, v in self.headers.items():
            resp.headers[k] = v
        return resp


def _client_request_id() -> str:
    try:
        return request.headers.get("client-request-id") or str(uuid.uuid4())
    except RuntimeError:
        return str(uuid.uuid4())


class GraphError(EmulatorHTTPError):
    def __init__(self, status: int, code: str, message: str, details: list | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(status, message, headers)
        self.code = code
        self.details = details

    def body(self) -> dict:
        request_id = str(uuid.uuid4())
        err = {"code": self.code, "message": self.message}
        if self.details is not None:
            err["details"] = self.details
        err["innerError"] = {
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id,
            "client-request-id": _client_request_id(),
        }
        self.headers.setdefault("request-id", request_id)
        return {"error": err}


class MtpError(EmulatorHTTPError):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(status, message, headers)
        self.code = code

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message,
                          "target": f"|{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}.1.2."}}


class AadError(EmulatorHTTPError):
    """``AadError(400, "invalid_request", 90002, "Tenant 'x' not found. ...")``."""

    def __init__(self, status: int, error: str, code: int, text: str, headers: dict | None = None) -> None:
        super().__init__(status, text, headers)
        self.error = error
        self.code = code
        self.headers.setdefault("Cache-Control", "no-store, no-cache")

    def body(self) -> dict:
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        trace_id = str(uuid.uuid4())
        correlation_id = str(uuid.uuid4())
        self.headers.setdefault("x-ms-request-id", trace_id)
        return {
            "error": self.error,
            "error_description": (f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace_id}\r\n"
                                  f"Correlation ID: {correlation_id}\r\nTimestamp: {now}"),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }
