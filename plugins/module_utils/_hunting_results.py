# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Hunting results: the response body read, its cells typed from its schema.

* ``normalise_schema`` / ``typed_rows`` / ``convert_cell`` type result cells from the response schema;
* ``parse_response(api, body)`` gives ``(schema, rows, stats)`` from a parsed body;
* ``read_response(api, response)`` reads an ``MtpResponse``: a streamed one is parsed with ``ijson`` as its bytes
  arrive, so rows can be written out one by one; without ``ijson`` the whole body is parsed at once.

Bodies: Graph ``runHuntingQuery`` ``{"schema": [...], "results": [...]}``, the legacy MTP ``advancedhunting/run``
``{"Stats": {...}, "Schema": [...], "Results": [...]}`` and MDE ``advancedqueries/run`` ``{"Schema", "Results"}``
(docs/developer/reference/defender-api.md §2.1-§2.3); schema keys come in both casings (§2.2), types per §8.1.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import tempfile

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError


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


_ISO_CELL = r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?\s*(Z|z|[+-]\d{2}:?\d{2})?$"


def normalise_datetime_cell(value):
    """ISO-8601 with ``Z``; fractional digits kept as sent; non-UTC offsets converted to UTC."""
    if not isinstance(value, str):
        return value
    if len(value) >= 20 and value[10] == "T" and value[-1] == "Z" and value[19] in ".Z":
        return value  # already ISO-8601 UTC with Z (the services' form)
    m = re.match(_ISO_CELL, value.strip())  # compiled on first use (re's cache)
    if not m:
        return value
    day, clock, frac, offset = m.groups()
    if len(clock) == 5:
        clock += ":00"
    if offset and offset.upper() != "Z" and offset.replace(":", "")[1:] != "0000":
        from ansible_collections.m365.defender.plugins.module_utils._kql import parse_datetime

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
# Reading a response: parsed whole, or streamed with ijson
# ---------------------------------------------------------------------------------------------------------------


def _keys(api):
    """``(schema, results, stats)`` keys in the order ``parse_response`` prefers them."""
    if api == "graph":
        return ("schema", "Schema"), ("results", "Results"), ()
    return ("Schema", "schema"), ("Results", "results"), ("Stats", "stats")


def _first(found, keys):
    for key in keys:
        if key in found:
            return found[key]
    return None


class HuntingBody:
    """A parsed hunting body: ``schema`` (normalised), ``rows`` (iterable of raw rows), ``stats``."""

    def __init__(self, schema, rows, stats):
        self.schema = schema
        self.rows = rows
        self.stats = stats


def _not_json(response):
    return MtpApiError("The hunting response is not JSON", status=getattr(response, "status", None))


def response_body(response):
    """The parsed JSON of a 2xx ``MtpResponse`` (streamed responses are parsed straight from the bytes)."""
    if response.json is not None:
        return response.json
    raw = getattr(response, "response", None)
    if raw is not None:
        try:
            # bytes straight to the parser (UTF-8 by RFC 8259): no decoded copy of a large body
            return json.loads(raw.content)
        except ValueError:
            raise _not_json(response)
    try:
        return json.loads(response.text or "")
    except ValueError:
        raise _not_json(response)


def import_ijson():
    """The ``ijson`` module, or ``None`` when it is not installed (the body is then parsed whole)."""
    try:
        import ijson
    except ImportError:
        return None
    return ijson


def read_response(api, response):
    """A ``HuntingBody`` for a 2xx ``MtpResponse``: streamed (rows parsed as they arrive) when the response is a
    streamed one and ``ijson`` is installed, else parsed whole."""
    raw = getattr(response, "response", None)
    ijson = import_ijson() if response.json is None and raw is not None else None
    if ijson is None:
        schema, rows, stats = parse_response(api, response_body(response))
        return HuntingBody(schema, rows, stats)
    return StreamedBody(api, ijson, _ChunkReader(raw, response.status), response.status)


