"""Tabular operators the emulator executes itself, between duckdb-kql runs of the rest of the pipeline.

duckdb-kql refuses ``distinct *``, ``project-reorder``, ``top-nested``, ``partition``, ``make-series``,
``evaluate bag_unpack`` and ``evaluate pivot``. Each needs the *columns* of its input, which only exist once the pipeline before it has run,
so :func:`run` splits the query at the first such operator on the top-level pipe of a statement (the query or a
``let`` body): the part before it runs through duckdb-kql on the query's cursor, the operator runs here as SQL over
that result (a TEMP view ``__mtp_stage_<n>``, visible to that cursor only), and the statement's text is rewritten to
start from the operator's output; then the next one, until duckdb-kql can run the rest. Every value is computed by
duckdb-kql (aggregates, keys, sub-queries) or by plain SQL over its output, so the meaning is the operator's own.

A form of these operators that this does not cover (``with others``, ``partition`` over a full sub-query, pivot
aggregates other than the listed ones, ...) raises ``KqlUnsupportedError`` naming it: a clean 400.
"""

from __future__ import annotations

import itertools
import re

import duckdb
import duckdb_kql
from duckdb_kql.errors import KqlUnsupportedError

STAGE = "__mtp_stage_"
MAX_PARTITIONS = 256
MAX_STAGES = 16
_COUNTER = itertools.count(1)


def _rule(node) -> str:
    return type(node).__name__.removesuffix("Context")


def _kids(node) -> list:
    return [c for c in (node.children or []) if not hasattr(c, "symbol")]


def _collapse(node):
    while not hasattr(node, "symbol") and node.children and len(node.children) == 1 \
            and not hasattr(node.children[0], "symbol"):
        node = node.children[0]
    return node


def _text(query: str, node) -> str:
    return query[node.start.start:node.stop.stop + 1]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _evaluate_name(op) -> str | None:
    call = next((c for c in _kids(op) if _rule(c) == "FunctionCallExpression"), None)
    if call is None:
        return None
    m = re.match(r"\s*([A-Za-z_]\w*)\s*\(", call.getText())
    return m.group(1).lower() if m else None


def _handler(op):
    """The handler for a piped operator node, or None when duckdb-kql runs it."""
    kind = _rule(op)
    if kind == "DistinctOperator" and any(_rule(c) == "DistinctOperatorStarTarget" for c in _kids(op)):
        return _distinct_star
    if kind == "ProjectReorderOperator":
        return _project_reorder
    if kind == "TopNestedOperator":
        return _top_nested
    if kind == "PartitionOperator":
        return _partition
    if kind == "MakeSeriesOperator":
        return _make_series
    if kind == "EvaluateOperator" and _evaluate_name(op) in ("bag_unpack", "pivot"):
        return _bag_unpack if _evaluate_name(op) == "bag_unpack" else _pivot
    return None


def _statements(tree):
    query = next((c for c in _kids(tree) if _rule(c) == "Query"), None)
    return [c for c in _kids(query)] if query is not None else []


def _pipe_of(statement):
    """(pipe expression, let name or None) of a statement whose value is a tabular pipeline."""
    node = _kids(statement)[0] if _kids(statement) else None
    if node is None:
        return None, None
    if _rule(node) == "LetStatement":
        decl = _kids(node)[0] if _kids(node) else None
        if decl is None or _rule(decl) != "LetVariableDeclaration" or len(decl.children) < 4:
            return None, None
        expr, name = decl.children[3], decl.children[1].getText()
    elif _rule(node) == "QueryStatement":
        expr, name = _kids(node)[0], None
    else:
        return None, None
    pipe = _collapse(expr)
    while _rule(pipe) != "PipeExpression" and len(_kids(pipe)) == 1:
        pipe = _kids(pipe)[0]
    return (pipe, name) if _rule(pipe) == "PipeExpression" else (None, None)


