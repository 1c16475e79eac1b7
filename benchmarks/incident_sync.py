#!/usr/bin/env python3
"""A full incident sync of 5,000 incidents with mtp_incident_info, on Graph and on the MTP API, side by side.

Prints, for each API:

1. list requests on the wire ÷ the minimum pages its ``$top`` cap allows (⌈incidents / 50⌉ on Graph,
   ⌈incidents / 100⌉ on MTP; docs/developer/reference/defender-api.md §4.1, §4.4); goal ≤ 1.05;
2. incidents returned, distinct ids, and the wall time of the module process;

then an incremental read from the returned cursor (nothing changed: one request, nothing returned). The module
runs as Ansible runs it (its own Python process with an arguments file). Starts the emulator as a subprocess
(real HTTPS on 127.0.0.1, its own temporary CA); ``--quota-scale`` (default 100) multiplies the documented
quotas so that the ratio is not blurred by 429 waits (pass 1 to see the documented 50 calls a minute).
Prints figures; asserts nothing. ``python benchmarks/incident_sync.py`` (the venv's Python, with ansible-core
and mtp_emulator).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable
GENERATED = 5000
CAPS = {"graph": 50, "mtp": 100}
ROUTES = {"graph": "GET /v1.0/security/incidents", "mtp": "GET /api/incidents"}


def farm(tmp):
    link = os.path.join(tmp, "colls", "ansible_collections", "m365", "defender")
    os.makedirs(os.path.dirname(link))
    os.symlink(ROOT, link)
    return os.path.join(tmp, "colls")


def start_emulator(tmp, quota_scale):
    ep_file = os.path.join(tmp, "ep.json")
    emu = subprocess.Popen([PY, "-m", "mtp_emulator", "--port", "0", "--no-proxy", "--endpoints-file", ep_file,
                            "--state-dir", os.path.join(tmp, "state"), "--quota-scale", str(quota_scale)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        if os.path.exists(ep_file) and os.path.getsize(ep_file):
            break
        time.sleep(0.1)
    time.sleep(0.3)
    with open(ep_file) as fh:
        return emu, json.load(fh)


def control(ep, method, path, body=None):
    ctx = ssl.create_default_context(cafile=ep["ca_path"])
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(ep["control_url"] + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx) as resp:
        return json.loads(resp.read())


def list_requests(ep, api):
    """(all answers, 2xx answers) of the list route so far."""
    by_status = control(ep, "GET", "/stats")["requests"].get(ROUTES[api], {})
    return sum(by_status.values()), sum(v for k, v in by_status.items() if k.startswith("2"))


def run_module(colls, tmp, args):
    path = os.path.join(tmp, "args.json")
    with open(path, "w") as fh:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, fh)
    env = dict(os.environ, PYTHONPATH=colls, HOME=tmp)
    started = time.perf_counter()
    proc = subprocess.run([PY, "-m", "ansible_collections.m365.defender.plugins.modules.mtp_incident_info", path],
                          env=env, capture_output=True, cwd=tmp)
    elapsed = time.perf_counter() - started
    result = json.loads(proc.stdout)
    if result.get("failed"):
        raise RuntimeError(result.get("msg"))
    return elapsed, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quota-scale", type=float, default=100.0)
    opts = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="incident-bench-")
    colls = farm(tmp)
    emu, ep = start_emulator(tmp, opts.quota_scale)
    try:
        made = control(ep, "POST", "/incidents/generate", {"count": GENERATED, "ties": 3})
        total = control(ep, "GET", "/incidents")["count"]
        tenant = ep["tenants"][0]
        base = {"tenant_id": tenant["id"], "client_id": tenant["hunting_app"]["client_id"],
                "client_secret": tenant["hunting_app"]["client_secret"], "authority_host": ep["authority_host"],
                "graph_url": ep["graph_url"], "api_url": ep["api_url"], "mde_url": ep["mde_url"],
                "ca_path": ep["ca_path"], "token_cache": False}
        print("store: %d incidents (%d generated in %.2f s, up to 3 sharing a last-update time); emulator "
              "quota_scale %g" % (total, made["count"], made["seconds"], opts.quota_scale))
        rows = []
        for api in ("graph", "mtp"):
            before_all, before_ok = list_requests(ep, api)
            elapsed, result = run_module(colls, tmp, dict(base, api=api))
            after_all, after_ok = list_requests(ep, api)
            pages = after_ok - before_ok
            floor = math.ceil(total / CAPS[api])
            inc_elapsed, inc = run_module(colls, tmp, dict(base, api=api, updated_since=result["cursor"]))
            inc_all, _ = list_requests(ep, api)
            rows.append((api, CAPS[api], pages, after_all - before_all, floor, result["count"],
                         len(set(i["id"] for i in result["incidents"])), elapsed, inc["count"], inc_all - after_all,
                         inc_elapsed))
        print("%-6s %5s %28s %10s %9s %8s %8s %26s" % ("api", "$top", "list requests ÷ min pages", "attempts",
                                                     "returned", "distinct", "wall s", "incremental (n, requests)"))
        for api, cap, pages, attempts, floor, count, distinct, elapsed, inc_n, inc_req, inc_s in rows:
            print("%-6s %5d %28s %10d %9d %8d %8.2f %26s" % (
                api, cap, "%d / %d = %.3f" % (pages, floor, pages / float(floor)), attempts, count, distinct, elapsed,
                "%d, %d (%.2f s)" % (inc_n, inc_req, inc_s)))
    finally:
        emu.terminate()
        emu.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