class _ChunkReader:
    """A file-like ``read()`` over ``requests.Response.iter_content`` (decoded, 64 KiB chunks) for ijson.

    A connection lost mid-body becomes an ``MtpApiError``. Every chunk is also copied to a temporary file on
    disk, so that a body ijson cannot read (a number past 64 bits, such as a large ``decimal``) is parsed whole
    from there (``rest()``) without asking the service again.
    """

    def __init__(self, raw, status):
        self._chunks = raw.iter_content(chunk_size=1 << 16)
        self._status = status
        self._spool = tempfile.TemporaryFile()

    def read(self, size=-1):
        if size == 0:
            return b""
        try:
            chunk = next(self._chunks, b"")
        except OSError as exc:  # requests' ChunkedEncodingError, ConnectionError, … derive from IOError
            raise MtpApiError("The hunting response was cut off: %s" % exc, status=self._status)
        if self._spool is not None:
            try:
                self._spool.write(chunk)
            except OSError:  # a full disk only loses the fallback
                self.close()
        return chunk

    def close(self):
        """Drop the copy of the body (the body has been read to its end)."""
        spool, self._spool = self._spool, None
        if spool is not None:
            spool.close()

    def rest(self):
        """The whole body (what was read, then the rest), or ``None`` if it could not be kept."""
        if self._spool is None:
            return None
        while self.read(1 << 16):
            pass
        if self._spool is None:
            return None
        self._spool.seek(0)
        data = self._spool.read()
        self.close()
        return data


_STARTS = frozenset(("start_map", "start_array"))


def _build(events, event, value):
    """The Python value whose first ijson ``basic_parse`` event is ``(event, value)``."""
    if event == "start_map":
        obj, key = {}, None
        for event, value in events:
            if event == "map_key":
                key = value
            elif event == "end_map":
                return obj
            else:
                obj[key] = _build(events, event, value) if event in _STARTS else value
    elif event == "start_array":
        items = []
        for event, value in events:
            if event == "end_array":
                return items
            items.append(_build(events, event, value) if event in _STARTS else value)
    return value


class StreamedBody:
    """A ``HuntingBody`` parsed as it arrives (ijson ``basic_parse``): ``rows`` yields each raw row once parsed.

    The top-level keys are read in order. When the results array comes after the schema (as the services send
    them), its rows are not kept: each is handed on as soon as it is complete. When the schema comes after the
    results, the results are kept until the schema has been read. ``stats`` is complete once ``rows`` is.
    Only the first results array is streamed: a body that repeats the key (which the services do not) is not
    read as ``json.loads`` would (last one wins).
    """

    def __init__(self, api, ijson, reader, status=None):
        self._schema_keys, self._result_keys, self._stats_keys = _keys(api)
        self._ijson = ijson
        self._reader = reader
        self._status = status
        self._found = {}
        self._ready = False
        self._handed_on = 0
        self._events = iter(ijson.basic_parse(reader, use_float=True))
        self._walk = self._walker()
        self._step()  # up to the first row, or to the end of a body that has to be read whole
        self.schema = normalise_schema(_first(self._found, self._schema_keys))
        self.rows = self._rows()

    @property
    def stats(self):
        return _first(self._found, self._stats_keys) if self._stats_keys else None

    def _step(self):
        try:
            item = next(self._walk)
        except self._ijson.JSONError as exc:
            if "overflow" not in str(exc):
                raise MtpApiError("The hunting response is not JSON", status=self._status)
            self._walk = self._whole_body()
            item = next(self._walk)
        if item is _READY:
            self._ready = True
        return item

    def _rows(self):
        while True:
            row = self._step()
            if row is _END:
                return
            self._handed_on += 1
            yield row

    def _whole_body(self):
        """After ijson stopped on a number it cannot hold: the body parsed whole, rows not yet handed on."""
        data = self._reader.rest()
        try:
            body = json.loads(data) if data is not None else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise MtpApiError("The hunting response is not JSON", status=self._status)
        self._found = body
        if not self._ready:
            yield _READY
        yield from (_first(body, self._result_keys) or [])[self._handed_on:]
        yield _END

    def _walker(self):
        events = self._events
        event, _value = next(events, (None, None))
        if event != "start_map":
            raise MtpApiError("The hunting response is not a JSON object", status=self._status)
        streamed = False
        for event, key in events:
            if event == "end_map":
                break
            event, value = next(events, (None, None))  # (ijson raises on a body cut after a key)
            if (not streamed and event == "start_array" and key == self._result_keys[0]
                    and _first(self._found, self._schema_keys) is not None):
                streamed = True
                yield _READY
                for event, value in events:
                    if event == "end_array":
                        break
                    yield _build(events, event, value) if event in _STARTS else value
                continue
            self._found[key] = _build(events, event, value) if event in _STARTS else value
        if not streamed:
            yield _READY
            yield from _first(self._found, self._result_keys) or []
            for key in self._result_keys:
                self._found.pop(key, None)
        self._reader.close()
        yield _END


_READY = object()
_END = object()
