# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_kql: string literals and typed parameters, evaluated by duckdb-kql (a KQL engine, not the emulator)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import math

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _kql as h
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

# duckdb-kql comes with the mtp-emulator test requirement; hypothesis is in tests/unit/requirements.txt
import duckdb_kql  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402


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
