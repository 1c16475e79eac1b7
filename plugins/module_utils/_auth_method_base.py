# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. What every authentication method shares.

``AccessToken`` is what ``authenticate()`` returns. ``MtpAuthMethodBase`` holds the options and the offline
checks; ``MsalAuthMethodBase`` adds the MSAL application, the shared session (``_session.build_session``)
wrapped for MSAL in ``_session.TokenHttpClient`` (the ``retries`` policy on token requests), and the persisted
token cache, partitioned by a fingerprint of the credential (``credential()``). msal is imported only when a
token has to come from MSAL: a still-valid cached app token is read from the cache file directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

try:
    import requests.exceptions
except ImportError:  # pragma: no cover - _session.build_session names the missing library
    requests = None

from ansible_collections.m365.defender.plugins.module_utils._aadsts import auth_error_from_msal, describe
from ansible_collections.m365.defender.plugins.module_utils._clouds import is_tenant_id
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._jwt_claims import decode_claims
from ansible_collections.m365.defender.plugins.module_utils._options import SECRET_OPTIONS, token_cache_dir
from ansible_collections.m365.defender.plugins.module_utils._retry import RetryPolicy
from ansible_collections.m365.defender.plugins.module_utils._session import TokenHttpClient, build_session, tls_hint
from ansible_collections.m365.defender.plugins.module_utils._token_cache import TokenCacheStore, import_msal


class AccessToken(object):
    """A bearer token. ``repr()`` never shows the token itself."""

    __slots__ = ("token", "expires_on", "resource", "scope", "source")

    def __init__(self, token, expires_on, resource=None, scope=None, source=None):
        self.token = token
        self.expires_on = int(expires_on)
        self.resource = resource
        self.scope = scope
        self.source = source

    def claims(self):
        """The decoded, unverified payload (``{}`` when the token is not a JWT)."""
        try:
            return decode_claims(self.token)
        except ValueError:
            return {}

    def expires_in(self, now=None):
        return self.expires_on - int(now if now is not None else time.time())

    def __repr__(self):
        return "AccessToken(resource=%r, scope=%r, expires_on=%d, source=%r)" % (
            self.resource, self.scope, self.expires_on, self.source)


def _missing(value):
    return value is None or (isinstance(value, str) and not value.strip())


class MtpAuthMethodBase(object):
    """One ``auth_method``. Subclasses set ``NAME`` and ``REQUIRED`` and implement ``authenticate``."""

    NAME = None
    REQUIRED = ()
    CHECK_TENANT = True  # validate the form of tenant_id when it is set

    def __init__(self, adapter, endpoints, session=None, display=None):
        self.adapter = adapter
        self.endpoints = endpoints
        self._session = session
        self.display = display

    def option(self, name):
        return self.adapter.value(name)

    @property
    def session(self):
        if self._session is None:
            self._session = build_session(self.adapter)
        return self._session

    @property
    def timeout(self):
        return self.option("timeout")

    def validate(self):
        """Check the options offline; raise one ``MtpConfigError`` naming every problem."""
        problems = []
        for name in self.REQUIRED:
            if _missing(self.option(name)):
                problems.append((name, "%s is required" % name))
        tenant_id = self.option("tenant_id")
        if self.CHECK_TENANT and not _missing(tenant_id) and not is_tenant_id(str(tenant_id).strip()):
            problems.append(("tenant_id", "tenant_id must be the directory (tenant) ID, a GUID like "
                                          "00000000-0000-0000-0000-000000000000, or a domain like "
                                          "contoso.onmicrosoft.com; got %r" % tenant_id))
        self._validate_more(problems)
        if problems:
            raise MtpConfigError("auth_method=%s: %s" % (self.NAME, "; ".join(p[1] for p in problems)),
                                 option=problems[0][0])

    def _validate_more(self, problems):
        """Subclasses append ``(option, message)`` pairs."""

    def authenticate(self, resource, force_refresh=False):
        raise NotImplementedError()

    @property
    def tenant_id(self):
        value = self.option("tenant_id")
        return value.strip() if isinstance(value, str) else value

    @property
    def client_id(self):
        value = self.option("client_id")
        return value.strip() if isinstance(value, str) else value


