# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An ansible-rulebook event source: new and updated Microsoft Defender XDR incidents (and alerts), exactly once.

Polls ``GET /security/incidents`` (Graph, the default) or ``GET /api/incidents`` (``api: mtp``) by last-update
time through ``plugins/module_utils/_incidents.py`` (docs/developer/reference/defender-api.md §4.1, §4.4, §4.7)
and keeps a checkpoint file (high-water mark + the recently seen ``(id, last_update_time)`` pairs), rewritten
atomically after every page has been put on the queue, so a restart neither replays nor loses an event. The
blocking client (``MtpClient``) runs in a worker thread. The user guide is docs/eda.md.
"""

import asyncio
import datetime
import hashlib
import json
import logging
import os
import sys
import tempfile
import threading

DOCUMENTATION = r"""
---
short_description: Receive new and updated Microsoft Defender XDR incidents and alerts
version_added: 0.3.0
description:
  - An ansible-rulebook event source that polls Microsoft Graph C(/security/incidents) (the default) or the
    Defender XDR C(/api/incidents) API by last-update time and puts one event per new or changed incident (and,
    with O(alerts), per new or changed alert) on the queue, exactly once across restarts.
  - Progress is kept in O(checkpoint_file) (a JSON file, mode 0600, replaced atomically after every page).
  - Credentials and endpoints take the same options as the modules (see M(m365.defender.mtp_incident_info)),
    with the same environment variables (C(AZURE_TENANT_ID), C(AZURE_CLIENT_ID), C(AZURE_CLIENT_SECRET), ...).
  - See docs/eda.md for the event shape and the checkpoint semantics.
options:
  api:
    description: Which incidents API to poll.
    type: str
    choices: [graph, mtp]
    default: graph
  poll_interval:
    description: Seconds between two polls (the delivery latency is about this much).
    type: float
    default: 60
  alerts:
    description: Also put an event of type C(alert) for every new or changed alert of the incidents polled.
    type: bool
    default: false
  include_alerts:
    description: Inline the alerts in every incident event (C(incident.alerts)).
    type: bool
    default: false
  status:
    description: Only incidents with one of these statuses.
    type: list
    elements: str
  severity:
    description: Only incidents with one of these severities.
    type: list
    elements: str
  assigned_to:
    description: Only incidents assigned to this user.
    type: str
  tags:
    description: Only incidents carrying one of these tags.
    type: list
    elements: str
  filter:
    description: A raw OData filter, ANDed with the others.
    type: str
  checkpoint_file:
    description:
      - The checkpoint file. Default C(~/.cache/m365.defender/eda/mtp_incidents-<digest>.json), the digest
        covering the tenant, the client, the API and the filters.
    type: path
  since:
    description: Where the first run (no checkpoint yet) starts, an ISO-8601 time. Ignored once a checkpoint exists.
    type: str
  initial_lookback:
    description: Without O(since), the first run starts this many seconds before now.
    type: int
    default: 0
  overlap:
    description: Seconds re-read before the high-water mark on every poll (late-visible changes); the seen pairs skip repeats.
    type: int
    default: 60
  page_size:
    description: Incidents per page, at most the API's C($top) cap (50 on Graph, 100 on C(mtp)); default the cap.
    type: int
  tenant_id:
    description: The directory (tenant) id.
    type: str
  client_id:
    description: The application (client) id.
    type: str
  client_secret:
    description: The client secret (a password).
    type: str
  auth_method:
    description: As for the modules.
    type: str
  cloud:
    description: As for the modules.
    type: str
  authority_host:
    description: As for the modules.
    type: str
  api_url:
    description: As for the modules.
    type: str
  graph_url:
    description: As for the modules.
    type: str
  ca_path:
    description: As for the modules.
    type: path
  retries:
    description: As for the modules (per request; the source adds its own poll-level backoff).
    type: raw
  token_cache:
    description: As for the modules.
    type: raw
