"""OData query options of Microsoft Graph v1.0: ``$filter``, ``$select``, ``$top``, ``$skiptoken``, ``$count``,
``$orderby``, plus alternate-key path segments (``applications(uniqueName='x')``).

Reusable by any Graph route: build an :class:`ODataQuery` from the request arguments with
:func:`parse_query`, then call :meth:`ODataQuery.page` on a list of dicts.

Supported ``$filter`` grammar (directory subset)::

    expr    := term ('or' term)*
    term    := factor ('and' factor)*
    factor  := 'not' factor | '(' expr ')' | func '(' path ',' literal ')' | path op literal
               | path 'in' '(' literal (',' literal)* ')' | path '/any(' v ':' v op literal ')'
    op      := eq | ne | ge | le | gt | lt
    func    := startswith | endswith
    literal := 'string' ('' escapes a quote) | null | true | false | number | guid

``ne``, ``not``, ``endswith`` and ``$orderby`` together with ``$filter`` are "advanced queries": they need
``ConsistencyLevel: eventual`` and ``$count=true`` as on the real directory, else 400.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

from .errors import GraphError

DEFAULT_PAGE = 100
MAX_PAGE = 999

_TOKEN_RE = re.compile(r"""
    \s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)
    | (?P<num>-?\d+(?:\.\d+)?\b)
    | (?P<punct>[(),:])
    | (?P<word>[A-Za-z_$@][A-Za-z0-9_./@$]*)
    )""", re.VERBOSE)

_COMPARE = {"eq", "ne", "ge", "le", "gt", "lt"}
_ADVANCED_OPS = {"ne", "not", "endswith"}


def bad_filter(detail: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Invalid filter clause: {detail}")


def unsupported(prop: str, type_name: str) -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery",
                      f"Unsupported or invalid query filter clause specified for property '{prop}' "
                      f"of resource '{type_name[0].upper()}{type_name[1:]}'.")


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise bad_filter(f"Syntax error at position {pos} in '{text}'.")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            tokens.append(("lit", value[1:-1].replace("''", "'")))
        elif kind == "guid":
            tokens.append(("lit", value.lower()))
        elif kind == "num":
            tokens.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "word" and value.lower() in ("null", "true", "false"):
            tokens.append(("lit", {"null": None, "true": True, "false": False}[value.lower()]))
        else:
            tokens.append((kind, value))
    return tokens


def _get_path(obj: dict, path: str) -> Any:
    cur: Any = obj
    for part in path.split("/"):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _cmp(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()  # directory string comparisons are case-insensitive
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"ge": left >= right, "le": left <= right, "gt": left > right, "lt": left < right}[op]
    except TypeError:
        return False


class _Parser:
    def __init__(self, text: str, props: set[str], collections: set[str], type_name: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.props = {p.lower(): p for p in props}
        self.collections = {p.lower(): p for p in collections}
        self.type_name = type_name
        self.advanced_used: set[str] = set()

    def peek(self, offset: int = 0) -> tuple[str, Any] | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise bad_filter(f"Unexpected end of expression in '{self.text}'.")
        if kind and tok[0] != kind or value and str(tok[1]).lower() != value:
            raise bad_filter(f"Syntax error: expected {value or kind} but found '{tok[1]}' in '{self.text}'.")
        self.pos += 1
        return tok

    def is_word(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() == value

    def parse(self) -> Callable[[dict], bool]:
        if not self.tokens:
            raise bad_filter("The $filter expression is empty.")
        pred = self.expr()
        if self.peek() is not None:
            raise bad_filter(f"Syntax error at '{self.peek()[1]}' in '{self.text}'.")
        return pred

    def expr(self):
        left = self.term()
        while self.is_word("or"):
            self.take()
            right = self.term()
            left = (lambda a, b: lambda o: a(o) or b(o))(left, right)
        return left

    def term(self):
        left = self.factor()
        while self.is_word("and"):
            self.take()
            right = self.factor()
            left = (lambda a, b: lambda o: a(o) and b(o))(left, right)
        return left

    def prop(self, name: str) -> str:
        real = self.props.get(name.lower())
        if real is None:
            raise unsupported(name, self.type_name)
        return real

    def literal(self) -> Any:
        tok = self.take()
        if tok[0] != "lit":
            raise bad_filter(f"Expected a literal but found '{tok[1]}' in '{self.text}'.")
        return tok[1]

    def factor(self):
        tok = self.peek()
        if tok is None:
            raise bad_filter(f"Unexpected end of expression in '{self.text}'.")
        if tok[0] == "punct" and tok[1] == "(":
            self.take()
            inner = self.expr()
            self.take("punct", ")")
            return inner
        if tok[0] != "word":
            raise bad_filter(f"Syntax error at '{tok[1]}' in '{self.text}'.")
        word = tok[1]
        if word.lower() in _COMPARE | {"and", "or", "in", "has"}:
            raise bad_filter(f"Syntax error: unexpected '{word}' in '{self.text}'.")
        if word.lower() == "not":
            self.take()
            self.advanced_used.add("not")
            inner = self.factor()
            return lambda o: not inner(o)
        nxt = self.peek(1)
        if word.lower() in ("startswith", "endswith") and nxt == ("punct", "("):
            self.take()
            self.take("punct", "(")
            name = self.prop(self.take("word")[1])
            self.take("punct", ",")
            value = self.literal()
            self.take("punct", ")")
            if not isinstance(value, str):
                raise bad_filter(f"{word} needs a string literal.")
            if word.lower() == "endswith":
                self.advanced_used.add("endswith")
                return lambda o: isinstance(_get_path(o, name), str) and _get_path(o, name).lower().endswith(
                    value.lower())
            return lambda o: isinstance(_get_path(o, name), str) and _get_path(o, name).lower().startswith(
                value.lower())
        self.take()
        if word.lower().endswith("/any") and nxt == ("punct", "("):
            coll = self.collections.get(word[:-4].lower())
            if coll is None:
                raise unsupported(word[:-4], self.type_name)
            self.take("punct", "(")
            var = self.take("word")[1]
            self.take("punct", ":")
            ref = self.take("word")[1]
            sub = ref.split("/", 1)[1] if "/" in ref else None
            if ref.split("/", 1)[0] != var:
                raise bad_filter(f"Unknown range variable '{ref}' in '{self.text}'.")
            op = self.take("word")[1].lower()
            if op not in _COMPARE:
                raise bad_filter(f"Unknown operator '{op}' in '{self.text}'.")
            value = self.literal()
            self.take("punct", ")")

            def any_pred(o, coll=coll, sub=sub, op=op, value=value):
                items = _get_path(o, coll) or []
                return any(_cmp(op, _get_path(i, sub) if sub else i, value) for i in items)

            return any_pred
        name = self.prop(word)
        op_tok = self.take("word")
        op = op_tok[1].lower()
        if op == "in":
            self.take("punct", "(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.literal())
            self.take("punct", ")")
            return lambda o: any(_cmp("eq", _get_path(o, name), v) for v in values)
        if op not in _COMPARE:
            raise bad_filter(f"Unknown operator '{op_tok[1]}' in '{self.text}'.")
        if op in _ADVANCED_OPS:
            self.advanced_used.add(op)
        value = self.literal()
        return lambda o: _cmp(op, _get_path(o, name), value)


def compile_filter(text: str, props: set[str], type_name: str, collections: set[str] = frozenset(),
                   advanced: bool = False) -> Callable[[dict], bool]:
    """A predicate for ``$filter`` text; raises :class:`GraphError` 400 on bad or unsupported clauses."""
    parser = _Parser(text, props, set(collections), type_name)
    pred = parser.parse()
    if parser.advanced_used and not advanced:
        op = sorted(parser.advanced_used)[0]
        raise GraphError(400, "Request_UnsupportedQuery",
                         f"Operator '{op}' is not supported because the required parameters might be missing. "
                         "Try adding $count=true query parameter and ConsistencyLevel:eventual header. "
                         "Refer to https://aka.ms/graph-docs/advanced-queries for more information")
    return pred


_AND_RE = re.compile(r"\s+and\s+", re.IGNORECASE)


def split_and(text: str) -> list[str]:
    """The clauses of an ``and``-joined ``$filter`` (the MDE APIs' grammar), split only outside string literals:
    ``title eq 'Block and alert' and action eq 'Block'`` is two clauses (``''`` inside a literal is a quote)."""
    parts, start, i, quoted = [], 0, 0, False
    while i < len(text):
        if text[i] == "'":
            quoted = not quoted
        elif not quoted:
            match = _AND_RE.match(text, i)
            if match:
                parts.append(text[start:i])
                start = i = match.end()
                continue
        i += 1
    parts.append(text[start:])
    return parts


def _encode_skiptoken(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "f": fingerprint}, separators=(",", ":")).encode()
    return "RFNwdAIAAQAAA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_skiptoken(token: str, fingerprint: str) -> int:
    try:
        if not token.startswith("RFNwdAIAAQAAA"):
            raise ValueError
        body = token[len("RFNwdAIAAQAAA"):]
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        offset = int(data["o"])
        if data["f"] != fingerprint or offset < 0:
            raise ValueError
        return offset
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise GraphError(400, "Request_BadRequest", "'$skiptoken' is invalid.") from None


@dataclass
class ODataQuery:
    type_name: str
    filter_text: str | None = None
    predicate: Callable[[dict], bool] | None = None
    select: list[str] | None = None
    top: int | None = None
    skip_offset: int = 0
    count: bool = False
    orderby: tuple[str, bool] | None = None
    raw_args: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        return json.dumps([self.filter_text, self.select, self.top, self.orderby], separators=(",", ":"))

    def apply_filter(self, items: list[dict]) -> list[dict]:
        out = [i for i in items if self.predicate(i)] if self.predicate else list(items)
        if self.orderby:
            prop, desc = self.orderby
            out.sort(key=lambda o: (_get_path(o, prop) is None, str(_get_path(o, prop) or "").lower()),
                     reverse=desc)
        return out

    def page(self, items: list[dict], next_base: str) -> tuple[list[dict], str | None, int]:
        """Filtered page of ``items``; returns (page, absolute nextLink or None, total after filter)."""
        matched = self.apply_filter(items)
        size = self.top or DEFAULT_PAGE
        start = self.skip_offset
        chunk = matched[start:start + size]
        next_link = None
        if start + size < len(matched):
            args = {k: v for k, v in self.raw_args.items() if k.lower() != "$skiptoken"}
            args["$skiptoken"] = _encode_skiptoken(start + size, self.fingerprint())
            next_link = f"{next_base}?{urlencode(args, safe=chr(36) + chr(39) + ',()')}"
        return chunk, next_link, len(matched)

    def context_suffix(self) -> str:
        return f"({','.join(self.select)})" if self.select else ""


def parse_select(value: str | None, props: set[str], type_name: str) -> list[str] | None:
    if value is None:
        return None
    lower = {p.lower(): p for p in props}
    out = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        real = lower.get(part.lower())
        if real is None:
            raise GraphError(400, "BadRequest",
                             f"Parsing OData Select and Expand failed: Could not find a property named '{part}' "
                             f"on type 'microsoft.graph.{type_name}'.")
        if real not in out:
            out.append(real)
    return out or None


def project(obj: dict, select: list[str] | None) -> dict:
    if not select:
        return obj
    return {k: obj.get(k) for k in select}


def parse_query(args, headers, type_name: str, filter_props: set[str], select_props: set[str],
                collections: set[str] = frozenset(), orderby_props: set[str] = frozenset()) -> ODataQuery:
    """Parse the OData system query options of a list request (``args``: request.args)."""
    raw = {k: v for k, v in args.items(multi=False)} if hasattr(args, "items") else dict(args)
    known = {"$filter", "$select", "$top", "$skiptoken", "$count", "$orderby"}
    for key in raw:
        lk = key.lower()
        if lk in ("$expand", "$search", "$skip", "$format", "$apply"):
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"The query parameter '{key}' is not supported on this resource in the emulator.")
        if lk.startswith("$") and lk not in known:
            raise GraphError(400, "BadRequest", f"Query option '{key}' is not allowed. Make sure that it is "
                                                "supported and that it is a valid system query option.")
    norm = {k.lower(): v for k, v in raw.items()}
    q = ODataQuery(type_name=type_name, raw_args=raw)
    advanced = ((headers.get("ConsistencyLevel") or "").lower() == "eventual"
                and (norm.get("$count") or "").lower() == "true")
    q.count = advanced
    if "$count" in norm and norm["$count"].lower() not in ("true", "false"):
        raise GraphError(400, "BadRequest", f"Invalid value '{norm['$count']}' for $count; expected true or false.")
    if "$top" in norm:
        try:
            top = int(norm["$top"])
        except ValueError:
            raise GraphError(400, "BadRequest", f"Invalid value '{norm['$top']}' for $top query option "
                                                "found. The $top query option requires a non-negative "
                                                "integer value.") from None
        if top < 1 or top > MAX_PAGE:
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE} inclusive.")
        q.top = top
    q.select = parse_select(norm.get("$select"), select_props, type_name)
    if norm.get("$filter") is not None:
        q.filter_text = norm["$filter"]
        q.predicate = compile_filter(norm["$filter"], filter_props, type_name, collections, advanced)
    if norm.get("$orderby"):
        parts = norm["$orderby"].split()
        prop = {p.lower(): p for p in orderby_props}.get(parts[0].lower()) if parts else None
        if prop is None or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported sort property or direction in $orderby.")
        if q.predicate is not None and not advanced:
            raise GraphError(400, "Request_UnsupportedQuery",
                             "Sorting with a filter needs the ConsistencyLevel:eventual header and $count=true.")
        q.orderby = (prop, len(parts) == 2 and parts[1].lower() == "desc")
    if norm.get("$skiptoken"):
        q.skip_offset = _decode_skiptoken(norm["$skiptoken"], q.fingerprint())
    return q


# --- path segments with alternate keys -------------------------------------------------------------

def split_path(path: str) -> list[str]:
    """Split a path on '/' outside quoted key values."""
    parts, cur, quoted = [], [], False
    for ch in path:
        if ch == "'":
            quoted = not quoted
        if ch == "/" and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p != ""]


_SEGMENT_RE = re.compile(r"^(?P<name>[^(]+)(?:\((?P<key>.*)\))?$", re.DOTALL)
_KEY_RE = re.compile(r"^\s*(?:(?P<prop>[A-Za-z]+)\s*=\s*)?(?:'(?P<quoted>(?:[^']|'')*)'|(?P<bare>[^'=\s]+))\s*$",
                     re.DOTALL)


def parse_segment(segment: str) -> tuple[str, tuple[str | None, str] | None]:
    """``"applications(appId='x')"`` -> ``("applications", ("appId", "x"))``; a bare key gives ``(None, v)``."""
    m = _SEGMENT_RE.match(segment)
    if not m:
        raise GraphError(400, "BadRequest", f"Bad request segment '{segment}'.")
    name = m.group("name")
    key_text = m.group("key")
    if key_text is None:
        if "(" in segment or ")" in segment:
            raise GraphError(400, "BadRequest", f"Bad key segment '{segment}'.")
        return name, None
    km = _KEY_RE.match(key_text)
    if not km:
        raise GraphError(400, "BadRequest", f"Bad key segment '{segment}'.")
    value = km.group("quoted")
    value = value.replace("''", "'") if value is not None else km.group("bare")
    return name, (km.group("prop"), value)
