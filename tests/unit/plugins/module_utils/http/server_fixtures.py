# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures shared by the HTTP and module tests. A real HTTPS server on 127.0.0.1 (werkzeug in a thread, a trustme CA) scripted per test.

The client under test talks to it over real sockets and TLS; nothing of requests or of the client is mocked.
The token source is a stand-in authenticator (a collaborator, not the unit under test).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import ssl
import threading
import time
from collections import defaultdict, deque

import pytest

trustme = pytest.importorskip("trustme")
werkzeug_serving = pytest.importorskip("werkzeug.serving")
from werkzeug.wrappers import Request, Response  # noqa: E402

from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter  # noqa: E402


def _b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def make_jwt(claims):
    """An unsigned JWT-shaped string (the server here does not verify signatures)."""
    return "%s.%s.%s" % (_b64({"alg": "none", "typ": "JWT"}), _b64(claims), "c2ln")


class FakeToken:
    def __init__(self, token, claims, expires_on):
        self.token = token
        self._claims = claims
        self.expires_on = expires_on

    def claims(self):
        return dict(self._claims)


class StubAuthenticator:
    """Issues tokens ``v1``, ``v2``... per resource; ``force_refresh`` moves to the next version."""

    def __init__(self, roles=("AdvancedHunting.Read.All",), scp=None, appid="11111111-2222-3333-4444-555555555555",
                 lifetime=3600):
        self.lifetime = lifetime
        self.validated = 0
        self.roles = list(roles)
        self.scp = scp
        self.appid = appid
        self.calls = []
        self.version = defaultdict(lambda: 1)

    def get_token(self, resource, force_refresh=False):
        self.calls.append((resource, force_refresh))
        if force_refresh:
            self.version[resource] += 1
        claims = {"aud": "https://%s.example.test" % resource, "appid": self.appid, "roles": self.roles,
                  "ver": self.version[resource], "tid": "00000000-0000-0000-0000-0000000000aa"}
        if self.scp:
            claims["scp"] = self.scp
        return FakeToken(make_jwt(claims), claims, time.time() + self.lifetime)

    def validate(self):
        self.validated += 1


class ScriptedServer:
    """Queued answers per ``(method, path)``; a default handler per path; a log of every request."""

    def __init__(self):
        self.script = defaultdict(deque)
        self.handlers = {}
        self.log = []
        self.batch_script = defaultdict(deque)
        self.batch_log = []
        self.url = None
        self.lock = threading.Lock()

    def queue(self, method, path, status=200, body=None, headers=None, raw=None):
        self.script[(method, path)].append((status, body, headers or {}, raw))

    def queue_item(self, item_id, status=200, body=None, headers=None):
        self.batch_script[item_id].append((status, body, headers or {}))

    def requests_to(self, path):
        return [r for r in self.log if r["path"] == path]

    def __call__(self, environ, start_response):
        req = Request(environ)
        data = req.get_data()
        entry = {"method": req.method, "path": req.path, "args": req.args.to_dict(flat=False), "headers": dict(req.headers),
                 "body": data}
        with self.lock:
            self.log.append(entry)
            queued = self.script.get((req.method, req.path))
            answer = queued.popleft() if queued else None
        if answer is None and req.path == "/v1.0/$batch":
            resp = self._batch(json.loads(data.decode("utf-8")))
        elif answer is None and req.path in self.handlers:
            resp = self.handlers[req.path](req, data, self)
        elif answer is None:
            resp = Response(json.dumps({"echo": data.decode("utf-8") or None}), status=200, content_type="application/json")
        else:
            status, body, headers, raw = answer
            if raw is not None:
                resp = Response(raw, status=status, headers=headers)
            else:
                resp = Response(json.dumps(body) if body is not None else b"", status=status, headers=headers,
                                content_type="application/json" if body is not None else None)
        return resp(environ, start_response)

    def _batch(self, payload):
        reqs = payload["requests"]
        self.batch_log.append([r["id"] for r in reqs])
        out = []
        for item in reversed(reqs):  # Graph answers in any order
            with self.lock:
                queued = self.batch_script.get(item["id"])
                answer = queued.popleft() if queued else None
            status, body, headers = answer if answer else (200, {"id": item["id"], "url": item["url"]}, {})
            out.append({"id": item["id"], "status": status, "headers": headers, "body": body})
        return Response(json.dumps({"responses": out}), status=200, content_type="application/json")


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, cert, str(path)


@pytest.fixture
def server(tls_ca):
    _ca, cert, _path = tls_ca
    app = ScriptedServer()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    srv = werkzeug_serving.make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ctx)
    app.url = "https://127.0.0.1:%d" % srv.server_port
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield app
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


class RecordingDisplay:
    def __init__(self):
        self.warnings = []
        self.messages = []

    def warning(self, msg):
        self.warnings.append(msg)

    def display(self, msg):
        self.messages.append(msg)


@pytest.fixture
def options(server, tls_ca):
    """Options pointing every API at the scripted server, trusting its CA; fast retries."""
    return {
        "auth_method": "access_token", "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "11111111-2222-3333-4444-555555555555",
        "api_url": server.url, "graph_url": server.url, "mde_url": server.url,
        "authority_host": server.url, "ca_path": tls_ca[2], "validate_certs": True, "timeout": 5,
        "retries": {"total": 3, "backoff_base": 0.01, "backoff_max": 0.05, "max_wait": 5},
    }


@pytest.fixture
def make_client(options):
    from ansible_collections.m365.defender.plugins.module_utils._http import MtpClient

    def _make(authenticator=None, display=None, **overrides):
        opts = dict(options)
        opts.update(overrides)
        client = MtpClient(MtpOptionAdapter.from_dict(opts), authenticator=authenticator or StubAuthenticator(),
                           display=display if display is not None else RecordingDisplay())
        return client

    return _make


@pytest.fixture(name="StubAuthenticator")
def fixture_stub_authenticator_class():
    return StubAuthenticator


@pytest.fixture(name="RecordingDisplay")
def fixture_recording_display_class():
    return RecordingDisplay