"""

EXAMPLES = r"""
- m365.defender.mtp_incidents:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ client_id }}"
    client_secret: "{{ client_secret }}"
    poll_interval: 30
    severity: [high, medium]
    checkpoint_file: /var/lib/eda/mtp_incidents.json
"""

SOURCE = "m365.defender.mtp_incidents"
CHECKPOINT_VERSION = 1
MAX_SEEN = 5000
LOG = logging.getLogger(SOURCE)


def _add_collection_root():
    """ansible-rulebook loads this file with ``runpy.run_path``: make ``ansible_collections`` importable."""
    here = os.path.dirname(os.path.abspath(globals().get("__file__") or "."))
    while os.path.basename(here) not in ("ansible_collections", "") and os.path.dirname(here) != here:
        here = os.path.dirname(here)
    if os.path.basename(here) == "ansible_collections" and os.path.dirname(here) not in sys.path:
        sys.path.append(os.path.dirname(here))


try:
    import ansible_collections.m365.defender.plugins.module_utils._errors  # noqa: F401 pylint: disable=unused-import
except ImportError:
    _add_collection_root()

try:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.m365.defender.plugins.module_utils import _incidents, _time_paging
    from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
    from ansible_collections.m365.defender.plugins.module_utils._clouds import resolve_endpoints
    from ansible_collections.m365.defender.plugins.module_utils._errors import (
        MtpApiError, MtpAuthError, MtpConfigError, MtpError, MtpTimeoutError)
    from ansible_collections.m365.defender.plugins.module_utils._http import MtpClient
    from ansible_collections.m365.defender.plugins.module_utils._options import (
        MtpOptionAdapter, check_options, common_argument_spec)
    from ansible_collections.m365.defender.plugins.module_utils._retry import RetryPolicy
    from ansible_collections.m365.defender.plugins.module_utils._session import build_session
    IMPORT_ERROR = None
except ImportError as _exc:  # reported by main() with the missing name
    IMPORT_ERROR = _exc

TRANSIENT_STATUS = (None, 408, 429, 500, 502, 503, 504)


class SourceError(ValueError):
    """A bad argument or configuration of the source: the message names the argument, nothing else is shown."""


# -- arguments -----------------------------------------------------------------------------------------------

def source_argument_spec():
    """The modules' auth + connection options and the source's own (a fresh dict on every call)."""
    return common_argument_spec(
        api=dict(type="str", choices=["graph", "mtp"], default="graph"),
        poll_interval=dict(type="float", default=60.0),
        alerts=dict(type="bool", default=False),
        include_alerts=dict(type="bool", default=False),
        status=dict(type="list", elements="str"),
        severity=dict(type="list", elements="str"),
        assigned_to=dict(type="str"),
        tags=dict(type="list", elements="str"),
        filter=dict(type="str"),
        checkpoint_file=dict(type="path"),
        since=dict(type="str"),
        initial_lookback=dict(type="int", default=0),
        overlap=dict(type="int", default=60),
        page_size=dict(type="int"),
    )


def parse_time(text):
    """An aware datetime from an ISO-8601 string (``Z``, offsets, up to 7 fractional digits); None when unreadable."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip().replace("z", "Z")
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    head, sep, frac = value.partition(".")
    if sep:
        digits = "".join(ch for ch in frac if ch.isdigit())
        value = head + "." + digits[:6].ljust(6, "0") + frac[len(digits):]
    elif "T" not in value:
        value += "T00:00:00"
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def format_time(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _spec_errors(spec, args):
    unknown = sorted(key for key in args if key not in spec and not key.startswith("eda_"))
    if unknown:
        raise SourceError("%s: unknown argument(s) %s; supported: %s" % (
            SOURCE, ", ".join(unknown), ", ".join(sorted(spec))))
    params = dict((k, v) for k, v in args.items() if k in spec)
    result = ArgumentSpecValidator(spec).validate(params)
    if result.error_messages:
        raise SourceError("%s: %s" % (SOURCE, "; ".join(result.error_messages)))
    return result.validated_parameters, set(str(v) for v in result._no_log_values if v)


def _check_own(config):
    if config["poll_interval"] <= 0:
        raise SourceError("%s: poll_interval must be a number of seconds greater than 0, got %r" % (
            SOURCE, config["poll_interval"]))
    for name in ("initial_lookback", "overlap"):
        if config[name] < 0:
            raise SourceError("%s: %s must not be negative, got %d" % (SOURCE, name, config[name]))
    if config["page_size"] is not None and config["page_size"] < 1:
        raise SourceError("%s: page_size must be at least 1, got %d" % (SOURCE, config["page_size"]))
    if config["since"] is not None and parse_time(config["since"]) is None:
        raise SourceError("%s: since must be an ISO-8601 time such as 2026-01-31T08:00:00Z, got %r" % (
            SOURCE, config["since"]))
    path = config["checkpoint_file"]
    if os.path.isdir(path):
        raise SourceError("%s: checkpoint_file %s is a directory; give a file path" % (SOURCE, path))
    head = os.path.dirname(path)
    while head and not os.path.exists(head):
        head = os.path.dirname(head)
    if head and not os.path.isdir(head):
        raise SourceError("%s: checkpoint_file %s lies under %s, which is not a directory" % (SOURCE, path, head))


def default_checkpoint(config):
    parts = [config.get(k) for k in ("tenant_id", "client_id", "api", "status", "severity", "assigned_to", "tags",
                                     "filter", "alerts")]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]
    return os.path.expanduser("~/.cache/m365.defender/eda/mtp_incidents-%s.json" % digest)


