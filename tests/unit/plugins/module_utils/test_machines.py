# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Machine lookup: the pure target logic of ``_machines.py`` (filters, matches, tags, hunting rows)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _machines as mach
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

ID_A = "7b1f4967d9728e5aa3c06a9e617a22a4a5a17378"
ID_B = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07"


def test_odata_quote_doubles_single_quotes():
    assert mach.odata_quote("o'brien-pc") == "'o''brien-pc'"


def test_dns_filter_is_lower_case_and_quoted():
    assert mach.dns_filter("  WS-FIN-07.Contoso.Local ") == "computerDnsName eq 'ws-fin-07.contoso.local'"


@pytest.mark.parametrize("value, ok", [(ID_A, True), (ID_A.upper(), True), (ID_A[:-1], False),
                                       ("ws-fin-07", False), (None, False), ("g" * 40, False)])
def test_is_machine_id(value, ok):
    assert mach.is_machine_id(value) is ok


def test_check_matches_none_fails_naming_the_option():
    with pytest.raises(MtpConfigError) as err:
        mach.check_matches("ghost.contoso.local", [], False)
    assert err.value.option == "dns_names"
    assert str(err.value) == "dns_names: no machine has the DNS name 'ghost.contoso.local'"


def test_check_matches_many_needs_allow_many():
    both = [{"id": ID_A}, {"id": ID_B}]
    with pytest.raises(MtpConfigError) as err:
        mach.check_matches("dup.contoso.local", both, False)
    assert str(err.value) == ("dns_names: 2 machines have the DNS name 'dup.contoso.local' (ids %s, %s); use "
                              "machine_ids, or set allow_many: true to act on all of them" % (ID_A, ID_B))
    assert mach.check_matches("dup.contoso.local", both, True) == both


def test_select_by_tag_is_case_insensitive():
    machines = [{"id": "1", "machineTags": ["Finance", "VIP"]}, {"id": "2", "machineTags": []},
                {"id": "3", "machineTags": ["finance"]}, {"id": "4"}]
    assert [m["id"] for m in mach.select_by_tag(machines, "FINANCE")] == ["1", "3"]


def test_device_ids_from_rows_keeps_first_seen_order():
    rows = [{"DeviceId": ID_B}, {"DeviceId": ID_A}, {"DeviceId": ID_B}, {"DeviceId": ""}]
    assert mach.device_ids_from_rows(rows) == [ID_B, ID_A]


def test_device_ids_from_rows_needs_the_column():
    with pytest.raises(MtpConfigError) as err:
        mach.device_ids_from_rows([{"DeviceName": "x"}])
    assert err.value.option == "hunting_query"
    assert "DeviceId column" in str(err.value)


def test_dedupe_by_id_in_order():
    assert mach.dedupe([{"id": "b"}, {"id": "a"}, {"id": "b"}]) == [{"id": "b"}, {"id": "a"}]


@pytest.mark.parametrize("params, option, text", [
    ({"machine_ids": ["ws-fin-07"]}, "machine_ids",
     "machine_ids: 'ws-fin-07' is not a machine id (40 hexadecimal characters); use dns_names for computer names"),
    ({"dns_names": ["two words"]}, "dns_names", "dns_names: 'two words' is not a DNS name"),
    ({"machine_tag": "  "}, "machine_tag", "machine_tag must not be empty"),
    ({}, None, "one of machine_ids, dns_names, machine_tag or hunting_query is required"),
])
def test_validate_targets_names_the_problem(params, option, text):
    with pytest.raises(MtpConfigError) as err:
        mach.validate_targets(params)
    assert (err.value.option, str(err.value)) == (option, text)


def test_validate_targets_lists_what_was_given():
    given = mach.validate_targets({"machine_ids": [ID_A], "hunting_query": "DeviceInfo"})
    assert given == ["machine_ids", "hunting_query"]
    assert mach.validate_targets({}, required=False) == []
