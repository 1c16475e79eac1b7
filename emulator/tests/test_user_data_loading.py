"""Users' own test data over real HTTPS: rows (JSON, NDJSON, CSV), incidents and devices loaded through the
control plane, then found through both hunting APIs (Graph runHuntingQuery, legacy /api/advancedhunting/run) and
both incident APIs (Graph security/incidents, /api/incidents). Relative times, bad input and reset."""

from __future__ import annotations

import datetime as dt

import pytest

from test_hunting_api import GRAPH, MTP, get_token

UTC = dt.timezone.utc


@pytest.fixture()
def client(emulator):
    emulator.reset()
    emulator.set_config(hunting_rows=50, quota_scale=100)
    tokens = {MTP: get_token(emulator, MTP), GRAPH: get_token(emulator, GRAPH)}
    session = emulator.session()

    class Client:
        def load(self, path, body=None, data=None, content_type=None, tenant=None):
            headers = {"Content-Type": content_type} if content_type else {}
            return session.post(emulator.control_url + path, json=body, data=data, headers=headers, timeout=60,
                                params={"tenant": tenant} if tenant else None)

        def mtp_hunt(self, query):
            resp = session.post(emulator.url("/api/advancedhunting/run"), json={"Query": query}, timeout=120,
                                headers={"Authorization": f"Bearer {tokens[MTP]}"})
            assert resp.status_code == 200, resp.text
            return resp.json()["Results"]

        def graph_hunt(self, query):
            resp = session.post(emulator.url("/v1.0/security/runHuntingQuery"), json={"Query": query}, timeout=120,
                                headers={"Authorization": f"Bearer {tokens[GRAPH]}"})
            assert resp.status_code == 200, resp.text
            return resp.json()["results"]

        def get(self, path, resource, **params):
            resp = session.get(emulator.url(path), params=params, timeout=60,
                               headers={"Authorization": f"Bearer {tokens[resource]}"})
            assert resp.status_code == 200, resp.text
            return resp.json()

    yield Client()
    session.close()
    emulator.reset()


def _parse(text: str) -> dt.datetime:
    return dt.datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def test_rows_in_three_formats_are_found_by_both_hunting_apis(client):
    json_rows = [{"Timestamp": "-2h", "DeviceName": "ws-ci-01.contoso.local", "FileName": "evil.exe",
                  "ProcessCommandLine": "evil.exe --plant json", "ProcessId": 4242}]
    resp = client.load("/data/hunting/DeviceProcessEvents", body=json_rows)
    assert resp.status_code == 200, resp.text
    assert resp.json()["loaded"] == {"hunting": {"DeviceProcessEvents": 1}}
    ndjson = ('{"Timestamp": "-3h", "DeviceName": "ws-ci-01.contoso.local", "FileName": "evil.exe", '
              '"ProcessCommandLine": "evil.exe --plant ndjson"}\n'
              '{"Timestamp": "-1d", "DeviceName": "ws-ci-02.contoso.local", "FileName": "evil.exe", '
              '"ProcessCommandLine": "evil.exe --plant ndjson"}\n')
    assert client.load("/data/hunting/DeviceProcessEvents", data=ndjson,
                       content_type="application/x-ndjson").status_code == 200
    csv_body = ("Timestamp,DeviceName,FileName,ProcessCommandLine,ProcessId\n"
                "now,ws-ci-03.contoso.local,evil.exe,evil.exe --plant csv,7\n")
    assert client.load("/data/hunting/DeviceProcessEvents", data=csv_body, content_type="text/csv").status_code == 200

    query = ("DeviceProcessEvents | where FileName == 'evil.exe' "
             "| project Timestamp, DeviceName, ProcessCommandLine, ProcessId | order by DeviceName asc, Timestamp asc")
    for rows in (client.mtp_hunt(query), client.graph_hunt(query)):
        assert [(r["DeviceName"], r["ProcessCommandLine"]) for r in rows] == [
            ("ws-ci-01.contoso.local", "evil.exe --plant ndjson"),
            ("ws-ci-01.contoso.local", "evil.exe --plant json"),
            ("ws-ci-02.contoso.local", "evil.exe --plant ndjson"),
            ("ws-ci-03.contoso.local", "evil.exe --plant csv")]
        assert [r["ProcessId"] for r in rows][1::2] == [4242, 7]
    # relative times are relative to the load: -2h is about two hours ago
    age = dt.datetime.now(UTC) - _parse(client.mtp_hunt(query)[1]["Timestamp"])
    assert dt.timedelta(hours=1, minutes=55) < age < dt.timedelta(hours=2, minutes=5)
    # loaded rows obey the query's time filter like seeded ones
    recent = client.mtp_hunt("DeviceProcessEvents | where FileName == 'evil.exe' and Timestamp > ago(12h) | count")
    assert recent == [{"Count": 3}]


