#!/usr/bin/env python3
"""Throughput of the emulator: token issues per second and Graph GETs per second.

Starts the emulator in-process (its own temporary state directory, 127.0.0.1 only), then runs N client
threads (default 4), each with its own ``requests.Session`` trusting the emulator CA, for a fixed time per
measurement. The listeners keep connections alive (HTTP/1.1), so each session reuses one connection; the
figures and the count of connections the server accepted are printed. ``--no-keep-alive`` starts the emulator
with one request per connection (a TLS handshake per call), for comparison:

- ``POST /{tenant}/oauth2/v2.0/token`` (client credentials, the fixture's seeded admin app and secret);
- ``GET /v1.0/applications?$top=5`` with a bearer token from the same app.

Prints the figures. A route that is not there yet is reported as "route missing", never as a failure.
This is a script that prints figures, not a test; the client threads share the interpreter with the server,
so the figures are a floor for an out-of-process emulator.

    .venv/bin/python benchmarks/emulator_throughput.py --threads 4 --seconds 5 [--no-keep-alive]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))

from mtp_emulator.server import EmulatorServer  # noqa: E402

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def _session(ca_path: str) -> requests.Session:
    s = requests.Session()
    s.verify = ca_path
    s.trust_env = False
    return s


def _route_missing(resp: requests.Response) -> bool:
    """A 404 (or 405) that is the emulator's "no such route" rather than an answer of the route."""
    return resp.status_code in (404, 405)


def measure(name: str, threads: int, seconds: float, make_call) -> None:
    """Run ``make_call(session)`` in ``threads`` threads for ``seconds``; print calls/s and latency."""
    counts = [0] * threads
    errors = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    missing = threading.Event()
    deadline = time.monotonic() + seconds

    def worker(i: int) -> None:
        session = make_call.session()
        while time.monotonic() < deadline and not missing.is_set():
            started = time.monotonic()
            try:
                resp = make_call(session)
            except requests.RequestException:
                errors[i] += 1
                continue
            if _route_missing(resp):
                missing.set()
                return
            if resp.status_code == 200:
                counts[i] += 1
                latencies[i].append(time.monotonic() - started)
            else:
                errors[i] += 1
        session.close()

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - started
    if missing.is_set():
        print(f"{name:<28} route missing")
        return
    done = sum(counts)
    lat = sorted(x for per in latencies for x in per)
    if not lat:
        print(f"{name:<28} no successful call ({sum(errors)} errors)")
        return
    p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
    print(f"{name:<28} {done / elapsed:8.1f}/s  ({done} in {elapsed:.1f} s, {threads} threads; "
          f"median {statistics.median(lat) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms; errors {sum(errors)})")


class _Call:
    def __init__(self, ca_path: str, fn) -> None:
        self.ca_path = ca_path
        self.fn = fn

    def session(self) -> requests.Session:
        return _session(self.ca_path)

    def __call__(self, session: requests.Session) -> requests.Response:
        return self.fn(session)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement (default 5)")
    p.add_argument("--no-keep-alive", dest="keep_alive", action="store_false",
                   help="one request per connection (the emulator's behaviour before keep-alive)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    with EmulatorServer(proxy=False, keep_alive=args.keep_alive) as emu:
        ep = emu.endpoints
        tenant = ep["tenants"][0]
        app = tenant["admin_app"]
        token_url = f"{ep['authority_host']}/{tenant['id']}/oauth2/v2.0/token"
        form = {"grant_type": "client_credentials", "client_id": app["client_id"],
                "client_secret": app["client_secret"], "scope": GRAPH_SCOPE}
        print(f"mtp_emulator at {ep['base_url']}; tenant {tenant['domain']}; python {sys.version.split()[0]}; "
              f"{os.cpu_count()} CPUs; keep-alive {'on' if args.keep_alive else 'off'}")

        measure("token (client credentials)", args.threads, args.seconds,
                _Call(emu.ca_path, lambda s: s.post(token_url, data=form, timeout=30)))

        with _session(emu.ca_path) as s:
            try:
                resp = s.post(token_url, data=form, timeout=30)
            except requests.RequestException as exc:
                print(f"{'graph GET /v1.0/applications':<28} no token: {type(exc).__name__}")
                return 0
        if resp.status_code != 200:
            print(f"{'graph GET /v1.0/applications':<28} no token (token route: "
                  f"{'route missing' if _route_missing(resp) else resp.status_code})")
            return 0
        headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
        graph_url = f"{ep['graph_url']}/v1.0/applications"
        measure("graph GET /v1.0/applications", args.threads, args.seconds,
                _Call(emu.ca_path, lambda s: s.get(graph_url, params={"$top": "5"}, headers=headers, timeout=30)))
        stats = emu.state.stats.snapshot()
        print(f"server counted {stats['requests_total']} requests, {stats['tokens_issued_total']} tokens issued, "
              f"{sum(getattr(emu, 'connections', {}).values())} connections accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
