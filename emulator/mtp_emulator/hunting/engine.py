"""Run advanced-hunting KQL for one tenant on DuckDB (duckdb-kql) and shape the result for the APIs.

One :class:`HuntingEngine` per tenant holds an in-memory DuckDB database, filled lazily on the first query
(:mod:`.generator`). Each query runs on its own cursor; a Graph ``Timespan`` is applied by shadowing every table
with a TEMP view restricted to the window on that cursor. The text runs as received except for the rewrites of
:func:`.compat.normalise` (Kusto's deprecated aliases, ``extract_json(..., typeof(T))``, an unnamed ``mv-expand f(c)``).

Errors never escape as anything but :class:`HuntingError` (status + message in the real service's words).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
import threading
import time
import uuid

import duckdb
import duckdb_kql
from duckdb_kql.types import kusto_type

from . import blame, compat, generator, stages
from .tables import API_TYPE, TABLES

compat.install_functions()  # extract_json, url_encode, set_difference: see compat.EXTRA_FUNCTIONS

UTC = dt.timezone.utc
ROW_LIMIT = 100_000
RESULT_BYTES = 64 * 1024 * 1024  # not stated for MTP; Graph says 50 MB overall, MDE 124 MB
MEMORY_LIMIT = os.environ.get("MTP_EMULATOR_HUNTING_MEMORY", "1GB")  # DuckDB memory_limit per tenant

MSG_UNKNOWN = "An unexpected error occurred during query execution. Please try again in a few minutes."
MSG_SIZE = ('Result size limit exceeded. Use "summarize" to aggregate results, "project" to drop uninteresting '
            'columns, or "take" to truncate results.')
MSG_TIMEOUT = "Query exceeded the timeout period."


class HuntingError(Exception):
    def __init__(self, status: int, message: str, code: str = "BadRequest") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def fmt_datetime(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%dT00:00:00.0000000Z")
    return str(value)


def fmt_timespan(value: dt.timedelta | None) -> str | None:
    if value is None:
        return None
    total_us = value // dt.timedelta(microseconds=1)
    sign = "-" if total_us < 0 else ""
    total_us = abs(total_us)
    days, rem = divmod(total_us, 86_400_000_000)
    hours, rem = divmod(rem, 3_600_000_000)
    minutes, rem = divmod(rem, 60_000_000)
    seconds, micros = divmod(rem, 1_000_000)
    out = f"{sign}{f'{days}.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return out + (f".{micros:06d}0" if micros else "")


def _jsonify(value):
    """A DuckDB value inside a dynamic (list/struct/map) -> JSON-ready value."""
    if isinstance(value, dict):
        return {str(k): _jsonify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonify(v) for v in value]
    if isinstance(value, dt.datetime):
        return fmt_datetime(value)
    if isinstance(value, dt.timedelta):
        return fmt_timespan(value)
    if isinstance(value, (uuid.UUID, dt.date, dt.time)):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def _converter(duck_type: str):
    name = duck_type.upper()
    if name.endswith("]"):  # a list (make-series, range(), split()): a dynamic array
        return _jsonify
    if name == "JSON":
        def conv(v):
            if v is None:
                return None
            try:
                return json.loads(v)
            except (TypeError, ValueError):
                return v
        return conv
    if name.startswith("TIMESTAMP") or name == "DATE":
        return fmt_datetime
    if name == "INTERVAL" or name == "TIME":
        return lambda v: fmt_timespan(v) if isinstance(v, dt.timedelta) else (None if v is None else str(v))
    if name in ("UUID",):
        return lambda v: None if v is None else str(v)
    if name.startswith("DECIMAL"):
        return lambda v: None if v is None else float(v)
    if name in ("HUGEINT", "UHUGEINT", "UBIGINT"):
        return lambda v: v
    if name in ("DOUBLE", "FLOAT"):
        return lambda v: None if v is None or v != v else v
    return _jsonify


# --- error texts ----------------------------------------------------------------------------------------------

_MISMATCH = re.compile(r"(?:mismatched input|extraneous input|no viable alternative at input|"
                       r"token recognition error at:)\s*'((?:[^'\\]|\\.)*)'")


def syntax_message(exc: duckdb_kql.KqlSyntaxError) -> str:
    diag = exc.diagnostics[0] if exc.diagnostics else None
    if diag is None:
        return f"Query could not be parsed: {exc}"
    m = _MISMATCH.search(diag.message)
    token = m.group(1) if m else diag.message
    if token == "<EOF>":
        token = "<EOF>"
    # Kusto reports 1-based line and column.
    return f"Query could not be parsed at '{token}' on line [{diag.span.line},{diag.span.column + 1}]"


_COLUMN_PATTERNS = [
    re.compile(r'Referenced column "([^"]+)" not found'),
    re.compile(r'Column "([^"]+)" referenced that exists in the SELECT clause'),
    re.compile(r'column "?([^"\s]+)"? (?:does not exist|not found)', re.I),
    re.compile(r'Values list "[^"]*" does not have a column named "([^"]+)"'),
]
_TABLE_PATTERN = re.compile(r"Table with name ([^\s!]+) does not exist")
_FUNC_PATTERN = re.compile(r"Scalar Function with name ([^\s!]+) does not exist")


def column_message(name: str, query: str | None = None) -> str:
    """Kusto's text for a missing column, naming the operator it occurs in (``project`` when unknown)."""
    operator = blame.operator_of(query, name) if query else None
    return f"'{operator or 'project'}' operator: Failed to resolve scalar expression named '{name}'"


