# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: mtp_hunting
short_description: Rows of a Microsoft Defender XDR advanced hunting query
version_added: 0.1.0
description:
  - Runs a KQL advanced hunting query on the controller, through Microsoft Graph C(runHuntingQuery) (the
    default) or the legacy MTP C(advancedhunting/run) API, and returns the rows typed from the response schema.
  - Each term is a query; the rows of all terms are returned in order. Without terms, O(query) or
    O(query_file) is run.
  - Clients and tokens are cached for the life of the controller process, so several lookups sign in once.
author:
  - m365.defender contributors (@m365-defender)
extends_documentation_fragment:
  - m365.defender.auth.plugins
  - m365.defender.connection.plugins
options:
  _terms:
    description: KQL queries, each run on its own.
    type: list
    elements: str
    required: false
  query:
    description: The KQL query when no term is given. Mutually exclusive with O(query_file).
    type: str
  query_file:
    description:
      - A UTF-8 file holding the query when no term is given, looked up like the P(ansible.builtin.file#lookup)
        lookup (the play's or role's C(files) directory for a relative path).
    type: str
  api:
    description: V(graph) (Microsoft Graph, C(ThreatHunting.Read.All)) or V(mtp) (legacy, C(AdvancedHunting.Read.All)).
    type: str
    choices: [graph, mtp]
    default: graph
  parameters:
    description:
      - Values given to the query as a one-line KQL C(let) preamble (see M(m365.defender.mtp_hunting_query)).
      - A plain value is typed by its YAML type, or give C({type, value}) with type one of V(string), V(long),
        V(int), V(real), V(bool), V(datetime), V(timespan), V(dynamic), V(guid).
    type: dict
  timespan:
    description: The Graph C(Timespan) window (ISO-8601, such as V(P7D)); O(api=graph) only.
    type: str
  max_rows:
    description: Return at most this many rows per query.
    type: int
notes:
  - A query that returns the service's cap (100,000 rows) gives a warning; use M(m365.defender.mtp_hunting_query)
    with O(m365.defender.mtp_hunting_query#module:split_by) for large exports.
seealso:
  - module: m365.defender.mtp_hunting_query
  - name: Microsoft Graph runHuntingQuery
    description: The Graph advanced hunting API.
    link: https://learn.microsoft.com/graph/api/security-security-runhuntingquery
"""

EXAMPLES = r"""
- name: Devices seen in the last day
  ansible.builtin.debug:
    msg: "{{ lookup('m365.defender.mtp_hunting', 'DeviceInfo | distinct DeviceName', timespan='P1D',
             tenant_id=tenant, client_id=app, client_secret=secret) }}"

- name: A parameterised query; credentials from AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
  ansible.builtin.set_fact:
    logons: "{{ query('m365.defender.mtp_hunting', query_file='logons.kql',
                      parameters={'account': 'alice', 'since': {'type': 'datetime', 'value': '2024-05-01'}}) }}"
"""

RETURN = r"""
_raw:
  description: The rows, one dictionary per row keyed by column name; cells typed from the schema.
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError

from ansible_collections.m365.defender.plugins.module_utils._hunting import ROW_CAP, Hunt
from ansible_collections.m365.defender.plugins.plugin_utils._lookup_base import MtpLookupBase, display


class LookupModule(MtpLookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.mtp_set_options(variables, **kwargs)
        query = self.get_option("query")
        query_file = self.get_option("query_file")
        if terms and (query is not None or query_file is not None):
            raise AnsibleLookupError("mtp_hunting: give the query as a term or as query/query_file, not both")
        if query_file is not None:
            found = self.find_file_in_search_path(variables, "files", os.path.expanduser(query_file),
                                                  ignore_missing=True)
            query_file = found or query_file
        common = dict(api=self.get_option("api"), parameters=self.get_option("parameters"),
                      timespan=self.get_option("timespan"), max_rows=self.get_option("max_rows"))
        rows = []
        with self.mtp_errors():
            if terms:
                hunts = [Hunt(query=term, **common) for term in terms]
            else:
                hunts = [Hunt(query=query, query_file=query_file, **common)]
            client = self.mtp_client()
            for hunt in hunts:
                result = hunt.run(client)
                if result.get("row_cap_reached"):
                    display.warning("mtp_hunting: a query returned %d rows, the service's row cap; the rows are "
                                    "probably incomplete" % ROW_CAP)
                rows.extend(result["results"])
        return rows
