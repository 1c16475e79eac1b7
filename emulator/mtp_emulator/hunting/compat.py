"""KQL that the real service accepts and duckdb-kql does not: the emulator's compatibility layer.

Two mechanisms, both narrow and each tested (``tests/test_hunting_compat.py``):

1. :func:`normalise` rewrites the text of a query before duckdb-kql runs it. It works on duckdb-kql's own parse
   tree (:func:`duckdb_kql.parse`), so only a function *name* token or a whole call/operator node is ever
   replaced: string literals, comments and names that merely look alike are never touched. The query as received
   is what the API logs and reports; only the executed text changes. Rewrites:

   * Kusto's documented deprecated aliases -> their current name (``makeset`` -> ``make_set``, ...; see
     :data:`ALIASES`). Skipped when the query declares the name itself (``let makeset = ...``).
   * ``extract_json(path, source, typeof(T))`` -> ``extract_json(path, source)`` wrapped in ``toT(...)``
     (``typeof(string)``: no wrapper, that is the 2-argument result already).
   * ``mv-expand f(c)`` with no name, where ``f`` has a single argument that is a bare column ``c`` ->
     ``mv-expand c = f(c)``: Kusto names such an expansion after the one column it reads (measured by
     duckdb-kql's authors, ``duckdb_kql/lower.py``), so naming it explicitly keeps the meaning.
   * ``x in (L)`` where ``L`` is ``let``-bound to ``... | summarize make_list(c)`` (one aggregate, no ``by``) ->
     ``x in (toscalar(L))``: Kusto flattens the array that one row holds; duckdb-kql compared against the array.
   * ``d between (lo .. span)`` with a timespan literal ``span`` and a ``lo`` that is a datetime by construction
     (a datetime literal, ``ago``/``now``/``startofday``/..., or a ``let`` name bound to one) ->
     ``d between (lo .. ((lo) + span))``, Kusto's documented reading of that form.
   * ``(T | ...) | op`` -> ``T | ... | op`` (a parenthesised pipeline at the head of a pipe: the pipe is
     left-associative, so the parentheses change nothing).
   * ``count(expr)`` inside ``summarize`` -> ``countif(isnotnull(expr))`` (named ``count_<column>`` when unnamed).
   * ``join ... on $left.a == $right.b and $left.c == $right.d`` -> the same keys comma-separated.
   * ``bin(d, Ntick)`` with N dividing 10 -> ``bin(d, 1microsecond)`` (stored times are whole microseconds).
   * ``case``/``iff`` mixing a string with a dynamic property (``x.Host``) -> that arm read with ``tostring()``.
   * tabular ``let`` functions and parameterless views, expanded in place first (:mod:`.inline`).

   Operators duckdb-kql refuses but the engine runs itself (``distinct *``, ``top-nested``, ``partition``, ...)
   are not rewrites: see :mod:`.stages`.

   The rewrites run to a fixed point (an alias inside ``extract_json``'s arguments); any surprise in the tree
   falls back to the text as received, and so does a result that no longer parses (the engine retries the text
   as received on a syntax error).

2. :func:`install_functions` adds scalar functions duckdb-kql has no mapping for (and the argument counts its
   rows lack: :data:`ARITY_FUNCTIONS`, :data:`ARITY_AGGREGATES`) to its function registry
   (``duckdb_kql.translate.functions.SCALAR_FUNCTIONS``, exported by that module). Only names absent from the
   registry are added, so a later duckdb-kql that maps one itself wins; if the registry is ever gone, nothing is
   added and those functions stay a clean 400.
"""

from __future__ import annotations

import functools
import re

import duckdb_kql

from . import inline

#: Deprecated alias -> current name, as Kusto's reference documents them ("Deprecated aliases: ...").
ALIASES = {
    "makeset": "make_set",
    "makelist": "make_list",
    "makebag": "make_bag",
    "parsejson": "parse_json",
    "extractjson": "extract_json",
    "argmax": "arg_max",
    "argmin": "arg_min",
    "extractall": "extract_all",
}

