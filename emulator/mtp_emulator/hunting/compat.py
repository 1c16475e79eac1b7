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

   The rewrites run to a fixed point (an alias inside ``extract_json``'s arguments); a result that no longer
   parses, or any surprise in the tree, falls back to the text as received.

2. :func:`install_functions` adds scalar functions duckdb-kql has no mapping for to its function registry
   (``duckdb_kql.translate.functions.SCALAR_FUNCTIONS``, exported by that module). Only names absent from the
   registry are added, so a later duckdb-kql that maps one itself wins; if the registry is ever gone, nothing is
   added and those functions stay a clean 400.
"""

from __future__ import annotations

import functools
import re

import duckdb_kql

#: Deprecated alias -> current name, as Kusto's reference documents them ("Deprecated aliases: ...").
ALIASES = {
    "makeset": "make_set",
    "makelist": "make_list",
    "makebag": "make_bag",
    "parsejson": "parse_json",
    "extractjson": "extract_json",
    "argmax": "arg_max",
    "argmin": "arg_min",
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
        text = query
        for _ in range(4):  # rewrites nest (an alias inside extract_json's arguments): run to a fixed point
            rewritten = _normalise(text)
            if rewritten == text:
                break
            text = rewritten
        if text != query and duckdb_kql.validate(text):
            return query  # a rewrite that does not parse is a bug here: run what was sent
        return text
    except duckdb_kql.KqlError:
        return query  # a syntax error: the engine reports it on the text as received
    except Exception:  # noqa: BLE001 - a tree shape this did not expect: run the query unchanged
        return query


def _normalise(query: str) -> str:
    tree = duckdb_kql.parse(query).tree
    if tree is None:
        return query
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
        return query
    out, pos = [], 0
    for start, stop, text in sorted(_outermost(edits)):
        out.append(query[pos:start])
        out.append(text)
        pos = stop
    out.append(query[pos:])
    return "".join(out)


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
    # set_difference(a, b): the distinct elements of a that are not in b, in their order in a.
    "set_difference": ("to_json(list_filter(CAST(to_json({0}) AS JSON[]), lambda x, i: "
                       "NOT list_contains(CAST(to_json({1}) AS JSON[]), x) "
                       "AND list_position(CAST(to_json({0}) AS JSON[]), x) = i))", (2,)),
}


def install_functions() -> list[str]:
    """Add :data:`EXTRA_FUNCTIONS` to duckdb-kql's registry where absent; returns the names added."""
    try:
        from duckdb_kql.translate import functions as registry
        spec_type = registry.FunctionSpec
        table = registry.SCALAR_FUNCTIONS
    except (ImportError, AttributeError):
        return []
    added = []
    for name, (template, arities) in EXTRA_FUNCTIONS.items():
        if name in table:
            continue
        table[name] = spec_type(name, "template", template, arities, (), "mtp_emulator compat")
        added.append(name)
    return added
