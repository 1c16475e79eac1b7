"""POST /_emulator/machines/generate: a generated fleet past the 10,000-machine page, served with the real
``$top``/``$skip`` behaviour (no nextLink with ``$top``) and varied fields for inventory grouping."""

from __future__ import annotations

from collections import Counter

import pytest

from test_machines_api import mde  # noqa: F401  (the fixture)


def _all_with_top(mde, **params):
    machines, skip = [], 0
    while True:
        body = mde.get("/api/machines", **{"$top": "10000", "$skip": str(skip), **params}).json()
        assert "@odata.nextLink" not in body
        machines.extend(body["value"])
        if len(body["value"]) < 10000:
            return machines
        skip += 10000


def test_generate_12000_pages_with_top_and_skip(emulator, mde):  # noqa: F811
    resp = emulator.control("POST", "machines/generate", json={"count": 12000})
    assert resp.status_code == 200, resp.text
    assert resp.json()["machines"] == 12000
    first = mde.get("/api/machines", **{"$top": "10000"}).json()
    assert len(first["value"]) == 10000 and "@odata.nextLink" not in first
    second = mde.get("/api/machines", **{"$top": "10000", "$skip": "10000"}).json()
    assert len(second["value"]) == 2000
    ids = {m["id"] for m in first["value"] + second["value"]}
    assert len(ids) == 12000
    assert all(len(i) == 40 for i in ids)
    assert first["value"][0]["computerDnsName"] == "dev-000000.contoso.local"
    assert not any(k.startswith("_") for k in first["value"][0])


def test_generated_fleet_is_varied_with_known_counts(emulator, mde):  # noqa: F811
    emulator.control("POST", "machines/generate", json={"count": 12000})
    machines = _all_with_top(mde)
    assert len(machines) == 12000
    assert Counter(m["osPlatform"] for m in machines) == {
        "Windows10": 2000, "Windows11": 2000, "WindowsServer2019": 2000, "WindowsServer2022": 2000,
        "Linux": 2000, "macOS": 2000}
    assert Counter(m["healthStatus"] for m in machines) == {
        "Active": 2000, "Inactive": 2000, "ImpairedCommunication": 2000, "NoSensorData": 2000,
        "NoSensorDataImpairedCommunication": 2000, "Unknown": 2000}
    assert Counter(m["riskScore"] for m in machines) == {
        "None": 2400, "Informational": 2400, "Low": 2400, "Medium": 2400, "High": 2400}
    assert Counter(m["exposureLevel"] for m in machines) == {"None": 3000, "Low": 3000, "Medium": 3000,
                                                              "High": 3000}
    assert Counter(m["onboardingStatus"] for m in machines) == {
        "onboarded": 8400, "CanBeOnboarded": 1200, "Unsupported": 1200, "InsufficientInfo": 1200}
    groups = Counter(m["rbacGroupName"] for m in machines)
    assert groups["Finance"] == 1715 and groups["Engineering"] == 1715 and groups["UnassignedGroup"] == 1714
    tags = Counter(t for m in machines for t in m["machineTags"])
    assert tags == {"VIP": 4000, "PCI": 2400}


def test_filters_apply_to_the_generated_fleet(emulator, mde):  # noqa: F811
    emulator.control("POST", "machines/generate", json={"count": 12000})
    win10 = _all_with_top(mde, **{"$filter": "osPlatform eq 'Windows10'"})
    assert len(win10) == 2000
    vip = _all_with_top(mde, **{"$filter": "machineTags eq 'VIP' and healthStatus eq 'Active'"})
    # k % 3 == 0 and (k // 2) % 6 == 0: k = 0 of each block of 12
    assert len(vip) == 1000


def test_without_top_the_next_links_carry_skip(emulator, mde):  # noqa: F811
    emulator.control("POST", "machines/generate", json={"count": 12000})
    body = mde.get("/api/machines").json()
    assert len(body["value"]) == 10000
    link = body["@odata.nextLink"]
    assert "$skip=10000" in link
    rest = mde.get(link.split("/api/machines", 1)[1] and "/api/machines", **{"$skip": "10000"}).json()
    assert len(rest["value"]) == 2000 and "@odata.nextLink" not in rest


def test_unnamed_machines_and_seed(emulator, mde):  # noqa: F811
    emulator.control("POST", "machines/generate", json={"count": 10, "unnamed": 3, "seed": "other"})
    value = mde.get("/api/machines").json()["value"]
    assert [m["computerDnsName"] is None for m in value] == [False] * 7 + [True] * 3
    assert value[9]["lastIpAddress"] == "10.0.0.9"
    emulator.control("POST", "machines/generate", json={"count": 10})
    again = mde.get("/api/machines").json()["value"]
    assert {m["id"] for m in again}.isdisjoint(m["id"] for m in value)


@pytest.mark.parametrize("body", [{}, {"count": -1}, {"count": "12"}, {"count": 10, "unnamed": 11},
                                  {"count": 200001}, {"count": True}])
def test_bad_generate_bodies_are_400(emulator, mde, body):  # noqa: F811
    resp = emulator.control("POST", "machines/generate", json=body)
    assert resp.status_code == 400
    assert "count" in resp.text or "unnamed" in resp.text


def test_generated_machines_take_actions(emulator, mde):  # noqa: F811
    emulator.control("POST", "machines/generate", json={"count": 3})
    mid = mde.get("/api/machines").json()["value"][1]["id"]
    resp = mde.post(f"/api/machines/{mid}/isolate", {"Comment": "gen", "IsolationType": "Full"})
    assert resp.status_code == 201, resp.text
    assert mde.get(f"/api/machines/{mid}").json()["computerDnsName"] == "dev-000001.contoso.local"
