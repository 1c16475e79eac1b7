# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import datetime
import io
import json
import math
import os
import uuid

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _hunting as h
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError

# duckdb-kql comes with the mtp-emulator test requirement; hypothesis is in tests/unit/requirements.txt
import duckdb_kql  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

UTC = datetime.timezone.utc


@pytest.fixture(scope="module")
def con():
    return duckdb_kql.connect()


def kql_print(con, preamble_or_expr, name="p"):
    """Evaluate ``let`` preamble + ``print p`` and return the single cell (asserting a 1x1 result)."""
    result = duckdb_kql.kql(con, preamble_or_expr + "print %s" % name)
    rows = result.fetchall()
    assert len(rows) == 1 and len(rows[0]) == 1, rows
    return rows[0][0]


# ---- string literals -------------------------------------------------------------------------------------------

NASTY = ['"', "'", "\\", '\\"', '";print x=1//', "a|b", "//", "/*", "\n", "\r\n", "\t", "\x00", "\u2028",
         "\u2029", "\x85", "\ufeff", "é", "😀", '@"', "```", "\\u0041", "\\n", "{x}", ")", "let a = 1;"]


@pytest.mark.parametrize("value", NASTY)
def test_nasty_strings_round_trip(con, value):
    assert kql_print(con, "", name=h.kql_string(value)) == value
    assert kql_print(con, h.render_parameters({"p": value})) == value


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_any_string_round_trips_in_print(con, value):
    assert kql_print(con, "", name=h.kql_string(value)) == value


@settings(max_examples=100, deadline=None)
@given(st.text(), st.text())
def test_any_string_parameter_round_trips_in_let(con, first, second):
    preamble = h.render_parameters({"p": first, "q": second})
    assert "\n" not in preamble[:-1] and preamble.endswith("\n")
    rows = duckdb_kql.kql(con, preamble + "print p, q").fetchall()
    assert rows == [(first, second)]


def test_literal_escapes_only_the_five_characters():
    assert h.kql_string('a"b\\c\nd\re\tf|g//é') == '"a\\"b\\\\c\\nd\\re\\tf|g//é"'


# ---- typed parameters ------------------------------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1))
def test_long_round_trips(con, value):
    assert kql_print(con, h.render_parameters({"p": value})) == value


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False))
def test_real_round_trips(con, value):
    assert kql_print(con, h.render_parameters({"p": {"type": "real", "value": value}})) == value


def test_real_specials(con):
    assert math.isnan(kql_print(con, h.render_parameters({"p": float("nan")})))
    assert kql_print(con, h.render_parameters({"p": float("inf")})) == float("inf")
    assert kql_print(con, h.render_parameters({"p": {"type": "double", "value": "-inf"}})) == float("-inf")


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31)))
def test_datetime_round_trips(con, value):
    iso = value.isoformat() + "Z"
    got = kql_print(con, h.render_parameters({"p": {"type": "datetime", "value": iso}}))
    assert got == value


@settings(max_examples=100, deadline=None)
@given(st.timedeltas(min_value=datetime.timedelta(days=-99999), max_value=datetime.timedelta(days=99999)))
def test_timespan_round_trips(con, value):
    assert kql_print(con, h.render_parameters({"p": value})) == value


@settings(max_examples=50, deadline=None)
@given(st.uuids())
def test_guid_round_trips(con, value):
    assert kql_print(con, h.render_parameters({"p": {"type": "guid", "value": str(value).upper()}})) == value


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 53), max_value=2 ** 53) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


@settings(max_examples=100, deadline=None)
@given(JSONISH)
def test_dynamic_round_trips(con, value):
    # a string value of a dynamic parameter is JSON text: a JSON string is given in its encoded form
    given_value = json.dumps(value) if isinstance(value, str) else value
    got = kql_print(con, h.render_parameters({"p": {"type": "dynamic", "value": given_value}}))
    assert (None if got is None else json.loads(got)) == value


def test_plain_value_typing_and_preamble_shape():
    text = h.render_parameters({"s": "x", "b": True, "n": 5, "f": 1.5, "d": {"k": [1]}})
    assert text == 'let s = "x"; let b = true; let n = long(5); let f = real(1.5); let d = parse_json("{\\"k\\":[1]}");\n'


