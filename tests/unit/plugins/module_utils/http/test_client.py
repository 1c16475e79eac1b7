# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MtpClient against a real local HTTPS server: retries, errors, paging, batching, token refresh, TLS trust."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError
from ansible_collections.m365.defender.plugins.module_utils._http import build_session
from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter
from ansible_collections.m365.defender.plugins.module_utils._permissions import needed_role
from ansible_collections.m365.defender.plugins.module_utils._version import USER_AGENT


HUNT = "/api/advancedhunting/run"
GRAPH_HUNT = "/v1.0/security/runHuntingQuery"


def test_json_body_bytes_headers_and_token(server, make_client, StubAuthenticator):
    auth = StubAuthenticator()
    client = make_client(authenticator=auth)
    query = u'DeviceInfo | where DeviceName == "ws-ü-東京"\n| take 1'
    server.queue("POST", HUNT, 200, {"Schema": [], "Results": [{"x": u"東京"}]})
    resp = client.post("mtp", "/advancedhunting/run", json={"Query": query}, idempotent=True)
    assert resp.status == 200 and resp.json["Results"] == [{"x": u"東京"}]
    sent = server.requests_to(HUNT)[0]
    assert sent["body"] == (u'{"Query": "DeviceInfo | where DeviceName == \\"ws-ü-東京\\"\\n| take 1"}').encode("utf-8")
    assert sent["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert sent["headers"]["User-Agent"] == USER_AGENT
    assert sent["headers"]["Authorization"].startswith("Bearer ") and sent["headers"]["Authorization"].count(".") == 2
    assert auth.calls == [("mtp", False)]


def test_graph_paths_get_the_version_prefix(server, make_client):
    client = make_client()
    client.get("graph", "/security/incidents")
    client.get("graph", "/beta/security/incidents")
    assert [r["path"] for r in server.log] == ["/v1.0/security/incidents", "/beta/security/incidents"]


def test_429_retry_after_then_success(server, make_client, RecordingDisplay):
    display = RecordingDisplay()
    client = make_client(display=display)
    server.queue("POST", HUNT, 429, {"error": {"code": "429", "message": "API calls quota exceeded! maximum allowed 45 per 00:01:00"}},
                 headers={"Retry-After": "0"})
    server.queue("POST", HUNT, 200, {"Results": [1]})
    resp = client.post("mtp", HUNT, json={"Query": "x"})  # a non-idempotent POST: 429 means "not processed"
    assert resp.json == {"Results": [1]}
    assert len(server.requests_to(HUNT)) == 2
    assert len(display.warnings) == 1 and "429" in display.warnings[0]


def test_retry_action_ignore_is_silent(server, make_client, RecordingDisplay):
    display = RecordingDisplay()
    client = make_client(display=display, retries={"total": 2, "backoff_base": 0.01, "retry_action": "ignore"})
    server.queue("GET", "/api/incidents", 503)
    client.get("mtp", "/incidents")
    assert len(server.requests_to("/api/incidents")) == 2 and display.warnings == []


def test_post_500_is_not_retried(server, make_client):
    client = make_client()
    server.queue("POST", "/api/incidents/1/comments", 500, {"error": {"code": "InternalServerError", "message": "boom",
                                                                      "target": "|abc.1."}})
    with pytest.raises(MtpApiError) as exc:
        client.post("mtp", "/incidents/1/comments", json={"comment": "x"})
    assert len(server.requests_to("/api/incidents/1/comments")) == 1
    err = exc.value
    assert (err.status, err.code, err.target) == (500, "InternalServerError", "|abc.1.")
    assert "boom" in err.msg and "tracking id |abc.1." in err.msg


def test_get_5xx_retried_until_budget(server, make_client):
    client = make_client(retries={"total": 2, "backoff_base": 0.01})
    for _attempt in range(3):
        server.queue("GET", "/v1.0/applications", 504)
    with pytest.raises(MtpApiError) as exc:
        client.get("graph", "/applications")
    assert len(server.requests_to("/v1.0/applications")) == 3
    assert exc.value.status == 504 and "gave up after 2 retries" in exc.value.msg


def test_429_beyond_max_wait_fails_without_sleeping(server, make_client):
    client = make_client()
    slept = []
    client.sleep = slept.append
    server.queue("POST", HUNT, 429, {"error": {"code": "429", "message": "quota"}}, headers={"Retry-After": "3600"})
    with pytest.raises(MtpApiError) as exc:
        client.post("mtp", HUNT, json={"Query": "x"}, idempotent=True)
    assert slept == [] and exc.value.status == 429 and "max_wait" in exc.value.msg


def test_401_gets_one_fresh_token(server, make_client, StubAuthenticator):
    auth = StubAuthenticator()
    client = make_client(authenticator=auth)
    server.queue("POST", "/v1.0/security/runHuntingQuery", 401,
                 {"error": {"code": "InvalidAuthenticationToken", "message": "Lifetime validation failed"}})
    server.queue("POST", "/v1.0/security/runHuntingQuery", 200, {"results": []})
    client.post("graph", "/security/runHuntingQuery", json={"Query": "x"})
    tokens = [r["headers"]["Authorization"] for r in server.requests_to(GRAPH_HUNT)]
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    assert ("graph", True) in auth.calls


def test_401_twice_fails_after_one_refresh(server, make_client, StubAuthenticator):
    auth = StubAuthenticator()
    client = make_client(authenticator=auth)
    for _attempt in range(3):
        server.queue("GET", "/api/incidents", 401, {"error": {"code": "Unauthorized", "message": "Account mode is inactive"}})
    with pytest.raises(MtpApiError) as exc:
        client.get("mtp", "/incidents")
    assert len(server.requests_to("/api/incidents")) == 2
    assert [c for c in auth.calls if c[1]] == [("mtp", True)]
    assert exc.value.status == 401 and exc.value.code == "Unauthorized"


def test_graph_error_envelope(server, make_client):
    client = make_client()
    server.queue("GET", "/v1.0/applications(uniqueName='x')", 404, {"error": {
        "code": "Request_ResourceNotFound", "message": "Resource 'x' does not exist.",
        "innerError": {"date": "2025-01-11T19:43:26", "request-id": "6b1e0000-aaaa-bbbb-cccc-000000000001"},
        "details": [{"code": "NoBackingApplicationObject", "message": "..."}]}})
    with pytest.raises(MtpApiError) as exc:
        client.get("graph", "/applications(uniqueName='x')")
    err = exc.value
    assert (err.status, err.code, err.request_id) == (404, "Request_ResourceNotFound", "6b1e0000-aaaa-bbbb-cccc-000000000001")
    assert "NoBackingApplicationObject" in err.msg and "does not exist" in err.msg
    assert err.to_result()["request_id"] == "6b1e0000-aaaa-bbbb-cccc-000000000001"


def test_403_names_the_missing_role_without_the_token(server, make_client, StubAuthenticator):
    auth = StubAuthenticator(roles=["Incident.Read.All"])
    client = make_client(authenticator=auth)
    denied = "Missing application roles. API required roles: AdvancedHunting.Read.All"
    server.queue("POST", HUNT, 403, {"error": {"code": "Forbidden", "message": denied, "target": "|t.1."}})
    with pytest.raises(MtpApiError) as exc:
        client.post("mtp", HUNT, json={"Query": "x"}, idempotent=True)
    msg = exc.value.msg
    assert msg.startswith("403 Forbidden from mtp POST /api/advancedhunting/run: the token for "
                          "11111111-2222-3333-4444-555555555555 has roles [Incident.Read.All] (aud https://mtp.example.test); "
                          "this call needs AdvancedHunting.Read.All. Grant it with m365.defender.mtp_aad_app_setup")
    token = server.requests_to(HUNT)[0]["headers"]["Authorization"][len("Bearer "):]
    assert token not in msg and token.split(".")[1] not in msg
    assert len(server.requests_to(HUNT)) == 1


@pytest.mark.parametrize("api, method, path, role", [
    ("graph", "POST", "/v1.0/security/runHuntingQuery", "ThreatHunting.Read.All"),
    ("mtp", "GET", "/api/incidents", "Incident.Read.All"),
    ("mtp", "PATCH", "/api/incidents/7", "Incident.ReadWrite.All"),
    ("graph", "POST", "/v1.0/servicePrincipals/abc/appRoleAssignedTo", "AppRoleAssignment.ReadWrite.All"),
    ("graph", "POST", "/v1.0/applications", "Application.ReadWrite.All"),
    ("graph", "POST", "/v1.0/oauth2PermissionGrants", "DelegatedPermissionGrant.ReadWrite.All"),
    ("mde", "POST", "/api/advancedqueries/run", "AdvancedQuery.Read.All"),
])
def test_needed_role_table(api, method, path, role):
    assert needed_role(api, method, path) == role


@pytest.mark.parametrize("status", [404, 410])
def test_legacy_hunting_gone_says_retired(server, make_client, status):
    client = make_client()
    server.queue("POST", HUNT, status, {"error": {"code": "NotFound", "message": "Not found"}})
    with pytest.raises(MtpApiError) as exc:
        client.post("mtp", HUNT, json={"Query": "x"}, idempotent=True)
    assert "retire" in exc.value.hint and "api: graph" in exc.value.hint and "retire" in exc.value.msg


def test_non_json_error_body(server, make_client):
    client = make_client()
    server.queue("GET", "/api/incidents", 400, raw=b"<html>Bad gateway page</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(MtpApiError) as exc:
        client.get("mtp", "/incidents")
    assert exc.value.status == 400 and "Bad gateway page" in exc.value.msg


def _pager(req, data, srv):
    page = int(req.args.get("page", "1"))
    body = {"value": [{"n": page * 10 + i} for i in range(2)]}
    if page < 3:
        body["@odata.nextLink"] = srv.url + "/v1.0/security/incidents?page=%d&%%24top=2" % (page + 1)
    return _json_response(body)


def _json_response(body, status=200):
    from werkzeug.wrappers import Response
    return Response(json.dumps(body), status=status, content_type="application/json")


def test_paginate_follows_next_link(server, make_client):
    server.handlers["/v1.0/security/incidents"] = _pager
    client = make_client()
    items = list(client.paginate("graph", "/security/incidents", params={"$top": 2}))
    assert [i["n"] for i in items] == [10, 11, 20, 21, 30, 31]
    assert [r["args"].get("page") for r in server.log] == [None, ["2"], ["3"]]
    assert server.log[0]["args"]["$top"] == ["2"]


def test_paginate_refuses_foreign_next_link(server, make_client):
    server.queue("GET", "/v1.0/security/incidents", 200, {"value": [1], "@odata.nextLink": "https://evil.example.test/v1.0/x"})
    client = make_client()
    with pytest.raises(MtpApiError) as exc:
        list(client.paginate("graph", "/security/incidents"))
    assert "Refusing" in exc.value.msg and len(server.log) == 1


def test_batch_chunks_of_20_and_retries_only_throttled_items(server, make_client):
    client = make_client()
    reqs = [{"id": str(i), "method": "GET", "url": "/applications/%d" % i} for i in range(45)]
    server.queue_item("7", 429, {"error": {"code": "TooManyRequests", "message": "slow"}}, {"Retry-After": "0"})
    server.queue_item("30", 429, {"error": {"code": "TooManyRequests", "message": "slow"}}, {"Retry-After": "0"})
    server.queue_item("44", 404, {"error": {"code": "Request_ResourceNotFound", "message": "gone"}})
    result = client.batch(reqs)
    assert [len(b) for b in server.batch_log] == [20, 20, 5, 2]
    assert sorted(server.batch_log[3]) == ["30", "7"]
    assert sorted(result, key=int) == [str(i) for i in range(45)]
    assert result["7"].status == 200 and result["7"].json["url"] == "/applications/7"
    assert result["44"].status == 404 and not result["44"].ok
    err = client.batch_error(reqs[44], result["44"])
    assert err.status == 404 and err.code == "Request_ResourceNotFound"
    sent = json.loads(server.requests_to("/v1.0/$batch")[0]["body"].decode("utf-8"))
    assert sent["requests"][0] == {"id": "0", "method": "GET", "url": "/applications/0"}


def test_batch_item_bodies_get_content_type(server, make_client):
    client = make_client()
    client.batch([{"id": "a", "method": "PATCH", "url": "/applications/1", "body": {"displayName": u"é"}}])
    sent = json.loads(server.requests_to("/v1.0/$batch")[0]["body"].decode("utf-8"))
    assert sent["requests"][0]["headers"] == {"Content-Type": "application/json"}
    assert sent["requests"][0]["body"] == {"displayName": u"é"}


def test_batch_gives_up_and_returns_the_429(server, make_client):
    client = make_client(retries={"total": 1, "backoff_base": 0.01})
    for _attempt in range(3):
        server.queue_item("x", 429, {"error": {"code": "TooManyRequests", "message": "slow"}}, {"Retry-After": "0"})
    result = client.batch([{"id": "x", "method": "GET", "url": "/me"}])
    assert result["x"].status == 429 and len(server.batch_log) == 2


def test_connection_refused_retries_then_fails(make_client, tls_ca):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    url = "https://127.0.0.1:%d" % port
    client = make_client(api_url=url, retries={"total": 2, "backoff_base": 0.01})
    with pytest.raises(MtpApiError) as exc:
        client.post("mtp", HUNT, json={"Query": "x"})  # not sent at all, so retried even for a POST
    assert "could not connect" in exc.value.msg and client.stats["retries"] == 2


def test_ca_path_wins_over_requests_ca_bundle(server, make_client, monkeypatch, tmp_path):
    # An unrelated bundle in REQUESTS_CA_BUNDLE must not replace ca_path (psf/requests#3829).
    other = tmp_path / "other.pem"
    import trustme
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other))
    client = make_client()
    assert client.get("mtp", "/incidents").status == 200


def test_without_ca_path_the_private_ca_is_refused(server, make_client, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = make_client(ca_path=None)
    with pytest.raises(MtpApiError) as exc:
        client.get("mtp", "/incidents")
    assert "TLS" in exc.value.msg and "CERTIFICATE_VERIFY_FAILED" in exc.value.msg and "ca_path" in exc.value.hint


def test_validate_certs_false_despite_env_bundle(server, make_client, monkeypatch, tmp_path):
    import trustme
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    client = make_client(ca_path=None, validate_certs=False)
    assert client.get("mtp", "/incidents").status == 200


def test_session_proxies_from_env_honour_no_proxy(monkeypatch, tls_ca):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.test:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    session = build_session(MtpOptionAdapter.from_dict({"ca_path": tls_ca[2], "validate_certs": True}))
    assert session.trust_env is False and session.verify == tls_ca[2]
    far = session.merge_environment_settings("https://graph.microsoft.com/v1.0/x", {}, None, None, None)
    near = session.merge_environment_settings("https://127.0.0.1:8443/v1.0/x", {}, None, None, None)
    assert far["proxies"].get("https") == "http://proxy.example.test:3128" and far["verify"] == tls_ca[2]
    assert "https" not in near["proxies"]