def _first_staged(query: str):
    tree = duckdb_kql.parse(query).tree
    for statement in _statements(tree):
        pipe, _ = _pipe_of(statement)
        if pipe is None:
            continue
        for piped in (c for c in _kids(pipe) if _rule(c) == "PipedOperator"):
            after = next((c for c in _kids(piped) if _rule(c) == "AfterPipeOperator"), None)
            op = _kids(after)[0] if after is not None and _kids(after) else None
            handler = _handler(op) if op is not None else None
            if handler is not None:
                return statement, pipe, piped, op, handler
    return None


#: A query without any of these words has no engine-executed operator: it needs no extra parse.
_CANDIDATE = re.compile(r"distinct\s*\*|project-reorder|top-nested|make-series|\bpartition\b|\bevaluate\b",
                        re.I)


def run(cur, query: str):
    """Run *query* on *cur*; the relation of its result (duckdb-kql's, or the last stage's)."""
    for n in range(MAX_STAGES + 1):
        if not _CANDIDATE.search(query):
            return duckdb_kql.kql(cur, query, allow_write=False)
        try:
            found = _first_staged(query)
        except duckdb_kql.KqlError:
            found = None  # a syntax error: duckdb-kql reports it below
        if found is None:
            return duckdb_kql.kql(cur, query, allow_write=False)
        if n == MAX_STAGES:
            raise KqlUnsupportedError("stages", hint=f"more than {MAX_STAGES} engine-executed operators")
        statement, pipe, piped, op, handler = found
        lets = query[:statement.start.start]
        head = query[pipe.start.start:piped.start.start]
        source = _materialize(cur, duckdb_kql.kql(cur, lets + head, allow_write=False))
        result = _materialize(cur, handler(cur, source, op, query, lets))
        query = query[:pipe.start.start] + result + " " + query[piped.stop.stop + 1:]
    raise AssertionError("unreachable")  # pragma: no cover


def _materialize(cur, rel) -> str:
    """A TEMP view of *rel* on *cur* (registered when it reads rows held in this process); its name."""
    name = f"{STAGE}{next(_COUNTER)}"
    try:
        rel.create_view(name, replace=True)
    except duckdb.Error:
        cur.register(name, rel)
    return name


def _columns(cur, view: str) -> list[tuple[str, str]]:
    rel = cur.sql(f"SELECT * FROM {_ident(view)} LIMIT 0")
    return list(zip(rel.columns, (str(t) for t in rel.types)))


# --- distinct * and project-reorder -------------------------------------------------------------------------

def _distinct_star(cur, view, op, query, lets):
    return cur.sql(f"SELECT DISTINCT * FROM {_ident(view)}")


def _project_reorder(cur, view, op, query, lets):
    names = [c for c, _ in _columns(cur, view)]
    ordered: list[str] = []
    for part in (c for c in _kids(op) if _rule(c) == "ProjectReorderExpression"):
        ref = _kids(part)[0]
        pattern = ref.getText()
        order = part.getText()[len(pattern):].strip().lower()
        if "*" in pattern:
            rx = re.compile("^" + ".*".join(map(re.escape, pattern.split("*"))) + "$")
            hits = [c for c in names if rx.match(c) and c not in ordered]
        else:
            if pattern not in names:
                raise duckdb_kql.KqlSchemaError(pattern)
            hits = [pattern] if pattern not in ordered else []
        if order in ("asc", "granny-asc"):
            hits.sort(key=str.lower if order == "granny-asc" else None)
        elif order in ("desc", "granny-desc"):
            hits.sort(key=str.lower if order == "granny-desc" else None, reverse=True)
        ordered.extend(hits)
    ordered.extend(c for c in names if c not in ordered)
    return cur.sql(f"SELECT {', '.join(map(_ident, ordered))} FROM {_ident(view)}")


# --- top-nested ---------------------------------------------------------------------------------------------

