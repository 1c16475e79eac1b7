"""MDE machines over real HTTPS: seeding from the hunting devices, OData filters and paging, get by id or
name, tags, roles, and the user-data hook ``machines.load_machines``."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from test_hunting_api import WDATP, get_token

CONTOSO_WS = "ws-fin-07.contoso.local"


@pytest.fixture
def mde(emulator):
    emulator.reset()
    emulator.set_config(quota_scale=100)
    token = get_token(emulator, WDATP)
    session = emulator.session()

    class Mde:
        def get(self, path, token_=None, **params):
            return session.get(emulator.url(path), params=params or None, timeout=60,
                               headers={"Authorization": f"Bearer {token_ or token}"})

        def post(self, path, body, token_=None):
            return session.post(emulator.url(path), json=body, timeout=60,
                                headers={"Authorization": f"Bearer {token_ or token}"})

    yield Mde()
    session.close()
    emulator.reset()


def test_machines_are_the_hunting_devices(mde):
    resp = mde.get("/api/machines")
    assert resp.status_code == 200
    body = resp.json()
    assert body["@odata.context"].endswith("/api/$metadata#Machines")
    names = [m["computerDnsName"] for m in body["value"]]
    assert len(names) == 24
    assert names[0] == CONTOSO_WS
    assert "lnx-build-01.contoso.local" in names
    first = body["value"][0]
    assert len(first["id"]) == 40
    assert first["osPlatform"] == "Windows11"
    assert first["machineTags"] == ["Finance"]
    assert not any(k.startswith("_") for k in first)


def test_filter_by_dns_name_and_startswith(mde):
    one = mde.get("/api/machines", **{"$filter": f"computerDnsName eq '{CONTOSO_WS}'"}).json()["value"]
    assert [m["computerDnsName"] for m in one] == [CONTOSO_WS]
    srv = mde.get("/api/machines", **{"$filter": "startswith(computerDnsName,'srv-dc') and osPlatform eq "
                                                  "'WindowsServer2022'"}).json()["value"]
    assert sorted(m["computerDnsName"] for m in srv) == ["srv-dc-01.contoso.local", "srv-dc-02.contoso.local"]
    tagged = mde.get("/api/machines", **{"$filter": "machineTags eq 'Linux'"}).json()["value"]
    assert len(tagged) == 3


def test_an_and_inside_a_literal_does_not_split_the_filter(mde):
    # the service reads 'and' only between clauses: a literal holding one is a value, not two broken clauses
    resp = mde.get("/api/machines", **{"$filter": "computerDnsName eq 'sales and ops' and osPlatform eq 'Linux'"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["value"] == []
    both = mde.get("/api/machines", **{"$filter": "machineTags eq 'Linux' AND osPlatform ne 'it''s and'"})
    assert len(both.json()["value"]) == 3


@pytest.mark.parametrize("flt", ["computerDnsName like 'x'", "nosuchfield eq 'x'", "osPlatform eq"])
def test_bad_filters_are_400(mde, flt):
    resp = mde.get("/api/machines", **{"$filter": flt})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "InvalidRequest"


def test_paging_with_top_has_no_next_link_and_skip_works(mde):
    page = mde.get("/api/machines", **{"$top": "10", "$skip": "20"}).json()
    assert len(page["value"]) == 4
    assert "@odata.nextLink" not in page
    assert mde.get("/api/machines", **{"$top": "10001"}).status_code == 400


def test_paging_without_top_follows_skip_links(emulator, mde):
    emulator.control("PATCH", "machines/config", json={"page_size": 10})
    seen, url = [], "/api/machines"
    while url:
        body = mde.get(url).json()
        seen += [m["id"] for m in body["value"]]
        link = body.get("@odata.nextLink")
        url = f"{urlsplit(link).path}?{urlsplit(link).query}" if link else None
        if link:
            assert "$skip=" in link
    assert len(seen) == 24 and len(set(seen)) == 24


def test_get_by_id_or_name_and_404(mde):
    listed = mde.get("/api/machines", **{"$filter": f"computerDnsName eq '{CONTOSO_WS}'"}).json()["value"][0]
    assert mde.get(f"/api/machines/{listed['id']}").json()["computerDnsName"] == CONTOSO_WS
    assert mde.get(f"/API/machines/{CONTOSO_WS}").json()["id"] == listed["id"]
    missing = mde.get("/api/machines/" + "0" * 40)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"


def test_tags_need_machine_readwrite(mde):
    mid = mde.get("/api/machines", **{"$top": "1"}).json()["value"][0]["id"]
    resp = mde.post(f"/api/machines/{mid}/tags", {"Value": "Contained", "Action": "Add"})
    # The seeded app has Machine.Read.All, not Machine.ReadWrite.All: tags are a write it may not do.
    assert resp.status_code == 403
    assert "Machine.ReadWrite.All" in resp.json()["error"]["message"]


def test_empty_tenant_is_404_and_load_machines(emulator, mde):
    resp = emulator.control("POST", "machines/load", json={"machines": []})
    assert resp.status_code == 200 and resp.json()["machines"] == 0
    empty = mde.get("/api/machines")
    assert empty.status_code == 404
    emulator.control("POST", "machines/load", json={"machines": [
        {"DeviceId": "a" * 40, "DeviceName": "custom-01.example.local", "OSPlatform": "Linux",
         "machineTags": ["Lab"]}]})
    value = mde.get("/api/machines").json()["value"]
    assert [(m["id"], m["computerDnsName"], m["osPlatform"], m["machineTags"]) for m in value] == [
        ("a" * 40, "custom-01.example.local", "Linux", ["Lab"])]


def test_reading_needs_a_machine_role(emulator, mde):
    admin = get_token(emulator, WDATP, app="admin_app")
    resp = mde.get("/api/machines", token_=admin)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "Forbidden"
    assert "Machine.Read.All" in resp.json()["error"]["message"]


def test_devices_loaded_as_user_data_are_served_and_isolated(mde, emulator):
    resp = emulator.control("POST", "data/devices", json=[
        {"computerDnsName": "ws-ci-42.contoso.local", "osPlatform": "Windows11", "machineTags": ["ci"]}])
    assert resp.status_code == 200, resp.text
    (machine_id,) = resp.json()["loaded"]["devices"]
    found = mde.get("/api/machines", **{"$filter": "computerDnsName eq 'ws-ci-42.contoso.local'"}).json()["value"]
    assert [(m["id"], m["machineTags"]) for m in found] == [(machine_id, ["ci"])]
    isolate = mde.post(f"/api/machines/{machine_id}/isolate", {"Comment": "ci", "IsolationType": "Full"})
    assert isolate.status_code == 201, isolate.text
    # the same device again is not re-added, and its pending action stays
    again = mde.get(f"/api/machines/{machine_id}")
    assert again.status_code == 200 and again.json()["computerDnsName"] == "ws-ci-42.contoso.local"
    actions = mde.get("/api/machineactions", **{"$filter": f"machineId eq '{machine_id}'"}).json()["value"]
    assert [a["type"] for a in actions] == ["Isolate"]
