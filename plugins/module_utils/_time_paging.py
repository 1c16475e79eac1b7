# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Reading an OData list by time boundary, shared by incidents (``_incidents.py``),
alerts (``_alerts.py``), the device inventory and the EDA incident source.

The wire contract is docs/developer/reference/defender-api.md §4.4 and §4.7:

* pages stay inside the API's ``$top`` cap and are read ascending on the last-update time, with
  ``<field> ge <boundary>``; ``$skip`` is used only inside a tie (one item of overlap, checked, so an item leaving
  the tie during the read is never skipped), never deep ``$skip`` (:class:`TimePager`);
* a cursor (:func:`encode_cursor`) is the boundary time plus the ids already read at that time: passed back as
  ``updated_since`` it neither repeats nor loses an item at a tie;
* every value put into ``$filter`` is quoted (:func:`quote_literal`) or validated (:func:`time_key`,
  :func:`check_id`), so a raw ``filter`` option is the only text sent as typed (:class:`ReadOptions`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d{1,9}))?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$")
_EPOCH = "1970-01-01T00:00:00Z"


# -- times, literals, ids, cursors ------------------------------------------------------------------------

def time_key(value, option="time"):
    """An ISO-8601 time as ``YYYY-MM-DDTHH:MM:SS.fffffffZ`` (UTC, 7 fractional digits): sortable, comparable,
    and safe as an OData DateTimeOffset literal. ``MtpConfigError`` naming ``option`` when it is not a time."""
    match = _TIME_RE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise MtpConfigError("%s: %r is not an ISO-8601 time (e.g. 2024-05-01T10:15:00Z)" % (option, value), option=option)
    year, month, day, hour, minute, second, frac, zone = match.groups()
    frac = (frac or "").ljust(7, "0")[:7]
    try:
        when = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                                 int(frac[:6]))
    except ValueError:
        raise MtpConfigError("%s: %r is not a valid date/time" % (option, value), option=option)
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        when -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d%sZ" % (when.microsecond, frac[6])


def item_time(value):
    """:func:`time_key` of an item's own time field; an item without one sorts first."""
    return time_key(value or _EPOCH)


def quote_literal(value):
    """An OData string literal: ``'...'`` with single quotes doubled."""
    return "'%s'" % str(value).replace("'", "''")


def eq_clauses(pairs):
    """``<field> eq '<value>'`` for each ``(field, value)`` whose value is set, quoted."""
    return ["%s eq %s" % (field, quote_literal(value)) for field, value in pairs if value]


def check_id(value, option="incident_id"):
    """An incident or alert id safe in a URL path, as a string."""
    text = str(value) if value is not None else ""
    if not _ID_RE.match(text):
        raise MtpConfigError("%s: %r is not a valid id (letters, digits, '_', '-')" % (option, value), option=option)
    return text


