# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Options shared by modules and plugins.

``MtpOptionAdapter`` gives the auth and HTTP code one way to read options whether they come from a module's
``params``, a plugin's ``get_option`` or a plain dict (after community.hashi_vault's
``HashiVaultOptionAdapter``). The argument specs are built by functions so every caller gets a fresh dict.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.m365.defender.plugins.module_utils._clouds import CLOUDS, DEFAULT_CLOUD
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

AUTH_METHODS = (
    "client_secret", "certificate", "workload_identity", "managed_identity", "azure_cli", "device_code",
    "username_password", "refresh_token", "access_token",
)
# Methods that act for a user (delegated): their tokens carry scp, and username picks the cached account.
USER_METHODS = ("device_code", "username_password", "refresh_token")
DEFAULT_AUTH_METHOD = "client_secret"
DEFAULT_TIMEOUT = 200
DEFAULT_TOKEN_CACHE = "~/.cache/m365.defender"
DEFAULT_DEVICE_CODE_TIMEOUT = 900  # seconds; Entra ID device codes expire after 15 minutes

# Defaults applied when an option is absent or None (argspec defaults do the same for modules).
DEFAULTS = {
    "auth_method": DEFAULT_AUTH_METHOD,
    "cloud": DEFAULT_CLOUD,
    "validate_certs": True,
    "timeout": DEFAULT_TIMEOUT,
    "send_certificate_chain": False,
    "token_cache": DEFAULT_TOKEN_CACHE,
    "device_code_timeout": DEFAULT_DEVICE_CODE_TIMEOUT,
}

SECRET_OPTIONS = ("client_secret", "certificate_password", "access_token", "password", "refresh_token")


class MtpOptionAdapter(object):
    """Read and write options through getter/setter callables."""

    @classmethod
    def from_dict(cls, options):
        return cls(
            getter=options.__getitem__,
            setter=options.__setitem__,
            haver=lambda key: key in options,
            updater=options.update,
            defaultgetter=options.get,
            getitems=lambda: dict(options),
        )

    @classmethod
    def from_ansible_module(cls, module):
        return cls.from_dict(module.params)

    @classmethod
    def from_ansible_plugin(cls, plugin):
        def _has(key):
            if hasattr(plugin, "has_option"):
                return plugin.has_option(key)
            try:
                plugin.get_option(key)
            except KeyError:
                return False
            return True

        def _items():
            return plugin.get_options() if hasattr(plugin, "get_options") else {}

        return cls(getter=plugin.get_option, setter=plugin.set_option, haver=_has, getitems=_items)

    def __init__(self, getter, setter, haver=None, updater=None, defaultgetter=None, getitems=None):
        self._getter = getter
        self._setter = setter
        self._haver = haver
        self._updater = updater
        self._defaultgetter = defaultgetter
        self._getitems = getitems

    def get_option(self, key):
        return self._getter(key)

    def get_option_default(self, key, default=None):
        if self._defaultgetter is not None:
            return self._defaultgetter(key, default)
        try:
            return self.get_option(key)
        except KeyError:
            return default

    def set_option(self, key, value):
        self._setter(key, value)

    def set_option_default(self, key, default=None):
        """Set ``key`` to ``default`` unless it already has a non-None value; return the value."""
        value = self.get_option_default(key, None)
        if value is None:
            self.set_option(key, default)
            value = default
        return value

    def has_option(self, key):
        if self._haver is not None:
            return self._haver(key)
        try:
            self.get_option(key)
        except KeyError:
            return False
        return True

    def set_options(self, **kwargs):
        if self._updater is not None:
            self._updater(kwargs)
        else:
            for key, value in kwargs.items():
                self.set_option(key, value)

    def get_options(self, *args):
        """A dict of the named options (all of them when no name is given); absent options are left out."""
        if not args:
            return dict(self._getitems()) if self._getitems else {}
        return dict((key, self.get_option(key)) for key in args if self.has_option(key))

    def get_filtered_options(self, filter_func, *args):
        """Like ``get_options`` but keeps only the ``(key, value)`` pairs for which ``filter_func`` is true."""
        return dict((k, v) for k, v in self.get_options(*args).items() if filter_func(k, v))

    def get_filled_options(self, *args):
        return self.get_filtered_options(lambda k, v: v is not None, *args)

    def value(self, key, default=None):
        """The option's value; when it is absent or None, ``default`` if given, else the collection default.

        The one way the collection's code reads an option (modules, plugins and plain dicts alike).
        """
        try:
            value = self.get_option_default(key, None)
        except KeyError:  # a plugin without that option
            value = None
        if value is None:
            return DEFAULTS.get(key) if default is None else default
        return value


