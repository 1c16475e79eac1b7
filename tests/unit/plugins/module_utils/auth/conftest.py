# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the auth tests: a local Entra ID token service on 127.0.0.1 (real TLS, real HTTP).

``mtp_emulator``'s token service (routes_login.py) was not ready when these tests were written, so this is a
small stand-in built on werkzeug + trustme with the wire shapes of docs/developer/reference/defender-api.md §6 (OpenID
configuration, v2 token endpoint for client credentials with a secret or a certificate/federated assertion,
device code, the password grant (ROPC, with users refused for MFA, lockout, a disabled account or missing
consent), rotating refresh tokens, the user realm endpoint, AADSTS error bodies) and an IMDS listener (plain HTTP). It counts every request
so tests can assert how many reach the service. It is a collaborator, not the unit under test: MSAL,
azure-identity and the collection's auth code run for real against it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
import types
import uuid

import jwt
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

TENANT_ID = "11111111-2222-3333-4444-555555555555"
TENANT_DOMAIN = "contoso.onmicrosoft.com"
GOV_TENANT_ID = "99999999-2222-3333-4444-555555555555"
CLIENT_ID = "aaaaaaaa-0000-0000-0000-000000000001"
CLIENT_SECRET = "s3cr3t~Value.ForTestsOnly_0123456789"
CERT_CLIENT_ID = "aaaaaaaa-0000-0000-0000-000000000002"
FED_CLIENT_ID = "aaaaaaaa-0000-0000-0000-000000000003"
PUBLIC_CLIENT_ID = "aaaaaaaa-0000-0000-0000-000000000004"
MI_CLIENT_ID = "aaaaaaaa-0000-0000-0000-000000000005"
FED_ISSUER = "https://token.actions.example"
FED_SUBJECT = "repo:contoso/playbooks:ref:refs/heads/main"
FED_KEY = "federation-signing-key-for-tests-only-0123456789"
SIGNING_KEY = "token-service-signing-key-for-tests-only-0123456789"
USER_UPN = "analyst@contoso.onmicrosoft.com"
USER_OID = "bbbbbbbb-0000-0000-0000-000000000001"
USER_PASSWORD = "Analyst-Pa55w0rd-ForTestsOnly"
SECOND_UPN = "second.analyst@contoso.onmicrosoft.com"
SECOND_OID = "bbbbbbbb-0000-0000-0000-000000000002"
SECOND_PASSWORD = "Second-Pa55w0rd-ForTestsOnly"
NOCONSENT_CLIENT_ID = "aaaaaaaa-0000-0000-0000-000000000006"  # a public client nobody consented to
# upn -> (password, oid, AADSTS code refused with after a right password, or None)
USERS = {
    USER_UPN: (USER_PASSWORD, USER_OID, None),
    SECOND_UPN: (SECOND_PASSWORD, SECOND_OID, None),
    "mfa.user@contoso.onmicrosoft.com": ("Mfa-Pa55w0rd-ForTestsOnly", "bbbbbbbb-0000-0000-0000-000000000003", 50076),
    "enrol.user@contoso.onmicrosoft.com": ("Enrol-Pa55w0rd-ForTestsOnly", "bbbbbbbb-0000-0000-0000-000000000004",
                                           50079),
    "locked.user@contoso.onmicrosoft.com": ("Locked-Pa55w0rd-ForTestsOnly", "bbbbbbbb-0000-0000-0000-000000000005",
                                            50053),
    "disabled.user@contoso.onmicrosoft.com": ("Disabled-Pa55w0rd-ForTestsOnly",
                                              "bbbbbbbb-0000-0000-0000-000000000006", 50057),
}
USER_REFUSALS = {
    50076: ("interaction_required", "Due to a configuration change made by your administrator, or because you "
                                    "moved to a new location, you must use multi-factor authentication to access "
                                    "'%s'."),
    50079: ("interaction_required", "Due to a configuration change made by your administrator, or because you "
                                    "moved to a new location, you must enroll in multi-factor authentication to "
                                    "access '%s'."),
    50053: ("invalid_grant", "Your account is locked because you've tried to sign in too many times with an "
                             "incorrect user ID or password (%s)."),
    50057: ("invalid_grant", "The user account is disabled (%s)."),
}
KNOWN_RESOURCES = ("https://graph.microsoft.com", "https://api.security.microsoft.com",
                   "https://api.securitycenter.microsoft.com", "https://graph.microsoft.us",
                   "https://api-gov.security.microsoft.us")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def aad_error(status, error, code, text):
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    body = {"error": error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: 2026-01-01 "
                                 "00:00:00Z" % (code, text, trace, corr),
            "error_codes": [code], "timestamp": "2026-01-01 00:00:00Z", "trace_id": trace, "correlation_id": corr,
            "error_uri": "https://login.microsoftonline.com/error?code=%d" % code}
    return Response(json.dumps(body), status=status, mimetype="application/json")


