# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Authentication options for modules. Environment variables are read through the argument spec fallbacks.
    DOCUMENTATION = r"""
options:
  auth_method:
    description:
      - How to get tokens from Microsoft Entra ID.
      - V(client_secret) uses an application secret (O(client_secret)).
      - V(certificate) uses a certificate and its private key (O(certificate_path)).
      - V(workload_identity) uses a federated token from O(federated_token_file), such as a Kubernetes
        service account token or a CI system's OIDC token, as the client assertion.
      - V(managed_identity) uses the Azure managed identity of the host that runs the task (system-assigned,
        or user-assigned when O(client_id) is set). Needs the C(azure-identity) Python library.
      - V(azure_cli) uses the account signed in to the Azure CLI (C(az login)). Needs C(azure-identity) and C(az).
      - V(device_code) signs a user in with the device code flow (for accounts that must pass MFA). The refresh
        token is kept in the O(token_cache), so later tasks and runs are silent. The modules' action plugins run
        the sign-in on the controller and show its prompt in the Ansible output; the lookup plugins show it too.
      - V(username_password) signs a user in with O(username) and O(password) (the resource owner password
        flow). Microsoft deprecates this flow and it cannot pass multi-factor authentication, so every use warns;
        prefer V(device_code) for people and an application identity for automation.
      - V(refresh_token) redeems the O(refresh_token) of a user (for example kept in a vault). A rotated refresh
        token sent back by Entra ID is kept only in the O(token_cache) and used by later tasks and runs.
      - V(access_token) uses the bearer token given in O(access_token) as is; it cannot be refreshed.
      - See the collection's C(docs/authentication.md) for which method to use when.
      - The environment variable E(MTP_AUTH_METHOD) is used when the option is not set.
    type: str
    choices: [client_secret, certificate, workload_identity, managed_identity, azure_cli, device_code,
              username_password, refresh_token, access_token]
    default: client_secret
  tenant_id:
    description:
      - The directory (tenant) ID, a GUID, or a verified domain name of the tenant such as
        V(contoso.onmicrosoft.com).
      - Required by every O(auth_method) except V(managed_identity), V(azure_cli) and V(access_token).
      - The environment variable E(AZURE_TENANT_ID) is used when the option is not set.
    type: str
  client_id:
    description:
      - The application (client) ID of the app registration.
      - With O(auth_method=managed_identity), the client ID of a user-assigned identity.
      - The environment variable E(AZURE_CLIENT_ID) is used when the option is not set.
    type: str
  client_secret:
    description:
      - The value of an application secret, for O(auth_method=client_secret).
      - This is the secret's B(value), not its secret ID.
      - The environment variable E(AZURE_CLIENT_SECRET) is used when the option is not set.
    type: str
  certificate_path:
    description:
      - Path to the application's certificate, for O(auth_method=certificate).
      - Either a PEM file holding the private key and the certificate (and optionally its chain), or a
        PFX/PKCS#12 file. The key must be RSA.
      - The environment variable E(AZURE_CLIENT_CERTIFICATE_PATH) is used when the option is not set.
    type: path
  certificate_password:
    description:
      - The password of an encrypted PEM key or PFX file in O(certificate_path).
      - The environment variable E(AZURE_CLIENT_CERTIFICATE_PASSWORD) is used when the option is not set.
    type: str
  send_certificate_chain:
    description:
      - Send the certificate chain (C(x5c) header) with the client assertion, for subject name and issuer
        authentication.
      - The environment variable E(AZURE_CLIENT_SEND_CERTIFICATE_CHAIN) is used when the option is not set.
    type: bool
    default: false
  federated_token_file:
    description:
      - Path to a file holding a federated token (a JWT from a trusted issuer), for
        O(auth_method=workload_identity). The file is read again each time a token is requested, because the
        platform rotates it.
      - The environment variable E(AZURE_FEDERATED_TOKEN_FILE) is used when the option is not set.
    type: path
  access_token:
    description:
      - A bearer token for O(auth_method=access_token). It must be a JWT issued for the API being called; its
        C(exp) claim gives its expiry. An expired token fails the task.
      - The environment variable E(MTP_ACCESS_TOKEN) is used when the option is not set.
    type: str
  username:
    description:
      - The user principal name (V(user@domain)) of the user, for O(auth_method=username_password) (required).
      - With O(auth_method=device_code), the signed-in account to use when the token cache holds several; a
        cache holding several accounts needs it. No cached account for it fails the task (it never falls back
        to another account).
      - With O(auth_method=refresh_token), the user the refresh token must belong to (optional check).
      - The environment variable E(AZURE_USERNAME) is used when the option is not set.
    type: str
  password:
    description:
      - The password of O(username), for O(auth_method=username_password). Never logged.
      - The environment variable E(AZURE_PASSWORD) is used when the option is not set.
    type: str
    version_added: 0.2.0
  refresh_token:
    description:
      - A refresh token of a user, for O(auth_method=refresh_token), issued to O(client_id). Never logged.
      - When Entra ID answers with a new (rotated) refresh token, it is written only to the O(token_cache)
        (mode C(0600)), never to the output or back to the variable; later tasks and runs with the same
        O(refresh_token) use the cached one first. A new value (a fresh token from the vault) starts afresh.
      - The environment variable E(MTP_REFRESH_TOKEN) is used when the option is not set.
    type: str
    version_added: 0.2.0
  device_code_timeout:
    description:
      - With O(auth_method=device_code), how many seconds the controller waits for the user to finish the
        sign-in; then the task fails, saying so. The code itself expires after about 15 minutes at Entra ID.
      - The environment variable E(MTP_DEVICE_CODE_TIMEOUT) is used when the option is not set.
    type: int
    default: 900
    version_added: 0.2.0
  token_cache:
    description:
      - Directory of the token cache, shared by tasks and runs of the same user on the same host. Files are
        created with mode C(0600) in directories with mode C(0700), and hold bearer tokens in clear.
      - One file per cloud, tenant, application, authority host and credential (a keyed hash of the client
        secret, or the certificate thumbprint; the key is the C(.credential-key) file of the directory), so a
        changed or wrong credential never gets a cached token. Processes take turns through a lock, so tasks
        that start together send one token request.
      - With O(auth_method=username_password), one partition per user name and password (a keyed hash); with
        O(auth_method=refresh_token), one per refresh token brought (a keyed hash), holding the rotated one.
      - Set to V(false) to keep tokens in memory only. O(auth_method=device_code) and
        O(auth_method=refresh_token) need a directory.
      - A path that is a file fails the task before any request; a directory that other users can write gets a
        warning.
      - The environment variable E(MTP_TOKEN_CACHE) is used when the option is not set.
    type: raw
    default: ~/.cache/m365.defender
notes:
  - Secrets (O(client_secret), O(certificate_password), O(password), O(refresh_token), O(access_token)) are
    never logged and never appear in error messages.
  - When Entra ID refuses a token, the task fails with the AADSTS code, the tenant, the client ID and the scope,
    and a hint (for example AADSTS7000215, a wrong secret, often the secret ID copied instead of its value).
seealso:
  - name: Create an app to access Microsoft Defender XDR without a user
    description: Register an application and grant it Microsoft Threat Protection permissions.
    link: https://learn.microsoft.com/defender-xdr/api-create-app-web
  - name: Microsoft identity platform client credentials flow
    description: The token request behind O(auth_method=client_secret) and O(auth_method=certificate).
    link: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
  - name: Create an app to access Microsoft Defender XDR on behalf of a user
    description: The public client and delegated permissions behind the user methods.
    link: https://learn.microsoft.com/defender-xdr/api-create-app-user-context
"""

    # Same options for lookup, inventory and other plugins, with env: and vars: sources (never ini: for secrets).
    PLUGINS = r"""
options:
  auth_method:
    description:
      - How to get tokens from Microsoft Entra ID.
      - V(client_secret) uses an application secret (O(client_secret)).
      - V(certificate) uses a certificate and its private key (O(certificate_path)).
      - V(workload_identity) uses a federated token from O(federated_token_file) as the client assertion.
      - V(managed_identity) uses the Azure managed identity of the controller (system-assigned, or
        user-assigned when O(client_id) is set). Needs the C(azure-identity) Python library.
      - V(azure_cli) uses the account signed in to the Azure CLI (C(az login)). Needs C(azure-identity) and C(az).
      - V(device_code) signs a user in with the device code flow; the sign-in message is shown on the
        controller, and the refresh token is kept in the O(token_cache) so later runs are silent.
      - V(username_password) signs a user in with O(username) and O(password); deprecated by Microsoft, it
        cannot pass multi-factor authentication.
      - V(refresh_token) redeems O(refresh_token); a rotated refresh token is kept only in the O(token_cache).
      - V(access_token) uses the bearer token given in O(access_token) as is; it cannot be refreshed.
    type: str
    choices: [client_secret, certificate, workload_identity, managed_identity, azure_cli, device_code,
              username_password, refresh_token, access_token]
    default: client_secret
    env:
      - name: MTP_AUTH_METHOD
    vars:
      - name: mtp_auth_method
  tenant_id:
    description:
      - The directory (tenant) ID, a GUID, or a verified domain name of the tenant.
    type: str
    env:
      - name: AZURE_TENANT_ID
    vars:
      - name: mtp_tenant_id
  client_id:
    description:
      - The application (client) ID; with O(auth_method=managed_identity), a user-assigned identity's client ID.
    type: str
    env:
      - name: AZURE_CLIENT_ID
    vars:
      - name: mtp_client_id
  client_secret:
    description:
      - The value (not the ID) of an application secret, for O(auth_method=client_secret).
    type: str
    env:
      - name: AZURE_CLIENT_SECRET
    vars:
      - name: mtp_client_secret
  certificate_path:
    description:
      - PEM file with the private key and the certificate, or a PFX/PKCS#12 file, for
        O(auth_method=certificate). The key must be RSA.
    type: path
    env:
      - name: AZURE_CLIENT_CERTIFICATE_PATH
    vars:
      - name: mtp_certificate_path
  certificate_password:
    description:
      - The password of an encrypted PEM key or PFX file in O(certificate_path).
    type: str
    env:
      - name: AZURE_CLIENT_CERTIFICATE_PASSWORD
    vars:
      - name: mtp_certificate_password
  send_certificate_chain:
    description:
      - Send the certificate chain (C(x5c) header) with the client assertion.
    type: bool
    default: false
    env:
      - name: AZURE_CLIENT_SEND_CERTIFICATE_CHAIN
    vars:
      - name: mtp_send_certificate_chain
  federated_token_file:
    description:
      - File holding a federated token, for O(auth_method=workload_identity); read again for each token request.
    type: path
    env:
      - name: AZURE_FEDERATED_TOKEN_FILE
    vars:
      - name: mtp_federated_token_file
  access_token:
    description:
      - A bearer token (JWT) for O(auth_method=access_token). An expired token fails the plugin.
    type: str
    env:
      - name: MTP_ACCESS_TOKEN
    vars:
      - name: mtp_access_token
  username:
    description:
      - The user principal name for O(auth_method=username_password); with O(auth_method=device_code), the
        account to use when the token cache holds several (never another one); with
        O(auth_method=refresh_token), the user the token must belong to.
    type: str
    env:
      - name: AZURE_USERNAME
    vars:
      - name: mtp_username
  password:
    description:
      - The password of O(username), for O(auth_method=username_password).
    type: str
    version_added: 0.2.0
    env:
      - name: AZURE_PASSWORD
    vars:
      - name: mtp_password
  refresh_token:
    description:
      - A user's refresh token for O(auth_method=refresh_token); a rotated one is written only to the
        O(token_cache), never back to the variable.
    type: str
    version_added: 0.2.0
    env:
      - name: MTP_REFRESH_TOKEN
    vars:
      - name: mtp_refresh_token
  device_code_timeout:
    description:
      - Seconds to wait for the user to finish a device code sign-in (O(auth_method=device_code)).
    type: int
    default: 900
    version_added: 0.2.0
    env:
      - name: MTP_DEVICE_CODE_TIMEOUT
    vars:
      - name: mtp_device_code_timeout
  token_cache:
    description:
      - Directory of the token cache (files C(0600), directories C(0700)); V(false) keeps tokens in memory only.
      - Partitioned by a keyed hash of the credential, so a wrong or changed credential never gets a cached token.
    type: raw
    default: ~/.cache/m365.defender
    env:
      - name: MTP_TOKEN_CACHE
    vars:
      - name: mtp_token_cache
"""