def validate_args(args):
    """``(config, secrets)``: the checked arguments (defaults and environment fallbacks applied) and the values
    never to log. Raises ``SourceError`` naming the argument."""
    if IMPORT_ERROR is not None:
        raise SourceError("%s needs ansible-core and the m365.defender collection on the Python path: %s"
                          % (SOURCE, IMPORT_ERROR))
    if not isinstance(args, dict):
        raise SourceError("%s: the source arguments must be a mapping, got %s" % (SOURCE, type(args).__name__))
    config, secrets = _spec_errors(source_argument_spec(), args)
    config["checkpoint_file"] = os.path.abspath(os.path.expanduser(config["checkpoint_file"] or default_checkpoint(config)))
    _check_own(config)
    adapter = MtpOptionAdapter.from_dict(config)
    try:
        RetryPolicy.from_option(config.get("retries"))
        check_options(adapter, warn=LOG.warning)
        resolve_endpoints(adapter)
        MtpAuthenticator(adapter).validate()
        _incidents.IncidentQuery(api=config["api"], status=config["status"], severity=config["severity"],
                                 assigned_to=config["assigned_to"], tags=config["tags"], odata_filter=config["filter"],
                                 page_size=config["page_size"])
    except MtpError as exc:
        raise SourceError("%s: %s" % (SOURCE, scrub(exc.msg, secrets)))
    return config, secrets


def scrub(text, secrets):
    """``text`` with every secret value replaced by ``********`` (defence in depth: messages carry none)."""
    text = str(text)
    for secret in sorted(secrets or (), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "********")
    return text


# -- the checkpoint ---------------------------------------------------------------------------------------

