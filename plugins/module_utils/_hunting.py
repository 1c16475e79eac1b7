# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Advanced-hunting helpers, free of any network code.

* ``render_parameters(params)`` turns a dict into a one-line KQL ``let`` preamble;
* ``normalise_schema`` / ``typed_rows`` type result cells from the response schema;
* ``ExportWriter`` writes ``json`` / ``ndjson`` / ``csv`` atomically (temp file + ``os.replace``);
* ``parse_timespan`` / ``parse_split_by`` / ``plan_windows`` / ``SplitExport`` run a query per time window.

String literals: both Kusto's lexer (Kusto.Language ``LexicalGrammar``: a double-quoted literal holds any
character but ``\\``, ``"``, CR and LF, plus escapes) and duckdb-kql's accept a double-quoted literal in which
exactly ``\\``, ``"``, CR, LF and TAB are escaped (``\\\\``, ``\\"``, ``\\r``, ``\\n``, ``\\t``); every other
character stands for itself. A value can therefore never end its literal early: the only unescaped ``"``
is the closing one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import codecs
import csv
import datetime
import hashlib
import json
import math
import os
import re
import tempfile
import uuid

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError

ROW_CAP = 100000
DEFAULT_LOOKBACK = datetime.timedelta(days=30)
FORMATS = ("json", "ndjson", "csv")

_UTC = datetime.timezone.utc
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)

# ---------------------------------------------------------------------------------------------------------------
# Parameters -> KQL `let` preamble
# ---------------------------------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Words a `let` name may not take: statement keywords and literal spellings of KQL.
_RESERVED = frozenset("""
    and or not let set alias declare pattern restrict access with view materialize print range datatable
    true false null bool boolean int long real double decimal string datetime date time timespan dynamic guid
    where project extend summarize take limit top sort order by join union on asc desc in has between
""".split())

TYPE_ALIASES = {
    "string": "string", "str": "string",
    "long": "long", "int64": "long",
    "int": "int", "int32": "int",
    "real": "real", "double": "real", "float": "real",
    "bool": "bool", "boolean": "bool",
    "datetime": "datetime", "date": "datetime",
    "timespan": "timespan", "time": "timespan",
    "dynamic": "dynamic",
    "guid": "guid", "uuid": "guid",
}
PARAMETER_TYPES = ("string", "long", "int", "real", "bool", "datetime", "timespan", "dynamic", "guid")

_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_STRING_ESCAPE_RE = re.compile(r'[\\"\n\r\t]')


def kql_string(value):
    """A double-quoted KQL string literal that evaluates to exactly ``value``."""
    return '"' + _STRING_ESCAPE_RE.sub(lambda m: _STRING_ESCAPES[m.group(0)], value) + '"'


def _fail(name, msg):
    return MtpConfigError("parameters.%s: %s" % (name, msg), option="parameters")


