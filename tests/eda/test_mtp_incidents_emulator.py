# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""m365.defender.mtp_incidents against the emulator: real HTTPS, real MSAL, a real asyncio queue. Incidents are
created and changed through the emulator's control plane; every change must reach the queue exactly once."""

import asyncio
import collections
import json
import logging
import os
import stat

import pytest

from conftest import key


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def incident_keys(events):
    return [key(e) for e in events if e["type"] == "incident"]


def incident_ids(events):
    return [pair[0] for pair in incident_keys(events)]


def assert_once(events, wanted_ids):
    """Each wanted id arrives, and no (id, last_update_time) pair arrives twice."""
    keys = incident_keys(events)
    repeats = [k for k, n in collections.Counter(keys).items() if n > 1]
    assert repeats == []
    assert set(wanted_ids) <= set(pair[0] for pair in keys)


@pytest.mark.parametrize("api", ["graph", "mtp"])
def test_created_and_updated_incidents_arrive_once(emulator, harness, tmp_path, api):
    async def scenario():
        harness.start(emulator.args(str(tmp_path / "cp.json"), api=api))
        await asyncio.sleep(1.0)
        new_id = emulator.create("EDA new incident", severity="high")
        emulator.update("1001", status="inProgress", assignedTo="soc@contoso.com")
        events = await harness.wait_for(lambda ev: {new_id, "1001"} <= set(incident_ids(ev)))
        await harness.stop()
        return new_id, events

    new_id, events = run(scenario())
    assert_once(events, [new_id, "1001"])
    by_id = dict((e["incident"]["id"], e) for e in events)
    assert by_id[new_id]["change"] == "created"
    assert by_id[new_id]["incident"]["severity"] == "high"
    assert by_id["1001"]["change"] == "updated"
    assert by_id["1001"]["incident"]["assigned_to"] == "soc@contoso.com"
    assert by_id["1001"]["api"] == api
    assert "alerts" not in by_id["1001"]["incident"]


def test_restart_neither_replays_nor_loses(emulator, harness, source_module, tmp_path):
    checkpoint = str(tmp_path / "state" / "cp.json")

    async def scenario():
        harness.start(emulator.args(checkpoint))
        await asyncio.sleep(1.0)
        first = emulator.create("before the restart")
        await harness.wait_for(lambda ev: first in incident_ids(ev))
        await harness.stop()
        before = list(harness.events)
        # while the source is down: a new incident, a change to the first one, a change to a seeded one
        second = emulator.create("while stopped")
        emulator.update(first, severity="high")
        emulator.update("1002", status="resolved")
        again = type(harness)(source_module)
        again.start(emulator.args(checkpoint))
        after = await again.wait_for(lambda ev: {second, first, "1002"} <= set(incident_ids(ev)))
        await again.stop()
        return first, second, before, after

    first, second, before, after = run(scenario())
    assert incident_ids(before) == [first]
    assert_once(before + after, [first, second, "1002"])
    assert sorted(incident_ids(after)) == sorted([first, second, "1002"])
    updated_first = [e for e in after if e["incident"]["id"] == first][0]
    assert updated_first["incident"]["severity"] == "high"
    assert stat.S_IMODE(os.stat(checkpoint).st_mode) == 0o600
    with open(checkpoint) as handle:
        saved = json.load(handle)
    assert [first, updated_first["incident"]["last_update_time"]] in saved["seen_incidents"]
    assert (saved["api"], saved["tenant_id"]) == ("graph", emulator.tenant["id"])


def test_stop_before_any_change_loses_nothing(emulator, harness, source_module, tmp_path):
    """The first run writes its starting point at once: a change made while it is down still arrives."""
    checkpoint = str(tmp_path / "cp.json")

    async def scenario():
        harness.start(emulator.args(checkpoint))
        await asyncio.sleep(1.0)
        await harness.stop()
        made = emulator.create("made while the source was down")
        again = type(harness)(source_module)
        again.start(emulator.args(checkpoint))
        events = await again.wait_for(lambda ev: made in incident_ids(ev))
        await again.stop()
        return made, harness.events, events

    made, first_run, events = run(scenario())
    assert first_run == []
    assert incident_keys(events) == [(made, events[0]["incident"]["last_update_time"])]


def test_429_storm_loses_nothing(emulator, harness, tmp_path):
    async def scenario():
        harness.start(emulator.args(str(tmp_path / "cp.json"), retries={"total": 2, "max_wait": 5}))
        await asyncio.sleep(1.0)
        emulator.control("PATCH", "/faults", {"throttle": {"GET /v1.0/security/incidents": 12},
                                              "throttle_retry_after": 1})
        ids = [emulator.create("during the storm %d" % n) for n in range(3)]
        emulator.update("1001", status="inProgress")
        events = await harness.wait_for(lambda ev: set(ids + ["1001"]) <= set(incident_ids(ev)),
                                        timeout=60)
        await harness.stop()
        return ids, events

    ids, events = run(scenario())
    assert_once(events, ids + ["1001"])
    throttled = emulator.stats()["requests"]["GET /v1.0/security/incidents"].get("429", 0)
    assert throttled == 12


