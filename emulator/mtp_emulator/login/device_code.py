"""The device code flow: ``/{tenant}/oauth2/v2.0/devicecode`` (and v1 ``/oauth2/devicecode``), its grant at the
token endpoint, and the control plane that plays the user (``/_emulator/devicecode/{pending,approve,decline}``). Approving for a locked
or disabled user is refused (409, naming AADSTS50053 / 50057: the browser sign-in would fail); a user disabled after
the approval gets AADSTS50057 at the token endpoint. MFA is done in the browser, so an ``mfa`` user succeeds.

Codes live in ``state.extras["login"]["device_codes"]``, keyed by the hash of the device code. The grant answers
``authorization_pending`` until approved, ``slow_down`` when polled faster than ``interval``, ``expired_token``
after ``config.device_code_lifetime`` seconds.
"""

from __future__ import annotations

import secrets
import time

from flask import jsonify, request

from ..app import Route
from ..errors import AadError, MtpError
from ..state import hash_secret
from . import keys
from .clients import authenticate_client, find_application
from .common import DEVICE_CODE_LIFETIME, missing, prune, request_form, resolve_resource, tenant_for_client
from .grants import parse_scope, token_response, user_token
from .users import check_account

USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
VERIFICATION_URI = "https://microsoft.com/devicelogin"


def new_device_code(state, tenant, client_id: str, resource: str, names: list, reserved: set, scope) -> dict:
    """Store a pending code; returns its record plus the clear ``device_code`` (only the hash is kept)."""
    device_code = keys.b64url(secrets.token_bytes(48))
    user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(9))
    interval = max(1, int(getattr(state.config, "device_code_interval", 1)))
    lifetime = int(getattr(state.config, "device_code_lifetime", DEVICE_CODE_LIFETIME))
    now = time.time()
    record = {"tenant_id": tenant.id, "client_id": client_id, "user_code": user_code, "resource": resource,
              "names": names, "reserved": sorted(reserved), "scope": scope, "created": now,
              "expires_at": now + lifetime, "interval": interval, "status": "pending", "user_id": None,
              "last_poll": None}
    with state.lock:
        codes = keys.login_state(state)["device_codes"]
        prune(codes, now)
        codes[hash_secret(device_code)] = record
    return dict(record, device_code=device_code, lifetime=lifetime)


def device_authorization(state, tenant: str, v2: bool):
    form = request_form()
    client_id = form.get("client_id")
    if not client_id:
        raise missing("client_id")
    tenant_obj = tenant_for_client(state, tenant, client_id)
    find_application(state, tenant_obj, client_id)
    if v2:
        resource, names, reserved = parse_scope(form.get("scope"), app_only=False)
    else:
        resource = form.get("resource")
        if not resource:
            raise missing("resource")
        resource, names, reserved = resource.rstrip("/"), [".default"], {"openid", "offline_access"}
    resolve_resource(tenant_obj, resource)
    code = new_device_code(state, tenant_obj, client_id, resource, names, reserved, form.get("scope"))
    user_code, lifetime, interval = code["user_code"], code["lifetime"], code["interval"]
    body = {"user_code": user_code, "device_code": code["device_code"],
            ("verification_uri" if v2 else "verification_url"): VERIFICATION_URI,
            "expires_in": lifetime if v2 else str(lifetime), "interval": interval if v2 else str(interval),
            "message": f"To sign in, use a web browser to open the page {VERIFICATION_URI} and enter the code "
                       f"{user_code} to authenticate."}
    return token_response(body)


def login_devicecode_v2(state, tenant):
    return device_authorization(state, tenant, True)


def login_devicecode_v1(state, tenant):
    return device_authorization(state, tenant, False)