def _to_int(name, value, bits):
    if isinstance(value, bool):
        raise _fail(name, "a boolean is not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise _fail(name, "%r is not a whole number" % (value,))
        value = int(value)
    elif isinstance(value, str):
        if not re.match(r"^\s*[-+]?\d+\s*$", value):
            raise _fail(name, "%r is not an integer" % (value,))
        value = int(value)
    elif not isinstance(value, int):
        raise _fail(name, "expected an integer, got %s" % type(value).__name__)
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if not low <= value <= high:
        raise _fail(name, "%d is outside the %d-bit range" % (value, bits))
    return value


def _to_float(name, value):
    if isinstance(value, bool):
        raise _fail(name, "a boolean is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise _fail(name, "%r is not a number" % (value,))


def _real_literal(number):
    if math.isnan(number):
        return "real(nan)"
    if math.isinf(number):
        return "real(+inf)" if number > 0 else "real(-inf)"
    return "real(%s)" % repr(number)


def _to_bool(name, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _fail(name, "%r is not a boolean (true or false)" % (value,))


_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$")


def parse_datetime(text):
    """Parse an ISO-8601 date/time (UTC when it has no offset) into an aware ``datetime``; ``ValueError`` if bad.

    Fractions beyond microseconds are truncated.
    """
    m = _ISO_DATETIME.match(text.strip())
    if not m:
        raise ValueError("not an ISO-8601 date/time: %r" % (text,))
    year, month, day, hour, minute, second, frac, offset = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    value = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                              int(second or 0), micro, tzinfo=_UTC)
    if offset and offset.upper() != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        value = value - sign * delta
    return value


def format_datetime(value):
    """``2024-05-01T10:15:00Z`` / ``2024-05-01T10:15:00.123456Z`` for an aware or naive-UTC datetime."""
    if value.tzinfo is not None:
        value = value.astimezone(_UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.year < 1000:  # strftime does not zero-pad %Y everywhere
        text = "%04d%s" % (value.year, text[text.index("-"):])
    if value.microsecond:
        text += ".%06d" % value.microsecond
    return text + "Z"


def _to_datetime(name, value):
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_UTC)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=_UTC)
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError as exc:
            raise _fail(name, str(exc))
    raise _fail(name, "expected an ISO-8601 date/time string, got %s" % type(value).__name__)


_KQL_TIMESPAN = re.compile(
    r"^([-+]?\d+(?:\.\d+)?)\s*(d|days?|h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?|ms|milliseconds?|"
    r"microseconds?|ticks?)$", re.IGNORECASE)
_CLOCK_TIMESPAN = re.compile(r"^([-+])?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$")
_ISO_DURATION = re.compile(
    r"^([-+])?P(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$", re.IGNORECASE)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "mi": 0.000001, "t": 0.0000001}


def parse_iso_duration(text):
    """``P30D``, ``PT6H``, ``P1DT12H``, ``P2W`` → ``timedelta``; ``ValueError`` otherwise (years and months are
    ambiguous and refused)."""
    m = _ISO_DURATION.match(text.strip())
    if not m or not any(m.groups()[1:]) or text.strip().upper().endswith("T"):
        raise ValueError("not an ISO-8601 duration (PnW, PnDTnHnMnS): %r" % (text,))
    sign, weeks, days, hours, minutes, seconds = m.groups()
    num = [float((g or "0").replace(",", ".")) for g in (weeks, days, hours, minutes, seconds)]
    delta = datetime.timedelta(weeks=num[0], days=num[1], hours=num[2], minutes=num[3], seconds=num[4])
    return -delta if sign == "-" else delta


def parse_kql_timespan(text):
    """``1d``, ``6h``, ``30m``, ``90s``, ``100ms``, ``[-][d.]hh:mm[:ss[.fffffff]]`` or ISO ``PT6H`` → ``timedelta``."""
    raw = text.strip()
    m = _KQL_TIMESPAN.match(raw)
    if m:
        number, unit = float(m.group(1)), m.group(2).lower()
        if unit in ("ms",) or unit.startswith("milli"):
            key = "ms"
        elif unit.startswith("micro"):
            key = "mi"
        elif unit.startswith("tick"):
            key = "t"
        else:
            key = unit[0]
        return datetime.timedelta(seconds=number * _UNIT_SECONDS[key])
    m = _CLOCK_TIMESPAN.match(raw)
    if m:
        sign, days, hours, minutes, seconds, frac = m.groups()
        if int(minutes) > 59 or int(seconds or 0) > 59:
            raise ValueError("not a timespan: %r" % (text,))
        delta = datetime.timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes),
                                   seconds=int(seconds or 0), microseconds=int((frac or "0")[:6].ljust(6, "0")))
        return -delta if sign == "-" else delta
    try:
        return parse_iso_duration(raw)
    except ValueError:
        raise ValueError("not a timespan (like 1d, 6h, 30m, 1.02:03:04 or PT6H): %r" % (text,))


def _timespan_literal(delta):
    sign = "-" if delta < datetime.timedelta(0) else ""
    delta = abs(delta)
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "%s%d.%02d:%02d:%02d" % (sign, delta.days, hours, minutes, seconds)
    if delta.microseconds:
        text += ".%06d" % delta.microseconds
    return "timespan(%s)" % text


