# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. National-cloud presets and endpoint resolution.

``resolve_endpoints(adapter)`` starts from the preset named by ``cloud`` and applies the ``authority_host``,
``api_url``, ``graph_url``, ``mde_url`` and ``resources`` overrides. The MTP and MDE token audiences of the
US government clouds are not published by Microsoft: the presets use the API host URI, and ``resources``
overrides them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

RESOURCES = ("graph", "mtp", "mde")

CLOUDS = {
    "commercial": {
        "authority_host": "https://login.microsoftonline.com",
        "graph_url": "https://graph.microsoft.com",
        "api_url": "https://api.security.microsoft.com",
        "mde_url": "https://api.securitycenter.microsoft.com",
        "graph_resource": "https://graph.microsoft.com",
        "mtp_resource": "https://api.security.microsoft.com",
        "mde_resource": "https://api.securitycenter.microsoft.com",
    },
    "gcc": {
        "authority_host": "https://login.microsoftonline.com",
        "graph_url": "https://graph.microsoft.com",
        "api_url": "https://api-gcc.security.microsoft.us",
        "mde_url": "https://api-gcc.securitycenter.microsoft.us",
        "graph_resource": "https://graph.microsoft.com",
        "mtp_resource": "https://api-gcc.security.microsoft.us",  # unverified
        "mde_resource": "https://api-gcc.securitycenter.microsoft.us",  # unverified
    },
    "gcc_high": {
        "authority_host": "https://login.microsoftonline.us",
        "graph_url": "https://graph.microsoft.us",
        "api_url": "https://api-gov.security.microsoft.us",
        "mde_url": "https://api-gov.securitycenter.microsoft.us",
        "graph_resource": "https://graph.microsoft.us",
        "mtp_resource": "https://api-gov.security.microsoft.us",  # unverified
        "mde_resource": "https://api-gov.securitycenter.microsoft.us",  # unverified
    },
    "dod": {
        "authority_host": "https://login.microsoftonline.us",
        "graph_url": "https://dod-graph.microsoft.us",
        "api_url": "https://api-gov.security.microsoft.us",
        "mde_url": "https://api-gov.securitycenter.microsoft.us",
        "graph_resource": "https://dod-graph.microsoft.us",
        "mtp_resource": "https://api-gov.security.microsoft.us",  # unverified
        "mde_resource": "https://api-gov.securitycenter.microsoft.us",  # unverified
    },
}

DEFAULT_CLOUD = "commercial"

# Hosts MSAL knows without an instance-discovery call.
KNOWN_AUTHORITY_HOSTS = frozenset((
    "login.microsoftonline.com", "login.microsoftonline.us", "login.microsoft.com", "login.windows.net",
    "login.sts.microsoft.com", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
    "login.microsoftonline.de", "login-us.microsoftonline.com",
))

_URL_OPTIONS = (("authority_host", "authority_host"), ("graph_url", "graph_url"),
                ("api_url", "api_url"), ("mde_url", "mde_url"))


class Endpoints(namedtuple("Endpoints", ["authority_host", "graph_url", "api_url", "mde_url", "graph_resource",
                                         "mtp_resource", "mde_resource", "cloud"])):
    """Where to get tokens and call the APIs. URLs carry no trailing slash."""

    __slots__ = ()

    def resource_uri(self, resource):
        if resource not in RESOURCES:
            raise MtpConfigError("Unknown API %r: expected one of %s" % (resource, ", ".join(RESOURCES)))
        return getattr(self, resource + "_resource")

    def scope(self, resource):
        """The ``.default`` scope of ``resource`` (``graph``, ``mtp`` or ``mde``)."""
        return self.resource_uri(resource) + "/.default"

    def base_url(self, resource):
        return {"graph": self.graph_url, "mtp": self.api_url, "mde": self.mde_url}[resource]

    @property
    def authority_is_known(self):
        return (urlsplit(self.authority_host).hostname or "").lower() in KNOWN_AUTHORITY_HOSTS

    def authority(self, tenant_id):
        return "%s/%s" % (self.authority_host, tenant_id)


def normalize_url(value, option, allow_path=True):
    """Validate an https URL option and strip the trailing slash. Errors name ``option``."""
    if not isinstance(value, str) or not value.strip():
        raise MtpConfigError("%s must be an https:// URL, got %r" % (option, value), option=option)
    value = value.strip()
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise MtpConfigError("%s is not a valid URL: %r" % (option, value), option=option)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise MtpConfigError("%s must be an https:// URL with a host name, got %r" % (option, value), option=option)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise MtpConfigError("%s must not carry credentials, a query or a fragment" % option, option=option)
    if not allow_path and parts.path.strip("/"):
        raise MtpConfigError("%s must be a host URL without a path (like https://login.microsoftonline.com), "
                             "got %r" % (option, value), option=option)
    del port
    return value.rstrip("/")


def resolve_endpoints(adapter):
    """Return the ``Endpoints`` for the options held by ``adapter`` (an ``MtpOptionAdapter``)."""
    cloud = adapter.value("cloud", DEFAULT_CLOUD)
    if cloud not in CLOUDS:
        raise MtpConfigError("cloud must be one of %s, got %r" % (", ".join(sorted(CLOUDS)), cloud), option="cloud")
    values = dict(CLOUDS[cloud])
    for key, option in _URL_OPTIONS:
        override = adapter.value(option)
        if override not in (None, ""):
            values[key] = normalize_url(override, option, allow_path=(key != "authority_host"))
    resources = adapter.value("resources") or {}
    if not isinstance(resources, dict):
        raise MtpConfigError("resources must be a dictionary with the keys %s" % ", ".join(RESOURCES),
                             option="resources")
    for key, value in resources.items():
        if key not in RESOURCES:
            raise MtpConfigError("resources has an unknown key %r: expected %s" % (key, ", ".join(RESOURCES)),
                                 option="resources")
        if value in (None, ""):
            continue
        value = str(value).strip()
        if value.endswith("/.default"):
            value = value[:-len("/.default")]
        if not (value.startswith("https://") or value.startswith("api://")) and not is_guid(value):
            raise MtpConfigError("resources.%s must be an https:// or api:// resource URI or an application ID, "
                                 "got %r" % (key, value), option="resources")
        values[key + "_resource"] = value.rstrip("/")
    return Endpoints(cloud=cloud, **values)


_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


def is_guid(value):
    return isinstance(value, str) and bool(_GUID_RE.match(value))


def is_tenant_id(value):
    """A tenant is named by its GUID or by one of its verified domain names (``contoso.onmicrosoft.com``)."""
    return isinstance(value, str) and (is_guid(value) or bool(_DOMAIN_RE.match(value)))
