"""Clients and their credentials at the token endpoint: which application asks, and how it proves it.

- :func:`client_credentials_from_request`: ``client_id`` / ``client_secret`` from the form or HTTP Basic;
- :func:`find_application`: the app in the tenant, or a multi-tenant app registered elsewhere with a service
  principal here (AADSTS700016 otherwise; an app younger than ``config.replication_lag`` is not found yet);
- :func:`authenticate_client`: secret (AADSTS7000215/7000222), certificate or federated assertion
  (:mod:`.assertions`), or nothing for a public client; returns the ``appidacr`` ("1" secret, "2" assertion,
  "0" public).
"""

from __future__ import annotations

import base64
from urllib.parse import unquote

from flask import request

from ..errors import AadError
from ..state import hash_secret
from . import assertions
from .common import base_url, missing


def client_credentials_from_request(form) -> tuple[str | None, str | None]:
    client_id, secret = form.get("client_id"), form.get("client_secret")
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise AadError(401, "invalid_client", 7000215, "Invalid client secret provided.") from None
        client_id = client_id or unquote(user)
        secret = secret or unquote(password)
    return client_id, secret


def find_application(state, tenant, client_id: str) -> dict:
    application = tenant.directory.application_by_app_id(client_id)
    if application is None:
        # a multi-tenant app registered elsewhere, with a service principal in this tenant
        if tenant.directory.service_principal_by_app_id(client_id) is not None:
            for other in state.tenants.values():
                home = other.directory.application_by_app_id(client_id)
                if home is not None and home.get("signInAudience") != "AzureADMyOrg":
                    return home
        raise AadError(400, "unauthorized_client", 700016,
                       f"Application with identifier '{client_id}' was not found in the directory "
                       f"'{tenant.display_name}'. This can happen if the application has not been installed by "
                       "the administrator of the tenant or consented to by any user in the tenant. You may have "
                       "sent your authentication request to the wrong tenant.")
    return application


def token_urls(tenant) -> list[str]:
    """The token endpoint URLs a client assertion may name as ``aud`` (tenant id, domain or as requested)."""
    base = base_url()
    keys = {tenant.id, tenant.domain, (request.view_args or {}).get("tenant", tenant.id)}
    return [f"{base}/{k}/oauth2/{v}token" for k in keys for v in ("v2.0/", "")]


def authenticate_client(state, tenant, form, *, confidential_required: bool | None):
    """Authenticate the client of a token request; returns (application, client_id, appidacr).

    ``confidential_required``: True (client credentials), None (public clients may send nothing)."""
    client_id, secret = client_credentials_from_request(form)
    if not client_id:
        raise missing("client_id")
    application = find_application(state, tenant, client_id)
    assertion = form.get("client_assertion")
    if secret:
        verify_secret(tenant, application, client_id, secret)
        return application, client_id, "1"
    if assertion:
        if form.get("client_assertion_type") != assertions.ASSERTION_TYPE:
            raise missing("client_assertion_type")
        verify_assertion(state, tenant, application, client_id, assertion)
        return application, client_id, "2"
    if confidential_required or not application.get("isFallbackPublicClient"):
        raise AadError(401, "invalid_client", 7000218,
                       "The request body must contain the following parameter: 'client_assertion' or "
                       "'client_secret'.")
    return application, client_id, "0"


def verify_assertion(state, tenant, application: dict, client_id: str, assertion: str) -> None:
    """A certificate or a federated (workload identity) assertion; the Entra ID error when refused."""
    try:
        header, _ = assertions.unverified_assertion(assertion)
        if assertions.is_federation_assertion(state, header):
            assertions.verify_federated_assertion(state, application, assertion,
                                                  replicated=tenant.directory.replicated)
        else:
            assertions.verify_client_assertion(state, application, client_id, assertion, token_urls(tenant),
                                               replicated=tenant.directory.replicated)
    except assertions.AssertionRejected as exc:
        raise AadError(exc.status, exc.error, exc.code, exc.text) from None


def verify_secret(tenant, application: dict, client_id: str, secret: str) -> None:
    digest = hash_secret(secret)
    for cred in application.get("passwordCredentials") or []:
        if cred.get("_secretHash") != digest or not tenant.directory.replicated(cred):
            continue
        if assertions.credential_expired(cred):
            raise AadError(401, "invalid_client", 7000222,
                           f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure "
                           "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider "
                           "using certificate credentials for added security: https://aka.ms/certCreds.")
        return
    raise AadError(401, "invalid_client", 7000215,
                   "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                   f"secret value, not the client secret ID, for a secret added to app '{client_id}'.")
