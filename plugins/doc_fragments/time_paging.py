# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The time-window and incremental-read options of the incident and alert reads (``_time_paging.py``).

    A module that extends this fragment returns ``cursor``.
    """

    DOCUMENTATION = r'''
options:
  updated_since:
    description:
      - Only items updated at or after this time.
      - Either an ISO-8601 time (inclusive) or the RV(cursor) of an earlier run. With a cursor, the items that run
        already returned at its boundary time are skipped, so a chain of incremental reads neither repeats nor
        loses an item.
    type: str
  created_after:
    description:
      - Only items created at or after this ISO-8601 time.
    type: str
  created_before:
    description:
      - Only items created before this ISO-8601 time.
    type: str
  limit:
    description:
      - Return at most this many items (the oldest updates first); RV(cursor) then continues after them.
    type: int
notes:
  - Times are ISO-8601, with a C(Z) or an offset (C(2024-05-01T10:15:00Z), C(2024-05-01T12:15:00+02:00)); a bare
    date is midnight UTC. Every time is validated and normalised to UTC before it is put into the service's filter.
  - Items are read ascending on their last-update time, by time boundary inside the API's C($top) cap, never by deep
    C($skip); an item updated during the read comes once, in its latest version.
'''