def as_list(value):
    """A list option's value as a list (``None`` is empty, a scalar is one item)."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def encode_cursor(boundary, ids=()):
    """The cursor string: the boundary time, and ``|id,id`` for the ids already read at exactly that time."""
    if boundary is None:
        return None
    ids = sorted(set(str(i) for i in ids))
    return boundary + ("|" + ",".join(ids) if ids else "")


def decode_cursor(value, option="updated_since"):
    """``(time_key, frozenset of ids)`` from a cursor or a plain ISO-8601 time; ``(None, ())`` for ``None``."""
    if not value:
        return None, frozenset()
    text, _sep, ids = str(value).partition("|")
    id_list = [i for i in ids.split(",") if i]
    if any(not _ID_RE.match(i) for i in id_list):
        raise MtpConfigError("%s: the cursor %r carries an invalid id list" % (option, value), option=option)
    return time_key(text, option), frozenset(id_list)


# -- the options every read takes ---------------------------------------------------------------------------

class ReadOptions(object):
    """``updated_since`` (a time or a cursor), the created window, the raw ``filter``, ``page_size`` inside the
    API's cap and ``limit``, validated offline on construction, each failure naming its option.

    ``cursor`` starts as the cursor of ``updated_since`` and is moved on by the read; ``warnings`` collects what
    the read warned about."""

    def __init__(self, updated_since=None, created_after=None, created_before=None, odata_filter=None,
                 page_size=None, limit=None, cap=50, default_page=None, cap_name=None):
        self.since, self.since_ids = decode_cursor(updated_since)
        self.created_after = time_key(created_after, "created_after") if created_after else None
        self.created_before = time_key(created_before, "created_before") if created_before else None
        self.odata_filter = odata_filter.strip() if isinstance(odata_filter, str) and odata_filter.strip() else None
        if page_size is not None and (not isinstance(page_size, int) or page_size < 1 or page_size > cap):
            which = " (the %s $top cap)" % cap_name if cap_name else ""
            raise MtpConfigError("page_size: %r is outside 1..%d%s" % (page_size, cap, which), option="page_size")
        self.page_size = page_size or default_page or cap
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise MtpConfigError("limit: %r must be a positive integer" % (limit,), option="limit")
        self.limit = limit
        self.cursor = encode_cursor(self.since, self.since_ids)
        self.warnings = []

    def window_clauses(self, created_field):
        """The created window on ``created_field``, then the raw filter in parentheses (ANDed by the pager)."""
        out = []
        if self.created_after:
            out.append("%s ge %s" % (created_field, self.created_after))
        if self.created_before:
            out.append("%s lt %s" % (created_field, self.created_before))
        if self.odata_filter:
            out.append("(%s)" % self.odata_filter)
        return out

    def in_window(self, created_time):
        """Whether an item created at ``created_time`` is inside the created window (for reads filtered locally)."""
        when = time_key(created_time, "created_time") if created_time else None
        if self.created_after and (not when or when < self.created_after):
            return False
        return not (self.created_before and (not when or when >= self.created_before))

    def after_cursor(self, item_id, last_update):
        """Whether an item is newer than the cursor (for reads filtered locally): after the boundary, or at it and
        not among the ids the cursor already holds."""
        if not self.since:
            return True
        when = last_update and time_key(last_update)
        return bool(when) and (when > self.since or (when == self.since and item_id not in self.since_ids))


# -- the pager -----------------------------------------------------------------------------------------------

class TimePager(object):
    """Pages of raw items ascending on a last-update field, read by time boundary (see the module docstring).

    ``request(params)`` returns the parsed page (dict with ``value``); ``key(item)`` gives ``(id, time_key)``.
    After each page ``boundary``/``tie`` give the cursor of what was read so far."""

    def __init__(self, request, key, time_field, base_clauses, orderby, page_size, since=None, since_ids=()):
        self.request, self.key, self.time_field = request, key, time_field
        self.clauses, self.orderby, self.size = list(base_clauses), orderby, page_size
        self.boundary, self.tie = since, []
        self.since, self.since_ids = since, frozenset(since_ids)
        self.links = False
        self.stalls = 0

    def _params(self, skip):
        clauses = list(self.clauses)
        if self.boundary:
            clauses.append("%s ge %s" % (self.time_field, self.boundary))
        params = {"$top": self.size, "$orderby": self.orderby}
        if clauses:
            params["$filter"] = " and ".join(clauses)
        if skip:
            params["$skip"] = skip
        return params

    def _fetch(self):
        skip = len(self.tie) - 1 if len(self.tie) > 1 else 0
        page = self.request(self._params(skip))
        items = page.get("value") or []
        if skip and (not items or self.key(items[0])[0] != self.tie[-1]):
            # the tie shifted under us (an item of it was updated): read it again from its start, and take the
            # positions of that answer as the tie
            self.tie = []
            page = self.request(self._params(0))
            items = page.get("value") or []
        return page, items

    def pages(self):
        """Yield ``[(raw, id, time_key, new)]`` per page; ``new`` is false for items the cursor already had."""
        while True:
            before = (self.boundary, len(self.tie))
            page, items = self._fetch()
            out = []
            for raw in items:
                item_id, when = self.key(raw)
                if self.boundary is None or when > self.boundary:
                    self.boundary, self.tie = when, [item_id]
                elif when == self.boundary and item_id not in self.tie:
                    self.tie.append(item_id)
                known = when == self.since and item_id in self.since_ids
                out.append((raw, item_id, when, not known))
            yield out
            if page.get("@odata.nextLink"):
                self.links = True
            if len(items) < self.size or (self.links and not page.get("@odata.nextLink")):
                return
            self.stalls = self.stalls + 1 if (self.boundary, len(self.tie)) == before else 0
            if self.stalls >= 3:
                raise MtpApiError("Paging %s made no progress at %s: the service keeps answering the same page"
                                  % (self.time_field, self.boundary))

    def cursor(self):
        ids = set(self.tie)
        if self.boundary == self.since:
            ids |= self.since_ids
        return encode_cursor(self.boundary, ids)
