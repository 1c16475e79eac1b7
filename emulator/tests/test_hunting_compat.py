"""The hunting engine's KQL compatibility layer (``mtp_emulator.hunting.compat``): each rewrite and each added
function, run for real on duckdb-kql over DuckDB, with values worked out from Kusto's documentation."""

from __future__ import annotations

import datetime as dt

import duckdb_kql
import pytest

from mtp_emulator.hunting import compat
from mtp_emulator.hunting.engine import HuntingEngine, HuntingError  # importing it installs the functions


@pytest.fixture(scope="module")
def con():
    connection = duckdb_kql.connect()
    yield connection
    connection.close()


def run(con, query: str) -> list[dict]:
    rel = duckdb_kql.kql(con.cursor(), compat.normalise(query))
    return [dict(zip(rel.columns, row)) for row in rel.fetchall()]


# --- deprecated aliases ------------------------------------------------------------------------------------------

def test_makeset_and_makelist_are_make_set_and_make_list_with_their_column_names(con):
    data = 'datatable(k:string, v:string)["a","x", "a","y", "a","x", "b","z"]'
    rows = run(con, f"{data} | summarize makeset(v) by k | order by k asc")
    assert [r["k"] for r in rows] == ["a", "b"]
    assert sorted(duckdb_kql_json(rows[0]["set_v"])) == ["x", "y"]
    rows = run(con, f"{data} | where k == 'a' | summarize makelist(v)")
    assert sorted(duckdb_kql_json(rows[0]["list_v"])) == ["x", "x", "y"]


def test_parsejson_is_parse_json(con):
    assert run(con, "print a = tolong(parsejson('{\"a\": 41}').a) + 1") == [{"a": 42}]


def test_argmax_and_argmin_are_arg_max_and_arg_min(con):
    data = 'datatable(t:long, s:string)[1, "a", 3, "c", 2, "b"]'
    assert run(con, f"{data} | summarize (t, s) = argmax(t, s)") == [{"t": 3, "s": "c"}]
    assert run(con, f"{data} | summarize (t, s) = argmin(t, s)") == [{"t": 1, "s": "a"}]


def test_strings_comments_and_plain_names_are_never_rewritten():
    for query in ['print s = "makeset(x)" // makeset(y)\n',
                  "print s = 'parsejson(\"{}\")', t = @'argmax(a, b)'",
                  "DeviceInfo | project makeset = DeviceName | where makeset == 'x'",
                  "print makeset"]:
        assert compat.normalise(query) == query


def test_a_let_function_named_like_an_alias_keeps_its_own_meaning(con):
    query = "let makeset = (x:long) { x + 1 }; print r = makeset(1)"
    assert compat.normalise(query) == query
    assert run(con, query) == [{"r": 2}]


def test_text_that_does_not_parse_is_returned_unchanged():
    query = "DeviceInfo | where makeset(x) =="
    assert compat.normalise(query) == query
    assert compat.normalise("") == ""


# --- extract_json ------------------------------------------------------------------------------------------------

def test_extract_json_and_extractjson(con):
    doc = '{"Command": "Get-Process", "n": 5, "list": [{"Name": "corp"}]}'
    rows = run(con, f"print c = extractjson('$.Command', '{doc}'), "
                    f"n = extract_json('$.n', '{doc}', typeof(long)) + 1, "
                    f"s = extractjson('$.Command', '{doc}', typeof(string)), "
                    f"head = extract_json('$.list[0].Name', '{doc}'), "
                    f"missing = isempty(extract_json('$.nope', '{doc}'))")
    assert rows == [{"c": "Get-Process", "n": 6, "s": "Get-Process", "head": "corp", "missing": True}]


# --- functions added to duckdb-kql's registry ---------------------------------------------------------------------

def test_added_functions_do_not_replace_duckdb_kql_mappings():
    from duckdb_kql.translate.functions import SCALAR_FUNCTIONS

    assert compat.install_functions() == []  # already installed by the engine import; nothing twice
    # Pins duckdb-kql's registry as this version has it: these three are ours. When a duckdb-kql release maps
    # one itself, this fails - and the entry in compat.EXTRA_FUNCTIONS is to be dropped.
    assert {n: SCALAR_FUNCTIONS[n].note for n in compat.EXTRA_FUNCTIONS} == \
        dict.fromkeys(["extract_json", "url_encode", "url_decode", "set_difference"], "mtp_emulator compat")
    assert SCALAR_FUNCTIONS["parse_json"].note != "mtp_emulator compat"


