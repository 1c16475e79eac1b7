#!/usr/bin/env python
"""Count secrets in captured Ansible output.

Usage: check_leaks.py NEEDLES_JSON FILE... NEEDLES_JSON maps a label to a list of strings that must never
appear. Also counts JWT-looking strings (three base64url parts, the first starting with eyJ). Prints JSON
{"counts": {label: n}, "jwts": n, "bytes": {file: size}}; the strings themselves are never printed.
"""
import json
import re
import sys

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def main(needles_path, *paths):
    with open(needles_path, encoding="utf-8") as handle:
        needles = json.load(handle)
    texts = {}
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            texts[path] = handle.read()
    counts = {}
    for label, values in needles.items():
        values = [v for v in values if v]
        counts[label] = sum(text.count(v) for text in texts.values() for v in values)
    jwts = sum(len(JWT.findall(text)) for text in texts.values())
    json.dump({"counts": counts, "jwts": jwts, "bytes": {p: len(t) for p, t in texts.items()}}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:])
