# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The HTTP core: one session, one client, one retry loop, one error translation.

``MtpClient.request(api, method, path, ...)`` sends a call to Microsoft Graph (``api="graph"``), the Defender
XDR / Microsoft Threat Protection API (``"mtp"``) or the Defender for Endpoint API (``"mde"``) with a bearer
token for that resource, retries per ``_retry.RetryPolicy`` (one fresh token on a 401), and raises
``MtpApiError`` for anything that is not 2xx. Paths are relative to the API root: Graph paths get ``/v1.0``
unless they start with ``/v1.0/`` or ``/beta/``; MTP/MDE paths get ``/api`` unless they start with ``/api/``.
Absolute URLs (``@odata.nextLink``) are accepted only on the API's own host, so a token never leaves it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json as _json
import re
import traceback

try:
    import requests
    import requests.exceptions
    from requests.structures import CaseInsensitiveDict
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by sanity import tests
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

    class _Dummy(object):
        Session = object

    requests = _Dummy()

from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.m365.defender.plugins.module_utils._api_errors import api_error
from ansible_collections.m365.defender.plugins.module_utils._clouds import resolve_endpoints
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError, MtpError
from ansible_collections.m365.defender.plugins.module_utils._options import DEFAULT_TIMEOUT
from ansible_collections.m365.defender.plugins.module_utils._permissions import APIS
from ansible_collections.m365.defender.plugins.module_utils._retry import (
    AUTH,
    SERVER,
    THROTTLED,
    Decision,
    RetryPolicy,
    is_idempotent,
)
from ansible_collections.m365.defender.plugins.module_utils._session import build_session, tls_hint
from ansible_collections.m365.defender.plugins.module_utils._session import transport_kind as _transport_kind

BATCH_SIZE = 20
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class MtpResponse:
    """A 2xx answer (or a ``$batch`` item): ``status``, ``headers`` (case-insensitive), ``json`` (parsed body or
    ``None``), ``text``. ``response`` is the ``requests.Response`` for streamed/raw calls."""

    __slots__ = ("status", "headers", "json", "text", "response")

    def __init__(self, status, headers, json=None, text=None, response=None):
        self.status = status
        self.headers = CaseInsensitiveDict(headers or {}) if HAS_REQUESTS else dict(headers or {})
        self.json = json
        self.text = text
        self.response = response

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    def __repr__(self):
        return "MtpResponse(status=%r)" % (self.status,)


def _decode_body(content, content_type):
    """Return ``(text, json)`` from a body; JSON is UTF-8 (RFC 8259) whatever charset guessing would say."""
    if not content:
        return "", None
    text = content.decode("utf-8", "replace")
    if "json" in (content_type or "").lower() or text.lstrip()[:1] in ("{", "["):
        try:
            return text, _json.loads(text)
        except ValueError:
            pass
    return text, None


def _short(exc):
    """A one-line reason for a transport failure (e.g. ``CERTIFICATE_VERIFY_FAILED``), without URLs."""
    text = str(exc)
    match = re.search(r"\[SSL: [A-Z_]+\][^')\"]*|certificate verify failed[^')\"]*|hostname [^')\"]*", text)
    return match.group(0).strip() if match else exc.__class__.__name__


class _Call:
    """One API call as sent, attempt after attempt."""

    __slots__ = ("api", "method", "url", "shown", "params", "body", "headers", "safe", "stream", "keep_text",
                 "refreshed", "token")

    def __init__(self, api, method, url, shown, params, body, headers, safe, stream, keep_text):
        self.api, self.method, self.url, self.shown = api, method, url, shown
        self.params, self.body, self.headers, self.safe = params, body, headers, safe
        self.stream, self.keep_text = stream, keep_text
        self.refreshed = False
        self.token = None


def _success(resp, call):
    """The ``MtpResponse`` of a 2xx answer: parsed, or kept streaming (``stream``) or raw text (``raw``)."""
    if call.stream:
        text = resp.content.decode("utf-8", "replace") if call.keep_text else None
        return MtpResponse(resp.status_code, resp.headers, None, text, response=resp)
    text, parsed = _decode_body(resp.content, resp.headers.get("Content-Type"))
    return MtpResponse(resp.status_code, resp.headers, parsed, text)