def semantic_message(text: str, query: str | None = None) -> str | None:
    for pat in _COLUMN_PATTERNS:
        m = pat.search(text)
        if m:
            return column_message(m.group(1), query)
    m = _TABLE_PATTERN.search(text)
    if m:
        return f"Failed to resolve table or column expression named '{m.group(1)}'"
    m = _FUNC_PATTERN.search(text)
    if m:
        return f"Failed to resolve scalar function named '{m.group(1)}'"
    return None


def classify_error(exc: BaseException, query: str | None = None) -> HuntingError:
    """Any exception from translation or execution -> a 400 in the service's words (*query*: the text that ran,
    to name the operator a missing column occurs in)."""
    if isinstance(exc, HuntingError):
        return exc
    if isinstance(exc, duckdb_kql.KqlSyntaxError):
        return HuntingError(400, syntax_message(exc))
    if isinstance(exc, duckdb_kql.KqlSchemaError):
        hint = f" ({exc.hint})" if exc.hint else ""
        if exc.hint and "parameter" in exc.hint:
            return HuntingError(400, f"Query parameter '{exc.name}' has no value{hint}.")
        if exc.hint and exc.hint.startswith("unknown table"):
            return HuntingError(400, f"Failed to resolve table or column expression named '{exc.name}'")
        return HuntingError(400, column_message(exc.name, query))
    if isinstance(exc, duckdb_kql.KqlUnsupportedError):
        kind, _, name = (exc.construct or "").partition(":")
        if kind in ("function", "aggregate") and name and blame.count_call(query, name):
            return HuntingError(400, f"The query uses 'aggregate:count' with the argument '{name}' outside "
                                     "summarize; count() is an aggregation function, only summarize takes it.")
        where = f" at line [{exc.span.line},{exc.span.column + 1}]" if exc.span else ""
        hint = f" ({exc.hint})" if exc.hint else ""
        return HuntingError(400, f"The query uses '{exc.construct}'{where}, which the emulator's KQL engine "
                                 f"(duckdb-kql) does not support{hint}.")
    if isinstance(exc, duckdb_kql.KqlError):
        return HuntingError(400, f"Query could not be executed: {exc}")
    if isinstance(exc, duckdb.Error):
        text = str(exc)
        message = semantic_message(text, query)
        if message:
            return HuntingError(400, message)
        if isinstance(exc, (duckdb.BinderException, duckdb.ConversionException, duckdb.InvalidInputException,
                            duckdb.ParserException, duckdb.CatalogException, duckdb.NotImplementedException,
                            duckdb.OutOfRangeException, duckdb.TypeMismatchException)):
            first = text.splitlines()[0] if text else type(exc).__name__
            return HuntingError(400, f"Semantic error: {first}")
        if isinstance(exc, duckdb.OutOfMemoryException):
            return HuntingError(400, "Query stopped due to excessive resource consumption.")
    return HuntingError(400, MSG_UNKNOWN)


# --- engine -----------------------------------------------------------------------------------------------------

