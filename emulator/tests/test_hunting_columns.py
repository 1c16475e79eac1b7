"""The column expressions of the generated advanced-hunting bulk rows (``hunting/columns.py`` and
``generator._column_expr``): every column of every event table gets one, the common columns read the tenant's
device / user / process dimensions, table-specific meanings win over the common ones, and a column nothing names
falls back to a constant by its KQL type. The expected strings below were worked out by hand from the view's
aliases (``b`` base row, ``d`` device, ``u`` user, ``p`` process, ``q`` initiating process)."""

from __future__ import annotations

import duckdb
import pytest

from mtp_emulator.hunting import columns
from mtp_emulator.hunting.dimensions import DLLS, SENDER_DOMAINS, Dimensions
from mtp_emulator.hunting.generator import _column_expr
from mtp_emulator.hunting.tables import DUCKDB_TYPE, EVENT_TABLES, TABLES

TENANT, DOMAIN = "12345678-aaaa-4bbb-8ccc-1234567890ab", "contoso.onmicrosoft.com"


@pytest.fixture(scope="module")
def dims():
    return Dimensions(TENANT, DOMAIN)


def _eval(expr: str, rows: int = 400) -> list:
    """Evaluate a column expression over *rows* synthetic base rows (``b`` only: no d/u/p/q joins)."""
    con = duckdb.connect()
    try:
        sql = (f"WITH b AS (SELECT i, 4242 AS seed, TIMESTAMP '2026-11-30 12:00:00' AS ts FROM range({rows}) r(i)) "
               f"SELECT {expr} AS v FROM b")
        return [r[0] for r in con.execute(sql).fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize("table", EVENT_TABLES)
def test_every_event_column_gets_a_cast_to_its_duckdb_type(dims, table):
    for col, kind in TABLES[table]:
        expr = _column_expr(table, col, kind, dims)
        suffix = f" AS {DUCKDB_TYPE[kind]})"
        assert expr.startswith("CAST(") and expr.endswith(suffix), (table, col, expr)
        assert expr[len("CAST("):-len(suffix)].strip(), (table, col)


def test_timestamp_is_the_base_row_time_everywhere(dims):
    for table in EVENT_TABLES:
        kinds = dict(TABLES[table])
        if "Timestamp" in kinds:
            assert _column_expr(table, "Timestamp", kinds["Timestamp"], dims) == "CAST(b.ts AS TIMESTAMP)"


def test_device_account_and_process_columns_read_the_dimensions(dims):
    t = "DeviceProcessEvents"
    assert _column_expr(t, "DeviceName", "string", dims) == "CAST(d.DeviceName AS VARCHAR)"
    assert _column_expr(t, "DeviceId", "string", dims) == "CAST(d.DeviceId AS VARCHAR)"
    assert _column_expr(t, "AccountSid", "string", dims) == "CAST(u.Sid AS VARCHAR)"
    assert _column_expr(t, "InitiatingProcessAccountUpn", "string", dims) == "CAST(u.Upn AS VARCHAR)"
    assert _column_expr(t, "ProcessCommandLine", "string", dims) == "CAST(p.CommandLine AS VARCHAR)"
    assert _column_expr(t, "InitiatingProcessCommandLine", "string", dims) == "CAST(q.CommandLine AS VARCHAR)"
    assert _column_expr(t, "InitiatingProcessVersionInfoOriginalFileName", "string", dims) == \
        "CAST(q.FileName AS VARCHAR)"
    assert _column_expr(t, "ProcessVersionInfoFileDescription", "string", dims) == "CAST(p.Description AS VARCHAR)"
    assert _column_expr(t, "FileSize", "long", dims) == "CAST(p.FileSize AS BIGINT)"


def test_a_table_specific_meaning_wins_over_the_common_one(dims):
    # SHA256: the process image in process events, the attachment in the email tables, the DLL for image loads.
    assert _column_expr("DeviceProcessEvents", "SHA256", "string", dims) == "CAST(p.SHA256 AS VARCHAR)"
    assert _column_expr("EmailAttachmentInfo", "SHA256", "string", dims) == \
        "CAST(sha256(concat(b.seed, 'att', b.i)) AS VARCHAR)"
    dll = _column_expr("DeviceImageLoadEvents", "SHA256", "string", dims)
    assert dll.startswith("CAST(sha256([") and "'ntdll.dll'" in dll
    # CloudAppEvents has its own OSPlatform (client platforms), other tables take the device's.
    assert _column_expr("DeviceNetworkEvents", "OSPlatform", "string", dims) == "CAST(d.OSPlatform AS VARCHAR)"
    assert "'iOS'" in _column_expr("CloudAppEvents", "OSPlatform", "string", dims)


def test_email_sender_columns_draw_from_the_sender_domains(dims):
    domain = _column_expr("EmailEvents", "SenderFromDomain", "string", dims)
    for d in SENDER_DOMAINS:
        assert f"'{d}'" in domain
    values = _eval(domain)
    assert set(values) <= set(SENDER_DOMAINS) and len(set(values)) > 1
    senders = _eval(_column_expr("EmailEvents", "SenderFromAddress", "string", dims))
    assert all(s.startswith("noreply@") and s.split("@", 1)[1] in SENDER_DOMAINS for s in senders)
    bounces = _eval(_column_expr("EmailEvents", "SenderMailFromAddress", "string", dims))
    assert all(s.startswith("bounce@") for s in bounces)
    # same hash key 'sd': a row's From domain and MailFrom domain agree
    assert _eval(_column_expr("EmailEvents", "SenderMailFromDomain", "string", dims)) == values
    assert _column_expr("EmailEvents", "RecipientEmailAddress", "string", dims) == "CAST(u.Upn AS VARCHAR)"


def test_email_columns_stay_out_of_the_other_tables(dims):
    # UrlClickEvents counts as an email table; a device table does not know the sender columns at all.
    assert "noreply@" in _column_expr("UrlClickEvents", "SenderFromAddress", "string", dims)
    assert _column_expr("DeviceProcessEvents", "SenderFromDomain", "string", dims) == "CAST('' AS VARCHAR)"
    assert _column_expr("DeviceProcessEvents", "RecipientEmailAddress", "string", dims) == "CAST('' AS VARCHAR)"


def test_picked_values_evaluate_to_the_listed_values(dims):
    dlls = _eval(_column_expr("DeviceImageLoadEvents", "FileName", "string", dims))
    assert set(dlls) <= set(DLLS) and len(set(dlls)) > 5
    ports = _eval(_column_expr("DeviceNetworkEvents", "RemotePort", "int", dims))
    assert set(ports) <= {443, 80, 445, 3389, 53, 135, 8080, 22} and 443 in ports
    pids = _eval(_column_expr("DeviceProcessEvents", "ProcessId", "long", dims))
    assert all(1000 <= p < 61000 for p in pids)
    ips = _eval(_column_expr("DeviceNetworkEvents", "RemoteIP", "string", dims))
    assert all(len(ip.split(".")) == 4 and 20 <= int(ip.split(".")[0]) < 200 for ip in ips)


def test_report_id_follows_the_column_type(dims):
    assert _column_expr("DeviceProcessEvents", "ReportId", "long", dims) == "CAST((b.i + 1000) AS BIGINT)"
    assert _column_expr("EmailEvents", "ReportId", "string", dims) == \
        "CAST(CAST(b.i + 1000 AS VARCHAR) AS VARCHAR)"


def test_action_type_comes_from_the_tables_actions(dims):
    logon = _eval(_column_expr("DeviceLogonEvents", "ActionType", "string", dims))
    assert set(logon) <= {"LogonSuccess", "LogonFailed", "LogonAttempted"} and "LogonFailed" in logon
    # a table without listed actions gets the empty string
    assert _eval(_column_expr("DeviceNetworkInfo", "ActionType", "string", dims)) == [""] * 400


def test_identity_tables_name_the_tenants_domain_controller(dims):
    dc = dims.device("srv-dc-01")
    assert dc["DeviceName"] == "srv-dc-01.contoso.local"
    for table in ("IdentityLogonEvents", "IdentityQueryEvents", "IdentityDirectoryEvents"):
        assert _column_expr(table, "DestinationDeviceName", "string", dims) == \
            "CAST('srv-dc-01.contoso.local' AS VARCHAR)"
    assert _column_expr("IdentityLogonEvents", "DestinationIPAddress", "string", dims) == \
        f"CAST('{dc['LocalIP']}' AS VARCHAR)"
    # IdentityDirectoryEvents does not name the DC's address: the plain string fallback
    assert _column_expr("IdentityDirectoryEvents", "DestinationIPAddress", "string", dims) == "CAST('' AS VARCHAR)"
    assert _column_expr("IdentityLogonEvents", "AdditionalFields", "dynamic", dims) == \
        "CAST(json_object('Spns', 'krbtgt/CONTOSO') AS JSON)"
    other = Dimensions("87654321-aaaa-4bbb-8ccc-1234567890ab", "fabrikam.com")
    assert "krbtgt/FABRIKAM" in _column_expr("IdentityLogonEvents", "AdditionalFields", "dynamic", other)


@pytest.mark.parametrize("kind, expected", [
    ("datetime", "CAST(b.ts AS TIMESTAMP)"), ("long", "CAST(0 AS BIGINT)"), ("int", "CAST(0 AS INTEGER)"),
    ("bool", "CAST(FALSE AS BOOLEAN)"), ("real", "CAST(0.0 AS DOUBLE)"), ("dynamic", "CAST('{}'::JSON AS JSON)"),
    ("string", "CAST('' AS VARCHAR)"), ("guid", "CAST('' AS UUID)"), ("timespan", "CAST('' AS INTERVAL)"),
])
def test_unnamed_columns_fall_back_by_kind(dims, kind, expected):
    assert _column_expr("DeviceProcessEvents", "NoSuchColumnAnywhere", kind, dims) == expected
    assert _column_expr("NoSuchTable", "NoSuchColumnAnywhere", kind, dims) == expected


def test_lookup_tables_are_disjoint_where_order_would_matter():
    # The common families are merged into one dict: a column in two families would silently lose one meaning.
    families = [columns.BASE_COLUMNS, columns.DEVICE_COLUMNS, columns.ACCOUNT_COLUMNS, columns.PROCESS_COLUMNS,
                columns.INITIATING_PROCESS_COLUMNS, columns.PROCESS_CONTEXT_COLUMNS, columns.NETWORK_COLUMNS,
                columns.GEO_COLUMNS]
    assert sum(len(f) for f in families) == len(columns.COMMON_COLUMNS)
    for table, built in columns.DIMS_COLUMNS.items():
        assert not set(built) & set(columns.TABLE_COLUMNS.get(table, {})), table
    assert not set(columns.CONTEXT_COLUMNS) & set(columns.COMMON_COLUMNS)
    # every per-table entry is for a table the generator builds
    assert set(columns.TABLE_COLUMNS) | set(columns.DIMS_COLUMNS) <= set(EVENT_TABLES)