def _to_timespan(name, value):
    if isinstance(value, datetime.timedelta):
        return value
    if isinstance(value, bool):
        raise _fail(name, "a boolean is not a timespan")
    if isinstance(value, (int, float)):
        return datetime.timedelta(seconds=value)
    if isinstance(value, str):
        try:
            return parse_kql_timespan(value)
        except ValueError as exc:
            raise _fail(name, str(exc))
    raise _fail(name, "expected a timespan string like 1d or 02:00:00, got %s" % type(value).__name__)


def _dynamic_literal(name, value):
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise _fail(name, "a dynamic string value must be JSON text (%s)" % exc)
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=False)
    except (TypeError, ValueError) as exc:
        raise _fail(name, "value cannot be encoded as JSON (%s)" % exc)
    return "parse_json(%s)" % kql_string(text)


def _infer_type(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "real"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (dict, list, tuple)):
        return "dynamic"
    if isinstance(value, datetime.datetime):
        return "datetime"
    if isinstance(value, datetime.timedelta):
        return "timespan"
    if isinstance(value, uuid.UUID):
        return "guid"
    return None


def render_value(name, kind, value):
    """The KQL expression for one typed value (``kind`` already canonical)."""
    if value is None:
        if kind == "string":
            raise _fail(name, "a string parameter cannot be null")
        return "%s(null)" % kind
    if kind == "string":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _fail(name, "expected a string, got %s" % type(value).__name__)
        return kql_string(value if isinstance(value, str) else repr(value))
    if kind == "long":
        return "long(%d)" % _to_int(name, value, 64)
    if kind == "int":
        return "int(%d)" % _to_int(name, value, 32)
    if kind == "real":
        return _real_literal(_to_float(name, value))
    if kind == "bool":
        return "true" if _to_bool(name, value) else "false"
    if kind == "datetime":
        return "datetime(%s)" % format_datetime(_to_datetime(name, value))
    if kind == "timespan":
        return _timespan_literal(_to_timespan(name, value))
    if kind == "guid":
        try:
            return "guid(%s)" % uuid.UUID(str(value).strip())
        except ValueError:
            raise _fail(name, "%r is not a GUID" % (value,))
    return _dynamic_literal(name, value)


def check_parameter_name(name):
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise MtpConfigError(
            "parameters: %r is not a valid KQL identifier (letters, digits and _, not starting with a digit)"
            % (name,), option="parameters")
    if name.lower() in _RESERVED:
        raise MtpConfigError("parameters: %r is a KQL keyword; choose another name" % (name,), option="parameters")


def render_parameters(parameters):
    """A one-line ``let`` preamble ending in a newline (``""`` for no parameters).

    Each value is a plain value (str → string, bool → bool, int → long, float → real, dict/list → dynamic) or
    ``{"type": <type>, "value": <value>}`` with type one of ``PARAMETER_TYPES`` (aliases: ``TYPE_ALIASES``).
    """
    if not parameters:
        return ""
    if not isinstance(parameters, dict):
        raise MtpConfigError("parameters must be a dictionary of name: value", option="parameters")
    statements = []
    for name, spec in parameters.items():
        check_parameter_name(name)
        if isinstance(spec, dict) and "type" in spec:
            extra = sorted(set(spec) - set(("type", "value")))
            if extra:
                raise _fail(name, "unknown keys %s (a typed parameter has only type and value)" % ", ".join(extra))
            if "value" not in spec:
                raise _fail(name, "a typed parameter needs a value")
            type_name = str(spec["type"]).strip().lower()
            kind = TYPE_ALIASES.get(type_name)
            if kind is None:
                raise _fail(name, "unknown type %r; use one of %s" % (spec["type"], ", ".join(PARAMETER_TYPES)))
            value = spec["value"]
        else:
            value = spec
            kind = _infer_type(value)
            if kind is None:
                if value is None:
                    raise _fail(name, "null needs a type: {type: long, value: null}")
                raise _fail(name, "cannot infer a KQL type for %s; give {type: ..., value: ...}"
                            % type(value).__name__)
        statements.append("let %s = %s;" % (name, render_value(name, kind, value)))
    return " ".join(statements) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Result typing
