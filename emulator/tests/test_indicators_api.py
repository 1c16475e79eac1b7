"""MDE indicators over real HTTPS: submit (upsert), list, delete, import, batch delete, the active limit, quotas."""

from __future__ import annotations

import pytest

from mtp_emulator import indicators_store
from test_hunting_api import GRAPH, WDATP, get_token

SHA1 = "220e7d15b011d7fac48f2bd61114db1022197f7f"


def ind(value=SHA1, kind="FileSha1", action="Block", **extra):
    body = {"indicatorValue": value, "indicatorType": kind, "action": action, "title": "t", "description": "d"}
    body.update(extra)
    return body


def sha(n: int) -> str:
    return "%040x" % n


@pytest.fixture
def api(emulator):
    emulator.reset()
    emulator.set_config(quota_scale=100)
    token = get_token(emulator, WDATP)
    session = emulator.session()

    class Api:
        def send(self, method, path, body=None, bearer=None, **params):
            return session.request(method, emulator.url(path), json=body, params=params or None, timeout=60,
                                   headers={"Authorization": f"Bearer {bearer or token}"})

        def listed(self, **params):
            resp = self.send("GET", "/api/indicators", **params)
            assert resp.status_code == 200, resp.text
            return resp.json()["value"]

    yield Api()
    session.close()
    emulator.reset()


def test_submit_answers_200_and_upserts_on_type_value_action(api):
    first = api.send("POST", "/api/indicators", ind(severity="High"))
    assert first.status_code == 200
    assert first.json()["id"] == "1" and first.json()["sourceType"] == "AadApp"
    again = api.send("POST", "/api/indicators", ind(value=SHA1.upper(), title="new title"))
    assert again.status_code == 200 and again.json()["id"] == "1" and again.json()["title"] == "new title"
    other_action = api.send("POST", "/api/indicators", ind(action="Audit", generateAlert=True))
    assert other_action.json()["id"] == "2"
    assert [i["id"] for i in api.listed()] == ["1", "2"]


def test_duplicate_mode_creates_a_second_indicator(api, emulator):
    assert emulator.control("PATCH", "indicators", json={"duplicate_mode": True}).status_code == 200
    api.send("POST", "/api/indicators", ind())
    api.send("POST", "/api/indicators", ind())
    assert len(api.listed()) == 2


