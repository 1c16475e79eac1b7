"""Hunting benchmark for the emulator: latency of a 1k-row and a 100k-row result, and peak memory.

Runs the emulator (real HTTPS on 127.0.0.1) in a child process with ``hunting_rows`` rows per event table
(default 1,000,000), queries it through ``POST /api/advancedhunting/run`` with a token from the emulator's own
token endpoint, and prints the figures. Peak memory is the child's ``ru_maxrss``.

    /tmp/v311/bin/python benchmarks/emulator_hunting.py [--rows 1000000] [--repeat 3]

A script that prints figures, not a test. Takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

QUERY_1K = "DeviceProcessEvents | take 1000"
QUERY_100K = ("DeviceNetworkEvents | take 100000 "
              "| project Timestamp, DeviceName, ActionType, RemoteIP, RemotePort, RemoteUrl, InitiatingProcessFileName")
QUERY_SCAN = "DeviceProcessEvents | where ProcessCommandLine has 'delete shadows' | project Timestamp, DeviceName"


def child(rows: int, repeat: int) -> None:
    import requests

    from mtp_emulator.server import EmulatorServer
    from mtp_emulator.state import EmulatorConfig

    config = EmulatorConfig(quota_scale=1000.0)
    config.hunting_rows = rows
    with EmulatorServer(config=config, proxy=False) as server:
        tenant = server.endpoints["tenants"][0]
        app = tenant["hunting_app"]
        with requests.Session() as s:
            s.verify = server.ca_path
            s.trust_env = False
            token = s.post(server.url(f"/{tenant['id']}/oauth2/v2.0/token"), timeout=60, data={
                "grant_type": "client_credentials", "client_id": app["client_id"],
                "client_secret": app["client_secret"], "scope": "https://api.security.microsoft.com/.default",
            }).json()["access_token"]

            def run(query: str) -> tuple[float, int, int]:
                started = time.perf_counter()
                resp = s.post(server.url("/api/advancedhunting/run"), json={"Query": query},
                              headers={"Authorization": f"Bearer {token}"}, timeout=600)
                elapsed = time.perf_counter() - started
                if resp.status_code != 200:
                    raise SystemExit(f"{resp.status_code}: {resp.text[:300]}")
                return elapsed, len(resp.json()["Results"]), len(resp.content)

            first, _, _ = run("DeviceInfo | take 1")  # builds the tenant's tables
            out = {"rows_per_table": rows, "first_query_s": first}
            for name, query in (("1k", QUERY_1K), ("100k", QUERY_100K), ("scan", QUERY_SCAN)):
                samples = [run(query) for _ in range(repeat)]
                out[name] = {"median_s": statistics.median(x[0] for x in samples), "rows": samples[0][1],
                             "bytes": samples[0][2]}
    out["child_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.rows, args.repeat)
        return
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", "--rows", str(args.rows), "--repeat",
                           str(args.repeat)], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"emulator hunting benchmark ({result['rows_per_table']:,} rows per event table, median of "
          f"{args.repeat})")
    print(f"  first query (builds the tenant's tables): {result['first_query_s'] * 1000:8.1f} ms")
    for name, label in (("1k", "1k-row result"), ("100k", "100k-row result (7 columns)"),
                        ("scan", "full-table filter, 1 row")):
        r = result[name]
        print(f"  {label:32s} {r['median_s'] * 1000:8.1f} ms  ({r['rows']:,} rows, {r['bytes'] / 1e6:.1f} MB)")
    print(f"  emulator peak RSS: {peak:.0f} MB (child ru_maxrss)")
    print(f"  wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
