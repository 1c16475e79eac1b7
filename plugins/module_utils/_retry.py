# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The one retry engine of the collection.

Pure functions in the style of amazon.aws ``CloudRetry``/``BackoffIterator``: :meth:`RetryPolicy.classify`
decides *whether* and *why* to retry from a status (or a transport failure), the headers, the body text, the
method and its idempotency; :meth:`RetryPolicy.delay` says *how long* to wait. ``MtpClient`` runs the loop.

Classification (docs/developer/reference/defender-api.md §2.5, docs/developer/reference/graph-app-setup.md §12):

* 429 (any method): the request was not processed. Wait ``Retry-After``; else the window the body names
  (``maximum allowed 45 per 00:01:00`` -> the end of the current minute); else the CPU-quota duration
  (``run queries again in <duration>``) or the next 15-minute boundary; else jittered backoff.
* 500/502/503/504: full-jitter backoff (base 1 s, cap 60 s), idempotent calls only. A 503 that carries
  ``Retry-After`` is a throttle signal (the request was refused, not run) and is retried for any method.
  500 is retried at most twice.
* Connection failures: a failure to *connect* (nothing was sent) retries for any method; a reset or a read
  timeout after sending retries for idempotent calls only. Non-idempotent calls are never blindly retried.
* 401: one fresh token and one retry (the client tracks the "once").
* Everything else (400, 403, 404, ...): no retry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import email.utils
import json
import random
import re
import time

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError, MtpError, MtpTimeoutError

IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))

# Kinds a classification can carry.
THROTTLED = "throttled"
SERVER = "server"
CONNECTION = "connection"
AUTH = "auth"

DEFAULTS = {
    "total": 5,
    "backoff_base": 1.0,
    "backoff_max": 60.0,
    "max_wait": 300.0,
    "retry_action": "warn",
}
RETRY_ACTIONS = ("warn", "ignore")
MAX_500_RETRIES = 2
CPU_WINDOW = 15 * 60

_QUOTA_WINDOW_RE = re.compile(r"maximum allowed\s+\d+\s+per\s+(\d+):(\d{2}):(\d{2})", re.IGNORECASE)
_CPU_QUOTA_RE = re.compile(r"exceeded processing resources", re.IGNORECASE)
_CPU_AGAIN_RE = re.compile(r"run queries again in\s+([^.]+?)\s*(?:\.|$)", re.IGNORECASE)
_HMS_RE = re.compile(r"^(?:(\d+)\.)?(\d+):(\d{2}):(\d{2})(?:\.\d+)?$")
_UNIT_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b", re.IGNORECASE)
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


class Decision:
    """The outcome of :meth:`RetryPolicy.classify`.

    ``retry`` is whether another attempt may help; ``kind`` is one of the module constants (or ``None``);
    ``retry_after`` is the wait, in seconds, the service asked for (or ``None``: use backoff);
    ``reason`` is a short text for warnings and error messages.
    """

    __slots__ = ("retry", "kind", "retry_after", "reason")

    def __init__(self, retry, kind=None, retry_after=None, reason=""):
        self.retry = retry
        self.kind = kind
        self.retry_after = retry_after
        self.reason = reason

    def __repr__(self):
        return "Decision(retry=%r, kind=%r, retry_after=%r, reason=%r)" % (self.retry, self.kind, self.retry_after, self.reason)


def is_idempotent(method, idempotent=None):
    """``idempotent`` from the caller wins (hunting POSTs are read-only); else GET/HEAD/OPTIONS/PUT/DELETE."""
    if idempotent is not None:
        return bool(idempotent)
    return (method or "").upper() in IDEMPOTENT_METHODS


def _header(headers, name):
    if not headers:
        return None
    lname = name.lower()
    for key, value in headers.items():
        if key.lower() == lname:
            return value
    return None


