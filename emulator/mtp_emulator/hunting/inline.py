"""Tabular ``let`` functions and views, expanded in place (duckdb-kql takes scalar ``let`` functions only).

* ``let V = view () { let a = ...; <tabular expression> };`` -> ``let a = ...; let V = (<tabular expression>);``:
  a view with no parameters is its body; the body's own ``let`` statements move in front of it, which changes
  nothing as long as no other statement of the query declares the same names (checked; otherwise no rewrite).
* ``let F = (p: type [= default], ...) { <tabular expression> };`` and calls ``F(x, ...)`` -> the declaration is
  removed and every call becomes ``(<the body with each parameter reference replaced by (x)>)``; a missing argument
  takes the declared default. A tabular parameter (``T: (*)``) is replaced the same way, by the
  parenthesised tabular argument. Only bodies without ``let`` statements of their own are expanded.

Both work on duckdb-kql's parse tree (names are name tokens, never text that merely looks alike) and one function
per pass; :func:`expand` runs the passes to a fixed point. Anything else is left as sent (a clean 400 from
duckdb-kql naming the construct).
"""

from __future__ import annotations

import duckdb_kql

MAX_PASSES = 32


def _rule(node) -> str:
    return type(node).__name__.removesuffix("Context")


def _kids(node) -> list:
    return [c for c in (node.children or []) if not hasattr(c, "symbol")]


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        if hasattr(n, "symbol"):
            continue
        yield n
        stack.extend(reversed(n.children or []))


def _span(node) -> tuple[int, int]:
    return node.start.start, node.stop.stop + 1


def expand(query: str) -> str:
    """*query* with its tabular let functions and views expanded; unchanged when there is none."""
    if "{" not in query:
        return query  # no function or view body: nothing to parse for
    for _ in range(MAX_PASSES):  # views: one per pass (rare); functions: all in one pass
        try:
            tree = duckdb_kql.parse(query).tree
        except duckdb_kql.KqlError:
            return query
        rewritten = _view_pass(query, tree)
        if rewritten is None:
            return _expand_functions(query, tree)
        query = rewritten
    return query


def _declared(tree) -> list[str]:
    names = []
    for n in _walk(tree):
        if _rule(n) in ("LetVariableDeclaration", "LetFunctionDeclaration", "LetViewDeclaration"):
            names.append(n.children[1].getText())
    return names


def _let_declarations(tree):
    """(statement, declaration) of each top-level let statement."""
    query_ctx = next((c for c in _kids(tree) if _rule(c) == "Query"), None)
    for statement in _kids(query_ctx) if query_ctx is not None else []:
        let = _kids(statement)[0] if _kids(statement) else None
        if let is not None and _rule(let) == "LetStatement" and _kids(let):
            yield statement, _kids(let)[0]


def _view_pass(query: str, tree) -> str | None:
    declared = _declared(tree)
    for _, decl in _let_declarations(tree):
        if _rule(decl) == "LetViewDeclaration":
            out = _expand_view(query, decl, declared)
            if out is not None:
                return out
    return None


def _body(decl):
    return next((c for c in _kids(decl) if _rule(c) == "LetFunctionBody"), None)


def _body_parts(body):
    """(inner let statements, the final expression) of a function body."""
    lets = [c for c in _kids(body) if _rule(c) == "LetFunctionBodyStatement"]
    expr = next((c for c in _kids(body) if _rule(c) == "Expression"), None)
    return lets, expr


def _is_tabular(decl) -> bool:
    """A body whose value is a pipeline (``T | ...``), a union, or a parenthesised pipeline."""
    _, expr = _body_parts(_body(decl))
    if expr is None:
        return False
    for n in _walk(expr):
        if _rule(n) in ("PipedOperator", "UnionOperator"):
            return True
    return False


def _expand_view(query: str, decl, declared: list[str]) -> str | None:
    if any(_rule(c) == "LetFunctionParameterList" for c in _kids(decl)):
        return None
    lets, expr = _body_parts(_body(decl))
    if expr is None:
        return None
    inner = [s.children[0].children[0].children[1].getText() for s in lets]
    if any(declared.count(n) != 1 for n in inner):
        return None  # a name declared twice: hoisting could change what it refers to
    name = decl.children[1].getText()
    hoisted = "".join(query[slice(*_span(s))] + ";\n" for s in lets)
    start, stop = _span(decl)
    return query[:start] + hoisted + f"let {name} = ({query[slice(*_span(expr))]})" + query[stop:]