def test_5xx_and_resets_lose_nothing(emulator, harness, tmp_path):
    async def scenario():
        harness.start(emulator.args(str(tmp_path / "cp.json"), retries={"total": 1, "backoff_max": 1}))
        await asyncio.sleep(1.0)
        emulator.control("PATCH", "/faults", {"error_rate": {"GET /v1.0/security/incidents": 0.6}})
        ids = [emulator.create("under 503s %d" % n) for n in range(4)]
        events = await harness.wait_for(lambda ev: set(ids) <= set(incident_ids(ev)), timeout=90)
        emulator.control("PATCH", "/faults", {"error_rate": {}})
        await harness.stop()
        return ids, events

    ids, events = run(scenario())
    assert_once(events, ids)
    assert emulator.stats()["requests"]["GET /v1.0/security/incidents"].get("503", 0) >= 1


def test_token_expiry_mid_stream_loses_nothing(emulator, harness, tmp_path):
    """Tokens live 1 s (plus the emulator's 5 s clock leeway): the stream outlives several of them."""
    async def scenario():
        emulator.control("PATCH", "/config", {"token_lifetime": 1})
        harness.start(emulator.args(str(tmp_path / "cp.json"), poll_interval=1.0))
        await asyncio.sleep(1.5)
        ids = []
        for n in range(3):
            ids.append(emulator.create("token round %d" % n))
            await asyncio.sleep(4.0)
        events = await harness.wait_for(lambda ev: set(ids) <= set(incident_ids(ev)))
        await harness.stop()
        return ids, events

    ids, events = run(scenario())
    assert_once(events, ids)
    stats = emulator.stats()
    assert stats["tokens_issued_total"] >= 4
    assert stats["requests"]["GET /v1.0/security/incidents"].get("401", 0) == 0


def test_ties_across_pages_arrive_once(emulator, harness, tmp_path):
    """Many incidents with the same last-update time, read 5 to a page."""
    async def scenario():
        harness.start(emulator.args(str(tmp_path / "cp.json"), page_size=5))
        await asyncio.sleep(1.0)
        changed = emulator.control("POST", "/incidents/advance", {"new": 7, "update": 9})
        ids = [str(i) for i in changed["created"] + changed["updated"]]
        events = await harness.wait_for(lambda ev: set(ids) <= set(incident_ids(ev)))
        await harness.stop()
        return ids, events

    ids, events = run(scenario())
    assert len(ids) == 16
    assert_once(events, ids)
    assert len(incident_keys(events)) == 16


def test_alert_events(emulator, harness, tmp_path):
    async def scenario():
        harness.start(emulator.args(str(tmp_path / "cp.json"), alerts=True, include_alerts=True))
        await asyncio.sleep(1.0)
        made = emulator.control("POST", "/incidents", {"title": "with two alerts",
                                                       "alerts": [{"title": "first alert"}, {"title": "second alert"}]})
        alert_ids = made["alertIds"]
        events = await harness.wait_for(lambda ev: set(alert_ids) <= set(key(e)[0] for e in ev if e["type"] == "alert"))
        await harness.stop()
        return str(made["id"]), alert_ids, events

    incident_id, alert_ids, events = run(scenario())
    alerts = [e for e in events if e["type"] == "alert"]
    assert sorted(key(e)[0] for e in alerts) == sorted(alert_ids)
    assert all(e["incident"]["id"] == incident_id and "alerts" not in e["incident"] for e in alerts)
    assert sorted(e["alert"]["title"] for e in alerts) == ["first alert", "second alert"]
    incident = [e for e in events if e["type"] == "incident"][0]["incident"]
    assert len(incident["alerts"]) == 2


def test_wrong_secret_stops_with_a_clear_message(emulator, harness, tmp_path, caplog):
    async def scenario():
        harness.start(emulator.args(str(tmp_path / "cp.json"), client_secret="not-the-right-secret-value"))
        try:
            await asyncio.wait_for(harness.task, 30)
        except ValueError as exc:
            return str(exc)
        return None

    with caplog.at_level(logging.DEBUG):
        message = run(scenario())
    assert message is not None and "first poll failed" in message and "AADSTS7000215" in message
    assert "not-the-right-secret-value" not in message + caplog.text


def test_logs_never_show_the_secret(emulator, harness, tmp_path, caplog):
    async def scenario():
        emulator.control("PATCH", "/faults", {"throttle": {"GET /v1.0/security/incidents": 3}, "throttle_retry_after": 0})
        harness.start(emulator.args(str(tmp_path / "cp.json")))
        made = emulator.create("logged")
        await harness.wait_for(lambda ev: made in incident_ids(ev))
        await harness.stop()

    with caplog.at_level(logging.DEBUG):
        run(scenario())
    assert "429" in caplog.text
    assert emulator.tenant["hunting_app"]["client_secret"] not in caplog.text


def test_timeouts_lose_nothing(emulator, harness, tmp_path, caplog):
    """Every request answers after 1.5 s while the client waits 1 s: polls fail on timeouts, then recover."""
    async def scenario():
        harness.start(emulator.args(str(tmp_path / "cp.json"), timeout=1, retries={"total": 0}))
        await asyncio.sleep(1.0)
        emulator.control("PATCH", "/faults", {"latency_ms": 1500})
        made = emulator.create("while the service is slow")
        await asyncio.sleep(4.0)
        emulator.control("PATCH", "/faults", {"latency_ms": 0})
        events = await harness.wait_for(lambda ev: made in incident_ids(ev), timeout=60)
        await harness.stop()
        return made, events

    with caplog.at_level(logging.WARNING):
        made, events = run(scenario())
    assert_once(events, [made])
    assert "poll failed" in caplog.text
