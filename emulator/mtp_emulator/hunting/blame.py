"""Which part of a query an error is about, found on duckdb-kql's parse tree (for the service's error texts).

Kusto names the operator a missing column occurs in (``'where' operator: Failed to resolve scalar expression
named 'X'``); DuckDB's binder only names the column. :func:`operator_of` finds the first reference to that name
in the query and the tabular operator around it. :func:`count_call` recognises ``count(<name>)`` so a refusal of it
names the function rather than its argument.
"""

from __future__ import annotations

import functools
import re

import duckdb_kql

_OPERATOR_WORD = re.compile(r"[A-Za-z][A-Za-z-]*")


def _rule(node) -> str:
    return type(node).__name__


@functools.lru_cache(maxsize=256)
def _tree(query: str):
    try:
        return duckdb_kql.parse(query).tree
    except Exception:  # noqa: BLE001 - a query that does not parse blames nothing
        return None


def _references(tree, name: str):
    stack = [tree]
    while stack:
        node = stack.pop()
        if hasattr(node, "symbol"):
            continue
        if _rule(node) == "SimpleNameReferenceContext" and node.getText() == name:
            yield node
        stack.extend(reversed(node.children or []))


def operator_of(query: str, name: str) -> str | None:
    """The keyword of the tabular operator (``where``, ``extend``, ``summarize`` ...) where *name* is first
    referenced, or None when it cannot be told."""
    tree = _tree(query) if isinstance(query, str) else None
    if tree is None:
        return None
    for ref in _references(tree, name):
        node = ref.parentCtx
        while node is not None:
            if _rule(node) == "AfterPipeOperatorContext" and node.children:
                m = _OPERATOR_WORD.fullmatch(node.start.text or "")
                return m.group(0).lower() if m else None
            node = node.parentCtx
    return None


def count_call(query: str, name: str) -> bool:
    """Whether *query* calls ``count(<name>)`` (duckdb-kql then reports the argument as the construct)."""
    return isinstance(query, str) and re.search(rf"\bcount\s*\(\s*{re.escape(name)}\s*\)", query) is not None