def test_typed_values_evaluate(con):
    preamble = h.render_parameters({
        "a": {"type": "int", "value": "42"},
        "b": {"type": "bool", "value": "False"},
        "c": {"type": "timespan", "value": "6h"},
        "d": {"type": "timespan", "value": "1.02:03:04.5"},
        "e": {"type": "datetime", "value": "2024-05-01T12:15:00+02:00"},
        "f": {"type": "string", "value": 7},
        "g": {"type": "long", "value": None},
        "h2": {"type": "date", "value": "2024-05-01"},
        "i": {"type": "timespan", "value": "PT90M"},
    })
    rows = duckdb_kql.kql(con, preamble + "print a, b, c, d, e, f, g, h2, i").fetchall()
    assert rows == [(42, False, datetime.timedelta(hours=6), datetime.timedelta(days=1, seconds=7384.5),
                     datetime.datetime(2024, 5, 1, 10, 15), "7", None, datetime.datetime(2024, 5, 1),
                     datetime.timedelta(minutes=90))]


def test_parameters_used_in_a_query(con):
    duckdb_kql.script(con, '.set-or-replace T <| datatable(Name: string, N: long)["a\\"b", 1, "c", 2]')
    preamble = h.render_parameters({"who": 'a"b', "maxn": 1})
    assert duckdb_kql.kql(con, preamble + "T | where Name == who and N <= maxn | project N").fetchall() == [(1,)]


@pytest.mark.parametrize("name", ["1abc", "a-b", "a b", "", "é", "x;print", "where", "let", "true"])
def test_bad_names_are_refused_with_the_name(name):
    with pytest.raises(MtpConfigError) as err:
        h.render_parameters({name: 1})
    assert repr(name) in err.value.msg and err.value.option == "parameters"


def test_unknown_type_names_parameter_and_type():
    with pytest.raises(MtpConfigError) as err:
        h.render_parameters({"since": {"type": "datetime2", "value": "x"}})
    assert "parameters.since" in err.value.msg and "'datetime2'" in err.value.msg


@pytest.mark.parametrize("spec, fragment", [
    ({"type": "long", "value": 2 ** 63}, "64-bit"),
    ({"type": "int", "value": 2 ** 31}, "32-bit"),
    ({"type": "long", "value": "12a"}, "not an integer"),
    ({"type": "long", "value": True}, "boolean"),
    ({"type": "bool", "value": "yes"}, "not a boolean"),
    ({"type": "datetime", "value": "yesterday"}, "ISO-8601"),
    ({"type": "timespan", "value": "forever"}, "timespan"),
    ({"type": "guid", "value": "nope"}, "GUID"),
    ({"type": "dynamic", "value": "{bad"}, "JSON"),
    ({"type": "string", "value": None}, "null"),
    ({"type": "string"}, "needs a value"),
    ({"type": "string", "value": "x", "extra": 1}, "extra"),
    (None, "null needs a type"),
    (object(), "cannot infer"),
])
def test_bad_values_are_refused(spec, fragment):
    with pytest.raises(MtpConfigError) as err:
        h.render_parameters({"p": spec})
    assert fragment in err.value.msg and "parameters.p" in err.value.msg


def test_no_parameters_no_preamble():
    assert h.render_parameters({}) == "" and h.render_parameters(None) == ""


# ---- result typing ---------------------------------------------------------------------------------------------

def test_schema_casing_and_row_typing():
    body = {"schema": [{"name": "T", "type": "DateTime"}, {"Name": "Count", "Type": "Int64"},
                       {"name": "R", "type": "Double"}, {"name": "B", "type": "Boolean"},
                       {"name": "O", "type": "Object"}, {"name": "S", "type": "String"},
                       {"name": "device name", "type": "String"}],
            "results": [{"T": "2024-05-01T10:15:00.1234567Z", "Count@odata.type": "#Int64", "Count": "42",
                         "R": 1, "B": "true", "O": '{"a": [1, 2]}', "S": "123", "device name": None}]}
    schema, rows, stats = h.parse_response("graph", body)
    assert schema[1] == {"name": "Count", "type": "Int64"} and stats is None
    typed = list(h.typed_rows(schema, rows))
    assert typed == [{"T": "2024-05-01T10:15:00.1234567Z", "Count": 42, "R": 1.0, "B": True,
                      "O": {"a": [1, 2]}, "S": "123", "device name": None}]
    assert isinstance(typed[0]["R"], float)


