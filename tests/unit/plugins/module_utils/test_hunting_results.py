# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_hunting_results: schema casing, cell typing, and the response read whole or streamed (ijson)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _hunting_results as h


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


# ---- reading a response: streamed (ijson) or whole ------------------------------------------------------------

import json  # noqa: E402
import sys  # noqa: E402

from hypothesis import given, settings, strategies as st  # noqa: E402

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError  # noqa: E402
from ansible_collections.m365.defender.plugins.module_utils._http import MtpResponse  # noqa: E402


class ChunkedBody:
    """The ``requests.Response`` side of a streamed ``MtpResponse``: ``iter_content`` hands out ``text`` in
    ``size``-byte chunks and records how many have been read. ``cut_after`` raises a transport error (an IOError,
    as requests' ChunkedEncodingError is) after that many chunks."""

    def __init__(self, text, size=7, cut_after=None):
        self.data = text.encode("utf-8") if isinstance(text, str) else text
        self.size, self.cut_after, self.read = size, cut_after, 0

    @property
    def content(self):
        return self.data

    def iter_content(self, chunk_size=1):
        for start in range(0, len(self.data), self.size):
            if self.cut_after is not None and self.read >= self.cut_after:
                raise IOError("Connection broken: IncompleteRead(10 bytes read)")
            self.read += 1
            yield self.data[start:start + self.size]


def streamed(text, **kwargs):
    raw = ChunkedBody(text, **kwargs)
    return MtpResponse(200, {"Content-Type": "application/json"}, None, None, response=raw), raw


@pytest.fixture
def no_ijson(monkeypatch):
    """ijson not installed: ``import ijson`` raises ImportError."""
    monkeypatch.setitem(sys.modules, "ijson", None)


GRAPH_BODY = json.dumps({
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults",
    "schema": [{"name": "T", "type": "DateTime"}, {"name": "N", "type": "Int64"}, {"name": "O", "type": "Object"}],
    "results": [{"T": "2024-05-01T10:15:00.1234567Z", "N@odata.type": "#Int64", "N": "%d" % i, "O": {"k": [i, 1.5]}}
                for i in range(200)]})


def test_ijson_is_installed_for_the_streamed_tests():
    assert h.import_ijson() is not None


