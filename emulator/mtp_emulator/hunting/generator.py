"""Deterministic, seeded advanced-hunting data, generated inside DuckDB.

Each event table is a view over ``range(n)``: every value is a function of the row number and a seed derived
from the tenant id (``hash(i, seed, key)``), computed when a query reads it, so a million rows per table cost
neither build time nor memory, and the same tenant always gets the same data (timestamps are relative to the
tenant's anchor time). Planted rows live in small ``_planted_<table>`` tables appended to the views.

The tenant's devices, users and processes are :class:`.dimensions.Dimensions`; the stories are planted by
:mod:`.stories`; the tables the stories do not touch get a few rows from :mod:`.seed_extra`.

On top of the noise, :func:`plant_stories` plants attack stories that real hunting queries find (times:
:func:`story_times`, relative to the tenant's anchor; device names end in ``.<tenant>.local``):

* ``phish`` — a phishing mail with a macro document to Megan Bowen, opened on ``ws-fin-07``; Word starts an
  encoded PowerShell download cradle (``-enc``) that fetches ``http://198.51.100.23/a.ps1``.
* ``creds`` — 45 minutes later, on ``ws-fin-07``: ``mimikatz.exe sekurlsa::logonpasswords`` and an lsass
  MiniDump through ``comsvcs.dll``.
* ``ransom`` — the next night (about 17 hours later), on ``srv-file-02``: a remote logon from ``ws-fin-07``,
  ``vssadmin delete shadows /all /quiet``, ``wbadmin delete catalog``, ``bcdedit ... recoveryenabled No``,
  then mass renames to ``*.locked`` and a ransom note.
* ``spray`` — a password spray against many accounts from ``203.0.113.50`` (IdentityLogonEvents).
"""

from __future__ import annotations

import datetime as dt
import json

from .dimensions import (  # noqa: F401 - re-exported: incidents.py and older callers import them from here
    ACTIONS, ATTACKER_IP, CRADLE, CRADLE_B64, DEVICES, DLLS, DOCUMENTS, PARENTS, PROCESSES, REG_KEYS, SENDER_DOMAINS,
    SPRAY_IP, SUBJECTS, URLS, USERS, UTC, Dimensions, _guid, _h, _list, _q, seed_of)
from . import columns
from .tables import ALIASES, DUCKDB_TYPE, EVENT_TABLES, TABLES

# --- bulk rows ---------------------------------------------------------------------------------------------

def _column_expr(table: str, col: str, kind: str, dims: Dimensions) -> str:
    """The SQL expression that fills *col* of a bulk row (aliases: b base, d device, u user, p/q process).

    The knowledge is in :mod:`.columns`: the table's own meaning of the column first, then its meaning in every
    table, then a constant by KQL type."""
    expr = columns.table_expr(table, col, dims) or columns.common_expr(table, col, kind)
    if expr is None:
        expr = columns.KIND_DEFAULTS.get(kind, "''")
    return f"CAST({expr} AS {DUCKDB_TYPE[kind]})"


def physical(table: str) -> str:
    """Where rows of *table* are stored: bulk tables keep only their planted rows, in ``_planted_<table>``."""
    return f"_planted_{table}" if table in EVENT_TABLES else table


def create_tables(con) -> None:
    for table, cols in TABLES.items():
        if table in ALIASES:
            continue  # a view of the table that replaced it (seed_extra.create_aliases)
        ddl = ", ".join(f'"{c}" {DUCKDB_TYPE[k]}' for c, k in cols)
        con.execute(f'CREATE OR REPLACE TABLE "{physical(table)}" ({ddl})')


def fill_bulk(con, dims: Dimensions, table: str, rows: int, now: dt.datetime, seed: int) -> None:
    cols = TABLES[table]
    key = "Email" if table in ("EmailEvents", "EmailAttachmentInfo", "EmailUrlInfo") else table
    span_us = 30 * 86400 * 1_000_000 - 3_600_000_000
    select = ", ".join(f"{_column_expr(table, c, k, dims)} AS \"{c}\"" for c, k in cols)
    nd, nu, np_ = len(dims.devices), len(dims.users), len(dims.processes)
    windows = ", ".join(str(d["idx"]) for d in dims.devices if d["OSPlatform"].startswith("Windows"))
    # A view: rows are computed when a query reads them (only the columns it reads), so a million rows per
    # table cost no build time and no memory; the planted story rows are appended from a small real table.
    con.execute(f"""
        CREATE OR REPLACE VIEW "{table}" AS
        WITH b AS (
            SELECT i, {seed} AS seed, hash(i, {seed}, {_q(key)}) AS h,
                   TIMESTAMP '{now.strftime('%Y-%m-%d %H:%M:%S.%f')}'
                     - to_microseconds((hash(i, {seed}, {_q(key)}, 'ts') % {span_us})::BIGINT) AS ts
            FROM range({int(rows)}) r(i))
        SELECT {select}
        FROM b
        JOIN _dev d ON d.idx = ([{windows}][1 + (b.h % {len(windows.split(','))})::INTEGER]
                                     * (CASE WHEN b.h % 10 < 8 THEN 1 ELSE 0 END)
                                     + (CASE WHEN b.h % 10 < 8 THEN 0 ELSE (b.h >> 8) % {nd} END))
        JOIN _usr u ON u.idx = (b.h >> 16) % {nu}
        JOIN _proc p ON p.idx = (b.h >> 24) % {np_}
        JOIN _proc q ON q.idx = (b.h >> 32) % {np_}
        UNION ALL SELECT * FROM "{physical(table)}"
    """)


