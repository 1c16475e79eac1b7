# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The retry engine as pure functions (amazon.aws test_cloud_retry style)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random

import pytest

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError, MtpTimeoutError
from ansible_collections.m365.defender.plugins.module_utils._retry import (
    AUTH,
    CONNECTION,
    SERVER,
    THROTTLED,
    Decision,
    NotReady,
    RetryPolicy,
    is_idempotent,
    lag_delays,
    retry_call,
    wait_until,
    parse_duration,
    parse_retry_after,
    quota_wait,
)

# A fixed "now": 2026-01-01T10:07:40Z -> 40 s into a minute, 7 min 40 s into the hour, 460 s into a 15-min window.
NOW = 1767262060.0
MINUTE_BODY = '{"error": {"code": "429", "message": "API calls quota exceeded! maximum allowed 45 per 00:01:00"}}'
HOUR_BODY = '{"error": {"code": "429", "message": "API calls quota exceeded! maximum allowed 1500 per 01:00:00"}}'
CPU_BODY = ("You have exceeded processing resources allocated to this tenant. "
            "You can run queries again in 00:04:30.")
CPU_BODY_NO_TIME = "You have exceeded processing resources allocated to this tenant."


def policy(**kw):
    return RetryPolicy(clock=lambda: NOW, rng=random.Random(7), **kw)


def test_clock_assumptions():
    assert NOW % 60 == 40 and NOW % 3600 == 460 and NOW % 900 == 460


@pytest.mark.parametrize("method, flag, expected", [
    ("GET", None, True), ("put", None, True), ("DELETE", None, True), ("POST", None, False), ("PATCH", None, False),
    ("POST", True, True), ("GET", False, False),
])
def test_is_idempotent(method, flag, expected):
    assert is_idempotent(method, flag) is expected


def test_429_with_retry_after_any_method():
    d = policy().classify(429, {"Retry-After": "7"}, MINUTE_BODY, "POST", None)
    assert (d.retry, d.kind, d.retry_after) == (True, THROTTLED, 7.0)
    # header name is case-insensitive, and Retry-After wins over the body window
    d = policy().classify(429, {"retry-after": "3"}, MINUTE_BODY, "PATCH", None)
    assert d.retry_after == 3.0


def test_429_minute_window_from_body():
    d = policy().classify(429, {}, MINUTE_BODY, "POST", True)
    assert d.retry and d.kind == THROTTLED
    assert d.retry_after == pytest.approx(20.0)  # 10:07:40 -> 10:08:00


def test_429_hour_window_from_body():
    assert policy().classify(429, {}, HOUR_BODY, "GET", None).retry_after == pytest.approx(3600 - 460)


def test_429_cpu_quota_duration_and_default_window():
    assert policy().classify(429, {}, CPU_BODY, "POST", True).retry_after == pytest.approx(270)
    assert policy().classify(429, {}, CPU_BODY_NO_TIME, "POST", True).retry_after == pytest.approx(900 - 460)


def test_429_without_hint_uses_backoff():
    p = policy()
    d = p.classify(429, {}, "slow down", "GET", None)
    assert d.retry and d.retry_after is None
    assert 0 <= p.delay(0, d.retry_after) <= 1.0