def auth_argument_spec():
    """Options that select and feed an authentication method (a fresh dict on every call)."""
    return dict(
        auth_method=dict(type="str", choices=list(AUTH_METHODS), default=DEFAULT_AUTH_METHOD,
                         fallback=(env_fallback, ["MTP_AUTH_METHOD"])),
        tenant_id=dict(type="str", fallback=(env_fallback, ["AZURE_TENANT_ID"])),
        client_id=dict(type="str", no_log=False, fallback=(env_fallback, ["AZURE_CLIENT_ID"])),
        client_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["AZURE_CLIENT_SECRET"])),
        certificate_path=dict(type="path", fallback=(env_fallback, ["AZURE_CLIENT_CERTIFICATE_PATH"])),
        certificate_password=dict(type="str", no_log=True,
                                  fallback=(env_fallback, ["AZURE_CLIENT_CERTIFICATE_PASSWORD"])),
        send_certificate_chain=dict(type="bool", default=False,
                                    fallback=(env_fallback, ["AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"])),
        federated_token_file=dict(type="path", no_log=False, fallback=(env_fallback, ["AZURE_FEDERATED_TOKEN_FILE"])),
        access_token=dict(type="str", no_log=True, fallback=(env_fallback, ["MTP_ACCESS_TOKEN"])),
        username=dict(type="str", no_log=False, fallback=(env_fallback, ["AZURE_USERNAME"])),
        password=dict(type="str", no_log=True, fallback=(env_fallback, ["AZURE_PASSWORD"])),
        refresh_token=dict(type="str", no_log=True, fallback=(env_fallback, ["MTP_REFRESH_TOKEN"])),
        device_code_timeout=dict(type="int", default=DEFAULT_DEVICE_CODE_TIMEOUT,
                                 fallback=(env_fallback, ["MTP_DEVICE_CODE_TIMEOUT"])),
        token_cache=dict(type="raw", no_log=False, default=DEFAULT_TOKEN_CACHE,
                         fallback=(env_fallback, ["MTP_TOKEN_CACHE"])),
    )


def connection_argument_spec():
    """Cloud, endpoint overrides, TLS, timeout and retries (a fresh dict on every call)."""
    return dict(
        cloud=dict(type="str", choices=sorted(CLOUDS), default=DEFAULT_CLOUD, fallback=(env_fallback, ["MTP_CLOUD"])),
        authority_host=dict(type="str", fallback=(env_fallback, ["AZURE_AUTHORITY_HOST"])),
        api_url=dict(type="str", fallback=(env_fallback, ["MTP_API_URL"])),
        graph_url=dict(type="str", fallback=(env_fallback, ["MTP_GRAPH_URL"])),
        mde_url=dict(type="str", fallback=(env_fallback, ["MTP_MDE_URL"])),
        resources=dict(type="dict", options=dict(graph=dict(type="str"), mtp=dict(type="str"),
                                                 mde=dict(type="str"))),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["MTP_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["MTP_CA_PATH"])),
        timeout=dict(type="int", default=DEFAULT_TIMEOUT, fallback=(env_fallback, ["MTP_TIMEOUT"])),
        retries=dict(type="raw", fallback=(env_fallback, ["MTP_RETRIES"])),
    )


def common_argument_spec(**extra):
    """``auth_argument_spec()`` + ``connection_argument_spec()`` + ``extra`` (module options), fresh."""
    spec = auth_argument_spec()
    spec.update(connection_argument_spec())
    spec.update(extra)
    return spec


def token_cache_dir(adapter):
    """The token cache directory (expanded), or None when ``token_cache`` is false/disabled."""
    value = adapter.value("token_cache")
    if isinstance(value, bool):
        return os.path.expanduser(DEFAULT_TOKEN_CACHE) if value else None
    if isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            return None
        try:
            as_bool = boolean(stripped, strict=True)
        except TypeError:
            as_bool = None
        if as_bool is False:
            return None
        if as_bool is True:
            return os.path.expanduser(DEFAULT_TOKEN_CACHE)
        return os.path.abspath(os.path.expanduser(os.path.expandvars(stripped)))
    raise MtpConfigError("token_cache must be a directory path, or false to disable the cache", option="token_cache")


def _check_timeout(adapter):
    timeout = adapter.value("timeout")
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = None
    if seconds is None or isinstance(timeout, bool) or seconds <= 0:
        raise MtpConfigError("timeout must be a number of seconds greater than 0, got %r" % (timeout,), option="timeout")


def _check_token_cache(adapter, warn):
    directory = token_cache_dir(adapter)
    if not directory:
        return
    head = directory
    while not os.path.lexists(head):
        parent = os.path.dirname(head)
        if parent == head:
            return
        head = parent
    if not os.path.isdir(head):
        what = "is a file" if head == directory else "lies under %s, which is a file" % head
        raise MtpConfigError("token_cache %s %s, not a directory: point token_cache at a directory (created when "
                             "missing), or set it to false" % (directory, what), option="token_cache")
    if head == directory and warn is not None:
        mode = os.stat(directory).st_mode
        if mode & 0o022:
            warn("token_cache %s can be written by other users (mode %04o): they could replace the cached tokens; "
                 "run chmod 700 on it, or point token_cache at a private directory" % (directory, mode & 0o7777))


def _check_ca_path(adapter):
    ca_path = adapter.value("ca_path")
    if not ca_path or not boolean(adapter.value("validate_certs"), strict=False):
        return
    if os.path.isdir(ca_path):
        return  # an OpenSSL CA directory (c_rehash layout)
    try:
        with open(ca_path, "rb") as handle:
            data = handle.read(16 * 1024 * 1024)
    except OSError as exc:
        raise MtpConfigError("ca_path %s cannot be read (%s): give the PEM file of the CA that signed the service "
                             "certificates" % (ca_path, exc.strerror or exc), option="ca_path")
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise MtpConfigError("ca_path %s is not a PEM bundle (it holds no -----BEGIN CERTIFICATE----- block): give "
                             "the CA certificate(s) in PEM" % ca_path, option="ca_path")


def check_options(adapter, warn=None):
    """Check ``timeout``, ``token_cache`` and ``ca_path`` before any use: ``MtpConfigError`` naming the option.

    ``warn(msg)`` is told of a token cache directory that other users can write.
    """
    _check_timeout(adapter)
    _check_token_cache(adapter, warn)
    _check_ca_path(adapter)