# ---------------------------------------------------------------------------------------------------------------

def normalise_schema(schema):
    """``[{"Name"|"name": …, "Type"|"type": …}]`` → ``[{"name": …, "type": …}]`` (names untouched)."""
    out = []
    for column in schema or []:
        if not isinstance(column, dict):
            continue
        name = column.get("Name", column.get("name"))
        kind = column.get("Type", column.get("type"))
        out.append({"name": name, "type": kind})
    return out


_INT_TYPES = frozenset(("int64", "int32", "int", "long", "system.int64", "system.int32", "int16", "byte", "sbyte"))
_REAL_TYPES = frozenset(("double", "real", "single", "float", "decimal", "system.double", "system.single"))
_BOOL_TYPES = frozenset(("boolean", "bool", "system.boolean"))
_DATE_TYPES = frozenset(("datetime", "date", "system.datetime", "datetimeoffset"))
_DYNAMIC_TYPES = frozenset(("object", "dynamic", "system.object"))


def _type_key(kind):
    kind = (kind or "").strip().lower()
    if kind in _INT_TYPES:
        return "int"
    if kind in _REAL_TYPES:
        return "real"
    if kind in _BOOL_TYPES:
        return "bool"
    if kind in _DATE_TYPES:
        return "datetime"
    if kind in _DYNAMIC_TYPES:
        return "dynamic"
    return None


_ISO_CELL = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?\s*(Z|z|[+-]\d{2}:?\d{2})?$")


def normalise_datetime_cell(value):
    """ISO-8601 with ``Z``; fractional digits kept as sent; non-UTC offsets converted to UTC."""
    if not isinstance(value, str):
        return value
    if len(value) >= 20 and value[10] == "T" and value[-1] == "Z" and value[19] in ".Z":
        return value  # already ISO-8601 UTC with Z (the services' form)
    m = _ISO_CELL.match(value.strip())
    if not m:
        return value
    day, clock, frac, offset = m.groups()
    if len(clock) == 5:
        clock += ":00"
    if offset and offset.upper() != "Z" and offset.replace(":", "")[1:] != "0000":
        moved = parse_datetime("%sT%s%s" % (day, clock, offset)).replace(microsecond=0)
        day, clock = moved.strftime("%Y-%m-%d"), moved.strftime("%H:%M:%S")
    return "%sT%s%sZ" % (day, clock, frac or "")


def convert_cell(key, value):
    """Convert one cell by the ``_type_key`` of its column; values that do not fit are returned unchanged."""
    if value is None or key is None:
        return value
    try:
        if key == "int":
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                return int(value.strip())
        elif key == "real":
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float, str)):
                return float(value)
        elif key == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, int):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
        elif key == "datetime":
            return normalise_datetime_cell(value)
        elif key == "dynamic" and isinstance(value, str):
            return json.loads(value)
    except ValueError:
        return value
    return value


def typed_row(row, keys):
    """One row, annotation keys (``…@odata.type``) dropped, cells converted. Column names are never changed."""
    out = {}
    for name, value in row.items():
        if isinstance(name, str) and name.endswith("@odata.type"):
            continue
        out[name] = convert_cell(keys.get(name), value)
    return out


def typed_rows(schema, rows):
    """Generator of typed rows for a normalised schema."""
    keys = dict((column["name"], _type_key(column["type"])) for column in schema)
    for row in rows or []:
        if isinstance(row, dict):
            yield typed_row(row, keys)
        else:
            yield row


def parse_response(api, body):
    """``(schema, raw_rows, stats)`` from a hunting response body of either API."""
    if not isinstance(body, dict):
        raise MtpApiError("The hunting response is not a JSON object", status=None)
    if api == "graph":
        schema = body.get("schema", body.get("Schema"))
        rows = body.get("results", body.get("Results"))
        stats = None
    else:
        schema = body.get("Schema", body.get("schema"))
        rows = body.get("Results", body.get("results"))
        stats = body.get("Stats", body.get("stats"))
    return normalise_schema(schema), rows or [], stats


