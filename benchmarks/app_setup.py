#!/usr/bin/env python3
"""mtp_aad_app_setup against the emulator: HTTP calls of a first run and of a no-op re-run, and first-run wall
time without and with replication lag (20 s).

Starts the emulator in-process (real HTTPS on 127.0.0.1, its own temporary CA) and runs the module's logic
(``_app_setup.AppSetup``) with the collection's real ``MtpClient`` + ``MtpAuthenticator`` (client secret, MSAL),
as ``mtp_aad_app_setup`` does, minus the Ansible process start-up. The setup is the issue's "full setup": app,
SP, three application roles (Graph ThreatHunting.Read.All, MTP AdvancedHunting.Read.All, MTP Incident.Read.All),
one delegated grant (MTP AdvancedHunting.Read) and a client secret; ``wait_for_ready`` on for the timings.

    PYTHONPATH=<dir holding ansible_collections/m365/defender> /tmp/v311/bin/python benchmarks/app_setup.py

Prints figures only (no assertions). The lag run takes about a minute.
"""

from __future__ import annotations

import collections
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _collection_on_path() -> None:
    """Make ``ansible_collections.m365.defender`` importable when run from a plain checkout."""
    try:
        import ansible_collections.m365.defender  # noqa: F401
        return
    except ImportError:
        pass
    import tempfile
    root = os.path.dirname(HERE)
    farm = os.path.join(tempfile.gettempdir(), "m365-defender-bench-colls")
    link = os.path.join(farm, "ansible_collections", "m365", "defender")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.islink(link):
        os.symlink(root, link)
    sys.path.insert(0, farm)


def main() -> int:
    _collection_on_path()
    from mtp_emulator.server import EmulatorServer
    from mtp_emulator.state import EmulatorConfig

    from ansible_collections.m365.defender.plugins.module_utils._app_readiness import ReadinessProbe
    from ansible_collections.m365.defender.plugins.module_utils._app_setup import AppSetup
    from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
    from ansible_collections.m365.defender.plugins.module_utils._clouds import resolve_endpoints
    from ansible_collections.m365.defender.plugins.module_utils._http import MtpClient, build_session
    from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter

    with EmulatorServer(config=EmulatorConfig(), proxy=False) as server:
        endpoints = server.endpoints
        tenant = endpoints["tenants"][0]
        connection = {"tenant_id": tenant["id"], "authority_host": endpoints["authority_host"],
                      "graph_url": endpoints["graph_url"], "api_url": endpoints["api_url"],
                      "mde_url": endpoints.get("mde_url") or endpoints["api_url"], "ca_path": endpoints["ca_path"],
                      "token_cache": False}

        def run(unique_name, wait_for_ready):
            adapter = MtpOptionAdapter.from_dict(dict(connection, client_id=tenant["admin_app"]["client_id"],
                                                      client_secret=tenant["admin_app"]["client_secret"],
                                                      auth_method="client_secret"))
            session = build_session(adapter)
            wire = collections.Counter()

            def count(resp, *args, **kwargs):
                kind = "graph" if "/v1.0/" in resp.request.url else "login"
                wire["%s %s" % (kind, resp.request.method)] += 1

            session.hooks["response"].append(count)
            eps = resolve_endpoints(adapter)
            client = MtpClient(adapter, authenticator=MtpAuthenticator(adapter, endpoints=eps, session=session),
                               session=session, endpoints=eps)
            params = {"unique_name": unique_name, "display_name": unique_name, "state": "present",
                      "presets": ["hunting"], "credential": "secret", "rotate_before_days": 30,
                      "permissions": [{"resource": "mtp", "application": ["Incident.Read.All"],
                                       "delegated": ["AdvancedHunting.Read"]}],
                      "replication_timeout": 300, "wait_for_ready": wait_for_ready}
            probe = ReadinessProbe(connection, session=session) if wait_for_ready else None
            server.state.stats.reset()
            started = time.perf_counter()
            result = AppSetup(client, params, probe=probe).run()
            elapsed = time.perf_counter() - started
            stats = server.state.stats.snapshot()
            return result, elapsed, wire, stats, probe

        def show(title, result, elapsed, wire, stats, probe=None):
            graph = dict((k.split(" ", 1)[1], v) for k, v in sorted(wire.items()) if k.startswith("graph"))
            login = dict((k.split(" ", 1)[1], v) for k, v in sorted(wire.items()) if k.startswith("login"))
            print("%s: changed=%s, %.2f s" % (title, result["changed"], elapsed))
            print("  Graph HTTP requests on the wire by method: %s (total %d)" % (graph, sum(graph.values())))
            print("  login (Entra ID) requests by method: %s%s" % (login, "" if probe is None else
                                                                   " (readiness probe rounds: %d)" % probe.attempts))
            print("  emulator: graph_directory_writes=%d, requests_by_method (incl. $batch items)=%s"
                  % (stats["graph_directory_writes"], stats["requests_by_method"]))

        result, elapsed, wire, stats, probe = run("mtp-bench-nolag", True)
        show("first run, lag 0 s, wait_for_ready", result, elapsed, wire, stats, probe)
        result, elapsed, wire, stats, _ = run("mtp-bench-nolag", False)
        show("no-op re-run", result, elapsed, wire, stats)

        server.state.config.replication_lag = 20.0
        result, elapsed, wire, stats, probe = run("mtp-bench-lag20", True)
        show("first run, lag 20 s, wait_for_ready", result, elapsed, wire, stats, probe)
        server.state.config.replication_lag = 0.0
    return 0


if __name__ == "__main__":
    sys.exit(main())