class HuntingEngine:
    """Hunting tables of one tenant on one DuckDB database."""

    def __init__(self, tenant_id: str, domain: str, rows: int, anchor: dt.datetime, alerts) -> None:
        """*alerts*: the seeded alerts (a list, or a callable returning it at build time)."""
        self.tenant_id = tenant_id
        self.domain = domain
        self.rows = rows
        self.anchor = anchor
        self._alerts = alerts
        self._con = None
        self._lock = threading.Lock()
        self.build_seconds = 0.0
        self._catalog = "memory"
        self._user_rows: list[tuple[str, list[dict]]] = []  # users' own rows (userdata.py), kept across builds

    def connection(self):
        with self._lock:
            if self._con is None:
                started = time.perf_counter()
                con = self._open()
                anchor = self.anchor.astimezone(UTC).replace(tzinfo=None)
                alerts = self._alerts() if callable(self._alerts) else self._alerts
                generator.build(con, self.tenant_id, self.domain, self.rows, anchor, alerts)
                for table, rows in self._user_rows:
                    generator.insert_rows(con, table, rows)
                self._catalog = con.sql("SELECT current_database()").fetchall()[0][0]
                self._con = con
                self.build_seconds = time.perf_counter() - started
            return self._con

    def _open(self):
        return duckdb_kql.connect(config={"memory_limit": MEMORY_LIMIT})

    def load_rows(self, table: str, rows: list[dict]) -> None:
        """Users' own rows (typed by userdata.normalize_rows) into *table*: now if the tables exist, and again
        whenever they are built."""
        with self._lock:
            self._user_rows.append((table, rows))
            if self._con is not None:
                generator.insert_rows(self._con, table, rows)

    def add_alerts(self, alerts: list[dict]) -> None:
        """New alerts (control plane) also land in AlertInfo / AlertEvidence once the tables exist."""
        with self._lock:
            if self._con is not None:
                generator.fill_alerts(self._con, alerts)

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


    def run(self, query: str, window: tuple[dt.datetime, dt.datetime] | None = None,
            row_limit: int = ROW_LIMIT, result_bytes: int = RESULT_BYTES) -> dict:
        """Run *query*; returns ``{"columns": [(name, ApiType, duck)], "rows": [dict], "stats": {...}}``."""
        started = time.perf_counter()
        cpu_started = time.process_time()
        con = self.connection()
        cur = con.cursor()
        try:
            if window is not None:
                lo = window[0].astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
                hi = window[1].astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
                for table, cols in TABLES.items():
                    if cols[0][0] != "Timestamp":
                        continue
                    cur.execute(f'CREATE OR REPLACE TEMP VIEW "{table}" AS '
                                f'SELECT * FROM "{self._catalog}".main."{table}" '
                                f"WHERE \"Timestamp\" >= TIMESTAMP '{lo}' AND \"Timestamp\" <= TIMESTAMP '{hi}'")
            executed = query
            try:
                # The received text stays what is logged and reported; only the executed text is normalised.
                executed = compat.normalise(query)
                try:
                    rel = stages.run(cur, executed)
                except duckdb_kql.KqlSyntaxError:
                    if executed == query:
                        raise
                    executed = query  # a rewrite that does not parse: run (and report on) the text as received
                    rel = stages.run(cur, executed)
                if rel is None:
                    raise HuntingError(400, "The query returned no tabular result.")
                names = list(rel.columns)
                duck_types = [str(t) for t in rel.types]
                fetched = rel.limit(row_limit).fetchall()
            except Exception as exc:  # noqa: BLE001 - every failure of a user query is a 400, never a 500
                raise classify_error(exc, executed) from exc
            columns = []
            for name, duck in zip(names, duck_types):
                columns.append((name, API_TYPE.get(kusto_type(duck), "String"), duck))
            converters = [_converter(d) for d in duck_types]
            rows, size = [], 0
            for raw in fetched:
                row = {}
                for (name, _, _), conv, value in zip(columns, converters, raw):
                    row[name] = conv(value)
                rows.append(row)
                size += len(json.dumps(row, default=str))
                if size > result_bytes:
                    raise HuntingError(400, MSG_SIZE)
        finally:
            cur.close()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        return {
            "columns": columns, "rows": rows,
            "stats": {
                "ExecutionTime": round(elapsed, 4),
                "resource_usage": {
                    "cache": {"memory": {"hits": 1, "misses": 0, "total": 1},
                              "disk": {"hits": 0, "misses": 0, "total": 0}},
                    "cpu": {"user": fmt_timespan(dt.timedelta(seconds=cpu)) or "00:00:00", "kernel": "00:00:00",
                            "total cpu": fmt_timespan(dt.timedelta(seconds=cpu)) or "00:00:00"},
                    "memory": {"peak_per_node": 1048576},
                },
                "dataset_statistics": [{"table_row_count": len(rows), "table_size": size}],
            },
        }