def test_deprecated_table_name_shares_the_rows_of_its_successor(client):
    resp = client.load("/data", body={"hunting": {"AADSignInEventsBeta": [
        {"Timestamp": "-30m", "AccountUpn": "ci.user@contoso.onmicrosoft.com", "ErrorCode": 50126,
         "AadDeviceId": "0f5c8f2e-1111-4222-8333-944455556666", "Application": "CI app"}]}})
    assert resp.status_code == 200, resp.text
    query = "| where Application == 'CI app' | project AccountUpn, ErrorCode"
    assert client.mtp_hunt("EntraIdSignInEvents " + query) == [
        {"AccountUpn": "ci.user@contoso.onmicrosoft.com", "ErrorCode": 50126}]
    assert client.graph_hunt("AADSignInEventsBeta " + query) == [
        {"AccountUpn": "ci.user@contoso.onmicrosoft.com", "ErrorCode": 50126}]
    assert client.mtp_hunt("EntraIdSignInEvents | where Application == 'CI app' | project EntraIdDeviceId") == [
        {"EntraIdDeviceId": "0f5c8f2e-1111-4222-8333-944455556666"}]


def test_incidents_with_alerts_are_found_by_both_incident_apis_and_in_alert_tables(client):
    document = {"incidents": [{
        "title": "CI planted incident", "severity": "high", "status": "active", "created": "-1h",
        "tags": ["ci"], "alerts": [{
            "title": "CI planted alert", "category": "Execution", "severity": "high", "created": "-55m",
            "mitreTechniques": ["T1059.001"],
            "evidence": [{"EntityType": "Machine", "DeviceName": "ws-ci-01.contoso.local",
                          "DeviceId": "a" * 40},
                         {"EntityType": "File", "FileName": "evil.exe", "SHA256": "b" * 64}]}]}]}
    resp = client.load("/data", body=document)
    assert resp.status_code == 200, resp.text
    (incident_id,) = resp.json()["loaded"]["incidents"]

    mtp = client.get(f"/api/incidents/{incident_id}", MTP)
    assert (mtp["incidentName"], mtp["severity"], mtp["status"], mtp["tags"]) == \
        ("CI planted incident", "High", "Active", ["ci"])
    assert [a["title"] for a in mtp["alerts"]] == ["CI planted alert"]
    assert mtp["alerts"][0]["devices"][0]["deviceDnsName"] == "ws-ci-01.contoso.local"
    listed = client.get("/api/incidents", MTP, **{"$filter": "status eq 'Active'", "$top": "100"})["value"]
    assert incident_id in [i["incidentId"] for i in listed]

    graph = client.get(f"/v1.0/security/incidents/{incident_id}", GRAPH, **{"$expand": "alerts"})
    assert (graph["displayName"], graph["severity"], graph["customTags"]) == ("CI planted incident", "high", ["ci"])
    assert graph["alerts"][0]["title"] == "CI planted alert"
    assert graph["alerts"][0]["mitreTechniques"] == ["T1059.001"]
    assert "CI planted incident" in [i["displayName"] for i in client.get(
        "/v1.0/security/incidents", GRAPH, **{"$filter": "severity eq 'high'", "$top": "50"})["value"]]

    hunted = client.graph_hunt("AlertEvidence | where Title == 'CI planted alert' | project EntityType, FileName, "
                               "DeviceName | order by EntityType asc")
    assert hunted == [{"EntityType": "File", "FileName": "evil.exe", "DeviceName": None},
                      {"EntityType": "Machine", "FileName": None, "DeviceName": "ws-ci-01.contoso.local"}]


