#!/usr/bin/env python
"""Facts about a token cache directory, for the checks (never shown: the task that runs this is no_log).

Usage: cache_facts.py DIR. Prints JSON {"files": {name: mode}, "dir_mode": mode, "refresh_tokens": {name: [..]},
"accounts": {name: [upn...]}}: every refresh token MSAL keeps in each cache file, and its accounts.
"""
import json
import os
import stat
import sys


def main(directory):
    facts = {"files": {}, "dir_mode": "%04o" % stat.S_IMODE(os.stat(directory).st_mode), "refresh_tokens": {},
             "accounts": {}}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        facts["files"][name] = "%04o" % stat.S_IMODE(os.stat(path).st_mode)
        if not name.endswith(".json") or name.startswith("."):
            continue
        with open(path, encoding="utf-8") as handle:
            cache = json.loads(json.load(handle).get("token_cache") or "{}")
        facts["refresh_tokens"][name] = [e["secret"] for e in (cache.get("RefreshToken") or {}).values()]
        facts["accounts"][name] = sorted(e.get("username") for e in (cache.get("Account") or {}).values())
    json.dump(facts, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