class MtpClient:
    """Calls to Graph, MTP and MDE with tokens, retries and error translation. See the module docstring."""

    def __init__(self, adapter, authenticator=None, display=None, session=None, endpoints=None, policy=None):
        self.adapter = adapter
        self.display = display
        self.session = session if session is not None else build_session(adapter)
        self.endpoints = endpoints if endpoints is not None else resolve_endpoints(adapter)
        self._authenticator = authenticator
        self.policy = policy if policy is not None else RetryPolicy.from_option(adapter.value("retries"))
        self.timeout = float(adapter.value("timeout", DEFAULT_TIMEOUT))
        self.sleep = None  # _retry.RetryPolicy.run sleeps (time.sleep unless a test sets this)
        self._tokens = {}
        self.stats = {"requests": 0, "retries": 0, "token_refreshes": 0, "waited": 0.0}

    # -- collaborators ---------------------------------------------------------------------------------

    @property
    def authenticator(self):
        if self._authenticator is None:
            from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
            self._authenticator = MtpAuthenticator(self.adapter, endpoints=self.endpoints, session=self.session,
                                                   display=self.display)
        return self._authenticator

    def _warn(self, msg):
        if self.display is None:
            return
        for name in ("warning", "warn"):
            func = getattr(self.display, name, None)
            if func is not None:
                func(msg)
                return
        if callable(self.display):
            self.display(msg)

    def _token(self, api, force_refresh=False):
        token = self.authenticator.get_token(api, force_refresh=force_refresh)
        self._tokens[api] = token
        return token

    # -- URLs ------------------------------------------------------------------------------------------

    def url(self, api, path):
        """The absolute URL of ``path`` on ``api``; an absolute ``path`` must stay on the API's host."""
        if api not in APIS:
            raise MtpConfigError("Unknown api %r: expected one of %s" % (api, ", ".join(APIS)))
        base = self.endpoints.base_url(api).rstrip("/")
        if re.match(r"^https?://", path, re.IGNORECASE):
            b, p = urlsplit(base), urlsplit(path)
            if (p.scheme.lower(), (p.hostname or "").lower(), p.port) != (b.scheme.lower(), (b.hostname or "").lower(), b.port):
                raise MtpApiError("Refusing to send the %s token to %s://%s: the link is not on %s" % (
                    api, p.scheme, p.netloc, b.netloc), status=None)
            return path
        if not path.startswith("/"):
            path = "/" + path
        base_path = urlsplit(base).path.rstrip("/")
        if api == "graph":
            if not re.match(r"^/(v1\.0|beta)(/|$)", path) and not re.search(r"/(v1\.0|beta)$", base_path):
                path = "/v1.0" + path
        elif not re.match(r"^/api(/|$)", path) and not base_path.endswith("/api"):
            path = "/api" + path
        return base + path

    def _display_path(self, api, url):
        base_path = urlsplit(self.endpoints.base_url(api)).path.rstrip("/")
        path = urlsplit(url).path
        if base_path and path.startswith(base_path):
            path = path[len(base_path):] or "/"
        return path

    # -- the request loop ------------------------------------------------------------------------------

    def request(self, api, method, path, json=None, params=None, headers=None, idempotent=None, stream=False,
                raw=False, data=None):
        """Send one call (retrying per the policy) and return an ``MtpResponse``; raise ``MtpApiError``."""
        method = method.upper()
        url = self.url(api, path)
        send_headers = {"Accept": "application/json"}
        body = data
        if json is not None:
            body = _json.dumps(json, ensure_ascii=False).encode("utf-8")
            send_headers["Content-Type"] = JSON_CONTENT_TYPE
        send_headers.update(headers or {})
        call = _Call(api, method, url, self._display_path(api, url), params, body, send_headers,
                     is_idempotent(method, idempotent), stream or raw, raw and not stream)
        return self.policy.run(lambda attempt: self._attempt(call, attempt), self._give_up,
                               on_retry=lambda decision, attempt, wait, what: self._before_retry(what[0], attempt, wait),
                               sleep=self.sleep)

    def _send(self, call):
        token = self._token(call.api)
        call.headers["Authorization"] = "Bearer " + token.token
        call.token = token
        self.stats["requests"] += 1
        return self.session.request(call.method, call.url, params=call.params, data=call.body, headers=call.headers,
                                    timeout=self.timeout, stream=call.stream, allow_redirects=False)

    def _attempt(self, call, attempt):
        """One attempt of ``call`` (and one fresh token on the first 401): ``(None, MtpResponse)`` when done,
        else ``(decision, (what, failure))`` for :meth:`RetryPolicy.run`."""
        try:
            resp = self._send(call)
        except requests.exceptions.RequestException as exc:
            kind = _transport_kind(exc)
            if kind == "tls":
                hint = tls_hint(self.adapter)
                where = "%s %s" % (call.api, urlsplit(call.url).netloc)
                raise MtpApiError("TLS error talking to %s: %s; %s" % (where, _short(exc), hint), hint=hint)
            decision = self.policy.classify(None, method=call.method, idempotent=call.safe, error=kind, attempt=attempt)
            what = "%s %s %s: %s (%s)" % (call.api, call.method, call.shown, decision.reason, exc.__class__.__name__)
            return decision, (what, None)
        if 200 <= resp.status_code < 300:
            return None, _success(resp, call)
        text, parsed = _decode_body(resp.content, resp.headers.get("Content-Type"))
        decision = self.policy.classify(resp.status_code, resp.headers, text, method=call.method, idempotent=call.safe,
                                        attempt=attempt)
        if decision.kind == AUTH:
            if not call.refreshed:
                call.refreshed = True
                self.stats["token_refreshes"] += 1
                self._token(call.api, force_refresh=True)
                return self._attempt(call, attempt)
            decision = Decision(False, AUTH, None, "still 401 after a fresh token")
        return decision, ("%s %s %s: %s" % (call.api, call.method, call.shown, decision.reason), (resp, text, parsed, call))

    def _give_up(self, decision, why, attempt, context):
        what, answer = context
        if answer is None:  # a transport failure
            return MtpApiError("Could not complete %s: %s" % (what, why) if why != decision.reason
                               else "Could not complete %s" % what, status=None)
        resp, text, parsed, call = answer
        note = why if (decision.retry or attempt or decision.kind == AUTH) else None
        return api_error(call.api, call.method, call.shown, resp.status_code, resp.headers, parsed, text, token=call.token,
                         client_id=self.adapter.value("client_id"), note=note)

    def _before_retry(self, what, attempt, wait):
        self.stats["retries"] += 1
        self.stats["waited"] += wait
        if self.policy.retry_action == "warn":
            self._warn("%s; retry %d of %d in %.1f s" % (what, attempt + 1, self.policy.total, wait))

    def get(self, api, path, params=None, headers=None, **kwargs):
        return self.request(api, "GET", path, params=params, headers=headers, **kwargs)

    def post(self, api, path, json=None, params=None, headers=None, **kwargs):
        return self.request(api, "POST", path, json=json, params=params, headers=headers, **kwargs)

    def patch(self, api, path, json=None, params=None, headers=None, **kwargs):
        return self.request(api, "PATCH", path, json=json, params=params, headers=headers, **kwargs)

    def put(self, api, path, json=None, params=None, headers=None, **kwargs):
        return self.request(api, "PUT", path, json=json, params=params, headers=headers, **kwargs)

    def delete(self, api, path, params=None, headers=None, **kwargs):
        return self.request(api, "DELETE", path, params=params, headers=headers, **kwargs)

    # -- paging and batching ---------------------------------------------------------------------------

    def paginate(self, api, path, params=None, item_key="value", headers=None):
        """Yield the items of ``item_key`` on every page, following ``@odata.nextLink`` until it is absent."""
        resp = self.get(api, path, params=params, headers=headers)
        seen = set()
        while True:
            page = resp.json if isinstance(resp.json, dict) else {}
            yield from page.get(item_key) or []
            link = page.get("@odata.nextLink")
            if not link:
                return
            if link in seen:
                raise MtpApiError("%s %s: the service returned the same @odata.nextLink twice" % (api, path))
            seen.add(link)
            resp = self.get(api, link, headers=headers)

    def batch(self, requests_, api="graph"):
        """Run Graph ``$batch`` items (dicts with ``id``, ``method``, ``url`` relative to the version root,
        optional ``headers``/``body``/``dependsOn``) in chunks of 20; return ``{id: MtpResponse}``.

        Items answered 429 (or 503/504 with ``Retry-After``, or 5xx for idempotent items) are sent again, alone,
        in a new batch after the longest ``Retry-After`` they carry, within the retry policy. An item's final
        status may be any code: callers check ``MtpResponse.ok`` (``batch_error`` builds the error).
        """
        items = []
        ids = set()
        for raw in requests_:
            item = dict(raw)
            item["id"] = str(item["id"])
            item["method"] = item.get("method", "GET").upper()
            if item["id"] in ids:
                raise MtpConfigError("$batch request ids must be unique: %s repeats" % item["id"])
            ids.add(item["id"])
            if "body" in item and item["body"] is not None:
                hdrs = dict(item.get("headers") or {})
                if not any(k.lower() == "content-type" for k in hdrs):
                    hdrs["Content-Type"] = "application/json"
                item["headers"] = hdrs
            items.append(item)
        results = {}
        pending = [items]

        def send(attempt):
            again, wait, reasons = self._batch_round(api, pending[0], results, attempt)
            if not again:
                return None, results
            pending[0] = again
            return Decision(True, THROTTLED, wait, "throttled"), "$batch items %s" % ", ".join(reasons)

        def give_up(_decision, why, _attempt, _what):
            self._warn("$batch: giving up on %d item(s): %s" % (len(pending[0]), why))
            return results

        return self.policy.run(send, give_up, sleep=self.sleep,
                               on_retry=lambda decision, attempt, wait, what: self._before_retry(what, attempt, wait))

    def _batch_round(self, api, pending, results, attempt):
        """Send ``pending`` in chunks of 20; record every answer in ``results``. Returns the items to send again
        (throttled, or 5xx on idempotent items), the longest wait they ask for, and why."""
        again, wait, reasons = [], 0.0, []
        for start in range(0, len(pending), BATCH_SIZE):
            chunk = pending[start:start + BATCH_SIZE]
            sent = [self._batch_item(item, results) for item in chunk]
            resp = self.request(api, "POST", "/$batch", json={"requests": sent},
                                idempotent=all(is_idempotent(item["method"]) for item in sent))
            answers = dict((str(a["id"]), a) for a in (resp.json or {}).get("responses") or []
                           if isinstance(a, dict) and "id" in a)
            for item in chunk:
                answer = answers.get(item["id"])
                if answer is None:
                    raise MtpApiError("$batch answered without item %s" % item["id"], status=resp.status)
                body = answer.get("body")
                text = body if isinstance(body, str) else _json.dumps(body, ensure_ascii=False) if body is not None else ""
                item_resp = MtpResponse(int(answer.get("status", 0)), answer.get("headers") or {},
                                        body if isinstance(body, (dict, list)) else None, text)
                results[item["id"]] = item_resp
                decision = self.policy.classify(item_resp.status, item_resp.headers, text, method=item["method"],
                                                attempt=attempt)
                if decision.retry and decision.kind in (THROTTLED, SERVER):
                    again.append(item)
                    wait = max(wait, self.policy.delay(attempt, decision.retry_after))
                    reasons.append("%s %s" % (item["id"], item_resp.status))
        return again, wait, reasons

    @staticmethod
    def _batch_item(item, results):
        """The item as sent; ``dependsOn`` entries already answered 2xx are dropped (not in this batch)."""
        sent = dict(item)
        deps = [d for d in item.get("dependsOn") or [] if not (d in results and results[d].ok)]
        if deps:
            sent["dependsOn"] = deps
        else:
            sent.pop("dependsOn", None)
        return sent

    def batch_error(self, item, response, api="graph"):
        """The ``MtpApiError`` for a failed ``$batch`` item (``item`` as passed to ``batch``)."""
        path = item.get("url", "")
        if not path.startswith("/"):
            path = "/" + path
        return api_error(api, item.get("method", "GET"), "/v1.0" + path if api == "graph" else path, response.status,
                         response.headers, response.json, response.text, token=self._tokens.get(api),
                         client_id=self.adapter.value("client_id"))


__all__ = ["MtpClient", "MtpResponse", "build_session", "api_error", "MtpError",
           "HAS_REQUESTS", "REQUESTS_IMPORT_ERROR"]
