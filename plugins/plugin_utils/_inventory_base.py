# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``MtpInventoryBase``: what an inventory plugin of the collection shares.

After amazon.aws ``AWSInventoryBase`` (``TemplatedOptions``, ``get_cached_result``/``update_cached_result``):

* options come from the inventory file, then the extra variables (``-e``, the ``vars:`` of the auth and
  connection options), then the environment; the credential, endpoint and query options may be Jinja templates
  (``"{{ lookup('env', 'MY_SECRET') }}"``, a vaulted value, an extra variable), rendered when read;
* the client and its token come from the same process-wide cache as the lookups
  (``_lookup_base.cached_client``), read through ``MtpOptionAdapter``;
* ``MtpError`` becomes ``AnsibleParserError`` with the same message text (secrets never enter those messages);
* group names are always made safe (``Finance Dept`` -> ``Finance_Dept``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.group import to_safe_group_name
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter
from ansible_collections.m365.defender.plugins.plugin_utils._lookup_base import cached_client, display

# The options rendered as templates when read (never compose/groups/keyed_groups: those are per-host templates).
TEMPLATED_OPTIONS = frozenset((
    "auth_method", "tenant_id", "client_id", "client_secret", "certificate_path", "certificate_password",
    "send_certificate_chain", "federated_token_file", "access_token", "username", "token_cache", "cloud",
    "authority_host", "api_url", "graph_url", "mde_url", "resources", "validate_certs", "ca_path", "timeout",
    "retries", "filter", "extra_query", "timespan",
))


def _safe_group_name(name):
    return to_safe_group_name(name, force=True, silent=True)


class MtpInventoryBase(BaseInventoryPlugin, Constructable, Cacheable):
    """Base of the collection's inventory plugins (see the module docstring)."""

    INVENTORY_FILE_SUFFIXES = ()
    _sanitize_group_name = staticmethod(_safe_group_name)

    def verify_file(self, path):
        """Only files whose names end in one of ``INVENTORY_FILE_SUFFIXES``."""
        if not super(MtpInventoryBase, self).verify_file(path):
            return False
        if not path.endswith(self.INVENTORY_FILE_SUFFIXES):
            display.vvv("%s: skipping %s, its name does not end in %s"
                        % (self.NAME, path, " or ".join(self.INVENTORY_FILE_SUFFIXES)))
            return False
        return True

    def _render(self, value):
        if self.templar is None or not isinstance(value, (str, dict)):
            return value
        self.templar.available_variables = self._vars or {}
        if isinstance(value, dict):
            return dict((key, self._render(item)) for key, item in value.items())
        return self.templar.template(value)

    def get_option(self, option, hostvars=None):
        value = super(MtpInventoryBase, self).get_option(option, hostvars)
        if option in TEMPLATED_OPTIONS and value is not None:
            try:
                return self._render(value)
            except AnsibleError as exc:  # name the option and the error type, never the (possibly secret) value
                raise AnsibleParserError("%s: the value of option %s is a template that cannot be rendered (%s)"
                                         % (self.NAME.rsplit(".", 1)[-1], option, type(exc).__name__))
        return value

    def mtp_adapter(self):
        return MtpOptionAdapter.from_ansible_plugin(self)

    @staticmethod
    def _build_authenticator(adapter, endpoints, session):
        from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
        return MtpAuthenticator(adapter, endpoints=endpoints, session=session, display=display.display)

    def mtp_client(self):
        """The process-wide ``MtpClient`` for the current options (shared with the lookups)."""
        return cached_client(self.mtp_adapter(), self._build_authenticator)

    @contextlib.contextmanager
    def mtp_errors(self):
        """Turn ``MtpError`` into ``AnsibleParserError`` with the same message text."""
        try:
            yield
        except MtpError as exc:
            raise AnsibleParserError("%s: %s" % (self.NAME.rsplit(".", 1)[-1], getattr(exc, "msg", None) or str(exc)))

    def get_cached_result(self, path, cache):
        """``(True, value)`` from the inventory cache when it is enabled, not flushed and holds this source."""
        if not cache or not self.get_option("cache"):
            return False, None
        try:
            return True, self._cache[self.get_cache_key(path)]
        except KeyError:
            return False, None

    def update_cached_result(self, path, cache, result):
        """Store ``result``, unless it was just read from the cache (that would reset its timeout)."""
        if not self.get_option("cache"):
            return
        key = self.get_cache_key(path)
        if cache and key in self._cache:
            return
        self._cache[key] = result
