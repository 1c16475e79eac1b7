# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_hunting: time windows, split exports and the runner."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import uuid

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _hunting as h
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError

# duckdb-kql comes with the mtp-emulator test requirement (a KQL engine, not the emulator)
import duckdb_kql  # noqa: E402

UTC = datetime.timezone.utc


@pytest.fixture(scope="module")
def con():
    return duckdb_kql.connect()


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


# ---- the runner ------------------------------------------------------------------------------------------------

import json  # noqa: E402
import sys  # noqa: E402

from ansible_collections.m365.defender.plugins.module_utils._http import MtpResponse  # noqa: E402


class ChunkedBody:
    """The ``requests.Response`` of a streamed call: ``iter_content`` hands out the body in small chunks and
    counts them."""

    def __init__(self, body, size=64):
        self.data, self.size, self.read = json.dumps(body).encode("utf-8"), size, 0

    @property
    def content(self):
        return self.data

    def iter_content(self, chunk_size=1):
        for start in range(0, len(self.data), self.size):
            self.read += 1
            yield self.data[start:start + self.size]


class FakeClient:
    """``MtpClient.post`` as ``Hunt`` uses it: records the calls, answers with streamed bodies (or raises)."""

    def __init__(self, answer):
        self.answer, self.calls, self.bodies = answer, [], []

    def post(self, api, path, json=None, idempotent=None, stream=False):
        self.calls.append((api, path, json, idempotent, stream))
        result = self.answer(json) if callable(self.answer) else self.answer
        if isinstance(result, Exception):
            raise result
        raw = ChunkedBody(result)
        self.bodies.append(raw)
        return MtpResponse(200, {"Content-Type": "application/json"}, response=raw)


class RecordingSink:
    def __init__(self, client):
        self.client, self.columns, self.rows, self.read_at_first_row = client, None, [], None

    def begin(self, columns):
        self.columns = columns

    def write(self, row):
        if self.read_at_first_row is None:
            self.read_at_first_row = self.client.bodies[-1].read
        self.rows.append(row)


def graph_rows(n):
    return {"schema": [{"name": "Timestamp", "type": "DateTime"}, {"name": "N", "type": "Int64"}],
            "results": [{"Timestamp": "2024-05-01T10:15:00Z", "N@odata.type": "#Int64", "N": str(i)} for i in range(n)]}


def test_rows_reach_the_sink_while_the_response_is_read():
    client = FakeClient(graph_rows(500))
    sink = RecordingSink(client)
    result = h.Hunt(query="T | take 500", timespan="P1D").run(client, sink=sink)
    assert client.calls == [("graph", "/v1.0/security/runHuntingQuery", {"Query": "T | take 500", "Timespan": "P1D"},
                             True, True)]
    assert sink.columns == ["Timestamp", "N"] and sink.rows[7] == {"Timestamp": "2024-05-01T10:15:00Z", "N": 7}
    assert len(sink.rows) == 500 and result["row_count"] == 500 and "results" not in result
    assert sink.read_at_first_row <= 3 < client.bodies[0].read  # the first row was written after 3 of ~480 chunks
    assert result["truncated"] is False and result["row_cap_reached"] is False
    assert result["schema"] == [{"name": "Timestamp", "type": "DateTime"}, {"name": "N", "type": "Int64"}]


def test_max_rows_still_reads_the_cap_and_the_trailing_stats():
    body = {"Schema": [{"Name": "N", "Type": "Int32"}], "Results": [{"N": i} for i in range(5)],
            "Stats": {"ExecutionTime": 0.5}}
    result = h.Hunt(api="mtp", query="T", max_rows=2, max_rows_per_call=5).run(FakeClient(body))
    assert result["results"] == [{"N": 0}, {"N": 1}] and result["row_count"] == 2
    assert result["row_cap_reached"] is True and result["truncated"] is True
    assert result["stats"] == {"ExecutionTime": 0.5}


def test_without_ijson_the_runner_gives_the_same_result(monkeypatch):
    streamed_result = h.Hunt(query="T").run(FakeClient(graph_rows(30)))
    monkeypatch.setitem(sys.modules, "ijson", None)
    client = FakeClient(graph_rows(30))
    whole_result = h.Hunt(query="T").run(client)
    assert whole_result == streamed_result and len(whole_result["results"]) == 30
    assert client.bodies[0].read == 0  # parsed from .content, not streamed


def test_split_by_on_mtp_without_timestamp_says_split_by_needs_one():
    # the service's semantic error (docs/developer/reference/defender-api.md §2.6) for the appended where stage
    error = MtpApiError("'where' operator: Failed to resolve scalar expression named 'Timestamp'", status=400,
                        code="BadRequest")
    client = FakeClient(error)
    hunt = h.Hunt(api="mtp", query="DeviceInfo | summarize n = count() by OSPlatform", split_by="2",
                  timespan="2024-01-01T00:00:00Z/2024-01-03T00:00:00Z")
    with pytest.raises(MtpApiError) as err:
        hunt.run(client)
    assert "split_by" in err.value.msg and "needs a Timestamp column" in err.value.msg
    assert "Failed to resolve scalar expression named 'Timestamp'" in err.value.msg and err.value.status == 400
    assert len(client.calls) == 1


def test_other_mtp_window_errors_are_unchanged():
    error = MtpApiError("Query could not be parsed at 'x' on line [1,5]", status=400)
    hunt = h.Hunt(api="mtp", query="T | x", split_by="2", timespan="2024-01-01T00:00:00Z/2024-01-03T00:00:00Z")
    with pytest.raises(MtpApiError) as err:
        hunt.run(FakeClient(error))
    assert err.value.msg == "Query could not be parsed at 'x' on line [1,5]"


def test_split_windows_of_a_streamed_export():
    def answer(body):
        start = body["Timespan"].split("/")[0]
        return {"schema": [{"name": "W", "type": "String"}], "results": [{"W": start}]}

    client = FakeClient(answer)
    sink = RecordingSink(client)
    result = h.Hunt(query="T", split_by="1d", timespan="2024-01-01T00:00:00Z/2024-01-03T00:00:00Z").run(client, sink)
    assert sink.rows == [{"W": "2024-01-01T00:00:00Z"}, {"W": "2024-01-02T00:00:00Z"}]
    assert result["calls"] == 2 and [w["row_count"] for w in result["windows"]] == [1, 1]