def test_url_encode_matches_kusto_documentation_example(con):
    # learn.microsoft.com/kusto/query/url-encode-function
    rows = run(con, "let url = @'https://www.bing.com/hello world'; print encoded = url_encode(url)")
    assert rows == [{"encoded": "https%3a%2f%2fwww.bing.com%2fhello+world"}]


def test_set_difference(con):
    rows = run(con, "print d = set_difference(dynamic([1, 2, 3, 3, 4]), dynamic([2, 4]))")
    assert duckdb_kql_json(rows[0]["d"]) == [1, 3]


# --- operator rewrites -------------------------------------------------------------------------------------------

def test_unnamed_mv_expand_of_one_column_takes_that_column(con):
    data = "datatable(id:long, a:string)[1, '[10, 20]', 2, '[30]']"
    query = f"{data} | mv-expand parse_json(a) | project id, v = tolong(a)"
    assert compat.normalise(query) == f"{data} | mv-expand a = parse_json(a) | project id, v = tolong(a)"
    assert run(con, query) == [{"id": 1, "v": 10}, {"id": 1, "v": 20}, {"id": 2, "v": 30}]
    # mvexpand (the old spelling) too; and an expansion reading two columns is left for the engine to refuse
    assert "a = todynamic(a)" in compat.normalise(f"{data} | mvexpand todynamic(a)")
    two = f"{data} | mv-expand parse_json(strcat(a, tostring(id)))"
    assert compat.normalise(two) == two


def test_in_a_let_bound_make_list_is_flattened(con):
    query = """let wanted = datatable(n:string)['a', 'c'] | summarize makelist(n);
datatable(n:string)['a', 'b', 'c', 'd'] | where n !in (wanted)"""
    assert run(con, query) == [{"n": "b"}, {"n": "d"}]
    assert run(con, query.replace("!in", "in")) == [{"n": "a"}, {"n": "c"}]
    # a let whose summarize has a `by` holds many rows: not rewritten
    grouped = "let w = T | summarize make_list(n) by k; T | where n in (w)"
    assert compat.normalise(grouped) == grouped


def test_between_datetime_and_a_timespan_is_a_window_from_the_lower_bound(con):
    query = """let t = datetime(2020-01-01 00:00);
datatable(ts:datetime)[datetime(2020-01-01 00:05), datetime(2020-01-01 00:20), datetime(2019-12-31 23:55)]
| where ts between ((t - 5m) .. 15min)"""
    rows = run(con, query)
    assert [r["ts"] for r in rows] == [dt.datetime(2020, 1, 1, 0, 5), dt.datetime(2019, 12, 31, 23, 55)]
    spans = "print r = 90m between (1h .. 2h)"
    assert compat.normalise(spans) == spans  # timespan bounds are absolute: untouched
    for not_a_datetime in ["T | where d between (dayofweek(now()) .. 2d)",  # a timespan computed from now()
                           "T | where d between ((now() - t0) .. 2d)"]:  # datetime - datetime is a timespan
        assert compat.normalise(not_a_datetime) == not_a_datetime
    assert run(con, spans) == [{"r": True}]


def test_a_parenthesised_pipeline_at_the_head_of_a_pipe(con):
    query = "(union (datatable(a:long)[1]), (datatable(a:long)[2])) | summarize s = sum(a)"
    assert run(con, query) == [{"s": 3}]


# --- through the engine: what was sent is what errors speak of -----------------------------------------------------

def test_engine_runs_the_aliases_and_reports_errors_on_the_received_text():
    engine = HuntingEngine("compat-tenant", "contoso.com", 20, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), [])
    try:
        result = engine.run("DeviceInfo | summarize n = makeset(DeviceName) | extend c = array_length(n)")
        assert [c[0] for c in result["columns"]] == ["n", "c"]
        assert result["rows"][0]["c"] == len(result["rows"][0]["n"]) > 0
        with pytest.raises(HuntingError) as err:
            engine.run("DeviceInfo\n| summarize makeset(DeviceName) by\n| take 1")
        assert err.value.status == 400 and "line [3," in err.value.message
    finally:
        engine.close()


def duckdb_kql_json(value):
    """A dynamic value as DuckDB hands it back (JSON text) -> Python."""
    import json

    return json.loads(value) if isinstance(value, str) else value
