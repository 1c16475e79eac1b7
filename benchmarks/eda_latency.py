#!/usr/bin/env python3
"""Delivery latency of the EDA source m365.defender.mtp_incidents: from a change made through the emulator's
control plane (a new incident, or an update) to its event on the queue, printed beside the poll interval.

Goal: every latency at most the poll interval + 1 s (a change waits at most one interval for the next poll, then
one poll's HTTP round trips). Runs the source's ``main(queue, args)`` on a real ``asyncio.Queue`` against an
emulator started as a subprocess (real HTTPS on 127.0.0.1, its own CA). Prints figures; asserts nothing.
``python benchmarks/eda_latency.py [POLL_INTERVAL ...]`` (the venv's Python, with ansible-core and mtp_emulator).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import runpy
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHANGES = 12


def farm(tmp):
    link = os.path.join(tmp, "colls", "ansible_collections", "m365", "defender")
    os.makedirs(os.path.dirname(link))
    os.symlink(ROOT, link)
    sys.path.insert(0, os.path.join(tmp, "colls"))
    return os.path.join(link, "extensions", "eda", "plugins", "event_source", "mtp_incidents.py")


def start_emulator(tmp):
    ep_file = os.path.join(tmp, "ep.json")
    emu = subprocess.Popen([sys.executable, "-m", "mtp_emulator", "--port", "0", "--no-proxy", "--endpoints-file", ep_file,
                            "--state-dir", os.path.join(tmp, "state")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while not (os.path.exists(ep_file) and os.path.getsize(ep_file)) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    with open(ep_file) as fh:
        return emu, json.load(fh)


def control(ep, method, path, body):
    ctx = ssl.create_default_context(cafile=ep["ca_path"])
    req = urllib.request.Request(ep["control_url"] + path, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as answer:
        return json.loads(answer.read())


async def measure(module, ep, tmp, interval):
    tenant = ep["tenants"][0]
    args = dict(tenant_id=tenant["id"], client_id=tenant["hunting_app"]["client_id"],
                client_secret=tenant["hunting_app"]["client_secret"], authority_host=ep["authority_host"],
                graph_url=ep["graph_url"], ca_path=ep["ca_path"], token_cache=False, poll_interval=interval,
                checkpoint_file=os.path.join(tmp, "cp-%s.json" % interval))
    queue = asyncio.Queue()
    task = asyncio.create_task(module["main"](queue, args))
    await asyncio.sleep(interval + 1.0)
    latencies = []
    loop = asyncio.get_running_loop()
    for n in range(CHANGES):
        await asyncio.sleep(random.uniform(0, interval))
        if n % 2:
            made = await loop.run_in_executor(None, control, ep, "PATCH", "/incidents/1001", {"comment": "change %d" % n})
            wanted = (str(made["id"]), made["incident"]["lastUpdateDateTime"])
        else:
            made = await loop.run_in_executor(None, control, ep, "POST", "/incidents", {"title": "latency %d" % n})
            wanted = (str(made["id"]), None)
        changed_at = time.monotonic()
        while True:
            event = (await asyncio.wait_for(queue.get(), interval * 3 + 30))["m365_defender"]
            got = (event["incident"]["id"], event["incident"]["last_update_time"])
            if got[0] == wanted[0] and (wanted[1] is None or got[1][:26] == wanted[1][:26]):
                latencies.append(time.monotonic() - changed_at)
                break
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return latencies


def main():
    intervals = [float(a) for a in sys.argv[1:]] or [1.0, 5.0]
    tmp = tempfile.mkdtemp(prefix="eda-latency-")
    emu = None
    try:
        module = runpy.run_path(farm(tmp))
        emu, ep = start_emulator(tmp)
        control(ep, "PATCH", "/config", {"quota_scale": 100})
        for interval in intervals:
            lat = asyncio.run(measure(module, ep, tmp, interval))
            goal = interval + 1.0
            print("poll_interval %5.1f s  changes %2d  latency median %5.2f s  p95 %5.2f s  max %5.2f s  "
                  "goal <= %.1f s: %s" % (interval, len(lat), statistics.median(lat),
                                          sorted(lat)[max(0, int(len(lat) * 0.95) - 1)], max(lat), goal,
                                          "met" if max(lat) <= goal else "NOT met"))
    finally:
        if emu is not None:
            emu.terminate()
            emu.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