@pytest.mark.parametrize("text, seconds", [
    ("00:04:30", 270), ("1.00:00:00", 86400), ("PT5M", 300), ("5 minutes", 300), ("1 hour 2 min", 3720),
    ("30 seconds", 30), ("soon", None),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_retry_after_http_date():
    assert parse_retry_after("Thu, 01 Jan 2026 10:08:10 GMT", now=NOW) == pytest.approx(30)
    assert parse_retry_after("garbage", now=NOW) is None
    assert parse_retry_after("-5") == 0.0


def test_quota_wait_none_for_other_bodies():
    assert quota_wait('{"error": {"code": "BadRequest"}}', now=NOW) is None
    assert quota_wait("", now=NOW) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_idempotent_retried_with_full_jitter(status):
    p = policy(backoff_base=1, backoff_max=60)
    d = p.classify(status, {}, "", "GET", None)
    assert d.retry and d.kind == SERVER and d.retry_after is None
    for attempt, ceiling in ((0, 1), (1, 2), (3, 8), (5, 32), (6, 60), (20, 60)):
        samples = [p.delay(attempt) for _sample in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling / 2  # full jitter spans the range, not a fixed step


@pytest.mark.parametrize("status", [500, 502, 504])
def test_5xx_non_idempotent_never_blindly_retried(status):
    d = policy().classify(status, {}, "", "POST", None)
    assert not d.retry and "non-idempotent" in d.reason


def test_503_with_retry_after_is_a_throttle_for_any_method():
    d = policy().classify(503, {"Retry-After": "2"}, "", "POST", None)
    assert (d.retry, d.kind, d.retry_after) == (True, THROTTLED, 2.0)


def test_500_retried_at_most_twice():
    p = policy()
    assert p.classify(500, {}, "", "GET", None, attempt=1).retry
    assert not p.classify(500, {}, "", "GET", None, attempt=2).retry


@pytest.mark.parametrize("status", [400, 403, 404, 409, 410])
def test_client_errors_not_retried(status):
    assert not policy().classify(status, {"Retry-After": "1"}, "", "GET", None).retry


def test_401_asks_for_a_token_refresh():
    d = policy().classify(401, {}, "", "POST", None)
    assert d.retry and d.kind == AUTH


def test_connection_errors():
    p = policy()
    assert p.classify(None, method="POST", error="connect").retry  # nothing was sent
    assert p.classify(None, method="GET", error="reset").retry
    assert p.classify(None, method="POST", idempotent=True, error="timeout").retry
    d = p.classify(None, method="POST", error="reset")
    assert not d.retry and d.kind == CONNECTION
    assert not p.classify(None, method="PATCH", error="timeout").retry


def test_retry_after_is_honoured_by_delay():
    assert policy().delay(4, 12.5) == 12.5


def test_should_retry_budget():
    p = policy(total=2, max_wait=10)
    d = p.classify(429, {"Retry-After": "4"}, "", "GET", None)
    assert p.should_retry(d, 0, 0, 4) == (True, None)
    ok, why = p.should_retry(d, 0, 8, 4)
    assert not ok and "max_wait" in why
    ok, why = p.should_retry(d, 2, 0, 4)
    assert not ok and "2 retries" in why


def test_from_option_int_dict_and_json():
    assert RetryPolicy.from_option(None).total == 5
    assert RetryPolicy.from_option(0).total == 0
    assert RetryPolicy.from_option("2").total == 2
    p = RetryPolicy.from_option({"total": 4, "backoff_base": 0.5, "backoff_max": 8, "retry_action": "ignore",
                                 "max_wait": 30})
    assert (p.total, p.backoff_base, p.backoff_max, p.retry_action, p.max_wait) == (4, 0.5, 8.0, "ignore", 30.0)
    assert RetryPolicy.from_option('{"total": 1}').total == 1


@pytest.mark.parametrize("bad", [True, "many", {"totl": 3}, {"retry_action": "shout"}, {"total": -1}, "{oops"])
def test_from_option_rejects(bad):
    with pytest.raises(MtpConfigError) as exc:
        RetryPolicy.from_option(bad)
    assert exc.value.option == "retries"


# -- deadline-bound waits ------------------------------------------------------------------------------

class _FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_lag_delays_back_off_to_the_cap():
    delays = lag_delays()
    assert [next(delays) for _count in range(6)] == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_wait_until_returns_the_first_answer():
    fake = _FakeTime()
    answers = iter([None, None, "ready"])
    assert wait_until(lambda: next(answers), 60, "the app", sleep=fake.sleep, clock=fake.clock) == "ready"
    assert fake.sleeps == [1.0, 2.0]


def test_wait_until_times_out_with_the_last_reason():
    fake = _FakeTime()

    def probe():
        raise NotReady("the mtp token lacks the roles AdvancedHunting.Read.All")

    with pytest.raises(MtpTimeoutError) as caught:
        wait_until(probe, 10, "the new credential's roles", sleep=fake.sleep, clock=fake.clock)
    assert caught.value.msg == ("the new credential's roles did not happen within 10 s "
                                "(the mtp token lacks the roles AdvancedHunting.Read.All)")
    assert fake.sleeps == [1.0, 2.0, 4.0, 5.0]
    assert caught.value.waited == 12.0


def test_retry_call_retries_only_what_is_retryable():
    fake = _FakeTime()
    calls = []

    def func():
        calls.append(1)
        if len(calls) < 3:
            raise MtpApiError("404 lag", status=404)
        return "done"

    assert retry_call(func, lambda exc: exc.status == 404, 30, sleep=fake.sleep, clock=fake.clock) == "done"
    assert fake.sleeps == [1.0, 2.0]

    def fatal():
        raise MtpApiError("400 bad", status=400)

    with pytest.raises(MtpApiError, match="400 bad"):
        retry_call(fatal, lambda exc: exc.status == 404, 30, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == [1.0, 2.0]


def test_retry_call_gives_up_at_the_deadline_with_the_last_error():
    fake = _FakeTime()

    def func():
        raise MtpApiError("404 still lagging", status=404)

    with pytest.raises(MtpApiError, match="still lagging"):
        retry_call(func, lambda exc: True, 7, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == [1.0, 2.0, 4.0]


def test_run_retries_until_done_and_reports_each_wait():
    fake = _FakeTime()
    policy = RetryPolicy(total=3, backoff_base=1, max_wait=60, rng=random.Random(0))
    answers = [(Decision(True, THROTTLED, 4.0, "429 throttled"), "first"), (Decision(True, THROTTLED, 2.0, "429"), "second"),
               (None, "the result")]
    told = []
    result = policy.run(lambda attempt: answers[attempt], lambda *a: AssertionError("gave up"),
                        on_retry=lambda decision, attempt, wait, ctx: told.append((attempt, wait, ctx)), sleep=fake.sleep)
    assert result == "the result"
    assert told == [(0, 4.0, "first"), (1, 2.0, "second")]
    assert fake.sleeps == [4.0, 2.0]


def test_run_gives_up_with_the_reason_and_raises_or_returns():
    fake = _FakeTime()
    policy = RetryPolicy(total=1, max_wait=60)
    seen = []

    def give_up(decision, why, attempt, ctx):
        seen.append((why, attempt, ctx))
        return MtpApiError("gave up: %s" % why)

    with pytest.raises(MtpApiError, match="^gave up: gave up after 1 retries$"):
        policy.run(lambda attempt: (Decision(True, THROTTLED, 1.0, "429"), attempt), give_up, sleep=fake.sleep)
    assert seen == [("gave up after 1 retries", 1, 1)]
    assert policy.run(lambda attempt: (Decision(False, None, None, "400 is not retryable"), "x"),
                      lambda decision, why, attempt, ctx: {"partial": ctx, "why": why}, sleep=fake.sleep) == \
        {"partial": "x", "why": "400 is not retryable"}
    assert fake.sleeps == [1.0]