def test_devices_are_stored_as_machines_and_report_device_info_rows(client, emulator):
    resp = client.load("/data/devices", body=[
        {"computerDnsName": "ws-ci-01.contoso.local", "osPlatform": "Windows11", "lastSeen": "-10m",
         "machineTags": ["ci", "finance"], "exposureLevel": "High", "lastExternalIpAddress": "203.0.113.9"}])
    assert resp.status_code == 200, resp.text
    (machine_id,) = resp.json()["loaded"]["devices"]
    assert len(machine_id) == 40
    listing = emulator.control("GET", "data/devices").json()["value"]  # the MDE machine shape
    assert [(m["id"], m["computerDnsName"], m["machineTags"], m["exposureLevel"]) for m in listing] == \
        [(machine_id, "ws-ci-01.contoso.local", ["ci", "finance"], "High")]
    assert listing[0]["lastSeen"].endswith("Z")
    for rows in (client.mtp_hunt(f"DeviceInfo | where DeviceId == '{machine_id}' | project DeviceName, "
                                 "OSPlatform, PublicIP, ExposureLevel, DeviceManualTags"),
                 client.graph_hunt("DeviceInfo | where DeviceName == 'ws-ci-01.contoso.local' | project DeviceName,"
                                   " OSPlatform, PublicIP, ExposureLevel, DeviceManualTags")):
        assert rows == [{"DeviceName": "ws-ci-01.contoso.local", "OSPlatform": "Windows11",
                         "PublicIP": "203.0.113.9", "ExposureLevel": "High", "DeviceManualTags": '["ci", "finance"]'}]


@pytest.mark.parametrize("path, body, needle", [
    ("/data/hunting/NoSuchTable", [{"Timestamp": "now"}], "Unknown hunting table 'NoSuchTable'"),
    ("/data/hunting/DeviceProcessEvents", [{"Nope": 1}], "unknown column(s) Nope"),
    ("/data/hunting/DeviceProcessEvents", [{"Timestamp": "yesterday"}], "'yesterday' is neither"),
    ("/data/hunting/DeviceProcessEvents", [{"ProcessId": "x"}], "expected an integer"),
    ("/data/devices", [{"osPlatform": "Windows11"}], "'computerDnsName'"),
    ("/data/incidents", [{"title": "t", "severity": "huge"}], "severity"),
    ("/data", {"machineActions": []}, "Unknown data kind(s): machineActions"),
])
def test_bad_data_is_a_400_naming_it_and_changes_nothing(client, path, body, needle):
    resp = client.load(path, body=body)
    assert resp.status_code == 400
    assert needle in resp.json()["error"]["message"]
    assert client.mtp_hunt("DeviceProcessEvents | where isempty(DeviceId) | count") == [{"Count": 0}]


def test_loaded_data_is_gone_after_reset(client, emulator):
    assert client.load("/data/hunting/DeviceEvents", body=[{"Timestamp": "now", "ActionType": "CiOnly"}]) \
        .status_code == 200
    assert client.mtp_hunt("DeviceEvents | where ActionType == 'CiOnly' | count") == [{"Count": 1}]
    emulator.reset()
    emulator.set_config(hunting_rows=50, quota_scale=100)
    assert client.mtp_hunt("DeviceEvents | where ActionType == 'CiOnly' | count") == [{"Count": 0}]


def test_fixture_data_section_is_loaded_and_reloaded_on_reset(emulator_factory):
    from mtp_emulator import seed
    from mtp_emulator.state import EmulatorConfig

    fixture = seed.default_fixture()
    seed.merge_data(fixture, {"tenant": "contoso.onmicrosoft.com",
                              "hunting": {"DeviceEvents": [{"Timestamp": "-5m", "ActionType": "FromFixture"}]}})
    config = EmulatorConfig()
    config.hunting_rows = 20
    handle = emulator_factory(fixture=fixture, config=config)
    token = get_token(handle, MTP)
    with handle.session() as s:
        for _ in range(2):
            resp = s.post(handle.url("/api/advancedhunting/run"), timeout=120,
                          json={"Query": "DeviceEvents | where ActionType == 'FromFixture' | count"},
                          headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 200, resp.text
            assert resp.json()["Results"] == [{"Count": 1}]
            handle.reset()