def _top_nested_levels(op, query):
    levels = []
    for part in (c for c in _kids(op) if _rule(c) == "TopNestedOperatorPart"):
        kids = part.children
        words = [k.getText().lower() for k in kids]
        if any(_rule(k) == "TopNestedOperatorWithOthersClause" for k in _kids(part)):
            raise KqlUnsupportedError("top-nested with others", hint="the 'with others' row is not emulated")
        of_at, by_at = words.index("of"), words.index("by")
        count = _text(query, kids[of_at - 1]) if of_at > 1 else None
        of = kids[of_at + 1]
        ordered = kids[by_at + 1]
        agg_named = _kids(ordered)[0]
        direction = _kids(ordered)[1].getText().lower() if len(_kids(ordered)) > 1 else ""
        of_kids = _kids(of)
        if len(of_kids) == 2:  # Name = expr
            name, expr = of_kids[0].getText().rstrip("="), _text(query, of_kids[1])
        else:
            expr = _text(query, of)
            if not re.fullmatch(r"[A-Za-z_]\w*", expr.strip()):
                raise KqlUnsupportedError("top-nested of an unnamed expression",
                                          hint="name it: top-nested of Name = <expression>")
            name = expr.strip()
        agg_kids = _kids(agg_named)
        if len(agg_kids) == 2:
            agg_name, agg = agg_kids[0].getText().rstrip("="), _text(query, agg_kids[1])
        else:
            agg_name, agg = f"aggregated_{name}", _text(query, agg_named)
        levels.append({"count": count, "name": name, "expr": expr, "agg_name": agg_name, "agg": agg,
                       "desc": direction != "asc"})
    return levels


def _top_nested(cur, view, op, query, lets):
    levels = _top_nested_levels(op, query)
    keys = ", ".join(f"{_kql_ident(lv['name'])} = {lv['expr']}" for lv in levels)
    keyed = _materialize(cur, duckdb_kql.kql(cur, f"{lets}{_kql_ident(view)} | extend {keys}", allow_write=False))
    selected = None
    for i, lv in enumerate(levels):
        by = ", ".join(_kql_ident(x["name"]) for x in levels[:i + 1])
        agg = _materialize(cur, duckdb_kql.kql(
            cur, f"{lets}{_kql_ident(keyed)} | summarize {_kql_ident(lv['agg_name'])} = {lv['agg']} by {by}",
            allow_write=False))
        parents = [_ident(x["name"]) for x in levels[:i]]
        limit = ""
        if lv["count"]:
            n = duckdb_kql.kql(cur, f"{lets}print __n = tolong({lv['count']})", allow_write=False).fetchall()[0][0]
            limit = f"WHERE __rank <= {int(n)}"
        order = f"{_ident(lv['agg_name'])} {'DESC' if lv['desc'] else 'ASC'} NULLS LAST"
        partition = f"PARTITION BY {', '.join(parents)} " if parents else ""
        ranked = (f"SELECT * FROM (SELECT *, row_number() OVER ({partition}ORDER BY {order}) AS __rank "
                  f"FROM {_ident(agg)}) {limit}")
        if selected is None:
            sql = f"SELECT * EXCLUDE (__rank) FROM ({ranked})"
        else:
            on = " AND ".join(f"s.{p} IS NOT DISTINCT FROM r.{p}" for p in parents)
            sql = (f"SELECT s.*, r.{_ident(lv['name'])}, r.{_ident(lv['agg_name'])} FROM {_ident(selected)} s "
                   f"JOIN ({ranked}) r ON {on}")
        selected = _materialize(cur, cur.sql(sql))
    return cur.sql(f"SELECT * FROM {_ident(selected)}")


def _kql_ident(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_]\w*", name) else "['" + name.replace("'", "\\'") + "']"


# --- partition ----------------------------------------------------------------------------------------------

_TOP = re.compile(r"\s*(?:top\s+(\d+)\s+by\s+([A-Za-z_]\w*)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?"
                  r"|(?:take|limit)\s+(\d+))\s*\Z", re.I)


