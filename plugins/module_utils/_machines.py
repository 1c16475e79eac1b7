# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Defender for Endpoint machines: lookup and target resolution.

Targets of the response modules are machine ids, DNS names (resolved with
``$filter=computerDnsName eq '...'``), a machine tag, or an advanced hunting query that selects ``DeviceId``
(docs/developer/reference/response-and-content.md §1, §7.1 step 1).

Paging (§1.3): the service's nextLinks are unreliable, so machine lists page with an explicit
``$top``/``$skip`` and stop on a short page; :func:`list_machines` reports ``complete: False`` when it stops at
its page guard instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.m365.defender.plugins.module_utils._api_errors import ErrorHandler
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

PAGE_SIZE = 10000
MAX_PAGES = 100
_MACHINE_ID = re.compile(r"^[0-9a-fA-F]{40}$")
_HUNT_PATH = "/v1.0/security/runHuntingQuery"


# ---------------------------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------------------------

def odata_quote(value):
    """``value`` as an OData string literal: ``o'brien`` -> ``'o''brien'``."""
    return "'%s'" % str(value).replace("'", "''")


def dns_filter(name):
    """The ``$filter`` that finds a machine by its DNS name."""
    return "computerDnsName eq %s" % odata_quote(name.strip().lower())


def is_machine_id(value):
    """Whether ``value`` looks like an MDE machine id (40 hex characters)."""
    return isinstance(value, str) and bool(_MACHINE_ID.match(value))


def check_matches(name, matches, allow_many):
    """The machines a DNS name resolved to; fail on none, and on several unless ``allow_many``."""
    if not matches:
        raise MtpConfigError("dns_names: no machine has the DNS name %r" % name, option="dns_names")
    if len(matches) > 1 and not allow_many:
        raise MtpConfigError("dns_names: %d machines have the DNS name %r (ids %s); use machine_ids, or set "
                             "allow_many: true to act on all of them"
                             % (len(matches), name, ", ".join(m.get("id", "?") for m in matches)), option="dns_names")
    return matches


def select_by_tag(machines, tag):
    """The machines carrying ``tag`` (case-insensitive, as the portal compares tags)."""
    want = tag.lower()
    return [m for m in machines if want in [str(t).lower() for t in m.get("machineTags") or []]]


def device_ids_from_rows(rows):
    """The distinct ``DeviceId`` values of hunting result rows, in first-seen order."""
    ids = []
    for row in rows:
        if not isinstance(row, dict) or "DeviceId" not in row:
            raise MtpConfigError("hunting_query: the query must return a DeviceId column (e.g. end it with "
                                 "'| distinct DeviceId')", option="hunting_query")
        value = row.get("DeviceId")
        if value and value not in ids:
            ids.append(value)
    return ids


def dedupe(machines):
    """``machines`` without repeats (by id), in order."""
    seen = set()
    out = []
    for machine in machines:
        if machine["id"] not in seen:
            seen.add(machine["id"])
            out.append(machine)
    return out


def validate_targets(params, required=True):
    """Fail before any call when the target options are unusable."""
    for key in ("machine_ids",):
        for value in params.get(key) or []:
            if not is_machine_id(value):
                raise MtpConfigError("%s: %r is not a machine id (40 hexadecimal characters); use dns_names for "
                                     "computer names" % (key, value), option=key)
    for name in params.get("dns_names") or []:
        if not isinstance(name, str) or not name.strip() or " " in name.strip():
            raise MtpConfigError("dns_names: %r is not a DNS name" % (name,), option="dns_names")
    if params.get("machine_tag") is not None and not str(params["machine_tag"]).strip():
        raise MtpConfigError("machine_tag must not be empty", option="machine_tag")
    given = [k for k in ("machine_ids", "dns_names", "machine_tag", "hunting_query") if params.get(k)]
    if required and not given:
        raise MtpConfigError("one of machine_ids, dns_names, machine_tag or hunting_query is required")
    return given


# ---------------------------------------------------------------------------------------------------------------
# API calls
# ---------------------------------------------------------------------------------------------------------------

@ErrorHandler.list_handler("get machine {machine_id}", default=lambda: None)
def get_machine(client, machine_id):
    """The machine with this id (or computer name), or ``None``."""
    return client.get("mde", "/api/machines/%s" % machine_id).json


@ErrorHandler.list_handler("list machines")
def _machine_page(client, params):
    return (client.get("mde", "/api/machines", params=params).json or {}).get("value") or []


def list_machines(client, odata_filter=None, page_size=PAGE_SIZE, max_pages=MAX_PAGES):
    """``(machines, complete)``: every machine matching ``odata_filter``, paged with ``$top``/``$skip``.
    A tenant without recent machines answers 404, read as an empty list (§1.2)."""
    machines = []
    for page in range(max_pages):
        params = {"$top": str(page_size), "$skip": str(page * page_size)}
        if odata_filter:
            params["$filter"] = odata_filter
        items = _machine_page(client, params)
        machines.extend(items)
        if len(items) < page_size:
            return machines, True
    return machines, False


@ErrorHandler.common("run the hunting query that selects machines")
def hunting_device_ids(client, query):
    """The ``DeviceId`` values a Graph advanced hunting query returns."""
    from ansible_collections.m365.defender.plugins.module_utils._hunting_results import parse_response

    body = client.post("graph", _HUNT_PATH, json={"Query": query}).json
    rows = parse_response("graph", body)[1]
    return device_ids_from_rows(rows)


def _by_ids(client, ids, option):
    found = []
    for machine_id in ids:
        machine = get_machine(client, machine_id)
        if machine is None:
            raise MtpConfigError("%s: machine %s was not found" % (option, machine_id), option=option)
        found.append(machine)
    return found


def resolve_targets(client, params, warn=None):
    """The machines the target options name, without repeats, in the order given."""
    found = _by_ids(client, params.get("machine_ids") or [], "machine_ids")
    for name in params.get("dns_names") or []:
        matches = list_machines(client, dns_filter(name))[0]
        found.extend(check_matches(name, matches, params.get("allow_many")))
    if params.get("machine_tag"):
        machines, complete = list_machines(client)
        if not complete and warn:
            warn("machine_tag: the machine list stopped at %d pages; some tagged machines may be missed" % MAX_PAGES)
        tagged = select_by_tag(machines, params["machine_tag"])
        if not tagged:
            raise MtpConfigError("machine_tag: no machine carries the tag %r" % params["machine_tag"],
                                 option="machine_tag")
        found.extend(tagged)
    if params.get("hunting_query"):
        ids = hunting_device_ids(client, params["hunting_query"])
        if not ids:
            raise MtpConfigError("hunting_query: the query returned no DeviceId", option="hunting_query")
        found.extend(_by_ids(client, ids, "hunting_query"))
    return dedupe(found)
