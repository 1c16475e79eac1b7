#!/usr/bin/env python
"""Make the access tokens in an m365.defender token cache look valid for another hour to the client.

Usage: stale_cache.py DIR. The JWTs themselves are untouched (their exp claim is in the past once the emulator's
short token lifetime ran out), so the next call sends a token the client believes valid and the service rejects
with 401, as after a clock skew or a revocation: the collection must fetch a fresh token once and succeed.
Prints JSON {"changed": N}.
"""
import glob
import json
import os
import sys
import time


def main(directory):
    changed = 0
    later = str(int(time.time()) + 3600)
    for path in glob.glob(os.path.join(directory, "*.json")):
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        cache = json.loads(data["token_cache"])
        for entry in (cache.get("AccessToken") or {}).values():
            entry["expires_on"] = entry["extended_expires_on"] = later
            changed += 1
        data["token_cache"] = json.dumps(cache)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
    json.dump({"changed": changed}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