def test_graph_body_is_streamed_rows_before_the_end():
    response, raw = streamed(GRAPH_BODY)
    body = h.read_response("graph", response)
    assert body.schema == [{"name": "T", "type": "DateTime"}, {"name": "N", "type": "Int64"},
                           {"name": "O", "type": "Object"}]
    rows = iter(body.rows)
    first = next(rows)
    total = -(-len(raw.data) // raw.size)
    assert first == {"T": "2024-05-01T10:15:00.1234567Z", "N@odata.type": "#Int64", "N": "0", "O": {"k": [0, 1.5]}}
    assert raw.read < total // 10  # the first row was handed on with most of the body still unread
    rest = list(rows)
    assert len(rest) == 199 and rest[-1]["N"] == "199" and raw.read == total
    typed = list(h.typed_rows(body.schema, [first]))
    assert typed == [{"T": "2024-05-01T10:15:00.1234567Z", "N": 0, "O": {"k": [0, 1.5]}}]
    assert body.stats is None


def test_schema_after_results_is_buffered_and_typed_the_same():
    text = '{"results": [{"N": "1"}, {"N": "2"}], "schema": [{"name": "N", "type": "Int32"}]}'
    body = h.read_response("graph", streamed(text)[0])
    assert body.schema == [{"name": "N", "type": "Int32"}]
    assert list(h.typed_rows(body.schema, body.rows)) == [{"N": 1}, {"N": 2}]


def test_mtp_stats_after_the_results_arrive_with_the_last_row():
    text = ('{"Schema": [{"Name": "x", "Type": "Int64"}], "Results": [{"x": 1}, {"x": 2}],'
            ' "Stats": {"ExecutionTime": 0.25, "resource_usage": {"cpu": {"total": "00:00:00"}}}}')
    body = h.read_response("mtp", streamed(text)[0])
    assert list(body.rows) == [{"x": 1}, {"x": 2}]
    assert body.stats == {"ExecutionTime": 0.25, "resource_usage": {"cpu": {"total": "00:00:00"}}}


def test_mtp_stats_first_and_mde_without_stats():
    text = '{"Stats": {"ExecutionTime": 1}, "Schema": [{"Name": "a", "Type": "String"}], "Results": [{"a": "é"}]}'
    body = h.read_response("mtp", streamed(text, size=3)[0])
    assert body.stats == {"ExecutionTime": 1} and list(body.rows) == [{"a": "é"}]
    mde = h.read_response("mde", streamed('{"Schema": [{"Name": "a", "Type": "Boolean"}], "Results": [{"a": true}]}')[0])
    assert mde.schema == [{"name": "a", "type": "Boolean"}] and list(mde.rows) == [{"a": True}] and mde.stats is None


def test_numbers_and_nulls_keep_their_json_types():
    body = h.read_response("graph", streamed('{"schema": [], "results": [{"i": 7, "f": 2.5, "e": 1e3, "n": null,'
                                             ' "b": false, "big": 12345678901234567890}]}')[0])
    row = list(body.rows)[0]
    assert row == {"i": 7, "f": 2.5, "e": 1000.0, "n": None, "b": False, "big": 12345678901234567890}
    assert isinstance(row["i"], int) and isinstance(row["f"], float) and isinstance(row["e"], float)
    assert row["b"] is False and row["n"] is None


def test_missing_results_or_schema_give_empty_lists():
    body = h.read_response("graph", streamed('{"schema": [{"name": "a", "type": "String"}]}')[0])
    assert list(body.rows) == [] and body.schema == [{"name": "a", "type": "String"}]
    body = h.read_response("graph", streamed('{"results": [{"a": 1}]}')[0])
    assert body.schema == [] and list(body.rows) == [{"a": 1}]


@pytest.mark.parametrize("text, fragment", [("not json", "not JSON"), ('{"schema": [], "results": [{"a": 1', "not JSON"),
                                            ("", "not JSON"), ("[1, 2]", "not a JSON object")])
def test_bad_bodies_are_named(text, fragment):
    with pytest.raises(MtpApiError) as err:
        body = h.read_response("graph", streamed(text)[0])
        list(body.rows)
    assert fragment in err.value.msg


def test_a_connection_cut_mid_body_is_an_api_error():
    response, raw = streamed(GRAPH_BODY, size=100, cut_after=5)
    with pytest.raises(MtpApiError) as err:
        list(h.read_response("graph", response).rows)
    assert "cut off" in err.value.msg and "IncompleteRead" in err.value.msg


def test_without_ijson_the_body_is_parsed_whole(no_ijson):
    assert h.import_ijson() is None
    response, raw = streamed(GRAPH_BODY)
    body = h.read_response("graph", response)
    assert isinstance(body.rows, list) and len(body.rows) == 200 and raw.read == 0  # read via .content
    assert body.rows[5] == {"T": "2024-05-01T10:15:00.1234567Z", "N@odata.type": "#Int64", "N": "5", "O": {"k": [5, 1.5]}}
    with pytest.raises(MtpApiError) as err:
        h.read_response("graph", streamed("{bad")[0])
    assert "not JSON" in err.value.msg


def test_a_parsed_response_is_not_streamed():
    response = MtpResponse(200, {}, {"Schema": [{"Name": "a", "Type": "Int32"}], "Results": [{"a": "3"}],
                                     "Stats": {"ExecutionTime": 2}})
    body = h.read_response("mtp", response)
    assert body.rows == [{"a": "3"}] and body.stats == {"ExecutionTime": 2}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8)
COLUMNS_ = st.lists(st.fixed_dictionaries({"name": st.text(max_size=4),
                                           "type": st.sampled_from(["Int64", "String"])}), max_size=3)
ROWS_ = st.lists(st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=3), max_size=4)
# a body is an object of these keys in any order, each once in one casing (a key sent twice, which the services
# never do, cannot be streamed: the first results array is handed on); schema and results are lists (or null)
BODY_ITEMS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["schema", "Schema"]), st.none() | COLUMNS_),
    st.tuples(st.sampled_from(["results", "Results"]), st.none() | ROWS_),
    st.tuples(st.sampled_from(["Stats", "stats", "other", "@odata.context"]), JSON_VALUES)),
    max_size=5, unique_by=lambda item: item[0].lower())


@settings(max_examples=150, deadline=None)
@given(api=st.sampled_from(["graph", "mtp", "mde"]), items=BODY_ITEMS, size=st.integers(min_value=1, max_value=40))
def test_streamed_and_whole_bodies_agree(api, items, size):
    text = "{" + ",".join("%s:%s" % (json.dumps(k), json.dumps(v)) for k, v in items) + "}"
    whole = h.HuntingBody(*h.parse_response(api, json.loads(text)))
    body = h.read_response(api, streamed(text, size=size)[0])
    assert body.schema == whole.schema
    assert list(body.rows) == list(whole.rows)
    assert body.stats == whole.stats


def test_a_number_past_64_bits_is_read_from_the_kept_copy():
    rows = [{"d": i} for i in range(50)] + [{"d": 12345678901234567890123}, {"d": -1}]
    text = json.dumps({"schema": [{"name": "d", "type": "Decimal"}], "results": rows, "tail": 1})
    body = h.read_response("graph", streamed(text, size=5)[0])
    assert list(body.rows) == rows