@pytest.mark.parametrize("raw, expected", [
    ("2024-05-01T10:15:00Z", "2024-05-01T10:15:00Z"),
    ("2024-05-01T10:15:00.1234567+00:00", "2024-05-01T10:15:00.1234567Z"),
    ("2024-05-01 10:15:00", "2024-05-01T10:15:00Z"),
    ("2024-05-01T01:15:00.5+02:00", "2024-04-30T23:15:00.5Z"),
    ("not a date", "not a date"),
])
def test_datetime_cells_normalised(raw, expected):
    assert h.normalise_datetime_cell(raw) == expected


def test_mtp_response_keeps_stats_and_unparseable_cells():
    body = {"Stats": {"ExecutionTime": 0.1}, "Schema": [{"Name": "O", "Type": "Object"}, {"Name": "N", "Type": "Int32"}],
            "Results": [{"O": "not json", "N": "x"}]}
    schema, rows, stats = h.parse_response("mtp", body)
    assert stats == {"ExecutionTime": 0.1}
    assert list(h.typed_rows(schema, rows)) == [{"O": "not json", "N": "x"}]


# ---- writers ---------------------------------------------------------------------------------------------------

ROWS = [{"T": "2024-05-01T10:15:00Z", "N": 1, "S": 'a,"b"\nc', "O": {"k": "é"}, "B": True, "X": None},
        {"T": "2024-05-02T10:15:00Z", "N": 2, "S": "plain", "O": [1], "B": False, "X": 1.5}]
COLUMNS = ["T", "N", "S", "O", "B", "X"]


def export(path, fmt, rows=None, check_mode=False):
    rows = ROWS if rows is None else rows
    with h.ExportWriter(str(path), fmt, check_mode=check_mode) as writer:
        writer.begin(COLUMNS)
        for row in rows:
            writer.write(row)
        return writer.commit()


def test_json_writer(tmp_path):
    dest = tmp_path / "out.json"
    result = export(dest, "json")
    assert json.loads(dest.read_text("utf-8")) == ROWS
    assert result["changed"] and result["row_count"] == 2 and result["size"] == dest.stat().st_size


def test_ndjson_writer(tmp_path):
    dest = tmp_path / "out.ndjson"
    export(dest, "ndjson")
    assert [json.loads(line) for line in dest.read_text("utf-8").splitlines()] == ROWS


def test_csv_writer(tmp_path):
    dest = tmp_path / "out.csv"
    export(dest, "csv")
    with io.open(str(dest), newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0] == COLUMNS
    assert table[1] == ["2024-05-01T10:15:00Z", "1", 'a,"b"\nc', '{"k":"é"}', "true", ""]
    assert table[2] == ["2024-05-02T10:15:00Z", "2", "plain", "[1]", "false", "1.5"]


def test_empty_json_is_an_empty_array(tmp_path):
    dest = tmp_path / "e.json"
    export(dest, "json", rows=[])
    assert json.loads(dest.read_text()) == []


def test_second_identical_write_is_unchanged_and_keeps_the_file(tmp_path):
    dest = tmp_path / "out.csv"
    export(dest, "csv")
    before = os.stat(str(dest))
    assert export(dest, "csv")["changed"] is False
    assert os.stat(str(dest)).st_ino == before.st_ino
    assert export(dest, "csv", rows=ROWS[:1])["changed"] is True
    assert sorted(os.listdir(str(tmp_path))) == ["out.csv"]


def test_check_mode_writes_nothing_and_predicts(tmp_path):
    dest = tmp_path / "out.json"
    assert export(dest, "json", check_mode=True)["changed"] is True
    assert os.listdir(str(tmp_path)) == []
    export(dest, "json")
    predicted = export(dest, "json", check_mode=True)
    assert predicted["changed"] is False and predicted["sha256"] == h.file_sha256(str(dest))


def test_failure_mid_write_leaves_dest_untouched(tmp_path):
    dest = tmp_path / "out.ndjson"
    dest.write_text("precious\n")

    def rows():
        yield ROWS[0]
        raise MtpApiError("boom", status=500)

    with pytest.raises(MtpApiError):
        export(dest, "ndjson", rows=rows())
    assert dest.read_text() == "precious\n" and os.listdir(str(tmp_path)) == ["out.ndjson"]


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(MtpConfigError) as err:
        export(tmp_path / "nope" / "out.json", "json")
    assert err.value.option == "dest" and "does not exist" in err.value.msg


@pytest.mark.parametrize("name, fmt", [("a.json", "json"), ("a.NDJSON", "ndjson"), ("a.jsonl", "ndjson"),
                                       ("a.csv", "csv")])
def test_format_from_extension(name, fmt):
    assert h.format_from_dest(name) == fmt