class TokenService(object):
    """State and WSGI app of the stand-in token service."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (method, path, grant_type)
        self.certs = {}  # client_id -> [sha1 hex thumbprint -> public key]
        self.device_codes = {}  # device_code -> dict
        self.refresh_tokens = {}
        self.token_lifetime = 3599
        self.base_url = None
        self.imds_requests = []
        self.faults = []  # (status, headers) answered, in order, to the next token endpoint POSTs
        self.issued_refresh_tokens = []  # every refresh token the service handed out, in order

    def fail_token_requests(self, status, count=1, retry_after=None):
        """Answer the next ``count`` token requests ``status`` (with ``Retry-After`` when given)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self.lock:
            self.faults.extend([(status, headers)] * count)

    # -- helpers for tests ------------------------------------------------------------------------
    def register_certificate(self, client_id, cert_pem):
        cert = x509.load_pem_x509_certificate(cert_pem)
        self.certs.setdefault(client_id, {})[cert.fingerprint(hashes.SHA1()).hex()] = cert.public_key()

    def approve(self, user_code, upn=USER_UPN):
        for entry in self.device_codes.values():
            if entry["user_code"] == user_code:
                entry["approved"] = True
                entry["upn"] = upn
                return True
        return False

    def count(self, path_suffix=None, grant_type=None):
        with self.lock:
            return sum(1 for m, p, g in self.requests
                       if (path_suffix is None or p.endswith(path_suffix)) and (grant_type is None or g == grant_type))

    def reset_counts(self):
        with self.lock:
            del self.requests[:]
            del self.imds_requests[:]

    def issue(self, tenant, aud, appid, roles=None, scp=None, oid=None, lifetime=None):
        now = int(time.time())
        claims = {"aud": aud, "iss": "https://sts.windows.net/%s/" % tenant, "tid": tenant, "appid": appid,
                  "azp": appid, "iat": now, "nbf": now, "exp": now + (lifetime or self.token_lifetime),
                  "oid": oid or str(uuid.uuid5(uuid.NAMESPACE_URL, appid)), "ver": "1.0"}
        if roles is not None:
            claims["roles"] = roles
        if scp is not None:
            claims["scp"] = scp
        return jwt.encode(claims, SIGNING_KEY, algorithm="HS256")

    # -- WSGI ---------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        grant = request.form.get("grant_type") if request.method == "POST" else None
        with self.lock:
            self.requests.append((request.method, request.path, grant))
            fault = self.faults.pop(0) if self.faults and request.path.endswith("/oauth2/v2.0/token") else None
        if fault is not None:
            response = Response("Service Unavailable" if fault[0] != 429 else "Too Many Requests", status=fault[0],
                                headers=fault[1], mimetype="text/html")
            return response(environ, start_response)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request):
        parts = request.path.strip("/").split("/")
        tenant = parts[0]
        rest = "/".join(parts[1:])
        if tenant == "common" and len(parts) == 3 and parts[1] == "userrealm" and request.method == "GET":
            return Response(json.dumps({"ver": "1.0", "account_type": "Managed", "domain_name": TENANT_DOMAIN,
                                        "cloud_instance_name": "microsoftonline.com",
                                        "cloud_audience_urn": "urn:federation:MicrosoftOnline"}),
                            mimetype="application/json")
        if tenant not in (TENANT_ID, TENANT_DOMAIN):
            return aad_error(400, "invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the "
                                                            "correct tenant ID and are signing into the correct "
                                                            "cloud." % tenant)
        tenant = TENANT_ID
        base = "%s/%s" % (self.base_url, request.path.strip("/").split("/")[0])
        if rest == "v2.0/.well-known/openid-configuration" and request.method == "GET":
            return Response(json.dumps({
                "token_endpoint": base + "/oauth2/v2.0/token",
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                "issuer": "%s/%s/v2.0" % (self.base_url, tenant),
                "jwks_uri": base + "/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }), mimetype="application/json")
        if rest == "oauth2/v2.0/devicecode" and request.method == "POST":
            return self.devicecode(request)
        if rest == "oauth2/v2.0/token" and request.method == "POST":
            return self.token(request, tenant, base + "/oauth2/v2.0/token")
        return aad_error(404, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests.")

    def _resource(self, scope_text):
        scopes = [s for s in (scope_text or "").split() if s not in ("offline_access", "openid", "profile")]
        if len(scopes) != 1:
            return None, scopes
        scope = scopes[0]
        resource = scope.rsplit("/", 1)[0]
        if resource not in KNOWN_RESOURCES:
            return None, scopes
        return resource, scopes

    def token(self, request, tenant, token_endpoint):
        form = request.form
        grant = form.get("grant_type")
        client_id = form.get("client_id")
        if grant == "client_credentials":
            if client_id not in (CLIENT_ID, CERT_CLIENT_ID, FED_CLIENT_ID):
                return aad_error(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found "
                                 "in the directory '%s'." % (client_id, tenant))
            if "client_secret" in form:
                if client_id != CLIENT_ID or not secrets.compare_digest(form["client_secret"], CLIENT_SECRET):
                    return aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the "
                                     "secret being sent in the request is the client secret value, not the client "
                                     "secret ID, for a secret added to app '%s'." % client_id)
            elif "client_assertion" in form:
                problem = self.check_assertion(client_id, form["client_assertion"], token_endpoint)
                if problem:
                    return aad_error(401, "invalid_client", 700027, "Client assertion failed signature validation. "
                                     "(%s)" % problem)
            else:
                return aad_error(401, "invalid_client", 7000218, "The request body must contain the following "
                                 "parameter: 'client_assertion' or 'client_secret'.")
            resource, scopes = self._resource(form.get("scope"))
            if resource is None:
                return aad_error(400, "invalid_scope", 70011, "The provided request must include a 'scope' input "
                                 "parameter. The provided value for the input parameter 'scope' is not valid.")
            token = self.issue(tenant, resource, client_id, roles=["AdvancedHunting.Read.All"])
            return Response(json.dumps({"token_type": "Bearer", "expires_in": self.token_lifetime,
                                        "ext_expires_in": self.token_lifetime, "access_token": token}),
                            mimetype="application/json")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            entry = self.device_codes.get(form.get("device_code"))
            if entry is None:
                return aad_error(400, "bad_verification_code", 70018, "Invalid device code.")
            if not entry["approved"]:
                return aad_error(400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization "
                                 "is pending. Continue polling.")
            del self.device_codes[form["device_code"]]
            return self.user_tokens(tenant, entry["client_id"], entry["scope"], entry.get("upn", USER_UPN))
        if grant == "refresh_token":
            # rotation: a redeemed refresh token is gone; the response carries its successor
            entry = self.refresh_tokens.pop(form.get("refresh_token"), None)
            if entry is None or entry["client_id"] != client_id:
                return aad_error(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
            return self.user_tokens(tenant, client_id, form.get("scope"), entry.get("upn", USER_UPN))
        if grant == "password":
            return self.password_grant(tenant, form)
        return aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")

    def password_grant(self, tenant, form):
        client_id, upn = form.get("client_id"), (form.get("username") or "").lower()
        if client_id not in (PUBLIC_CLIENT_ID, NOCONSENT_CLIENT_ID):
            return aad_error(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found."
                             % client_id)
        known = USERS.get(upn)
        if known is None or not secrets.compare_digest(form.get("password") or "", known[0]):
            return aad_error(400, "invalid_grant", 50126, "Error validating credentials due to invalid username or "
                                                          "password.")
        if known[2]:
            error, text = USER_REFUSALS[known[2]]
            return aad_error(400, error, known[2], text % upn)
        if client_id == NOCONSENT_CLIENT_ID:
            return aad_error(400, "invalid_grant", 65001, "The user or administrator has not consented to use the "
                             "application with ID '%s'. Send an interactive authorization request for this user "
                             "and resource." % client_id)
        return self.user_tokens(tenant, client_id, form.get("scope"), upn)

    def grant_refresh_token(self, client_id, upn=USER_UPN):
        """A refresh token the test hands to the collection as if it came from a vault."""
        value = secrets.token_urlsafe(24)
        with self.lock:
            self.refresh_tokens[value] = {"client_id": client_id, "upn": upn}
        return value

    def user_tokens(self, tenant, client_id, scope_text, upn=USER_UPN):
        resource, scopes = self._resource(scope_text)
        if resource is None:
            return aad_error(400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' "
                                                          "is not valid.")
        oid = USERS[upn][1]
        now = int(time.time())
        refresh = secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = {"client_id": client_id, "upn": upn}
        self.issued_refresh_tokens.append(refresh)
        id_token = jwt.encode({"iss": "%s/%s/v2.0" % (self.base_url, tenant), "sub": oid, "aud": client_id,
                               "tid": tenant, "oid": oid, "preferred_username": upn, "name": "Analyst",
                               "iat": now, "nbf": now, "exp": now + 3600}, SIGNING_KEY, algorithm="HS256")
        body = {"token_type": "Bearer", "scope": " ".join(scopes + ["openid", "profile", "offline_access"]),
                "expires_in": self.token_lifetime, "ext_expires_in": self.token_lifetime,
                "access_token": self.issue(tenant, resource, client_id, scp="AdvancedHunting.Read", oid=oid),
                "refresh_token": refresh, "id_token": id_token,
                "client_info": _b64url(json.dumps({"uid": oid, "utid": tenant}).encode())}
        return Response(json.dumps(body), mimetype="application/json")

    def devicecode(self, request):
        client_id = request.form.get("client_id")
        if client_id != PUBLIC_CLIENT_ID:
            return aad_error(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found."
                             % client_id)
        device_code = secrets.token_urlsafe(16)
        user_code = secrets.token_hex(4).upper()
        self.device_codes[device_code] = {"user_code": user_code, "client_id": client_id,
                                          "scope": request.form.get("scope"), "approved": False}
        return Response(json.dumps({
            "device_code": device_code, "user_code": user_code,
            "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 1,
            "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter "
                       "the code %s to authenticate." % user_code}), mimetype="application/json")

    def check_assertion(self, client_id, assertion, token_endpoint):
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            return "not a JWT: %s" % exc
        if client_id == FED_CLIENT_ID:
            try:
                claims = jwt.decode(assertion, FED_KEY, algorithms=["HS256"], audience="api://AzureADTokenExchange",
                                    issuer=FED_ISSUER)
            except jwt.PyJWTError as exc:
                return str(exc)
            return None if claims.get("sub") == FED_SUBJECT else "subject mismatch"
        thumb = header.get("x5t")
        if not thumb:
            return "no x5t"
        thumb_hex = base64.urlsafe_b64decode(thumb + "=" * (-len(thumb) % 4)).hex()
        key = self.certs.get(client_id, {}).get(thumb_hex)
        if key is None:
            return "unknown thumbprint"
        try:
            claims = jwt.decode(assertion, key, algorithms=["RS256", "PS256"], audience=token_endpoint,
                                issuer=client_id)
        except jwt.PyJWTError as exc:
            return str(exc)
        if claims.get("sub") != client_id:
            return "sub mismatch"
        self.last_assertion_header = header
        return None


class ImdsService(object):
    def __init__(self, token_service):
        self.tokens = token_service

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.tokens.imds_requests.append(dict(request.args))
        if request.path != "/metadata/identity/oauth2/token" or request.headers.get("Metadata") != "true":
            response = Response(json.dumps({"error": "invalid_request", "error_description": "Required metadata "
                                            "header not specified"}), status=400, mimetype="application/json")
            return response(environ, start_response)
        resource = request.args.get("resource", "").rstrip("/")
        client_id = request.args.get("client_id") or "system-assigned-0000"
        if request.args.get("client_id") and client_id != MI_CLIENT_ID:
            response = Response(json.dumps({"error": "invalid_request", "error_description": "Identity not found"}),
                                status=400, mimetype="application/json")
            return response(environ, start_response)
        now = int(time.time())
        body = {"access_token": self.tokens.issue(TENANT_ID, resource, client_id, roles=["Incident.Read.All"]),
                "client_id": client_id, "expires_in": "3599", "expires_on": str(now + 3599),
                "ext_expires_in": "3599", "not_before": str(now), "resource": resource, "token_type": "Bearer"}
        return Response(json.dumps(body), mimetype="application/json")(environ, start_response)


class _Running(object):
    def __init__(self, server):
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
        self.thread.daemon = True
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="session")
def token_service(tmp_path_factory):
    """The running stand-in: ``.base_url``, ``.ca_path``, ``.imds_url``, ``.service`` (the TokenService)."""
    directory = tmp_path_factory.mktemp("token-service")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = str(directory / "ca.pem")
    ca.cert_pem.write_to_path(ca_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    service = TokenService()
    https = make_server("127.0.0.1", 0, service, threaded=True, ssl_context=ctx)
    service.base_url = "https://127.0.0.1:%d" % https.server_port
    imds = make_server("127.0.0.1", 0, ImdsService(service), threaded=True)
    running = [_Running(https), _Running(imds)]

    class Handle(object):
        pass

    handle = Handle()
    handle.service = service
    handle.base_url = service.base_url
    handle.ca_path = ca_path
    handle.imds_url = "http://127.0.0.1:%d" % imds.server_port
    try:
        yield handle
    finally:
        for item in running:
            item.stop()


@pytest.fixture
def service(token_service):
    token_service.service.reset_counts()
    token_service.service.token_lifetime = 3599
    del token_service.service.issued_refresh_tokens[:]
    del token_service.service.faults[:]
    return token_service


@pytest.fixture
def cache_dir(tmp_path):
    return str(tmp_path / "cache" / "m365.defender")


@pytest.fixture
def base_options(service, cache_dir):
    """Options pointing at the stand-in, with a private token cache."""
    return {
        "tenant_id": TENANT_ID,
        "authority_host": service.base_url,
        "ca_path": service.ca_path,
        "validate_certs": True,
        "token_cache": cache_dir,
        "timeout": 30,
    }


@pytest.fixture(scope="session")
def certificate_files(tmp_path_factory):
    """A self-signed certificate + key in PEM (plain and encrypted) and PFX; registered for CERT_CLIENT_ID."""
    directory = tmp_path_factory.mktemp("certs")
    ca = trustme.CA(key_type=trustme.KeyType.RSA)  # Entra ID takes RSA certificates only
    leaf = ca.issue_cert("m365-defender-automation", key_type=trustme.KeyType.RSA)
    cert_pem = leaf.cert_chain_pems[0].bytes()
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    cert = x509.load_pem_x509_certificate(cert_pem)
    plain = directory / "app.pem"
    plain.write_bytes(leaf.private_key_pem.bytes() + cert_pem + ca.cert_pem.bytes())
    encrypted = directory / "app-encrypted.pem"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"pem-pass")) + cert_pem)
    from cryptography.hazmat.primitives.serialization import pkcs12

    pfx = directory / "app.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"app", key, cert, None,
                                                          serialization.BestAvailableEncryption(b"pfx-pass")))
    cert_only = directory / "cert-only.pem"
    cert_only.write_bytes(cert_pem)
    return {"pem": str(plain), "encrypted_pem": str(encrypted), "pfx": str(pfx), "cert_only": str(cert_only),
            "cert_pem": cert_pem, "ca_pem": ca.cert_pem.bytes(),
            "sha1": hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()}


@pytest.fixture
def registered_certificate(service, certificate_files):
    service.service.register_certificate(CERT_CLIENT_ID, certificate_files["cert_pem"])
    return certificate_files


@pytest.fixture(scope="session")
def ids():
    """The stand-in's tenant, client ids and test-only credentials (``ids.CLIENT_ID``, ...)."""
    return types.SimpleNamespace(**dict((k, v) for k, v in globals().items() if k.isupper()))