class Checkpoint:
    """High-water mark + the seen ``(id, last_update_time)`` pairs (incidents and alerts) in a JSON file."""

    def __init__(self, path, identity, overlap):
        self.path = path
        self.identity = identity  # {"api", "tenant_id"}: a file written for another stream is refused
        self.overlap = datetime.timedelta(seconds=overlap)
        self.high_water_mark = None
        self.seen = {"incident": {}, "alert": {}}
        self._lock = threading.Lock()  # a stop during a save in the worker thread saves again from the loop

    def load(self, start):
        """Read the file (when present), else start at ``start``; write it at once so a restart never skips."""
        try:
            with open(self.path, "r", encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            data = None
        except (OSError, ValueError) as exc:
            raise SourceError("%s: checkpoint_file %s cannot be read (%s): fix or remove it" % (
                SOURCE, self.path, getattr(exc, "strerror", None) or exc))
        if data is None:
            self.high_water_mark = _time_paging.time_key(format_time(start))
            try:
                self.save()
            except OSError as exc:
                raise SourceError("%s: checkpoint_file %s cannot be written (%s): point it at a writable directory" % (
                    SOURCE, self.path, exc.strerror or exc))
            return False
        self._restore(data)
        return True

    def _restore(self, data):
        if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION or parse_time(data.get("high_water_mark")) is None \
                or not all(isinstance(data.get("seen_" + kind + "s") or [], list) for kind in self.seen):
            raise SourceError("%s: checkpoint_file %s is not a checkpoint of this source (version %d)" % (
                SOURCE, self.path, CHECKPOINT_VERSION))
        for key, value in self.identity.items():
            if data.get(key) != value:
                raise SourceError("%s: checkpoint_file %s was written for %s %r, not %r: give each stream its own "
                                  "checkpoint_file" % (SOURCE, self.path, key, data.get(key), value))
        self.high_water_mark = _time_paging.time_key(data["high_water_mark"])
        for kind in self.seen:
            self.seen[kind] = dict(("%s|%s" % (i, t), t) for i, t in data.get("seen_" + kind + "s") or [])

    def is_seen(self, kind, item_id, last_update):
        return self.seen[kind].get("%s|%s" % (item_id, last_update)) is not None

    def mark(self, kind, item_id, last_update, ceiling):
        """Record a delivered item (``last_update`` as ``_time_paging.time_key``). Incidents move the mark, never
        past ``ceiling`` (when the poll started, this host's clock): an item stamped in the future (clock skew)
        cannot hide the changes after it; it is read again until then and skipped as seen."""
        self.seen[kind]["%s|%s" % (item_id, last_update)] = last_update
        moved = min(last_update, ceiling)
        if kind == "incident" and moved > self.high_water_mark:
            self.high_water_mark = moved

    def since(self):
        """The inclusive lower bound of the next poll: the high-water mark minus ``overlap``."""
        if not self.overlap:
            return self.high_water_mark
        return _time_paging.time_key(format_time(parse_time(self.high_water_mark) - self.overlap))

    def seen_pairs(self):
        """``(id, last_update)`` for every seen incident, its latest time only (``IncidentQuery(seen=...)``)."""
        latest = {}
        for key, when in self.seen["incident"].items():
            item_id = key.rsplit("|", 1)[0]
            latest[item_id] = max(when, latest.get(item_id, when))
        return sorted(latest.items())

    def _prune(self):
        floor = self.since()
        for kind, pairs in self.seen.items():
            keep = sorted(((k, t) for k, t in pairs.items() if t >= floor), key=lambda item: item[1])
            if len(keep) > MAX_SEEN:
                LOG.warning("%s: more than %d %ss changed within overlap; the oldest are forgotten", SOURCE, MAX_SEEN, kind)
            self.seen[kind] = dict(keep[-MAX_SEEN:])

    def save(self):
        """Write the file atomically (temporary file in the same directory, fsync, ``os.replace``; mode 0600)."""
        with self._lock:
            self._write()

    def _write(self):
        self._prune()
        body = dict(self.identity, version=CHECKPOINT_VERSION, high_water_mark=self.high_water_mark,
                    updated_at=format_time(datetime.datetime.now(datetime.timezone.utc)),
                    seen_incidents=[[k.rsplit("|", 1)[0], t] for k, t in self.seen["incident"].items()],
                    seen_alerts=[[k.rsplit("|", 1)[0], t] for k, t in self.seen["alert"].items()])
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(self.path), suffix=".tmp", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(body, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


# -- the source -------------------------------------------------------------------------------------------

class _LogDisplay:
    """The client's ``display``: HTTP/auth messages to the source's logger, secrets scrubbed."""

    def __init__(self, secrets):
        self.secrets = secrets

    def __call__(self, msg):
        LOG.info("%s", scrub(msg, self.secrets))

    def display(self, msg):
        LOG.info("%s", scrub(msg, self.secrets))

    def warning(self, msg):
        LOG.warning("%s", scrub(msg, self.secrets))

    def vvv(self, msg):
        LOG.debug("%s", scrub(msg, self.secrets))


def is_transient(exc):
    """Whether a failed poll may succeed later (throttling, 5xx, transport, token-endpoint hiccups)."""
    if isinstance(exc, MtpTimeoutError):
        return True
    if isinstance(exc, MtpAuthError):
        return exc.aadsts is None and exc.error in (None, "temporarily_unavailable", "server_error")
    if isinstance(exc, MtpApiError):
        return exc.status in TRANSIENT_STATUS
    return isinstance(exc, (OSError, asyncio.TimeoutError))


class IncidentSource:
    """One polled stream of incidents; ``run(queue)`` never returns (cancel the task to stop it)."""

    def __init__(self, config, secrets):
        self.config = config
        self.secrets = secrets
        self.adapter = MtpOptionAdapter.from_dict(config)
        self.client = None
        self.checkpoint = Checkpoint(config["checkpoint_file"], {"api": config["api"], "tenant_id": config["tenant_id"]},
                                     config["overlap"])
        self.polls = 0

    def build_client(self):
        adapter = self.adapter
        session = build_session(adapter)
        endpoints = resolve_endpoints(adapter)
        display = _LogDisplay(self.secrets)
        authenticator = MtpAuthenticator(adapter, endpoints=endpoints, session=session, display=display)
        authenticator.validate()
        return MtpClient(adapter, authenticator=authenticator, display=display, session=session, endpoints=endpoints)

    def start(self):
        since = self.config["since"]
        start = parse_time(since) if since else (
            datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=self.config["initial_lookback"]))
        resumed = self.checkpoint.load(start)
        self.client = self.build_client()
        LOG.info("%s: %s %s from %s (checkpoint %s), every %.1f s", SOURCE, "resuming" if resumed else "starting",
                 self.config["api"], self.checkpoint.high_water_mark, self.checkpoint.path, self.config["poll_interval"])

    def query(self):
        c = self.config
        return _incidents.IncidentQuery(api=c["api"], updated_since=self.checkpoint.since(), seen=self.checkpoint.seen_pairs(),
                                        status=c["status"], severity=c["severity"], assigned_to=c["assigned_to"],
                                        tags=c["tags"], odata_filter=c["filter"],
                                        include_alerts=bool(c["include_alerts"] or c["alerts"]), page_size=c["page_size"])

    def events(self, incident, since):
        """``[(kind, id, last_update, event)]`` for one polled incident: itself and its new or changed alerts."""
        c = self.config
        base = {"api": c["api"], "tenant_id": c["tenant_id"], "source": SOURCE}
        change = self._change("incident", incident, since)
        shown = dict(incident) if c["include_alerts"] else dict((k, v) for k, v in incident.items() if k != "alerts")
        out = [("incident", str(incident["id"]), incident.get("last_update_time"),
                {"m365_defender": dict(base, type="incident", change=change, incident=shown)})]
        for alert in incident.get("alerts") or [] if c["alerts"] else []:
            moment = parse_time(alert.get("last_update_time"))
            if moment is None or moment < since:
                continue
            slim = dict((k, v) for k, v in incident.items() if k != "alerts")
            out.append(("alert", str(alert["id"]), alert.get("last_update_time"),
                        {"m365_defender": dict(base, type="alert", change=self._change("alert", alert, since), alert=alert,
                                               incident=slim)}))
        return out

    def _change(self, kind, item, since):
        """``created`` for an item first seen and created since the poll's lower bound, else ``updated``."""
        created = parse_time(item.get("created_time"))
        prefix = "%s|" % item["id"]
        known = any(key.startswith(prefix) for key in self.checkpoint.seen[kind])
        return "created" if created is not None and created >= since and not known else "updated"

    async def deliver(self, queue, page, since, ceiling):
        """Put the page's unseen events on the queue, marking each as seen right after its ``put``."""
        count = 0
        for incident in page:
            for kind, item_id, last_update, event in self.events(incident, since):
                try:
                    last_update = _time_paging.time_key(last_update, "last_update_time")
                except MtpConfigError:
                    LOG.warning("%s: %s %s has no readable last-update time (%r); skipped", SOURCE, kind, item_id, last_update)
                    continue
                if self.checkpoint.is_seen(kind, item_id, last_update):
                    continue
                await queue.put(event)
                self.checkpoint.mark(kind, item_id, last_update, ceiling)
                count += 1
        return count

    async def poll_once(self, queue):
        """One poll: every page in turn, the checkpoint saved after each. Returns the number of events put."""
        query = self.query()
        since = parse_time(self.checkpoint.since())
        ceiling = _time_paging.time_key(format_time(datetime.datetime.now(datetime.timezone.utc)))
        pages = iter(_incidents.iter_pages(self.client, query))
        done = object()
        count = 0
        try:
            while True:
                page = await asyncio.wait_for(asyncio.to_thread(next, pages, done), self.page_timeout())
                if page is done:
                    break
                count += await self.deliver(queue, page, since, ceiling)
                await asyncio.to_thread(self.checkpoint.save)
        finally:
            if count:  # a cancelled or failed poll keeps what it delivered
                self.checkpoint.save()
        self.polls += 1
        return count

    def page_timeout(self):
        """The longest wait for one page: every attempt timing out plus the retry budget (then the poll is
        abandoned as a transient failure; a hung socket never stalls the stream)."""
        policy = self.client.policy
        return self.client.timeout * (policy.total + 1) + policy.max_wait + 30

    def backoff(self, failures):
        """Seconds before the next poll after ``failures`` failed polls in a row (``_retry`` full jitter)."""
        policy = self.client.policy if self.client is not None else RetryPolicy()
        return min(max(policy.backoff_max, self.config["poll_interval"]),
                   self.config["poll_interval"] + policy.delay(failures))

    async def run(self, queue):
        await asyncio.to_thread(self.start)
        failures = 0
        while True:
            try:
                count = await self.poll_once(queue)
            except (MtpError, OSError, asyncio.TimeoutError) as exc:
                if not is_transient(exc) and self.polls == 0:
                    raise SourceError("%s: the first poll failed: %s" % (SOURCE, scrub(getattr(exc, "msg", exc), self.secrets)))
                wait = self.backoff(failures)
                failures += 1
                LOG.warning("%s: poll failed (%s); next poll in %.1f s", SOURCE, scrub(getattr(exc, "msg", exc), self.secrets), wait)
            else:
                if failures:
                    LOG.info("%s: polling again after %d failed poll(s)", SOURCE, failures)
                failures = 0
                wait = self.config["poll_interval"]
                LOG.debug("%s: %d event(s); high-water mark %s", SOURCE, count, self.checkpoint.high_water_mark)
            await asyncio.sleep(wait)


async def main(queue, args):
    """The ansible-rulebook entry point: check ``args``, then poll until cancelled. A ``SourceError`` is raised
    afresh here, so ansible-rulebook shows its message and no frames of the checks behind it."""
    try:
        config, secrets = validate_args(args)
        source = IncidentSource(config, secrets)
        failure = None
    except SourceError as exc:
        failure = str(exc)
    if failure is None:
        try:
            await source.run(queue)
        except SourceError as exc:
            failure = str(exc)
    raise SourceError(failure)


if __name__ == "__main__":
    class _PrintQueue:
        async def put(self, event):
            print(json.dumps(event, default=str))  # noqa: T201

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}))
