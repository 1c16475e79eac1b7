"""User flows: device code (msal, approved through the control plane), ROPC and refresh tokens."""

from __future__ import annotations

import threading
import time

import pytest

from test_tokens_common import reset_after_module  # noqa: F401 - fixture
from test_tokens_common import GRAPH, MTP, aad_error, fixture_tenant, jwks_verify, public_app

pytestmark = pytest.mark.usefixtures("reset_after_module", "fresh_emulator")


def _polls(emulator):
    return emulator.stats()["token_requests"].get("device_code", 0)


def _approver(emulator, upn, stop, approved, after_polls=0):
    """Approve the first pending device code, as the user would in a browser, once the client has polled
    ``after_polls`` times (so that a test can see it wait for the approval, whatever the machine's speed)."""
    while not stop.is_set():
        pending = emulator.control("GET", "devicecode/pending").json()["value"]
        if pending and _polls(emulator) >= after_polls:
            resp = emulator.control("POST", "devicecode/approve", json={"user_code": pending[0]["user_code"],
                                                                         "upn": upn})
            approved.append(resp.status_code)
            return
        time.sleep(0.2)


def test_msal_device_code_flow_then_silent(emulator):
    spec = fixture_tenant(emulator)
    user = spec["users"][0]
    client_id = spec["public_client"]["app_id"]
    pca = public_app(emulator, spec["id"], client_id)
    scopes = [f"{MTP}/AdvancedHunting.Read"]
    flow = pca.initiate_device_flow(scopes=scopes)
    assert flow["user_code"] in flow["message"] and flow["interval"] == 1, flow
    stop, approved = threading.Event(), []
    polls_before = _polls(emulator)
    thread = threading.Thread(target=_approver, args=(emulator, user["upn"], stop, approved, polls_before + 1),
                              daemon=True)
    thread.start()
    try:
        deadline = time.time() + 20
        result = pca.acquire_token_by_device_flow(flow, exit_condition=lambda _flow: time.time() > deadline)
    finally:
        stop.set()
        thread.join(10)
    assert approved == [200]
    assert "access_token" in result, result
    claims = jwks_verify(emulator, result["access_token"], MTP, spec["id"])
    assert claims["scp"] == "AdvancedHunting.Read"
    assert claims["upn"] == user["upn"]
    assert "roles" not in claims
    assert result["id_token_claims"]["preferred_username"] == user["upn"]
    assert "refresh_token" in result
    # MSAL found the account from client_info + id_token, and serves the token silently from its cache
    accounts = pca.get_accounts(username=user["upn"])
    assert len(accounts) == 1
    silent = pca.acquire_token_silent(scopes, account=accounts[0])
    assert silent["access_token"] == result["access_token"] and silent["token_source"] == "cache"
    # a second resource the user consented to: MSAL redeems the refresh token silently
    graph = pca.acquire_token_silent([f"{GRAPH}/ThreatHunting.Read.All"], account=accounts[0])
    assert graph and graph["token_source"] == "identity_provider", graph
    assert jwks_verify(emulator, graph["access_token"], GRAPH, spec["id"])["scp"] == "ThreatHunting.Read.All"
    stats = emulator.stats()["token_requests"]
    assert stats["device_code"] >= 2 and stats["refresh_token"] == 1


def _device_code(session, emulator, tenant_id, client_id, scope=f"{MTP}/AdvancedHunting.Read offline_access openid"):
    resp = session.post(emulator.url(f"/{tenant_id}/oauth2/v2.0/devicecode"),
                        data={"client_id": client_id, "scope": scope}, timeout=30)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {"device_code", "user_code", "verification_uri", "expires_in", "interval", "message"} <= set(body)
    return body


def _poll(session, emulator, tenant_id, client_id, device_code):
    return session.post(emulator.url(f"/{tenant_id}/oauth2/v2.0/token"), timeout=30, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": client_id,
        "device_code": device_code, "client_info": "1"})


def test_device_code_pending_slow_down_declined(emulator, requests_session):
    spec = fixture_tenant(emulator)
    client_id = spec["public_client"]["app_id"]
    flow = _device_code(requests_session, emulator, spec["id"], client_id)
    aad_error(_poll(requests_session, emulator, spec["id"], client_id, flow["device_code"]), 400,
              "authorization_pending", 70016)
    aad_error(_poll(requests_session, emulator, spec["id"], client_id, flow["device_code"]), 400, "slow_down", 70016)
    resp = emulator.control("POST", "devicecode/decline", json={"user_code": flow["user_code"]})
    assert resp.status_code == 200
    time.sleep(flow["interval"])
    aad_error(_poll(requests_session, emulator, spec["id"], client_id, flow["device_code"]), 400,
              "authorization_declined", 70000)
    aad_error(_poll(requests_session, emulator, spec["id"], client_id, flow["device_code"]), 400,
              "bad_verification_code", 70018)


