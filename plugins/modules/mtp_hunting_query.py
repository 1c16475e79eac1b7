#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_hunting_query
short_description: Run a Microsoft Defender XDR advanced hunting query
version_added: 0.1.0
description:
  - Runs a KQL advanced hunting query through Microsoft Graph C(POST /v1.0/security/runHuntingQuery) (the default)
    or the legacy Microsoft Threat Protection API C(POST /api/advancedhunting/run), and returns the rows typed from
    the response schema, or writes them to a JSON, NDJSON or CSV file.
  - The query is sent byte for byte. O(parameters) are rendered as a one-line KQL C(let) preamble placed before
    it, so a line number in a KQL error message is one more than the line of your query.
  - Large exports can be split into time windows with O(split_by); a window that still returns the row cap
    (100,000 rows) or fails with a result-size or preemption error is halved and run again.
  - The legacy MTP hunting API stops returning data on 2027-02-01; use O(api=graph).
author:
  - m365.defender contributors (@m365-defender)
extends_documentation_fragment:
  - m365.defender.auth
  - m365.defender.connection
  - m365.defender.attributes
  - m365.defender.attributes.action_group
  - m365.defender.attributes.check_mode_read_only
attributes:
  diff_mode:
    support: none
options:
  api:
    description:
      - V(graph) calls Microsoft Graph C(runHuntingQuery) (permission C(ThreatHunting.Read.All)).
      - V(mtp) calls the legacy C(api.security.microsoft.com/api/advancedhunting/run) (permission
        C(AdvancedHunting.Read.All)); its response also carries execution statistics (RV(stats)).
    type: str
    choices: [graph, mtp]
    default: graph
  query:
    description:
      - The KQL query text. Mutually exclusive with O(query_file); one of them is required.
    type: str
  query_file:
    description:
      - "Path of a UTF-8 file holding the query, read on the host that runs the task (the controller for
        C(delegate_to: localhost)). Its text is sent exactly; a leading byte-order mark is dropped."
    type: path
  parameters:
    description:
      - Values made available to the query as KQL C(let) statements, one per key; the key is the name used in
        the query and must be a KQL identifier.
      - A plain value is typed by its YAML type (string, boolean, integer as C(long), float as C(real),
        list/dictionary as C(dynamic)).
      - "Or give a dictionary with keys C(type) and C(value), type one of V(string), V(long), V(int), V(real),
        V(bool), V(datetime) (ISO-8601), V(timespan) (like C(1d), C(6h), C(1.02:03:04), C(PT6H)), V(dynamic)
        (data, or JSON text when a string) or V(guid)."
      - Values are rendered as literals that cannot change the query around them (quotes, backslashes,
        line breaks, C(|) and C(//) are escaped or inert).
    type: dict
  timespan:
    description:
      - The Graph C(Timespan) of the query, an ISO-8601 window, checked before any call.
      - Forms C(start/end), C(duration/end), C(start/duration), C(duration) (like V(P7D)) and C(start).
        Without it Graph searches the last 30 days.
      - Only for O(api=graph), except together with O(split_by), where it gives the window to split for
        either API.
    type: str
  max_rows:
    description:
      - Keep at most this many rows (returned or written); RV(truncated) is then true when rows were cut.
    type: int
  max_rows_per_call:
    description:
      - The row cap of one service call. A call returning this many rows is treated as truncated by the
        service (and, with O(split_by), its window is halved). Only lower it for tests.
    type: int
    default: 100000
  dest:
    description:
      - Write the rows to this file instead of returning them; the task then returns RV(row_count) and
        RV(dest) but no RV(results).
      - The file is written to a temporary file in the same directory and renamed over O(dest), so a failed
        run never truncates an existing file. It is only replaced when its content changes.
      - The directory must exist, and O(dest) must not be a directory; both are checked before any call.
      - Rows are written as the response arrives, parsed with the C(ijson) Python library, so the response is
        never held in memory whole. Without C(ijson) the response is parsed at once, then written.
    type: path
  format:
    description:
      - Format of O(dest). V(json) is one array of row objects, V(ndjson) one object per line, V(csv) a header
        from the schema then one line per row (dynamic values as JSON text, booleans as C(true)/C(false)).
      - Default from the extension of O(dest) (C(.json), C(.ndjson) or C(.jsonl), C(.csv)).
    type: str
    choices: [json, ndjson, csv]
  split_by:
    description:
      - Run the query once per time window and concatenate the rows in time order.
      - A duration such as V(1d), V(6h), V(30m) or V(PT6H), or a number of equal slices such as V(4).
      - The window split is O(timespan), or the last 30 days.
      - With O(api=graph) each window is sent as the C(Timespan) C(start/end).
      - With O(api=mtp) each window appends C(| where Timestamp >= datetime(start) and Timestamp <
        datetime(end)) to the query (after a line break, trailing C(;) removed), so the query's result must
        have a C(Timestamp) column.
      - Rows identical to a row of the preceding window are dropped (window boundaries). Project a column that
        tells rows apart (such as C(Timestamp) and C(ReportId)) to keep genuine duplicates.
    type: raw
notes:
  - Rows and column names are returned as the service sends them (user data); only cell values are typed
    (C(DateTime) normalised to ISO-8601 UTC with C(Z), C(Int64)/C(Int32) to integers, C(Double) to floats,
    C(Boolean) to booleans, C(Object) JSON text to data). Graph C(@odata.type) annotation keys are dropped.
  - The call is read-only and retried on throttling (C(429) with C(Retry-After)), server errors and an
    expired token. A KQL error (C(400)) is never retried.
seealso:
  - name: Microsoft Graph runHuntingQuery
    description: The Graph advanced hunting API.
    link: https://learn.microsoft.com/graph/api/security-security-runhuntingquery
  - name: Defender XDR advanced hunting API
    description: The legacy MTP advanced hunting API, its limits and quotas.
    link: https://learn.microsoft.com/defender-xdr/api-advanced-hunting
  - module: m365.defender.mtp_aad_app_setup
"""

EXAMPLES = r"""
- name: Hunt with the app credentials shared by every m365.defender task of the play
  module_defaults:
    group/m365.defender.mtp:
      tenant_id: "{{ mtp_tenant_id }}"
      client_id: "{{ mtp_client_id }}"
      client_secret: "{{ mtp_client_secret }}"
  block:
    - name: Encoded PowerShell in the last 7 days
      m365.defender.mtp_hunting_query:
        query: |
          DeviceProcessEvents
          | where FileName =~ "powershell.exe" and ProcessCommandLine has_any ("-enc", "-EncodedCommand")
          | project Timestamp, DeviceName, AccountName, ProcessCommandLine
        timespan: P7D
      register: hunt

    - name: Show the devices
      ansible.builtin.debug:
        msg: "{{ hunt.results | map(attribute='DeviceName') | unique }}"

    - name: Parameters become typed let statements
      m365.defender.mtp_hunting_query:
        query: |
          DeviceLogonEvents
          | where Timestamp > since and AccountName == account
          | summarize Logons = count() by DeviceName
        parameters:
          account: "{{ suspicious_account }}"
          since:
            type: datetime
            value: "2024-05-01T00:00:00Z"

    - name: Export 30 days of process events to CSV, one call per day
      m365.defender.mtp_hunting_query:
        query_file: queries/process_events.kql
        dest: /var/tmp/process_events.csv
        split_by: 1d
        timespan: P30D

    - name: The legacy API returns execution statistics too
      m365.defender.mtp_hunting_query:
        api: mtp
        query: DeviceInfo | summarize count() by OSPlatform
      register: legacy

    - name: Print them
      ansible.builtin.debug:
        var: legacy.stats
"""

RETURN = r"""
api:
  description: The API that ran the query.
  returned: always
  type: str
  sample: graph
schema:
  description: The result columns in order, as C(name)/C(type) pairs (both Graph key casings accepted).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Column name, as sent by the service.
      type: str
    type:
      description: Column type, such as C(String), C(DateTime), C(Int64), C(Int32), C(Double), C(Boolean), C(Object).
      type: str
  sample: [{"name": "Timestamp", "type": "DateTime"}, {"name": "DeviceName", "type": "String"}]
results:
  description: The rows, one dictionary per row keyed by column name; cells typed from the schema.
  returned: success and O(dest) is not set
  type: list
  elements: dict
  sample: [{"Timestamp": "2024-05-01T10:15:00.1234567Z", "DeviceName": "ws-01.contoso.local"}]
row_count:
  description: Number of rows returned or written (after O(max_rows)).
  returned: success
  type: int
  sample: 42
truncated:
  description:
    - True when the rows may be incomplete, because a call returned O(max_rows_per_call) rows (the service's
      silent cap; with O(split_by) only when a window could not be halved any more) or O(max_rows) cut rows.
  returned: success
  type: bool
  sample: false
row_cap_reached:
  description: True when a service call returned O(max_rows_per_call) rows and could not be split further.
  returned: success
  type: bool
  sample: false
stats:
  description: Execution statistics of the query (C(ExecutionTime), C(resource_usage), C(dataset_statistics)).
  returned: success, O(api=mtp), without O(split_by)
  type: dict
  sample: {"ExecutionTime": 0.12, "resource_usage": {"memory": {"peak_per_node": 1048576}}}
windows:
  description: The time windows run with O(split_by), in order, after any halving.
  returned: success and O(split_by) is set
  type: list
  elements: dict
  contains:
    start:
      description: Window start (inclusive), ISO-8601 UTC.
      type: str
    end:
      description: Window end (exclusive), ISO-8601 UTC.
      type: str
    row_count:
      description: Rows kept from this window.
      type: int
    stats:
      description: The window's execution statistics (O(api=mtp)).
      type: dict
  sample: [{"start": "2024-05-01T00:00:00Z", "end": "2024-05-02T00:00:00Z", "row_count": 1200}]
calls:
  description: Number of hunting calls made for O(split_by) (including windows that were halved).
  returned: success and O(split_by) is set
  type: int
  sample: 31
duplicates_dropped:
  description: Rows dropped because they repeated a row of the preceding window.
  returned: success and O(split_by) is set
  type: int
  sample: 0
dest:
  description: The output file.
  returned: success and O(dest) is set
  type: str
  sample: /var/tmp/process_events.csv
format:
  description: The output format used.
  returned: success and O(dest) is set
  type: str
  sample: csv
size:
  description: Size in bytes of the output (that was or, in check mode, would be written).
  returned: success and O(dest) is set
  type: int
  sample: 10240
sha256:
  description: SHA-256 of the output content.
  returned: success and O(dest) is set
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
"""

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._hunting import ROW_CAP, Hunt
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule


def export(module, hunt, dest, fmt):
    """Rows to ``dest``, written as they are read from the response (``_export`` is only loaded here)."""
    from ansible_collections.m365.defender.plugins.module_utils._export import ExportWriter, format_from_dest

    ExportWriter.check_dest(dest)  # an existing directory, a missing parent: named before the format and any call
    fmt = format_from_dest(dest, fmt)
    client = module.client()
    with ExportWriter(dest, fmt, check_mode=module.check_mode) as writer:
        result = hunt.run(client, sink=writer)
        result.update(writer.commit())
    return result


def run(module):
    params = module.params
    hunt = Hunt(api=params["api"], query=params["query"], query_file=params["query_file"],
                parameters=params["parameters"], timespan=params["timespan"], max_rows=params["max_rows"],
                split_by=params["split_by"], max_rows_per_call=params["max_rows_per_call"])
    dest = params["dest"]
    if dest is None:
        if params["format"]:
            module.warn("format is ignored without dest")
        result = hunt.run(module.client())
        result["changed"] = False
    else:
        result = export(module, hunt, dest, params["format"])
    if result.get("row_cap_reached"):
        module.warn("A hunting call returned %d rows, the service's row cap: the result is probably incomplete. "
                    "Narrow the query or use split_by." % params["max_rows_per_call"])
    return result


def main():
    module = MtpModule(
        argument_spec=dict(
            api=dict(type="str", choices=["graph", "mtp"], default="graph"),
            query=dict(type="str"),
            query_file=dict(type="path"),
            parameters=dict(type="dict"),
            timespan=dict(type="str"),
            max_rows=dict(type="int"),
            max_rows_per_call=dict(type="int", default=ROW_CAP),
            dest=dict(type="path"),
            format=dict(type="str", choices=["json", "ndjson", "csv"]),
            split_by=dict(type="raw"),
        ),
        mutually_exclusive=[("query", "query_file")],
        required_one_of=[("query", "query_file")],
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
