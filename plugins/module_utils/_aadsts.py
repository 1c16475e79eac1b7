# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Entra ID (AADSTS) error codes: what they mean and what to do.

``auth_error_from_msal(result, ...)`` turns an MSAL error dict (``error``, ``error_description``,
``error_codes``, ``correlation_id``) into an ``MtpAuthError`` that names the AADSTS code, the tenant, the
client id and the scope, and never a secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpAuthError

SETUP_MODULE = "m365.defender.mtp_aad_app_setup"

# code: (meaning, what to do)
AADSTS = {
    7000215: ("invalid client secret",
              "check client_secret: it is often the secret ID that was copied instead of the secret value"),
    7000222: ("the client secret has expired",
              "rotate the secret (for example with %s) and update client_secret" % SETUP_MODULE),
    7000218: ("the request carries neither a client secret nor a client assertion",
              "set client_secret, or use auth_method=certificate or workload_identity"),
    700016: ("application not found in the directory",
             "check client_id and tenant_id; a new application can take a minute to replicate, try again shortly"),
    700027: ("the client assertion (certificate signature) is invalid",
             "check that certificate_path holds the certificate uploaded to the application and its private key"),
    700024: ("the client assertion is outside its validity window",
             "check the clock of the host that runs the task, or refresh the federated token file"),
    70021: ("no federated identity credential matches the presented assertion",
            "check the federated credential (issuer, subject, audience) of the application"),
    90002: ("tenant not found",
            "check tenant_id, and check cloud: the tenant may live in another national cloud"),
    90038: ("the tenant lives in another national cloud",
            "set cloud (commercial, gcc, gcc_high or dod) to the cloud of the tenant"),
    900023: ("the tenant identifier is not valid",
             "set tenant_id to the directory (tenant) ID GUID or a verified domain name"),
    65001: ("consent is missing for the requested permissions",
            "grant consent for the application's permissions: %s with the delegated permissions in "
            "permissions[].delegated or delegated_presets and consent (type all_principals, or principal with "
            "the users); application permissions are consented by the same module" % SETUP_MODULE),
    70011: ("the requested scope is invalid",
            "check cloud and the resources option: an application asks for <resource>/.default"),
    500011: ("the resource principal was not found in the tenant",
             "the API's service principal is missing: run %s, or check cloud" % SETUP_MODULE),
    50126: ("invalid username or password",
            "check username and password (auth_method=username_password); several wrong passwords lock the account"),
    50076: ("multi-factor authentication is required, which auth_method=username_password cannot pass",
            "use auth_method=device_code, which lets the user complete MFA in a browser, or auth_method=refresh_token "
            "with a refresh token from such a sign-in"),
    50079: ("the user must enrol for multi-factor authentication, which auth_method=username_password cannot do",
            "have the user enrol in a browser, then use auth_method=device_code or auth_method=refresh_token"),
    50034: ("the user account does not exist in the tenant", "check the user name and tenant_id"),
    50053: ("the account is locked (too many failed sign-ins) or the sign-in was blocked",
            "stop retrying with a wrong password, wait for the lockout to end, or ask an administrator to unlock "
            "the account"),
    50057: ("the user account is disabled",
            "ask an administrator to enable the account (accountEnabled), or use another account"),
    53003: ("blocked by Conditional Access", "ask an administrator to review the Conditional Access policies"),
    7000112: ("the application is disabled", "enable the application's service principal in the tenant"),
    70000: ("the grant (refresh token or device code) is invalid or expired, or was issued to another client",
            "bring a refresh token issued to this client_id, or sign in again with auth_method=device_code"),
    70008: ("the refresh token has expired", "bring a new refresh token, or sign in again with auth_method=device_code"),
    700082: ("the refresh token has expired because it was not used",
             "bring a new refresh token, or sign in again with auth_method=device_code"),
    9002313: ("the request is malformed or the refresh token is not valid (revoked, or already redeemed and rotated)",
              "bring a new refresh token, or sign in again with auth_method=device_code"),
    70016: ("the device code sign-in is still pending", "complete the sign-in in the browser"),
    70018: ("the device code is invalid", "start the device code sign-in again"),
    70019: ("the device code has expired", "start the device code sign-in again and finish it sooner"),
    7000114: ("the application is not allowed to use this flow",
              "enable 'Allow public client flows' on the application for device_code, username_password and "
              "refresh_token"),
    50059: ("no tenant information in the request", "set tenant_id"),
}

_CODE_RE = re.compile(r"AADSTS(\d+)")


def describe(code):
    """Return ``(meaning, what_to_do)`` for an AADSTS number (int or str), or ``(None, None)``."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        return None, None
    return AADSTS.get(code, (None, None))


def parse_error(result):
    """Pick the useful parts out of an MSAL/Entra error dict.

    Returns a dict with ``aadsts`` (int or None), ``error``, ``description`` (the first line of
    ``error_description``, without the trace/correlation/timestamp lines) and ``correlation_id``.
    """
    result = result or {}
    codes = result.get("error_codes") or []
    description = result.get("error_description") or ""
    first_line = description.replace("\r\n", "\n").split("\n", 1)[0].strip()
    aadsts = None
    if codes:
        try:
            aadsts = int(codes[0])
        except (TypeError, ValueError):
            aadsts = None
    if aadsts is None:
        match = _CODE_RE.search(description)
        if match:
            aadsts = int(match.group(1))
    return {
        "aadsts": aadsts,
        "error": result.get("error"),
        "description": first_line,
        "correlation_id": result.get("correlation_id"),
    }


def scrub(text, secrets):
    """Replace every occurrence of each non-empty secret in ``text``."""
    for secret in secrets or ():
        if secret and isinstance(secret, str) and len(secret) >= 4:
            text = text.replace(secret, "********")
    return text


def auth_error_from_msal(result, tenant_id=None, client_id=None, scope=None, action="get a token", secrets=None):
    """Build an ``MtpAuthError`` from an MSAL error dict."""
    info = parse_error(result)
    meaning, hint = describe(info["aadsts"])
    parts = []
    if info["aadsts"]:
        parts.append("AADSTS%s" % info["aadsts"])
    if info["error"]:
        parts.append(info["error"])
    head = "Entra ID refused to %s" % action
    if parts:
        head += " (%s)" % ", ".join(parts)
    context = []
    if tenant_id:
        context.append("tenant_id=%s" % tenant_id)
    if client_id:
        context.append("client_id=%s" % client_id)
    if scope:
        context.append("scope=%s" % scope)
    msg = head
    if context:
        msg += " for " + ", ".join(context)
    if meaning:
        msg += ": %s" % meaning
    if info["description"]:
        msg += ". Entra ID said: %s" % info["description"]
    if hint:
        msg += ". What to do: %s" % hint
    if info["correlation_id"]:
        msg += " (correlation id %s)" % info["correlation_id"]
    msg = scrub(msg, secrets)
    return MtpAuthError(msg, aadsts=info["aadsts"], error=info["error"], hint=hint,
                        correlation_id=info["correlation_id"])