#: ``typeof(T)`` in ``extract_json`` -> the conversion that gives its result that type (None: already a string).
_EXTRACT_TYPES = {
    "string": None, "long": "tolong", "int": "toint", "real": "toreal", "double": "toreal",
    "bool": "tobool", "boolean": "tobool", "datetime": "todatetime", "date": "todatetime",
    "timespan": "totimespan", "time": "totimespan", "guid": "toguid", "uniqueid": "toguid",
    "dynamic": "parse_json",
}
_TYPEOF = re.compile(r"typeof\s*\(\s*(\w+)\s*\)\Z", re.I)


def _leaf(node) -> bool:
    """Whether *node* is a token (ANTLR terminal) rather than a rule context."""
    return hasattr(node, "symbol")


def _is(node, rule: str) -> bool:
    """Whether *node* is a context of the grammar rule class *rule* (by name: the generated parser module is
    duckdb-kql's private business, its tree is public - ``ParseResult.tree``)."""
    return type(node).__name__ == rule


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        if _leaf(n):
            continue
        yield n
        if n.children:
            stack.extend(reversed(n.children))


def _span(ctx) -> tuple[int, int]:
    return ctx.start.start, ctx.stop.stop + 1


def _declared_names(tree) -> set[str]:
    """Names the query binds itself with ``let`` (they shadow any alias)."""
    names = set()
    for n in _walk(tree):
        if _is(n, "LetStatementContext"):
            for decl in n.children or []:
                # every let form: 'let' Name '=' ...
                kids = [] if _leaf(decl) else decl.children or []
                if len(kids) > 1 and not _leaf(kids[1]):
                    names.add(kids[1].getText().lower())
    return names


def _call_parts(ctx):
    """A NamedFunctionCallExpression -> (name ctx, [argument ctx])."""
    name = ctx.children[0]
    args = [c for c in ctx.children if _is(c, "ArgumentExpressionContext")]
    return name, args


def _bare_name(ctx) -> str | None:
    """The column name when *ctx* (an argument or expression) is nothing but a simple name reference."""
    leaf = ctx
    while not _leaf(leaf):
        kids = leaf.children or []
        if len(kids) != 1:
            return None
        if _is(leaf, "SimpleNameReferenceContext"):
            return leaf.getText()
        leaf = kids[0]
    return None


def _single_call(ctx):
    """The NamedFunctionCallExpression that *ctx* consists of exactly, or None."""
    node = ctx
    while not _leaf(node):
        if _is(node, "NamedFunctionCallExpressionContext"):
            return node
        kids = node.children or []
        if len(kids) != 1:
            return None
        node = kids[0]
    return None


def _collapse(ctx):
    """Follow single-child links down from *ctx*: the node that actually says something."""
    node = ctx
    while not _leaf(node) and node.children and len(node.children) == 1 \
            and not _leaf(node.children[0]):
        node = node.children[0]
    return node


def _let_values(tree) -> dict[str, object]:
    """``let Name = <expression>`` -> the expression context, for names bound exactly once that way."""
    seen: dict[str, list] = {}
    for n in _walk(tree):
        if _is(n, "LetVariableDeclarationContext") and len(n.children or []) >= 4:
            seen.setdefault(n.children[1].getText().lower(), []).append(n.children[3])
    return {k: v[0] for k, v in seen.items() if len(v) == 1}


_DATETIME_FUNCTIONS = {"ago", "now", "datetime", "todatetime", "make_datetime", "datetime_add", "startofday",
                       "startofweek", "startofmonth", "startofyear", "endofday", "endofweek", "endofmonth",
                       "endofyear", "unixtime_seconds_todatetime", "unixtime_milliseconds_todatetime"}
_MAKE_LIST = {"make_list", "make_set", "makelist", "makeset"}