def _parameters(query: str, decl) -> list[tuple[str, str | None]] | None:
    plist = next((c for c in _kids(decl) if _rule(c) == "LetFunctionParameterList"), None)
    params = []
    for p in _kids(plist) if plist is not None else []:
        if _rule(p) not in ("ScalarParameter", "TabularParameter"):
            return None
        kids = _kids(p)
        default = next((c for c in kids if _rule(c) == "ScalarParameterDefault"), None)
        default_text = query[slice(*_span(_kids(default)[0]))] if default is not None else None
        params.append((kids[0].getText(), default_text))
    return params


def _expand_functions(query: str, tree) -> str:
    """Every call of an expandable tabular function replaced by its body, the declarations removed (one parse)."""
    functions, removed = {}, []
    for statement, decl in _let_declarations(tree):
        if _rule(decl) != "LetFunctionDeclaration" or not _is_tabular(decl):
            continue
        lets, expr = _body_parts(_body(decl))
        params = _parameters(query, decl)
        if lets or expr is None or params is None:
            continue
        functions[decl.children[1].getText()] = (params, _span(expr))
        start, stop = _span(statement)
        rest = query[stop:]
        if rest.lstrip().startswith(";"):
            stop += len(rest) - len(rest.lstrip()) + 1
        removed.append((start, stop))
    if not functions:
        return query
    calls, refs = [], []
    for n in _walk(tree):
        if _rule(n) == "NamedFunctionCallExpression" and n.children[0].getText() in functions:
            args = [_span(c) for c in _kids(n) if _rule(c) == "ArgumentExpression"]
            calls.append((*_span(n), n.children[0].getText(), args))
        elif _rule(n) == "SimpleNameReference":
            refs.append((*_span(n), n.getText()))
    try:
        return _Expander(query, functions, calls, refs).top(removed)
    except _CannotExpand:
        return query


class _CannotExpand(Exception):
    pass


class _Expander:
    def __init__(self, query, functions, calls, refs) -> None:
        self.query, self.functions, self.calls, self.refs = query, functions, calls, refs

    def top(self, removed) -> str:
        edits = [(a, b, "") for a, b in removed]
        edits += [(a, b, self._call(name, args, {}, 0)) for a, b, name, args in self.calls
                  if not any(ra <= a and b <= rb for ra, rb in removed)]
        return self._apply(0, len(self.query), edits)

    def _span_text(self, a: int, b: int, env: dict, depth: int) -> str:
        edits = [(ca, cb, self._call(name, args, env, depth)) for ca, cb, name, args in self.calls
                 if a <= ca and cb <= b]
        edits += [(ra, rb, env[name]) for ra, rb, name in self.refs if a <= ra and rb <= b and name in env]
        return self._apply(a, b, edits)

    def _call(self, name: str, args: list, env: dict, depth: int) -> str:
        if depth > MAX_PASSES:
            raise _CannotExpand(name)
        params, body = self.functions[name]
        if len(args) > len(params):
            raise _CannotExpand(name)
        values = {}
        for k, (pname, default) in enumerate(params):
            if k < len(args):
                values[pname] = "(" + self._span_text(*args[k], env, depth + 1) + ")"
            elif default is not None:
                values[pname] = "(" + default + ")"
            else:
                raise _CannotExpand(name)
        return "(" + self._span_text(*body, values, depth + 1) + ")"

    def _apply(self, a: int, b: int, edits: list) -> str:
        kept = []
        for e in sorted(edits, key=lambda e: (e[0], -(e[1] - e[0]))):
            if kept and e[0] < kept[-1][1]:
                continue  # inside an edit already made (its text carries the inner expansion)
            kept.append(e)
        out, pos = [], a
        for start, stop, text in kept:
            out.append(self.query[pos:start])
            out.append(text)
            pos = stop
        out.append(self.query[pos:b])
        return "".join(out)