def _partition(cur, view, op, query, lets):
    key_node = next((c for c in _kids(op) if _rule(c) == "EntityExpression"), None)
    body = next((c for c in _kids(op) if _rule(c) == "PartitionOperatorSubExpressionBody"), None)
    if key_node is None or body is None:
        raise KqlUnsupportedError("partition", hint="only 'partition by Column ( operators )' is emulated")
    key = key_node.getText()
    if key not in [c for c, _ in _columns(cur, view)]:
        raise duckdb_kql.KqlSchemaError(key)
    inner = _text(query, body).strip()[1:-1]
    m = _TOP.match(inner)
    if m:  # top N by c / take N per partition: a window, exactly
        if m.group(5):
            n, order = int(m.group(5)), "(SELECT NULL)"
        else:
            desc = (m.group(3) or "desc").lower() == "desc"
            nulls = (m.group(4) or ("last" if desc else "first")).upper()
            n, order = int(m.group(1)), f"{_ident(m.group(2))} {'DESC' if desc else 'ASC'} NULLS {nulls}"
        return cur.sql(f"SELECT * EXCLUDE (__rank) FROM (SELECT *, row_number() OVER (PARTITION BY {_ident(key)} "
                       f"ORDER BY {order}) AS __rank FROM {_ident(view)}) WHERE __rank <= {n}")
    values = [r[0] for r in cur.sql(f"SELECT DISTINCT {_ident(key)} FROM {_ident(view)}").fetchall()]
    if len(values) > MAX_PARTITIONS:
        raise KqlUnsupportedError("partition", hint=f"more than {MAX_PARTITIONS} partitions")
    result = None
    for value in values:
        part = _materialize(cur, cur.sql(f"SELECT * FROM {_ident(view)} WHERE {_ident(key)} IS NOT DISTINCT FROM "
                                         f"{_sql_literal(value)}"))
        rel = duckdb_kql.kql(cur, f"{lets}{_kql_ident(part)} | {inner}", allow_write=False)
        result = rel if result is None else result.union(rel)
    return result if result is not None else cur.sql(f"SELECT * FROM {_ident(view)} WHERE FALSE")


def _sql_literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


# --- evaluate bag_unpack / pivot ----------------------------------------------------------------------------

def _call_args(op, query) -> list[str]:
    call = next(c for c in _kids(op) if _rule(c) == "FunctionCallExpression")
    named = _collapse(call)
    args = [c for c in _kids(named) if _rule(c) == "ArgumentExpression"]
    return [_text(query, a).strip() for a in args]


_JSON_TYPES = {"VARCHAR": "VARCHAR", "BIGINT": "BIGINT", "UBIGINT": "BIGINT", "DOUBLE": "DOUBLE",
               "BOOLEAN": "BOOLEAN"}


def _bag_unpack(cur, view, op, query, lets):
    args = _call_args(op, query)
    if not args or len(args) > 2:
        raise KqlUnsupportedError("evaluate bag_unpack", hint="only bag_unpack(column [, prefix]) is emulated")
    column = args[0]
    cols = [c for c, _ in _columns(cur, view)]
    if column not in cols:
        raise duckdb_kql.KqlSchemaError(column)
    prefix = ""
    if len(args) == 2:
        prefix = duckdb_kql.kql(cur, f"{lets}print __p = tostring({args[1]})", allow_write=False).fetchall()[0][0]
    bag = f"TRY_CAST(to_json({_ident(column)}) AS JSON)"
    src = _ident(view)
    keys = cur.sql(f"SELECT k, list_distinct(list(json_type({bag}, '$.\"' || replace(k, '\"', '\\\"') || '\"'))) "
                   f"FROM (SELECT *, unnest(json_keys({bag})) AS k FROM {src} WHERE json_type({bag}) = 'OBJECT') "
                   "GROUP BY k ORDER BY k").fetchall()
    rest = [c for c in cols if c != column]
    select = [_ident(c) for c in rest]
    for key, kinds in keys:
        out = prefix + key
        if out in rest:
            raise KqlUnsupportedError("evaluate bag_unpack", hint=f"the property '{key}' collides with a column")
        path = "'$.\"" + key.replace("'", "''").replace('"', '\\"') + "\"'"
        kinds = {k for k in kinds if k not in (None, "NULL")}
        if kinds == {"VARCHAR"}:
            expr = f"json_extract_string({bag}, {path})"
        elif len(kinds) == 1 and next(iter(kinds)) in _JSON_TYPES:
            expr = f"CAST(json_extract({bag}, {path}) AS {_JSON_TYPES[next(iter(kinds))]})"
        else:
            expr = f"json_extract({bag}, {path})"
        select.append(f"{expr} AS {_ident(out)}")
    return cur.sql(f"SELECT {', '.join(select) or 'NULL AS _'} FROM {src}")