def test_format_unknown_extension():
    with pytest.raises(MtpConfigError) as err:
        h.format_from_dest("a.txt")
    assert err.value.option == "format"


# ---- timespans and windows -------------------------------------------------------------------------------------

NOW = datetime.datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("timespan, start, end", [
    ("P30D", datetime.datetime(2024, 1, 31, tzinfo=UTC), NOW),
    ("2024-02-01T08:00:00Z/2024-02-15T08:00:00Z", datetime.datetime(2024, 2, 1, 8, tzinfo=UTC),
     datetime.datetime(2024, 2, 15, 8, tzinfo=UTC)),
    ("P1D/2024-02-15T08:00:00Z", datetime.datetime(2024, 2, 14, 8, tzinfo=UTC),
     datetime.datetime(2024, 2, 15, 8, tzinfo=UTC)),
    ("2024-02-01T08:00:00Z/PT12H", datetime.datetime(2024, 2, 1, 8, tzinfo=UTC),
     datetime.datetime(2024, 2, 1, 20, tzinfo=UTC)),
    ("2024-02-29T00:00:00Z", datetime.datetime(2024, 2, 29, tzinfo=UTC), NOW),
    (None, datetime.datetime(2024, 1, 31, tzinfo=UTC), NOW),
])
def test_parse_timespan(timespan, start, end):
    assert h.parse_timespan(timespan, now=NOW) == (start, end)


@pytest.mark.parametrize("bad", ["30 days", "P", "PT", "P1M2X", "P1D/P2D", "2024-02-15T00:00:00Z/2024-02-01T00:00:00Z",
                                 "a/b/c", "2024-13-01T00:00:00Z", "/P1D"])
def test_bad_timespans_name_the_option(bad):
    with pytest.raises(MtpConfigError) as err:
        h.parse_timespan(bad, now=NOW)
    assert err.value.option == "timespan" and bad in err.value.msg


def test_split_by_forms():
    assert h.parse_split_by("1d") == datetime.timedelta(days=1)
    assert h.parse_split_by("6h") == datetime.timedelta(hours=6)
    assert h.parse_split_by("PT30M") == datetime.timedelta(minutes=30)
    assert h.parse_split_by(4) == 4 and h.parse_split_by("4") == 4
    for bad in ("0", "soon", "500ms", True, 0):
        with pytest.raises(MtpConfigError):
            h.parse_split_by(bad)


def test_plan_windows_by_step_and_count():
    start, end = datetime.datetime(2024, 1, 1, tzinfo=UTC), datetime.datetime(2024, 1, 3, 12, tzinfo=UTC)
    by_day = h.plan_windows(start, end, datetime.timedelta(days=1))
    assert [(s.day, e.day, e.hour) for s, e in by_day] == [(1, 2, 0), (2, 3, 0), (3, 3, 12)]
    thirds = h.plan_windows(start, end, 3)
    assert thirds[0][0] == start and thirds[-1][1] == end and len(thirds) == 3
    assert all(a[1] == b[0] for a, b in zip(thirds, thirds[1:]))


def test_window_formats():
    s, e = datetime.datetime(2024, 1, 1, tzinfo=UTC), datetime.datetime(2024, 1, 2, 0, 0, 0, 500, tzinfo=UTC)
    assert h.graph_timespan(s, e) == "2024-01-01T00:00:00Z/2024-01-02T00:00:00.000500Z"
    assert h.mtp_window_query("T | take 5; // note  \n", s, e) == (
        "T | take 5; // note\n| where Timestamp >= datetime(2024-01-01T00:00:00Z) and "
        "Timestamp < datetime(2024-01-02T00:00:00.000500Z)")
    assert h.mtp_window_query("T | take 5;;\n", s, e).startswith("T | take 5\n| where")


def test_mtp_window_query_runs_in_duckdb_kql(con):
    duckdb_kql.script(con, ".set-or-replace W <| datatable(Timestamp: datetime, A: long)"
                           "[datetime(2024-01-01), 1, datetime(2024-01-02), 2, datetime(2024-01-03), 3]")
    query = "let x = 1;\nW | extend B = A + x // trailing comment"
    windowed = h.mtp_window_query(query, datetime.datetime(2024, 1, 2, tzinfo=UTC),
                                  datetime.datetime(2024, 1, 3, tzinfo=UTC))
    assert [r[1] for r in duckdb_kql.kql(con, windowed).fetchall()] == [2]


