#!/usr/bin/env python3
"""mtp_indicator with a feed of 2,000 new indicators, against the emulator at its documented quotas.

Prints, side by side for one run:

1. import calls made ÷ the minimum the batch size allows (⌈2000 / 500⌉ = 4); goal 1.00;
2. wall time of the module ÷ the time the documented import rate allows for those calls at its sustained rate
   (30 calls a minute: 2 s a call, docs/developer/reference/response-and-content.md §4.1); below 1.00 means the
   run never had to wait for the rate (a 30-call window fits all 4 calls);

then the same for a second run of the same feed (no write expected). The module runs as Ansible runs it (its
own Python process with an arguments file). Starts the emulator as a subprocess (real HTTPS on 127.0.0.1, its
own temporary CA, ``quota_scale`` 1). Prints figures; asserts nothing.
``python benchmarks/indicator_feed.py`` (the venv's Python, with ansible-core and mtp_emulator).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable
FEED = 2000
BATCH = 500
IMPORT_RATE_PER_MIN = 30


def farm(tmp):
    link = os.path.join(tmp, "colls", "ansible_collections", "m365", "defender")
    os.makedirs(os.path.dirname(link))
    os.symlink(ROOT, link)
    return os.path.join(tmp, "colls")


def start_emulator(tmp):
    ep_file = os.path.join(tmp, "ep.json")
    emu = subprocess.Popen([PY, "-m", "mtp_emulator", "--port", "0", "--no-proxy", "--endpoints-file", ep_file,
                            "--state-dir", os.path.join(tmp, "state")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        if os.path.exists(ep_file) and os.path.getsize(ep_file):
            break
        time.sleep(0.1)
    time.sleep(0.3)
    with open(ep_file) as fh:
        return emu, json.load(fh)


def run_module(colls, tmp, args):
    """(seconds, result) of one module process, started as Ansible starts it."""
    path = os.path.join(tmp, "args.json")
    with open(path, "w") as fh:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, fh)
    env = dict(os.environ, PYTHONPATH=colls, HOME=tmp)
    started = time.perf_counter()
    proc = subprocess.run([PY, "-m", "ansible_collections.m365.defender.plugins.modules.mtp_indicator", path],
                          env=env, capture_output=True, cwd=tmp)
    elapsed = time.perf_counter() - started
    result = json.loads(proc.stdout)
    if result.get("failed"):
        raise RuntimeError(result.get("msg"))
    return elapsed, result


def report(label, elapsed, result, wanted_imports):
    imports = result["calls"]["import"]
    floor = math.ceil(wanted_imports / BATCH) if wanted_imports else 0
    allowed = imports * 60.0 / IMPORT_RATE_PER_MIN
    calls_ratio = "%d / %d = %.2f" % (imports, floor, imports / floor) if floor else "%d / 0 (no write needed)" % imports
    time_ratio = "%.2f s / %.2f s = %.2f" % (elapsed, allowed, elapsed / allowed) if allowed else "%.2f s / 0 s (no write)" % elapsed
    print("%-22s changed=%-5s import calls ÷ minimum: %-28s wall ÷ rate-limited time: %s"
          % (label, result["changed"], calls_ratio, time_ratio))


def main() -> int:
    tmp = tempfile.mkdtemp(prefix="indicator-bench-")
    colls = farm(tmp)
    emu, ep = start_emulator(tmp)
    try:
        tenant = ep["tenants"][0]
        args = {"tenant_id": tenant["id"], "client_id": tenant["hunting_app"]["client_id"],
                "client_secret": tenant["hunting_app"]["client_secret"], "authority_host": ep["authority_host"],
                "graph_url": ep["graph_url"], "api_url": ep["api_url"], "mde_url": ep["mde_url"],
                "ca_path": ep["ca_path"], "token_cache": False, "type": "FileSha1", "action": "Block",
                "source": "bench", "indicators": [{"value": "%040x" % (n + 4096)} for n in range(FEED)]}
        print("feed: %d new FileSha1 indicators, batch %d, documented import rate %d/min (emulator quota_scale 1)"
              % (FEED, BATCH, IMPORT_RATE_PER_MIN))
        first_time, first = run_module(colls, tmp, args)
        report("first run (create)", first_time, first, first["counts"]["created"])
        second_time, second = run_module(colls, tmp, args)
        report("second run (no-op)", second_time, second, second["counts"]["created"] + second["counts"]["updated"])
        print("calls first run: %s; second run: %s" % (first["calls"], second["calls"]))
    finally:
        emu.terminate()
        emu.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
