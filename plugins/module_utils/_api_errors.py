# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The one error path for API answers.

* :func:`parse_error_body` reads the Graph, Defender XDR (MTP) and Defender for Endpoint (MDE) error envelopes,
  ``$batch`` item bodies included; nothing else in the collection parses an error body.
* :func:`api_error` builds the one ``MtpApiError`` for a non-2xx answer, with the permission hint a 403 needs
  (read from the registry in ``_permissions.py``) and the retirement hint of the legacy hunting endpoints.
* :class:`ErrorHandler` gives each API call its context, in the manner of amazon.aws ``AWSErrorHandler``:
  ``@ErrorHandler.common("get incident {incident_id}")`` turns a failure into
  ``"Could not get incident 1234: 404 Not Found from graph GET ..."``; ``list_handler`` and ``deletion_handler``
  also map a 404 to "nothing there".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import functools
import inspect
import re

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpAuthError
from ansible_collections.m365.defender.plugins.module_utils._jwt_claims import decode_claims
from ansible_collections.m365.defender.plugins.module_utils._permissions import needed_permission, user_403_hint

_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
            410: "Gone", 412: "Precondition Failed", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

_LEGACY_HUNTING = (("mtp", r"^/api/advancedhunting/run"), ("mde", r"^/api/advancedqueries/run"))
RETIRED_HINT = ("The legacy hunting endpoint answered %s: Microsoft retires it (stops returning data on 2027-02-01). "
                "Use api: graph (POST /v1.0/security/runHuntingQuery, permission ThreatHunting.Read.All).")


def _is_legacy_hunting(api, path):
    return any(api == r_api and re.search(pattern, path) for r_api, pattern in _LEGACY_HUNTING)


def parse_error_body(body_json, body_text, headers=None):
    """``(code, message, request_id, target, detail_codes)`` from a Graph or MTP/MDE error envelope.

    Graph: ``error.code/message``, ``error.innerError.request-id`` (also ``innererror``), ``error.details[].code``.
    MTP/MDE: ``error.code/message/target`` (``target`` is the tracking id). Headers ``request-id`` /
    ``x-ms-request-id`` fill the request id when the body has none.
    """
    code = message = request_id = target = None
    details = []
    err = body_json.get("error") if isinstance(body_json, dict) else None
    if isinstance(err, dict):
        code = err.get("code")
        if code is not None:
            code = str(code)
        message = err.get("message")
        if isinstance(message, dict):  # some OData services nest {"lang", "value"}
            message = message.get("value")
        target = err.get("target") or None
        inner = err.get("innerError") or err.get("innererror") or {}
        if isinstance(inner, dict):
            request_id = inner.get("request-id") or inner.get("requestId")
        for item in err.get("details") or []:
            if isinstance(item, dict) and item.get("code"):
                details.append(str(item["code"]))
    elif isinstance(err, str):
        message = err
        if isinstance(body_json, dict):
            message = body_json.get("error_description") or err
    elif isinstance(body_json, dict) and body_json.get("message"):
        message = body_json.get("message")
        code = body_json.get("code")
    if not message and body_text and body_json is None:
        message = body_text.strip()[:500]
    if not request_id and headers:
        for name in ("request-id", "x-ms-request-id", "client-request-id"):
            if headers.get(name):
                request_id = headers.get(name)
                break
    return code or None, message or None, request_id or None, target, details


