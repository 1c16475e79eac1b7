#!/usr/bin/env python
"""Write each corpus query to its own file, byte for byte, for query_file.

Usage: explode.py CORPUS_JSONL OUTDIR SAMPLE_SIZE. Writes OUTDIR/q-NNN.kql (UTF-8, no newline translation) and
prints JSON {"count": N, "sample": [indices]}: a deterministic sample that favours the awkward queries (CRLF line
ends, non-ASCII characters, no trailing newline, the longest), topped up with evenly spaced others.
"""
import json
import os
import sys


def main(corpus, outdir, size):
    size = int(size)
    with open(corpus, encoding="utf-8") as handle:
        queries = [json.loads(line)["query"] for line in handle if line.strip()]
    os.makedirs(outdir, exist_ok=True)
    for i, query in enumerate(queries):
        with open(os.path.join(outdir, "q-%03d.kql" % i), "wb") as handle:
            handle.write(query.encode("utf-8"))
    picks = []

    def pick(pred, limit):
        for i, query in enumerate(queries):
            if len([p for p in picks if pred(queries[p])]) >= limit:
                return
            if i not in picks and pred(query):
                picks.append(i)

    pick(lambda q: "\r" in q, 3)
    pick(lambda q: any(ord(c) > 127 for c in q), 3)
    pick(lambda q: not q.endswith("\n"), 1)
    longest = max(range(len(queries)), key=lambda i: len(queries[i]))
    if longest not in picks:
        picks.append(longest)
    step = max(1, len(queries) // size)
    for i in range(0, len(queries), step):
        if len(picks) >= size:
            break
        if i not in picks:
            picks.append(i)
    json.dump({"count": len(queries), "sample": sorted(picks[:size])}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:4])