def _is_datetime(ctx, lets, depth: int = 0) -> bool:
    """Whether expression *ctx* is a datetime by construction: a datetime literal, a call to a function returning
    one, ``(d)``, ``d +/- <timespan literal>``, or a name ``let``-bound to such an expression."""
    if depth > 8:
        return False
    node = _collapse(ctx)
    if _is(node, "DateTimeLiteralExpressionContext"):
        return True
    if _is(node, "NamedFunctionCallExpressionContext"):
        return _call_parts(node)[0].getText().lower() in _DATETIME_FUNCTIONS
    if _is(node, "ParenthesizedExpressionContext") and len(node.children) == 3:
        return _is_datetime(node.children[1], lets, depth + 1)
    if _is(node, "AdditiveExpressionContext"):
        left, *ops = node.children
        for op in ops:  # each: '+' or '-' then its operand
            if not _is(op, "AdditiveOperationContext") or len(op.children) != 2 \
                    or not _is(_collapse(op.children[1]), "TimeSpanLiteralExpressionContext"):
                return False
        return _is_datetime(left, lets, depth + 1)
    name = _bare_name(ctx)
    if name is not None and name.lower() in lets:
        return _is_datetime(lets[name.lower()], lets, depth + 1)
    return False


def _single_list_summary(ctx) -> bool:
    """Whether tabular expression *ctx* ends in ``summarize make_list(...)`` / ``make_set(...)`` with one
    aggregate and no ``by``: one row holding one array."""
    pipe = _collapse(ctx)
    if not _is(pipe, "PipeExpressionContext"):
        return False
    piped = [c for c in pipe.children if _is(c, "PipedOperatorContext")]
    if not piped:
        return False
    op = _collapse(piped[-1].children[-1])
    if not _is(op, "SummarizeOperatorContext"):
        return False
    parts = [c for c in op.children if not _leaf(c)]
    if len(parts) != 1 or not _is(parts[0], "NamedExpressionContext"):
        return False
    call = _single_call(parts[0].children[-1]) if parts[0].children else None
    return call is not None and _call_parts(call)[0].getText().lower() in _MAKE_LIST


def normalise(query: str) -> str:
    """The text to execute for *query*: identical unless a rewrite above applies. Never raises on bad input."""
    if not query or not isinstance(query, str):
        return query
    return _normalise_cached(query)


@functools.lru_cache(maxsize=512)
def _normalise_cached(query: str) -> str:
    try:
        text = inline.expand(query)  # tabular let functions and views, expanded in place
        for _ in range(4):  # rewrites nest (an alias inside extract_json's arguments): run to a fixed point
            text, nested = _normalise(text)
            if not nested:
                break
        # A rewrite that does not parse is a bug here: the engine then runs the text as received
        # (HuntingEngine.run), so this costs no extra parse of every query.
        return text
    except duckdb_kql.KqlError:
        return query  # a syntax error: the engine reports it on the text as received
    except Exception:  # noqa: BLE001 - a tree shape this did not expect: run the query unchanged
        return query