def test_device_code_expired(emulator, requests_session, monkeypatch):
    spec = fixture_tenant(emulator)
    client_id = spec["public_client"]["app_id"]
    monkeypatch.setattr(emulator.state.config, "device_code_lifetime", 1, raising=False)
    flow = _device_code(requests_session, emulator, spec["id"], client_id)
    assert flow["expires_in"] == 1
    time.sleep(1.2)
    aad_error(_poll(requests_session, emulator, spec["id"], client_id, flow["device_code"]), 400,
              "expired_token", 70019)


def test_device_code_approved_by_request_returns_user_tokens(emulator, requests_session):
    spec = fixture_tenant(emulator)
    user = spec["users"][0]
    client_id = spec["public_client"]["app_id"]
    flow = _device_code(requests_session, emulator, spec["id"], client_id)
    assert emulator.control("POST", "devicecode/approve", json={"user_code": flow["user_code"].lower(),
                                                                 "upn": user["upn"]}).status_code == 200
    resp = _poll(requests_session, emulator, spec["id"], client_id, flow["device_code"])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["scope"].split() == [f"{MTP}/AdvancedHunting.Read", "offline_access", "openid"]
    assert {"access_token", "refresh_token", "id_token", "client_info", "expires_in"} <= set(body)
    # the code is single-use
    aad_error(_poll(requests_session, emulator, spec["id"], client_id, flow["device_code"]), 400,
              "bad_verification_code", 70018)


def test_approve_unknown_user_or_code(emulator, requests_session):
    spec = fixture_tenant(emulator)
    flow = _device_code(requests_session, emulator, spec["id"], spec["public_client"]["app_id"])
    resp = emulator.control("POST", "devicecode/approve", json={"user_code": flow["user_code"],
                                                                 "upn": "nobody@contoso.onmicrosoft.com"})
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "NotFound"
    resp = emulator.control("POST", "devicecode/approve", json={"user_code": "NOPE", "upn": spec["users"][0]["upn"]})
    assert resp.status_code == 404


def test_ropc_and_rotating_refresh_token(emulator, requests_session):
    spec = fixture_tenant(emulator)
    user = spec["users"][0]
    client_id = spec["public_client"]["app_id"]
    resp = requests_session.post(emulator.url(f"/{spec['id']}/oauth2/v2.0/token"), timeout=30, data={
        "grant_type": "password", "client_id": client_id, "username": user["upn"], "password": user["password"],
        "scope": f"{MTP}/AdvancedHunting.Read {MTP}/Incident.ReadWrite offline_access openid profile",
        "client_info": "1"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    claims = jwks_verify(emulator, body["access_token"], MTP, spec["id"])
    assert set(claims["scp"].split()) == {"AdvancedHunting.Read", "Incident.ReadWrite"}
    assert claims["upn"] == user["upn"] and claims["tid"] == spec["id"]
    assert body["refresh_token"] and body["id_token"] and body["client_info"]

    # refresh with msal for another consented resource; the refresh token rotates
    pca = public_app(emulator, spec["id"], client_id)
    refreshed = pca.acquire_token_by_refresh_token(body["refresh_token"], scopes=[f"{GRAPH}/.default"])
    assert "access_token" in refreshed, refreshed
    graph = jwks_verify(emulator, refreshed["access_token"], GRAPH, spec["id"])
    assert set(graph["scp"].split()) == set(spec["public_client"]["delegated"]["graph"])
    assert refreshed["refresh_token"] != body["refresh_token"]
    again = pca.acquire_token_by_refresh_token(body["refresh_token"], scopes=[f"{GRAPH}/.default"])
    assert again.get("error") == "invalid_grant", again
    # a refresh token for a resource the client has no consent on
    denied = pca.acquire_token_by_refresh_token(refreshed["refresh_token"],
                                                scopes=["https://api.securitycenter.microsoft.com/.default"])
    assert denied["error_codes"] == [65001], denied


def test_refresh_token_of_another_client_is_refused(emulator, requests_session):
    spec = fixture_tenant(emulator)
    user = spec["users"][0]
    resp = requests_session.post(emulator.url(f"/{spec['id']}/oauth2/token"), timeout=30, data={
        "grant_type": "password", "client_id": spec["public_client"]["app_id"], "username": user["upn"],
        "password": user["password"], "resource": MTP})
    assert resp.status_code == 200, resp.text
    v1 = resp.json()
    assert v1["resource"] == MTP and v1["refresh_token"]
    admin = spec["admin_app"]
    resp = requests_session.post(emulator.url(f"/{spec['id']}/oauth2/v2.0/token"), timeout=30, data={
        "grant_type": "refresh_token", "client_id": admin["app_id"], "client_secret": admin["client_secret"],
        "refresh_token": v1["refresh_token"], "scope": f"{MTP}/.default"})
    aad_error(resp, 400, "invalid_grant", 70000)