# ---------------------------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------------------------

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

    def __init__(self, fileobj=None):
        self._file = fileobj
        self._encoder = codecs.getincrementalencoder("utf-8")()
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, text):
        data = self._encoder.encode(text)
        self.sha256.update(data)
        self.size += len(data)
        if self._file is not None:
            self._file.write(data)
        return len(text)


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
    """Stream rows to ``dest`` atomically, or (``check_mode``) only hash what would be written.

    Use as a context manager: ``begin(columns)``, ``write(row)`` per row, ``commit()`` → result dict. Leaving the
    block without ``commit()`` (an exception) removes the temp file; ``dest`` is never truncated.
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
        else:
            directory = os.path.dirname(os.path.abspath(self.dest))
            fd, self._tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(self.dest), suffix=".tmp",
                                             dir=directory)
            self._handle = os.fdopen(fd, "wb")
            self._sink = _Sink(self._handle)
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self._committed:
            self._cleanup()
        return False

    def _cleanup(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._tmp and os.path.exists(self._tmp):
            os.unlink(self._tmp)
        self._tmp = None

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
        if self._columns is None:
            self.begin([])
        if self.fmt == "json":
            self._sink.write("\n]\n" if self.row_count else "]\n")
        sha256 = self._sink.sha256.hexdigest()
        existing = file_sha256(self.dest) if os.path.isfile(self.dest) else None
        changed = existing != sha256
        if not self.check_mode:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
            if changed:
                if os.path.exists(self.dest):
                    mode = os.stat(self.dest).st_mode & 0o7777
                else:
                    umask = os.umask(0)
                    os.umask(umask)
                    mode = 0o666 & ~umask
                os.chmod(self._tmp, mode)
                os.replace(self._tmp, self.dest)
                self._tmp = None
            else:
                self._cleanup()
        self._committed = True
        return {"dest": self.dest, "format": self.fmt, "row_count": self.row_count, "size": self._sink.size,
                "sha256": sha256, "changed": changed}


# ---------------------------------------------------------------------------------------------------------------
# Time windows and split exports
# ---------------------------------------------------------------------------------------------------------------

def _parse_point_or_duration(text):
    text = text.strip()
    if text[:1] in ("P", "p", "-", "+") and not _ISO_DATETIME.match(text):
        return "duration", parse_iso_duration(text)
    return "point", parse_datetime(text)


def validate_timespan(timespan):
    """Check a Graph ``Timespan`` (start/end, duration/end, start/duration, duration, start) offline."""
    try:
        parts = timespan.split("/")
        if len(parts) > 2 or not all(p.strip() for p in parts):
            raise ValueError("expected one or two parts separated by /")
        kinds = [_parse_point_or_duration(p) for p in parts]
        if len(kinds) == 2 and kinds[0][0] == "duration" and kinds[1][0] == "duration":
            raise ValueError("two durations do not make a window")
        for kind, value in kinds:
            if kind == "duration" and value <= datetime.timedelta(0):
                raise ValueError("the duration must be positive")
        if len(kinds) == 2 and kinds[0][0] == "point" and kinds[1][0] == "point" and kinds[1][1] <= kinds[0][1]:
            raise ValueError("the end is not after the start")
    except ValueError as exc:
        raise MtpConfigError(
            "timespan %r is not a valid ISO-8601 window (start/end, duration/end, start/duration, duration or "
            "start, e.g. P7D or 2024-02-01T00:00:00Z/2024-02-15T00:00:00Z): %s" % (timespan, exc), option="timespan")
    return kinds


def parse_timespan(timespan, now=None):
    """``(start, end)`` aware datetimes for a Graph-style ``Timespan``; ``None`` → the last 30 days."""
    now = now or datetime.datetime.now(_UTC).replace(microsecond=0)
    if not timespan:
        return now - DEFAULT_LOOKBACK, now
    kinds = validate_timespan(timespan)
    if len(kinds) == 1:
        kind, value = kinds[0]
        return (now - value, now) if kind == "duration" else (value, now)
    (k1, v1), (k2, v2) = kinds
    if k1 == "point" and k2 == "point":
        return v1, v2
    if k1 == "duration":
        return v2 - v1, v2
    return v1, v1 + v2


def parse_split_by(split_by):
    """``"1d"``/``"6h"``/``"PT6H"`` → ``timedelta`` step; ``4`` or ``"4"`` → a slice count (int)."""
    if isinstance(split_by, bool):
        raise MtpConfigError("split_by must be a duration like 1d or 6h, or a number of slices", option="split_by")
    if isinstance(split_by, int) or (isinstance(split_by, str) and split_by.strip().isdigit()):
        count = int(split_by)
        if not 1 <= count <= 10000:
            raise MtpConfigError("split_by: the number of slices must be between 1 and 10000", option="split_by")
        return count
    if isinstance(split_by, str):
        try:
            step = parse_kql_timespan(split_by)
        except ValueError:
            step = None
        if step is not None and step >= datetime.timedelta(seconds=1):
            return step
    raise MtpConfigError("split_by %r is not a duration of at least 1s (like 1d, 6h, 30m) or a number of slices"
                         % (split_by,), option="split_by")


def plan_windows(start, end, split):
    """Half-open windows ``[(s, e), …]`` covering ``[start, end)`` in time order."""
    if end <= start:
        raise MtpConfigError("the time window is empty (end is not after start)", option="timespan")
    if isinstance(split, int):
        total = end - start
        bounds = [start + total * i // split for i in range(split)] + [end]
        windows = [(bounds[i], bounds[i + 1]) for i in range(split) if bounds[i] < bounds[i + 1]]
    else:
        windows, cursor = [], start
        while cursor < end:
            windows.append((cursor, min(cursor + split, end)))
            cursor += split
            if len(windows) > 10000:
                raise MtpConfigError("split_by gives more than 10000 windows; use a larger step", option="split_by")
    return windows


def graph_timespan(start, end):
    """Graph ``Timespan`` for one window."""
    return "%s/%s" % (format_datetime(start), format_datetime(end))


def mtp_window_query(query, start, end, column="Timestamp"):
    """The query restricted to ``[start, end)`` for the MTP API (which has no Timespan).

    The filter is appended as a last pipe stage, after a line break (so a trailing ``//`` comment stays a
    comment) and with trailing ``;`` removed: the query's result must carry the ``Timestamp`` column.
    """
    body = query.rstrip()
    while body.endswith(";"):
        body = body[:-1].rstrip()
    return "%s\n| where %s >= datetime(%s) and %s < datetime(%s)" % (
        body, column, format_datetime(start), column, format_datetime(end))


_SPLITTABLE_400 = re.compile(r"result size|exceeded the allowed|preempted|excessive resource|timeout period",
                             re.IGNORECASE)


def is_splittable_error(exc):
    """A 400 that a smaller window may avoid: result size, preemption, resources, timeout."""
    return isinstance(exc, MtpApiError) and exc.status == 400 and bool(_SPLITTABLE_400.search(exc.msg or ""))


def row_hash(row):
    return hashlib.sha1(json.dumps(row, sort_keys=True, ensure_ascii=True, default=str,
                                   separators=(",", ":")).encode("utf-8")).digest()


class SplitExport:
    """Run ``fetch(start, end) -> (schema, rows, stats)`` per window, halving windows that hit the row cap or a
    splittable 400, and yield ``(window_info, schema, rows)`` in time order.

    Rows identical (full-row hash) to a row of the immediately preceding window are dropped (boundary
    duplicates). A window that cannot be halved any more (``min_window``) and still returns the cap is kept
    and marks the export ``truncated``.
    """

    def __init__(self, fetch, windows, max_rows_per_call=ROW_CAP, min_window=datetime.timedelta(seconds=1),
                 max_calls=500):
        self.fetch = fetch
        self.windows = list(windows)
        self.max_rows_per_call = max_rows_per_call
        self.min_window = min_window
        self.max_calls = max_calls
        self.calls = 0
        self.halvings = 0
        self.duplicates_dropped = 0
        self.truncated = False
        self.window_log = []

    def _attempt(self, start, end):
        """``(schema, rows, stats, hashes)``, or ``None`` when a splittable 400 asks for a smaller window."""
        if self.calls >= self.max_calls:
            raise MtpApiError("split_by: gave up after %d calls; use a smaller split_by" % self.calls, status=None)
        self.calls += 1
        try:
            schema, rows, stats = self.fetch(start, end)
        except MtpApiError as exc:
            if is_splittable_error(exc) and (end - start) >= 2 * self.min_window:
                return None
            raise
        return schema, rows, stats, [row_hash(row) for row in rows]

    def _halves(self, start, end):
        middle = start + (end - start) / 2
        if middle.replace(microsecond=0) > start:
            middle = middle.replace(microsecond=0)
        self.halvings += 1
        return (start, middle), (middle, end)

    def __iter__(self):
        # Stack of (start, end, result-or-None), popped in time order. A window at the cap is halved and both
        # halves are run before going deeper: when both return exactly the parent's rows, the rows do not
        # spread over time (no time column, or a query ignoring the window) and halving cannot help.
        stack = [(s, e, None) for s, e in reversed(self.windows)]
        previous = set()
        while stack:
            start, end, result = stack.pop()
            if result is None:
                result = self._attempt(start, end)
                if result is None:
                    left, right = self._halves(start, end)
                    stack.append(right + (None,))
                    stack.append(left + (None,))
                    continue
            schema, rows, stats, hashes = result
            if len(rows) >= self.max_rows_per_call:
                if (end - start) >= 2 * self.min_window:
                    left, right = self._halves(start, end)
                    left_result = self._attempt(*left)
                    right_result = self._attempt(*right)
                    same = (left_result is not None and right_result is not None
                            and left_result[3] == hashes and right_result[3] == hashes)
                    if not same:
                        stack.append(right + (right_result,))
                        stack.append(left + (left_result,))
                        continue
                self.truncated = True
            kept = []
            for row, digest in zip(rows, hashes):
                if digest in previous:
                    self.duplicates_dropped += 1
                    continue
                kept.append(row)
            previous = set(hashes)
            info = {"start": format_datetime(start), "end": format_datetime(end), "row_count": len(kept)}
            if stats is not None:
                info["stats"] = stats
            self.window_log.append(info)
            yield info, schema, kept


# ---------------------------------------------------------------------------------------------------------------
# Running a hunt (shared by the module and the lookup; the client is anything with MtpClient.post)
# ---------------------------------------------------------------------------------------------------------------

PATHS = {"graph": "/v1.0/security/runHuntingQuery", "mtp": "/api/advancedhunting/run"}


def read_query_file(path):
    """The file's text exactly (UTF-8; a leading byte-order mark is dropped); errors name ``query_file``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise MtpConfigError("query_file %s cannot be read: %s" % (path, exc.strerror or exc), option="query_file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MtpConfigError("query_file %s is not UTF-8 text (byte %d)" % (path, exc.start), option="query_file")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise MtpConfigError("query_file %s is empty" % path, option="query_file")
    return text


