# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_export: the atomic json / ndjson / csv writers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import json
import os

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _export as h
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError


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


def test_dest_that_is_a_directory_is_refused(tmp_path):
    with pytest.raises(MtpConfigError) as err:
        h.ExportWriter.check_dest(str(tmp_path))
    assert err.value.option == "dest" and "is a directory" in err.value.msg and str(tmp_path) in err.value.msg


def test_a_failed_rename_names_dest_and_removes_the_temp_file(tmp_path, monkeypatch):
    dest = tmp_path / "out.csv"
    dest.write_text("precious\n")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(h.os, "replace", refuse)  # the OS refusing the rename (read-only mount, ACLs, ...)
    with pytest.raises(MtpConfigError) as err:
        export(dest, "csv")
    assert err.value.option == "dest" and "Permission denied" in err.value.msg and str(dest) in err.value.msg
    assert dest.read_text() == "precious\n" and os.listdir(str(tmp_path)) == ["out.csv"]


def test_a_generic_writer_of_dict_rows(tmp_path):
    # not hunting-specific: any dict rows, the column list giving the CSV header and order
    dest = tmp_path / "incidents.csv"
    with h.ExportWriter(str(dest), "csv") as writer:
        writer.begin(["id", "tags"])
        writer.write({"tags": ["a", "b"], "id": 7, "ignored": 1})
        result = writer.commit()
    assert dest.read_bytes() == b'id,tags\r\n7,"[""a"",""b""]"\r\n'
    assert result["row_count"] == 1 and result["format"] == "csv" and result["size"] == 28
