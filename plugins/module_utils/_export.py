# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Atomic export files: rows (dicts) written as ``json``, ``ndjson`` or ``csv``.

``ExportWriter(dest, fmt)`` takes rows one at a time (``begin(columns)``, ``write(row)``, ``commit()``), so a
caller can stream them from a response: nothing but the current row is held. The file is written to a
temporary file in the directory of ``dest`` and renamed over it (``os.replace``) only on ``commit()`` and only
when its SHA-256 changes; on any failure the temporary file is removed and ``dest`` is left as it was. Any
module that exports rows (hunting results, incidents, devices) uses it; nothing here is hunting-specific.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import codecs
import csv
import hashlib
import json
import os
import tempfile

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

FORMATS = ("json", "ndjson", "csv")


def format_from_dest(dest, fmt=None):
    """The explicit format, else the one named by the extension (``.json``, ``.ndjson``/``.jsonl``, ``.csv``)."""
    if fmt:
        return fmt
    ext = os.path.splitext(dest)[1].lower()
    if ext in (".ndjson", ".jsonl"):
        return "ndjson"
    if ext == ".csv":
        return "csv"
    if ext == ".json":
        return "json"
    raise MtpConfigError("Cannot tell the output format from %r; set format to one of %s"
                         % (os.path.basename(dest), ", ".join(FORMATS)), option="format")


class _Sink:
    """A text sink that hashes (and optionally writes) UTF-8 bytes."""

    def __init__(self, fileobj=None, dest=None):
        self._file = fileobj
        self._dest = dest
        self._encoder = codecs.getincrementalencoder("utf-8")()
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, text):
        data = self._encoder.encode(text)
        self.sha256.update(data)
        self.size += len(data)
        if self._file is not None:
            try:
                self._file.write(data)
            except OSError as exc:
                raise _write_error(self._dest, exc)
        return len(text)


def _existing_sha256(dest):
    """The SHA-256 of the file at ``dest``, or ``None`` when there is none (or it cannot be read: replaced)."""
    if not os.path.isfile(dest):
        return None
    try:
        return file_sha256(dest)
    except OSError:
        return None


def _write_error(dest, exc):
    return MtpConfigError("dest: cannot write %s: %s" % (dest, exc.strerror or exc), option="dest")


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ExportWriter:
    """Stream rows (dicts) to ``dest`` atomically, or (``check_mode``) only hash what would be written.

    Use as a context manager: ``begin(columns)``, ``write(row)`` per row, ``commit()`` → result dict (``dest``,
    ``format``, ``row_count``, ``size``, ``sha256``, ``changed``). ``columns`` give the CSV header and cell order
    (a row's keys when ``begin`` was not called). Leaving the block without ``commit()`` (an exception) removes
    the temp file; ``dest`` is never truncated. Write errors name ``dest``.
    """

    def __init__(self, dest, fmt, check_mode=False):
        if fmt not in FORMATS:
            raise MtpConfigError("format must be one of %s, got %r" % (", ".join(FORMATS), fmt), option="format")
        self.dest = dest
        self.fmt = fmt
        self.check_mode = check_mode
        self.row_count = 0
        self._tmp = None
        self._handle = None
        self._sink = None
        self._csv = None
        self._columns = None
        self._committed = False

    @staticmethod
    def check_dest(dest):
        directory = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(directory):
            raise MtpConfigError("dest: the directory %s does not exist" % directory, option="dest")
        if os.path.isdir(dest):
            raise MtpConfigError("dest: %s is a directory; give a file path" % dest, option="dest")
        if not os.access(directory, os.W_OK):
            raise MtpConfigError("dest: the directory %s is not writable" % directory, option="dest")

    def __enter__(self):
        self.check_dest(self.dest)
        if self.check_mode:
            self._sink = _Sink()
            return self
        directory = os.path.dirname(os.path.abspath(self.dest))
        try:
            fd, self._tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(self.dest), suffix=".tmp",
                                             dir=directory)
            self._handle = os.fdopen(fd, "wb")
        except OSError as exc:
            self._cleanup()
            raise _write_error(self.dest, exc)
        self._sink = _Sink(self._handle, self.dest)
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self._committed:
            self._cleanup()
        return False

    def _cleanup(self):
        """Close and remove the temporary file (every path that does not rename it over ``dest``)."""
        handle, self._handle = self._handle, None
        tmp, self._tmp = self._tmp, None
        try:
            if handle is not None:
                handle.close()
        finally:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)

    def begin(self, columns):
        """Start the output; ``columns`` (names, in schema order) give the CSV header."""
        if self._columns is not None:
            return
        self._columns = list(columns)
        if self.fmt == "csv":
            self._csv = csv.writer(self._sink, lineterminator="\r\n")
            self._csv.writerow(self._columns)
        elif self.fmt == "json":
            self._sink.write("[")

    def write(self, row):
        if self._columns is None:
            self.begin(list(row))
        if self.fmt == "csv":
            self._csv.writerow([_csv_cell(row.get(name)) for name in self._columns])
        else:
            text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
            if self.fmt == "ndjson":
                self._sink.write(text + "\n")
            else:
                self._sink.write(("\n" if self.row_count == 0 else ",\n") + text)
        self.row_count += 1

    def commit(self):
        """Finish the output; rename it over ``dest`` when its content changed. Returns the result dict."""
        if self._columns is None:
            self.begin([])
        if self.fmt == "json":
            self._sink.write("\n]\n" if self.row_count else "]\n")
        sha256 = self._sink.sha256.hexdigest()
        changed = _existing_sha256(self.dest) != sha256
        if not self.check_mode:
            try:
                self._replace(changed)
            except OSError as exc:
                self._cleanup()
                raise _write_error(self.dest, exc)
        self._committed = True
        return {"dest": self.dest, "format": self.fmt, "row_count": self.row_count, "size": self._sink.size,
                "sha256": sha256, "changed": changed}

    def _replace(self, changed):
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self._handle = None
        if not changed:
            self._cleanup()
            return
        if os.path.exists(self.dest):
            mode = os.stat(self.dest).st_mode & 0o7777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(self._tmp, mode)
        os.replace(self._tmp, self.dest)
        self._tmp = None