def _normalise(query: str) -> tuple[str, bool]:
    """One pass of the rewrites: (text, whether an edit nested inside another was left for the next pass)."""
    tree = duckdb_kql.parse(query).tree
    if tree is None:
        return query, False
    declared = _declared_names(tree)
    lets = _let_values(tree)
    edits: list[tuple[int, int, str]] = []
    for n in _walk(tree):
        if _is(n, "NamedFunctionCallExpressionContext"):
            name_ctx, args = _call_parts(n)
            raw = name_ctx.getText()
            name = raw.lower()
            if name in declared:
                continue
            current = ALIASES.get(name, name)
            if current in _BINS and len(args) == 2:
                edits.extend(_tick_edits(args[1]))
            if current in _CONDITIONALS:
                edits.extend(_conditional_edits(query, current, args, declared))
            if current == "extract_json" and len(args) == 3:
                m = _TYPEOF.match(args[2].getText())
                if m and m.group(1).lower() in _EXTRACT_TYPES:
                    start, stop = _span(n)
                    body = (f"extract_json({query[slice(*_span(args[0]))]}, "
                            f"{query[slice(*_span(args[1]))]})")
                    wrap = _EXTRACT_TYPES[m.group(1).lower()]
                    edits.append((start, stop, f"{wrap}({body})" if wrap else body))
                    continue
            if current != name:
                start, stop = _span(name_ctx)
                edits.append((start, stop, current))
        elif _is(n, "MvexpandOperatorExpressionContext"):
            named = n.children[0] if n.children else None
            if not _is(named, "NamedExpressionContext") or len(named.children) != 1:
                continue  # already named (`x = ...`), or a shape this does not handle
            call = _single_call(named)
            if call is None:
                continue
            _, args = _call_parts(call)
            if len(args) != 1:
                continue
            column = _bare_name(args[0])
            if column is None or column.lower() in declared:
                continue
            start, _ = _span(named)
            edits.append((start, start, f"{column} = "))
        elif _is(n, "ListEqualityExpressionContext"):
            # x in (L), L a let-bound `... | summarize make_list(c)`: Kusto flattens the array the one row holds
            # ("nested arrays are flattened"); toscalar(L) is that array, which duckdb-kql's `in` flattens.
            operands = [c for c in n.children if not _leaf(c)]
            if len(operands) != 1:
                continue
            ref = _bare_name(operands[0])
            if ref is None or ref.lower() not in lets or not _single_list_summary(lets[ref.lower()]):
                continue
            start, stop = _span(operands[0])
            edits.append((start, stop, f"toscalar({query[start:stop]})"))
        elif _is(n, "BetweenEqualityExpressionContext"):
            # d between (lo .. span), lo a datetime and span a timespan literal: Kusto reads it as lo .. lo + span.
            bounds = [c for c in n.children if not _leaf(c)]
            if len(bounds) != 2 or not _is(_collapse(bounds[1]), "TimeSpanLiteralExpressionContext"):
                continue
            if not _is_datetime(bounds[0], lets):
                continue
            lo = query[slice(*_span(bounds[0]))]
            start, stop = _span(bounds[1])
            edits.append((start, stop, f"(({lo}) + {query[start:stop]})"))
        elif _is(n, "CountExpressionContext"):
            edits.extend(_count_expr_edits(query, n))
        elif _is(n, "JoinOperatorOnClauseContext"):
            edits.extend(_join_and_edits(n))
        elif _is(n, "PipeExpressionContext"):
            # (T | ...) | op -> T | ... | op: the pipe is left-associative, so the parentheses say nothing.
            if not any(_is(c, "PipedOperatorContext") for c in n.children):
                continue
            head = _collapse(n.children[0])
            if not _is(head, "ParenthesizedExpressionContext") or len(head.children) != 3:
                continue
            open_tok, close_tok = head.children[0], head.children[2]
            edits.append((open_tok.symbol.start, open_tok.symbol.stop + 1, " "))
            edits.append((close_tok.symbol.start, close_tok.symbol.stop + 1, " "))
    if not edits:
        return query, False
    kept = _outermost(edits)
    out, pos = [], 0
    for start, stop, text in sorted(kept):
        out.append(query[pos:start])
        out.append(text)
        pos = stop
    out.append(query[pos:])
    return "".join(out), len(kept) < len(set(edits))


_CONDITIONALS = {"case", "iff", "iif"}
_PATH = re.compile(r".*[\w\])]\s*(?:\.\s*[A-Za-z_]\w*|\[\s*(?:'[^']*'|\"[^\"]*\")\s*\])\s*\Z", re.S)
_STRING_LITERAL = re.compile(r"""\s*@?(?:'[^']*'|"[^"]*")\s*\Z""")


