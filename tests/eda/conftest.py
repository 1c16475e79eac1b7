# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the EDA source tests: the source loaded as ansible-rulebook loads it (``runpy.run_path``), an
emulator started as a subprocess (real HTTPS on 127.0.0.1, its own CA) and a harness that runs ``main(queue,
args)`` on a real ``asyncio.Queue``. Run through tools/run_eda_tests.sh (it stages the collection)."""

import asyncio
import json
import os
import runpy
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_FILE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "extensions", "eda", "plugins", "event_source",
                           "mtp_incidents.py")


@pytest.fixture(scope="session")
def source_module():
    """The plugin's globals, as ``runpy.run_path`` gives them to ansible-rulebook."""
    return runpy.run_path(SOURCE_FILE)


class Emulator:
    def __init__(self, endpoints):
        self.endpoints = endpoints
        self.tenant = endpoints["tenants"][0]
        self.ssl = ssl.create_default_context(cafile=endpoints["ca_path"])

    def control(self, method, path, body=None):
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.endpoints["control_url"] + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self.ssl, timeout=30) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError("%s %s -> %s %s" % (method, path, exc.code, exc.read()[:500]))

    def args(self, checkpoint_file, **extra):
        args = dict(tenant_id=self.tenant["id"], client_id=self.tenant["hunting_app"]["client_id"],
                    client_secret=self.tenant["hunting_app"]["client_secret"],
                    authority_host=self.endpoints["authority_host"], graph_url=self.endpoints["graph_url"],
                    api_url=self.endpoints["api_url"], ca_path=self.endpoints["ca_path"], token_cache=False,
                    poll_interval=0.3, overlap=5, checkpoint_file=checkpoint_file)
        args.update(extra)
        return args

    def create(self, title, **fields):
        return str(self.control("POST", "/incidents", dict(fields, title=title))["id"])

    def update(self, incident_id, **fields):
        return self.control("PATCH", "/incidents/%s" % incident_id, fields)["incident"]

    def stats(self):
        return self.control("GET", "/stats")


@pytest.fixture(scope="session")
def emulator_process():
    tmp = tempfile.mkdtemp(prefix="eda-emu-")
    ep_file = os.path.join(tmp, "endpoints.json")
    log = open(os.path.join(tmp, "emulator.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "mtp_emulator", "--port", "0", "--no-proxy", "--endpoints-file", ep_file,
                             "--state-dir", os.path.join(tmp, "state")], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while not (os.path.exists(ep_file) and os.path.getsize(ep_file)):
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the emulator did not start; see %s" % log.name)
            time.sleep(0.1)
        time.sleep(0.3)
        with open(ep_file) as handle:
            yield Emulator(json.load(handle))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def emulator(emulator_process):
    """The emulator back at its fixture, with generous quotas (a test that wants throttling sets faults)."""
    emulator_process.control("POST", "/reset")
    emulator_process.control("PATCH", "/config", {"quota_scale": 100})
    return emulator_process


class Harness:
    """Runs the source's ``main(queue, args)`` as a task on a real ``asyncio.Queue``."""

    def __init__(self, module):
        self.module = module
        self.queue = asyncio.Queue()
        self.task = None
        self.events = []

    def start(self, args):
        self.task = asyncio.get_running_loop().create_task(self.module["main"](self.queue, args))

    async def stop(self):
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.drain()

    def drain(self):
        while not self.queue.empty():
            self.events.append(self.queue.get_nowait()["m365_defender"])
        if self.task is not None and self.task.done() and not self.task.cancelled() and self.task.exception():
            raise self.task.exception()

    async def wait_for(self, predicate, timeout=30.0, settle=1.0):
        """Collect events until ``predicate(events)`` holds, then ``settle`` seconds more (to catch repeats)."""
        deadline = time.monotonic() + timeout
        while not predicate(self.events):
            self.drain()
            if time.monotonic() > deadline:
                raise AssertionError("timed out; events so far: %r" % [(e["type"], key(e)) for e in self.events])
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle)
        self.drain()
        return self.events


def key(event):
    item = event["alert"] if event["type"] == "alert" else event["incident"]
    return (item["id"], item["last_update_time"])


@pytest.fixture
def harness(source_module):
    return Harness(source_module)
