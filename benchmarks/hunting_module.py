#!/usr/bin/env python3
"""mtp_hunting_query against the emulator, side by side with floors that do the same work by hand.

1. Task time: ``ansible-playbook`` running N ``mtp_hunting_query`` tasks ÷ N ``ansible.builtin.uri`` tasks doing
   the same POST with a ready token (the empty-playbook start-up is subtracted from both). Goal ≤ 1.15.
2. A 100,000-row CSV export: time and peak RSS of the module process (run directly, as Ansible runs it, with an
   args file) ÷ a floor script using plain requests + json + csv. Goals ≤ 1.3 (time) and a module memory above
   its idle start-up ≤ 1.0 × the response payload (the module streams the body with ijson; the floor, which
   parses it whole, is printed beside it).
3. Import time of the module's Python process (its imports, minus a bare interpreter).

Starts the emulator as a subprocess (real HTTPS on 127.0.0.1, its own temporary CA). Prints figures; asserts
nothing. ``python benchmarks/hunting_module.py`` (the venv's Python, with ansible-core and mtp_emulator).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable
BIN = os.path.dirname(PY)
TASKS = 8
ROWS = 100_000
EXPORT_QUERY = ("range i from 1 to %d step 1 | extend Timestamp = datetime(2024-01-01) + i * 1s, "
                "DeviceName = strcat('ws-', tostring(i %% 500)), Score = i * 0.5, Flag = i %% 2 == 0" % ROWS)

FLOOR = r'''
import csv, json, sys, requests
if sys.argv[1] == "idle":
    sys.exit(0)
ep, tenant, out, query = json.load(open(sys.argv[1])), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
s = requests.Session(); s.verify = ep["ca_path"]; s.trust_env = False
tok = s.post("%s/%s/oauth2/v2.0/token" % (ep["authority_host"], tenant["id"]), data={
    "grant_type": "client_credentials", "client_id": tenant["hunting_app"]["client_id"],
    "client_secret": tenant["hunting_app"]["client_secret"], "scope": "https://graph.microsoft.com/.default"}).json()
r = s.post(ep["graph_url"] + "/v1.0/security/runHuntingQuery", json={"Query": query},
           headers={"Authorization": "Bearer " + tok["access_token"]})
r.raise_for_status()
body = json.loads(r.content)
names = [c["name"] for c in body["schema"]]
with open(out, "w", newline="", encoding="utf-8") as fh:
    w = csv.writer(fh)
    w.writerow(names)
    for row in body["results"]:
        w.writerow([row.get(n) for n in names])
print(len(r.content))
'''


def farm(tmp):
    link = os.path.join(tmp, "colls", "ansible_collections", "m365", "defender")
    os.makedirs(os.path.dirname(link))
    os.symlink(ROOT, link)
    return os.path.join(tmp, "colls")


def run_measured(argv, env=None, stdin=None):
    """(seconds, stdout) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE if stdin else None)
    out, err = proc.communicate(stdin)
    elapsed = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError("%s failed: %s" % (argv[:3], (err or out)[-2000:].decode("utf-8", "replace")))
    return elapsed, out


def rss_of(argv, env=None, may_fail=False):
    """(seconds, peak RSS MiB, stdout) — run through os.posix_spawn + wait4 so the RSS is the child's own."""
    started = time.perf_counter()
    r, w = os.pipe()
    pid = os.posix_spawn(argv[0], argv, env or os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)])
    os.close(w)
    chunks = []
    while True:
        data = os.read(r, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(r)
    _pid, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    out = b"".join(chunks)
    if status and not may_fail:
        raise RuntimeError("%s failed (%s): %s" % (argv[:3], status, out[-2000:].decode("utf-8", "replace")))
    return elapsed, usage.ru_maxrss / 1024.0, out


def playbook(path, tasks):
    with open(path, "w") as fh:
        json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], fh)