@functools.lru_cache(maxsize=1)
def _string_columns() -> frozenset:
    """Column names that are ``string`` in every table having them."""
    from .tables import TABLES

    kinds: dict[str, set] = {}
    for cols in TABLES.values():
        for name, kind in cols:
            kinds.setdefault(name, set()).add(kind)
    return frozenset(n for n, k in kinds.items() if k == {"string"})


def _conditional_edits(query: str, name: str, args, declared) -> list:
    """``case``/``iff`` whose results mix a string (a literal, or a column that is a string in the schema) with a
    property of a dynamic (``x.Host``, ``x["k"]``): Kusto gives the string type, so the dynamic arm is read as a
    string (``tostring(...)``); duckdb-kql would cast the string to JSON instead, which fails on plain text."""
    values = (args[1:-1:2] + args[-1:]) if name == "case" else args[1:]
    texts = [query[slice(*_span(a))] for a in values]
    stringy = any(_STRING_LITERAL.match(t) or (_bare_name(a) in _string_columns() and
                                               (_bare_name(a) or "").lower() not in declared)
                  for a, t in zip(values, texts))
    if not stringy:
        return []
    return [(*_span(a), f"tostring({t})") for a, t in zip(values, texts) if _PATH.match(t)]


_BINS = {"bin", "floor"}
_TICKS = re.compile(r"(\d+)ticks?\Z", re.I)


def _tick_edits(arg) -> list:
    """``bin(d, Ntick)`` with N dividing 10: every stored time is a whole microsecond (10 ticks), so rounding it
    down to N ticks leaves it unchanged, exactly as rounding to 1 microsecond does; the literal alone is a
    duckdb-kql refusal (it keeps no sub-microsecond time). Other tick counts stay as sent."""
    node = _collapse(arg)
    if not _is(node, "TimeSpanLiteralExpressionContext"):
        return []
    m = _TICKS.match(node.getText())
    if not m or int(m.group(1)) == 0 or 10 % int(m.group(1)):
        return []
    start, stop = _span(node)
    return [(start, stop, "1microsecond")]


def _count_expr_edits(query: str, ctx) -> list:
    """``count(expr)`` -> ``countif(isnotnull(expr))``: the rows where *expr* is not null. An unnamed one keeps
    Kusto's column name ``count_<column>`` when *expr* is a bare column."""
    arg = next((c for c in ctx.children or [] if _is(c, "NamedExpressionContext")), None)
    if arg is None or not _inside(ctx, "SummarizeOperatorContext"):
        return []  # outside summarize an aggregate is an error either way: the engine names count() in it
    start, stop = _span(ctx)
    body = f"countif(isnotnull({query[slice(*_span(arg))]}))"
    column = _bare_name(arg)
    named = ctx.parentCtx
    while named is not None and not _is(named, "NamedExpressionContext"):
        if len([c for c in named.children or [] if not _leaf(c)]) != 1:
            named = None
            break
        named = named.parentCtx
    if column and named is not None and len(named.children or []) == 1 and _is(named.parentCtx,
                                                                                 "SummarizeOperatorContext"):
        body = f"count_{column} = {body}"
    return [(start, stop, body)]


def _inside(ctx, rule: str) -> bool:
    node = ctx.parentCtx
    while node is not None:
        if _is(node, rule):
            return True
        node = node.parentCtx
    return False


def _equi_side(ctx) -> bool:
    node = _collapse(ctx)
    return _is(node, "EqualityExpressionContext") and "==" in node.getText()


def _join_and_edits(ctx) -> list:
    """``join ... on $left.a == $right.b and $left.c == $right.d``: Kusto reads the ``and`` of equalities as the
    comma of the key list; duckdb-kql takes only the comma."""
    edits = []
    for expr in [c for c in ctx.children or [] if not _leaf(c)]:
        node = _collapse(expr)
        if not _is(node, "LogicalAndExpressionContext"):
            continue
        first, *ops = node.children
        if not ops or not _equi_side(first) or not all(
                _is(op, "LogicalAndOperationContext") and len(op.children) == 2 and _equi_side(op.children[1])
                for op in ops):
            continue
        for op in ops:
            tok = op.children[0]
            edits.append((tok.symbol.start, tok.symbol.stop + 1, ","))
    return edits


