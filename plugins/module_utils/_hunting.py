# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The advanced-hunting runner, shared by the module and the lookup.

* ``Hunt`` checks the options offline, then (``run``) posts the query through an ``MtpClient`` and hands the
  typed rows to a sink as the response is read (``_hunting_results.read_response``);
* ``validate_timespan`` / ``parse_timespan`` / ``parse_split_by`` / ``plan_windows`` / ``SplitExport`` run a query
  per time window, halving windows that hit the row cap or a splittable 400.

Literals and parameters are in ``_kql.py``, result typing in ``_hunting_results.py``, the export files in
``_export.py``. APIs: docs/developer/reference/defender-api.md §2 (limits §2.4, errors at a limit §2.5).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import re

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError
from ansible_collections.m365.defender.plugins.module_utils._hunting_results import read_response, typed_rows

ROW_CAP = 100000
DEFAULT_LOOKBACK = datetime.timedelta(days=30)

_UTC = datetime.timezone.utc

# ---------------------------------------------------------------------------------------------------------------
# Time windows and split exports
# ---------------------------------------------------------------------------------------------------------------


def _parse_point_or_duration(text):
    from ansible_collections.m365.defender.plugins.module_utils._kql import is_iso_datetime, parse_datetime, parse_iso_duration

    text = text.strip()
    if text[:1] in ("P", "p", "-", "+") and not is_iso_datetime(text):
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
        from ansible_collections.m365.defender.plugins.module_utils._kql import parse_kql_timespan

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
    from ansible_collections.m365.defender.plugins.module_utils._kql import format_datetime

    return "%s/%s" % (format_datetime(start), format_datetime(end))


def mtp_window_query(query, start, end, column="Timestamp"):
    """The query restricted to ``[start, end)`` for the MTP API (which has no Timespan).

    The filter is appended as a last pipe stage, after a line break (so a trailing ``//`` comment stays a
    comment) and with trailing ``;`` removed: the query's result must carry the ``Timestamp`` column.
    """
    from ansible_collections.m365.defender.plugins.module_utils._kql import format_datetime

    body = query.rstrip()
    while body.endswith(";"):
        body = body[:-1].rstrip()
    return "%s\n| where %s >= datetime(%s) and %s < datetime(%s)" % (
        body, column, format_datetime(start), column, format_datetime(end))


_SPLITTABLE_400 = r"result size|exceeded the allowed|preempted|excessive resource|timeout period"


def is_splittable_error(exc):
    """A 400 that a smaller window may avoid: result size, preemption, resources, timeout."""
    return (isinstance(exc, MtpApiError) and exc.status == 400
            and bool(re.search(_SPLITTABLE_400, exc.msg or "", re.IGNORECASE)))


def row_hash(row):
    """A digest of the whole row (keys sorted), to drop rows repeated across a window boundary."""
    return hashlib.sha1(json.dumps(row, sort_keys=True, ensure_ascii=True, default=str,
                                   separators=(",", ":")).encode("utf-8")).digest()


def _format(value):
    from ansible_collections.m365.defender.plugins.module_utils._kql import format_datetime

    return format_datetime(value)


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
            info = {"start": _format(start), "end": _format(end), "row_count": len(kept)}
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


def _preamble(parameters):
    if not parameters:
        return ""
    from ansible_collections.m365.defender.plugins.module_utils._kql import render_parameters

    return render_parameters(parameters)


def _needs_timestamp(exc):
    """The 400 of an ``api: mtp`` window whose query result has no ``Timestamp`` column to filter on."""
    return (exc.status == 400 and "Timestamp" in (exc.msg or "")
            and bool(re.search(r"resolve|not found|unknown|does not|doesn't|no column", exc.msg, re.IGNORECASE)))


class _Counted:
    """An iterator over rows that counts what it hands on; ``drain()`` reads (and counts) the rest."""

    def __init__(self, rows):
        self._rows = iter(rows)
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self):
        row = next(self._rows)
        self.count += 1
        return row

    def drain(self):
        for _row in self:
            pass


class _Output:
    """Where typed rows go: ``sink.write`` (after ``sink.begin(columns)``) or a list; stops at ``max_rows``."""

    def __init__(self, sink, max_rows):
        self.sink = sink
        self.max_rows = max_rows
        self.rows = [] if sink is None else None
        self.count = 0
        self.stopped = False

    def emit(self, schema, raw_rows):
        if self.sink is not None:
            self.sink.begin([c["name"] for c in schema])
        keep = self.rows.append if self.sink is None else self.sink.write
        for row in typed_rows(schema, raw_rows):
            if self.max_rows is not None and self.count >= self.max_rows:
                self.stopped = True
                break
            keep(row)
            self.count += 1


class Hunt:
    """One hunting request (or a split export) with its options checked offline (``__init__``); ``run``
    makes the calls.

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
        self.preamble = _preamble(parameters)
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

    def _request(self, client, query, timespan):
        """The ``HuntingBody`` of one call: its rows are read from the response as they are iterated."""
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
        return read_response(self.api, response)

    def _fetch_window(self, client, start, end):
        """``(schema, rows, stats)`` of one ``split_by`` window (its rows are kept: they are hashed, and a
        window at the row cap is run again as two halves)."""
        if self.api == "graph":
            body = self._request(client, self.full_query, graph_timespan(start, end))
        else:
            try:
                body = self._request(client, mtp_window_query(self.full_query, start, end), None)
            except MtpApiError as exc:
                if _needs_timestamp(exc):
                    exc.msg = ("split_by with api: mtp needs a Timestamp column in the query's result: each window "
                               "adds | where Timestamp >= datetime(start) and Timestamp < datetime(end) to the "
                               "query. Project Timestamp, or use api: graph. The service said: %s" % exc.msg)
                    exc.args = (exc.msg,)
                    exc.hint = "project a Timestamp column, or use api: graph (it sends each window as Timespan)"
                raise
        return body.schema, list(body.rows), body.stats

    def _run_once(self, client, out, result):
        body = self._request(client, self.full_query, self.timespan)
        rows = _Counted(body.rows)
        out.emit(body.schema, rows)
        rows.drain()  # the rest of the body past max_rows: the row count for the cap, and any trailing Stats
        capped = rows.count >= self.max_rows_per_call
        if body.stats is not None:
            result["stats"] = body.stats
        result["truncated"] = capped or out.stopped
        result["row_cap_reached"] = capped
        return body.schema

    def _run_split(self, client, out, result):
        export = SplitExport(lambda start, end: self._fetch_window(client, start, end), self.windows,
                             max_rows_per_call=self.max_rows_per_call)
        schema = None
        for _info, schema_, rows in export:
            if schema is None or (not schema and schema_):
                schema = schema_
            if not out.stopped:
                out.emit(schema_, rows)
        result["windows"] = export.window_log
        result["calls"] = export.calls
        result["duplicates_dropped"] = export.duplicates_dropped
        result["truncated"] = export.truncated or out.stopped
        result["row_cap_reached"] = export.truncated
        return schema

    def run(self, client, sink=None):
        """Run and return the result dict; rows go to ``sink.write`` when given (``sink.begin(columns)`` first),
        each as soon as it has been read from the response."""
        result = {"api": self.api, "truncated": False}
        out = _Output(sink, self.max_rows)
        if self.windows is None:
            schema = self._run_once(client, out, result)
        else:
            schema = self._run_split(client, out, result)
        result["schema"] = schema or []
        result["row_count"] = out.count
        if out.rows is not None:
            result["results"] = out.rows
        return result
