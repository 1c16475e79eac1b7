"""MDE machine actions over real HTTPS: validation, the clock-driven state machine, duplicates, fault hooks,
cancel, the package URI and the roles each route needs."""

from __future__ import annotations

import time

import pytest

from test_hunting_api import WDATP, get_token

WS = "ws-fin-07.contoso.local"
MAC = "mac-design-02.contoso.local"


@pytest.fixture
def mde(emulator):
    emulator.reset()
    emulator.set_config(quota_scale=100)
    emulator.control("PATCH", "machines/config", json={"pending_seconds": 0.2, "running_seconds": 0.2})
    token = get_token(emulator, WDATP)
    session = emulator.session()

    class Mde:
        def get(self, path, **params):
            return session.get(emulator.url(path), params=params or None, timeout=60,
                               headers={"Authorization": f"Bearer {token}"})

        def post(self, path, body, token_=None):
            return session.post(emulator.url(path), json=body, timeout=60,
                                headers={"Authorization": f"Bearer {token_ or token}"})

        def machine_id(self, name=WS):
            return self.get(f"/api/machines/{name}").json()["id"]

        def wait(self, action_id, seconds=3.0):
            end = time.time() + seconds
            while time.time() < end:
                body = self.get(f"/api/machineactions/{action_id}").json()
                if body["status"] in ("Succeeded", "Failed", "TimeOut", "Cancelled"):
                    return body
                time.sleep(0.1)
            return body

    yield Mde()
    session.close()
    emulator.reset()


def test_isolate_moves_pending_in_progress_succeeded(emulator, mde):
    mid = mde.machine_id()
    resp = mde.post(f"/api/machines/{mid}/isolate", {"Comment": "contain", "IsolationType": "Selective"})
    assert resp.status_code == 201
    action = resp.json()
    assert (action["type"], action["scope"], action["status"], action["machineId"], action["computerDnsName"]) == (
        "Isolate", "Selective", "Pending", mid, WS)
    assert action["requestorComment"] == "contain"
    time.sleep(0.3)
    assert mde.get(f"/api/machineactions/{action['id']}").json()["status"] == "InProgress"
    done = mde.wait(action["id"])
    assert done["status"] == "Succeeded"
    assert done["lastUpdateDateTimeUtc"] > action["lastUpdateDateTimeUtc"]
    view = emulator.control("GET", "machines").json()
    assert [m["isolation"] for m in view["machines"] if m["id"] == mid] == ["Selective"]