def _outermost(edits):
    """Drop an edit nested inside another replaced span (the outer one already carries the inner text)."""
    kept = []
    for e in sorted(edits, key=lambda e: (e[0], -(e[1] - e[0]))):
        if kept and e[0] < kept[-1][1] and e[1] <= kept[-1][1] and e != kept[-1]:
            continue
        kept.append(e)
    return kept


# --- functions duckdb-kql has no mapping for -----------------------------------------------------------------

#: KQL name -> (DuckDB SQL template, accepted argument counts). Pure SQL: nothing to create on a connection.
EXTRA_FUNCTIONS = {
    # extract_json(jsonPath, dataSource): the element at a JSONPath as a string; null when absent or not JSON.
    "extract_json": ("json_extract_string(TRY_CAST({1} AS JSON), CAST({0} AS VARCHAR))", (2,)),
    # url_encode(url): .NET HttpUtility.UrlEncode, as Kusto documents it - letters, digits and -_.!*() kept,
    # a space as '+', everything else as lower-case %xx escapes of its UTF-8 bytes.
    "url_encode": ("array_to_string(list_transform(string_split(CAST({0} AS VARCHAR), ''), lambda ch: "
                   "CASE WHEN regexp_full_match(ch, '[A-Za-z0-9._!*()-]') THEN ch WHEN ch = ' ' THEN '+' "
                   "WHEN ch = '~' THEN '%7e' ELSE lower(url_encode(ch)) END), '')", (1,)),
    # url_decode(url): %xx escapes (and '+') decoded.
    "url_decode": ("url_decode(CAST({0} AS VARCHAR))", (1,)),
    # set_difference(a, b): the distinct elements of a that are not in b, in their order in a.
    "set_difference": ("to_json(list_filter(CAST(to_json({0}) AS JSON[]), lambda x, i: "
                       "NOT list_contains(CAST(to_json({1}) AS JSON[]), x) "
                       "AND list_position(CAST(to_json({0}) AS JSON[]), x) = i))", (2,)),
}


#: KQL name -> {argument count: DuckDB SQL template}: functions whose arities duckdb-kql's own row lacks (its row
#: still serves the counts it knows). ``{0}``... are the rendered arguments.
ARITY_FUNCTIONS = {
    # split(source, delimiter, requestedIndex): a one-element array holding that substring, or [] when absent.
    "split": {3: "(CASE WHEN {2} >= 0 AND {2} < len(str_split({0}, {1})) THEN [str_split({0}, {1})[{2} + 1]] "
                 "ELSE []::VARCHAR[] END)"},
    # indexof(source, lookup, start_index): zero-based, -1 when not found; a negative start counts from the end.
    "indexof": {3: "(CASE WHEN position({1} IN substr({0}, 1 + greatest(0, CASE WHEN {2} < 0 THEN length({0}) + {2} "
                   "ELSE {2} END))) = 0 OR (CASE WHEN {2} < 0 THEN length({0}) + {2} ELSE {2} END) > length({0}) "
                   "THEN -1 ELSE position({1} IN substr({0}, 1 + greatest(0, CASE WHEN {2} < 0 THEN length({0}) + {2} "
                   "ELSE {2} END))) - 1 + greatest(0, CASE WHEN {2} < 0 THEN length({0}) + {2} ELSE {2} END) END)"},
    # new_guid(): a random guid per call.
    "new_guid": {0: "gen_random_uuid()"},
    # range(start, stop[, step]): the dynamic array start, start+step, ... up to stop inclusive.
    "range": {2: "generate_series({0}, {1})", 3: "generate_series({0}, {1}, {2})"},
    # prev/next(column[, offset[, default]]) over the serialized row order.
    "prev": {1: "lag({0}) OVER ()", 2: "lag({0}, {1}) OVER ()", 3: "lag({0}, {1}, {2}) OVER ()"},
    "next": {1: "lead({0}) OVER ()", 2: "lead({0}, {1}) OVER ()", 3: "lead({0}, {1}, {2}) OVER ()"},
}

