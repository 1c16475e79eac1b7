# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time-boundary reads (``_time_paging.py``): time keys, literals, ids, cursors and the common read options.
The pager itself is exercised through the incident and alert reads (``test_incidents.py``, ``test_alerts.py``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _time_paging as tp
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError


# -- times, literals, cursors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, key", [
    ("2024-05-01T10:15:00Z", "2024-05-01T10:15:00.0000000Z"),
    ("2024-05-01T10:15:00.12Z", "2024-05-01T10:15:00.1200000Z"),
    ("2024-05-01T10:15:00.0733333Z", "2024-05-01T10:15:00.0733333Z"),
    ("2024-05-01T12:15:00+02:00", "2024-05-01T10:15:00.0000000Z"),
    ("2024-05-01", "2024-05-01T00:00:00.0000000Z"),
])
def test_time_key(text, key):
    assert tp.time_key(text) == key


@pytest.mark.parametrize("bad", ["yesterday", "2024-05-01T10:15:00Z or 1 eq 1", "2024-13-01T00:00:00Z", 5])
def test_time_key_rejects_non_times_naming_the_option(bad):
    with pytest.raises(MtpConfigError) as err:
        tp.time_key(bad, "created_after")
    assert err.value.option == "created_after"


def test_cursor_round_trip():
    assert tp.encode_cursor("2024-05-01T10:15:00.0000000Z", ["12", "3"]) == "2024-05-01T10:15:00.0000000Z|12,3"
    assert tp.decode_cursor("2024-05-01T10:15:00.0000000Z|12,3") == ("2024-05-01T10:15:00.0000000Z",
                                                                     frozenset(["12", "3"]))
    assert tp.decode_cursor("2024-05-01T10:15:00Z") == ("2024-05-01T10:15:00.0000000Z", frozenset())
    assert tp.decode_cursor(None) == (None, frozenset())


def test_cursor_with_a_bad_id_list_fails():
    with pytest.raises(MtpConfigError) as err:
        tp.decode_cursor("2024-05-01T10:15:00Z|1' or 1 eq 1")
    assert err.value.option == "updated_since"


def test_literals_double_single_quotes_and_eq_clauses_skip_unset_values():
    assert tp.quote_literal("o'brien") == "'o''brien'"
    assert tp.eq_clauses([("assignedTo", "o'brien@contoso.com"), ("serviceSource", None), ("incidentId", "")]) == [
        "assignedTo eq 'o''brien@contoso.com'"]


@pytest.mark.parametrize("bad", ["1/../../x", "", None, "a b", "x" * 129])
def test_ids_that_are_not_safe_in_a_path_are_refused_naming_the_option(bad):
    with pytest.raises(MtpConfigError) as err:
        tp.check_id(bad, "alert_id")
    assert err.value.option == "alert_id"


def test_as_list():
    assert tp.as_list(None) == []
    assert tp.as_list("High") == ["High"]
    assert tp.as_list(("a", "b")) == ["a", "b"]


def test_items_without_a_time_sort_first():
    assert tp.item_time(None) == "1970-01-01T00:00:00.0000000Z"
    assert tp.item_time("2024-05-01T10:15:00Z") > tp.item_time("")


def test_read_options_window_and_raw_filter_clauses():
    opts = tp.ReadOptions(created_after="2024-05-01", created_before="2024-06-01T00:00:00+02:00",
                          odata_filter="  a eq 1 or b eq 2 ")
    assert opts.window_clauses("createdTime") == ["createdTime ge 2024-05-01T00:00:00.0000000Z",
                                                  "createdTime lt 2024-05-31T22:00:00.0000000Z", "(a eq 1 or b eq 2)"]
    assert tp.ReadOptions(odata_filter="   ").window_clauses("createdTime") == []


def test_read_options_page_size_defaults_and_cap():
    assert tp.ReadOptions(cap=50).page_size == 50
    assert tp.ReadOptions(cap=2000, default_page=100).page_size == 100
    with pytest.raises(MtpConfigError) as err:
        tp.ReadOptions(page_size=101, cap=100, cap_name="mtp")
    assert str(err.value) == "page_size: 101 is outside 1..100 (the mtp $top cap)"
    with pytest.raises(MtpConfigError) as err:
        tp.ReadOptions(page_size="10", cap=100)
    assert err.value.option == "page_size"


@pytest.mark.parametrize("kwargs, option", [({"limit": 0}, "limit"), ({"limit": "5"}, "limit"),
                                            ({"updated_since": "soon"}, "updated_since"),
                                            ({"created_after": "yesterday"}, "created_after"),
                                            ({"created_before": "2024-02-30"}, "created_before")])
def test_read_options_validation_names_the_option(kwargs, option):
    with pytest.raises(MtpConfigError) as err:
        tp.ReadOptions(**kwargs)
    assert err.value.option == option


def test_the_cursor_of_the_options_and_what_is_after_it():
    opts = tp.ReadOptions(updated_since="2024-05-01T10:15:00Z|7,9")
    assert opts.cursor == "2024-05-01T10:15:00.0000000Z|7,9"
    assert opts.after_cursor("8", "2024-05-01T10:15:00Z") is True  # at the boundary, not yet read
    assert opts.after_cursor("7", "2024-05-01T10:15:00Z") is False  # at the boundary, read by the earlier run
    assert opts.after_cursor("7", "2024-05-01T10:15:01Z") is True  # updated again since
    assert opts.after_cursor("1", "2024-05-01T10:14:59Z") is False
    assert opts.after_cursor("1", None) is False
    assert tp.ReadOptions().after_cursor("1", None) is True


def test_the_created_window_applied_locally_is_half_open():
    opts = tp.ReadOptions(created_after="2024-05-01T00:00:00Z", created_before="2024-05-02T00:00:00Z")
    assert opts.in_window("2024-05-01T00:00:00Z") is True
    assert opts.in_window("2024-05-01T23:59:59.9999999Z") is True
    assert opts.in_window("2024-05-02T00:00:00Z") is False
    assert opts.in_window("2024-04-30T23:59:59Z") is False
    assert opts.in_window(None) is False
    assert tp.ReadOptions().in_window(None) is True