@pytest.mark.parametrize("route, body, code", [
    ("isolate", {"IsolationType": "Full"}, "MissingRequiredParameter"),
    ("isolate", {"Comment": "x", "IsolationType": "Partial"}, "InvalidRequestBody"),
    ("runAntiVirusScan", {"Comment": "x", "ScanType": "Deep"}, "InvalidRequestBody"),
    ("StopAndQuarantineFile", {"Comment": "x", "Sha1": "abc"}, "InvalidRequestBody"),
    ("offboard", {"Comment": " "}, "MissingRequiredParameter"),
])
def test_validation_is_400(mde, route, body, code):
    resp = mde.post(f"/api/machines/{mde.machine_id()}/{route}", body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == code


def test_unknown_machine_is_404_and_route_case_is_ignored(mde):
    assert mde.post("/api/machines/" + "f" * 40 + "/isolate", {"Comment": "x"}).status_code == 404
    resp = mde.post(f"/api/machines/{mde.machine_id()}/RUNANTIVIRUSSCAN", {"Comment": "x", "ScanType": "Quick"})
    assert resp.status_code == 201 and resp.json()["type"] == "RunAntiVirusScan"


def test_duplicate_is_400_already_in_progress_or_echo(emulator, mde):
    mid = mde.machine_id()
    first = mde.post(f"/api/machines/{mid}/isolate", {"Comment": "a", "IsolationType": "Full"}).json()
    again = mde.post(f"/api/machines/{mid}/isolate", {"Comment": "b", "IsolationType": "Full"})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "ActiveRequestAlreadyExists"
    assert again.json()["error"]["message"] == "Action is already in progress"
    emulator.control("PATCH", "machines/config", json={"duplicate": "echo"})
    echo = mde.post(f"/api/machines/{mid}/isolate", {"Comment": "c", "IsolationType": "Full"})
    assert echo.status_code == 201 and echo.json()["id"] == first["id"]


@pytest.mark.parametrize("outcome", ["Failed", "TimeOut"])
def test_outcome_hooks(emulator, mde, outcome):
    emulator.control("POST", "machines/outcome", json={"type": "RunAntiVirusScan", "outcome": outcome})
    mid = mde.machine_id()
    action = mde.post(f"/api/machines/{mid}/runAntiVirusScan", {"Comment": "x", "ScanType": "Full"}).json()
    assert mde.wait(action["id"])["status"] == outcome
    nxt = mde.post(f"/api/machines/{mid}/runAntiVirusScan", {"Comment": "x", "ScanType": "Full"}).json()
    assert mde.wait(nxt["id"])["status"] == "Succeeded"


def test_offline_machine_stays_pending_and_cancel(emulator, mde):
    emulator.control("POST", "machines/outcome", json={"type": "Isolate", "outcome": "Pending"})
    mid = mde.machine_id()
    action = mde.post(f"/api/machines/{mid}/isolate", {"Comment": "x"}).json()
    time.sleep(0.5)
    assert mde.get(f"/api/machineactions/{action['id']}").json()["status"] == "Pending"
    resp = mde.post(f"/api/machineactions/{action['id']}/cancel", {"Comment": "never mind"})
    assert resp.status_code == 200
    body = resp.json()
    assert (body["status"], body["cancellationComment"]) == ("Cancelled", "never mind")
    assert body["cancellationRequestor"].startswith("API-App:")
    final = mde.post(f"/api/machineactions/{action['id']}/cancel", {"Comment": "again"})
    assert final.status_code == 400
    assert mde.post("/api/machineactions/00000000-0000-0000-0000-000000000000/cancel", {}).status_code == 404


def test_list_filters_newest_first(mde):
    mid = mde.machine_id()
    other = mde.machine_id("srv-dc-01.contoso.local")
    a = mde.post(f"/api/machines/{mid}/restrictCodeExecution", {"Comment": "x"}).json()
    time.sleep(0.01)
    b = mde.post(f"/api/machines/{mid}/runAntiVirusScan", {"Comment": "x", "ScanType": "Quick"}).json()
    mde.post(f"/api/machines/{other}/runAntiVirusScan", {"Comment": "x", "ScanType": "Quick"})
    mine = mde.get("/api/machineactions", **{"$filter": f"machineId eq '{mid}'"}).json()["value"]
    assert [x["id"] for x in mine] == [b["id"], a["id"]]
    scans = mde.get("/api/machineactions", **{"$filter": "type eq 'RunAntiVirusScan' and status eq 'Pending'"})
    assert len(scans.json()["value"]) == 2
    assert len(mde.get("/api/machineactions", **{"$top": "1"}).json()["value"]) == 1


def test_package_uri_404_until_done_then_quoted(emulator, mde):
    mid = mde.machine_id()
    action = mde.post(f"/api/machines/{mid}/collectInvestigationPackage", {"Comment": "x"}).json()
    early = mde.get(f"/api/machineactions/{action['id']}/getPackageUri")
    assert early.status_code == 404
    dup = mde.post(f"/api/machines/{mid}/collectInvestigationPackage", {"Comment": "x"})
    assert dup.status_code == 400
    assert mde.wait(action["id"])["status"] == "Succeeded"
    value = mde.get(f"/api/machineactions/{action['id']}/GetPackageUri").json()["value"]
    assert value.startswith('"https://') and value.endswith('"')
    url = value.strip('"')
    with emulator.session() as plain:  # a SAS-style link: no bearer token
        got = plain.get(url, timeout=30)
    assert got.status_code == 200
    assert got.text == f"investigation package of {WS} (action {action['id']})\n"
    with emulator.session() as plain:
        assert plain.get(url.split("?")[0][:-4] + "0000", timeout=30).status_code == 403


def test_unisolate_clears_isolation_and_offboard_status(emulator, mde):
    mid = mde.machine_id()
    iso = mde.post(f"/api/machines/{mid}/isolate", {"Comment": "x", "IsolationType": "Full"}).json()
    mde.wait(iso["id"])
    uni = mde.post(f"/api/machines/{mid}/unisolate", {"Comment": "x"}).json()
    assert mde.wait(uni["id"])["status"] == "Succeeded"
    view = emulator.control("GET", "machines").json()
    assert [m["isolation"] for m in view["machines"] if m["id"] == mid] == [None]
    emulator.control("PATCH", "machines/config", json={"offboard_status": 200})
    off = mde.post(f"/api/machines/{mid}/offboard", {"Comment": "retire"})
    assert off.status_code == 200 and off.json()["type"] == "Offboard"


def test_unsupported_os_switch(emulator, mde):
    emulator.control("PATCH", "machines/config", json={"unsupported": {"Isolate": ["macOS"]}})
    resp = mde.post(f"/api/machines/{mde.machine_id(MAC)}/isolate", {"Comment": "x"})
    assert resp.status_code == 400
    assert "macOS" in resp.json()["error"]["message"]


def test_each_action_needs_its_role(emulator, mde):
    admin = get_token(emulator, WDATP, app="admin_app")
    resp = mde.post(f"/api/machines/{mde.machine_id()}/restrictCodeExecution", {"Comment": "x"}, token_=admin)
    assert resp.status_code == 403
    assert "Machine.RestrictExecution" in resp.json()["error"]["message"]
