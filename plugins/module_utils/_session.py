# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The one HTTP session builder, and the retrying HTTP client MSAL uses.

``build_session(adapter)`` makes the ``requests.Session`` of a task: the API calls and MSAL's token requests
go through it, so proxies and TLS trust are the same for both. ``TokenHttpClient`` is what MSAL gets as its
``http_client``: the session, with the retry policy of the API calls (``_retry.RetryPolicy``: 429 with
``Retry-After``, 5xx, resets and timeouts) applied to the token endpoint and the OpenID configuration.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

try:
    import requests
    import requests.exceptions
    from requests.utils import get_environ_proxies
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - exercised by sanity import tests
    HAS_REQUESTS = False

    class _Dummy(object):
        Session = object

    requests = _Dummy()

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpDependencyError
from ansible_collections.m365.defender.plugins.module_utils._retry import RetryPolicy
from ansible_collections.m365.defender.plugins.module_utils._version import USER_AGENT


class _MtpSession(requests.Session):
    """A ``requests.Session`` that never lets the environment override ``verify`` or add netrc credentials.

    ``trust_env`` is False, so ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` cannot replace an explicit ``ca_path``
    or ``validate_certs: false`` (psf/requests#3829) and ``~/.netrc`` cannot replace the bearer header. Proxies
    still come from ``HTTPS_PROXY``/``HTTP_PROXY`` with ``NO_PROXY`` honoured, per request; and with no
    explicit CA, ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` still apply, as in plain requests.
    """

    env_ca_bundle = True

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        env_proxies = get_environ_proxies(url, no_proxy=(proxies or {}).get("no_proxy"))
        merged = dict(env_proxies)
        merged.update(proxies or {})
        if self.env_ca_bundle and self.verify is True and verify in (None, True):
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        return super(_MtpSession, self).merge_environment_settings(url, merged, stream, verify, cert)


def build_session(adapter):
    """A session for every HTTP call of a task (MSAL's too): user agent, TLS trust and proxies.

    ``validate_certs: false`` -> ``verify=False``; else ``ca_path`` -> ``verify=<ca_path>``; else the system
    trust (or ``REQUESTS_CA_BUNDLE``). ``trust_env`` is always False (see ``_MtpSession``).
    """
    if not HAS_REQUESTS:
        raise MtpDependencyError("requests")
    session = _MtpSession()
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    ca_path = adapter.value("ca_path") if adapter is not None else None
    if adapter is not None and not boolean(adapter.value("validate_certs", True), strict=False):
        session.verify = False
    elif ca_path:
        session.verify = ca_path
        session.env_ca_bundle = False
    return session


def transport_kind(exc):
    """``"connect"`` (nothing sent), ``"timeout"``, ``"reset"`` or ``"tls"`` for a requests exception."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError)):
        return "connect"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(exc.args[0]) if exc.args else ""
        if "NewConnectionError" in text or "Failed to establish a new connection" in text or "NameResolutionError" in text:
            return "connect"
        return "reset"
    return "reset"


class TokenHttpClient(object):
    """MSAL's ``http_client``: ``get``/``post`` on the session, retried per the ``retries`` policy.

    Token requests have no side effect, so they are retried like idempotent calls. When the policy gives up
    on a status, ``MtpAuthError`` names the authority host, the tenant and what to do; a transport failure
    that is not retried any more is re-raised for the auth method to word (``_auth_method_base._call``).
    """

    def __init__(self, session, policy=None, tenant_id=None, warn=None, sleep=None, authority_host=None):
        self.session = session
        self.policy = policy if policy is not None else RetryPolicy()
        self.tenant_id = tenant_id
        self.warn = warn
        self.sleep = sleep  # None: _retry.RetryPolicy.run sleeps with time.sleep
        self.retries = 0
        self.authority_host = authority_host

    def get(self, url, **kwargs):
        return self._send("GET", user_realm_url(url, self.authority_host), kwargs)

    def post(self, url, **kwargs):
        return self._send("POST", url, kwargs)

    def close(self):
        self.session.close()

    def _send(self, method, url, kwargs):
        host = "%s://%s" % (urlsplit(url).scheme, urlsplit(url).netloc)

        def attempt_once(attempt):
            try:
                resp = self.session.request(method, url, **kwargs)
            except requests.exceptions.RequestException as exc:
                if transport_kind(exc) == "tls":
                    raise
                return self.policy.classify(None, method=method, idempotent=True, error=transport_kind(exc),
                                            attempt=attempt), exc
            decision = self.policy.classify(resp.status_code, resp.headers, resp.text, method=method,
                                            idempotent=True, attempt=attempt)
            if resp.status_code < 429 or decision.kind is None:  # an answer MSAL reads (AADSTS errors too)
                return None, resp
            return decision, resp

        def give_up(decision, why, attempt, failure):
            if isinstance(failure, BaseException):
                return failure  # re-raised for the auth method to word (_auth_method_base._call)
            return self._gave_up(host, failure, decision.reason, why, attempt)

        def on_retry(decision, attempt, wait, _failure):
            self.retries += 1
            if self.warn is not None and self.policy.retry_action == "warn":
                self.warn("Entra ID %s for tenant_id=%s: %s; retry %d of %d in %.1f s" % (
                    host, self.tenant_id, decision.reason, attempt + 1, self.policy.total, wait))

        return self.policy.run(attempt_once, give_up, on_retry=on_retry, sleep=self.sleep)

    def _gave_up(self, host, resp, reason, why, attempt):
        status = resp.status_code
        if status == 429:
            hint = "Entra ID is throttling this client: run fewer token requests at once (keep token_cache on) or retry later"
        else:
            hint = "Entra ID is unavailable: retry later, or raise retries"
        note = "" if why == reason else "; %s" % why
        return MtpAuthError("Could not get a token: the authority %s answered %d for tenant_id=%s after %d "
                            "retries (%s%s). %s" % (host, status, self.tenant_id, attempt, reason, note, hint),
                            error="authority_unavailable" if status != 429 else "authority_throttled", hint=hint)


def user_realm_url(url, authority_host):
    """``url``, or the user realm URL moved back to ``authority_host`` when that has a port.

    MSAL builds the ROPC user realm discovery URL from the authority's host name alone
    (``https://<host>/common/userrealm/<user>``), dropping the port of an ``authority_host`` such as
    ``https://127.0.0.1:8443`` (docs/developer/reference/toolchain.md, "MSAL behaviours"). Real Entra ID hosts
    have no port, so their URLs are left alone.
    """
    if not authority_host:
        return url
    target, parts = urlsplit(authority_host), urlsplit(url)
    if target.port is None or parts.netloc == target.netloc or not parts.path.startswith("/common/userrealm/"):
        return url
    if (parts.hostname or "").lower() != (target.hostname or "").lower():
        return url
    return "%s://%s%s%s" % (target.scheme, target.netloc, parts.path, "?" + parts.query if parts.query else "")


def tls_hint(adapter):
    """What to do about a failed certificate check, given the task's ``ca_path``."""
    ca_path = adapter.value("ca_path") if adapter is not None else None
    if ca_path:
        return ("ca_path %s does not hold the CA that signed this server's certificate: add that CA to it "
                "(validate_certs: false only for tests)" % ca_path)
    return "set ca_path to the CA that signed the service certificate (validate_certs: false only for tests)"
