# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``MtpLookupBase``: what every lookup of the collection shares.

After amazon.aws ``AWSLookupBase`` and community.hashi_vault ``HashiVaultLookupBase``: options are read only
through ``get_option`` (``set_options(var_options=variables, direct=kwargs)`` first, see ``mtp_set_options``);
one ``MtpClient`` per distinct set of connection/credential options is kept for the life of the process, and
tokens are cached per process keyed by (cloud, authority, tenant, client, auth method, user, resource) and
renewed 5 minutes before they expire; ``MtpError`` becomes ``AnsibleLookupError`` with the same message text;
device-code sign-in messages go to ``Display().display`` so the user sees them at once. A lookup::

    class LookupModule(MtpLookupBase):
        def run(self, terms, variables=None, **kwargs):
            self.mtp_set_options(variables, **kwargs)
            with self.mtp_errors():
                client = self.mtp_client()
                return [client.get("graph", term).json for term in terms]
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import hashlib
import json
import threading
import time

from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._options import SECRET_OPTIONS, MtpOptionAdapter, check_options

REFRESH_MARGIN = 300

# Options that change which client/credential a cache entry stands for (secrets enter only as a digest).
_CLIENT_KEY_OPTIONS = ("cloud", "authority_host", "api_url", "graph_url", "mde_url", "resources", "tenant_id", "client_id",
                       "auth_method", "username", "certificate_path", "federated_token_file", "token_cache",
                       "validate_certs", "ca_path", "timeout", "retries")

_LOCK = threading.RLock()
_CLIENTS = {}
_TOKENS = {}

display = Display()


class _PluginDisplay(object):
    """Routes HTTP/auth messages to the controller's ``Display``; calling it shows a message at once."""

    def __call__(self, msg):
        display.display(msg)

    def display(self, msg):
        display.display(msg)

    def warning(self, msg):
        display.warning(msg)

    def vvv(self, msg):
        display.vvv(msg)


class CachingAuthenticator(object):
    """Wraps an authenticator; keeps tokens in the process-wide cache until 5 minutes before expiry."""

    def __init__(self, inner, key):
        self.inner = inner
        self.key = key

    def validate(self):
        return self.inner.validate()

    def get_token(self, resource, force_refresh=False):
        key = self.key + (resource,)
        with _LOCK:
            held = _TOKENS.get(key)
        if held is not None and not force_refresh and held.expires_on - REFRESH_MARGIN > time.time():
            return held
        token = self.inner.get_token(resource, force_refresh=force_refresh)
        with _LOCK:
            _TOKENS[key] = token
        return token


def clear_caches():
    """Forget every cached client and token of this process (tests, credential rotation)."""
    with _LOCK:
        _CLIENTS.clear()
        _TOKENS.clear()


def _digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


class MtpLookupBase(LookupBase):
    """Base of the collection's lookups (see the module docstring)."""

    def mtp_set_options(self, variables=None, **kwargs):
        """``set_options(var_options=variables, direct=kwargs)``: call first in ``run()``.

        Lookups get the play's variables untemplated, so the variables this plugin reads (the ``vars:`` of its
        options, such as ``mtp_tenant_id: "{{ tenant.id }}"``) are templated here, before their types are
        applied. Values given directly to the lookup are already templated and are left alone. An option the
        lookup does not declare fails, as it does for the modules.
        """
        self._reject_unknown(kwargs)
        self.set_options(var_options=self._templated_var_options(variables), direct=kwargs)

    def _reject_unknown(self, kwargs):
        definitions = C.config.get_configuration_definitions(self.plugin_type, self._load_name) or {}
        if not definitions:
            return  # nothing declared: ansible-core reports what it cannot place
        known = set(definitions)
        for definition in definitions.values():
            known.update(definition.get("aliases") or [])
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise AnsibleLookupError("Unsupported parameters for (%s) lookup: %s. Supported parameters include: %s."
                                     % (self._load_name, ", ".join(unknown), ", ".join(sorted(known))))

    def _templated_var_options(self, variables):
        if not variables or self._templar is None:
            return variables
        definitions = C.config.get_configuration_definitions(self.plugin_type, self._load_name) or {}
        names = set()
        for definition in definitions.values():
            for entry in definition.get("vars") or []:
                names.add(entry.get("name"))
        return dict((name, self._templar.template(variables[name])) for name in names if name in variables)

    def mtp_adapter(self):
        return MtpOptionAdapter.from_ansible_plugin(self)

    @contextlib.contextmanager
    def mtp_errors(self):
        """Turn ``MtpError`` into ``AnsibleLookupError`` with the same message text."""
        try:
            yield
        except MtpError as exc:
            raise AnsibleLookupError(getattr(exc, "msg", None) or str(exc), orig_exc=exc)

    def _build_authenticator(self, adapter, endpoints, session):
        from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
        return MtpAuthenticator(adapter, endpoints=endpoints, session=session, display=display.display)

    def mtp_client(self):
        """The process-wide ``MtpClient`` for the current options (built on first use)."""
        return cached_client(self.mtp_adapter(), self._build_authenticator)


def cached_client(adapter, build_authenticator):
    """The process-wide ``MtpClient`` for ``adapter``'s options, built on first use with
    ``build_authenticator(adapter, endpoints, session)`` (shared by the lookups and the inventory plugin)."""
    from ansible_collections.m365.defender.plugins.module_utils._clouds import resolve_endpoints
    from ansible_collections.m365.defender.plugins.module_utils._http import MtpClient
    from ansible_collections.m365.defender.plugins.module_utils._session import build_session

    values = dict((name, adapter.value(name)) for name in _CLIENT_KEY_OPTIONS)
    secrets = _digest([adapter.value(name) for name in SECRET_OPTIONS])
    endpoints = resolve_endpoints(adapter)
    token_key = (endpoints.cloud, endpoints.authority_host, values["tenant_id"], values["client_id"],
                 values["auth_method"], values["username"], secrets)
    client_key = (_digest(values), secrets)
    with _LOCK:
        client = _CLIENTS.get(client_key)
    if client is not None:
        return client
    check_options(adapter, warn=display.warning)
    session = build_session(adapter)
    inner = build_authenticator(adapter, endpoints, session)
    inner.validate()
    authenticator = CachingAuthenticator(inner, token_key)
    client = MtpClient(adapter, authenticator=authenticator, display=_PluginDisplay(), session=session,
                       endpoints=endpoints)
    with _LOCK:
        _CLIENTS.setdefault(client_key, client)
        return _CLIENTS[client_key]