@pytest.mark.parametrize("body, text", [
    ({"indicatorType": "FileSha1", "action": "Block", "title": "t", "description": "d"}, "'indicatorValue' is required"),
    (ind(kind="Hash"), "not a valid indicatorType"),
    (ind(action="Nuke"), "not a valid action"),
    (ind(value="10.0.0.0/8", kind="IpAddress"), "CIDR notation is not supported"),
    (ind(action="Audit"), "Audit action requires generateAlert"),
    (ind(value="abc"), "not a valid FileSha1"),
    (ind(severity="Critical"), "not a valid severity"),
])
def test_submit_validation_is_a_400(api, body, text):
    resp = api.send("POST", "/api/indicators", body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "BadRequest" and text in resp.json()["error"]["message"]


def test_expired_indicators_are_not_listed_and_filter_works(api):
    api.send("POST", "/api/indicators", ind(expirationTime="2001-01-01T00:00:00Z"))
    api.send("POST", "/api/indicators", ind(value="evil.example", kind="DomainName"))
    listed = api.listed()
    assert [i["indicatorValue"] for i in listed] == ["evil.example"]
    assert api.listed(**{"$filter": "indicatorType eq 'FileSha1'"}) == []
    assert len(api.listed(**{"$filter": "indicatorValue eq 'EVIL.example' and action eq 'Block'"})) == 1
    assert api.send("GET", "/api/indicators", **{"$filter": "nope eq 'x'"}).status_code == 400


def test_a_title_with_and_in_it_is_one_filter_value(api):
    api.send("POST", "/api/indicators", ind(title="Block and alert: it's and more"))
    api.send("POST", "/api/indicators", ind(value="evil.example", kind="DomainName", title="Block"))
    found = api.listed(**{"$filter": "title eq 'Block and alert: it''s and more' and action eq 'Block'"})
    assert [i["indicatorValue"] for i in found] == [SHA1]
    resp = api.send("GET", "/api/indicators", **{"$filter": "title eq 'Block and' and"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "ODataError"


def test_list_pages_with_next_link(api):
    api.send("POST", "/api/indicators/import", {"Indicators": [ind(value=sha(n)) for n in range(5)]})
    page = api.send("GET", "/api/indicators", **{"$top": "2"}).json()
    assert len(page["value"]) == 2 and "$skip=2" in page["@odata.nextLink"]
    assert api.send("GET", "/api/indicators", **{"$top": "10001"}).status_code == 400


def test_import_caps_500_and_reports_items(api):
    over = api.send("POST", "/api/indicators/import", {"Indicators": [ind(value=sha(n)) for n in range(501)]})
    assert over.status_code == 400 and "At most 500" in over.json()["error"]["message"]
    assert api.send("POST", "/api/indicators/import", {"Indicators": []}).status_code == 400
    resp = api.send("POST", "/api/indicators/import", {"Indicators": [ind(value=sha(1)), ind(value="zz")]})
    assert resp.status_code == 200
    value = resp.json()["value"]
    assert [v["isFailed"] for v in value] == [False, True]
    assert "not a valid FileSha1" in value[1]["failureReason"]


def test_active_limit_fails_post_and_import_items(api, emulator):
    emulator.control("PATCH", "indicators", json={"active_limit": 2})
    api.send("POST", "/api/indicators/import", {"Indicators": [ind(value=sha(1)), ind(value=sha(2))]})
    post = api.send("POST", "/api/indicators", ind(value=sha(3)))
    assert post.status_code == 400 and "maximum of 2 active indicators" in post.json()["error"]["message"]
    items = api.send("POST", "/api/indicators/import", {"Indicators": [ind(value=sha(1), title="x"),
                                                                       ind(value=sha(4))]}).json()["value"]
    assert [v["isFailed"] for v in items] == [False, True] and "maximum of 2" in items[1]["failureReason"]


def test_delete_and_batch_delete(api):
    api.send("POST", "/api/indicators/import", {"Indicators": [ind(value=sha(n)) for n in range(4)]})
    assert api.send("DELETE", "/api/indicators/1").status_code == 204
    assert api.send("DELETE", "/api/indicators/1").status_code == 404
    assert api.send("POST", "/api/indicators/BatchDelete", {"IndicatorIds": []}).status_code == 400
    assert api.send("POST", "/api/indicators/BatchDelete", {"IndicatorIds": ["x"]}).status_code == 400
    assert api.send("POST", "/api/indicators/BatchDelete", {"IndicatorIds": [str(n) for n in range(501)]}).status_code == 400
    missing = api.send("POST", "/api/indicators/BatchDelete", {"IndicatorIds": ["2", "99"]})
    assert missing.status_code == 404 and len(api.listed()) == 3
    assert api.send("POST", "/api/indicators/BatchDelete", {"IndicatorIds": ["2", "3"]}).status_code == 204
    assert [i["id"] for i in api.listed()] == ["4"]


def test_roles_and_audience(api, emulator):
    graph = get_token(emulator, GRAPH)
    assert api.send("GET", "/api/indicators", bearer=graph).status_code == 401
    other = get_token(emulator, WDATP, app="admin_app")
    resp = api.send("GET", "/api/indicators", bearer=other)
    assert resp.status_code == 403 and "Ti.ReadWrite" in resp.json()["error"]["message"]


def test_ti_readwrite_sees_only_its_own():
    own = {"createdBy": "app-a"}
    assert indicators_store.visible(own, {"appid": "app-a", "roles": ["Ti.ReadWrite"]})
    assert not indicators_store.visible(own, {"appid": "app-b", "roles": ["Ti.ReadWrite"]})
    assert indicators_store.visible(own, {"appid": "app-b", "roles": ["Ti.ReadWrite.All"]})


def test_import_quota_is_30_a_minute(api, emulator):
    emulator.set_config(quota_scale=1)
    statuses = [api.send("POST", "/api/indicators/import", {"Indicators": [ind(value=sha(n))]}).status_code
                for n in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_load_indicators_hook(emulator):
    emulator.reset()
    state = emulator.state
    tenant = state.tenant(emulator.tenant(0)["id"])
    rows = indicators_store.load_indicators(state, tenant, [ind(value=sha(7))], created_by="someone")
    assert rows[0]["createdBy"] == "someone" and rows[0]["id"] == "1"
    emulator.reset()


def test_indicators_load_through_the_data_document(api, emulator):
    resp = emulator.control("POST", "data/indicators", json=[ind(value=sha(9)), ind(value="evil.example", kind="DomainName")])
    assert resp.status_code == 200, resp.text
    assert resp.json()["loaded"]["indicators"] == ["1", "2"]
    assert sorted(i["indicatorValue"] for i in api.listed()) == [sha(9), "evil.example"]
    bad = emulator.control("POST", "data/indicators", json=[ind(value="10.0.0.0/8", kind="IpAddress")])
    assert bad.status_code == 400 and "indicators[0]: CIDR notation" in bad.json()["error"]["message"]