def _token_summary(token_obj):
    """The non-secret claims of an ``AccessToken`` (roles, scp, aud, appid, app name) or ``{}``."""
    if token_obj is None:
        return {}
    try:
        claims = token_obj.claims() if hasattr(token_obj, "claims") else decode_claims(getattr(token_obj, "token", token_obj))
    except (ValueError, TypeError, AttributeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _lower_headers(headers):
    return dict((str(k).lower(), v) for k, v in (headers or {}).items())


def _client_label(claims, client_id):
    name = claims.get("app_displayname")
    ident = claims.get("appid") or client_id or claims.get("azp")
    if name and ident:
        return "%s (%s)" % (name, ident)
    return name or ident or "this client"


def _forbidden(api, method, path, head, token, client_id):
    """``(message, hint)`` of a 403: what the token holds and what the call needs, from the registry."""
    row = needed_permission(api, method, path)
    claims = _token_summary(token)
    parts = [head + ":"]
    if claims:
        desc = "the token for %s has roles [%s]" % (_client_label(claims, client_id), ", ".join(claims.get("roles") or []))
        if claims.get("scp"):
            desc += " and scopes [%s]" % ", ".join(str(claims["scp"]).split())
        parts.append(desc + " (aud %s);" % claims.get("aud", "unknown"))
    hint = None
    user_hint = user_403_hint(row, claims) if row else None
    if user_hint:
        # a signed-in user: the scope may be there and the user's own Defender role missing
        parts.append(("this call needs the delegated scope %s; %s." % (row.scope, user_hint)) if row.scope else user_hint + ".")
        hint = user_hint
    elif row:
        need = row.role
        parts.append("this call needs %s. Grant it with m365.defender.mtp_aad_app_setup (admin consent)." % need)
        hint = "grant %s to the app and consent it (m365.defender.mtp_aad_app_setup)" % need
    if _is_legacy_hunting(api, path):
        hint = (hint + "; " if hint else "") + "if the role is granted, the legacy endpoint may be retired: use api: graph"
    return " ".join(parts), hint


def api_error(api, method, path, status, headers=None, body_json=None, body_text=None, token=None,
              client_id=None, note=None):
    """Build the one ``MtpApiError`` for a non-2xx answer (``path`` below the host). ``token`` is the
    ``AccessToken`` sent: only its claims are read, never its value."""
    method = (method or "").upper()
    code, message, request_id, target, details = parse_error_body(body_json, body_text, _lower_headers(headers))
    reason = _REASONS.get(status, "")
    head = "%s %s from %s %s %s" % (status, reason, api, method, path) if reason else \
        "%s from %s %s %s" % (status, api, method, path)
    service = ": ".join(x for x in (code, message) if x)
    if details:
        service += " [details: %s]" % ", ".join(details)
    hint = None
    if status == 403:
        msg, hint = _forbidden(api, method, path, head, token, client_id)
        if service:
            msg += " Service said: %s" % service
    else:
        msg = head + (": " + service if service else "")
        if status in (404, 410) and _is_legacy_hunting(api, path):
            hint = RETIRED_HINT % status
            msg += ". " + hint
    if request_id:
        msg += " (request-id %s)" % request_id
    elif target:
        msg += " (tracking id %s)" % target
    if note:
        msg += " (%s)" % note
    return MtpApiError(msg, status=status, code=code, request_id=request_id, target=target,
                       body=body_json if body_json is not None else body_text, hint=hint, details=details,
                       service_message=message)


# ---------------------------------------------------------------------------------------------------
# Context for every API call
# ---------------------------------------------------------------------------------------------------

def _describe(description, func, args, kwargs):
    """``description`` formatted with the call's arguments by name (``{incident_id}``); unknown names stay."""
    try:
        bound = inspect.signature(func).bind_partial(*args, **kwargs)
        values = dict(bound.arguments)
    except (TypeError, ValueError):
        values = dict(kwargs)
    try:
        return description.format(**values)
    except (KeyError, IndexError, AttributeError, ValueError):
        return description


def add_context(exc, what):
    """Prefix ``exc``'s message with ``Could not <what>`` (once) and record ``what`` on it."""
    if getattr(exc, "context", None):
        return exc
    exc.context = what
    exc.msg = "Could not %s: %s" % (what, exc.msg)
    exc.args = (exc.msg,)
    return exc


class ErrorHandler:
    """Decorators and a context manager that give API calls their context (see the module docstring).

    Only ``MtpApiError`` and ``MtpAuthError`` get context; configuration errors already name their option.
    """

    @staticmethod
    @contextlib.contextmanager
    def context(what):
        try:
            yield
        except (MtpApiError, MtpAuthError) as exc:
            raise add_context(exc, what)

    @classmethod
    def _wrap(cls, description, on_404=None, absent=False):
        def decorator(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                try:
                    return func(*args, **kwargs)
                except (MtpApiError, MtpAuthError) as exc:
                    if absent and getattr(exc, "status", None) == 404:
                        return on_404() if callable(on_404) else on_404
                    raise add_context(exc, _describe(description, func, args, kwargs))
            return wrapper
        return decorator

    @classmethod
    def common(cls, description):
        """Any failure gets the context ``description``."""
        return cls._wrap(description)

    @classmethod
    def list_handler(cls, description, default=list):
        """As :meth:`common`, and a 404 returns ``default()`` (an empty list unless told otherwise)."""
        return cls._wrap(description, on_404=default, absent=True)

    @classmethod
    def deletion_handler(cls, description):
        """As :meth:`common`, and a 404 returns ``False``: the object is already gone."""
        return cls._wrap(description, on_404=False, absent=True)
