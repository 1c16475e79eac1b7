#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_indicator
short_description: Manage Microsoft Defender for Endpoint indicators (IoCs) as desired state
version_added: 0.2.0
description:
  - Makes one indicator, or a list of them (a feed), present or absent in the Defender for Endpoint indicator
    list (C(/api/indicators)). Indicators are keyed on (O(type), O(value)); hashes, certificate thumbprints,
    domains and IP addresses compare case-insensitively.
  - A changed O(action), O(application) or O(rbac_group_names) deletes the indicator and creates it again (the
    service's submit does not change those reliably); other fields are updated in place.
  - Writes go through the batch import (at most 500 indicators a call, paced to 30 calls a minute) and deletes
    through the batch delete; a feed of 2,000 new indicators takes 4 import calls.
  - Every indicator this module writes carries the source marker C([m365d:<source>]) at the end of its
    description, with the source from O(source). O(purge=true) deletes the indicators of that source that are
    not in the list; indicators of other sources, and ones without a marker, are never purged.
  - Before any write, a guard fails the task when the tenant would pass O(active_limit) active indicators.
author:
  - m365.defender contributors (@m365-defender)
extends_documentation_fragment:
  - m365.defender.auth
  - m365.defender.connection
  - m365.defender.attributes
  - m365.defender.attributes.action_group
attributes:
  check_mode:
    support: full
    details: The indicators are read and the counts to create, update and delete are returned; nothing is written.
  diff_mode:
    support: full
    details: The indicators that change, before and after, keyed C(<type>:<value>).
options:
  indicators:
    description:
      - The indicators, one dictionary each, with the keys of the single-indicator options (O(type), O(value),
        O(action), O(title), O(description), O(severity), O(expiration), O(recommended_actions),
        O(rbac_group_names), O(generate_alert), O(application), O(educate_url)).
      - A key missing from an item takes the top-level option of the same name, so a feed can set O(action)
        once for all its items.
      - Mutually exclusive with O(value).
    type: list
    elements: dict
  type:
    description:
      - The indicator type (the key, together with O(value)).
    type: str
    choices: [FileSha1, FileSha256, FileMd5, CertificateThumbprint, IpAddress, DomainName, Url]
  value:
    description:
      - The indicator value, for a single indicator. IP addresses without CIDR notation.
    type: str
  action:
    description:
      - What Defender does on a match. Required to create an indicator (an existing one keeps its action when
        this is not set).
      - V(Audit) requires O(generate_alert=true).
    type: str
    choices: [Alert, Warn, Block, Audit, BlockAndRemediate, AlertAndBlock, Allowed]
  title:
    description:
      - The alert title. When creating an indicator without it, the value is used.
    type: str
  description:
    description:
      - The description. The source marker is appended to it; when creating without it,
        C(Managed by Ansible (m365.defender)) is used.
    type: str
  severity:
    description:
      - The severity of the alerts the indicator raises.
    type: str
    choices: [Informational, Low, Medium, High]
  expiration:
    description:
      - When the indicator expires, an ISO-8601 date or date-time (UTC unless an offset is given). An expired
        indicator is no longer active and no longer listed.
    type: str
  recommended_actions:
    description:
      - The recommended actions shown with the alert.
    type: str
  rbac_group_names:
    description:
      - The device groups the indicator applies to (compared as a set). An empty list means all devices.
    type: list
    elements: str
  generate_alert:
    description:
      - Whether a match raises an alert.
    type: bool
  application:
    description:
      - The application associated with the indicator.
    type: str
  educate_url:
    description:
      - The custom notification URL of Block and Warn URL indicators.
    type: str
  state:
    description:
      - V(present) creates or updates the indicators; V(absent) deletes them (any source).
    type: str
    choices: [present, absent]
    default: present
  purge:
    description:
      - With O(state=present), also delete the indicators that carry this O(source)'s marker and are not in the
        list, so that the source's indicators equal the list.
    type: bool
    default: false
  source:
    description:
      - The name in the source marker C([m365d:<source>]), letters, digits, C(.), C(_) and C(-).
      - Give each feed its own source to purge feeds independently.
    type: str
    default: ansible
  active_limit:
    description:
      - The tenant's active-indicator limit the guard checks before writing.
    type: int
    default: 15000
  batch_size:
    description:
      - Indicators per import or batch-delete call, at most 500.
    type: int
    default: 500
notes:
  - The app needs C(Ti.ReadWrite.All) on WindowsDefenderATP (preset V(indicators) of
    M(m365.defender.mtp_aad_app_setup)). With C(Ti.ReadWrite) only, the service shows the app only the
    indicators it created, so duplicates created elsewhere are invisible and the limit guard counts only the
    app's own indicators.
  - An indicator in the list that exists without this source's marker takes the marker (an update).
  - Several forks writing indicators share the service's rate limits; a throttled call (429) is retried after
    C(Retry-After) by the collection's retry engine (option O(retries)).
seealso:
  - module: m365.defender.mtp_indicator_info
  - module: m365.defender.mtp_aad_app_setup
  - name: Import indicators API
    description: The batch import, its limits and the 15,000 active-indicator cap.
    link: https://learn.microsoft.com/defender-endpoint/api/import-ti-indicators
  - name: Indicator resource type
    description: The indicator fields and their values.
    link: https://learn.microsoft.com/defender-endpoint/api/ti-indicator
"""

EXAMPLES = r"""
- name: Block a file hash
  m365.defender.mtp_indicator:
    type: FileSha256
    value: "{{ ransomware_sha256 }}"
    action: BlockAndRemediate
    title: "Ransomware loader"
    severity: High
    generate_alert: true
    expiration: "2026-12-31"

- name: Make the threat-intel feed the exact set of this source's indicators
  m365.defender.mtp_indicator:
    indicators:
      - value: evil.example
      - value: c2.example.net
        title: C2 server of the May campaign
        severity: High
    type: DomainName
    action: Block
    source: ti-feed
    purge: true
  register: feed_result

- name: Show what changed
  ansible.builtin.debug:
    var: feed_result.counts

- name: Remove an indicator
  m365.defender.mtp_indicator:
    type: DomainName
    value: c2.example.net
    state: absent
"""

RETURN = r"""
counts:
  description: The number of indicators created, updated, deleted and left unchanged (predicted in check mode).
    A re-created indicator counts as one delete and one create.
  returned: success
  type: dict
  contains:
    created:
      description: Indicators created.
      type: int
    updated:
      description: Indicators updated in place.
      type: int
    deleted:
      description: Indicators deleted.
      type: int
    unchanged:
      description: Indicators already as wanted.
      type: int
  sample: {"created": 2000, "updated": 0, "deleted": 0, "unchanged": 0}
calls:
  description: The API calls made, by kind (C(list), C(import), C(batch_delete)).
  returned: success
  type: dict
  sample: {"list": 1, "import": 4, "batch_delete": 0}
source:
  description: The source marker name used.
  returned: success
  type: str
  sample: ansible
active_before:
  description: Active indicators visible to the app before the run.
  returned: success
  type: int
active_after:
  description: Active indicators visible to the app after the run (predicted).
  returned: success
  type: int
"""

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._indicators import (
    ACTIONS, BATCH_MAX, SEVERITIES, SOURCE_RE, TYPES, desired_items, ensure)
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule


def argument_spec():
    return dict(
        indicators=dict(type="list", elements="dict"),
        type=dict(type="str", choices=list(TYPES)),
        value=dict(type="str"),
        action=dict(type="str", choices=list(ACTIONS)),
        title=dict(type="str"),
        description=dict(type="str"),
        severity=dict(type="str", choices=list(SEVERITIES)),
        expiration=dict(type="str"),
        recommended_actions=dict(type="str"),
        rbac_group_names=dict(type="list", elements="str"),
        generate_alert=dict(type="bool"),
        application=dict(type="str"),
        educate_url=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        purge=dict(type="bool", default=False),
        source=dict(type="str", default="ansible"),
        active_limit=dict(type="int", default=15000),
        batch_size=dict(type="int", default=BATCH_MAX),
    )


def validate(module):
    """Offline checks, before any call; each failure names the option."""
    params = module.params
    if not SOURCE_RE.match(params["source"] or ""):
        module.fail_json(msg="source must be 1-64 letters, digits, '.', '_' or '-', got %r" % params["source"], option="source")
    if not 1 <= params["batch_size"] <= BATCH_MAX:
        module.fail_json(msg="batch_size must be between 1 and %d, got %d" % (BATCH_MAX, params["batch_size"]), option="batch_size")
    if params["active_limit"] < 0:
        module.fail_json(msg="active_limit must not be negative", option="active_limit")
    if params["purge"] and (params["state"] != "present" or params["indicators"] is None):
        module.fail_json(msg="purge needs state=present and an indicators list", option="purge")
    return desired_items(params)


def main():
    module = MtpModule(argument_spec=argument_spec(), mutually_exclusive=[("indicators", "value")],
                       required_by={"value": "type"}, supports_check_mode=True)
    try:
        desired = validate(module)
        result = ensure(module.client(), module.params, module.check_mode, desired=desired)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    if not module.diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