def _redeem(state, tenant, code: str, client_id: str) -> dict:
    """The approved record of ``code`` (removed), or the pending / slow-down / expired / declined error."""
    codes = keys.login_state(state)["device_codes"]
    now = time.time()
    with state.lock:
        record = codes.get(hash_secret(code))
        if record is None or record["client_id"].lower() != client_id.lower() or record["tenant_id"] != tenant.id:
            raise AadError(400, "bad_verification_code", 70018,
                           "The provided value for the input parameter 'device_code' is not valid.")
        if record["expires_at"] < now:
            codes.pop(hash_secret(code), None)
            raise AadError(400, "expired_token", 70019, "Verification code expired.")
        if record["status"] == "declined":
            codes.pop(hash_secret(code), None)
            # code unverified
            raise AadError(400, "authorization_declined", 70000, "The user declined the authorization request.")
        if record["status"] != "approved":
            last, record["last_poll"] = record.get("last_poll"), now
            if last is not None and now - last < record["interval"] * 0.8:
                raise AadError(400, "slow_down", 70016,
                               "OAuth 2.0 device flow error. Polling too often; wait 'interval' seconds.")
            raise AadError(400, "authorization_pending", 70016,
                           "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
        codes.pop(hash_secret(code), None)
    return record


def grant_device_code(state, tenant, form, v2: bool):
    code = form.get("device_code") or form.get("code")
    if not code:
        raise missing("device_code")
    application, client_id, acr = authenticate_client(state, tenant, form, confidential_required=None)
    record = _redeem(state, tenant, code, client_id)
    user = tenant.directory.get(record["user_id"], kind="user", replicated_only=False)
    if user is None:  # deleted since approval
        raise AadError(400, "invalid_grant", 50034, "The user account does not exist in the directory.")
    check_account(user)  # disabled since the approval: AADSTS50057
    return user_token(state, tenant, application, client_id, acr, user, resource=record["resource"],
                      names=record["names"], reserved=set(record["reserved"]), v2=v2, form=form)


# --- control plane: the user's side -------------------------------------------------------------------------
def find_device_code(state, user_code: str) -> dict:
    for record in keys.login_state(state)["device_codes"].values():
        if record["user_code"].upper() == (user_code or "").strip().upper():
            return record
    raise MtpError(404, "NotFound", f"No pending device code '{user_code}'.")


def control_devicecode_pending(state):
    now = time.time()
    with state.lock:
        pending = [{"user_code": r["user_code"], "client_id": r["client_id"], "tenant_id": r["tenant_id"],
                    "scope": r.get("scope"), "resource": r["resource"], "expires_in": int(r["expires_at"] - now)}
                   for r in keys.login_state(state)["device_codes"].values()
                   if r["status"] == "pending" and r["expires_at"] > now]
    return jsonify({"value": pending})


def control_devicecode_approve(state):
    data = request.get_json(silent=True) or {}
    if not data.get("user_code") or not data.get("upn"):
        raise MtpError(400, "BadRequest", "Body needs 'user_code' and 'upn'.")
    with state.lock:
        record = find_device_code(state, data["user_code"])
        tenant = state.tenants[record["tenant_id"]]
        user = tenant.directory.find("user", "userPrincipalName", data["upn"], case_insensitive=True,
                                     replicated_only=False)
        if user is None:
            raise MtpError(404, "NotFound", f"No user '{data['upn']}' in tenant {tenant.domain}.")
        if user.get("_locked") or user.get("accountEnabled") is False:
            # the browser sign-in fails: the client keeps polling until the code expires
            code = "AADSTS50053 (account locked)" if user.get("_locked") else "AADSTS50057 (account disabled)"
            raise MtpError(409, "Conflict", f"User '{user['userPrincipalName']}' cannot sign in: {code}.")
        record["status"], record["user_id"] = "approved", user["id"]
    return jsonify({"status": "approved", "user_code": record["user_code"], "upn": user["userPrincipalName"]})


def control_devicecode_decline(state):
    data = request.get_json(silent=True) or {}
    with state.lock:
        record = find_device_code(state, data.get("user_code", ""))
        record["status"] = "declined"
    return jsonify({"status": "declined", "user_code": record["user_code"]})


ROUTES = (
    Route("/<tenant>/oauth2/v2.0/devicecode", ("POST",), login_devicecode_v2),
    Route("/<tenant>/oauth2/devicecode", ("POST",), login_devicecode_v1),
    Route("/_emulator/devicecode/pending", ("GET",), control_devicecode_pending),
    Route("/_emulator/devicecode/approve", ("POST",), control_devicecode_approve),
    Route("/_emulator/devicecode/decline", ("POST",), control_devicecode_decline),
)