_PIVOT_AGGREGATES = {"count": "count(*)", "sum": "sum({0})", "min": "min({0})", "max": "max({0})",
                     "avg": "avg({0})", "dcount": "count(DISTINCT {0})", "any": "any_value({0})",
                     "take_any": "any_value({0})"}
_AGG_CALL = re.compile(r"([A-Za-z_]\w*)\s*\(\s*([A-Za-z_]\w*)?\s*\)\Z")


def _pivot(cur, view, op, query, lets):
    args = _call_args(op, query)
    cols = [c for c, _ in _columns(cur, view)]
    if not args or args[0] not in cols:
        raise duckdb_kql.KqlSchemaError(args[0] if args else "pivot")
    pivot_col = args[0]
    agg_sql, agg_col = "count(*)", None
    if len(args) > 1:
        m = _AGG_CALL.match(args[1])
        if not m or m.group(1).lower() not in _PIVOT_AGGREGATES or (m.group(1).lower() != "count") != bool(m.group(2)):
            raise KqlUnsupportedError("evaluate pivot", hint=f"aggregate '{args[1]}' is not emulated; use one of "
                                                             + ", ".join(sorted(_PIVOT_AGGREGATES)))
        agg_col = m.group(2)
        if agg_col and agg_col not in cols:
            raise duckdb_kql.KqlSchemaError(agg_col)
        agg_sql = _PIVOT_AGGREGATES[m.group(1).lower()].format(_ident(agg_col) if agg_col else "")
    group = args[2:] or [c for c in cols if c not in (pivot_col, agg_col)]
    for g in group:
        if g not in cols:
            raise duckdb_kql.KqlSchemaError(g)
    src = f"(SELECT *, coalesce(CAST({_ident(pivot_col)} AS VARCHAR), '') AS __pivot FROM {_ident(view)})"
    by = f" GROUP BY {', '.join(map(_ident, group))}" if group else ""
    return cur.sql(f"PIVOT {src} ON __pivot USING {agg_sql}{by}")


# --- make-series ----------------------------------------------------------------------------------------------

def _make_series_parts(op, query):
    aggs, axis, bounds, by = [], None, {}, []
    for part in _kids(op):
        kind = _rule(part)
        if kind == "MakeSeriesOperatorAggregation":
            named, *rest = _kids(part)
            default = _text(query, _kids(rest[0])[0]) if rest else "0"
            aggs.append((_text(query, named), default))
        elif kind == "MakeSeriesOperatorOnClause":
            axis = _text(query, _kids(part)[0])
        elif kind == "MakeSeriesOperatorFromToStepClause":
            words = [c.getText().lower() for c in part.children]
            for word in ("from", "to", "step"):
                if word in words:
                    bounds[word] = _text(query, part.children[words.index(word) + 1])
        elif kind == "MakeSeriesOperatorByClause":
            by = [_text(query, c) for c in _kids(part)]
        else:
            raise KqlUnsupportedError("make-series", hint=f"the '{part.getText()[:30]}' clause is not emulated")
    if not aggs or axis is None or "step" not in bounds:
        raise KqlUnsupportedError("make-series", hint="expects aggregates, 'on' and 'step'")
    return aggs, axis, bounds, by


