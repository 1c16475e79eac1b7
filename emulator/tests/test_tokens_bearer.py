"""``tokens.verify_bearer`` as the Graph and Defender routes call it, and the persistence of the login state."""

from __future__ import annotations

import jwt
import pytest

from mtp_emulator import tokens
from mtp_emulator.app import create_app
from mtp_emulator.seed import new_state
from mtp_emulator.state import EmulatorConfig

MTP = "https://api.security.microsoft.com"
TENANT = "6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f"


@pytest.fixture(scope="module")
def state_and_app():
    state = new_state()
    return state, create_app(state)


def _check(app, state, header, audiences=(MTP,)):
    with app.test_request_context("/api/incidents", headers={"Authorization": header} if header else {}):
        return tokens.verify_bearer(state, audiences)


def test_valid_token_returns_claims(state_and_app):
    state, app = state_and_app
    token, expires_in = tokens.issue_access_token(state, TENANT, audience=MTP, app_id="app-1",
                                                  roles=["Incident.Read.All"], oid="sp-1")
    assert expires_in == state.config.token_lifetime
    claims = _check(app, state, f"Bearer {token}", audiences=[MTP + "/", "8ee8fdad-f234-4243-8f3b-15c294843740"])
    assert (claims["aud"], claims["tid"], claims["appid"], claims["oid"], claims["roles"]) == \
        (MTP, TENANT, "app-1", "sp-1", ["Incident.Read.All"])


@pytest.mark.parametrize("case, reason", [
    ("missing", "Access token is empty."),
    ("basic", "Access token is empty."),
    ("garbage", "IDX14100"),
    ("expired", "expired"),
    ("audience", "Invalid audience"),
    ("tampered", "Invalid signature"),
    ("foreign", "Invalid signature key"),
    ("none_alg", "Invalid signature key"),
])
def test_rejections(state_and_app, case, reason):
    state, app = state_and_app
    good, _ = tokens.issue_access_token(state, TENANT, audience=MTP, app_id="app-1", roles=["X"])
    header = {
        "missing": None,
        "basic": "Basic YTpi",
        "garbage": "Bearer not-a-token",
        "expired": "Bearer " + tokens.issue_access_token(state, TENANT, audience=MTP, app_id="a", lifetime=-60)[0],
        "audience": "Bearer " + tokens.issue_access_token(state, TENANT, audience="https://graph.microsoft.com",
                                                          app_id="a")[0],
        "foreign": "Bearer " + tokens.issue_access_token(new_state(), TENANT, audience=MTP, app_id="a")[0],
        "none_alg": "Bearer " + jwt.encode({"aud": MTP, "exp": 9999999999, "roles": ["X"]}, None, algorithm="none"),
    }.get(case)
    if case == "tampered":
        head, payload, sig = good.split(".")
        claims = jwt.decode(good, options={"verify_signature": False})
        claims["roles"] = ["Everything.ReadWrite.All"]
        forged = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims).encode()).decode()
        header = f"Bearer {head}.{forged}.{sig}"
    with pytest.raises(tokens.TokenRejected) as info:
        _check(app, state, header)
    assert reason in info.value.reason


def test_keys_survive_reset_and_state_file(tmp_path):
    path = str(tmp_path / "state.json")
    state = new_state(config=EmulatorConfig(state_file=path))
    create_app(state)
    token, _ = tokens.issue_access_token(state, TENANT, audience=MTP, app_id="app-1")
    identities = state.extras["login"]["managed_identities"]
    state.reset()
    assert tokens.decode_verified(state, token, [MTP])["appid"] == "app-1"
    state.save()
    restored = new_state(config=EmulatorConfig(state_file=path))
    create_app(restored)
    assert tokens.decode_verified(restored, token, [MTP])["appid"] == "app-1"
    assert restored.extras["login"]["managed_identities"] == identities
    mi = identities["system_assigned"]["object_id"]
    assert restored.tenants[TENANT].directory.get(mi)["servicePrincipalType"] == "ManagedIdentity"