class FakeService:
    """Rows at one-hour spacing; returns at most ``cap`` rows per call (the service's silent cap)."""

    def __init__(self, rows, cap, fail_over=None):
        self.rows, self.cap, self.fail_over, self.calls = rows, cap, fail_over, []

    def __call__(self, start, end):
        self.calls.append((start, end))
        hit = [r for r in self.rows if start <= r["_t"] < end]
        if self.fail_over is not None and len(hit) > self.fail_over:
            raise MtpApiError("Query execution has exceeded the allowed limits. The query execution was preempted.",
                              status=400, code="BadRequest")
        return [{"name": "N", "type": "Int64"}], [{"N": r["N"]} for r in hit[:self.cap]], None


def make_rows(n, base=datetime.datetime(2024, 1, 1, tzinfo=UTC)):
    return [{"_t": base + datetime.timedelta(hours=i), "N": i} for i in range(n)]


def run_split(service, windows, cap=10):
    export_ = h.SplitExport(service, windows, max_rows_per_call=cap, min_window=datetime.timedelta(minutes=30))
    out = []
    for info, schema, rows in export_:
        out.extend(r["N"] for r in rows)
    return export_, out


def test_split_halves_windows_at_the_cap_and_keeps_order():
    rows = make_rows(48)
    service = FakeService(rows, cap=10)
    start, end = datetime.datetime(2024, 1, 1, tzinfo=UTC), datetime.datetime(2024, 1, 3, tzinfo=UTC)
    export_, got = run_split(service, h.plan_windows(start, end, 2), cap=10)
    assert got == list(range(48))
    assert export_.halvings > 0 and not export_.truncated
    starts = [s for s, dummy in service.calls]
    assert len(starts) == export_.calls


def test_split_halves_on_preemption_400():
    service = FakeService(make_rows(24), cap=1000, fail_over=5)
    start, end = datetime.datetime(2024, 1, 1, tzinfo=UTC), datetime.datetime(2024, 1, 2, tzinfo=UTC)
    export_, got = run_split(service, [(start, end)], cap=1000)
    assert got == list(range(24)) and export_.halvings >= 3


def test_split_does_not_retry_other_400s():
    def fetch(start, end):
        raise MtpApiError("Query could not be parsed at 'x' on line [1,5]", status=400)
    with pytest.raises(MtpApiError):
        list(h.SplitExport(fetch, [(NOW - datetime.timedelta(days=1), NOW)]))


def test_split_marks_truncated_when_window_cannot_shrink():
    dense = [{"_t": datetime.datetime(2024, 1, 1, tzinfo=UTC), "N": i} for i in range(20)]
    service = FakeService(dense, cap=10)
    export_, got = run_split(service, [(datetime.datetime(2024, 1, 1, tzinfo=UTC),
                                        datetime.datetime(2024, 1, 1, 1, tzinfo=UTC))], cap=10)
    assert export_.truncated and got == list(range(10))


def test_split_dedupes_boundary_rows_only_against_previous_window():
    def fetch(start, end):
        if start.day == 1:
            return [{"name": "A", "type": "String"}], [{"A": "x"}, {"A": "x"}, {"A": "y"}], None
        return [{"name": "A", "type": "String"}], [{"A": "y"}, {"A": "z"}], None
    windows = h.plan_windows(datetime.datetime(2024, 1, 1, tzinfo=UTC), datetime.datetime(2024, 1, 3, tzinfo=UTC), 2)
    export_ = h.SplitExport(fetch, windows)
    got = [r["A"] for info, schema, rows in export_ for r in rows]
    assert got == ["x", "x", "y", "z"] and export_.duplicates_dropped == 1


def test_row_hash_is_order_insensitive_for_keys():
    assert h.row_hash({"a": 1, "b": uuid.UUID(int=0)}) == h.row_hash({"b": uuid.UUID(int=0), "a": 1})


def test_split_stops_halving_when_a_half_repeats_its_parent():
    calls = []

    def fetch(start, end):
        calls.append((start, end))
        return [{"name": "i", "type": "Int64"}], [{"i": i} for i in range(50)], None

    export_ = h.SplitExport(fetch, h.plan_windows(NOW - datetime.timedelta(days=30), NOW, 2), max_rows_per_call=10)
    got = [len(rows) for info, schema, rows in export_]
    assert export_.truncated and len(calls) == 6 and export_.halvings == 2
    assert got == [50, 0]  # the second window repeats the first: its rows are boundary duplicates
