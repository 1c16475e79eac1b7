"""Advanced hunting over real HTTPS: MTP, MDE (legacy) and Graph runHuntingQuery; errors, switches, auth.

Tokens come from the emulator's own token endpoint (client credentials of the seeded apps).
"""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest

MTP = "https://api.security.microsoft.com"
WDATP = "https://api.securitycenter.microsoft.com"
GRAPH = "https://graph.microsoft.com"
DATETIME_7 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")


def get_token(emulator, resource: str, app: str = "hunting_app") -> str:
    spec = emulator.tenant(0)
    creds = spec[app]
    with emulator.session() as s:
        resp = s.post(emulator.url(f"/{spec['id']}/oauth2/v2.0/token"), timeout=30, data={
            "grant_type": "client_credentials", "client_id": creds["client_id"],
            "client_secret": creds["client_secret"], "scope": f"{resource}/.default"})
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


@pytest.fixture(scope="module")
def hunt(emulator):
    """A small, fast data set and generous quotas for this module; reset afterwards."""
    emulator.reset()
    emulator.set_config(hunting_rows=400, quota_scale=100)
    tokens = {r: get_token(emulator, r) for r in (MTP, WDATP, GRAPH)}
    session = emulator.session()

    class Hunt:
        def mtp(self, body, token=None, path="/api/advancedhunting/run", **kw):
            headers = {"Authorization": f"Bearer {token or tokens[MTP]}"}
            return session.post(emulator.url(path), headers=headers, timeout=120, **({"json": body} if not
                                isinstance(body, (str, bytes)) else {"data": body}), **kw)

        def mde(self, body, token=None):
            return self.mtp(body, token or tokens[WDATP], path="/api/advancedqueries/run")

        def graph(self, body, token=None):
            return session.post(emulator.url("/v1.0/security/runHuntingQuery"), json=body, timeout=120,
                                headers={"Authorization": f"Bearer {token or tokens[GRAPH]}"})

        def control(self, method, path, json=None):
            resp = emulator.control(method, path, json=json)
            assert resp.status_code == 200, resp.text
            return resp.json()

    yield Hunt()
    session.close()
    emulator.reset()


