"""KQL the real service accepts and duckdb-kql alone does not: each construct of issue 8 on a small table of known
rows (loaded as users' own data), through the tenant's hunting engine. Expected values are worked out by hand
from Kusto's documented semantics; unsupported forms stay a clean 400 naming the construct."""

from __future__ import annotations

import datetime as dt

import pytest

from mtp_emulator.hunting.engine import HuntingEngine, HuntingError
from mtp_emulator.hunting import userdata

TENANT = "11111111-2222-4333-8444-555555555555"
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)

# Five rows of DeviceEvents, told apart by ActionType == 'Kql'.
ROWS = [
    {"Timestamp": "-1h", "DeviceName": "a", "ActionType": "Kql", "FileName": "x.exe", "ProcessId": 1,
     "AdditionalFields": {"Name": "n1", "Size": 10}},
    {"Timestamp": "-2h", "DeviceName": "a", "ActionType": "Kql", "FileName": "y.exe", "ProcessId": 2,
     "AdditionalFields": {"Name": "n2", "Size": 20}},
    {"Timestamp": "-3h", "DeviceName": "b", "ActionType": "Kql", "FileName": "x.exe", "ProcessId": 3,
     "AdditionalFields": {"Name": "n3", "Size": 30}},
    {"Timestamp": "-4h", "DeviceName": "b", "ActionType": "Kql", "FileName": "x.exe", "ProcessId": 3,
     "AdditionalFields": {"Name": "n3", "Size": 30}},
    {"Timestamp": "-5h", "DeviceName": "c", "ActionType": "Kql", "FileName": "z.exe", "ProcessId": 5,
     "AdditionalFields": {"Name": "n5", "Size": 50}},
]
SRC = "DeviceEvents | where ActionType == 'Kql' "


@pytest.fixture(scope="module")
def run():
    engine = HuntingEngine(TENANT, "kql.example", 10, NOW, [])
    table, rows = userdata.normalize_rows("DeviceEvents", ROWS, NOW)
    engine.load_rows(table, rows)

    def go(query):
        return engine.run(query)

    yield go
    engine.close()


def rows_of(result, *cols):
    return [tuple(r[c] for c in cols) for r in result["rows"]]


def test_distinct_star(run):
    out = run(SRC + "| project DeviceName, FileName, ProcessId | distinct * | order by ProcessId asc")
    assert rows_of(out, "DeviceName", "FileName", "ProcessId") == [("a", "x.exe", 1), ("a", "y.exe", 2),
                                                                  ("b", "x.exe", 3), ("c", "z.exe", 5)]


def test_project_reorder(run):
    out = run(SRC + "| project FileName, ProcessId, DeviceName | project-reorder DeviceName, Pro* | take 1")
    assert [c[0] for c in out["columns"]] == ["DeviceName", "ProcessId", "FileName"]


def test_top_nested_two_levels(run):
    out = run(SRC + "| top-nested 2 of DeviceName by count(), top-nested 1 of FileName by max(ProcessId) desc")
    assert [c[0] for c in out["columns"]] == ["DeviceName", "aggregated_DeviceName", "FileName",
                                              "aggregated_FileName"]
    got = sorted(rows_of(out, "DeviceName", "aggregated_DeviceName", "FileName", "aggregated_FileName"))
    assert got == [("a", 2, "y.exe", 2), ("b", 2, "x.exe", 3)]


def test_partition_top_per_key(run):
    out = run(SRC + "| partition by DeviceName ( top 1 by Timestamp desc ) | project DeviceName, ProcessId "
                    "| order by DeviceName asc")
    assert rows_of(out, "DeviceName", "ProcessId") == [("a", 1), ("b", 3), ("c", 5)]


def test_partition_general_subquery(run):
    out = run(SRC + "| partition by DeviceName ( summarize n = count() ) | order by n asc")
    assert sorted(r["n"] for r in out["rows"]) == [1, 2, 2]


def test_evaluate_bag_unpack_types_the_columns(run):
    out = run(SRC + "| where ProcessId == 1 | project AdditionalFields | evaluate bag_unpack(AdditionalFields)")
    assert [(c[0], c[1]) for c in out["columns"]] == [("Name", "String"), ("Size", "Int64")]
    assert out["rows"] == [{"Name": "n1", "Size": 10}]


def test_evaluate_pivot(run):
    out = run(SRC + "| project DeviceName, FileName | evaluate pivot(FileName) | order by DeviceName asc")
    assert [c[0] for c in out["columns"]] == ["DeviceName", "x.exe", "y.exe", "z.exe"]
    assert rows_of(out, "DeviceName", "x.exe", "y.exe", "z.exe") == [("a", 1, 1, 0), ("b", 2, 0, 0),
                                                                    ("c", 0, 0, 1)]


