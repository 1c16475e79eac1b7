# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. KQL literals: parameters as a ``let`` preamble, date/time and timespan text.

* ``kql_string(value)`` is a double-quoted string literal; ``render_parameters(params)`` turns a dict into a
  one-line ``let`` preamble, each value rendered by ``render_value``;
* ``parse_datetime`` / ``format_datetime`` / ``parse_iso_duration`` / ``parse_kql_timespan`` read and write the
  date/time and timespan forms the options take (Graph ``Timespan``: docs/developer/reference/defender-api.md §2.2).

String literals: both Kusto's lexer (Kusto.Language ``LexicalGrammar``: a double-quoted literal holds any
character but ``\\``, ``"``, CR and LF, plus escapes) and duckdb-kql's accept a double-quoted literal in which
exactly ``\\``, ``"``, CR, LF and TAB are escaped (``\\\\``, ``\\"``, ``\\r``, ``\\n``, ``\\t``); every other
character stands for itself. A value can therefore never end its literal early: the only unescaped ``"``
is the closing one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import math
import re
import uuid

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

_UTC = datetime.timezone.utc

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


def is_iso_datetime(text):
    """True when ``text`` has the ISO-8601 date/time shape ``parse_datetime`` reads."""
    return bool(_ISO_DATETIME.match(text))


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