class MsalAuthMethodBase(MtpAuthMethodBase):
    """An MSAL application with the shared session, a persisted token cache and AADSTS error mapping."""

    REQUIRED = ("tenant_id", "client_id")

    def __init__(self, adapter, endpoints, session=None, display=None):
        super(MsalAuthMethodBase, self).__init__(adapter, endpoints, session=session, display=display)
        self._app = None
        self._store = None

    # -- subclasses -------------------------------------------------------------------------------------
    def _build_app(self, **kwargs):
        raise NotImplementedError()

    def _secrets(self):
        """Values that must never appear in a message."""
        return [self.option(name) for name in SECRET_OPTIONS]

    def credential(self):
        """What partitions the token cache: ``(kind, value)`` for ``_token_cache.partition_name``, or None."""
        return None

    # -- shared -----------------------------------------------------------------------------------------
    @property
    def store(self):
        if self._store is None:
            self._store = TokenCacheStore(token_cache_dir(self.adapter), self.endpoints.cloud, self.tenant_id,
                                          self.client_id, self.endpoints.authority_host, credential=self.credential())
        return self._store

    @property
    def authority(self):
        return self.endpoints.authority(self.tenant_id)

    def _app_kwargs(self):
        http_client = TokenHttpClient(self.session, RetryPolicy.from_option(self.option("retries")),
                                      tenant_id=self.tenant_id, warn=self._warn,
                                      authority_host=self.endpoints.authority_host)
        kwargs = dict(
            authority=self.authority,
            http_client=http_client,
            token_cache=self.store.cache,
            http_cache=self.store.http_cache,
            timeout=self.timeout,
        )
        if not self.endpoints.authority_is_known:
            kwargs["instance_discovery"] = False
        return kwargs

    def _warn(self, msg):
        func = getattr(self.display, "warning", None) or (self.display if callable(self.display) else None)
        if func is not None:
            func(msg)

    def app(self):
        """The MSAL application (built once; building it may fetch the OpenID configuration)."""
        import_msal()
        if self._app is None:
            self._app = self._call(lambda: self._build_app(**self._app_kwargs()), action="reach the authority")
        return self._app

    def _call(self, func, action="get a token", scope=None):
        """Run an MSAL call; turn transport and authority failures into ``MtpAuthError``."""
        try:
            return func()
        except requests.exceptions.SSLError as exc:
            hint = tls_hint(self.adapter)
            raise MtpAuthError("TLS verification failed talking to the authority %s for tenant_id=%s (%s): %s"
                               % (self.endpoints.authority_host, self.tenant_id, type(exc).__name__, hint),
                               error="tls", hint=hint)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            hint = "check authority_host, the network path and HTTPS_PROXY/NO_PROXY, or raise timeout/retries"
            raise MtpAuthError("Could not %s: the connection to the authority %s failed for tenant_id=%s (%s). %s"
                               % (action, self.endpoints.authority_host, self.tenant_id, type(exc).__name__, hint),
                               error="connection", hint=hint)
        except ValueError as exc:
            text = str(exc)
            if "authority" in text.lower() or "tenant" in text.lower():
                # MSAL re-raises the discovery failure; the one it replaced carries the service's body as text:
                # keep its AADSTS code and meaning
                match = re.search(r"AADSTS(\d+)", "%s %s %s" % (text, exc.__context__, exc.__cause__))
                code = int(match.group(1)) if match else None
                meaning, hint = describe(code) if code else (None, None)
                advice = ("AADSTS%d: %s; %s" % (code, meaning, hint)) if meaning else "Check tenant_id and cloud"
                raise MtpAuthError(
                    "Could not %s: the authority %s did not answer its OpenID configuration for tenant_id=%s. "
                    "%s (cloud=%s)" % (action, self.authority, self.tenant_id, advice, self.endpoints.cloud),
                    aadsts=code, error="invalid_authority", hint=hint or "check tenant_id and cloud")
            raise

    def token_from_result(self, result, resource, scope, action="get a token"):
        if not result:
            raise MtpAuthError("Entra ID returned no token for tenant_id=%s, client_id=%s, scope=%s"
                               % (self.tenant_id, self.client_id, scope))
        if "access_token" not in result:
            raise auth_error_from_msal(result, tenant_id=self.tenant_id, client_id=self.client_id, scope=scope,
                                       action=action, secrets=self._secrets())
        expires_in = int(result.get("expires_in") or 0)
        expires_on = int(time.time()) + expires_in if expires_in else None
        if expires_on is None:
            exp = decode_claims_or_empty(result["access_token"]).get("exp")
            expires_on = int(exp) if exp else int(time.time()) + 300
        return AccessToken(result["access_token"], expires_on, resource=resource, scope=scope,
                           source=result.get("token_source"))

    def drop_cached_access_tokens(self, scope):
        """Forget cached access tokens for ``scope`` so the next acquisition goes to Entra ID."""
        cache = self.store.cache
        wanted = scope.lower()
        for item in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
            targets = (item.get("target") or "").lower().split()
            if wanted in targets and (item.get("client_id") or "").lower() == (self.client_id or "").lower():
                cache.remove_at(item)