def _response_body(response):
    """The parsed JSON of a 2xx ``MtpResponse`` (streamed responses are parsed straight from the bytes)."""
    if response.json is not None:
        return response.json
    raw = getattr(response, "response", None)
    if raw is not None:
        try:
            # bytes straight to the parser (UTF-8 by RFC 8259): no decoded copy of a large body
            return json.loads(raw.content)
        except ValueError:
            raise MtpApiError("The hunting response is not JSON", status=response.status)
    try:
        return json.loads(response.text or "")
    except ValueError:
        raise MtpApiError("The hunting response is not JSON", status=response.status)


class Hunt:
    """One hunting request (or a split export) with its options checked offline.

    ``client`` needs ``post(api, path, json=..., idempotent=True, stream=True)`` returning an ``MtpResponse``.
    """

    def __init__(self, api="graph", query=None, query_file=None, parameters=None, timespan=None, max_rows=None,
                 split_by=None, max_rows_per_call=ROW_CAP, now=None):
        if api not in PATHS:
            raise MtpConfigError("api must be graph or mtp, got %r" % (api,), option="api")
        if query is not None and query_file is not None:
            raise MtpConfigError("query and query_file are mutually exclusive; give one", option="query")
        if query is None and query_file is None:
            raise MtpConfigError("one of query or query_file is required", option="query")
        if query is not None and not str(query).strip():
            raise MtpConfigError("query is empty", option="query")
        self.api = api
        self.query = read_query_file(query_file) if query_file is not None else query
        self.preamble = render_parameters(parameters)
        self.timespan = timespan
        if timespan:
            validate_timespan(timespan)
            if api == "mtp" and split_by is None:
                raise MtpConfigError("timespan is a Graph option (api: graph); the MTP API takes the time range "
                                     "from the query, or from timespan only together with split_by", option="timespan")
        if max_rows is not None and max_rows < 0:
            raise MtpConfigError("max_rows must be 0 or more", option="max_rows")
        self.max_rows = max_rows
        if not max_rows_per_call or max_rows_per_call < 1:
            raise MtpConfigError("max_rows_per_call must be at least 1", option="max_rows_per_call")
        self.max_rows_per_call = max_rows_per_call
        self.split = parse_split_by(split_by) if split_by is not None else None
        self.now = now
        self.windows = None
        if self.split is not None:
            start, end = parse_timespan(timespan, now=now)
            self.windows = plan_windows(start, end, self.split)

    @property
    def full_query(self):
        return self.preamble + self.query

    def _post(self, client, query, timespan):
        body = {"Query": query}
        if timespan and self.api == "graph":
            body["Timespan"] = timespan
        try:
            response = client.post(self.api, PATHS[self.api], json=body, idempotent=True, stream=True)
        except MtpApiError as exc:
            if self.preamble and exc.status == 400 and "line" in (exc.msg or ""):
                exc.msg += " (line numbers count the one-line parameters preamble: query line N is line N+1)"
                exc.args = (exc.msg,)
            raise
        return parse_response(self.api, _response_body(response))

    def run(self, client, sink=None):
        """Run and return the result dict; rows go to ``sink.write`` when given (``sink.begin(columns)`` first)."""
        result = {"api": self.api, "truncated": False}
        rows_out = [] if sink is None else None
        count = 0
        schema = None
        stopped = False

        def emit(schema_, raw_rows):
            nonlocal count, stopped
            if sink is not None:
                sink.begin([c["name"] for c in schema_])
            for row in typed_rows(schema_, raw_rows):
                if self.max_rows is not None and count >= self.max_rows:
                    stopped = True
                    break
                if sink is not None:
                    sink.write(row)
                else:
                    rows_out.append(row)
                count += 1

        if self.windows is None:
            schema, raw_rows, stats = self._post(client, self.full_query, self.timespan)
            capped = len(raw_rows) >= self.max_rows_per_call
            emit(schema, raw_rows)
            del raw_rows
            if stats is not None:
                result["stats"] = stats
            result["truncated"] = capped or stopped
            result["row_cap_reached"] = capped
        else:
            def fetch(start, end):
                if self.api == "graph":
                    return self._post(client, self.full_query, graph_timespan(start, end))
                return self._post(client, mtp_window_query(self.full_query, start, end), None)

            export = SplitExport(fetch, self.windows, max_rows_per_call=self.max_rows_per_call)
            for _info, schema_, rows in export:
                if schema is None or (not schema and schema_):
                    schema = schema_
                if not stopped:
                    emit(schema_, rows)
            result["windows"] = export.window_log
            result["calls"] = export.calls
            result["duplicates_dropped"] = export.duplicates_dropped
            result["truncated"] = export.truncated or stopped
            result["row_cap_reached"] = export.truncated
        result["schema"] = schema or []
        result["row_count"] = count
        if rows_out is not None:
            result["results"] = rows_out
        return result