def fill_device_info(con, dims: Dimensions, rows: int, now: dt.datetime) -> None:
    hours = max(1, min(720, rows // len(dims.devices)))
    values = []
    for d in dims.devices:
        users = json.dumps([{"UserName": dims.users[d["idx"] % len(dims.users)]["AccountName"],
                             "DomainName": dims.ad_domain,
                             "Sid": dims.users[d["idx"] % len(dims.users)]["Sid"]}])
        values.append(d | {"LoggedOnUsers": users})
    cols = TABLES["DeviceInfo"]
    base = {c: ("''" if k == "string" else {"long": "0", "bool": "FALSE", "datetime": "NULL"}.get(k, "NULL"))
            for c, k in cols}
    base.update({
        "DeviceId": "d.DeviceId", "DeviceName": "d.DeviceName", "PublicIP": "d.PublicIP",
        "OSPlatform": "d.OSPlatform", "OSVersion": "d.OSVersion", "OSBuild": "d.OSBuild",
        "MachineGroup": "d.MachineGroup", "DeviceType": "d.DeviceType", "AadDeviceId": "d.AadDeviceId",
        "LoggedOnUsers": "d.LoggedOnUsers", "ClientVersion": "'10.8760.22621.1'",
        "OSArchitecture": "'64-bit'", "IsAzureADJoined": "starts_with(d.OSPlatform, 'Windows1')",
        "JoinType": "CASE WHEN starts_with(d.OSPlatform, 'Windows1') THEN 'AAD Joined' ELSE 'Domain Joined' END",
        "OnboardingStatus": "'Onboarded'", "DeviceCategory": "'Endpoint'", "SensorHealthState": "'Active'",
        "ExposureLevel": "['Low', 'Medium', 'High'][1 + (hash(d.idx, h.n) % 3)::INTEGER]",
        "AssetValue": "CASE WHEN d.DeviceType = 'Server' THEN 'High' ELSE 'Normal' END",
        "Timestamp": f"TIMESTAMP '{now.strftime('%Y-%m-%d %H:%M:%S')}' - to_hours(h.n) - to_seconds(d.idx * 7)",
        "ReportId": "(h.n * 100 + d.idx)", "IsInternetFacing": "starts_with(d.Short, 'lnx-web')",
        "Vendor": "CASE WHEN d.OSPlatform = 'macOS' THEN 'Apple Inc.' ELSE 'Dell Inc.' END",
        "Model": "CASE WHEN d.OSPlatform = 'macOS' THEN 'MacBook Pro' ELSE 'Latitude 7440' END",
        "ConnectivityType": "'Streamlined'", "DeviceManualTags": "'[]'", "DeviceDynamicTags": "'[]'",
        "IsExcluded": "FALSE", "AdditionalFields": "'{}'",
    })
    cols_sql = ", ".join(f'CAST({base[c]} AS {DUCKDB_TYPE[k]})' for c, k in cols)
    keys = list(values[0])
    rows_sql = ", ".join("(" + ", ".join(_q(v[c]) for c in keys) + ")" for v in values)
    con.execute(f"""
        INSERT INTO "DeviceInfo"
        SELECT {cols_sql}
        FROM (VALUES {rows_sql}) d({", ".join(keys)}), range({hours}) h(n)
    """)


def fill_identity_info(con, dims: Dimensions, now: dt.datetime) -> None:
    for day in range(0, 30, 3):
        ts = now - dt.timedelta(days=day, hours=2)
        for u in dims.users:
            insert_row(con, "IdentityInfo", {
                "Timestamp": ts, "ReportId": _guid(dims.tenant_id, "ii", day, u["idx"]),
                "AccountObjectId": u["ObjectId"], "AccountUpn": u["Upn"], "OnPremSid": u["Sid"],
                "AccountDisplayName": u["DisplayName"], "AccountName": u["AccountName"],
                "AccountDomain": dims.domain, "Type": "User",
                "DistinguishedName": f"CN={u['DisplayName']},OU=Users,DC={dims.ad_domain.lower()},DC=local",
                "GivenName": u["DisplayName"].split()[0], "Surname": u["DisplayName"].split()[-1],
                "Department": u["Department"], "JobTitle": u["JobTitle"], "EmailAddress": u["Upn"],
                "IsAccountEnabled": True, "City": "Redmond", "Country": "US",
                "CreatedDateTime": now - dt.timedelta(days=400 + u["idx"]), "SourceProvider": "AzureActiveDirectory",
                "TenantId": dims.tenant_id, "RiskLevel": "Low" if u["AccountName"] != "megan.bowen" else "High",
                "Tags": [], "AssignedRoles": ["Global Administrator"] if u["AccountName"].startswith("adm-") else [],
                "OtherMailAddresses": [],
            })


def insert_row(con, table: str, values: dict) -> None:
    cols = dict(TABLES[table])
    names = [n for n in values if n in cols]  # story rows share dicts across tables: keep this table's columns
    params = []
    for n in names:
        v = values[n]
        if cols[n] == "dynamic" and not isinstance(v, str):
            v = json.dumps(v)
        if isinstance(v, dt.datetime):
            v = v.astimezone(UTC).replace(tzinfo=None)
        params.append(v)
    placeholders = ", ".join(f"CAST(? AS {DUCKDB_TYPE[cols[n]]}) AS \"{n}\"" for n in names)
    con.execute(f'INSERT INTO "{physical(table)}" BY NAME SELECT {placeholders}', params)


def insert_rows(con, table: str, rows: list[dict], chunk: int = 500) -> None:
    """Many rows into *table*, one INSERT per run of rows with the same columns (users' own data, the extra
    tables' seed rows)."""
    cols = dict(TABLES[table])
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(n for n in row if n in cols), []).append(row)
    for names, group in groups.items():
        if not names:
            continue
        for start in range(0, len(group), chunk):
            part = group[start:start + chunk]
            params = []
            for row in part:
                for n in names:
                    v = row[n]
                    if cols[n] == "dynamic" and not isinstance(v, str) and v is not None:
                        v = json.dumps(v)
                    if isinstance(v, dt.datetime) and v.tzinfo is not None:
                        v = v.astimezone(UTC).replace(tzinfo=None)
                    params.append(v)
            one = "(" + ", ".join(f"CAST(? AS {DUCKDB_TYPE[cols[n]]})" for n in names) + ")"
            quoted = ", ".join(f'"{n}"' for n in names)
            con.execute(f'INSERT INTO "{physical(table)}" BY NAME SELECT * FROM (VALUES '
                        f'{", ".join([one] * len(part))}) v({quoted})', params)


def fill_alerts(con, alerts: list[dict]) -> None:
    """AlertInfo / AlertEvidence rows for the seeded alerts (see incidents.py)."""
    for a in alerts:
        insert_row(con, "AlertInfo", {
            "Timestamp": a["created"], "AlertId": a["id"], "Title": a["title"], "Category": a["category"],
            "Severity": a["severity"].capitalize(), "ServiceSource": a["serviceSourceName"],
            "DetectionSource": a["detectionSourceName"], "AttackTechniques": json.dumps(a["techniqueNames"]),
        })
        for ev in a["evidence"]:
            row = {"Timestamp": a["created"], "AlertId": a["id"], "Title": a["title"],
                   "Categories": json.dumps([a["category"]]), "AttackTechniques": json.dumps(a["techniqueNames"]),
                   "ServiceSource": a["serviceSourceName"], "DetectionSource": a["detectionSourceName"],
                   "Severity": a["severity"].capitalize()}
            row.update({k: v for k, v in ev.items() if k in dict(TABLES["AlertEvidence"])})
            insert_row(con, "AlertEvidence", row)


def build(con, tenant_id: str, domain: str, rows: int, anchor: dt.datetime, alerts: list[dict]) -> Dimensions:
    """Create and fill every table on *con* for one tenant."""
    seed = seed_of(tenant_id)
    dims = Dimensions(tenant_id, domain)
    create_tables(con)
    dims.create_lookup_tables(con)
    for table in EVENT_TABLES:
        fill_bulk(con, dims, table, rows, anchor, seed)
    fill_device_info(con, dims, rows, anchor)
    fill_identity_info(con, dims, anchor)
    plant_stories(con, dims, anchor)
    fill_alerts(con, alerts)
    from . import seed_extra

    seed_extra.fill(con, dims, anchor)
    return dims


from .stories import _proc_cols, plant_stories, story_times  # noqa: E402,F401 - re-exported (incidents.py)