def decode_claims_or_empty(token):
    try:
        return decode_claims(token)
    except ValueError:
        return {}


class ConfidentialClientMethod(MsalAuthMethodBase):
    """Client credentials through ``msal.ConfidentialClientApplication``; subclasses give the credential."""

    def client_credential(self):
        raise NotImplementedError()

    def _build_app(self, **kwargs):
        return import_msal().ConfidentialClientApplication(self.client_id, client_credential=self.client_credential(),
                                                           **kwargs)

    def authenticate(self, resource, force_refresh=False):
        scope = self.endpoints.scope(resource)
        if not force_refresh:
            cached = self.store.peek_access_token(scope, self.client_id, self.tenant_id)
            if cached is not None:
                return AccessToken(cached[0], cached[1], resource=resource, scope=scope, source="cache")
        with self.store.transaction():
            app = self.app()
            if force_refresh:
                self.drop_cached_access_tokens(scope)
            result = self._call(lambda: app.acquire_token_for_client([scope]), scope=scope)
        return self.token_from_result(result, resource, scope)


class PublicClientMethod(MsalAuthMethodBase):
    """A user (delegated) method through ``msal.PublicClientApplication``: ``device_code``,
    ``username_password`` and ``refresh_token``. Tokens come from the persisted cache through
    ``acquire_token_silent`` for the account that ``username`` names; a cache holding several accounts and no
    ``username`` fails instead of picking one."""

    def _build_app(self, **kwargs):
        return import_msal().PublicClientApplication(self.client_id, **kwargs)

    @property
    def username(self):
        value = self.option("username")
        return value.strip() if isinstance(value, str) and value.strip() else None

    def _who(self):
        return "tenant_id=%s, client_id=%s" % (self.tenant_id, self.client_id)

    def account(self, app):
        """The cached account for ``username`` (None when there is none); with no ``username``, the only one."""
        accounts = app.get_accounts()
        if self.username:
            wanted = self.username.lower()
            matching = [a for a in accounts if (a.get("username") or "").lower() == wanted]
            return matching[0] if matching else None
        if len(accounts) > 1:
            names = sorted(set(a.get("username") or "?" for a in accounts))
            raise MtpAuthError("auth_method=%s: the token cache holds %d signed-in accounts for %s (%s): set "
                               "username to the one to use" % (self.NAME, len(accounts), self._who(),
                                                               ", ".join(names)),
                               error="account_ambiguous", hint="set username")
        return accounts[0] if accounts else None

    def cached_result(self, app, account, scope, force_refresh=False):
        """MSAL's answer from the cache for ``account`` (a cached access token, or one refreshed with the cached
        refresh token), or None when the cache has nothing for it."""
        return self._call(lambda: app.acquire_token_silent_with_error([scope], account, force_refresh=force_refresh),
                          scope=scope)

    def check_user(self, result):
        """Fail when a new token belongs to another user than ``username``: never use another account silently."""
        claims = result.get("id_token_claims") or {}
        got = claims.get("preferred_username") or claims.get("upn") or claims.get("email")
        if self.username and got and got.lower() != self.username.lower():
            raise MtpAuthError("auth_method=%s: the token is for %s, but username is %s (%s): use that account's "
                               "credentials, or set username to %s" % (self.NAME, got, self.username, self._who(), got),
                               error="wrong_account", hint="check username")