def parse_retry_after(value, now=None):
    """Seconds from a ``Retry-After`` value (delta-seconds or an HTTP date); ``None`` when absent or unreadable."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        now = time.time() if now is None else now
        seconds = when.timestamp() - now
    return max(0.0, seconds)


def parse_duration(text):
    """Seconds from ``hh:mm:ss[.fff]``, ``d.hh:mm:ss``, ISO ``PT5M``, or ``5 minutes``/``1 hour 2 min``; else ``None``."""
    if not text:
        return None
    text = text.strip()
    match = _HMS_RE.match(text)
    if match:
        days, hours, minutes, seconds = match.groups()
        return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    iso = re.match(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$", text, re.IGNORECASE)
    if iso and any(iso.groups()):
        days, hours, minutes, seconds = iso.groups()
        return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
    total = 0.0
    found = False
    for number, unit in _UNIT_RE.findall(text):
        total += float(number) * _UNIT_SECONDS[unit[0].lower()]
        found = True
    return total if found else None


def quota_wait(body, now=None):
    """The wait a 429 body implies, in seconds, or ``None`` when the body names no window.

    * ``API calls quota exceeded! maximum allowed 45 per 00:01:00`` -> until the current window ends
      (windows aligned on the clock: the next minute, the next hour).
    * ``... exceeded processing resources ... run queries again in <duration>.`` -> that duration; without
      a readable duration, until the next 15-minute boundary.
    """
    if not body:
        return None
    now = time.time() if now is None else now
    match = _QUOTA_WINDOW_RE.search(body)
    if match:
        window = int(match.group(1)) * 3600 + int(match.group(2)) * 60 + int(match.group(3))
        if window > 0:
            return window - (now % window)
    if _CPU_QUOTA_RE.search(body) or _CPU_AGAIN_RE.search(body):
        again = _CPU_AGAIN_RE.search(body)
        if again:
            seconds = parse_duration(again.group(1))
            if seconds is not None:
                return float(seconds)
        return CPU_WINDOW - (now % CPU_WINDOW)
    return None


class RetryPolicy:
    """The ``retries`` option made concrete: ``total`` retries after the first attempt, ``backoff_base`` and
    ``backoff_max`` for full-jitter backoff, ``max_wait`` seconds of waiting in all, ``retry_action``
    ``warn`` (a warning at each retry) or ``ignore``.
    """

    def __init__(self, total=DEFAULTS["total"], backoff_base=DEFAULTS["backoff_base"], backoff_max=DEFAULTS["backoff_max"],
                 max_wait=DEFAULTS["max_wait"], retry_action=DEFAULTS["retry_action"], rng=None, clock=None):
        self.total = int(total)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.max_wait = float(max_wait)
        self.retry_action = retry_action
        self._rng = rng or random.Random()
        self._clock = clock or time.time

    @classmethod
    def from_option(cls, value, **kwargs):
        """Build from the ``retries`` option: ``None`` (defaults), an int (number of retries) or a dict."""
        settings = dict(DEFAULTS)
        if isinstance(value, str) and value.strip().startswith("{"):
            try:
                value = json.loads(value)
            except ValueError:
                raise MtpConfigError("retries is not valid JSON: %s" % value, option="retries")
        if value is None or value == "":
            pass
        elif isinstance(value, bool):
            raise MtpConfigError("retries must be an integer or a dictionary, not a boolean", option="retries")
        elif isinstance(value, dict):
            unknown = sorted(set(value) - set(DEFAULTS))
            if unknown:
                raise MtpConfigError("retries has unknown keys: %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))),
                                     option="retries")
            for key, item in value.items():
                if item is not None:
                    settings[key] = item
        else:
            try:
                settings["total"] = int(value)
            except (TypeError, ValueError):
                raise MtpConfigError("retries must be an integer or a dictionary, got %r" % (value,), option="retries")
        try:
            for key in ("total",):
                settings[key] = int(settings[key])
            for key in ("backoff_base", "backoff_max", "max_wait"):
                settings[key] = float(settings[key])
        except (TypeError, ValueError):
            raise MtpConfigError("retries: total must be an integer and backoff_base, backoff_max, max_wait numbers",
                                 option="retries")
        if settings["total"] < 0 or settings["backoff_base"] < 0 or settings["backoff_max"] < 0 or settings["max_wait"] < 0:
            raise MtpConfigError("retries: values must not be negative", option="retries")
        if settings["retry_action"] not in RETRY_ACTIONS:
            raise MtpConfigError("retries.retry_action must be one of %s" % ", ".join(RETRY_ACTIONS), option="retries")
        settings.update(kwargs)
        return cls(**settings)

    # -- classification -------------------------------------------------------------------------------

    def classify(self, status, headers=None, body=None, method="GET", idempotent=None, error=None, attempt=0):
        """Decide whether to retry.

        ``status`` is the HTTP status, or ``None`` for a transport failure; ``error`` then is ``"connect"``
        (nothing was sent), ``"reset"`` or ``"timeout"`` (the request may have been received).
        ``attempt`` counts the retries already made (used to cap 500 retries).
        """
        safe = is_idempotent(method, idempotent)
        if status is None:
            if error == "connect":
                return Decision(True, CONNECTION, None, "could not connect")
            if safe:
                return Decision(True, CONNECTION, None, "connection %s" % (error or "failure"))
            return Decision(False, CONNECTION, None,
                            "connection %s on a non-idempotent %s; not retried blindly" % (error or "failure", method.upper()))
        retry_after = parse_retry_after(_header(headers, "Retry-After"), now=self._clock())
        if status == 401:
            return Decision(True, AUTH, None, "401 Unauthorized; fetching a fresh token")
        if status == 429:
            if retry_after is None:
                retry_after = quota_wait(body, now=self._clock())
            return Decision(True, THROTTLED, retry_after, "429 throttled")
        if status == 503 and retry_after is not None:
            return Decision(True, THROTTLED, retry_after, "503 with Retry-After")
        if status in (500, 502, 503, 504):
            if not safe:
                return Decision(False, SERVER, None, "%d on a non-idempotent %s; not retried blindly" % (status, method.upper()))
            if status == 500 and attempt >= MAX_500_RETRIES:
                return Decision(False, SERVER, None, "500 persisted after %d retries" % attempt)
            return Decision(True, SERVER, retry_after, "%d from the service" % status)
        return Decision(False, None, None, "%s is not retryable" % status)

    # -- delays ---------------------------------------------------------------------------------------

    def backoff_ceiling(self, attempt):
        """Upper bound of the full-jitter wait before retry number ``attempt + 1``."""
        try:
            return min(self.backoff_max, self.backoff_base * (2 ** attempt))
        except OverflowError:
            return self.backoff_max

    def delay(self, attempt, retry_after=None):
        """Seconds to wait before retry number ``attempt + 1``: ``retry_after`` when the service named it,
        else full jitter ``uniform(0, min(backoff_max, backoff_base * 2**attempt))``."""
        if retry_after is not None:
            return max(0.0, float(retry_after))
        return self._rng.uniform(0, self.backoff_ceiling(attempt))

    def run(self, send, give_up, on_retry=None, sleep=None):
        """The retry loop every HTTP caller uses (API calls, token requests, ``$batch`` items).

        ``send(attempt)`` makes one attempt and returns ``(None, result)`` when it is done, else
        ``(decision, context)``. While :meth:`should_retry` allows it, ``on_retry(decision, attempt, wait,
        context)`` is told and the loop sleeps ``wait``; else ``give_up(decision, why, attempt, context)`` is
        returned, or raised when it is an exception.
        """
        sleep = sleep or time.sleep
        attempt = 0
        waited = 0.0
        while True:
            decision, value = send(attempt)
            if decision is None:
                return value
            wait = self.delay(attempt, decision.retry_after)
            ok, why = self.should_retry(decision, attempt, waited, wait)
            if not ok:
                outcome = give_up(decision, why, attempt, value)
                if isinstance(outcome, BaseException):
                    raise outcome
                return outcome
            if on_retry is not None:
                on_retry(decision, attempt, wait, value)
            if wait > 0:
                sleep(wait)
            waited += wait
            attempt += 1

    def should_retry(self, decision, attempt, waited, wait):
        """``(ok, why_not)``: whether the loop may sleep ``wait`` more seconds and try again."""
        if not decision.retry:
            return False, decision.reason
        if attempt >= self.total:
            return False, "gave up after %d retries" % attempt
        if waited + wait > self.max_wait:
            return False, "the service asks to wait %.0f s, beyond the retries.max_wait budget of %.0f s" % (wait, self.max_wait) \
                if decision.retry_after is not None else "retries.max_wait of %.0f s exhausted" % self.max_wait
        return True, None


# -- deadline-bound waits (replication lag, readiness, long-running operations) -----------------------

LAG_DELAY_START = 1.0
# Waits back off 1, 2, 4, 5, 5, ... seconds: short enough not to overshoot much past the moment an object
# replicates, few enough requests (at most one per 5 s per object) to stay far from throttling
# (docs/developer/reference/graph-app-setup.md §12).
LAG_DELAY_CAP = 5.0


class NotReady(Exception):
    """Raised by a probe of :func:`wait_until` to say "not yet", with the reason kept for the timeout message."""

    def __init__(self, reason=None):
        super(NotReady, self).__init__(reason)
        self.reason = reason


class Deadline:
    """A point in time ``seconds`` from now on ``clock`` (``time.time`` unless told otherwise)."""

    def __init__(self, seconds, clock=None):
        self.clock = clock or time.time
        self.seconds = max(0.0, float(seconds))
        self.start = self.clock()
        self.end = self.start + self.seconds

    def remaining(self):
        return max(0.0, self.end - self.clock())

    def expired(self):
        return self.clock() >= self.end

    def elapsed(self):
        return self.clock() - self.start


def lag_delays(start=LAG_DELAY_START, cap=LAG_DELAY_CAP):
    """The endless sequence of waits ``start, 2*start, 4*start, ...`` capped at ``cap``."""
    delay = float(start)
    while True:
        yield delay
        delay = min(delay * 2, cap)


def wait_until(probe, timeout, what, sleep=None, clock=None, start=LAG_DELAY_START, cap=LAG_DELAY_CAP, on_wait=None):
    """Call ``probe()`` until it returns something other than ``None``, and return that.

    ``probe`` may raise :class:`NotReady` (reason kept) instead of returning ``None``. Between calls it waits
    per :func:`lag_delays`; once ``timeout`` seconds have passed without an answer it raises
    ``MtpTimeoutError("<what> did not happen within <timeout> s (<last reason>)")``. ``on_wait(delay, reason)``
    is told of each wait.
    """
    sleep = sleep or time.sleep
    deadline = Deadline(timeout, clock)
    last = None
    for delay in lag_delays(start, cap):
        try:
            value = probe()
        except NotReady as exc:
            value, last = None, exc.reason
        if value is not None:
            return value
        if deadline.expired():
            raise MtpTimeoutError("%s did not happen within %.0f s%s" % (what, deadline.seconds, " (%s)" % last if last else ""),
                                  last=last, waited=deadline.elapsed())
        if on_wait is not None:
            on_wait(delay, last)
        sleep(delay)
    return None  # pragma: no cover - lag_delays never ends


def retry_call(func, retryable, timeout, sleep=None, clock=None, start=LAG_DELAY_START, cap=LAG_DELAY_CAP):
    """Return ``func()``; while it raises an ``MtpError`` for which ``retryable(exc)`` is true and ``timeout``
    seconds have not passed, wait per :func:`lag_delays` and call it again. Any other exception, or the last
    one at the deadline, propagates unchanged."""
    sleep = sleep or time.sleep
    deadline = Deadline(timeout, clock)
    for delay in lag_delays(start, cap):
        try:
            return func()
        except MtpError as exc:
            if deadline.expired() or not retryable(exc):
                raise
        sleep(delay)
    return None  # pragma: no cover - lag_delays never ends


# -- pacing to documented rates ---------------------------------------------------------------------------

class Pacer:
    """Keeps this process under sliding-window rates ``((calls, seconds), ...)`` by waiting before a call.
    Other processes' calls are not seen: their 429s are waited out by the retry engine (``Retry-After``)."""

    def __init__(self, windows, clock=None, sleep=None):
        self.windows = tuple(windows)
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        self.calls = collections.deque()
        self.waited = 0.0

    def wait(self):
        longest = max(window[1] for window in self.windows)
        while True:
            now = self.clock()
            while self.calls and self.calls[0] <= now - longest:
                self.calls.popleft()
            delay = 0.0
            for limit, span in self.windows:
                recent = [t for t in self.calls if t > now - span]
                if len(recent) >= limit:
                    delay = max(delay, recent[-limit] + span - now)
            if delay <= 0:
                self.calls.append(now)
                return
            self.waited += delay
            self.sleep(delay)