#: Aggregates the same way: count(expr) counts the rows where expr is not null; make_list/make_set(x, N) keep at
#: most N elements (Kusto's MaxSize).
ARITY_AGGREGATES = {
    "count": {1: "count({0})"},
    "make_list": {2: "coalesce((list({0}) FILTER (WHERE {0} IS NOT NULL))[1:{1}], [])"},
    "make_set": {2: "to_json(coalesce(list_distinct(flatten(list("
                    "CASE WHEN json_type(TRY_CAST({0} AS JSON)) = 'ARRAY' "
                    "THEN CAST(to_json({0}) AS JSON[]) ELSE [to_json({0})] END"
                    ") FILTER (WHERE {0} IS NOT NULL)))[1:{1}], []))"},
}


def _by_arity(base_cls, existing, name: str, templates: dict):
    """A registry row that renders *templates* by argument count and defers the rest to *existing*."""
    class _ByArity(base_cls):
        def render(self, args):  # noqa: D401 - duckdb-kql's interface
            if len(args) in templates:
                return templates[len(args)].format(*args)
            if existing is not None:
                return existing.render(args)
            raise ValueError(f"{name}() takes {tuple(sorted(templates))} argument(s), got {len(args)}")

    arities = tuple(sorted(set(templates) | set(getattr(existing, "arities", ()) or ())))
    if existing is None:
        return _ByArity(name, "template", "", arities, (), "mtp_emulator compat")
    fields = {f: getattr(existing, f) for f in existing.__dataclass_fields__}
    fields["arities"] = arities
    return _ByArity(**fields)


def install_functions() -> list[str]:
    """Add :data:`EXTRA_FUNCTIONS` to duckdb-kql's registry where absent, and the argument counts of
    :data:`ARITY_FUNCTIONS` / :data:`ARITY_AGGREGATES` its rows lack; returns the names added or widened."""
    try:
        from duckdb_kql.translate import functions as registry
        spec_type = registry.FunctionSpec
        table = registry.SCALAR_FUNCTIONS
        aggregates = registry.AGGREGATE_FUNCTIONS
        agg_type = registry.AggregateSpec
    except (ImportError, AttributeError):
        return []
    added = []
    for name, (template, arities) in EXTRA_FUNCTIONS.items():
        if name in table:
            continue
        table[name] = spec_type(name, "template", template, arities, (), "mtp_emulator compat")
        added.append(name)
    for registry_table, base, extra in ((table, spec_type, ARITY_FUNCTIONS), (aggregates, agg_type, ARITY_AGGREGATES)):
        for name, templates in extra.items():
            existing = registry_table.get(name)
            if existing is not None and (not existing.arities or set(templates) <= set(existing.arities)) \
                    and name not in ("make_list", "make_set"):
                continue  # duckdb-kql serves these counts itself
            if getattr(existing, "_mtp_compat", False):
                continue
            spec = _by_arity(base, existing, name, templates) if base is spec_type else \
                _by_arity_aggregate(base, existing, name, templates)
            spec.__dict__["_mtp_compat"] = True
            registry_table[name] = spec
            added.append(name)
    return added


def _by_arity_aggregate(base_cls, existing, name: str, templates: dict):
    class _AggByArity(base_cls):
        def render(self, args):
            if len(args) in templates:
                return templates[len(args)].format(*args)
            return existing.render(args)

    fields = {f: getattr(existing, f) for f in existing.__dataclass_fields__}
    fields["arities"] = tuple(sorted(set(templates) | set(existing.arities or ())))
    return _AggByArity(**fields)