def _make_series(cur, view, op, query, lets):
    """``make-series Agg [default = d], ... on Axis [from a] [to b] step s [by ...]``: per group, each aggregate
    as an array over the bins a, a+s, ... (< b), ``d`` (default 0) where a bin has no rows; the axis as the array
    of bin starts. Without ``from``/``to`` the bins span the data (Kusto's default). Datetime axes only."""
    aggs, axis, bounds, by = _make_series_parts(op, query)
    src = _kql_ident(view)
    lo = bounds.get("from", f"toscalar({src} | summarize min({axis}))")
    hi = bounds.get("to", f"toscalar({src} | summarize max({axis}))")
    defaults = ", ".join(f"__d{k} = {d}" for k, (_, d) in enumerate(aggs))
    start, end, step, *values = duckdb_kql.kql(
        cur, f"{lets}print __s = todatetime({lo}), __e = todatetime({hi}), __t = totimespan({bounds['step']}), "
             f"{defaults}", allow_write=False).fetchall()[0]
    if start is None or end is None or step is None or step.total_seconds() <= 0:
        raise KqlUnsupportedError("make-series", hint="'from', 'to' and 'step' must give datetimes and a timespan")
    if "to" not in bounds:  # the bins up to and including the one holding the last value
        end = start + ((end - start) // step + 1) * step
    keys = ", ".join(by)
    if axis not in [c for c, _ in _columns(cur, view)]:
        raise KqlUnsupportedError("make-series", hint="the 'on' axis must be a datetime column of the input")
    micros = int(step.total_seconds() * 1_000_000)
    first, last = f"TIMESTAMP '{start.isoformat(sep=' ')}'", f"TIMESTAMP '{end.isoformat(sep=' ')}'"
    binned = _materialize(cur, cur.sql(
        f"SELECT *, {first} + to_microseconds((epoch_us({_ident(axis)}) - epoch_us({first})) // {micros} * {micros})"
        f" AS __bin FROM {_ident(view)} WHERE {_ident(axis)} >= {first} AND {_ident(axis)} < {last}"))
    summary = _materialize(cur, duckdb_kql.kql(
        cur, f"{lets}{_kql_ident(binned)} | summarize {', '.join(a for a, _ in aggs)} by __bin"
             f"{', ' + keys if keys else ''}", allow_write=False))
    cols = [c for c, _ in _columns(cur, summary)]
    key_cols = cols[1:1 + len(by)]
    agg_cols = cols[1 + len(by):]
    bins = (f"SELECT unnest(generate_series({first}, {last} - INTERVAL 1 MICROSECOND, "
            f"INTERVAL {micros} MICROSECOND)) AS b")
    groups = f"SELECT DISTINCT {', '.join(map(_ident, key_cols))} FROM {_ident(summary)}" if key_cols else "SELECT 1"
    on = " AND ".join([f"a.__bin = bins.b"] + [f"a.{_ident(c)} IS NOT DISTINCT FROM g.{_ident(c)}"
                                                  for c in key_cols])
    series = ", ".join(f"list(coalesce(a.{_ident(c)}, {_sql_literal(values[k])}) ORDER BY bins.b) AS {_ident(c)}"
                       for k, c in enumerate(agg_cols))
    axis_name = axis if re.fullmatch(r"[A-Za-z_]\w*", axis) else "Timestamp"
    select = [f"g.{_ident(c)}" for c in key_cols] + [series, f"list(bins.b ORDER BY bins.b) AS {_ident(axis_name)}"]
    group_by = f" GROUP BY {', '.join(f'g.{_ident(c)}' for c in key_cols)}" if key_cols else ""
    return cur.sql(f"SELECT {', '.join(select)} FROM ({groups}) g CROSS JOIN ({bins}) bins "
                   f"LEFT JOIN {_ident(summary)} a ON {on}{group_by}")