def test_make_series_with_bounds_default_and_by(run):
    out = run(SRC + "| make-series n = count() default = 0, m = max(ProcessId) default = -1 on Timestamp "
                    "from datetime(2026-11-30 06:00) to datetime(2026-11-30 12:00) step 2h by DeviceName "
                    "| order by DeviceName asc")
    assert [c[0] for c in out["columns"]] == ["DeviceName", "n", "m", "Timestamp"]
    assert rows_of(out, "DeviceName", "n", "m") == [("a", [0, 0, 2], [-1, -1, 2]), ("b", [0, 2, 0], [-1, 3, -1]),
                                                    ("c", [1, 0, 0], [5, -1, -1])]
    assert out["rows"][0]["Timestamp"] == ["2026-11-30T06:00:00.0000000Z", "2026-11-30T08:00:00.0000000Z",
                                           "2026-11-30T10:00:00.0000000Z"]


def test_tabular_let_function_and_view(run):
    out = run("let Dev = (name: string, action: string = 'Kql') { DeviceEvents | where ActionType == action "
              "and DeviceName == name };\nlet V = view () { let wanted = 'c'; Dev(wanted) };\n"
              "Dev('a') | union (V) | summarize n = count() by DeviceName | order by DeviceName asc")
    assert rows_of(out, "DeviceName", "n") == [("a", 2), ("c", 1)]


@pytest.mark.parametrize("expr, expected", [
    ("split('a,b,c', ',', 1)", ["b"]),
    ("split('a,b,c', ',', 7)", []),
    ("indexof('abcabc', 'b', 2)", 4),
    ("indexof('abcdefg', 'cde', -5)", 2),
    ("indexof('abc', 'z', 0)", -1),
    ("extractall(@'(\\d)', 'a1b2')", ["1", "2"]),
    ("range(1, 7, 3)", [1, 4, 7]),
    ("range(2, 4)", [2, 3, 4]),
])
def test_scalar_functions(run, expr, expected):
    assert run(f"print v = {expr}")["rows"] == [{"v": expected}]


def test_new_guid_is_a_guid_per_row(run):
    out = run(SRC + "| extend g = new_guid() | project g")
    values = [r["g"] for r in out["rows"]]
    assert len(set(values)) == 5 and all(len(v) == 36 and v.count("-") == 4 for v in values)


def test_prev_and_next(run):
    out = run(SRC + "| order by Timestamp desc | project ProcessId, p = prev(ProcessId), n = next(ProcessId, 1, -1)")
    assert rows_of(out, "ProcessId", "p", "n") == [(1, None, 2), (2, 1, 3), (3, 2, 3), (3, 3, 5), (5, 3, -1)]


def test_count_expr_and_make_set_limit(run):
    out = run(SRC + "| extend maybe = iff(ProcessId > 2, ProcessId, long(null)) | summarize count(maybe), "
                    "total = count(), s = make_set(FileName, 2), l = make_list(ProcessId, 3)")
    row = out["rows"][0]
    assert (row["count_maybe"], row["total"], len(row["s"]), len(row["l"])) == (3, 5, 2, 3)


def test_bin_by_one_tick(run):
    out = run(SRC + "| summarize n = count() by t = bin(Timestamp, 1tick) | count")
    assert out["rows"] == [{"Count": 5}]


def test_join_on_and_of_equalities(run):
    out = run(SRC + "| project DeviceName, ProcessId | join kind=inner (" + SRC + "| project D2 = DeviceName, "
              "P2 = ProcessId) on $left.DeviceName == $right.D2 and $left.ProcessId == $right.P2 | count")
    assert out["rows"] == [{"Count": 7}]  # 1 + 1 + 2*2 (the duplicate b/3 rows) + 1


@pytest.mark.parametrize("query, message", [
    (SRC + "| where NoSuchColumn == 1", "'where' operator: Failed to resolve scalar expression named 'NoSuchColumn'"),
    (SRC + "| extend y = NoSuchColumn + 1", "'extend' operator: Failed to resolve scalar expression named "
                                            "'NoSuchColumn'"),
    ("let x = NoSuchTable | take 1; x", "Failed to resolve table or column expression named 'NoSuchTable'"),
    ("let x = NoSuchTable; x | take 1", "Failed to resolve table or column expression named 'NoSuchTable'"),
    (SRC + "| extend c = count(FileName)", "'aggregate:count'"),
])
def test_error_texts_name_the_operator_table_and_function(run, query, message):
    with pytest.raises(HuntingError) as info:
        run(query)
    assert info.value.status == 400
    assert message in info.value.message


@pytest.mark.parametrize("query, construct", [
    (SRC + "| top-nested 1 of DeviceName with others = 'o' by count()", "top-nested with others"),
    (SRC + "| evaluate autocluster()", "EvaluateOperator"),
    (SRC + "| evaluate pivot(FileName, percentile(ProcessId, 50))", "evaluate pivot"),
    (SRC + "| make-series n = count() on bin(Timestamp, 1h) step 1h", "make-series"),
])
def test_unsupported_forms_stay_clean_400s(run, query, construct):
    with pytest.raises(HuntingError) as info:
        run(query)
    assert info.value.status == 400
    assert f"'{construct}'" in info.value.message
