# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Cloud, endpoints, TLS, timeout and retries for modules.
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - The Microsoft cloud of the tenant. It sets the login host, the API hosts and the token scopes.
      - V(commercial) is the worldwide cloud; V(gcc) the US Government Community Cloud (worldwide login and
        Graph, C(api-gcc.security.microsoft.us)); V(gcc_high) and V(dod) the US Government clouds
        (C(login.microsoftonline.us)).
      - Microsoft does not publish the token audience of the Defender APIs in the US Government clouds; the
        presets use the API host, and O(resources) overrides it.
      - The environment variable E(MTP_CLOUD) is used when the option is not set.
    type: str
    choices: [commercial, dod, gcc, gcc_high]
    default: commercial
  authority_host:
    description:
      - The Entra ID login host, overriding the one of O(cloud), for example V(https://login.microsoftonline.com).
      - An https URL without a path. Tokens are requested from C(<authority_host>/<tenant_id>).
      - The environment variable E(AZURE_AUTHORITY_HOST) is used when the option is not set.
    type: str
  api_url:
    description:
      - Base URL of the Microsoft Defender XDR (Microsoft Threat Protection) API, overriding the one of
        O(cloud), for example a regional host such as V(https://api-eu.security.microsoft.com).
      - The environment variable E(MTP_API_URL) is used when the option is not set.
    type: str
  graph_url:
    description:
      - Base URL of Microsoft Graph, overriding the one of O(cloud).
      - The environment variable E(MTP_GRAPH_URL) is used when the option is not set.
    type: str
  mde_url:
    description:
      - Base URL of the Microsoft Defender for Endpoint API, overriding the one of O(cloud).
      - The environment variable E(MTP_MDE_URL) is used when the option is not set.
    type: str
  resources:
    description:
      - Token audiences (resource URIs) that replace those of O(cloud); the scope requested is
        C(<resource>/.default).
    type: dict
    suboptions:
      graph:
        description: Resource URI for Microsoft Graph.
        type: str
      mtp:
        description: Resource URI for the Defender XDR API.
        type: str
      mde:
        description: Resource URI for the Defender for Endpoint API.
        type: str
  validate_certs:
    description:
      - Verify TLS certificates. Prefer O(ca_path) to V(false) when a private CA or a TLS-inspecting proxy is
        in the way.
      - The environment variable E(MTP_VALIDATE_CERTS) is used when the option is not set.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA certificates to trust instead of the system ones. When set, the CA settings of the
        environment (E(REQUESTS_CA_BUNDLE), E(CURL_CA_BUNDLE)) are ignored; proxy settings (E(HTTPS_PROXY),
        E(NO_PROXY)) still apply.
      - A path that cannot be read or holds no PEM certificate fails the task before any request.
      - The environment variable E(MTP_CA_PATH) is used when the option is not set.
    type: path
  timeout:
    description:
      - Seconds to wait for a response. The default is above the 3-minute limit of an advanced hunting query.
      - Must be greater than 0.
      - The environment variable E(MTP_TIMEOUT) is used when the option is not set.
    type: int
    default: 200
  retries:
    description:
      - How to retry throttled (429) and transient (5xx, connection) failures. C(Retry-After) is honoured;
        a request that is not idempotent is never retried blindly. Token requests to the authority get the same
        policy.
      - An integer is the number of retries; V(0) disables them.
      - A dictionary sets the policy with the keys C(total) (retries, default V(5)), C(backoff_base) (seconds,
        default V(1)), C(backoff_max) (seconds, default V(60)), C(max_wait) (total seconds spent waiting,
        default V(300)) and C(retry_action) (V(warn) or V(ignore), whether each retry is reported as a warning,
        default V(warn)).
      - When unset, 5 retries with the defaults above.
      - The environment variable E(MTP_RETRIES) is used when the option is not set.
    type: raw
"""

    PLUGINS = r"""
options:
  cloud:
    description:
      - The Microsoft cloud of the tenant; sets the login host, the API hosts and the token scopes.
    type: str
    choices: [commercial, dod, gcc, gcc_high]
    default: commercial
    env:
      - name: MTP_CLOUD
    vars:
      - name: mtp_cloud
  authority_host:
    description:
      - The Entra ID login host (https URL without a path), overriding the one of O(cloud).
    type: str
    env:
      - name: AZURE_AUTHORITY_HOST
    vars:
      - name: mtp_authority_host
  api_url:
    description:
      - Base URL of the Defender XDR API, overriding the one of O(cloud).
    type: str
    env:
      - name: MTP_API_URL
    vars:
      - name: mtp_api_url
  graph_url:
    description:
      - Base URL of Microsoft Graph, overriding the one of O(cloud).
    type: str
    env:
      - name: MTP_GRAPH_URL
    vars:
      - name: mtp_graph_url
  mde_url:
    description:
      - Base URL of the Defender for Endpoint API, overriding the one of O(cloud).
    type: str
    env:
      - name: MTP_MDE_URL
    vars:
      - name: mtp_mde_url
  resources:
    description:
      - Token audiences (resource URIs) that replace those of O(cloud), with the keys C(graph), C(mtp) and C(mde).
    type: dict
    vars:
      - name: mtp_resources
  validate_certs:
    description:
      - Verify TLS certificates.
    type: bool
    default: true
    env:
      - name: MTP_VALIDATE_CERTS
    vars:
      - name: mtp_validate_certs
  ca_path:
    description:
      - PEM file of the CA certificates to trust; environment CA and proxy settings are then ignored.
    type: path
    env:
      - name: MTP_CA_PATH
    vars:
      - name: mtp_ca_path
  timeout:
    description:
      - Seconds to wait for a response; must be greater than 0.
    type: int
    default: 200
    env:
      - name: MTP_TIMEOUT
    vars:
      - name: mtp_timeout
  retries:
    description:
      - Retries of throttled and transient failures; an integer (default V(5)), or a dictionary with the keys
        C(total), C(backoff_base), C(backoff_max), C(max_wait) and C(retry_action).
    type: raw
    env:
      - name: MTP_RETRIES
    vars:
      - name: mtp_retries
"""