def test_mtp_hunting_finds_the_ransomware_story(hunt):
    resp = hunt.mtp({"Query": "DeviceProcessEvents | where ProcessCommandLine has 'delete shadows' "
                              "| project Timestamp, DeviceName, FileName, ProcessCommandLine, ProcessId"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert list(body) == ["Stats", "Schema", "Results"]
    assert body["Schema"] == [{"Name": "Timestamp", "Type": "DateTime"}, {"Name": "DeviceName", "Type": "String"},
                              {"Name": "FileName", "Type": "String"},
                              {"Name": "ProcessCommandLine", "Type": "String"},
                              {"Name": "ProcessId", "Type": "Int64"}]
    assert len(body["Results"]) == 1
    row = body["Results"][0]
    assert row["DeviceName"].startswith("srv-file-02.")
    assert row["FileName"] == "vssadmin.exe"
    assert DATETIME_7.match(row["Timestamp"])
    assert isinstance(row["ProcessId"], int)
    assert isinstance(body["Stats"]["ExecutionTime"], float)
    assert body["Stats"]["dataset_statistics"][0]["table_row_count"] == 1


def test_encoded_powershell_cradle_decodes_to_a_download(hunt):
    resp = hunt.mtp({"Query": "DeviceProcessEvents\n| where FileName =~ 'powershell.exe' and ProcessCommandLine "
                              "contains '-enc'\n| project DeviceName, InitiatingProcessFileName, ProcessCommandLine"})
    assert resp.status_code == 200, resp.text
    rows = resp.json()["Results"]
    assert len(rows) == 1 and rows[0]["InitiatingProcessFileName"] == "WINWORD.EXE"
    encoded = rows[0]["ProcessCommandLine"].split("-enc ", 1)[1]
    assert "DownloadString('http://198.51.100.23/a.ps1')" in base64.b64decode(encoded).decode("utf-16-le")


def test_phishing_mail_attachment_joins_to_the_device_file(hunt):
    query = """EmailAttachmentInfo
| where FileName endswith '.docm'
| join kind=inner (DeviceFileEvents | where ActionType == 'FileCreated') on SHA256
| project RecipientEmailAddress, FileName, DeviceName"""
    resp = hunt.mtp({"Query": query})
    assert resp.status_code == 200, resp.text
    rows = resp.json()["Results"]
    assert [r["FileName"] for r in rows] == ["INV-4471.docm"]
    assert rows[0]["RecipientEmailAddress"].startswith("megan.bowen@")
    assert rows[0]["DeviceName"].startswith("ws-fin-07.")


def test_types_map_to_the_documented_strings(hunt):
    query = ("DeviceInfo | take 1 | project Timestamp, DeviceName, OSBuild, IsAzureADJoined, "
             "d = dynamic({'a': [1, 2]}), r = 1.5, i = toint(3), span = 90m, "
             "g = toguid('6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f')")
    resp = hunt.mtp({"Query": query})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [c["Type"] for c in body["Schema"]] == ["DateTime", "String", "Int64", "Boolean", "Object", "Double",
                                                   "Int32", "TimeSpan", "Guid"]
    row = body["Results"][0]
    assert row["d"] == {"a": [1, 2]}
    assert row["span"] == "01:30:00"
    assert row["g"] == "6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f"
    assert isinstance(row["IsAzureADJoined"], bool)


@pytest.mark.parametrize("body", [{"query": "DeviceInfo | take 1"}, {"QUERY": "DeviceInfo"}, {}, {"Query": ""},
                                  '{"Query": "DeviceInfo\n| take 1"}', "not json"])
def test_mtp_rejects_other_casing_and_bad_bodies(hunt, body):
    resp = hunt.mtp(body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "InvalidRequestBody"
    assert resp.json()["error"]["message"] == "Missing query."


def test_syntax_error_names_line_and_column(hunt):
    resp = hunt.mtp({"Query": "DeviceProcessEvents\n| where FileName == 'a' and\n| take 5"})
    assert resp.status_code == 400
    message = resp.json()["error"]["message"]
    assert re.fullmatch(r"Query could not be parsed at '.+' on line \[3,\d+\]", message), message


def test_unknown_column_and_table_are_semantic_400s(hunt):
    resp = hunt.mtp({"Query": "DeviceProcessEvents | project NoSuchColumn"})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == \
        "'project' operator: Failed to resolve scalar expression named 'NoSuchColumn'"
    resp = hunt.mtp({"Query": "NoSuchTable | take 1"})
    assert resp.status_code == 400
    assert "NoSuchTable" in resp.json()["error"]["message"]


def test_unsupported_kql_is_a_clear_400(hunt):
    resp = hunt.mtp({"Query": "DeviceProcessEvents | evaluate autocluster()"})
    assert resp.status_code == 400
    assert "does not support" in resp.json()["error"]["message"]
    assert "EvaluateOperator" in resp.json()["error"]["message"]


def test_row_cap_and_result_size_limit(hunt):
    hunt.control("PATCH", "hunting/config", {"row_limit": 7})
    try:
        resp = hunt.mtp({"Query": "DeviceNetworkEvents"})
        assert resp.status_code == 200
        assert len(resp.json()["Results"]) == 7
    finally:
        hunt.control("PATCH", "hunting/config", {"row_limit": None})
    hunt.control("PATCH", "hunting/config", {"result_bytes": 2000})
    try:
        resp = hunt.mtp({"Query": "DeviceProcessEvents | take 100"})
        assert resp.status_code == 400
        assert resp.json()["error"]["message"].startswith("Result size limit exceeded.")
    finally:
        hunt.control("PATCH", "hunting/config", {"result_bytes": None})


def test_timeout_switch_answers_the_next_query_only(hunt):
    hunt.control("POST", "hunting/timeout", {"count": 1})
    first = hunt.graph({"Query": "DeviceInfo | take 1"})
    assert first.status_code == 400
    assert first.json()["error"]["message"] == "Query exceeded the timeout period."
    assert hunt.graph({"Query": "DeviceInfo | take 1"}).status_code == 200


def test_cpu_quota_switch_throttles_until_the_next_quarter_hour(hunt):
    hunt.control("POST", "hunting/cpu_quota", {"enabled": True})
    try:
        resp = hunt.mtp({"Query": "DeviceInfo | take 1"})
        assert resp.status_code == 429
        assert 1 <= int(resp.headers["Retry-After"]) <= 900
        assert resp.json()["error"]["code"] == "429"
        assert resp.json()["error"]["message"].startswith(
            "You have exceeded processing resources allocated to this tenant.")
    finally:
        hunt.control("POST", "hunting/cpu_quota", {"enabled": False})
    assert hunt.mtp({"Query": "DeviceInfo | take 1"}).status_code == 200


def test_retired_mode_answers_410_on_both_legacy_routes_only(hunt):
    hunt.control("POST", "hunting/retired", {"enabled": True})
    try:
        for resp in (hunt.mtp({"Query": "DeviceInfo | take 1"}), hunt.mde({"Query": "DeviceInfo | take 1"})):
            assert resp.status_code == 410
            assert resp.json()["error"]["code"] == "Gone"
            assert "runHuntingQuery" in resp.json()["error"]["message"]
        assert hunt.graph({"Query": "DeviceInfo | take 1"}).status_code == 200
    finally:
        hunt.control("POST", "hunting/retired", {"enabled": False})


def test_mde_legacy_route_has_no_stats(hunt):
    resp = hunt.mde({"Query": "DeviceLogonEvents | summarize n = count() by ActionType"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert list(body) == ["Schema", "Results"]
    assert {"Name": "n", "Type": "Int64"} in body["Schema"]


def test_graph_hunting_both_casings_and_int64_annotations(hunt):
    for body in ({"Query": "DeviceInfo | summarize Count = count() by OSPlatform"},
                 {"query": "DeviceInfo | summarize Count = count() by OSPlatform", "timespan": "P30D"}):
        resp = hunt.graph(body)
        assert resp.status_code == 200, resp.text
        out = resp.json()
        assert out["@odata.context"].endswith("#microsoft.graph.security.huntingQueryResults")
        assert out["schema"] == [{"name": "OSPlatform", "type": "String"}, {"name": "Count", "type": "Int64"}]
        assert all(r["Count@odata.type"] == "#Int64" and isinstance(r["Count"], int) for r in out["results"])
    hunt.control("PATCH", "hunting/config", {"int64_annotations": False})
    try:
        rows = hunt.graph({"Query": "DeviceInfo | summarize Count = count()"}).json()["results"]
        assert rows == [{"Count": rows[0]["Count"]}]
    finally:
        hunt.control("PATCH", "hunting/config", {"int64_annotations": None})


def _count(hunt, span):
    resp = hunt.graph({"Query": "DeviceProcessEvents | count", "Timespan": span})
    assert resp.status_code == 200, resp.text
    return resp.json()["results"][0]["Count"]


def test_graph_timespan_forms_restrict_rows(hunt):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    total = hunt.graph({"Query": "DeviceProcessEvents | count"}).json()["results"][0]["Count"]
    day = _count(hunt, "P1D")
    assert 0 < day < total
    week_ago = now - dt.timedelta(days=7)
    assert _count(hunt, f"{iso(week_ago)}/{iso(now)}") == _count(hunt, f"P7D/{iso(now)}") == \
        _count(hunt, f"{iso(week_ago)}/P7D")
    assert _count(hunt, iso(now - dt.timedelta(days=1))) == day
    assert _count(hunt, "PT1H") <= day
    # the window applies to every table, also inside joins
    resp = hunt.graph({"Query": "DeviceProcessEvents | where ProcessCommandLine has 'mimikatz' | count",
                       "Timespan": "PT1M"})
    assert resp.json()["results"][0]["Count"] == 0


@pytest.mark.parametrize("span", ["30 days", "P", "2024-13-01T00:00:00Z", "P1D/P2D", "a/b/c"])
def test_graph_invalid_timespan_is_400(hunt, span):
    resp = hunt.graph({"Query": "DeviceInfo | take 1", "Timespan": span})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "BadRequest"
    assert "innerError" in resp.json()["error"]


def test_graph_missing_query_and_bad_kql(hunt):
    resp = hunt.graph({"Timespan": "P1D"})
    assert resp.status_code == 400 and resp.json()["error"]["message"] == "Missing query."
    resp = hunt.graph({"Query": "DeviceInfo | where"})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith("Query could not be parsed at ")


def test_wrong_audience_is_401_and_missing_role_is_403(emulator, hunt):
    graph_token = get_token(emulator, GRAPH)
    resp = hunt.mtp({"Query": "DeviceInfo | take 1"}, token=graph_token)
    assert resp.status_code == 401
    assert resp.json()["error"] == {**resp.json()["error"], "code": "Unauthorized",
                                    "message": "Unauthorized request - reason of failure: Account mode is inactive"}
    mtp_token = get_token(emulator, MTP)
    resp = hunt.graph({"Query": "DeviceInfo | take 1"}, token=mtp_token)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "InvalidAuthenticationToken"
    # the bootstrap app holds Graph directory roles only
    no_roles = get_token(emulator, MTP, app="admin_app")
    resp = hunt.mtp({"Query": "DeviceInfo | take 1"}, token=no_roles)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "Forbidden"
    assert resp.json()["error"]["message"] == \
        "Missing application roles. API required roles: AdvancedHunting.Read.All, application roles"
    resp = hunt.graph({"Query": "DeviceInfo | take 1"}, token=get_token(emulator, GRAPH, app="admin_app"))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "Authorization_RequestDenied"
    # an MTP token does not open the MDE route and vice versa
    assert hunt.mde({"Query": "DeviceInfo | take 1"}, token=mtp_token).status_code == 401
    resp = hunt.mtp({"Query": "DeviceInfo | take 1"}, token="not-a-jwt")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "Unauthorized"


def test_hunting_counters(emulator, hunt):
    before = emulator.stats()["counters"]
    resp = hunt.mtp({"Query": "DeviceInfo | take 3"})
    assert resp.status_code == 200
    after = emulator.stats()["counters"]
    assert after["hunting.runs"] == before.get("hunting.runs", 0) + 1
    assert after["hunting.rows"] == before.get("hunting.rows", 0) + 3


def test_hunting_quota_per_minute(emulator):
    emulator.reset()
    emulator.set_config(quota_scale=0.1, hunting_rows=200)
    try:
        token = get_token(emulator, MTP)
        with emulator.session() as s:
            statuses = []
            for _ in range(5):
                resp = s.post(emulator.url("/api/advancedhunting/run"), json={"Query": "DeviceInfo | take 1"},
                              headers={"Authorization": f"Bearer {token}"}, timeout=120)
                statuses.append(resp.status_code)
        assert statuses == [200, 200, 200, 200, 429]
        assert resp.json()["error"] == {**resp.json()["error"], "code": "429",
                                        "message": "API calls quota exceeded! maximum allowed 4 per 00:01:00"}
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
    finally:
        emulator.reset()


def test_delegated_token_uses_scp(emulator, hunt):
    spec = emulator.tenant(0)
    user = spec["users"][0]
    with emulator.session() as s:
        resp = s.post(emulator.url(f"/{spec['id']}/oauth2/v2.0/token"), timeout=30, data={
            "grant_type": "password", "client_id": spec["public_client"]["client_id"], "username": user["upn"],
            "password": user["password"], "scope": f"{MTP}/.default"})
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    ok = hunt.mtp({"Query": "DeviceInfo | take 1"}, token=token)
    assert ok.status_code == 200, ok.text
    # Graph: the delegated ThreatHunting.Read.All scope opens runHuntingQuery
    with emulator.session() as s:
        resp = s.post(emulator.url(f"/{spec['id']}/oauth2/v2.0/token"), timeout=30, data={
            "grant_type": "password", "client_id": spec["public_client"]["client_id"], "username": user["upn"],
            "password": user["password"], "scope": f"{GRAPH}/ThreatHunting.Read.All"})
    assert resp.status_code == 200, resp.text
    assert hunt.graph({"Query": "DeviceInfo | take 1"}, token=resp.json()["access_token"]).status_code == 200


def test_hunting_quota_per_hour(emulator):
    """1,500 calls spread over the last hour (none in the last minute): the next call hits the hourly quota."""
    import collections
    import time

    emulator.reset()
    emulator.set_config(hunting_rows=200)
    try:
        tenant_id = emulator.tenant(0)["id"]
        now = time.monotonic()
        # the emulator's own quota windows: (tenant, quota, span) -> call times; fill the hour, leave the minute
        windows = emulator.state.extras.setdefault("defender_quota", {})
        windows[(tenant_id, "hunting", 3600)] = collections.deque(now - 3000 + i for i in range(1500))
        windows[(tenant_id, "hunting", 60)] = collections.deque()
        token = get_token(emulator, MTP)
        with emulator.session() as s:
            resp = s.post(emulator.url("/api/advancedhunting/run"), json={"Query": "DeviceInfo | take 1"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=120)
        assert resp.status_code == 429, resp.text
        assert resp.json()["error"]["code"] == "429"
        assert resp.json()["error"]["message"] == "API calls quota exceeded! maximum allowed 1500 per 01:00:00"
        # the oldest call leaves the hour about 600 s from now
        assert 590 <= int(resp.headers["Retry-After"]) <= 601
    finally:
        emulator.reset()