def main() -> int:
    tmp = tempfile.mkdtemp(prefix="hunting-bench-")
    colls = farm(tmp)
    ep_file = os.path.join(tmp, "ep.json")
    emu = subprocess.Popen([PY, "-m", "mtp_emulator", "--port", "0", "--no-proxy", "--endpoints-file", ep_file,
                            "--state-dir", os.path.join(tmp, "state")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(ep_file) and os.path.getsize(ep_file):
                break
            time.sleep(0.1)
        time.sleep(0.3)
        with open(ep_file) as fh:
            ep = json.load(fh)
        tenant = ep["tenants"][0]
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=colls, HOME=tmp, ANSIBLE_LOCAL_TEMP=os.path.join(tmp, "at"),
                   ANSIBLE_PYTHON_INTERPRETER=PY, PYTHONPATH=colls, ANSIBLE_NOCOLOR="1")
        conn = {"tenant_id": tenant["id"], "client_id": tenant["hunting_app"]["client_id"],
                "client_secret": tenant["hunting_app"]["client_secret"], "authority_host": ep["authority_host"],
                "graph_url": ep["graph_url"], "api_url": ep["api_url"], "ca_path": ep["ca_path"]}

        # a ready token for uri (the module keeps its own in its token cache, warmed by the first run)
        import requests
        s = requests.Session()
        s.verify, s.trust_env = ep["ca_path"], False
        # the benchmark makes far more than 45 calls a minute: lift the emulated call-rate quota
        s.patch(ep["control_url"] + "/config", json={"quota_scale": 1000}).raise_for_status()
        token = s.post("%s/%s/oauth2/v2.0/token" % (ep["authority_host"], tenant["id"]), data={
            "grant_type": "client_credentials", "client_id": conn["client_id"], "client_secret": conn["client_secret"],
            "scope": "https://graph.microsoft.com/.default"}).json()["access_token"]
        s.post(ep["graph_url"] + "/v1.0/security/runHuntingQuery", json={"Query": "DeviceInfo | take 1"},
               headers={"Authorization": "Bearer " + token})  # build the tables once

        query = "DeviceInfo | summarize n = count() by OSPlatform"
        hunt = {"m365.defender.mtp_hunting_query": dict(conn, query=query)}
        uri = {"ansible.builtin.uri": {"url": ep["graph_url"] + "/v1.0/security/runHuntingQuery", "method": "POST",
                                       "body_format": "json", "body": {"Query": query}, "ca_path": ep["ca_path"],
                                       "headers": {"Authorization": "Bearer " + token}, "return_content": True}}
        books = {}
        for name, tasks in (("empty", []), ("hunt", [hunt] * TASKS), ("uri", [uri] * TASKS),
                            ("warm", [hunt])):
            books[name] = os.path.join(tmp, name + ".json")
            playbook(books[name], tasks)
        ap = os.path.join(BIN, "ansible-playbook")

        def play(name):
            return run_measured([ap, "-i", "localhost,", "-c", "local", books[name]], env=env)[0]

        play("warm")
        times = {name: [] for name in ("empty", "hunt", "uri")}
        for _ in range(3):
            for name in times:
                times[name].append(play(name))
        empty = statistics.median(times["empty"])
        per_hunt = (statistics.median(times["hunt"]) - empty) / TASKS
        per_uri = (statistics.median(times["uri"]) - empty) / TASKS

        # 100k-row CSV export: module process vs floor script
        args_file = os.path.join(tmp, "args.json")
        dest = os.path.join(tmp, "export.csv")
        with open(args_file, "w") as fh:
            json.dump({"ANSIBLE_MODULE_ARGS": dict(conn, query=EXPORT_QUERY, dest=dest)}, fh)
        idle_args = os.path.join(tmp, "idle.json")
        with open(idle_args, "w") as fh:
            # fails on its bad timespan after every import and the argument parsing: the idle footprint
            json.dump({"ANSIBLE_MODULE_ARGS": dict(conn, query="print 1", timespan="bad")}, fh)
        floor_py = os.path.join(tmp, "floor.py")
        with open(floor_py, "w") as fh:
            fh.write(FLOOR)
        module = os.path.join(ROOT, "plugins", "modules", "mtp_hunting_query.py")
        mod_env = dict(env)
        runs = {"module": [], "floor": []}
        payload = 0
        for i in range(3):
            if os.path.exists(dest):
                os.unlink(dest)  # every run writes the file
            runs["module"].append(rss_of([PY, module, args_file], env=mod_env)[:2])
            t, rss, out = rss_of([PY, floor_py, ep_file, json.dumps(tenant), dest + ".floor", EXPORT_QUERY], env=env)
            runs["floor"].append((t, rss))
            payload = int(out.strip())
        idle_t, idle_rss, _ = rss_of([PY, module, idle_args], env=mod_env, may_fail=True)
        floor_idle_rss = rss_of([PY, floor_py, "idle"], env=env)[1]
        with open(dest) as fh:
            lines = sum(1 for _ in fh)
        m_t = statistics.median(t for t, _ in runs["module"])
        m_rss = max(r for _, r in runs["module"])
        f_t = statistics.median(t for t, _ in runs["floor"])
        f_rss = max(r for _, r in runs["floor"])

        # import time of the module's process
        def py_time(code):
            vals = []
            for _ in range(5):
                vals.append(run_measured([PY, "-c", code], env=env)[0])
            return statistics.median(vals)

        bare = py_time("pass")
        imports = py_time("import ansible_collections.m365.defender.plugins.modules.mtp_hunting_query as m; "
                          "import ansible_collections.m365.defender.plugins.module_utils._authenticator, msal")

        mib = payload / 1048576.0
        print("mtp_hunting_query benchmark (emulator on 127.0.0.1, %d tasks per playbook, medians of 3)" % TASKS)
        print("%-44s %10s %10s %8s %s" % ("figure", "module", "floor", "ratio", "goal"))
        print("%-44s %9.3fs %9.3fs %8.2f %s" % ("task time (hunt vs uri with a ready token)", per_hunt, per_uri,
                                                  per_hunt / per_uri, "<= 1.15"))
        print("%-44s %9.3fs %9.3fs %8.2f %s" % ("100k-row CSV export, wall time", m_t, f_t, m_t / f_t, "<= 1.3"))
        print("%-44s %8.1fMB %8.1fMB %8.2f %s" % ("100k-row CSV export, peak RSS", m_rss, f_rss, m_rss / f_rss, ""))
        print("%-44s %8.1fMB %8.1fMB %8.2f %s" % ("  RSS above idle (module idle %.1f, floor %.1f)"
                                                  % (idle_rss, floor_idle_rss), m_rss - idle_rss,
                                                  f_rss - floor_idle_rss, (m_rss - idle_rss) / max(f_rss - floor_idle_rss, 0.1), ""))
        print("%-44s %8.2fx %8.2fx %8s %s" % ("  RSS above idle / payload (%.1f MB)" % mib, (m_rss - idle_rss) / mib,
                                             (f_rss - floor_idle_rss) / mib, "", "<= 1.0 (x payload, module)"))
        print("%-44s %9.3fs %9.3fs %8s" % ("module process imports (minus bare python)", imports - bare, bare, ""))
        print("export file: %d lines (header + %d rows); payload %.1f MB" % (lines, lines - 1, mib))
    finally:
        emu.terminate()
        try:
            emu.wait(10)
        except subprocess.TimeoutExpired:
            emu.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
