"""Every query of the shared hunting corpus through the real hunting endpoint (HTTPS), classified.

The requirement: of the queries that are one valid KQL statement, at least 95 % run and return a schema; none
gets a 500; those that fail get a 400 with a parse or semantic message. The corpus is the copy committed in
the repository (``tests/integration/targets/corpus_bytes/files/``): the test fails, never skips, when it is
missing. Run with ``-s`` to see the pass rate and every failure, grouped by cause:

* ``duckdb-kql: unsupported <construct>`` - the engine refuses the construct (a gap in duckdb-kql);
* ``duckdb-kql: DuckDB rejected the generated SQL`` - duckdb-kql translated it, DuckDB refused the SQL (a gap);
* ``unresolved name`` - a table, column or function the query names does not exist (ours to add, unless the
  query itself is wrong);
* ``syntax`` - the text does not parse.
"""

from __future__ import annotations

import collections
import json
import pathlib
import re

import duckdb_kql

from test_hunting_api import MTP, get_token

CORPUS = (pathlib.Path(__file__).resolve().parents[2] / "tests" / "integration" / "targets" / "corpus_bytes"
          / "files" / "m365d-hunting-queries.jsonl")
REQUIRED_RATE = 0.95

_CONSTRUCT = re.compile(r"The query uses '([^']+)'")


def _classify(status: int, body: dict) -> str:
    if status == 200:
        return "ran" if isinstance(body.get("Schema"), list) else "200-without-schema"
    if status == 400:
        message = body.get("error", {}).get("message", "")
        if message.startswith("Query could not be parsed"):
            return "400-parse"
        if "does not support" in message:
            return "400-unsupported"
        return "400-semantic"
    return str(status)


def _cause(message: str) -> str:
    m = _CONSTRUCT.search(message)
    if m:
        construct = m.group(1)
        # `aggregate:x` / `function:x` / `let function:x` name the function; the kind is the cause.
        kind, _, name = construct.partition(":")
        if kind in ("function", "aggregate") and name:
            return f"duckdb-kql: unsupported {kind} {name}()"
        return f"duckdb-kql: unsupported {construct}"
    if message.startswith("Semantic error:"):
        return "duckdb-kql: DuckDB rejected the generated SQL"
    if "Failed to resolve" in message:
        return "unresolved name"
    if message.startswith("Query could not be parsed"):
        return "syntax"
    return "other"


def test_every_corpus_query_runs_or_fails_cleanly(emulator):
    assert CORPUS.is_file(), f"the committed corpus is missing: {CORPUS}"
    queries = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(queries) >= 200
    emulator.reset()
    emulator.set_config(hunting_rows=200, quota_scale=1000)
    token = get_token(emulator, MTP)
    results = []
    try:
        with emulator.session() as s:
            for index, item in enumerate(queries):
                resp = s.post(emulator.url("/api/advancedhunting/run"), json={"Query": item["query"]},
                              headers={"Authorization": f"Bearer {token}"}, timeout=180)
                body = resp.json()
                valid = not duckdb_kql.validate(item["query"])
                results.append((index, item["source"], valid, _classify(resp.status_code, body),
                                body.get("error", {}).get("message", "")))
    finally:
        emulator.reset()

    overall = collections.Counter(kind for _, _, _, kind, _ in results)
    valid = [r for r in results if r[2]]
    ran = sum(1 for r in valid if r[3] == "ran")
    rate = ran / len(valid)
    print(f"\ncorpus: {len(results)} queries; all: {dict(overall)}")
    print(f"one valid KQL statement: {len(valid)}; ran {ran}/{len(valid)} = {rate:.1%} "
          f"(required {REQUIRED_RATE:.0%})")
    by_cause: dict[str, list] = collections.defaultdict(list)
    for index, source, _, kind, message in valid:
        if kind != "ran":
            by_cause[_cause(message)].append((index, source, message))
    print("failures of valid queries, by cause:")
    for cause, items in sorted(by_cause.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"  {len(items):3d}  {cause}")
        for index, source, message in items:
            print(f"         #{index} {source.split(': ', 1)[-1][:70]}: {message[:150]}")

    assert not [r for r in results if r[3].startswith("5")], "no query may answer 500"
    assert not [r for r in results if r[3] not in ("ran", "400-parse", "400-unsupported", "400-semantic")], \
        "every query must answer 200 with a schema or 400, never 5xx"
    # Every failure says why, in a parse or semantic message.
    assert all(r[4] for r in results if r[3] != "ran")
    # A table the emulator lacks would be ours to fix: none may remain.
    missing_tables = [r for r in valid if "Failed to resolve table" in r[4]]
    assert not missing_tables, missing_tables
    assert rate >= REQUIRED_RATE, f"{ran}/{len(valid)} = {rate:.1%} of the valid statements ran"
